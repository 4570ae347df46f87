"""Pin-level access to a port's lines, through the arbiter: what a lab trigger port needs.

``bus.pins`` sets the data byte, sets and reads single pins by their DB-25 number (2–9 data;
1, 14, 16, 17 control; 10, 11, 12, 13, 15 status), reads the status and control lines, turns
the data lines around, and sends short pulses (``pulse(code, width_s)``: set, hold, reset) whose
hold time is met on the port's clock. One polarity convention everywhere: a pin's value is its
level on the connector (True = high), whatever the register bit says (``parport.hw.signals``
holds the one table), the same on every backend. Values that name lines print by name:
``print(bus.pins.status)`` shows ``nAck=H Busy=L PError=L Select=H nFault=H``.

Each call is one register-script request (``parport.driver.registers``): the port is taken for
it and given back (automatic allocation, in the port's FIFO), so two programs can share one
trigger port, and nobody's access lands between the steps of one call (a pulse's set, hold and
reset, a read-modify-write of one pin). Inside ``bus.port.allocated()`` or a device's
``locked()`` (in the thread that locked it) the calls run in that hold instead, without queueing.
The raw register calls (:meth:`Pins.read_register`, :meth:`Pins.write_register`) are refused
outside such a hold: a raw value written while someone else's transfer runs would corrupt it.

``bus.port.allocated()`` holds the port for the bus's port handle, which every thread of the bus
shares: while it is held, pin calls from any thread of that bus run in the hold. A device's
``locked()`` is per thread. To keep threads apart, lock a device, or give each its own
:class:`Pins` on its own port (``Pins(bus, port=parport.Port(bus, bus.port_names[0]))``).
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Final

from . import nt
from .driver import registers as reg
from .hw import signals
from .hw.lifetime import Closing
from .nt.irp import wait_or_cancel, wait_seconds

__all__ = [
    "CONTROL_PINS",
    "DATA_PINS",
    "PIN_NAMES",
    "STATUS_PINS",
    "ControlLines",
    "Lines",
    "PinLevels",
    "Pins",
    "StatusLines",
    "parse_level",
]

DATA_PINS: Final = tuple(range(2, 10))
CONTROL_PINS: Final = (1, 14, 16, 17)
STATUS_PINS: Final = (10, 11, 12, 13, 15)
PIN_NAMES: Final = {info.pin: info.signal.value for info in signals.SIGNALS}
_BY_PIN: Final = {info.pin: info for info in signals.SIGNALS}
_BY_NAME: Final = {info.signal.value: info for info in signals.SIGNALS}
_REGISTER: Final = {
    signals.Register.DATA: reg.Register.DATA,
    signals.Register.STATUS: reg.Register.STATUS,
    signals.Register.CONTROL: reg.Register.CONTROL,
}
_STEP: Final = struct.Struct("<BBI")  # one script step (parport.driver.registers)
_READ_DATA: Final = _STEP.pack(reg.Op.READ, reg.Register.DATA, 0)
_READ_STATUS: Final = _STEP.pack(reg.Op.READ, reg.Register.STATUS, 0)
_READ_CONTROL: Final = _STEP.pack(reg.Op.READ, reg.Register.CONTROL, 0)
_READ_ALL: Final = _READ_DATA + _READ_STATUS + _READ_CONTROL


def _int(value: object, what: str) -> int:
    """``value`` as an int (anything with ``__index__``, numpy integers too; not a bool)."""
    if isinstance(value, bool):
        raise TypeError(f"{what} must be an int, not a bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise TypeError(f"{what} must be an int, not {type(value).__name__}") from None


def _pin(pin: object) -> signals.SignalInfo:
    number = _int(pin, "a pin (a DB-25 pin number)")
    info = _BY_PIN.get(number)
    if info is None:
        raise ValueError(
            f"pin {number} carries no signal: data 2–9, control 1, 14, 16, 17, "
            f"status 10, 11, 12, 13, 15 (18–25 are ground)"
        )
    return info


def _byte(value: object, what: str) -> int:
    number = _int(value, what)
    if not 0 <= number <= 0xFF:
        raise ValueError(f"{what} must be 0..255, not {number}")
    return number


def _seconds(width_s: object) -> int:
    """A hold time in seconds as whole microseconds for a SLEEP step."""
    if isinstance(width_s, bool) or not isinstance(width_s, int | float):
        raise TypeError(f"width_s must be a number of seconds, not {type(width_s).__name__}")
    us = round(width_s * 1e6)
    if not 0 <= us <= reg.MAX_SLEEP_US:
        raise ValueError(f"width_s must be 0..{reg.MAX_SLEEP_US / 1e6:g} s, not {width_s}")
    return us


def parse_level(value: object) -> bool:
    """A pin level from what people write: True/False, 1/0, 'H'/'L', 'high'/'low', '1'/'0'."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "h", "high", "true", "on"):
            return True
        if text in ("0", "l", "low", "false", "off"):
            return False
        raise ValueError(f"a pin level is 1/0, H/L or high/low, not {value!r}")
    number = _int(value, "a pin level")
    if number not in (0, 1):
        raise ValueError(f"a pin level is 0 or 1, not {number}")
    return bool(number)


