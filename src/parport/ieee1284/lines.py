"""Line-state predicates on the status register and the statuses they mean
(windows-parport.md §3.9, §9.1, §9.3).

Each predicate takes a raw status register value (register bits, not pin levels).
"""

from __future__ import annotations

from .. import nt

__all__ = [
    "busy",
    "line_error",
    "no_cable",
    "not_connected",
    "off_line",
    "ok",
    "online",
    "paper_empty",
    "powered_off",
    "query_information",
    "selected",
]

NOT_BUSY = nt.DSR_NOT_BUSY  # register bit set: Busy pin low
ACK = nt.DSR_NOT_ACK
PE = nt.DSR_PERROR
SLCT = nt.DSR_SELECT
NOT_FAULT = nt.DSR_NOT_FAULT


def paper_empty(dsr: int) -> bool:
    return bool(dsr & PE)


def off_line(dsr: int) -> bool:
    return bool(dsr & NOT_FAULT) and not dsr & NOT_BUSY and not dsr & SLCT


def powered_off(dsr: int) -> bool:
    return not dsr & NOT_FAULT and not dsr & ACK and bool(dsr & NOT_BUSY)


def not_connected(dsr: int) -> bool:
    return bool(dsr & NOT_FAULT) and bool(dsr & NOT_BUSY) and not dsr & SLCT


def no_cable(dsr: int) -> bool:
    return dsr & 0xF8 == ACK | PE | SLCT | NOT_FAULT


def busy(dsr: int) -> bool:
    return not dsr & NOT_BUSY and bool(dsr & NOT_FAULT)


def selected(dsr: int) -> bool:
    return bool(dsr & SLCT)


def ok(dsr: int) -> bool:
    return bool(dsr & NOT_FAULT) and not dsr & PE and bool(dsr & NOT_BUSY)


def online(dsr: int) -> bool:
    return ok(dsr) and selected(dsr)


def line_error(dsr: int) -> int | None:
    """The NTSTATUS a printer's lines mean when it cannot take data, or None if merely busy
    or ready. Powered off and no cable come first, as in the reference driver."""
    if powered_off(dsr):
        return nt.STATUS_DEVICE_POWERED_OFF
    if no_cable(dsr) or not_connected(dsr):
        return nt.STATUS_DEVICE_NOT_CONNECTED
    if paper_empty(dsr):
        return nt.STATUS_DEVICE_PAPER_EMPTY
    if off_line(dsr):
        return nt.STATUS_DEVICE_OFF_LINE
    return None


def query_information(dsr: int) -> int:
    """The PARALLEL_* bits of IOCTL_PAR_QUERY_INFORMATION for one status read (§9.3)."""
    bits = 0
    if powered_off(dsr) or no_cable(dsr):
        bits = nt.PARALLEL_POWER_OFF
    elif paper_empty(dsr):
        bits = nt.PARALLEL_PAPER_EMPTY
    elif off_line(dsr):
        bits = nt.PARALLEL_OFF_LINE
    elif not_connected(dsr):
        bits = nt.PARALLEL_NOT_CONNECTED
    if busy(dsr):
        bits |= nt.PARALLEL_BUSY
    if selected(dsr):
        bits |= nt.PARALLEL_SELECTED
    return bits
