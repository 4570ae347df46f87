"""The IEEE 1284 handshakes in software, one register access at a time: the default whole-transfer
operations of :class:`~parport.hw.backend.PortBackend` (ieee1284.md §2.2–§2.7, §4.2).

This is the part of a port driver that Linux keeps in ``ieee1284_ops.c`` behind the block
operations of ``struct parport_operations``: compatibility write, nibble and byte read, EPP and
ECP read and write, data and address. A backend that can move a whole transfer another way (ppdev
through the kernel's ``read()``/``write()``, the emulator with its bursts) overrides the
operation; every other backend runs these loops. The IEEE 1284.3 command frame (the Windows flavour
of §4.2) is here too, as a register script, for :meth:`PortBackend.cpp_command`.

Each loop is written register by register with the IEEE 1284 event numbers in the comments. A
loop may be given a ``burst``: a callable that, at each byte boundary, may take many bytes at
once with exactly the loop's outcome (the emulator's fast paths; see docs/emulator.md). The
:class:`Cadence` of each loop says what one byte of it costs, for such a burst to charge.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from .. import nt

if TYPE_CHECKING:
    from .backend import PortBackend

__all__ = [
    "BYTE_CADENCE",
    "CHUNK",
    "COMPAT_CADENCE",
    "CPP_END",
    "CPP_QUALIFY",
    "ECP_FWD_CADENCE",
    "ECP_REV_CADENCE",
    "EPP_READ_CADENCE",
    "EPP_WRITE_CADENCE",
    "NIBBLE_CADENCE",
    "SLEEP",
    "WAIT",
    "WRITE_CONTROL",
    "WRITE_DATA",
    "Block",
    "Cadence",
    "Cancelled",
    "ReadBurst",
    "Step",
    "WriteBurst",
    "byte_read",
    "compat_write",
    "cpp_command",
    "cpp_frame",
    "ecp_read",
    "ecp_write",
    "epp_read",
    "epp_write",
    "never",
    "nibble_read",
    "run_steps",
]

# --- host timing (ieee1284.md §2.9, §4.2; the engine's other delays are in ieee1284.timing) ---
TL_US: Final = 35_000.0  # peripheral response limit during negotiation, termination, transfers
EPP_TIMEOUT_US: Final = 10.0  # software EPP: how long nWait may take (Linux polls ~10 µs)
STROBE_US: Final = 5.0  # event 3 -> event 4, byte-mode HostClk, ECP HostClk
COMPAT_SETUP_US: Final = 1.0  # data set-up, strobe width, hold (Linux: 1 µs each)
CPP_BYTE_US: Final = 3.0  # Windows: a stall after every CPP byte
CPP_STATUS_POLL_US: Final = 5.0  # Windows: how long each S1/S2/S3 check may poll
CPP_RESPONSE_US: Final = 250.0  # Windows: 25 000 polls for the select/deselect answer

CHUNK: Final = 4096  # the most bytes a burst takes between two checks for cancellation

Cancelled = Callable[[], bool]
WriteBurst = Callable[[bytes, int], int]  # (data, start) -> bytes of data[start:] taken
ReadBurst = Callable[[int], bytes]  # (at most n) -> the bytes taken


def never() -> bool:
    """The ``cancelled`` of a transfer nobody cancels."""
    return False


@dataclass(slots=True)
class Block:
    """The outcome of one whole-transfer operation (not frozen: a frozen dataclass is slow to
    make, and a compatibility write makes one per chunk).

    ``status`` is STATUS_SUCCESS (everything moved, or a reverse peripheral said it has no
    more), STATUS_CANCELLED (``cancelled()`` was true between two bytes), STATUS_IO_TIMEOUT (a
    handshake wait passed its limit) or, for a compatibility write only, STATUS_DEVICE_BUSY: the
    printer was not ready at the status read before byte ``count`` (the caller decides how long
    to wait and calls again with the rest).
    """

    status: int
    count: int
    data: bytes = b""
    more: bool = False  # nibble, byte, ECP reverse: nDataAvail (nPeriphRequest) low at the end


@dataclass(frozen=True, slots=True)
class Cadence:
    """The register work of one byte of a loop below, for a burst to charge per byte: it starts
    and ends with the control register at ``control``, makes ``accesses`` register accesses and
    sleeps ``delay_us``. ``strobe_tail_*`` (compatibility mode, whose bytes start with a status
    read) is what follows the falling edge of nStrobe within the byte: the printer's Busy and
    nAck pulse must be over by the next byte's status read."""

    control: int
    accesses: int
    delay_us: float = 0.0
    strobe_tail_accesses: int = 0
    strobe_tail_us: float = 0.0


