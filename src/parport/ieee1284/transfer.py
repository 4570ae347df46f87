"""The per-mode transfer routines on the register interface (ieee1284.md §2.2–§2.7).

Each routine is written register by register, with the IEEE 1284 event numbers in the comments,
and returns a :class:`Transfer`: the NTSTATUS, the bytes moved (count, and the data for reads)
and the register accesses it made. Phase bookkeeping (which mode is negotiated, which way the
bus faces) belongs to :class:`~parport.ieee1284.session.Session`; these functions assume the bus
is already in the right phase.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .. import nt
from ..hw.backend import Cadence, PortBackend
from . import lines
from .timing import COMPAT_SETUP_US, EPP_TIMEOUT_US, STROBE_US, TL_US

__all__ = [
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


CHUNK = 4096  # block transfers and handshake bursts check for cancellation between chunks

# One byte of each software loop below, for backends that run many at once (PortBackend.
# handshake_write/handshake_read): keep these in step with the loops.
COMPAT_CADENCE = Cadence(
    control=0x0C,
    accesses=4,  # status, data, nStrobe low, nStrobe high
    delay_us=3 * COMPAT_SETUP_US,
    strobe_tail_accesses=1,
    strobe_tail_us=2 * COMPAT_SETUP_US,
)
NIBBLE_CADENCE = Cadence(control=0x04, accesses=9)
BYTE_CADENCE = Cadence(control=0x24, accesses=9, delay_us=STROBE_US)
ECP_FWD_CADENCE = Cadence(control=0x04, accesses=5)
ECP_REV_CADENCE = Cadence(control=0x22, accesses=5)


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
    """Centronics write with the Busy/nAck handshake (§2.2), Linux timing: per byte a status
    read, the data, 1 µs, nStrobe low, 1 µs, nStrobe high, 1 µs.

    A printer that is busy, off-line or out of paper is waited for until ``budget_us`` runs out
    (``on_stall(status)`` is called while it is off-line or out of paper so the caller can give
    the port to others; returning False ends the write with STATUS_DEVICE_BUSY); powered off or
    not connected ends the write at once. ``cancelled()`` is checked between bytes.
    """
    start = port.accesses
    deadline = port.now() + budget_us
    write_data, write_control, sleep = port.write_data, port.write_control, port.sleep
    burst = port.handshake_write
    write_control(0x0C)
    count = 0
    while count < len(data):
        if cancelled():
            return Transfer(nt.STATUS_CANCELLED, count, accesses=port.accesses - start)
        sent = burst("compat", data[count : count + CHUNK], COMPAT_CADENCE)
        if sent:
            count += sent
            continue
        if port.read_status() & 0x88 != 0x88:
            status = _wait_ready(port, deadline, cancelled, on_stall)
            if status != nt.STATUS_SUCCESS:
                return Transfer(status, count, accesses=port.accesses - start)
        write_data(data[count])
        sleep(COMPAT_SETUP_US)
        write_control(0x0D)  # nStrobe low: the peripheral latches the byte
        sleep(COMPAT_SETUP_US)
        write_control(0x0C)
        sleep(COMPAT_SETUP_US)
        count += 1
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


_BURST = -1  # _reverse_head: bytes were taken at once


def _reverse_head(  # noqa: PLR0917 - the loop's state, passed along
    port: PortBackend,
    mode: str,
    cadence: Cadence,
    out: bytearray,
    length: int,
    cancelled: Cancelled,
) -> int | None:
    """The head of the nibble and byte loops: bytes taken at once by the backend (``_BURST``),
    or a status to stop with (no more data: STATUS_SUCCESS; STATUS_CANCELLED), or None: go on
    with one byte by hand."""
    chunk = port.handshake_read(mode, min(CHUNK, length - len(out)), cadence)
    if chunk:
        out += chunk
        return nt.STATUS_CANCELLED if cancelled() else _BURST
    if port.read_status() & nt.DSR_NOT_FAULT:
        return nt.STATUS_SUCCESS  # nDataAvail high: no more data
    if cancelled():
        return nt.STATUS_CANCELLED
    return None


def nibble_read(port: PortBackend, length: int, cancelled: Cancelled = _never) -> Transfer:
    """Nibble-mode read (§2.4, events 7–11 twice a byte). Stops when nDataAvail is high at a
    byte boundary (end of data, STATUS_SUCCESS) or after ``length`` bytes; a peripheral that
    stops answering mid-byte gives STATUS_IO_TIMEOUT with the bytes read so far."""
    start = port.accesses
    out = bytearray()
    write_control, wait = port.write_control, port.wait_status
    status: int = nt.STATUS_SUCCESS
    while len(out) < length:
        stop = _reverse_head(port, "nibble", NIBBLE_CADENCE, out, length, cancelled)
        if stop == _BURST:
            continue
        if stop is not None:
            status = stop
            break
        byte = 0
        for shift in (0, 4):
            write_control(0x06)  # event 7: HostBusy low
            dsr = wait(nt.DSR_NOT_ACK, 0, TL_US)  # event 9: PtrClk low, nibble valid
            if dsr is None:
                return Transfer(nt.STATUS_IO_TIMEOUT, len(out), bytes(out), port.accesses - start)
            byte |= (((dsr >> 3) & 0x07) | (0 if dsr & 0x80 else 0x08)) << shift
            write_control(0x04)  # event 10
            if wait(nt.DSR_NOT_ACK, nt.DSR_NOT_ACK, TL_US) is None:  # event 11
                return Transfer(nt.STATUS_IO_TIMEOUT, len(out), bytes(out), port.accesses - start)
        out.append(byte)
    more = not port.read_status() & nt.DSR_NOT_FAULT
    if not more:
        write_control(0x06)  # reverse idle: HostBusy low
    return Transfer(status, len(out), bytes(out), port.accesses - start, more)


def byte_read(port: PortBackend, length: int, cancelled: Cancelled = _never) -> Transfer:
    """Byte-mode read (§2.5: events 14, 7, 9, 10, 11, 16, 17), the data lines turned around."""
    start = port.accesses
    out = bytearray()
    write_control, wait = port.write_control, port.wait_status
    status: int = nt.STATUS_SUCCESS
    while len(out) < length:
        stop = _reverse_head(port, "byte", BYTE_CADENCE, out, length, cancelled)
        if stop == _BURST:
            continue
        if stop is not None:
            status = stop
            break
        write_control(0x24)  # event 14: host drivers off
        write_control(0x26)  # event 7
        if wait(nt.DSR_NOT_ACK, 0, TL_US) is None:  # event 9
            status = nt.STATUS_IO_TIMEOUT
            break
        out.append(port.read_data())
        write_control(0x24)  # event 10
        if wait(nt.DSR_NOT_ACK, nt.DSR_NOT_ACK, TL_US) is None:  # event 11
            status = nt.STATUS_IO_TIMEOUT
            break
        write_control(0x25)  # event 16: HostClk low
        port.sleep(STROBE_US)
        write_control(0x24)  # event 17
    more = not port.read_status() & nt.DSR_NOT_FAULT
    write_control(0x24 if more else 0x26)
    return Transfer(status, len(out), bytes(out), port.accesses - start, more)


# --- ECP ---------------------------------------------------------------------------------------


def ecp_write_sw(
    port: PortBackend, data: bytes, command: bool = False, cancelled: Cancelled = _never
) -> Transfer:
    """Software ECP forward (events 34–37): HostAck high for data, low for commands."""
    start = port.accesses
    ctr = 0x06 if command else 0x04
    write_data, write_control, wait = port.write_data, port.write_control, port.wait_status
    write_control(ctr)
    count = 0
    while count < len(data):
        if cancelled():
            return Transfer(nt.STATUS_CANCELLED, count, accesses=port.accesses - start)
        if not command:
            sent = port.handshake_write("ecp", data[count : count + CHUNK], ECP_FWD_CADENCE)
            if sent:
                count += sent
                continue
        byte = data[count]
        write_data(byte)
        write_control(ctr | 0x01)  # event 34: HostClk low
        if wait(nt.DSR_NOT_BUSY, 0, TL_US) is None:  # event 35: PeriphAck high
            write_control(ctr)
            return Transfer(nt.STATUS_IO_TIMEOUT, count, accesses=port.accesses - start)
        write_control(ctr)  # event 36
        if wait(nt.DSR_NOT_BUSY, nt.DSR_NOT_BUSY, TL_US) is None:  # event 37
            return Transfer(nt.STATUS_IO_TIMEOUT, count + 1, accesses=port.accesses - start)
        count += 1
    write_control(0x04)
    return Transfer(nt.STATUS_SUCCESS, count, accesses=port.accesses - start)


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
    """Software ECP reverse (events 43–46) with run-length expansion; stops at ``length``
    bytes, at a channel address, or when nothing comes within the IEEE 1284 limit."""
    start = port.accesses
    out = bytearray()
    repeat = 1
    write_control, wait, burst = port.write_control, port.wait_status, port.handshake_read
    status = nt.STATUS_SUCCESS
    while len(out) < length:
        if cancelled():
            status = nt.STATUS_CANCELLED
            break
        if repeat == 1:
            chunk = burst("ecp", min(CHUNK, length - len(out)), ECP_REV_CADENCE)
            if chunk:
                out += chunk
                continue
        dsr = wait(nt.DSR_NOT_ACK, 0, TL_US)  # event 43
        if dsr is None:
            break  # nothing more from the peripheral
        byte = port.read_data()
        write_control(0x20)  # event 44: HostAck high
        if wait(nt.DSR_NOT_ACK, nt.DSR_NOT_ACK, TL_US) is None:  # event 45
            status = nt.STATUS_IO_TIMEOUT
            break
        write_control(0x22)  # event 46: HostAck low
        if dsr & nt.DSR_NOT_BUSY:  # PeriphAck (Busy pin) low: a command byte
            if byte & 0x80:
                break  # a channel address ends the read
            repeat = byte + 1
            continue
        out += bytes((byte,)) * min(repeat, length - len(out))
        repeat = 1
    more = not port.read_status() & nt.DSR_NOT_FAULT
    return Transfer(status, len(out), bytes(out), port.accesses - start, more)


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
    """Software EPP write cycles (§2.7: events 62/56, 58, 63/59, 60, 61)."""
    start = port.accesses
    strobe = 0x08 if address else 0x02  # nAStrb (SelectIn bit) or nDStrb (AutoFd bit)
    write_data, write_control, wait = port.write_data, port.write_control, port.wait_status
    write_control(0x05)  # nWrite low, nInit high
    count = 0
    status = nt.STATUS_SUCCESS
    for byte in data:
        if cancelled():
            status = nt.STATUS_CANCELLED
            break
        write_data(byte)
        write_control(0x05 | strobe)  # event 62 / 56: strobe low
        if wait(nt.DSR_NOT_BUSY, 0, EPP_TIMEOUT_US) is None:  # event 58: nWait high
            write_control(0x05)
            status = nt.STATUS_IO_TIMEOUT
            break
        write_control(0x05)  # event 63 / 59
        if wait(nt.DSR_NOT_BUSY, nt.DSR_NOT_BUSY, EPP_TIMEOUT_US) is None:  # event 60
            status = nt.STATUS_IO_TIMEOUT
            count += 1
            break
        count += 1
    write_control(0x04)  # event 61: nWrite high
    return Transfer(status, count, accesses=port.accesses - start)


def epp_read_sw(
    port: PortBackend, length: int, address: bool = False, cancelled: Cancelled = _never
) -> Transfer:
    """Software EPP read cycles (§2.7: events 67/64, 58, 63/59, 60)."""
    start = port.accesses
    strobe = 0x08 if address else 0x02
    write_control, wait = port.write_control, port.wait_status
    write_control(0x24)  # reverse, nWrite high
    out = bytearray()
    status = nt.STATUS_SUCCESS
    for _ in range(length):
        if cancelled():
            status = nt.STATUS_CANCELLED
            break
        write_control(0x24 | strobe)  # event 67 / 64
        if wait(nt.DSR_NOT_BUSY, 0, TL_US) is None:  # event 58
            write_control(0x24)
            status = nt.STATUS_IO_TIMEOUT
            break
        out.append(port.read_data())
        write_control(0x24)  # event 63 / 59
        if wait(nt.DSR_NOT_BUSY, nt.DSR_NOT_BUSY, TL_US) is None:  # event 60
            status = nt.STATUS_IO_TIMEOUT
            break
    write_control(0x04)
    return Transfer(status, len(out), bytes(out), port.accesses - start)
