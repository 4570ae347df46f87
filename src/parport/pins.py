"""Pin-level access to a port's lines, through the arbiter: what a lab trigger port needs.

``bus.pins`` sets the data byte, sets and reads single pins by their DB-25 number (2–9 data;
1, 14, 16, 17 control; 10, 11, 12, 13, 15 status), reads the status and control lines, turns
the data lines around, and sends short pulses (``pulse(code, width_s)``: set, hold, reset) whose
hold time is met on the port's clock. One polarity convention everywhere: a pin's value is its
level on the connector (True = high), whatever the register bit says (``parport.hw.signals``
holds the one table), the same on every backend.

Each call is one register-script request (``parport.driver.registers``): the port is taken for
it and given back (automatic allocation, in the port's FIFO), so two programs can share one
trigger port — unless the calling thread holds the port already, inside ``bus.port.allocated()``
or a device's ``locked()``, where the call runs in that hold. The raw register calls
(:meth:`Pins.read_register`, :meth:`Pins.write_register`) are refused outside such a hold.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Final

from . import nt
from .driver import registers as reg
from .hw import signals
from .hw.lifetime import Closing

__all__ = ["CONTROL_PINS", "DATA_PINS", "PIN_NAMES", "STATUS_PINS", "Pins"]

DATA_PINS: Final = tuple(range(2, 10))
CONTROL_PINS: Final = (1, 14, 16, 17)
STATUS_PINS: Final = (10, 11, 12, 13, 15)
PIN_NAMES: Final = {info.pin: info.signal.value for info in signals.SIGNALS}
_BY_PIN: Final = {info.pin: info for info in signals.SIGNALS}
_REGISTER: Final = {
    signals.Register.DATA: reg.Register.DATA,
    signals.Register.STATUS: reg.Register.STATUS,
    signals.Register.CONTROL: reg.Register.CONTROL,
}


def _pin(pin: object) -> signals.SignalInfo:
    if isinstance(pin, bool) or not isinstance(pin, int):
        raise TypeError(f"a pin is a DB-25 pin number (an int), not {type(pin).__name__}")
    info = _BY_PIN.get(pin)
    if info is None:
        raise ValueError(
            f"pin {pin} carries no signal: data 2–9, control 1, 14, 16, 17, "
            f"status 10, 11, 12, 13, 15 (18–25 are ground)"
        )
    return info


def _byte(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int 0..255, not {type(value).__name__}")
    if not 0 <= value <= 0xFF:
        raise ValueError(f"{what} must be 0..255, not {value}")
    return value


class Pins(Closing):
    """See the module docstring. ``bus.pins`` gives one per bus, on ``bus.port``'s handle."""

    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self._closed = False
        self._local = threading.local()

    # --- which handle a call goes through -------------------------------------------------------
    def _handle(self) -> Any:
        holder = self.bus.holder()
        return holder.handle if holder is not None else self.bus.port.handle

    def _script(self, steps: Sequence[reg.Step], what: str) -> bytes:
        if self._closed:
            raise nt.InvalidDeviceStateError(nt.STATUS_INVALID_DEVICE_STATE, "the pins are closed")
        handle = self._handle()
        irp = handle.submit_device_control(
            reg.IOCTL_PARPORT_REGISTERS, reg.encode(steps), reg.reads(steps)
        )
        result = irp.wait()
        assert result is not None
        if not nt.NT_SUCCESS(result.status):
            raise nt.NtStatusError.from_status(result.status, what)
        return bytes(result.output)

    # --- the data lines -------------------------------------------------------------------------
    def set_data(self, value: int) -> None:
        """Put ``value`` on D0–D7 (pins 2–9; bit 0 is pin 2)."""
        self._script([(reg.Op.WRITE, reg.Register.DATA, _byte(value, "the data byte"))], "set data")

    def read_data(self) -> int:
        """The levels on D0–D7 (the host's own byte, or the peripheral's when turned around)."""
        return self._script([(reg.Op.READ, reg.Register.DATA, 0)], "read data")[0]

    @property
    def data(self) -> int:
        return self.read_data()

    @data.setter
    def data(self, value: int) -> None:
        self.set_data(value)

    def pulse(self, code: int, width_s: float, idle: int = 0) -> None:
        """Set the data byte to ``code``, hold it ``width_s`` seconds on the port's clock, then
        set it to ``idle`` — one request, nobody else's access in between."""
        if isinstance(width_s, bool) or not isinstance(width_s, int | float):
            raise TypeError(f"width_s must be a number of seconds, not {type(width_s).__name__}")
        us = round(width_s * 1e6)
        if not 0 <= us <= reg.MAX_SLEEP_US:
            raise ValueError(f"width_s must be 0..{reg.MAX_SLEEP_US / 1e6:g} s, not {width_s}")
        steps: list[reg.Step] = [
            (reg.Op.WRITE, reg.Register.DATA, _byte(code, "the code")),
            (reg.Op.SLEEP, reg.Register.DATA, us),
            (reg.Op.WRITE, reg.Register.DATA, _byte(idle, "the idle byte")),
        ]
        self._script(steps, "pulse")

    def set_direction(self, reverse: bool) -> None:
        """Turn the data lines around: inputs (``reverse=True``, a PS/2 port) or outputs."""
        bits = signals.CTR_DIRECTION if reverse else 0
        value = signals.CTR_DIRECTION | bits << 8
        self._script([(reg.Op.MODIFY, reg.Register.CONTROL, value)], "set direction")

    # --- single pins ----------------------------------------------------------------------------
    def set_pin(self, pin: int, level: bool) -> None:
        """Drive ``pin`` (data 2–9, control 1, 14, 16, 17) to ``level`` (True = high)."""
        info = _pin(pin)
        if not info.host_drives:
            raise ValueError(f"pin {pin} ({info.signal.value}) is a status input: read it")
        bit = bool(level) != info.inverted
        value = info.mask | (info.mask if bit else 0) << 8
        self._script([(reg.Op.MODIFY, _REGISTER[info.register], value)], f"set pin {pin}")

    def read_pin(self, pin: int) -> bool:
        """The level (True = high) on ``pin``: any signal pin, inputs and outputs alike."""
        info = _pin(pin)
        value = self._script([(reg.Op.READ, _REGISTER[info.register], 0)], f"read pin {pin}")[0]
        return signals.pin_level(info.signal, value)

    def read_pins(self) -> dict[int, bool]:
        """Every signal pin's level, by pin number, read in one go."""
        data, status, control = self._script(
            [
                (reg.Op.READ, reg.Register.DATA, 0),
                (reg.Op.READ, reg.Register.STATUS, 0),
                (reg.Op.READ, reg.Register.CONTROL, 0),
            ],
            "read pins",
        )
        values = {
            signals.Register.DATA: data,
            signals.Register.STATUS: status,
            signals.Register.CONTROL: control,
        }
        return {
            info.pin: signals.pin_level(info.signal, values[info.register])
            for info in sorted(signals.SIGNALS, key=lambda i: i.pin)
        }

    @property
    def status(self) -> dict[str, bool]:
        """The status lines' levels by name (nAck, Busy, PError, Select, nFault)."""
        pins = self.read_pins()
        return {PIN_NAMES[p]: pins[p] for p in STATUS_PINS}

    @property
    def control(self) -> dict[str, bool]:
        """The control lines' levels by name (nStrobe, nAutoFd, nInit, nSelectIn)."""
        pins = self.read_pins()
        return {PIN_NAMES[p]: pins[p] for p in CONTROL_PINS}

    # --- raw registers (inside a hold only) -----------------------------------------------------
    def _raw(self, register: int | str) -> reg.Register:
        if self.bus.holder() is None and not self.bus.port.owned:
            raise nt.InvalidDeviceStateError(
                nt.STATUS_INVALID_DEVICE_STATE,
                "raw register access needs the port: inside bus.port.allocated() or a "
                "device's locked()",
            )
        names = {"data": 0, "status": 1, "control": 2}
        index = names.get(register, register) if isinstance(register, str) else register
        if isinstance(index, bool) or not isinstance(index, int) or index not in (0, 1, 2):
            raise ValueError(f"a register is data, status or control (0, 1, 2), not {register!r}")
        return reg.Register(index)

    def read_register(self, register: int | str) -> int:
        """The raw register value (register bits, as the PC sees them)."""
        return self._script([(reg.Op.READ, self._raw(register), 0)], "read register")[0]

    def write_register(self, register: int | str, value: int) -> None:
        """Write a raw register value (register bits)."""
        target = self._raw(register)
        self._script([(reg.Op.WRITE, target, _byte(value, "the value"))], "write register")

    # --- lifetime -------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._closed = True

    def __repr__(self) -> str:
        return f"<parport.Pins on {self.bus!r}>"
