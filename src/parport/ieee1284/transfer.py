"""The per-mode transfer routines on the register interface (ieee1284.md §2.2–§2.7).

Each routine returns a :class:`Transfer`: the NTSTATUS, the bytes moved (count, and the data for
reads) and the register accesses it made. The software modes (compatibility, nibble, byte, EPP
and ECP without the chip's help) are the backend's whole-transfer operations
(``PortBackend.compat_write_data`` …, Linux's block operations), whose default is the software
handshake of :mod:`parport.hw.handshake`; the hardware-assisted modes are written here on the
backend's register and string operations, with the IEEE 1284 event numbers in the comments.
Phase bookkeeping (which mode is negotiated, which way the bus faces) belongs to
:class:`~parport.ieee1284.session.Session`; these functions assume the bus is already in the
right phase.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import nt
from ..hw.backend import Block, PortBackend
from ..hw.handshake import CHUNK
from . import lines
from .timing import TL_US

__all__ = [
    "CHUNK",
    "Transfer",
    "byte_read",
    "compat_write",
    "ecp_read_hw",
    "ecp_read_sw",
    "ecp_write_hw",
    "ecp_write_sw",
    "epp_read_hw",
    "epp_read_sw",
    "epp_write_hw",
    "epp_write_sw",
    "fifo_compat_write",
    "nibble_read",
]

Cancelled = Callable[[], bool]
STALL_CHUNK_US = 100_000.0  # how long one wait for a stalled printer lasts between checks


def _never() -> bool:
    return False


@dataclass(frozen=True, slots=True)
class Transfer:
    """The outcome of one transfer."""

    status: int
    count: int
    data: bytes = b""
    accesses: int = 0
    more: bool = False  # reverse: the peripheral still signals data available

    @property
    def ok(self) -> bool:
        return nt.NT_SUCCESS(self.status)


# --- compatibility mode (forward) --------------------------------------------------------------


def _wait_ready(
    port: PortBackend,
    deadline: float,
    cancelled: Cancelled,
    on_stall: Callable[[int], bool] | None,
) -> int:
    """Wait for nFault high and Busy low: STATUS_SUCCESS, or why the printer cannot take data."""
    while True:
        status = port.read_status()
        if status & 0x88 == 0x88:
            return nt.STATUS_SUCCESS
        error = lines.line_error(status)
        if error in (nt.STATUS_DEVICE_POWERED_OFF, nt.STATUS_DEVICE_NOT_CONNECTED):
            return error  # nothing will change by waiting (§9.1)
        if cancelled():
            return nt.STATUS_CANCELLED
        remaining = deadline - port.now()
        if remaining <= 0:
            return error if error is not None else nt.STATUS_DEVICE_BUSY
        if error is not None and on_stall is not None and not on_stall(error):
            return nt.STATUS_DEVICE_BUSY  # the port could not be had back after giving it away
        port.wait_status(0x88, 0x88, min(remaining, STALL_CHUNK_US))


def compat_write(
    port: PortBackend,
    data: bytes,
    budget_us: float,
    cancelled: Cancelled = _never,
    on_stall: Callable[[int], bool] | None = None,
) -> Transfer:
    """Centronics write with the Busy/nAck handshake (§2.2): the backend's
    ``compat_write_data`` (Linux timing: per byte a status read, the data, 1 µs, nStrobe low,
    1 µs, nStrobe high, 1 µs) in chunks, waiting here whenever the printer is not ready.

    A printer that is busy, off-line or out of paper is waited for until ``budget_us`` runs out
    (``on_stall(status)`` is called while it is off-line or out of paper so the caller can give
    the port to others; returning False ends the write with STATUS_DEVICE_BUSY); powered off or
    not connected ends the write at once. ``cancelled()`` is checked between bytes (between
    chunks of up to CHUNK bytes that a backend takes at once).
    """
    start = port.accesses
    deadline = port.now() + budget_us
    port.write_control(0x0C)
    count = 0
    total = len(data)
    while count < total:
        block = port.compat_write_data(data[count : count + CHUNK], cancelled)
        count += block.count
        if block.status == nt.STATUS_DEVICE_BUSY:  # the printer was not ready: wait for it
            status = _wait_ready(port, deadline, cancelled, on_stall)
        else:
            status = block.status
        if status != nt.STATUS_SUCCESS:
            return Transfer(status, count, accesses=port.accesses - start)
    return Transfer(nt.STATUS_SUCCESS, count, accesses=port.accesses - start)


def fifo_compat_write(
    port: PortBackend,
    data: bytes,
    budget_us: float,
    fifo_depth: int,
    cancelled: Cancelled = _never,
) -> Transfer:
    """Compatibility mode through the ECP FIFO (ECR mode 010): the chip makes the strobes.

    Bytes go in chunks of at most the FIFO depth and each chunk is counted once the FIFO has
    drained, so a printer that stalls mid-chunk makes the count fall short by at most one chunk
    (never over: no byte is reported sent that the printer may not have had).
    """
    start = port.accesses
    deadline = port.now() + budget_us
    port.write_ecr(0x34)  # through mode 001
    port.write_control(0x04 | 0x08)  # CTR bits 0 and 1 clear: the chip drives the strobes
    port.write_ecr(0x54)  # mode 010, interrupts masked
    count = 0
    status: int = nt.STATUS_SUCCESS
    view = memoryview(data)
    while count < len(data):
        if cancelled():
            status = nt.STATUS_CANCELLED
            break
        chunk = bytes(view[count : count + fifo_depth])
        port.write_fifo_block(chunk, False, max(0.0, deadline - port.now()))
        drained = False
        while port.now() < deadline:
            if port.read_ecr() & 0x01:
                drained = True
                break
            error = lines.line_error(port.read_status())
            if error in (nt.STATUS_DEVICE_POWERED_OFF, nt.STATUS_DEVICE_NOT_CONNECTED):
                status = error
                break
            port.sleep(10)
        if not drained:
            if status == nt.STATUS_SUCCESS:
                status = lines.line_error(port.read_status()) or nt.STATUS_DEVICE_BUSY
            break
        count += len(chunk)
    port.write_ecr(0x34)  # back to PS/2 mode (resets whatever is left in the FIFO)
    port.write_control(0x0C)
    return Transfer(status, count, accesses=port.accesses - start)


# --- nibble and byte (reverse) -----------------------------------------------------------------


def _read(port: PortBackend, start: int, block: Block) -> Transfer:
    return Transfer(block.status, block.count, block.data, port.accesses - start, block.more)


def nibble_read(port: PortBackend, length: int, cancelled: Cancelled = _never) -> Transfer:
    """Nibble-mode read (§2.4, events 7–11 twice a byte): the backend's ``nibble_read_data``.
    Stops when nDataAvail is high at a byte boundary (end of data, STATUS_SUCCESS) or after
    ``length`` bytes; a peripheral that stops answering mid-byte gives STATUS_IO_TIMEOUT with the
    bytes read so far."""
    start = port.accesses
    return _read(port, start, port.nibble_read_data(length, cancelled))


def byte_read(port: PortBackend, length: int, cancelled: Cancelled = _never) -> Transfer:
    """Byte-mode read (§2.5: events 14, 7, 9, 10, 11, 16, 17), the data lines turned around:
    the backend's ``byte_read_data``."""
    start = port.accesses
    return _read(port, start, port.byte_read_data(length, cancelled))