# --- compatibility mode (forward, §2.2) ----------------------------------------------------------

# status, data, nStrobe low, nStrobe high; 1 µs after each of the last three.
COMPAT_CADENCE: Final = Cadence(
    control=0x0C,
    accesses=4,
    delay_us=3 * COMPAT_SETUP_US,
    strobe_tail_accesses=1,
    strobe_tail_us=2 * COMPAT_SETUP_US,
)


def compat_write(
    port: PortBackend, data: bytes, cancelled: Cancelled = never, burst: WriteBurst | None = None
) -> Block:
    """Centronics bytes from forward idle (CTR 0x0C), Linux timing: per byte a status read
    (nFault high and Busy low, else stop: STATUS_DEVICE_BUSY), the data, 1 µs, nStrobe low,
    1 µs, nStrobe high, 1 µs. nAck is not waited for."""
    read_status, write_data, write_control, sleep = (
        port.read_status,
        port.write_data,
        port.write_control,
        port.sleep,
    )
    count = 0
    total = len(data)
    while count < total:
        if cancelled():
            return Block(nt.STATUS_CANCELLED, count)
        if burst is not None:
            sent = burst(data, count)
            if sent:
                count += sent
                continue
        if read_status() & 0x88 != 0x88:  # nFault high, Busy low: ready
            return Block(nt.STATUS_DEVICE_BUSY, count)
        write_data(data[count])
        sleep(COMPAT_SETUP_US)
        write_control(0x0D)  # nStrobe low: the peripheral latches the byte
        sleep(COMPAT_SETUP_US)
        write_control(0x0C)
        sleep(COMPAT_SETUP_US)
        count += 1
    return Block(nt.STATUS_SUCCESS, count)


# --- nibble and byte (reverse, §2.4, §2.5) -------------------------------------------------------

# nDataAvail check, then twice: HostBusy low, nAck poll, HostBusy high, nAck poll.
NIBBLE_CADENCE: Final = Cadence(control=0x04, accesses=9)
# nDataAvail check, events 14 and 7, nAck poll, data, event 10, nAck poll, events 16 and 17.
BYTE_CADENCE: Final = Cadence(control=0x24, accesses=9, delay_us=STROBE_US)


def _reverse(
    port: PortBackend,
    length: int,
    cancelled: Cancelled,
    burst: ReadBurst | None,
    one: Callable[[PortBackend], int | None],
) -> tuple[int, bytearray, bool]:
    """The loop of nibble and byte mode around ``one`` (a byte, or None on a timeout):
    (status, bytes, whether a handshake timed out)."""
    out = bytearray()
    while len(out) < length:
        if burst is not None:
            chunk = burst(min(CHUNK, length - len(out)))
            if chunk:
                out += chunk
                if cancelled():
                    return nt.STATUS_CANCELLED, out, False
                continue
        if port.read_status() & nt.DSR_NOT_FAULT:
            return nt.STATUS_SUCCESS, out, False  # nDataAvail high: no more data
        if cancelled():
            return nt.STATUS_CANCELLED, out, False
        byte = one(port)
        if byte is None:
            return nt.STATUS_IO_TIMEOUT, out, True
        out.append(byte)
    return nt.STATUS_SUCCESS, out, False


def _nibble_byte(port: PortBackend) -> int | None:
    write_control, wait = port.write_control, port.wait_status
    byte = 0
    for shift in (0, 4):
        write_control(0x06)  # event 7: HostBusy low
        dsr = wait(nt.DSR_NOT_ACK, 0, TL_US)  # event 9: PtrClk low, nibble valid
        if dsr is None:
            return None
        byte |= (((dsr >> 3) & 0x07) | (0 if dsr & 0x80 else 0x08)) << shift
        write_control(0x04)  # event 10
        if wait(nt.DSR_NOT_ACK, nt.DSR_NOT_ACK, TL_US) is None:  # event 11
            return None
    return byte


