"""An emulated IEEE 1284.3 daisy-chain device (ieee1284.md §4).

The device has a host-side port and a pass-through port. It watches the data lines for the
Command Packet Protocol frame ``AA 55 00 FF 87 78 <command> FF`` with the recogniser of §4.8,
drives the S1/S2/S3 status answers, takes an address during assignment, and selects or deselects
itself on command. When it is not selected it is transparent: host lines go through to the next
device and that device's status comes back. When selected it connects its own function (an IEEE
1284 peripheral with its own device ID) to the host and cuts the devices behind it off.

Select feedback (§4.2): the selected device raises nFault, a deselected one lowers it, after a
configurable latency (default 3 µs) from the falling edge of nStrobe, so that both the Windows
host (which polls for the new level while nStrobe is low) and the Linux host (which reads once,
1 µs into the strobe, and expects the old level) see what they expect.

Global reset: nInit low while 1284 Active (nSelectIn) is low makes every 1284.3 device forget its
address and deselect (§4.8). nInit low with nSelectIn high is an IEEE 1284 signal of the selected
device's session (ECP reverse request, EPP reset) and is left to that device.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from .ieee1284dev import Ieee1284Peripheral
from .lines import BUSY, NFAULT, NINIT, NSELECTIN, NSTROBE, PERROR, SELECT
from .peripheral import CUT_OFF_CONTROL, Fault, Peripheral

if TYPE_CHECKING:
    from .cable import Cable

FRAMES_KEPT = 4096

__all__ = ["DaisyDevice", "cut_off", "decode", "s3_status"]

# Recogniser states (§4.8): each qualifier byte moves the recogniser one state on.
IDLE, Q1, Q2, Q3, Q4, Q5, CMD, TAIL = range(8)
_EXPECTED = (0xAA, 0x55, 0x00, 0xFF, 0x87, 0x78, -1, -1)  # by state: the byte that moves it on
_LIVE = NINIT | NSELECTIN  # either high: the recogniser watches the data lines

S1 = PERROR | SELECT | NFAULT  # Busy pin L, PError H, Select H, nFault H
S2 = BUSY | SELECT | NFAULT  # Busy pin H, PError L, Select H, nFault H
_CUT_OFF = CUT_OFF_CONTROL & ~(NINIT | NSELECTIN)

# What a command byte asks for (§4.3-§4.5).
ASSIGN, DESELECT, SELECT_CMD, OTHER = "assign", "deselect", "select", "other"
_SELECT_FLAVOURS = {0xE0: "compat", 0xD0: "ecp"}


def decode(command: int) -> tuple[str, int, str]:
    """(what, target address, select flavour) for a CPP command byte: assign address (0x00-0x03),
    deselect all (0x3x), select (0xE0-0xE7 compatibility, 0xD0-0xD7 ECP, 0x20-0x2F EPP), other."""
    if command <= 0x03:
        return ASSIGN, command & 0x03, ""
    high = command & 0xF0
    if high == 0x30:
        return DESELECT, 0, ""
    if high in _SELECT_FLAVOURS:
        return SELECT_CMD, command & 0x07, _SELECT_FLAVOURS[high]
    if command & 0xF8 in (0x20, 0x28):
        return SELECT_CMD, command & 0x03, "epp"
    return OTHER, 0, ""


def cut_off(control: int) -> int:
    """The control lines a selected device presents to the devices behind it: idle, except nInit
    and nSelectIn, which every 1284.3 device must see for the global reset (§4.8)."""
    return _CUT_OFF | control & (NINIT | NSELECTIN)


def s3_status(last: bool, nfault_high: bool) -> int:
    """The S3 answer: PError H, Select H; Busy pin H if no 1284.3 device is behind; nFault as
    given (it follows selection after the latency)."""
    return PERROR | SELECT | (BUSY if last else 0) | (NFAULT if nfault_high else 0)


class DaisyDevice(Peripheral):
    """One IEEE 1284.3 daisy-chain device (see the module docstring)."""

    kind = "daisy"

    def __init__(
        self,
        name: str | None = None,
        device_id: str | None = None,
        *,
        select_latency_ns: int = 3000,
        function: Ieee1284Peripheral | None = None,
    ) -> None:
        self.function = function or Ieee1284Peripheral(
            f"{name or 'daisy'} function",
            device_id if device_id is not None else "",
            modes=("byte", "ecp", "epp", "device_id"),
        )
        super().__init__(name, self.function.device_id)
        self.received = self.function.received  # bytes its function took in while selected
        self.select_latency_ns = select_latency_ns
        self.address: int | None = None
        self.selected = False
        self.select_mode = "compat"  # compat, ecp or epp: the flavour of the last select
        # The last FRAMES_KEPT command bytes executed, in order (bounded: a port in use for days
        # must not grow its log without end).
        self.frames: deque[int] = deque(maxlen=FRAMES_KEPT)
        self._state = IDLE
        self._data: int | None = 0
        self._ctl = CUT_OFF_CONTROL
        self._transparent = False  # in this frame: assigned or passed, so not answering
        self._gate_strobe = False
        self._last = True
        self._command = 0
        self._nfault_high = False  # the S3 nFault level: tracks selection after the latency

    @property
    def device_id(self) -> str:
        return self.function.device_id

    @device_id.setter
    def device_id(self, value: str) -> None:
        if hasattr(self, "function"):
            self.function.device_id = value

    def attach(self, cable: Cable, downstream: Peripheral) -> None:
        super().attach(cable, downstream)
        self.function.cable = cable

    @property
    def in_frame(self) -> bool:
        """A CPP frame is under way (the qualifier has begun)."""
        return self._state != IDLE

    @property
    def last_in_chain(self) -> bool:
        """No 1284.3 device behind this one (S3 then shows Busy pin high)."""
        return self._last

    def chain_changed(self) -> None:
        device = self.downstream
        self._last = True
        while device.kind != "end":
            if isinstance(device, DaisyDevice):
                self._last = False
            device = device.downstream

    def _answering(self) -> bool:
        """In a frame, not passed through, and no earlier device answering."""
        if self._state < Q4 or self._transparent:
            return False
        device = self.upstream
        while device is not None:
            if isinstance(device, DaisyDevice) and device._state >= Q4 and not device._transparent:
                return False
            device = device.upstream
        return True

    # --- host side ------------------------------------------------------------------------------
    def drive(self, data: int | None, control: int) -> None:
        if self._inert:
            return
        prev_ctl = self._ctl
        if data != self._data:
            self._data = data
            # Only an AA starts a frame; other data changes matter inside one.
            state = self._state
            if data is not None and (state or data == 0xAA) and control & _LIVE:
                if data != _EXPECTED[state]:
                    self._on_data(data)
                else:  # the qualifier going by: the common case, kept inline
                    state += 1
                    self._state = state
                    if state >= Q4:
                        if state == Q4:
                            self._transparent = False  # S1 from the first device answering
                        cable = self.cable
                        if cable is not None and cable.listener is not None:
                            cable.listener()
        if control != prev_ctl:
            self._ctl = control
            fell = prev_ctl & ~control
            if not control & (NINIT | NSELECTIN) and fell & (NINIT | NSELECTIN):
                self._global_reset()
            state = self._state
            if state == CMD:
                if fell & NSTROBE:
                    self._on_command_strobe()
                elif control & ~prev_ctl & NSTROBE:
                    self._state = TAIL
            elif fell & NSTROBE and state:
                self._end_frame()  # a strobe before the command stage: printer data, not CPP
        if self.selected:
            if self._state < Q4:
                self.function.drive(data, control)
            self.downstream.drive(0, cut_off(control))  # the devices behind are cut off
            return
        # The last 1284.3 device keeps CPP command strobes from the devices behind it, and a device
        # keeps the strobe that gave it its address (the next device takes the next one).
        if self._gate_strobe:
            if control & ~prev_ctl & NSTROBE:
                self._gate_strobe = False
            control |= NSTROBE
        elif self._last and self._state >= CMD:
            control |= NSTROBE
        self.downstream.drive(data, control)

    def _on_data(self, data: int) -> None:
        state = self._state
        if state == CMD:
            self._command = data  # keep S3 while the command byte is presented
            return
        if state == TAIL:
            if data == 0xFF:
                self._end_frame()
                return
            self._end_frame()
            state = IDLE
        if data == _EXPECTED[state]:
            self._state = state + 1  # Q5 moves on to CMD
            if self._state == Q4:
                self._transparent = False  # S1 from the first device still answering
            if self._state >= Q4:
                self.notify()
            return
        if state != IDLE:
            self._end_frame()
            if data == 0xAA:
                self._state = Q1

    def _end_frame(self) -> None:
        changed = self._state >= Q4
        self._state = IDLE
        self._transparent = False
        self._gate_strobe = False
        if changed:
            self.notify()

    def _on_command_strobe(self) -> None:
        """Execute the command byte. Every device in the frame sees the strobe; an address is
        taken only by the device answering, select and deselect act on every device."""
        command = self._command
        what, target, mode = decode(command)
        if what == ASSIGN:  # (§4.4): the answering device takes the address, then passes
            if self._answering():
                self.frames.append(command)
                self.address = target
                self._transparent = True
                self._gate_strobe = True
                self.notify()
            return
        if self._transparent:
            return
        self.frames.append(command)
        if what == DESELECT:
            self.clock.call_later(self.select_latency_ns, self._deselected)
        elif what == SELECT_CMD:
            if self.address is not None and target == self.address:
                self.select_mode = mode
                self.clock.call_later(self.select_latency_ns, self._selected)
            else:
                # The addressed device behind answers from now on; the last 1284.3 device keeps
                # answering (with nFault low) rather than hand the frame to a plain peripheral.
                self._transparent = not self._last
                if self.selected:
                    self.clock.call_later(self.select_latency_ns, self._deselected)
                self.notify()
        # Other commands (interrupt control, vendor probes) change nothing here.

    def _selected(self) -> None:
        if Fault.SILENT in self.faults:
            return
        self.selected = True
        self._nfault_high = True
        self.notify()

    def _deselected(self) -> None:
        if Fault.SILENT in self.faults:
            return
        self.selected = False
        self._nfault_high = False
        self.notify()

    def _global_reset(self) -> None:
        self.address = None
        self.selected = False
        self._nfault_high = False
        self._end_frame()
        self.notify()

    # --- what the host sees ---------------------------------------------------------------------
    def status(self) -> int:
        if self._off:
            return 0
        state = self._state
        if state >= Q4 and not self._transparent:
            if state == Q4:
                return S1
            if state == Q5:
                return S2
            return s3_status(self._last, self._nfault_high)
        if self.selected:
            return self.function.status()
        return self.downstream.status()

    def data_out(self) -> int | None:
        if self._off:
            return None
        if self.selected:
            return self.function.data_out()
        return self.downstream.data_out()

    def power_on_reset(self) -> None:
        self._global_reset()
        self.function.power_on_reset()

    def describe(self) -> str:
        where = "unassigned" if self.address is None else f"address {self.address}"
        return f"daisy {self.name!r} ({where}{', selected' if self.selected else ''})"