# --- ECP ---------------------------------------------------------------------------------------


def ecp_write_sw(
    port: PortBackend, data: bytes, command: bool = False, cancelled: Cancelled = _never
) -> Transfer:
    """Software ECP forward (events 34–37): the backend's ``ecp_write_data`` (HostAck high), or
    ``ecp_write_addr`` for commands (HostAck low)."""
    start = port.accesses
    write = port.ecp_write_addr if command else port.ecp_write_data
    block = write(data, cancelled)
    return Transfer(block.status, block.count, accesses=port.accesses - start)


def ecp_write_hw(  # noqa: PLR0917 - the routine's knobs, all with defaults
    port: PortBackend,
    data: bytes,
    command: bool = False,
    cancelled: Cancelled = _never,
    timeout_us: float = TL_US,
    fifo_depth: int = 16,
) -> Transfer:
    """Hardware ECP forward: ECR mode 011, bytes into the FIFO (commands to ecpAFifo).

    On a stall the FIFO is reset when the chip leaves mode 011, so up to ``fifo_depth`` bytes
    pushed, and the one on the wire, may not have reached the peripheral: the count excludes
    them (it may fall short, it never claims a byte the peripheral did not take)."""
    start = port.accesses
    port.write_ecr(0x34)
    port.write_control(0x04)
    port.write_ecr(0x74)  # mode 011
    status, count, short = _write_chunks(
        lambda chunk: port.write_fifo_block(chunk, command, timeout_us), data, cancelled
    )
    if short:
        status = nt.STATUS_IO_TIMEOUT
    deadline = port.now() + timeout_us
    while not port.read_ecr() & 0x01:  # drain before leaving mode 011
        if port.now() > deadline:
            status = nt.STATUS_IO_TIMEOUT
            break
        port.sleep(1)
    port.write_ecr(0x34)
    if status == nt.STATUS_IO_TIMEOUT:
        # What was still in the FIFO is lost with the reset, and the byte on the wire may be.
        count = max(0, count - fifo_depth - 1)
    port.wait_status(nt.DSR_NOT_BUSY, nt.DSR_NOT_BUSY, TL_US)
    return Transfer(status, count, accesses=port.accesses - start)


