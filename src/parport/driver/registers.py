"""Register scripts: parport's own request for pin-level access through the arbiter.

Trigger ports, CNC and EPROM cables drive the port's lines directly: set the data byte, raise a
control line, read a status line. Windows has no request for that; parport adds one, sent like
any device control so that it works the same in-process and through the daemon:

``IOCTL_PARPORT_REGISTERS`` (``CTL_CODE(FILE_DEVICE_PARALLEL_PORT, 0x800, METHOD_BUFFERED,
FILE_ANY_ACCESS)``: function 0x800 is the first of the range Windows leaves to vendors), as
IRP_MJ_DEVICE_CONTROL, to the port (``\\Device\\ParallelPortN``) or to any of its devices. Its
input is a script of steps run in one go on the wire, with nobody else's access in between;
its output is one byte per READ step. The port is taken for the script and given back after it
(automatic allocation, in the port's FIFO) unless the handle already holds it: an ALLOCATE on
the port handle, a LOCK_PORT on the device. So ``set pin, hold 5 ms, reset`` is one request and
the hold time is met on the port's clock.

A step is 6 bytes: operation (1), register (1: 0 data, 1 status, 2 control), value (4, little
endian). Operations: READ; WRITE value; MODIFY (register = register & ~mask | bits & mask, with
mask in bits 0–7 and bits in 8–15 of the value); SLEEP value microseconds. Values are register
bits, as the PC sees them (``parport.hw.signals`` converts to pin levels).

A script whose request is cancelled while it runs (``irp.cancel()``; in the daemon, also its
client gone or the daemon stopping) cuts its remaining sleeps short, looking every
:data:`SLEEP_SLICE_US`, and still makes its remaining register accesses, so that a pulse still
ends; the request then completes STATUS_CANCELLED.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable, Iterable, Sequence
from enum import IntEnum
from typing import Final

from .. import nt
from ..hw.backend import PortBackend
from ..hw.clock import PACED_IDLE_JUMP_NS

__all__ = [
    "IOCTL_PARPORT_REGISTERS",
    "MAX_STEPS",
    "SLEEP_SLICE_US",
    "Op",
    "Register",
    "Step",
    "decode",
    "encode",
    "run",
]

IOCTL_PARPORT_REGISTERS: Final = nt.CTL_CODE(
    nt.FILE_DEVICE_PARALLEL_PORT, 0x800, nt.METHOD_BUFFERED, nt.FILE_ANY_ACCESS
)
MAX_STEPS: Final = 4096
MAX_SLEEP_US: Final = 10_000_000  # one step holds the port at most 10 s
# A sleeping script looks this often whether it was cancelled. Longer than the waits a paced
# emulator lets pass at once (parport.hw.clock.PACED_IDLE_JUMP_NS): every slice passes at wall
# pace, as the whole sleep would.
SLEEP_SLICE_US: Final = PACED_IDLE_JUMP_NS // 1000 + 10_000
_STEP = struct.Struct("<BBI")


class Op(IntEnum):
    READ = 0
    WRITE = 1
    MODIFY = 2
    SLEEP = 3


class Register(IntEnum):
    DATA = 0
    STATUS = 1
    CONTROL = 2


Step = tuple[Op, Register, int]


def encode(steps: Iterable[Step]) -> bytes:
    """The request's input for ``steps``."""
    return b"".join(_STEP.pack(int(op), int(reg), int(value)) for op, reg, value in steps)


# Scripts this short are decoded once and kept (a trigger program sends the same few over and
# over: one per code); longer ones are decoded each time.
_CACHED_STEPS: Final = 16


def decode(data: bytes) -> tuple[Step, ...] | None:
    """The steps of a request's input, or None when it is not a valid script."""
    if type(data) is not bytes:
        data = bytes(data)
    if len(data) <= _CACHED_STEPS * _STEP.size:
        return _decode_cached(data)
    return _decode(data)


def _decode(data: bytes) -> tuple[Step, ...] | None:
    if not data or len(data) % _STEP.size or len(data) // _STEP.size > MAX_STEPS:
        return None
    steps: list[Step] = []
    for op_code, reg_code, value in _STEP.iter_unpack(data):
        try:
            op, reg = Op(op_code), Register(reg_code)
        except ValueError:
            return None
        if op in (Op.WRITE, Op.MODIFY) and reg == Register.STATUS and value > 0xFF:
            return None
        if (op == Op.WRITE and value > 0xFF) or (op == Op.MODIFY and value > 0xFFFF):
            return None
        if op == Op.SLEEP and value > MAX_SLEEP_US:
            return None
        steps.append((op, reg, value))
    return tuple(steps)


_decode_cached = functools.lru_cache(maxsize=1024)(_decode)


def reads(steps: Sequence[Step]) -> int:
    """How many output bytes the script returns."""
    return sum(1 for op, _, _ in steps if op == Op.READ)


def run(
    port: PortBackend, steps: Sequence[Step], cancelled: Callable[[], bool] | None = None
) -> tuple[bytes, bool]:
    """Run ``steps`` on ``port`` (its owner holds the wire lock): (the bytes read, whether a
    sleep was cut short because ``cancelled()`` said so — see the module docstring)."""
    readers = (port.read_data, port.read_status, port.read_control)
    writers = (port.write_data, port.write_status, port.write_control)
    out = bytearray()
    cut = False
    for op, reg, value in steps:
        if op == Op.READ:
            out.append(readers[reg]() & 0xFF)
        elif op == Op.WRITE:
            writers[reg](value)
        elif op == Op.MODIFY:
            mask, bits = value & 0xFF, (value >> 8) & 0xFF
            current = readers[reg]() & 0xFF
            writers[reg]((current & ~mask) | (bits & mask))
        elif cancelled is None:
            port.sleep(value)
        elif not cut:
            cut = _sleep(port, value, cancelled)
    return bytes(out), cut


def _sleep(port: PortBackend, us: int, cancelled: Callable[[], bool]) -> bool:
    """Sleep ``us`` in slices of at least SLEEP_SLICE_US (the last takes what is left), looking
    for a cancel before each; True when one cut it short."""
    while True:
        if cancelled():
            return True
        if us < 2 * SLEEP_SLICE_US:
            port.sleep(us)
            return False
        port.sleep(SLEEP_SLICE_US)
        us -= SLEEP_SLICE_US
