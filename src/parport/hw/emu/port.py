"""The emulated PC parallel port: registers, ECR and FIFO, EPP cycles, interrupts, virtual time.

A register-level model of the port of ieee1284.md §1, with selectable hardware (SPP only, PS/2,
EPP, ECP with an ECR and a 16-byte FIFO, or ECP+EPP — the default) that answers the detection
sequences of §1.9 as that hardware would. Every register access advances the virtual clock by the
access cost (default 1 µs, an ISA access); waits jump to the next peripheral event, so emulated
waits take no wall time and every run is deterministic.

The hardware engines of the ECR modes run on the same clock: mode 010 sends the FIFO with the
compatibility handshake, mode 011 runs the ECP forward and reverse handshakes, and EPP data and
address registers run complete EPP cycles (with the timeout bit after 10 µs without nWait).
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Generator, Sequence
from typing import Final

from .. import handshake, signals
from ..backend import Block, Capabilities, LineObserver, LineState, PortBackend
from ..clock import ScheduledCall, VirtualClock
from ..handshake import (
    BYTE_CADENCE,
    CHUNK,
    COMPAT_CADENCE,
    CPP_END,
    ECP_FWD_CADENCE,
    ECP_REV_CADENCE,
    EPP_READ_CADENCE,
    EPP_WRITE_CADENCE,
    NIBBLE_CADENCE,
    SLEEP,
    WAIT,
    WRITE_CONTROL,
    WRITE_DATA,
    Cadence,
    Cancelled,
    Step,
    cpp_frame,
    never,
)
from . import cppframe
from .cable import Cable
from .daisy import IDLE, DaisyDevice
from .ieee1284dev import Ieee1284Peripheral
from .lines import BUSY, NACK, NAUTOFD, NSELECTIN, NSTROBE
from .peripheral import Fault, Peripheral
from .zip import ZipDrive

__all__ = ["EmulatedPort"]

log = logging.getLogger(__name__)

EPP_TIMEOUT_NS: Final = 10_000
_TURNING: Final = signals.CTR_ACKINTEN | signals.CTR_DIRECTION  # control bits scripts leave to
# write_control (they change who listens, or which way the data lines face)
COMPAT_ENGINE_STEP_NS: Final = 500  # mode 010: data set-up, nStrobe width, data hold
IRQ_CODES: Final = {7: 1, 9: 2, 10: 3, 11: 4, 14: 5, 15: 6, 5: 7}  # cnfgB bits 5:3
IMPID: Final = {16: 0, 8: 1, 32: 2}  # cnfgA bits 6:4 by FIFO width

# A 1284.3 qualifier far enough for a recogniser to answer (S1), and what follows the last 0xAA
# of data that ends with one begun (a recogniser left mid-qualifier), as the data lines carry
# them: a repeated byte is no change on the lines (§4.8).
_CPP_QUALIFIER: Final = re.compile(rb"\xaa+\x55+\x00+\xff")
_CPP_AFTER_AA: Final = re.compile(rb"(?:\x55+(?:\x00+)?)?")  # after the last 0xAA: begun

# An engine step: ("delay", ns), ("wait", mask, value) on the status pins, or ("room", 0): until
# the host reads a byte from the FIFO.
EngineStep = tuple[str, int] | tuple[str, int, int]
Engine = Generator[EngineStep, None, None]


# A script step as the emulator runs it: (op, value, mask, timeout_us, stop, sleep_ns_after), the
# last -1 when no sleep follows.
_Compiled = tuple[int, int, int, float, bool, int]
_Program = tuple[tuple[_Compiled, ...], cppframe.Frame | None]
_COMPILED: dict[int, tuple[Sequence[Step], _Program]] = {}


def _compiled(steps: Sequence[Step]) -> _Program:
    """``steps`` in the emulator's form, each sleep merged into the step before it, and the CPP
    frame they send if they are one; kept for tuples (the CPP frames are constants),
    computed afresh for anything else."""
    key = id(steps)
    entry = _COMPILED.get(key)
    if entry is not None and entry[0] is steps:
        return entry[1]
    out: list[_Compiled] = []
    for step in steps:
        op = step[0]
        if op == SLEEP:
            ns = max(0, round(step[1] * 1000))  # 0 still runs the events due now
            if out and out[-1][0] != WAIT and out[-1][5] < 0:
                out[-1] = (*out[-1][:5], ns)
            else:
                out.append((SLEEP, 0, 0, 0.0, False, ns))
        elif op == WAIT:
            _, mask, value, timeout_us, stop = step  # type: ignore[misc]
            out.append((WAIT, value, mask, timeout_us, stop, -1))
        else:
            value = int(step[1])
            out.append((op, value & 0xFF if op == WRITE_DATA else value, 0, 0.0, False, -1))
    program = (tuple(out), cppframe.match(out))
    if isinstance(steps, tuple):
        if len(_COMPILED) >= 64:
            _COMPILED.clear()
        _COMPILED[key] = (steps, program)
    return program


class EmulatedPort(PortBackend):
    """See the module docstring. ``chain`` lists the emulated peripherals in cable order."""

    name = "emu"

    def __init__(
        self,
        peripherals: Sequence[Peripheral] = (),
        *,
        kind: str = "ecp+epp",
        access_ns: int = 1000,
        fifo_depth: int = 16,
        fifo_width: int = 8,
        irq: int | None = 7,
        base: int = 0x378,
        epp_timeout_clear: str = "write1",
        epp_in_ecr_mode_only: bool = False,
        status_low_bits: int = 0b110,
        control_reserved_bits: int = 0xC0,
        clock: VirtualClock | None = None,
    ) -> None:
        super().__init__()
        if epp_timeout_clear not in ("read", "write0", "write1"):
            raise ValueError("epp_timeout_clear is one of read, write0, write1")
        if fifo_width not in IMPID:
            raise ValueError("fifo_width is 8, 16 or 32 bits")
        caps = Capabilities.of_kind(kind, irq=irq, base=base, fifo_width=fifo_width)
        if caps.ecp:
            caps = Capabilities.of_kind(
                kind, irq=irq, base=base, fifo_depth=fifo_depth, fifo_width=fifo_width
            )
        self.capabilities = caps
        self.access_ns = access_ns
        self.clock: VirtualClock = clock or VirtualClock()
        self.cable = Cable(self.clock, peripherals)
        self._epp_clear = epp_timeout_clear
        self._epp_ecr_only = epp_in_ecr_mode_only
        self._status_low = status_low_bits & 0x06
        self._ctr_reserved = control_reserved_bits & 0xC0
        self.overruns = 0  # FIFO writes lost because the FIFO was full
        self._observers: list[LineObserver] = []
        self._data = 0
        self._ctr = 0x0C
        self._ctl_pins = (0x0C ^ 0x0B) & 0x0F
        self._ecr = 0x14  # mode 000, nErrIntrEn, serviceIntr (all ECP interrupts masked)
        self._fifo: deque[tuple[int, bool]] = deque()
        self._epp_timeout = False
        # Lines the chip drives itself (ECR modes 010/011, EPP cycles) override the registers.
        self._ovr_mask = 0
        self._ovr_val = 0
        self._ovr_data: int | None = None
        self._ovr_tristate = False
        self._engine: Engine | None = None
        self._engine_wait: tuple[int, int] | None = None
        self._engine_room = False  # the engine waits for the host to read from the FIFO
        self._engine_timer: ScheduledCall | None = None
        self._rle = 1
        self._lines: tuple[int | None, int] = (None, -1)  # nothing driven yet
        self._in_drive = False
        self._dirty = False
        self._last_ack = True
        self._kinds = (-1, False, False)  # see _on_cable
        self._mode_changed()
        self._drive()
        self._listen()

    # --- what is on the cable -------------------------------------------------------------------
    @property
    def chain(self) -> list[Peripheral]:
        """The emulated peripherals in cable order."""
        return self.cable.chain

    def peripheral(self, which: int | str) -> Peripheral:
        """A peripheral by index in the chain or by name."""
        chain = self.cable.chain
        if isinstance(which, int):
            return chain[which]
        for device in chain:
            if device.name == which:
                return device
        raise KeyError(f"no peripheral named {which!r} on the cable")

    @property
    def selected_address(self) -> int | None:
        """The 1284.3 address of the selected daisy-chain device, if one is selected."""
        for device in self.cable:
            if isinstance(device, DaisyDevice) and device.selected:
                return device.address
        return None

    def inject(
        self,
        fault: Fault,
        device: int | str | Peripheral = -1,
        *,
        at_us: float | None = None,
        after_bytes: int | None = None,
    ) -> None:
        """Inject ``fault`` into ``device`` (default: the last one) now, at a virtual time, or
        once the device has received ``after_bytes`` bytes."""
        target = device if isinstance(device, Peripheral) else self.peripheral(device)

        def act() -> None:
            target.inject(fault)

        if at_us is not None:
            self.clock.call_at(round(at_us * 1000), act)
        elif after_bytes is not None:
            target.after_bytes(after_bytes, act)
        else:
            act()

    # --- time -----------------------------------------------------------------------------------
    def _tick(self) -> None:
        self.accesses += 1
        clock = self.clock
        when = clock._now + self.access_ns
        queue = clock._queue
        if queue and queue[0][0] <= when:
            clock.advance_to(when)
        else:
            clock._now = when  # the hot path of VirtualClock.advance_to, inlined

    def wait_status(self, mask: int, value: int, timeout_us: float) -> int | None:
        """Read the status until it matches, jumping virtual time to each peripheral event."""
        start = self.clock._now
        status = self.read_status()
        if status & mask == value:
            return status  # the common case: the answer is there at the first read
        return self._wait_more(start, mask, value, timeout_us)

    def _wait_more(self, start: int, mask: int, value: int, timeout_us: float) -> int | None:
        """``wait_status`` after a first read (at ``start``) that did not match."""
        clock = self.clock
        deadline = start + round(timeout_us * 1000)
        while True:
            now = clock.now_ns()
            if now >= deadline:
                return None
            upcoming = clock.next_event_ns()
            if upcoming is None or upcoming > deadline:
                clock.advance_to(deadline)
            elif upcoming > now:
                clock.advance_to(upcoming)
            status = self.read_status()
            if status & mask == value:
                return status

    def _wait_pins(self, mask: int, value: int, timeout_ns: int) -> bool:
        """Inside a hardware cycle: wait for status pins, jumping to peripheral events."""
        clock = self.clock
        deadline = clock.now_ns() + timeout_ns
        head = self.cable.head
        while head.status() & mask != value:
            upcoming = clock.next_event_ns()
            if upcoming is None or upcoming > deadline:
                clock.advance_to(deadline)
                return head.status() & mask == value
            clock.advance_to(upcoming)
        return True

    # --- driving the cable ----------------------------------------------------------------------
    def _mode_changed(self) -> None:
        """Recompute what depends on the ECR mode (kept cached for the register hot paths)."""
        caps = self.capabilities
        mode = self._ecr >> 5 if caps.ecr else 1
        # Host data drivers can be turned off: PS/2-capable and not ECR mode 000 or 010.
        self._rev_ok = caps.ps2 and mode not in (0, 2)
        self._afifo = caps.ecr and mode == 3
        self._epp_ok = caps.epp and (not self._epp_ecr_only or mode == 4)

    def _drive(self) -> None:
        ctl = (self._ctl_pins & ~self._ovr_mask) | self._ovr_val
        if self._ovr_tristate:
            data = None
        elif self._ovr_data is not None:
            data = self._ovr_data
        elif self._rev_ok and self._ctr & signals.CTR_DIRECTION:
            data = None
        else:
            data = self._data
        self._put(data, ctl)

    def _put(self, data: int | None, ctl: int) -> None:
        """Put ``data`` (None: host drivers off) and the control pins on the cable if they differ
        from what it carries, then let the listeners hear what the peripherals answered."""
        old_data, old_ctl = self._lines
        if data == old_data and ctl == old_ctl:
            return
        self._lines = (data, ctl)
        self._in_drive = True
        try:
            self.cable.head.drive(data, ctl)
        finally:
            self._in_drive = False
        if self._dirty or self._observers or self._ctr & signals.CTR_ACKINTEN:
            self._changed()

    def _listen(self) -> None:
        """Hear of peripheral line changes only while something needs them: an armed nAck
        interrupt, a trace observer, or a hardware engine waiting for the peripheral."""
        needed = bool(
            self._observers or self._ctr & signals.CTR_ACKINTEN or self._engine_wait is not None
        )
        self.cable.set_listener(self._on_peripheral_change if needed else None)

    def _on_peripheral_change(self) -> None:
        if self._in_drive:
            self._dirty = True
            return
        self._changed()

    def _changed(self) -> None:
        self._dirty = False
        if self._engine_wait is not None:
            self._engine_advance()
        if self._ctr & signals.CTR_ACKINTEN or self._observers:
            pins = self.cable.head.status()
            ack = bool(pins & NACK)
            if ack and not self._last_ack and self._ctr & signals.CTR_ACKINTEN:
                self._interrupt()  # the trailing (rising) edge of nAck (§1.8)
            self._last_ack = ack
            if self._observers:
                state = self._state(pins)
                for observer in list(self._observers):
                    observer(state)

    def _state(self, pins: int) -> LineState:
        data, ctl = self._lines
        driven = self.cable.head.data_out() if data is None else data
        return LineState(
            time_ns=self.clock.now_ns(),
            data=0xFF if driven is None else driven,
            control=ctl,
            status=pins,
            reverse=data is None,
            ecr_mode=self._ecr >> 5 if self.capabilities.ecr else 0,
            selected=self.selected_address,
        )

    def line_state(self) -> LineState:
        return self._state(self.cable.head.status())

    def add_line_observer(self, observer: LineObserver) -> bool:
        self._observers.append(observer)
        self._listen()
        self._last_ack = bool(self.cable.head.status() & NACK)
        observer(self.line_state())
        return True

    def remove_line_observer(self, observer: LineObserver) -> None:
        if observer in self._observers:
            self._observers.remove(observer)
            self._listen()

    # --- base registers -------------------------------------------------------------------------
    def read_data(self) -> int:
        self._tick()
        data, _ = self._lines
        if data is None:
            driven = self.cable.head.data_out()
            return 0xFF if driven is None else driven  # pull-ups with nobody driving
        return self._data

    def write_data(self, value: int) -> None:
        self._tick()
        if self._afifo:
            self._fifo_push(value & 0xFF, command=True)  # ecpAFifo: a command byte
            return
        value &= 0xFF
        self._data = value
        if self._ovr_tristate or self._ovr_data is not None or (self._rev_ok and self._ctr & 0x20):
            return  # the data lines are not driven from the data register right now
        self._put(value, self._lines[1])

    def read_status(self) -> int:
        self._tick()
        return self._status_register()

    def _status_register(self) -> int:
        """The status register's value now (what a read returns after its access)."""
        if self._dirty:
            self._changed()
        return self._register(self.cable.head.status())

    def _register(self, pins: int) -> int:
        """The status register for status pins ``pins`` (a read clears the EPP timeout bit on
        chips that clear it that way)."""
        reg = ((pins ^ 0x80) & 0xF8) | self._status_low
        if self._epp_ok:
            if self._epp_timeout:
                reg |= signals.STR_EPP_TIMEOUT
                if self._epp_clear == "read":
                    self._epp_timeout = False
        else:
            reg |= signals.STR_EPP_TIMEOUT  # no EPP: the bit reads 1 and cannot be cleared
        return reg

    def write_status(self, value: int) -> None:
        self._tick()
        if self._epp_timeout and self._epp_ok:
            bit = value & signals.STR_EPP_TIMEOUT
            if (self._epp_clear == "write1" and bit) or (self._epp_clear == "write0" and not bit):
                self._epp_timeout = False

    def read_control(self) -> int:
        self._tick()
        return self._ctr | self._ctr_reserved

    def write_control(self, value: int) -> None:
        self._tick()
        old = self._ctr
        self._ctr = value & 0x3F
        self._ctl_pins = (value ^ 0x0B) & 0x0F
        if (old ^ self._ctr) & signals.CTR_ACKINTEN:
            self._last_ack = bool(self.cable.head.status() & NACK)
            self._listen()
        self._drive()
        if (old ^ self._ctr) & signals.CTR_DIRECTION:
            self._engine_select()

    # --- EPP ------------------------------------------------------------------------------------
    def read_epp_address(self) -> int:
        return self._epp_cycle(write=False, address=True)

    def write_epp_address(self, value: int) -> None:
        self._epp_cycle(write=True, address=True, value=value)

    def read_epp_data(self) -> int:
        return self._epp_cycle(write=False, address=False)

    def write_epp_data(self, value: int) -> None:
        self._epp_cycle(write=True, address=False, value=value)

    # --- string I/O and FIFO bursts: the same cycles, without per-cycle emulation when nothing
    # can tell the difference (no trace, an IEEE 1284 peripheral that answers at once) ---
    def _target(self, *, clean: bool = False) -> Ieee1284Peripheral | None:
        """The IEEE 1284 peripheral the host talks to now, if the path to it is plain: no
        fault, no 1284.3 device in a frame (``clean``: nor bearing a mark of one, see
        ``_path_daisies_clean``), no Zip drive connected."""
        if self._observers:
            return None
        device = self.cable.head
        while True:
            if isinstance(device, DaisyDevice):
                if device.faults or device._state != IDLE:  # (in_frame, without the call)
                    return None
                if clean and (device._transparent or device._gate_strobe):
                    return None
                device = device.function if device.selected else device.downstream
            elif isinstance(device, ZipDrive):
                if device.faults or device.connected:
                    return None
                device = device.downstream
            elif isinstance(device, Ieee1284Peripheral):
                return device
            else:
                return None

    # --- register scripts: the same accesses, without the per-call overhead -----------------------
    def run_script(self, steps: Sequence[Step]) -> list[int | None]:
        """Run ``steps`` as ``handshake.run_steps`` does (the same accesses, results and time),
        with the data and control writes and the sleeps inlined while nothing but the
        peripherals listens to the lines (no trace, no armed interrupt, no chip engine); anything
        else goes through the register methods. A whole SELECT or DESELECT frame may be taken at
        once (``cppframe``)."""
        program, frame = _compiled(steps)
        plain = self._script_plain()
        if frame is not None and plain and not (self._ctr ^ cppframe.FIRST_CONTROL) & _TURNING:
            answers = self._cpp_frame(frame)
            if answers is not None:
                return answers
        clock = self.clock
        queue = clock._queue
        cable = self.cable
        access_ns = self.access_ns
        results: list[int | None] = []
        for op, value, mask, timeout_us, stop, after_ns in program:
            if op == SLEEP:
                pass
            elif op != WAIT and (
                not plain or (op == WRITE_CONTROL and (self._ctr ^ value) & _TURNING)
            ):
                if op == WRITE_DATA:
                    self.write_data(value)
                else:
                    self.write_control(value)
                plain = self._script_plain()
            else:
                start = clock._now
                self.accesses += 1  # self._tick(), inlined: the point of a script
                when = start + access_ns
                if queue and queue[0][0] <= when:
                    clock.advance_to(when)
                else:
                    clock._now = when
                if op == WAIT:  # read_status, then wait_status's loop if it does not match
                    status = self._status_register()
                    answer = (
                        status
                        if status & mask == value
                        else self._wait_more(start, mask, value, timeout_us)
                    )
                    results.append(answer)
                    if answer is None and stop:
                        break
                    continue
                data, ctl = self._lines
                if op == WRITE_DATA:
                    self._data = value
                    if value != data and not (self._rev_ok and self._ctr & signals.CTR_DIRECTION):
                        self._lines = (value, ctl)
                        cable.head.drive(value, ctl)
                else:
                    self._ctr = value & 0x3F
                    pins = (value ^ 0x0B) & 0x0F
                    self._ctl_pins = pins
                    if pins != ctl:
                        self._lines = (data, pins)
                        cable.head.drive(data, pins)
            if after_ns >= 0:  # a sleep (merged into the step before it): advance_to, inlined
                when = clock._now + after_ns
                if queue and queue[0][0] <= when:
                    clock.advance_to(when)
                else:
                    clock._now = when
        return results

    def _cpp_frame(self, frame: cppframe.Frame) -> list[int | None] | None:
        """A whole 1284.3 SELECT or DESELECT frame at once (``cppframe``), when nothing is due
        before it ends; None: run it line by line."""
        clock = self.clock
        if clock._running:
            return None  # inside an event: the frame's own timers would not run until it ends
        end = clock._now + frame.duration_ns(self.access_ns)
        queue = clock._queue
        if queue and queue[0][0] <= end:
            upcoming = clock.next_event_ns()  # drops cancelled calls at the head
            if upcoming is not None and upcoming <= end:
                return None
        answers = cppframe.run(
            frame, self.cable.head, self._lines, frame.window_ns(self.access_ns), self._register
        )
        if answers is None:
            return None
        self.accesses += frame.accesses
        clock._now = end
        self._data = cppframe.FINAL_DATA
        self._ctr = cppframe.FINAL_CONTROL
        self._ctl_pins = pins = (cppframe.FINAL_CONTROL ^ 0x0B) & 0x0F
        self._lines = (cppframe.FINAL_DATA, pins)
        return answers

    def _script_plain(self) -> bool:
        """Only the peripherals hear the lines, and the registers alone drive them."""
        return (
            self.cable.listener is None
            and not self._afifo
            and not self._ovr_mask
            and self._ovr_data is None
            and not self._ovr_tristate
        )

    # --- whole transfers: the software handshakes of parport.hw.handshake, with bursts ---------
    # Each operation runs the layer's own loop, which offers the emulator a burst at every byte
    # boundary: many bytes at once, charged exactly the loop's accesses and time per byte, when
    # nothing can tell (no trace, no interrupt, no event due, an IEEE 1284 peripheral answering
    # at once in the mode's idle state, nothing on the way that reacts to the lines). Otherwise
    # the loop goes on access by access. tests/test_emu_bursts.py holds both runs equal.
    def compat_write_data(self, data: bytes, cancelled: Cancelled = never) -> Block:
        burst = None if self._observers else self._compat_burst
        return handshake.compat_write(self, data, cancelled, burst)

    def nibble_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        burst = None if self._observers else self._nibble_burst
        return handshake.nibble_read(self, length, cancelled, burst)

    def byte_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        burst = None if self._observers else self._byte_burst
        return handshake.byte_read(self, length, cancelled, burst)

    def ecp_write_data(self, data: bytes, cancelled: Cancelled = never) -> Block:
        burst = None if self._observers else self._ecp_forward_burst
        return handshake.ecp_write(self, data, False, cancelled, burst)

    def ecp_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        burst = None if self._observers else self._ecp_reverse_sw_burst
        return handshake.ecp_read(self, length, cancelled, burst)

    def epp_write_data(self, data: bytes, cancelled: Cancelled = never) -> Block:
        burst = None if self._observers else self._epp_data_write_burst
        return handshake.epp_write(self, data, False, cancelled, burst)

    def epp_write_addr(self, data: bytes, cancelled: Cancelled = never) -> Block:
        burst = None if self._observers else self._epp_addr_write_burst
        return handshake.epp_write(self, data, True, cancelled, burst)

    def epp_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        burst = None if self._observers else self._epp_data_read_burst
        return handshake.epp_read(self, length, False, cancelled, burst)

    def epp_read_addr(self, length: int, cancelled: Cancelled = never) -> Block:
        burst = None if self._observers else self._epp_addr_read_burst
        return handshake.epp_read(self, length, True, cancelled, burst)

    def cpp_command(self, command: int) -> list[int | None]:
        # handshake.cpp_command with the frame as one script, inlined: a lock and an unlock are
        # a frame each, and this is their hot path.
        waits = self.run_script(cpp_frame(command))
        if len(waits) < 3 or waits[2] is None:
            self.run_script(CPP_END)  # the frame stopped at the failed check
        return waits

    def _plain_path(self, forward: bool, *, chip_lines: bool = False) -> Ieee1284Peripheral | None:
        """The target of a burst, if the lines on the way to it change nothing else: no armed
        interrupt, no engine running, and (unless ``chip_lines``: the ECR mode-010 engine's own
        bursts) the registers alone driving the lines.

        Forward bursts through a 1284.3 device stop where it could notice (``_quiet_prefix``);
        no reverse burst is taken with a Zip drive on the cable (it samples the data lines on
        each nAutoFd pulse)."""
        if self._ctr & signals.CTR_ACKINTEN or self._dirty or self._engine is not None:
            return None
        if not chip_lines and (self._ovr_mask or self._ovr_data is not None or self._ovr_tristate):
            return None
        target = self._target()
        if target is None or not target.burst_ok():
            return None
        if not forward and self._zip_on_cable():
            return None
        return target

    def _on_cable(self) -> tuple[int, bool, bool]:
        """(cable generation, a 1284.3 device on the cable, a Zip drive on the cable), worked
        out again only when something is plugged in or out."""
        cable = self.cable
        known = self._kinds
        if known[0] != cable.generation:
            chain = cable.chain
            known = (
                cable.generation,
                any(isinstance(device, DaisyDevice) for device in chain),
                any(isinstance(device, ZipDrive) for device in chain),
            )
            self._kinds = known
        return known

    def _zip_on_cable(self) -> bool:
        known = self._kinds
        return (known if known[0] == self.cable.generation else self._on_cable())[2]

    def _path_daisies_clean(self) -> bool:
        """No 1284.3 device that sees the host's data lines (those up to and including a
        selected one) keeps a mark of a frame (passed through, or holding back a strobe): a
        frame that begins and ends within a burst, which clears them, then changes nothing."""
        device = self.cable.head
        while True:
            if isinstance(device, DaisyDevice):
                if device._transparent or device._gate_strobe:
                    return False
                if device.selected:
                    return True
                device = device.downstream
            elif isinstance(device, ZipDrive):
                device = device.downstream
            else:
                return True

    def _quiet_prefix(self, data: bytes, *, strobed: bool) -> int:
        """How many leading bytes of ``data``, put on the data lines one after the other, pass
        every 1284.3 recogniser on the way unnoticed (§4.8: a frame shows itself only from its
        fourth qualifier byte, ``AA 55 00 FF``), and leave each one idle, as before.

        ``strobed``: each byte is followed by a falling nStrobe (compatibility, ECP forward),
        which ends any frame it began; only a last 0xAA would leave one begun. Otherwise (EPP,
        with nStrobe held low as nWrite) the bytes run up to where ``AA 55 00 FF`` would begin,
        without a begun qualifier at the end. Either way a frame begun and ended within the burst
        clears a device's marks of an earlier frame, so with such marks (``_path_daisies_clean``)
        the bytes stop before the first 0xAA."""
        known = self._kinds
        if known[0] != self.cable.generation:
            known = self._on_cable()
        if not known[1]:  # no 1284.3 device on the cable
            return len(data)
        if not self._path_daisies_clean():
            end = data.find(0xAA)
            return len(data) if end < 0 else end
        if strobed:
            return len(data.rstrip(b"\xaa"))
        end = len(data)
        if b"\xaa\x55" in data:  # (a quick look first: the search is slow on a long chunk)
            found = _CPP_QUALIFIER.search(data)
            if found is not None:
                end = found.start()
        last = data.rfind(0xAA, 0, end)
        if last >= 0 and _CPP_AFTER_AA.fullmatch(data, last + 1, end):
            end = len(data[: last + 1].rstrip(b"\xaa"))  # before the qualifier begun there
        return end

    def _cadence_ns(self, cadence: Cadence) -> int:
        return cadence.accesses * self.access_ns + round(cadence.delay_us * 1000)

    def _fit(self, count: int, per_byte_ns: int, ignore: tuple[ScheduledCall, ...] = ()) -> int:
        """How many of ``count`` bytes end before the next event not in ``ignore``."""
        if not self.clock._queue:
            return count  # nothing pending at all (the common case, without the clock's lock)
        upcoming = self.clock.next_event_ns(ignore)
        if upcoming is None:
            return count
        return max(0, min(count, (upcoming - self.clock.now_ns() - 1) // per_byte_ns))

    def _advance_busy(self, when_ns: int) -> None:
        """Move virtual time to ``when_ns`` over work a burst stands for (register accesses and
        the loop's short sleeps), running the events due on the way. Never the paced clock's
        long idle wait, which passes at wall-clock pace: a burst is the hardware busy."""
        clock = self.clock
        queue = clock._queue
        if queue and queue[0][0] <= when_ns:
            clock.advance_to(when_ns)
        elif when_ns > clock._now:
            clock._now = when_ns  # nothing due on the way: advance_to's hot path, unpaced

    def _forward_taken(self, data: bytes, count: int, cadence: Cadence, start_ns: int) -> int:
        """Charge ``count`` bytes of a forward loop taken from ``start_ns`` on, and leave the
        last of them on the data lines, as the loop leaves it."""
        self.accesses += count * cadence.accesses
        self._data = data[count - 1]
        self._put(self._data, self._lines[1])
        self._advance_busy(
            start_ns + count * (cadence.accesses * self.access_ns + round(cadence.delay_us * 1000))
        )
        if self._epp_timeout and self._epp_ok and self._epp_clear == "read":
            self._epp_timeout = False  # the loop's status reads clear it on such chips
        return count

    def _reverse_taken(self, data: bytes, cadence: Cadence) -> bytes:
        """Charge the bytes of a reverse loop just taken."""
        if data:
            self.accesses += len(data) * cadence.accesses
            self._advance_busy(self.clock.now_ns() + len(data) * self._cadence_ns(cadence))
            if self._epp_timeout and self._epp_ok and self._epp_clear == "read":
                self._epp_timeout = False  # the loop's status reads clear it on such chips
        return data

    def _compat_burst(self, data: bytes, start: int) -> int:
        """Compatibility-mode bytes at once: the printer must be done with each byte (its Busy
        and nAck pulse) by the next byte's status read; the pulse of the last byte is left
        running on the clock, as the loop leaves it."""
        cadence = COMPAT_CADENCE
        if self._ctr != cadence.control or self._observers:
            return 0
        target = self._plain_path(forward=True)
        if target is None:
            return 0
        tail = cadence.strobe_tail_accesses * self.access_ns + round(cadence.strobe_tail_us * 1000)
        if target.busy_ns + target.ack_ns > tail + self.access_ns:
            return 0  # the printer would still be busy at the next byte's status read
        clock = self.clock
        now = clock.now_ns()
        if not target.compat_ready_by(now + self.access_ns):
            return 0
        chunk = data[start : start + CHUNK]
        per_byte = self._cadence_ns(cadence)
        count = self._fit(len(chunk), per_byte, target.compat_timers())
        count = self._quiet_prefix(chunk[:count], strobed=True)
        if count <= 0:
            return 0
        self._advance_busy(now + self.access_ns)  # the last byte's Busy and nAck end
        target.compat_burst(chunk[:count], now + count * per_byte - tail)
        return self._forward_taken(chunk, count, cadence, now)

    def _ecp_forward_burst(self, data: bytes, start: int) -> int:
        """ECP forward data bytes at once (events 34–37 each), no run-length count pending."""
        cadence = ECP_FWD_CADENCE
        if self._ctr != cadence.control or self._observers:
            return 0
        target = self._plain_path(forward=True)
        if target is None or not target.ecp_forward_ready() or target._ecp_repeat != 1:
            return 0
        chunk = data[start : start + CHUNK]
        count = self._fit(len(chunk), self._cadence_ns(cadence))
        count = self._quiet_prefix(chunk[:count], strobed=True)
        if count <= 0:
            return 0
        now = self.clock.now_ns()
        target.ecp_take_burst(chunk[:count])
        return self._forward_taken(chunk, count, cadence, now)

    def _epp_write_burst(self, data: bytes, start: int, address: bool) -> int:
        """EPP write cycles made in software at once (events 62/56 to 60 each) with a peripheral
        in EPP that answers at once; none with a Zip drive on the cable (it samples the data
        lines on every nDStrb pulse)."""
        cadence = EPP_WRITE_CADENCE
        if self._ctr != cadence.control or self._observers:
            return 0
        target = self._plain_path(forward=True)
        if target is None or not target.epp_ready() or self._zip_on_cable():
            return 0
        chunk = data[start : start + CHUNK]
        count = self._fit(len(chunk), self._cadence_ns(cadence))
        count = self._quiet_prefix(chunk[:count], strobed=False)
        if count <= 0:
            return 0
        now = self.clock.now_ns()
        target.epp_write_burst(chunk[:count], address)
        return self._forward_taken(chunk, count, cadence, now)

    def _epp_data_write_burst(self, data: bytes, start: int) -> int:
        return self._epp_write_burst(data, start, False)

    def _epp_addr_write_burst(self, data: bytes, start: int) -> int:
        return self._epp_write_burst(data, start, True)

    def _reverse_target(self, cadence: Cadence, *, turned: bool) -> Ieee1284Peripheral | None:
        """The peripheral a reverse burst reads, if the loop is between bytes (and the data lines
        are turned around where the mode needs it)."""
        if self._ctr != cadence.control or self._observers:
            return None
        if turned and not (self._rev_ok and self._ctr & signals.CTR_DIRECTION):
            return None  # the host still drives the data lines: left to the loop
        return self._plain_path(forward=False)

    def _nibble_burst(self, length: int) -> bytes:
        """Nibble-mode bytes at once (events 7–11 twice each) from a peripheral between bytes."""
        cadence = NIBBLE_CADENCE
        target = self._reverse_target(cadence, turned=False)
        if target is None or not target.reverse_idle(byte_mode=False):
            return b""
        count = self._fit(length, self._cadence_ns(cadence))
        return self._reverse_taken(target.reverse_burst(count), cadence) if count > 0 else b""

    def _byte_burst(self, length: int) -> bytes:
        """Byte-mode bytes at once (events 14 to 17 each) from a peripheral between bytes."""
        cadence = BYTE_CADENCE
        target = self._reverse_target(cadence, turned=True)
        if target is None or not target.reverse_idle(byte_mode=True):
            return b""
        count = self._fit(length, self._cadence_ns(cadence))
        return self._reverse_taken(target.reverse_burst(count), cadence) if count > 0 else b""

    def _ecp_reverse_sw_burst(self, length: int) -> bytes:
        """ECP reverse data bytes at once (events 43–46 each), with a data byte on the lines."""
        cadence = ECP_REV_CADENCE
        target = self._reverse_target(cadence, turned=True)
        if target is None or not target.ecp_reverse_sw_ready():
            return b""
        count = self._fit(length, self._cadence_ns(cadence))
        if count <= 0:
            return b""
        return self._reverse_taken(target.ecp_reverse_sw_burst(count), cadence)

    def _epp_read_burst(self, length: int, address: bool) -> bytes:
        """EPP read cycles made in software at once (events 67/64 to 60 each) on the turned-around
        data lines, from a peripheral in EPP that answers at once."""
        cadence = EPP_READ_CADENCE
        target = self._reverse_target(cadence, turned=True)
        if target is None or not target.epp_ready():
            return b""
        count = self._fit(length, self._cadence_ns(cadence))
        if count <= 0:
            return b""
        return self._reverse_taken(target.epp_read_burst(count, address), cadence)

    def _epp_data_read_burst(self, length: int) -> bytes:
        return self._epp_read_burst(length, False)

    def _epp_addr_read_burst(self, length: int) -> bytes:
        return self._epp_read_burst(length, True)

    def _burst(self, count: int) -> bool:
        """Take ``count`` accesses' time at once if no event falls inside it."""
        clock = self.clock
        end = clock._now + count * self.access_ns
        queue = clock._queue
        if queue and queue[0][0] <= end:
            upcoming = clock.next_event_ns()  # drops cancelled calls at the head
            if upcoming is not None and upcoming <= end:
                return False
        self.accesses += count
        clock._now = end  # nothing due on the way (see _advance_busy)
        return True

    def write_epp_block(self, data: bytes, address: bool = False) -> int:
        """``rep outsb`` to base+4 (or base+3): one access a cycle; stops at the first cycle that
        times out (the timeout bit stays set), returning the cycles completed before it."""
        target = self._epp_target()
        if target is not None and target.epp_ready():
            if target.burst_ok() and self._burst(len(data)):
                target.epp_write_burst(data, address)
                return len(data)
            for count, byte in enumerate(data):
                # Anything due during this cycle (a timed event, a fault set for this byte) is
                # left to the exact emulation, from this cycle on.
                if self._event_within() or not target.epp_ready() or target.triggers_next():
                    return count + self._epp_string_out(data[count:], address)
                self._tick()  # one ISA cycle; the peripheral answers within it
                target.epp_cycle_write(byte, address)
            return len(data)
        return self._epp_string_out(data, address)

    def _epp_target(self) -> Ieee1284Peripheral | None:
        """The peripheral whole hardware EPP cycles may be taken with, if the cycles pass
        everything on the way unnoticed. Not with a Zip drive on the cable (it samples the data
        lines on every nDStrb pulse), nor with the chip driving lines of its own (a cycle gives
        them back to the registers). Between cycles the data lines carry the data register (or
        nothing, turned around); a 1284.3 recogniser sees each cycle's byte, then that value: a
        write cycle's nWrite edge ends any frame the byte began, so only 0xAA between cycles
        could leave one begun (§4.8)."""
        if not self._epp_ok or self._epp_timeout:
            return None
        if self._ovr_mask or self._ovr_data is not None or self._ovr_tristate:
            return None
        known = self._kinds
        if known[0] != self.cable.generation:
            known = self._on_cable()
        if known[2] or (known[1] and self._lines[0] == 0xAA):  # a Zip drive; see above
            return None
        return self._target(clean=True)

    def _event_within(self, accesses: int = 1) -> bool:
        """Whether anything is due on the clock within the next ``accesses`` accesses."""
        clock = self.clock
        queue = clock._queue
        end = clock._now + accesses * self.access_ns
        if not queue or queue[0][0] > end:
            return False  # the heap's head is the earliest, cancelled or not: nothing due
        upcoming = clock.next_event_ns()  # drops cancelled calls at the head
        return upcoming is not None and upcoming <= end

    def _epp_string_out(self, data: bytes, address: bool) -> int:
        for count, byte in enumerate(data):
            self._epp_cycle(write=True, address=address, value=byte)
            if self._epp_timeout or not self._epp_ok:
                return count
        return len(data)

    def read_epp_block(self, length: int, address: bool = False) -> bytes:
        """``rep insb`` from base+4 (or base+3): stops at the first cycle that times out."""
        target = self._epp_target()
        if target is not None and target.epp_ready():
            if self._burst(length):
                return target.epp_read_burst(length, address)
            out = bytearray()
            for _ in range(length):
                if self._event_within() or not target.epp_ready():
                    return bytes(out) + self._epp_string_in(length - len(out), address)
                self._tick()
                out.append(target.epp_cycle_read(address))
            return bytes(out)
        return self._epp_string_in(length, address)

    def _epp_string_in(self, length: int, address: bool) -> bytes:
        out = bytearray()
        for _ in range(length):
            byte = self._epp_cycle(write=False, address=address)
            if self._epp_timeout or not self._epp_ok:
                break
            out.append(byte)
        return bytes(out)

    def read_fifo_block(self, length: int, timeout_us: float = 35_000) -> bytes:
        """``rep insb`` from the ECP FIFO (one access a byte), waiting for the chip and the
        peripheral at most ``timeout_us`` for each byte; bursts when nothing can tell."""
        out = bytearray()
        clock = self.clock
        deadline = clock.now_ns() + round(timeout_us * 1000)
        while len(out) < length:
            if self._fifo:
                if self._engine is None and not self._observers:
                    # The engine stopped on a full FIFO: drain it before waking the engine, so
                    # the peripheral's bytes can follow as one burst.
                    self._tick()
                    out.append(self._fifo.popleft()[0])
                else:
                    out.append(self.read_fifo())
                deadline = clock.now_ns() + round(timeout_us * 1000)
                continue
            burst = self._reverse_burst(length - len(out))
            if burst:
                out += burst
                deadline = clock.now_ns() + round(timeout_us * 1000)
                continue
            if self._engine is None:
                self._engine_select()  # no burst: let the chip handshake the next byte
                if self._fifo:
                    continue
            upcoming = clock.next_event_ns()
            if upcoming is None or upcoming > deadline:
                clock.advance_to(max(deadline, clock.now_ns()))
                break
            clock.advance_to(max(upcoming, clock.now_ns()))
        if self._engine is None:
            self._engine_select()
        return bytes(out)

    def _reverse_burst(self, length: int) -> bytes:
        """Bytes straight from a reverse ECP peripheral while the chip's engine is stopped, the
        FIFO empty and its interrupts masked (one access a byte, as reading them would take)."""
        if self._engine is not None or not self._afifo or not self._ecr & 0x04:
            return b""
        if not self._ctr & signals.CTR_DIRECTION:
            return b""
        target = self._target()
        if target is None or not target.ecp_reverse_ready() or not target.burst_ok():
            return b""
        clock = self.clock
        upcoming = clock.next_event_ns()
        limit = length
        if upcoming is not None:
            limit = min(limit, max(0, (upcoming - clock.now_ns()) // self.access_ns - 1))
        data = target.ecp_reverse_burst(limit) if limit > 0 else b""
        if data:
            self.accesses += len(data)
            self._advance_busy(clock.now_ns() + len(data) * self.access_ns)
        return data

    def write_fifo_block(
        self, data: bytes, command: bool = False, timeout_us: float = 35_000
    ) -> int:
        if self._ecr >> 5 == 2 and self.capabilities.ecr:
            return self._compat_fifo_block(data, timeout_us)
        target = None
        forward = not self._ctr & signals.CTR_DIRECTION
        if self._afifo and self._engine is None and not self._fifo and forward:
            target = self._target()
        if target is None or not target.ecp_forward_ready():
            return super().write_fifo_block(data, command, timeout_us)
        # Each byte costs what the default loop's does: a look at the full bit (never set: the
        # chip's engine runs events 34-37 at once with a peripheral that answers at once, so the
        # FIFO is empty again before the next access), then the push.
        if (
            not command
            and target._ecp_repeat == 1
            and target.burst_ok()
            and self._burst(2 * len(data))
        ):
            target.ecp_take_burst(data)
            return len(data)
        for count, byte in enumerate(data):
            if self._event_within(2) or not target.ecp_forward_ready() or target.triggers_next():
                return count + super().write_fifo_block(data[count:], command, timeout_us)
            self._tick()  # read_ecr: room
            self._tick()  # the push
            target.ecp_take(byte, command)
        return len(data)

    def _compat_fifo_block(self, data: bytes, timeout_us: float) -> int:
        """ECR mode 010 string output, polling the full bit before each byte as the default
        does; runs of bytes the chip hands to a ready printer between two pushes are taken
        whole (``_compat_group``). The last byte always goes through the chip's engine."""
        count = 0
        total = len(data)
        while count < total:
            deadline = self.now() + timeout_us
            while self.read_ecr() & 0x02:  # full
                if self.now() > deadline:
                    return count
                self.sleep(1)
            self._tick()  # the access of the byte's write to the FIFO
            group = self._compat_group(data, count) if count + 1 < total else 0
            if group:
                count += group
                continue
            self._fifo_push(data[count], command=False)
            count += 1
        return count

    def _compat_group(self, data: bytes, start: int) -> int:
        """How many bytes from ``data[start]`` on, pushed now and then every two accesses (the
        poll and the write), the chip's compatibility engine would send one by one to a ready
        printer that is done with each before the next arrives — taken at once, with nothing
        else due meanwhile. The FIFO stays empty between them, so the host never waits."""
        if self._fifo or not self._ecr & 0x04:
            return 0
        target = self._plain_path(forward=True, chip_lines=True)
        if target is None:
            return 0
        period = 2 * self.access_ns
        step = COMPAT_ENGINE_STEP_NS
        if 3 * step > period or step + target.busy_ns + target.ack_ns > period:
            return 0  # the chip or the printer would still be busy at the next push
        now = self.clock.now_ns()
        if not target.compat_ready_by(now):
            return 0
        count = self._fit(len(data) - start - 1, period)
        count = self._quiet_prefix(data[start : start + count], strobed=True)
        if count <= 0:
            return 0
        last_push = now + (count - 1) * period
        target.compat_burst(data[start : start + count], last_push + step)
        self.accesses += 2 * (count - 1)
        self._put(data[start + count - 1], self._lines[1])  # the chip left the last byte out
        self._advance_busy(last_push)
        return count

    def _epp_cycle(self, *, write: bool, address: bool, value: int = 0) -> int:
        """One hardware EPP cycle (ieee1284.md §1.6): the CPU is held until nWait answers."""
        self._tick()
        if not self._epp_ok:
            return 0xFF  # nothing decodes base+3/base+4 on this port
        strobe = NSELECTIN if address else NAUTOFD
        self._ovr_mask = NSTROBE | NAUTOFD | NSELECTIN
        self._ovr_val = NAUTOFD | NSELECTIN | (0 if write else NSTROBE)  # nWrite
        if write:
            self._ovr_data = value & 0xFF
        else:
            self._ovr_tristate = True
        self._drive()
        self._ovr_val &= ~strobe  # nDStrb / nAStrb low
        self._drive()
        result = 0xFF
        if self._wait_pins(BUSY, BUSY, EPP_TIMEOUT_NS):  # nWait high: the peripheral answered
            if not write:
                driven = self.cable.head.data_out()
                result = 0xFF if driven is None else driven
            self._ovr_val |= strobe
            self._drive()
            self._wait_pins(BUSY, 0, EPP_TIMEOUT_NS)
        else:
            self._epp_timeout = True
            self._ovr_val |= strobe
            self._drive()
        self._ovr_mask = self._ovr_val = 0
        self._ovr_data = None
        self._ovr_tristate = False
        self._drive()
        return result

    # --- ECR and FIFO ---------------------------------------------------------------------------
    def read_ecr(self) -> int:
        self._tick()
        if not self.capabilities.ecr:
            return 0xFF
        fifo = len(self._fifo)
        return (
            self._ecr | (2 if fifo >= self.capabilities.fifo_depth else 0) | (1 if not fifo else 0)
        )

    def write_ecr(self, value: int) -> None:
        self._tick()
        if not self.capabilities.ecr:
            return
        old_mode = self._ecr >> 5
        self._ecr = value & 0xFC
        mode = self._ecr >> 5
        self._mode_changed()
        if mode != old_mode:
            if mode in (0, 1):
                self._fifo.clear()  # entering 000 or 001 resets the FIFO
            self._engine_stop()
            current = self._lines[1]
            self._ovr_mask = self._ovr_val = 0
            self._ovr_data = None
            if mode in (2, 3):
                # The chip drives the strobes itself from here, starting from their levels now.
                self._ovr_mask = NSTROBE | NAUTOFD
                self._ovr_val = current & (NSTROBE | NAUTOFD)
            self._drive()
            self._engine_select()
        self._update_service()

    def read_fifo(self) -> int:
        self._tick()
        caps = self.capabilities
        if not caps.ecr:
            return 0xFF
        mode = self._ecr >> 5
        if mode == 7:
            return 0x10 & 0x8F | IMPID[caps.fifo_width] << 4  # cnfgA
        if not self._fifo:
            return 0xFF
        byte, _ = self._fifo.popleft()
        self._update_service()
        if mode == 3:
            if self._engine is None:
                self._engine_select()  # room again for the reverse engine
            elif self._engine_room:
                self._engine_room = False
                self._engine_advance()
        return byte

    def write_fifo(self, value: int) -> None:
        self._tick()
        if not self.capabilities.ecr or self._ecr >> 5 == 7:
            return
        self._fifo_push(value & 0xFF, command=False)

    def read_cnfgb(self) -> int:
        self._tick()
        caps = self.capabilities
        if not caps.ecr:
            return 0xFF
        irq_code = IRQ_CODES.get(caps.irq or 0, 0)
        line = 0x40 if not self._last_ack else 0
        return irq_code << 3 | line

    def _fifo_push(self, value: int, *, command: bool) -> None:
        if len(self._fifo) >= self.capabilities.fifo_depth:
            self.overruns += 1
            return
        self._fifo.append((value, command))
        self._update_service()
        if self._engine is None:
            self._engine_select()

    def _update_service(self) -> None:
        """serviceIntr: set by the chip once the FIFO crosses its threshold (half the depth)."""
        if self._ecr & 0x04 or self._ecr >> 5 not in (2, 3, 6):
            return
        depth = self.capabilities.fifo_depth
        threshold = depth // 2
        count = len(self._fifo)
        reverse = bool(self._ctr & signals.CTR_DIRECTION)
        if (reverse and count >= threshold) or (not reverse and depth - count >= threshold):
            self._ecr |= 0x04
            self._interrupt()

    # --- hardware engines -----------------------------------------------------------------------
    def _engine_select(self) -> None:
        """Start the engine the current ECR mode and direction call for, if it is not running."""
        if self._engine is not None or not self.capabilities.ecr:
            return
        mode = self._ecr >> 5
        reverse = bool(self._ctr & signals.CTR_DIRECTION)
        if mode == 2 and self._fifo:
            self._engine_start(self._compat_engine())
        elif mode == 3 and not reverse and self._fifo:
            self._engine_start(self._ecp_forward_engine())
        elif mode == 3 and reverse and len(self._fifo) < self.capabilities.fifo_depth:
            self._engine_start(self._ecp_reverse_engine())

    def _engine_start(self, engine: Engine) -> None:
        self._engine = engine
        self._engine_advance()

    def _engine_stop(self) -> None:
        if self._engine_timer is not None:
            self._engine_timer.cancel()
        self._engine = None
        self._engine_timer = None
        self._engine_wait = None
        self._engine_room = False

    def _engine_advance(self) -> None:
        engine = self._engine
        while engine is not None:
            wait = self._engine_wait
            if wait is not None:
                if self.cable.head.status() & wait[0] != wait[1]:
                    return  # resumed by the next peripheral change
                self._engine_wait = None
            try:
                step = next(engine)
            except StopIteration:
                self._engine = None
                self._engine_select()
                return
            if step[0] == "delay":
                self._engine_timer = self.clock.call_later(step[1], self._engine_timer_fired)
                return
            if step[0] == "room":
                self._engine_room = True
                return
            self._engine_wait = (step[1], step[2])  # type: ignore[misc]
            if self.cable.listener is None:
                self._listen()

    def _engine_timer_fired(self) -> None:
        self._engine_timer = None
        self._engine_advance()

    def _set_strobes(self, value: int) -> None:
        self._ovr_val = value
        self._drive()

    def _compat_engine(self) -> Engine:
        """ECR mode 010: send the FIFO with the compatibility handshake (ieee1284.md §1.7, §2.2)."""
        while self._fifo and self._ecr >> 5 == 2:
            yield ("wait", BUSY, 0)  # the peripheral is not busy
            byte, _ = self._fifo.popleft()
            self._update_service()
            self._ovr_data = byte
            self._drive()
            yield ("delay", COMPAT_ENGINE_STEP_NS)  # data set-up
            self._set_strobes(NAUTOFD)  # nStrobe low
            yield ("delay", COMPAT_ENGINE_STEP_NS)
            self._set_strobes(NSTROBE | NAUTOFD)
            yield ("delay", COMPAT_ENGINE_STEP_NS)  # data hold
        self._ovr_data = None

    def _ecp_forward_engine(self) -> Engine:
        """ECR mode 011, forward: events 34–37 for each FIFO byte (HostAck low for commands)."""
        while self._fifo and self._ecr >> 5 == 3 and not self._ctr & signals.CTR_DIRECTION:
            byte, command = self._fifo.popleft()
            self._update_service()
            host_ack = 0 if command else NAUTOFD
            self._ovr_data = byte
            self._set_strobes(NSTROBE | host_ack)
            self._set_strobes(host_ack)  # event 34: HostClk low
            yield ("wait", BUSY, BUSY)  # event 35: PeriphAck high
            self._set_strobes(NSTROBE | host_ack)  # event 36
            yield ("wait", BUSY, 0)  # event 37: PeriphAck low
        self._set_strobes(NSTROBE | NAUTOFD)
        self._ovr_data = None

    def _ecp_reverse_engine(self) -> Engine:
        """ECR mode 011, reverse: events 43–46, expanding run-length counts into the FIFO."""
        depth = self.capabilities.fifo_depth
        while self._ecr >> 5 == 3 and self._ctr & signals.CTR_DIRECTION:
            if len(self._fifo) >= depth:
                return  # restarted when the host reads the FIFO
            self._set_strobes(NSTROBE)  # HostAck low: ready (event 46)
            yield ("wait", NACK, 0)  # event 43: PeriphClk low
            pins = self.cable.head.status()
            driven = self.cable.head.data_out()
            byte = 0xFF if driven is None else driven
            if not pins & BUSY:  # PeriphAck low: a command byte
                if not byte & 0x80:
                    self._rle = byte + 1
            else:
                # The chip expands a run into the FIFO as room appears, holding event 44 back.
                remaining, self._rle = self._rle, 1
                while remaining:
                    room = depth - len(self._fifo)
                    if not room:
                        yield ("room", 0)  # until the host reads the FIFO
                        continue
                    take = min(room, remaining)
                    self._fifo.extend([(byte, False)] * take)
                    remaining -= take
                    self._update_service()
            self._set_strobes(NSTROBE | NAUTOFD)  # event 44: HostAck high
            yield ("wait", NACK, NACK)  # event 45

    # --- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        if not self._closed:
            self._engine_stop()
            self._observers.clear()
        super().close()

    def describe(self) -> str:
        caps = self.capabilities
        devices = ", ".join(d.describe() for d in self.cable) or "nothing attached"
        return f"emulated {caps.kind} port at {caps.base:#x}: {devices}"