def nibble_read(
    port: PortBackend, length: int, cancelled: Cancelled = never, burst: ReadBurst | None = None
) -> Block:
    """Nibble-mode bytes (§2.4, events 7–11 twice a byte) from reverse idle (CTR 0x04): up to
    ``length``, fewer when nDataAvail is high at a byte boundary. At the end HostBusy goes low
    (reverse idle) unless the peripheral still has data; a timeout mid-byte ends at once."""
    status, out, timed_out = _reverse(port, length, cancelled, burst, _nibble_byte)
    if timed_out:
        return Block(status, len(out), bytes(out))
    more = not port.read_status() & nt.DSR_NOT_FAULT
    if not more:
        port.write_control(0x06)  # reverse idle: HostBusy low
    return Block(status, len(out), bytes(out), more)


def _byte_byte(port: PortBackend) -> int | None:
    write_control, wait = port.write_control, port.wait_status
    write_control(0x24)  # event 14: host drivers off
    write_control(0x26)  # event 7
    if wait(nt.DSR_NOT_ACK, 0, TL_US) is None:  # event 9
        return None
    byte = port.read_data()
    write_control(0x24)  # event 10
    if wait(nt.DSR_NOT_ACK, nt.DSR_NOT_ACK, TL_US) is None:  # event 11
        return None
    write_control(0x25)  # event 16: HostClk low
    port.sleep(STROBE_US)
    write_control(0x24)  # event 17
    return byte


def byte_read(
    port: PortBackend, length: int, cancelled: Cancelled = never, burst: ReadBurst | None = None
) -> Block:
    """Byte-mode bytes (§2.5: events 14, 7, 9, 10, 11, 16, 17) on the turned-around data lines.
    A byte whose event 11 timed out is not counted. At the end HostBusy is left low (reverse
    idle) unless the peripheral still has data."""
    status, out, _ = _reverse(port, length, cancelled, burst, _byte_byte)
    more = not port.read_status() & nt.DSR_NOT_FAULT
    port.write_control(0x24 if more else 0x26)
    return Block(status, len(out), bytes(out), more)


# --- ECP without the FIFO (§2.6) -----------------------------------------------------------------

# data, HostClk low, PeriphAck poll, HostClk high, PeriphAck poll.
ECP_FWD_CADENCE: Final = Cadence(control=0x04, accesses=5)
# PeriphClk poll, data, HostAck high, PeriphClk poll, HostAck low.
ECP_REV_CADENCE: Final = Cadence(control=0x22, accesses=5)


def ecp_write(
    port: PortBackend,
    data: bytes,
    command: bool = False,
    cancelled: Cancelled = never,
    burst: WriteBurst | None = None,
) -> Block:
    """ECP forward bytes (events 34–37) from forward idle: HostAck high for data, low for
    commands (channel addresses, run-length counts). Ends with CTR 0x04 when every byte went."""
    ctr = 0x06 if command else 0x04
    write_data, write_control, wait = port.write_data, port.write_control, port.wait_status
    write_control(ctr)
    count = 0
    total = len(data)
    while count < total:
        if cancelled():
            return Block(nt.STATUS_CANCELLED, count)
        if burst is not None:
            sent = burst(data, count)
            if sent:
                count += sent
                continue
        write_data(data[count])
        write_control(ctr | 0x01)  # event 34: HostClk low
        if wait(nt.DSR_NOT_BUSY, 0, TL_US) is None:  # event 35: PeriphAck high
            write_control(ctr)
            return Block(nt.STATUS_IO_TIMEOUT, count)
        write_control(ctr)  # event 36
        if wait(nt.DSR_NOT_BUSY, nt.DSR_NOT_BUSY, TL_US) is None:  # event 37
            return Block(nt.STATUS_IO_TIMEOUT, count + 1)
        count += 1
    write_control(0x04)
    return Block(nt.STATUS_SUCCESS, count)


def ecp_read(
    port: PortBackend, length: int, cancelled: Cancelled = never, burst: ReadBurst | None = None
) -> Block:
    """ECP reverse bytes (events 43–46) on a bus already turned around, expanding run-length
    counts: up to ``length``, fewer at a channel address or when nothing comes within the IEEE
    1284 limit. ``burst`` is offered only between runs."""
    out = bytearray()
    repeat = 1
    write_control, wait = port.write_control, port.wait_status
    status = nt.STATUS_SUCCESS
    while len(out) < length:
        if cancelled():
            status = nt.STATUS_CANCELLED
            break
        if burst is not None and repeat == 1:
            chunk = burst(min(CHUNK, length - len(out)))
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
    return Block(status, len(out), bytes(out), more)