def ecp_read_sw(port: PortBackend, length: int, cancelled: Cancelled = _never) -> Transfer:
    """Software ECP reverse (events 43–46) with run-length expansion: the backend's
    ``ecp_read_data``; stops at ``length`` bytes, at a channel address, or when nothing comes
    within the IEEE 1284 limit."""
    start = port.accesses
    return _read(port, start, port.ecp_read_data(length, cancelled))


def ecp_read_hw(port: PortBackend, length: int, cancelled: Cancelled = _never) -> Transfer:
    """Hardware ECP reverse: ECR mode 011 with the data lines reversed; the chip expands RLE.
    Reads as string input from the FIFO (a short read: the peripheral has no more)."""
    start = port.accesses
    port.write_ecr(0x74)
    status, data, _ = _read_chunks(lambda n: port.read_fifo_block(n, TL_US), length, cancelled)
    port.write_ecr(0x34)
    more = not port.read_status() & nt.DSR_NOT_FAULT
    return Transfer(status, len(data), data, port.accesses - start, more)


# --- EPP ---------------------------------------------------------------------------------------


def _clear_timeout(port: PortBackend) -> None:
    status = port.read_status()
    port.write_status(status | 0x01)
    port.write_status(status & 0xFE)


def _write_chunks(
    write: Callable[[bytes], int], data: bytes, cancelled: Cancelled
) -> tuple[int, int, bool]:
    """String output in chunks: (STATUS_SUCCESS or STATUS_CANCELLED, bytes sent, whether a chunk
    stopped short)."""
    count = 0
    view = memoryview(data)
    while count < len(data):
        if cancelled():
            return nt.STATUS_CANCELLED, count, False
        chunk = bytes(view[count : count + CHUNK])
        done = write(chunk)
        count += done
        if done < len(chunk):
            return nt.STATUS_SUCCESS, count, True
    return nt.STATUS_SUCCESS, count, False


def _read_chunks(
    read: Callable[[int], bytes], length: int, cancelled: Cancelled
) -> tuple[int, bytes, bool]:
    """String input in chunks: (STATUS_SUCCESS or STATUS_CANCELLED, the bytes, whether a chunk
    came back short)."""
    out = bytearray()
    while len(out) < length:
        if cancelled():
            return nt.STATUS_CANCELLED, bytes(out), False
        want = min(CHUNK, length - len(out))
        chunk = read(want)
        out += chunk
        if len(chunk) < want:
            return nt.STATUS_SUCCESS, bytes(out), True
    return nt.STATUS_SUCCESS, bytes(out), False


def epp_write_hw(
    port: PortBackend, data: bytes, address: bool = False, cancelled: Cancelled = _never
) -> Transfer:
    """Hardware EPP writes through base+4 (data) or base+3 (address) as string output, the
    timeout bit telling where a peripheral stopped answering (≤ 2 accesses a byte, §7.2)."""
    start = port.accesses
    port.write_control(0x04)
    status, count, short = _write_chunks(
        lambda chunk: port.write_epp_block(chunk, address), data, cancelled
    )
    if short:
        _clear_timeout(port)
        status = nt.STATUS_IO_TIMEOUT
    return Transfer(status, count, accesses=port.accesses - start)


def epp_read_hw(
    port: PortBackend, length: int, address: bool = False, cancelled: Cancelled = _never
) -> Transfer:
    """Hardware EPP reads through base+4 (data) or base+3 (address) as string input."""
    start = port.accesses
    port.write_control(0x24)
    status, data, short = _read_chunks(lambda n: port.read_epp_block(n, address), length, cancelled)
    if short:
        _clear_timeout(port)
        status = nt.STATUS_IO_TIMEOUT
    port.write_control(0x04)
    return Transfer(status, len(data), data, port.accesses - start)


def epp_write_sw(
    port: PortBackend, data: bytes, address: bool = False, cancelled: Cancelled = _never
) -> Transfer:
    """Software EPP write cycles (§2.7: events 62/56, 58, 63/59, 60, 61): the backend's
    ``epp_write_data`` (``epp_write_addr`` for address cycles)."""
    start = port.accesses
    write = port.epp_write_addr if address else port.epp_write_data
    block = write(data, cancelled)
    return Transfer(block.status, block.count, accesses=port.accesses - start)


def epp_read_sw(
    port: PortBackend, length: int, address: bool = False, cancelled: Cancelled = _never
) -> Transfer:
    """Software EPP read cycles (§2.7: events 67/64, 58, 63/59, 60): the backend's
    ``epp_read_data`` (``epp_read_addr`` for address cycles)."""
    start = port.accesses
    read = port.epp_read_addr if address else port.epp_read_data
    return _read(port, start, read(length, cancelled))
