# ruff: noqa: N802
"""A pyparallel-compatible :class:`Parallel` that shares the port instead of claiming it.

Code written for pyparallel (``import parallel; p = parallel.Parallel(); p.setData(0x55)``)
runs unchanged on this class: the same constructor argument, the same upper-level methods with
pyparallel's pin polarities (each ``set*`` and ``getIn*`` speaks the pin's level: ``setDataStrobe
(1)`` puts nStrobe high, ``getInBusy()`` is True when the Busy pin is high), and the methods named
after the ppdev ioctls. What differs, on purpose (docs/compat.md):

* the constructor does not claim the port for the life of the object. Each call takes the port
  for itself and gives it back (one request through parport's arbiter), so a second program — a
  photodiode logger, another experiment — can use the same port; ``PPCLAIM()`` …
  ``PPRELEASE()`` still hold it for a sequence that must not be interrupted;
* there is a :meth:`Parallel.close` and ``with`` support; nothing depends on ``__del__``;
* the port is a parport spec: ``Parallel()``/``Parallel(0)`` is ``/dev/parport0`` unless
  ``$PARPORT_PORT`` names another (``emu:`` to run on the emulator, ``parportd:`` to share through
  the daemon); ``Parallel("emu:")`` names one directly.

Like pyparallel, the constructor turns the data lines to outputs and sets them to 0
(``reset=False`` leaves the lines as they are, for a second program that only watches them).
"""

from __future__ import annotations

import struct
from typing import Final

from .. import nt
from ..facade import Bus, Device, Mode, Port
from ..hw.lifetime import Closing
from ..pins import Pins
from . import _shared

__all__ = ["VERSION", "Parallel"]

VERSION: Final = "0.3"  # the pyparallel interface this module offers

# <linux/parport.h>: register bits, as ppdev takes and returns them.
PARPORT_CONTROL_STROBE: Final = 0x01
PARPORT_CONTROL_AUTOFD: Final = 0x02
PARPORT_CONTROL_INIT: Final = 0x04
PARPORT_CONTROL_SELECT: Final = 0x08
PARPORT_STATUS_ERROR: Final = 0x08
PARPORT_STATUS_SELECT: Final = 0x10
PARPORT_STATUS_PAPEROUT: Final = 0x20
PARPORT_STATUS_ACK: Final = 0x40
PARPORT_STATUS_BUSY: Final = 0x80

IEEE1284_MODE_NIBBLE: Final = 0
IEEE1284_MODE_BYTE: Final = 1 << 0
IEEE1284_MODE_COMPAT: Final = 1 << 8
IEEE1284_MODE_BECP: Final = 1 << 9
IEEE1284_MODE_ECP: Final = 1 << 4
IEEE1284_MODE_ECPRLE: Final = IEEE1284_MODE_ECP | (1 << 5)
IEEE1284_MODE_ECPSWE: Final = 1 << 10
IEEE1284_MODE_EPP: Final = 1 << 6
IEEE1284_MODE_EPPSL: Final = 1 << 11
IEEE1284_MODE_EPPSWE: Final = 1 << 12
IEEE1284_DEVICEID: Final = 1 << 2
IEEE1284_EXT_LINK: Final = 1 << 14
IEEE1284_ADDR: Final = 1 << 13
IEEE1284_DATA: Final = 0

PARPORT_EPP_FAST: Final = 1
PARPORT_W91284PIC: Final = 2
PP_FASTWRITE: Final = 1 << 2
PP_FASTREAD: Final = 1 << 3
PP_W91284PIC: Final = 1 << 4
PP_FLAGMASK: Final = PP_FASTWRITE | PP_FASTREAD | PP_W91284PIC
PP_MAJOR: Final = 99


def _ioc(direction: int, nr: int, size: int) -> int:
    """A Linux ioctl number of ppdev's type 'p' (asm-generic/ioctl.h layout)."""
    return direction << 30 | size << 16 | ord("p") << 8 | nr