# --- EPP in software (§2.7) ----------------------------------------------------------------------

# data, strobe low, nWait poll, strobe high, nWait poll.
EPP_WRITE_CADENCE: Final = Cadence(control=0x05, accesses=5)
# strobe low, nWait poll, data, strobe high, nWait poll.
EPP_READ_CADENCE: Final = Cadence(control=0x24, accesses=5)


def epp_write(
    port: PortBackend,
    data: bytes,
    address: bool = False,
    cancelled: Cancelled = never,
    burst: WriteBurst | None = None,
) -> Block:
    """EPP write cycles in software (§2.7: events 62/56, 58, 63/59, 60, 61): nWrite low
    (CTR 0x05), per byte the data then nDStrb (nAStrb for addresses) low until nWait goes high,
    high until it goes low again; nWrite high at the end. A cycle whose event 60 timed out is
    counted (the peripheral took the byte)."""
    strobe = 0x08 if address else 0x02  # nAStrb (SelectIn bit) or nDStrb (AutoFd bit)
    write_data, write_control, wait = port.write_data, port.write_control, port.wait_status
    write_control(0x05)  # nWrite low, nInit high
    count = 0
    total = len(data)
    status = nt.STATUS_SUCCESS
    while count < total:
        if cancelled():
            status = nt.STATUS_CANCELLED
            break
        if burst is not None:
            sent = burst(data, count)
            if sent:
                count += sent
                continue
        write_data(data[count])
        write_control(0x05 | strobe)  # event 62 / 56: strobe low
        if wait(nt.DSR_NOT_BUSY, 0, EPP_TIMEOUT_US) is None:  # event 58: nWait high
            write_control(0x05)
            status = nt.STATUS_IO_TIMEOUT
            break
        write_control(0x05)  # event 63 / 59
        count += 1
        if wait(nt.DSR_NOT_BUSY, nt.DSR_NOT_BUSY, EPP_TIMEOUT_US) is None:  # event 60
            status = nt.STATUS_IO_TIMEOUT
            break
    write_control(0x04)  # event 61: nWrite high
    return Block(status, count)


def epp_read(
    port: PortBackend,
    length: int,
    address: bool = False,
    cancelled: Cancelled = never,
    burst: ReadBurst | None = None,
) -> Block:
    """EPP read cycles in software (§2.7: events 67/64, 58, 63/59, 60) on the turned-around
    data lines (CTR 0x24); forward again (CTR 0x04) at the end. EPP has no end-of-data signal:
    ``length`` cycles run unless one times out."""
    strobe = 0x08 if address else 0x02
    write_control, wait, read_data = port.write_control, port.wait_status, port.read_data
    write_control(0x24)  # reverse, nWrite high
    out = bytearray()
    status = nt.STATUS_SUCCESS
    while len(out) < length:
        if cancelled():
            status = nt.STATUS_CANCELLED
            break
        if burst is not None:
            chunk = burst(min(CHUNK, length - len(out)))
            if chunk:
                out += chunk
                continue
        write_control(0x24 | strobe)  # event 67 / 64
        if wait(nt.DSR_NOT_BUSY, 0, TL_US) is None:  # event 58
            write_control(0x24)
            status = nt.STATUS_IO_TIMEOUT
            break
        out.append(read_data())
        write_control(0x24)  # event 63 / 59
        if wait(nt.DSR_NOT_BUSY, nt.DSR_NOT_BUSY, TL_US) is None:  # event 60
            status = nt.STATUS_IO_TIMEOUT
            break
    write_control(0x04)
    return Block(status, len(out), bytes(out))


# --- register scripts and the IEEE 1284.3 command frame (§4.2) -----------------------------------

# The steps of a register script, each a tuple whose first item is one of these:
# (WRITE_DATA, value), (WRITE_CONTROL, value), (SLEEP, microseconds) and
# (WAIT, mask, value, timeout_us, stop): wait_status, whose result is reported; a wait that times
# out with ``stop`` true ends the script there.
WRITE_DATA: Final = 0
WRITE_CONTROL: Final = 1
SLEEP: Final = 2
WAIT: Final = 3
Step = tuple[int, int] | tuple[int, float] | tuple[int, int, int, float, bool]
Runner = Callable[[Sequence[Step]], list[int | None]]


