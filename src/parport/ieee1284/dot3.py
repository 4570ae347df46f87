"""IEEE 1284.3 daisy-chain commands and the legacy Zip select (ieee1284.md §4, §5.1).

The host side of the Command Packet Protocol in the Windows flavour (windows-parport.md §3.10,
§10.4, §10.5): nSelectIn and nInit held high (so no 1284.3 device is reset), 3 µs between bytes,
S1/S2/S3 checked after ``FF``, ``87`` and ``78``, and for SELECT and DESELECT the answer on nFault
polled while nStrobe is still low (high = selected, low = deselected), each command retried up to
five times. Each frame is the backend's ``cpp_command`` (default: ``handshake.cpp_frame`` register
by register; the emulator runs it as one script). Address assignment runs until two runs agree
(at most three), as the Windows driver does. The multiplexor query and the legacy Zip
connect/disconnect sequences are here too.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from .. import nt
from ..hw.backend import PortBackend
from ..hw.handshake import CPP_END, CPP_QUALIFY, run_steps
from .timing import CPP_BYTE_US, DOT3_RETRIES

__all__ = [
    "CppAnswer",
    "assign_addresses",
    "deselect_all",
    "mux_command",
    "mux_ports",
    "select",
    "send_command",
    "zip_connect",
    "zip_disconnect",
    "zip_present",
]

log = logging.getLogger(__name__)

_STATUS_MASK = 0xB8  # Busy bit, PError, Select, nFault
_S1, _S2 = 0xB8, 0x18
_SELECT_MODES = {"compat": nt.CPP_SELECT, "ecp": 0xD0, "epp": 0x20}


class CppAnswer(NamedTuple):
    """What one command frame saw: whether the qualifier was answered, and the response."""

    qualified: bool  # S1, S2 and S3 were all seen
    accepted: bool  # the command's own answer (nFault level) came, or it needs none
    last_device: bool  # S3 said no 1284.3 device is behind the one answering
    s3: int = 0


def _qualified(waits: list[int | None]) -> tuple[bool, int]:
    """Whether S1, S2 and S3 were all seen, and the S3 status."""
    if len(waits) < 3 or waits[2] is None:
        return False, 0
    return True, waits[2]


def send_command(port: PortBackend, command: int) -> CppAnswer:
    """One CPP frame with ``command`` (one try): the backend's ``cpp_command``, whose default
    is the Windows frame register by register. SELECT waits for nFault high, DESELECT low."""
    waits = port.cpp_command(int(command))
    if len(waits) < 3 or waits[2] is None:  # (_qualified, inlined: a lock's hot path)
        return CppAnswer(False, False, False)
    s3 = waits[2]
    accepted = len(waits) == 3 or waits[3] is not None
    return CppAnswer(True, accepted, not s3 & 0x80, s3)


def _retry(port: PortBackend, command: int) -> bool:
    for attempt in range(DOT3_RETRIES):
        answer = send_command(port, command)
        if answer.qualified and answer.accepted:
            return True
        log.debug("1284.3 command %#04x: try %d failed (%s)", command, attempt + 1, answer)
    return False


def select(port: PortBackend, address: int, mode: str = "compat") -> bool:
    """Select the daisy-chain device at ``address`` (0..3) in compat, ecp or epp flavour."""
    if not 0 <= address <= nt.IEEE_1284_3_DAISY_CHAIN_MAX_ID:
        raise ValueError(f"a 1284.3 address is 0..3, not {address}")
    try:
        base = _SELECT_MODES[mode]
    except KeyError:
        raise ValueError(f"select mode is one of {sorted(_SELECT_MODES)}, not {mode!r}") from None
    ok = _retry(port, base | address)
    port.annotate(selected=address if ok else None)
    return ok


def deselect_all(port: PortBackend) -> bool:
    """Deselect every daisy-chain device (command 0x30); the end-of-chain device is reachable."""
    ok = _retry(port, nt.CPP_DESELECT)
    port.annotate(selected=None)
    return ok


def _assign_once(port: PortBackend) -> int:
    qualified, status = _qualified(run_steps(port, CPP_QUALIFY))
    if not qualified:
        run_steps(port, CPP_END)
        return 0
    count = 0
    while count <= nt.IEEE_1284_3_DAISY_CHAIN_MAX_ID and status & 0x30 == 0x30:
        port.write_data(count)  # the address byte first, then Busy says whether this is the last
        port.sleep(CPP_BYTE_US)
        last = not port.read_status() & 0x80
        port.write_control(0x05)
        port.sleep(CPP_BYTE_US)
        port.write_control(0x04)
        port.sleep(CPP_BYTE_US)
        count += 1
        if last:
            break
        status = port.read_status()
    run_steps(port, CPP_END)
    return count


def assign_addresses(port: PortBackend) -> int:
    """Assign 1284.3 addresses 0..3 in cable order; the count, once two runs agree (≤ 3 runs)."""
    previous = _assign_once(port)
    for _ in range(2):
        count = _assign_once(port)
        if count == previous:
            return count
        previous = count
    log.warning("1284.3 address assignment did not settle; using the last count %d", previous)
    return previous


def mux_command(port: PortBackend, command: int) -> int | None:
    """A multiplexor CPP frame (``AA 55 F0 0F 52 AD`` + command, no strobe): the 4-bit answer,
    or None when nAck is low (no multiplexor)."""
    port.write_control(0x04)
    for byte in (0xAA, 0x55, 0xF0, 0x0F, 0x52, 0xAD, command):
        port.write_data(byte)
        port.sleep(2)
    status = port.read_status()
    port.write_data(0xFF)
    port.write_control(0x0C)
    if not status & nt.DSR_NOT_ACK:
        return None
    return (
        (1 if status & nt.DSR_SELECT else 0)
        | (2 if status & nt.DSR_PERROR else 0)
        | (4 if not status & nt.DSR_NOT_BUSY else 0)
        | (8 if not status & nt.DSR_NOT_FAULT else 0)
    )


def mux_ports(port: PortBackend) -> int:
    """The number of multiplexor ports (2 or 4), or 0 when there is no 1284.3 multiplexor."""
    if mux_command(port, 0x51) != 3:
        return 0
    ports = mux_command(port, 0x58)
    return ports if ports in (2, 4) else 0


def _zip_sequence(port: PortBackend, last: int, controls: tuple[int, ...]) -> None:
    for byte in (*nt.LEGACY_ZIP_MODE_QUALIFIER, last):
        port.write_data(byte)
        for ctr in controls:
            port.write_control(ctr)


def zip_present(port: PortBackend) -> bool:
    """The connected drive mirrors nAutoFd onto nFault inverted; both levels must be seen."""
    port.write_control(0x0E)
    high = bool(port.read_status() & nt.DSR_NOT_FAULT)
    port.write_control(0x0C)
    low = not port.read_status() & nt.DSR_NOT_FAULT
    return high and low


def zip_connect(port: PortBackend, epp: bool = False) -> bool:
    """Connect a legacy Zip drive (``00 3C 20 8F``, or ``CF`` for EPP) and check it answers."""
    _zip_sequence(port, 0xCF if epp else 0x8F, (0x04, 0x06, 0x04, 0x0C))
    present = zip_present(port)
    port.annotate(selected=nt.DOT3_LEGACY_ZIP_ID if present else None)
    return present


def zip_disconnect(port: PortBackend) -> bool:
    """Put a legacy Zip drive back in printer pass-through mode (``00 3C 20 0F``)."""
    _zip_sequence(port, 0x0F, (0x0C, 0x0E, 0x0C, 0x04, 0x0C))
    port.annotate(selected=None)
    return not zip_present(port)