_INT, _UCHAR, _TIMEVAL = 4, 1, struct.calcsize("ll")
# <linux/ppdev.h> request numbers (what pyparallel computes at import; here for code that uses
# them with fcntl directly — this class never does).
PPSETMODE: Final = _ioc(1, 0x80, _INT)
PPRSTATUS: Final = _ioc(2, 0x81, _UCHAR)
PPRCONTROL: Final = _ioc(2, 0x83, _UCHAR)
PPWCONTROL: Final = _ioc(1, 0x84, _UCHAR)
PPRDATA: Final = _ioc(2, 0x85, _UCHAR)
PPWDATA: Final = _ioc(1, 0x86, _UCHAR)
PPCLAIM: Final = _ioc(0, 0x8B, 0)
PPRELEASE: Final = _ioc(0, 0x8C, 0)
PPYIELD: Final = _ioc(0, 0x8D, 0)
PPFCONTROL: Final = _ioc(1, 0x8E, 2)
PPEXCL: Final = _ioc(0, 0x8F, 0)
PPDATADIR: Final = _ioc(1, 0x90, _INT)
PPNEGOT: Final = _ioc(1, 0x91, _INT)
PPWCTLONIRQ: Final = _ioc(1, 0x92, _UCHAR)
PPCLRIRQ: Final = _ioc(2, 0x93, _INT)
PPSETPHASE: Final = _ioc(1, 0x94, _INT)
PPGETTIME: Final = _ioc(2, 0x95, _TIMEVAL)
PPSETTIME: Final = _ioc(1, 0x96, _TIMEVAL)
PPGETMODES: Final = _ioc(2, 0x97, _INT)
PPGETMODE: Final = _ioc(2, 0x98, _INT)
PPGETPHASE: Final = _ioc(2, 0x99, _INT)
PPGETFLAGS: Final = _ioc(2, 0x9A, _INT)
PPSETFLAGS: Final = _ioc(1, 0x9B, _INT)

_MODE_FLAGS: Final = IEEE1284_DEVICEID | IEEE1284_ADDR | IEEE1284_EXT_LINK
# IEEE 1284 mode (Linux numbering) -> the parport modes to negotiate (forward, reverse).
_NEGOTIATE: Final = {
    IEEE1284_MODE_COMPAT: (Mode.COMPATIBILITY, Mode.NIBBLE),
    IEEE1284_MODE_NIBBLE: (Mode.COMPATIBILITY, Mode.NIBBLE),
    IEEE1284_MODE_BYTE: (Mode.COMPATIBILITY, Mode.BYTE),
    IEEE1284_MODE_ECP: (Mode.ECP, Mode.ECP),
    IEEE1284_MODE_ECPRLE: (Mode.ECP, Mode.ECP),
    IEEE1284_MODE_ECPSWE: (Mode.ECP, Mode.ECP),
    IEEE1284_MODE_BECP: (Mode.ECP, Mode.ECP),
    IEEE1284_MODE_EPP: (Mode.EPP, Mode.EPP),
    IEEE1284_MODE_EPPSL: (Mode.EPP, Mode.EPP),
    IEEE1284_MODE_EPPSWE: (Mode.EPP, Mode.EPP),
}


def _no_interrupts(name: str) -> nt.NotSupportedError:
    return nt.NotSupportedError(
        nt.STATUS_NOT_SUPPORTED,
        f"{name}: parport keeps no interrupt count for pin access; poll the status lines "
        "(getInAcknowledge) instead",
    )