def run_steps(port: PortBackend, steps: Sequence[Step]) -> list[int | None]:
    """Run register steps in order with the port's register calls (see ``Step``): the result of
    each wait, up to and including a wait with ``stop`` set that timed out (None)."""
    results: list[int | None] = []
    for step in steps:
        op = step[0]
        if op == WRITE_DATA:
            port.write_data(int(step[1]))
        elif op == WRITE_CONTROL:
            port.write_control(int(step[1]))
        elif op == SLEEP:
            port.sleep(step[1])
        else:
            _, mask, value, timeout_us, stop = step  # type: ignore[misc]
            status = port.wait_status(mask, value, timeout_us)
            results.append(status)
            if status is None and stop:
                break
    return results


_STATUS_MASK = 0xB8  # Busy bit, PError, Select, nFault
_S1, _S2 = 0xB8, 0x18

# The Windows qualifier (windows-parport.md §10.4): CTR 0x04 (nSelectIn H, nInit H: never a
# 1284.3 reset), AA 55 00 FF 87 78 with 3 µs after each, S1 checked after FF, S2 after 87, S3
# after 78.
CPP_QUALIFY: Final[tuple[Step, ...]] = (
    (WRITE_CONTROL, 0x04),
    (WRITE_DATA, 0xAA),
    (SLEEP, CPP_BYTE_US),
    (WRITE_DATA, 0x55),
    (SLEEP, CPP_BYTE_US),
    (WRITE_DATA, 0x00),
    (SLEEP, CPP_BYTE_US),
    (WRITE_DATA, 0xFF),
    (SLEEP, CPP_BYTE_US),
    (WAIT, _STATUS_MASK, _S1, CPP_STATUS_POLL_US, True),
    (WRITE_DATA, 0x87),
    (SLEEP, CPP_BYTE_US),
    (WAIT, _STATUS_MASK, _S2, CPP_STATUS_POLL_US, True),
    (WRITE_DATA, 0x78),
    (SLEEP, CPP_BYTE_US),
    (WAIT, 0x30, 0x30, CPP_STATUS_POLL_US, True),  # S3: PError H, Select H
)
CPP_END: Final[tuple[Step, ...]] = (
    (WRITE_DATA, 0xFF),
    (SLEEP, CPP_BYTE_US),
    (WRITE_CONTROL, 0x0C),
)


@functools.cache
def cpp_frame(command: int) -> tuple[Step, ...]:
    """The whole frame for ``command``: qualifier, command byte and strobe, the answer on nFault
    polled while nStrobe is low (SELECT: high, DESELECT: low; other commands: none), the end."""
    family = command & nt.CPP_COMMAND_FILTER
    answer: tuple[Step, ...] = ()
    if command & 0xF0 in (0xE0, 0xD0) or family in (0x20, 0x28):
        answer = ((WAIT, nt.DSR_NOT_FAULT, nt.DSR_NOT_FAULT, CPP_RESPONSE_US, False),)
    elif command & 0xF0 == nt.CPP_DESELECT:
        answer = ((WAIT, nt.DSR_NOT_FAULT, 0, CPP_RESPONSE_US, False),)
    return (
        *CPP_QUALIFY,
        (WRITE_DATA, command),
        (SLEEP, CPP_BYTE_US),
        (WRITE_CONTROL, 0x05),  # nStrobe L
        (SLEEP, CPP_BYTE_US),
        *answer,
        (WRITE_CONTROL, 0x04),  # nStrobe H
        *CPP_END,
    )


def cpp_command(port: PortBackend, command: int, run: Runner | None = None) -> list[int | None]:
    """One Windows CPP frame with ``command`` (one try), ended with ``FF`` and CTR 0x0C whether
    or not the qualifier was answered: the status each wait ended with (S1, S2, S3, then the
    SELECT or DESELECT answer), the list ending at a qualifier check that timed out (None).
    ``run`` runs a script (default: :func:`run_steps` on ``port``)."""
    if run is None:
        run = functools.partial(run_steps, port)
    waits = run(cpp_frame(int(command)))  # a plain int key: IntEnum hashes slowly
    if len(waits) < 3 or waits[2] is None:
        run(CPP_END)  # the frame stopped at the failed check
    return waits
