"""Emulated peripherals: the base class, the end of the cable, and fault injection.

A peripheral sits on the cable between the host (upstream) and the next peripheral
(``downstream``). The host side calls :meth:`Peripheral.drive` whenever a line it drives changes
(data lines — ``None`` while the host's drivers are off — and the four control lines as pin
levels); the host reads :meth:`Peripheral.status` (status pin levels) and
:meth:`Peripheral.data_out` (the byte the peripheral drives, or None). A peripheral that is not
the target passes both directions through, as the real devices do (ieee1284.md §4.1, §5.1).
Everything time-dependent is scheduled on the port's virtual clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

from ..clock import ScheduledCall, VirtualClock
from .lines import FLOATING_STATUS, IDLE_CONTROL

if TYPE_CHECKING:
    from .cable import Cable

__all__ = ["EndOfCable", "Fault", "Peripheral"]

log = logging.getLogger(__name__)


class Fault(Enum):
    """Faults the emulator can inject into a peripheral (issue: fault injection)."""

    UNPLUG = "unplug"  # the device and everything behind it leave the cable
    POWER_OFF = "power_off"  # every line it drives goes low; nothing passes through
    PAPER_OUT = "paper_out"
    OFF_LINE = "off_line"
    ERROR = "error"  # nFault asserted (printer fault)
    STUCK_BUSY = "stuck_busy"  # Busy stays high
    REFUSE_NEGOTIATION = "refuse_negotiation"  # never answers event 1: not an IEEE 1284 device
    REJECT_MODES = "reject_modes"  # answers negotiation but rejects every mode but nibble
    SILENT = "silent"  # stops answering: ignores the host and freezes its lines


class Peripheral:
    """Base of every emulated device on the cable."""

    kind = "peripheral"

    def __init__(self, name: str | None = None, device_id: str = "") -> None:
        self.name = name or self.kind
        self.device_id = device_id
        self.received = bytearray()  # bytes taken in while this device was the target
        self.downstream: Peripheral = END_OF_CABLE if self.kind != "end" else self
        self.upstream: Peripheral | None = None  # None: the host's connector
        self.cable: Cable | None = None
        self.faults: set[Fault] = set()
        self._off = False  # powered off (kept in step with ``faults`` for the hot paths)
        self._inert = False  # powered off or silent: ignores the host
        self._byte_triggers: list[tuple[int, Callable[[], None]]] = []

    # --- wiring ---------------------------------------------------------------------------------
    def attach(self, cable: Cable, downstream: Peripheral) -> None:
        self.cable = cable
        self.downstream = downstream

    def chain_changed(self) -> None:
        """Hook: the cable was re-linked (devices plugged in or out)."""

    @property
    def clock(self) -> VirtualClock:
        assert self.cable is not None, f"{self.name} is not on a cable"
        return self.cable.clock

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def later(self, delay_ns: int, callback: Callable[[], None]) -> ScheduledCall | None:
        """Run ``callback`` after ``delay_ns`` (at once if 0) unless the device has gone silent
        (or been unplugged) by then; the handle of the scheduled call, if one was scheduled."""
        if self.cable is None:
            return None
        if delay_ns <= 0:
            callback()
            self.notify()
            return None
        return self.at(self.clock.now_ns() + delay_ns, callback)

    def at(self, when_ns: int, callback: Callable[[], None]) -> ScheduledCall:
        """Run ``callback`` (then tell the port) when virtual time reaches ``when_ns``."""

        def run() -> None:
            if Fault.SILENT in self.faults or self.cable is None:
                return
            callback()
            self.notify()

        return self.clock.call_at(when_ns, run)

    def notify(self) -> None:
        """Tell the port the lines this device drives may have changed (interrupts, traces)."""
        cable = self.cable
        if cable is not None and cable.listener is not None:
            cable.listener()

    # --- the three things the host sees ---------------------------------------------------------
    def drive(self, data: int | None, control: int) -> None:
        """The host-side lines changed (pass-through by default)."""
        self.downstream.drive(data, control)

    def status(self) -> int:
        return self.downstream.status()

    def data_out(self) -> int | None:
        return self.downstream.data_out()

    # --- what a device took in ------------------------------------------------------------------
    def record(self, data: bytes | bytearray | int) -> None:
        if isinstance(data, int):
            self.received.append(data)
        else:
            self.received += data
        if self._byte_triggers:
            count = len(self.received)
            due = [t for t in self._byte_triggers if t[0] <= count]
            if due:
                self._byte_triggers = [t for t in self._byte_triggers if t[0] > count]
                for _, action in due:
                    action()

    def triggers_next(self) -> bool:
        """The next byte received sets off an ``after_bytes`` action."""
        count = len(self.received) + 1
        return any(trigger <= count for trigger, _ in self._byte_triggers)

    def after_bytes(self, count: int, action: Callable[[], None]) -> None:
        """Run ``action`` once this device has received ``count`` bytes in total."""
        if len(self.received) >= count:
            action()
        else:
            self._byte_triggers.append((count, action))

    # --- faults ---------------------------------------------------------------------------------
    def inject(self, fault: Fault) -> None:
        """Put ``fault`` on this device now (UNPLUG takes it off the cable)."""
        if fault is Fault.UNPLUG:
            if self.cable is not None:
                self.cable.unplug(self)
            return
        self.faults.add(fault)
        self._fault_flags()
        self.fault_changed()
        self.notify()

    def clear(self, fault: Fault) -> None:
        """Remove ``fault`` (POWER_OFF cleared = powered on again, from its reset state)."""
        if fault in self.faults:
            self.faults.discard(fault)
            self._fault_flags()
            if fault is Fault.POWER_OFF:
                self.power_on_reset()
            self.fault_changed()
            self.notify()

    def _fault_flags(self) -> None:
        self._off = Fault.POWER_OFF in self.faults
        self._inert = self._off or Fault.SILENT in self.faults

    def fault_changed(self) -> None:
        """Hook: a fault was injected or cleared."""

    def power_on_reset(self) -> None:
        """Hook: return to the power-on state."""

    @property
    def powered(self) -> bool:
        return not self._off

    def describe(self) -> str:
        return f"{self.kind} {self.name!r}"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class EndOfCable(Peripheral):
    """Nothing attached: inputs float high (status register 0x78), nobody drives the data lines."""

    kind = "end"

    def drive(self, data: int | None, control: int) -> None:
        pass

    def status(self) -> int:
        return FLOATING_STATUS

    def data_out(self) -> int | None:
        return None


END_OF_CABLE = EndOfCable("end of cable")

# Lines a device that cuts off its pass-through port presents downstream.
CUT_OFF_CONTROL = IDLE_CONTROL