class Parallel(Closing):
    """A parallel port with pyparallel's interface, shared through parport's arbiter.

    ``port``: pyparallel's argument (0 = ``/dev/parport0``, or a device path) or a parport spec;
    ``$PARPORT_PORT`` replaces a legacy argument (see :mod:`parport.compat`). Keyword-only
    additions: ``bus`` (use an open :class:`parport.Bus`, which this object will not close),
    ``reset`` (False: leave the data lines and their direction as they are), ``timeout`` (how
    long one call waits for the port while another program holds it, in seconds; None: no limit;
    also ``PPSETTIME``).
    """

    def __init__(
        self,
        port: int | str = 0,
        *,
        bus: Bus | None = None,
        reset: bool = True,
        timeout: float | None = 5.0,
    ) -> None:
        self._closed = True
        if bus is None:
            self.device = _shared.resolve(port)
            self.bus = _shared.acquire(self.device)
            self._shared = True
        else:
            self.device = bus.spec
            self.bus = bus
            self._shared = False
        try:
            self._port = Port(self.bus, self.bus.port_names[0])
        except BaseException:
            self._release_bus()
            raise
        self._closed = False
        self._pins = Pins(self.bus, port=self._port, timeout=timeout)
        self._device: Device | None = None
        self._mode = IEEE1284_MODE_COMPAT
        self._exclusive = False
        self._dataDir = True
        self._data = 0
        if reset:
            try:
                self.setDataDir(1)
                self.setData(0)
            except BaseException:
                self.close()
                raise

    @property
    def pins(self) -> Pins:
        """parport's pin API on this object's port handle (levels, pulses, names)."""
        return self._pins

    # --- helpers pyparallel has -------------------------------------------------------------------
    @staticmethod
    def timevalToFloat(timeval: bytes) -> float:
        """Seconds from a packed ``struct timeval``."""
        seconds, micros = struct.unpack("ll", timeval)
        return float(seconds + micros / 1e6)

    @staticmethod
    def floatToTimeval(time: float) -> bytes:
        """A packed ``struct timeval`` for ``time`` seconds."""
        seconds = int(time)
        return struct.pack("ll", seconds, round((time - seconds) * 1e6))

    # --- the ppdev ioctls, by name ----------------------------------------------------------------
    def PPCLAIM(self) -> None:
        """Hold the port (waiting for it in the FIFO) until :meth:`PPRELEASE`: calls in between
        run in the hold, and nobody else's do."""
        if self._port.owned:
            raise nt.InvalidDeviceStateError(
                nt.STATUS_INVALID_DEVICE_STATE, "PPCLAIM: this Parallel holds the port already"
            )
        self._port.allocate(self._pins.timeout)

    def PPRELEASE(self) -> None:
        """Give back the port held since :meth:`PPCLAIM`."""
        if not self._port.owned:
            raise nt.InvalidDeviceStateError(
                nt.STATUS_INVALID_DEVICE_STATE, "PPRELEASE: this Parallel does not hold the port"
            )
        self._port.free()

    def PPYIELD(self) -> None:
        """Let whoever waits for the port have it, then take it back (inside a claim)."""
        self.PPRELEASE()
        self._port.allocate(self._pins.timeout)

    def PPEXCL(self) -> None:
        """Accepted and remembered; parport never shares a port while it is held, and between
        holds sharing is the point (docs/compat.md)."""
        self._exclusive = True

    def PPNEGOT(self, mode: int) -> None:
        """IEEE 1284 negotiation with the peripheral into ``mode`` (IEEE1284_MODE_*), through the
        port's raw device (``LPT1``, kept open until :meth:`close`)."""
        base = int(mode) & ~_MODE_FLAGS
        if base not in _NEGOTIATE:
            raise ValueError(f"PPNEGOT: unknown IEEE 1284 mode {mode:#x}")
        if self._device is None:
            link = next(name for name in self.bus.devices if "." not in name)
            self._device = self.bus.device(link, timeout=self._pins.timeout)
        self._device.negotiate(*_NEGOTIATE[base])
        self._mode = int(mode)

    def PPSETMODE(self, mode: int) -> None:
        """Set the mode read and write would use (remembered; this class offers no read and
        write of its own, as pyparallel's does not)."""
        self._mode = int(mode)

    def PPGETMODE(self) -> int:
        """The mode set by :meth:`PPSETMODE` or :meth:`PPNEGOT` (IEEE1284_MODE_COMPAT at first)."""
        return self._mode

    def PPGETTIME(self) -> float:
        """How long a call waits for the port, in seconds (0.0: no limit)."""
        return float(self._pins.timeout or 0.0)

    def PPSETTIME(self, time: float) -> None:
        """Set how long a call waits for the port (seconds; 0: no limit)."""
        if isinstance(time, bool) or not isinstance(time, int | float) or time < 0:
            raise ValueError(f"PPSETTIME takes a number of seconds >= 0, not {time!r}")
        self._pins.timeout = float(time) or None

    def PPGETMODES(self) -> int:
        """Not offered, as in pyparallel."""
        raise nt.NotSupportedError(nt.STATUS_NOT_SUPPORTED, "PPGETMODES is not offered")

    def PPSETFLAGS(self) -> None:
        """Not offered, as in pyparallel."""
        raise nt.NotSupportedError(nt.STATUS_NOT_SUPPORTED, "PPSETFLAGS is not offered")

    def PPWCONTROL(self, lines: int) -> None:
        """Write the control lines as register bits (PARPORT_CONTROL_*)."""
        self._pins.frob_control(0x0F, lines)

    def PPRCONTROL(self) -> int:
        """The control lines as register bits (PARPORT_CONTROL_*), bits 0–3."""
        return self._pins.control.register & 0x0F

    def PPFCONTROL(self, mask: int, val: int) -> None:
        """Set the control register bits in ``mask`` to ``val`` (new = old & ~mask | val)."""
        self._pins.frob_control(mask, val)

    def PPRSTATUS(self) -> int:
        """The status register (PARPORT_STATUS_*; Busy's bit is set when the pin is low)."""
        return self._pins.status.register

    def PPDATADIR(self, out: int) -> None:
        """Data line drivers on (``out`` true: forward) or off (false: reverse)."""
        self._pins.set_direction(not out)

    def PPWDATA(self, byte: int) -> None:
        """Set the data lines."""
        self._pins.set_data(byte)

    def PPRDATA(self) -> int:
        """Read the data lines."""
        return self._pins.read_data()

    def PPCLRIRQ(self) -> int:
        """Not offered: parport counts no interrupts for pin users."""
        raise _no_interrupts("PPCLRIRQ")

    def PPWCTLONIRQ(self, lines: int) -> None:
        """Not offered: parport counts no interrupts for pin users."""
        raise _no_interrupts("PPWCTLONIRQ")

    # --- the portable (upper-level) methods -------------------------------------------------------
    def setDataDir(self, out: int) -> None:
        """Data line drivers (pins 2–9) on (``out`` true) or off."""
        self._dataDir = bool(out)
        self.PPDATADIR(out)

    def dataDir(self) -> bool:
        """Whether the data line drivers are on (as last set)."""
        return self._dataDir

    def setDataStrobe(self, level: int) -> None:
        """The level of nStrobe (pin 1)."""
        self._pins.set_pin(1, bool(level))

    def setAutoFeed(self, level: int) -> None:
        """The level of nAutoFd (pin 14)."""
        self._pins.set_pin(14, bool(level))

    def setInitOut(self, level: int) -> None:
        """The level of nInit (pin 16)."""
        self._pins.set_pin(16, bool(level))

    def setSelect(self, level: int) -> None:
        """The level of nSelectIn (pin 17)."""
        self._pins.set_pin(17, bool(level))

    def setData(self, d: int) -> None:
        """The byte on the data lines (pins 2–9, bit 0 on pin 2)."""
        self._pins.set_data(d)
        self._data = d

    def getData(self) -> int:
        """The byte on the data lines."""
        return self._pins.read_data()

    def getInError(self) -> bool:
        """The level of nFault (pin 15)."""
        return self._pins.read_pin(15)

    def getInSelected(self) -> bool:
        """The level of Select (pin 13)."""
        return self._pins.read_pin(13)

    def getInPaperOut(self) -> bool:
        """The level of PError (pin 12)."""
        return self._pins.read_pin(12)

    def getInAcknowledge(self) -> bool:
        """The level of nAck (pin 10)."""
        return self._pins.read_pin(10)

    def getInBusy(self) -> bool:
        """The level of Busy (pin 11; its register bit is inverted, the level is not)."""
        return self._pins.read_pin(11)

    # --- lifetime ---------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def _release_bus(self) -> None:
        if self._shared:
            _shared.release(self.bus)

    def close(self) -> None:
        """Give back a claim still held, close this object's handles and, for the last user of
        a port this module opened, the port."""
        if self._closed:
            return
        self._closed = True
        self._pins.close()
        try:
            if self._device is not None:
                self._device.close()
            self._port.close()
        finally:
            self._release_bus()

    def __repr__(self) -> str:
        return f"<parport.compat.Parallel {self.device!r}{' closed' if self._closed else ''}>"
