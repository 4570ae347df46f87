"""A whole Windows CPP frame on a chain of 1284.3 devices at once (ieee1284.md §4).

The emulator's ``cpp_command`` runs each 1284.3 command frame as one register script
(``handshake.cpp_frame``, the Windows frame of windows-parport.md §10.4): CTR 0x04, the
qualifier ``AA 55 00 FF 87 78`` with S1, S2 and S3 checked after ``FF``, ``87`` and ``78``, the
command byte and its strobe, the answer on nFault polled while nStrobe is low, then ``FF`` and
CTR 0x0C — 16 accesses and 12 line changes. Emulated line by line, every device's
recogniser reacts to every change. In the two states a lock and an unlock meet, the outcome is
known in closed form, and this module computes it in one step:

- nothing selected, every device idle and seeing the host's lines, and a SELECT of an address
  exactly one device holds, or a DESELECT;
- one device selected (the ones behind it cut off, idle or left at the end of the frame that
  selected it), and a DESELECT.

What it reproduces: the four status reads, every device's recogniser, selection, command log
and lines at the end, and the select-latency timers (they fire before the answer is polled, so
none is left pending). The peripherals that are not 1284.3 devices — the selected device's
function, the printer at the end — see only nStrobe high and nAutoFd high in the whole frame, so
in compatibility mode their reaction is to store the lines; they get the changes of the control
lines they would see, and the last data. Anything else — a fault, a device mid-frame, a
latency longer than the poll, a peripheral that watches more than that — returns None and the
script runs line by line. ``tests/test_emu_cppframe.py`` holds the two runs equal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..handshake import SLEEP, WAIT, WRITE_CONTROL, WRITE_DATA
from .daisy import DESELECT, IDLE, S1, S2, SELECT_CMD, TAIL, DaisyDevice, cut_off, decode
from .daisy import s3_status as _s3
from .ieee1284dev import COMPAT, Ieee1284Peripheral
from .lines import IDLE_CONTROL
from .peripheral import EndOfCable, Peripheral

__all__ = ["Frame", "match", "run"]

_LIVE_CONTROL = 0x0F  # CTR 0x04 as pin levels: nSelectIn high, nInit high, strobes off
_ANSWER = -1  # in the template: the command byte, or the nFault level that answers it
# The frame as the host sends it (op, value, mask), with the command byte and the nFault answer
# left open. Sleeps are free: they only set the timing.
FIRST_CONTROL = 0x04  # the frame's first control write (nSelectIn H, nInit H)
_TEMPLATE: tuple[tuple[int, int, int], ...] = (
    (WRITE_CONTROL, FIRST_CONTROL, 0),
    (WRITE_DATA, 0xAA, 0),
    (WRITE_DATA, 0x55, 0),
    (WRITE_DATA, 0x00, 0),
    (WRITE_DATA, 0xFF, 0),
    (WAIT, 0xB8, 0xB8),  # S1
    (WRITE_DATA, 0x87, 0),
    (WAIT, 0x18, 0xB8),  # S2
    (WRITE_DATA, 0x78, 0),
    (WAIT, 0x30, 0x30),  # S3
    (WRITE_DATA, _ANSWER, 0),
    (WRITE_CONTROL, 0x05, 0),  # nStrobe low
    (WAIT, _ANSWER, 0x08),  # nFault: high after SELECT, low after DESELECT
    (WRITE_CONTROL, 0x04, 0),
    (WRITE_DATA, 0xFF, 0),
    (WRITE_CONTROL, 0x0C, 0),
)
_STROBE = 11  # the access that drops nStrobe; the next one reads the answer
FINAL_DATA, FINAL_CONTROL = 0xFF, 0x0C


class Frame:
    """A script recognised as the frame of one SELECT or DESELECT command."""

    __slots__ = ("accesses", "command", "mode", "sleep_ns", "target", "what", "window_sleep_ns")

    def __init__(self, command: int, sleeps: Sequence[int]) -> None:
        self.command = command
        self.what, self.target, self.mode = decode(command)
        self.accesses = len(_TEMPLATE)
        self.sleep_ns = sum(sleeps)  # all the sleeps of the script
        self.window_sleep_ns = sleeps[_STROBE + 1]  # between the strobe and the answer's read

    def duration_ns(self, access_ns: int) -> int:
        return self.accesses * access_ns + self.sleep_ns

    def window_ns(self, access_ns: int) -> int:
        """From nStrobe falling to the first read of the answer."""
        return access_ns + self.window_sleep_ns


_Op = tuple[int, int, int, float, bool, int]  # the emulator's compiled script step


def match(program: Sequence[_Op]) -> Frame | None:
    """The frame ``program`` sends, if it is exactly a Windows SELECT or DESELECT frame."""
    ops: list[tuple[int, int, int]] = []
    sleeps = [0]  # sleeps[i]: the time slept before access i (the last: after the last access)
    for op, value, mask, _timeout, _stop, after_ns in program:
        if op != SLEEP:
            ops.append((op, value, mask))
            sleeps.append(0)
        if after_ns > 0:
            sleeps[-1] += after_ns
        if len(ops) > len(_TEMPLATE):
            return None
    if len(ops) != len(_TEMPLATE):
        return None
    command = ops[10][1]
    what = decode(command)[0]
    if what not in (SELECT_CMD, DESELECT):
        return None
    answer = 0x08 if what == SELECT_CMD else 0x00
    for (op, value, mask), (want_op, want, want_mask) in zip(ops, _TEMPLATE, strict=True):
        if want == _ANSWER:
            want = command if op == WRITE_DATA else answer  # noqa: PLW2901 - the open slots
        if (op, value, mask) != (want_op, want, want_mask):
            return None
    return Frame(command, sleeps)


def _stores_only(device: Peripheral) -> bool:
    """Lines with nStrobe and nAutoFd high make ``device`` do nothing but store them."""
    if isinstance(device, Ieee1284Peripheral):
        if type(device).drive is not _STORING_DRIVE:
            return False
        return device._inert or device._phase == COMPAT
    return type(device).drive is _NOTHING_DRIVE


_STORING_DRIVE = Ieee1284Peripheral.drive
_NOTHING_DRIVE = EndOfCable.drive


def run(
    frame: Frame,
    head: Peripheral,
    lines: tuple[int | None, int],
    window_ns: int,
    register: Callable[[int], int],
) -> list[int | None] | None:
    """Apply ``frame`` to the chain that starts at ``head`` (the host's lines ``lines`` before
    it, ``window_ns`` from strobe to answer) and return the four status reads (the status pins
    made register values by ``register``, in read order), or None to run it line by line."""
    data0, ctl0 = lines
    if ctl0 != IDLE_CONTROL or data0 is None or data0 == 0xAA:
        return None
    select = frame.what == SELECT_CMD
    target = frame.target
    devices: list[DaisyDevice] = []
    chosen = -1  # the selected device (a DESELECT only): those behind it are cut off
    holder = -1  # the device holding the address a SELECT names
    device = head
    while type(device) is DaisyDevice:
        if device.faults or device._gate_strobe or device._nfault_high != device.selected:
            return None
        if chosen >= 0:
            # Cut off: idle, or left at the end of the frame that selected the one in front (the
            # lines it sees now end that frame; only a device mid-frame could react to them).
            if device._state not in (IDLE, TAIL) or device.selected:
                return None
        else:
            if device.selected:
                if select:
                    return None
                chosen = len(devices)
            if (
                device._state != IDLE
                or device._transparent
                or device._data != data0
                or device._ctl != ctl0
            ):
                return None  # not idle, or not seeing the host's lines
            if select and device.address == target:
                if holder >= 0:
                    return None  # two devices would answer
                holder = len(devices)
        devices.append(device)
        device = device.downstream
    tail = device
    if not devices or not devices[-1].last_in_chain or not _stores_only(tail):
        return None
    seeing = chosen + 1 if chosen >= 0 else len(devices)  # who sees the whole frame
    # The select-latency timers must fire before the answer is polled: the one device selecting
    # itself, or every device that saw a DESELECT's strobe.
    if select:
        if holder < 0:
            return None
        function = devices[holder].function
        if not 0 <= devices[holder].select_latency_ns <= window_ns or not _stores_only(function):
            return None
    else:
        for d in devices[:seeing]:
            if not 0 <= d.select_latency_ns <= window_ns:
                return None
        function = devices[seeing - 1].function  # on the lines only if that device is selected
        if chosen >= 0 and not _stores_only(function):
            return None

    command = frame.command
    behind = cut_off(ctl0)
    first = devices[0]
    results: list[int | None] = [
        register(S1),
        register(S2),
        register(_s3(first.last_in_chain, first._nfault_high)),
    ]
    if select:
        chosen_device = devices[holder]
        results.append(register(_s3(chosen_device.last_in_chain, True)))
        for i, d in enumerate(devices):
            d.frames.append(command)
            if i <= holder:  # through the frame to its end: idle again
                d._state, d._transparent, d._data, d._command = IDLE, False, FINAL_DATA, command
                d._ctl = ctl0
            else:  # cut off after the strobe: data 0 replaced the command, the frame never ended
                d._state, d._transparent, d._data, d._command = TAIL, not d.last_in_chain, 0, 0
                d._ctl = behind
        chosen_device.select_mode = frame.mode
        chosen_device.selected = chosen_device._nfault_high = True
        function.drive(FINAL_DATA, _LIVE_CONTROL)  # its lines from the end of the frame on
        function.drive(FINAL_DATA, ctl0)
        tail.drive(data0, _LIVE_CONTROL)
        tail.drive(0, behind)
        return results
    results.append(register(_s3(first.last_in_chain, False)))
    for i, d in enumerate(devices):
        if i < seeing:
            d.frames.append(command)
            d._command = command
            d._transparent = False
        elif d._state == TAIL:
            d._transparent = False  # the command byte after the deselect ended its frame
        d._state, d._data, d._ctl = IDLE, FINAL_DATA, ctl0
    if chosen >= 0:
        selected = devices[chosen]
        selected.selected = selected._nfault_high = False
        function.drive(data0, _LIVE_CONTROL)  # until the qualifier's FF took it off the lines
        function.drive(0x00, _LIVE_CONTROL)
        tail.drive(0, cut_off(_LIVE_CONTROL))
    else:
        tail.drive(data0, _LIVE_CONTROL)
    tail.drive(FINAL_DATA, ctl0)
    return results