def _level(high: bool) -> str:
    return "H" if high else "L"


class Lines(Mapping[str, bool]):
    """The levels (True = high) of a group of lines by IEEE 1284 name, from one register read.

    A mapping (``lines["Busy"]``), with attributes too (``lines.Busy``); ``register`` is the raw
    register value it was read from. It prints by name: ``nAck=H Busy=L …``.
    """

    PINS: ClassVar[tuple[int, ...]] = ()
    __slots__ = ("_levels", "register")

    def __init__(self, register: int) -> None:
        self.register = register
        self._levels = {
            PIN_NAMES[pin]: signals.pin_level(_BY_PIN[pin].signal, register) for pin in self.PINS
        }

    def __getitem__(self, name: str) -> bool:
        return self._levels[name]

    def __getattr__(self, name: str) -> bool:
        try:
            return self._levels[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._levels)

    def __len__(self) -> int:
        return len(self._levels)

    def by_pin(self) -> dict[int, bool]:
        """The same levels by DB-25 pin number."""
        return {pin: self._levels[PIN_NAMES[pin]] for pin in self.PINS}

    @property
    def asserted(self) -> tuple[str, ...]:
        """The lines asserted in IEEE 1284 terms: an ``n`` line when low, the others when high."""
        return tuple(
            name for name, high in self._levels.items() if high != _BY_NAME[name].active_low
        )

    def __str__(self) -> str:
        return " ".join(f"{name}={_level(high)}" for name, high in self._levels.items())

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self} (register {self.register:#04x})>"


class StatusLines(Lines):
    """The status lines' levels: nAck (10), Busy (11), PError (12), Select (13), nFault (15)."""

    PINS = STATUS_PINS
    __slots__ = ()


class ControlLines(Lines):
    """The control lines' levels: nStrobe (1), nAutoFd (14), nInit (16), nSelectIn (17); and
    ``reverse``: whether the data lines are turned around (inputs)."""

    PINS = CONTROL_PINS
    __slots__ = ()

    @property
    def reverse(self) -> bool:
        return bool(self.register & signals.CTR_DIRECTION)

    def __str__(self) -> str:
        return super().__str__() + (" (data lines are inputs)" if self.reverse else "")


class PinLevels(Mapping[int, bool]):
    """Every signal pin's level (True = high) by DB-25 number, read in one go: ``levels[11]``.

    ``data`` is the byte on D0–D7, ``status`` and ``control`` the two groups by name. It prints
    one pin a line, with its name and level.
    """

    __slots__ = ("control", "data", "status")

    def __init__(self, data: int, status: int, control: int) -> None:
        self.data = data
        self.status = StatusLines(status)
        self.control = ControlLines(control)

    def __getitem__(self, pin: int) -> bool:
        info = _BY_PIN[pin]
        if info.register == signals.Register.DATA:
            return bool(self.data & info.mask)
        group: Lines = self.status if info.register == signals.Register.STATUS else self.control
        return group[info.signal.value]

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(_BY_PIN))

    def __len__(self) -> int:
        return len(_BY_PIN)

    def table(self) -> list[tuple[int, str, str, bool]]:
        """(pin, name, direction 'out'/'in', level) for every signal pin, in pin order."""
        rows = []
        for pin in self:
            info = _BY_PIN[pin]
            out = info.host_drives and not (
                info.register == signals.Register.DATA and self.control.reverse
            )
            rows.append((pin, info.signal.value, "out" if out else "in", self[pin]))
        return rows

    def __str__(self) -> str:
        lines = [f"data 0x{self.data:02X}" + (" (inputs)" if self.control.reverse else "")]
        lines += [
            f"{pin:>2} {name:<9} {way:<3} {_level(high)}" for pin, name, way, high in self.table()
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<PinLevels data=0x{self.data:02X} status: {self.status} control: {self.control}>"


class Pins(Closing):
    """See the module docstring. ``bus.pins`` gives one per bus, on ``bus.port``'s handle; a
    :class:`Pins` of your own can go through another port handle (``port=``).

    ``timeout`` (seconds, None = no limit) bounds how long a call waits for the port when
    someone else holds it; past it the call is cancelled and raises
    :class:`~parport.IoTimeoutError` (a ``TimeoutError``) with nothing done on the wire.
    """

    def __init__(self, bus: Any, port: Any = None, timeout: float | None = None) -> None:
        self.bus = bus
        self._port = port
        self.timeout = wait_seconds(timeout)
        self._closed = False
        self._port_handle: Any = None

    @property
    def port(self) -> Any:
        """The port (:class:`parport.Port`) whose handle automatic allocations go through."""
        return self._port if self._port is not None else self.bus.port

    # --- which handle a call goes through ---------------------------------------------------------
    def _handle(self) -> Any:
        holder = self.bus.holder()
        if holder is not None:
            return holder.handle
        handle = self._port_handle
        if handle is None or handle.closed:
            handle = self._port_handle = self.port.handle
        return handle

    def _run(self, script: bytes, reads: int, what: str) -> bytes:
        """Send one IOCTL_PARPORT_REGISTERS request; the bytes its READ steps returned."""
        if self._closed:
            raise nt.InvalidDeviceStateError(
                nt.STATUS_INVALID_DEVICE_STATE, f"{what}: these pins are closed"
            )
        handle = self._handle()
        now = getattr(handle, "device_control_now", None)  # in-process handles have it
        if now is not None:
            done = now(reg.IOCTL_PARPORT_REGISTERS, script, reads)
            if done is not None:
                if not nt.NT_SUCCESS(done.status):
                    raise nt.NtStatusError.from_status(done.status, what)
                return bytes(done.output)
        timeout = wait_seconds(self.timeout)  # before the request goes: a bad one leaves none
        irp = handle.submit_device_control(reg.IOCTL_PARPORT_REGISTERS, script, reads)
        result = wait_or_cancel(irp, timeout)
        if result is None:
            irp.cancel()
            result = irp.wait()
            assert result is not None
            if result.status == nt.STATUS_CANCELLED:
                raise nt.IoTimeoutError(
                    nt.STATUS_IO_TIMEOUT,
                    f"{what}: the port was not free within {timeout:g} s (cancelled)",
                )
        if not nt.NT_SUCCESS(result.status):
            raise nt.NtStatusError.from_status(result.status, what)
        return bytes(result.output)

    def _script(self, steps: Sequence[reg.Step], what: str) -> bytes:
        return self._run(reg.encode(steps), reg.reads(steps), what)

    # --- the data lines ---------------------------------------------------------------------------
    def set_data(self, value: int) -> None:
        """Put ``value`` on D0–D7 (pins 2–9; bit 0 is pin 2, bit 7 is pin 9)."""
        if type(value) is not int or not 0 <= value <= 0xFF:
            value = _byte(value, "the data byte")
        self._run(_STEP.pack(1, 0, value), 0, "set data")  # WRITE DATA

    def read_data(self) -> int:
        """The levels on D0–D7 (the host's own byte, or the peripheral's when turned around)."""
        return self._run(_READ_DATA, 1, "read data")[0]

    @property
    def data(self) -> int:
        """The byte on D0–D7 (reading it is :meth:`read_data`, setting it :meth:`set_data`)."""
        return self.read_data()

    @data.setter
    def data(self, value: int) -> None:
        self.set_data(value)

    def pulse(self, code: int, width_s: float, idle: int = 0) -> None:
        """Set the data byte to ``code``, hold it ``width_s`` seconds on the port's clock, then
        set it to ``idle`` — one request: nobody else's access in between, the hold met even
        when this program is descheduled (the port is held through it)."""
        steps: list[reg.Step] = [
            (reg.Op.WRITE, reg.Register.DATA, _byte(code, "the code")),
            (reg.Op.SLEEP, reg.Register.DATA, _seconds(width_s)),
            (reg.Op.WRITE, reg.Register.DATA, _byte(idle, "the idle byte")),
        ]
        self._script(steps, "pulse")

    def set_direction(self, reverse: bool) -> None:
        """Turn the data lines around: inputs (``reverse=True``, on a PS/2-capable port) so a
        peripheral can drive them, or back to outputs (``False``)."""
        bits = signals.CTR_DIRECTION if reverse else 0
        value = signals.CTR_DIRECTION | bits << 8
        self._script([(reg.Op.MODIFY, reg.Register.CONTROL, value)], "set direction")

    @property
    def reverse(self) -> bool:
        """Whether the data lines are inputs (turned around by :meth:`set_direction`)."""
        return self.control.reverse

    def frob_control(self, mask: int, bits: int) -> None:
        """Set the control register bits in ``mask`` (0–3: Strobe, AutoFd, nInit, SelectIn) to
        ``bits`` — register bits, as ppdev's PPFCONTROL takes them (Strobe, AutoFd and SelectIn
        set = pin low) — leaving the others; one request. Prefer :meth:`set_pin`, which speaks
        pin levels; this is for code written against register bits."""
        mask = _byte(mask, "the mask") & 0x0F
        bits = _byte(bits, "the bits")
        self._script([(reg.Op.MODIFY, reg.Register.CONTROL, mask | bits << 8)], "frob control")

    # --- single pins ------------------------------------------------------------------------------
    def set_pin(self, pin: int, level: bool | int | str) -> None:
        """Drive ``pin`` (data 2–9, control 1, 14, 16, 17) to ``level`` (True/1/'H' = high);
        a read-modify-write of its register in one request."""
        self.set_pins({pin: level})

    def set_pins(self, levels: Mapping[int, bool | int | str]) -> None:
        """Drive several pins at once (``{2: 1, 3: 0, 1: 'L'}``), in one request: the data pins
        change together, then the control pins."""
        masks: dict[reg.Register, list[int]] = {}
        for pin, level in levels.items():
            info = _pin(pin)
            if not info.host_drives:
                raise ValueError(f"pin {pin} ({info.signal.value}) is a status input: read it")
            bit = parse_level(level) != info.inverted
            mask_bits = masks.setdefault(_REGISTER[info.register], [0, 0])
            mask_bits[0] |= info.mask
            mask_bits[1] |= info.mask if bit else 0
        steps: list[reg.Step] = [
            (reg.Op.MODIFY, register, mask | bits << 8)
            for register, (mask, bits) in sorted(masks.items())
        ]
        if steps:
            self._script(steps, f"set pin{'s' if len(levels) > 1 else ''} {_pins_text(levels)}")

    def pulse_pin(self, pin: int, width_s: float, level: bool | int | str = True) -> None:
        """Drive ``pin`` to ``level``, hold it ``width_s`` seconds on the port's clock, then drive
        it to the other level — one request (a strobe on pin 1: ``pulse_pin(1, 1e-6, 'L')``)."""
        info = _pin(pin)
        if not info.host_drives:
            raise ValueError(f"pin {pin} ({info.signal.value}) is a status input: read it")
        target, mask = _REGISTER[info.register], info.mask
        high = parse_level(level)
        during, after = (mask if b else 0 for b in (high != info.inverted, high == info.inverted))
        steps: list[reg.Step] = [
            (reg.Op.MODIFY, target, mask | during << 8),
            (reg.Op.SLEEP, target, _seconds(width_s)),
            (reg.Op.MODIFY, target, mask | after << 8),
        ]
        self._script(steps, f"pulse pin {pin}")

    def read_pin(self, pin: int) -> bool:
        """The level (True = high) on ``pin``: any signal pin, inputs and outputs alike."""
        info = _pin(pin)
        script = {
            signals.Register.DATA: _READ_DATA,
            signals.Register.STATUS: _READ_STATUS,
            signals.Register.CONTROL: _READ_CONTROL,
        }[info.register]
        value = self._run(script, 1, f"read pin {pin}")[0]
        return signals.pin_level(info.signal, value)

    def read_pins(self) -> PinLevels:
        """Every signal pin's level, by pin number, read in one request."""
        data, status, control = self._run(_READ_ALL, 3, "read pins")
        return PinLevels(data, status, control)

    @property
    def status(self) -> StatusLines:
        """The status lines' levels by name (nAck, Busy, PError, Select, nFault): one read."""
        return StatusLines(self._run(_READ_STATUS, 1, "read status")[0])

    @property
    def control(self) -> ControlLines:
        """The control lines' levels by name (nStrobe, nAutoFd, nInit, nSelectIn): one read."""
        return ControlLines(self._run(_READ_CONTROL, 1, "read control")[0])

    # --- raw registers (inside a hold only) -------------------------------------------------------
    def _raw(self, register: int | str) -> reg.Register:
        if self.bus.holder() is None and not self.port.owned:
            raise nt.InvalidDeviceStateError(
                nt.STATUS_INVALID_DEVICE_STATE,
                "raw register access needs the port held: inside bus.port.allocated() or a "
                "device's locked() (pin calls need neither)",
            )
        names = {"data": 0, "status": 1, "control": 2}
        index = names.get(register, register) if isinstance(register, str) else register
        if isinstance(index, bool) or not isinstance(index, int) or index not in (0, 1, 2):
            raise ValueError(f"a register is data, status or control (0, 1, 2), not {register!r}")
        return reg.Register(index)

    def read_register(self, register: int | str) -> int:
        """The raw register value (register bits, as the PC sees them); inside a hold only."""
        return self._script([(reg.Op.READ, self._raw(register), 0)], "read register")[0]

    def write_register(self, register: int | str, value: int) -> None:
        """Write a raw register value (register bits); inside a hold only."""
        target = self._raw(register)
        self._script([(reg.Op.WRITE, target, _byte(value, "the value"))], "write register")

    # --- lifetime ---------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Refuse further calls (the bus and its port stay open: they are not this object's)."""
        self._closed = True

    def __repr__(self) -> str:
        return f"<parport.Pins on {self.bus!r}{' closed' if self._closed else ''}>"


def _pins_text(levels: Mapping[int, object]) -> str:
    return " ".join(f"{pin}={value}" for pin, value in levels.items())
