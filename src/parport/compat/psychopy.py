# ruff: noqa: N802, N803
"""A PsychoPy-compatible :class:`ParallelPort`, and PsychoPy's module-level legacy functions.

The class offers what ``psychopy.parallel.ParallelPort`` documents — ``setData(byte)``,
``setPin(pinNumber, state)``, ``readPin(pinNumber)``, ``readData()`` — with PsychoPy's pin
numbering: pins 2–9 are data bits 0–7 (``setData(2)`` puts pin 3 high), ``readPin`` reads pins
2–13 and 15 and returns 1 for a high pin, 0 for a low one. Pin 11 (Busy) reads as the pin's
level, as PsychoPy's Linux class reads it (its Windows inpout class returns the inverted register
bit instead; docs/compat.md). Additions: ``setPin`` and ``readPin`` also take the control pins 1,
14, 16 and 17; a pin that carries no signal, or ``setPin`` on a status pin, raises ValueError;
``close()`` and ``with``.

``address`` is PsychoPy's (``"/dev/parport0"`` on Linux, ``0x0378`` or ``"0x0378"`` on
Windows) or a parport spec; as for :class:`~parport.compat.Parallel`, ``$PARPORT_PORT``
replaces a legacy address. Each call is one request through parport's arbiter, so
``setPin`` is one atomic read-modify-write, and other programs share the port between calls.
"""

from __future__ import annotations

import logging

from ..facade import Bus
from ..hw.lifetime import Closing
from ..pins import CONTROL_PINS, DATA_PINS, STATUS_PINS
from .pyparallel import Parallel

__all__ = ["ParallelPort", "readPin", "setData", "setPin", "setPortAddress"]

log = logging.getLogger(__name__)


class ParallelPort(Closing):
    """Read and write a parallel port's pins the way PsychoPy does (see the module docstring).

    ``port`` is the :class:`~parport.compat.Parallel` underneath, as in PsychoPy's Linux class;
    ``bus`` (keyword-only) uses an open :class:`parport.Bus` instead of opening the address.
    """

    def __init__(self, address: int | str = "/dev/parport0", *, bus: Bus | None = None) -> None:
        self.port = Parallel(address, bus=bus)

    def setData(self, data: int) -> None:
        """The byte on the data pins 2–9 (pin 2 = bit 0): ``setData(3)`` sets pins 2 and 3."""
        self.port.setData(data)

    def setPin(self, pinNumber: int, state: int) -> None:
        """Drive a pin high (``state`` true) or low: data pins 2–9, control pins 1, 14, 16, 17."""
        if pinNumber in STATUS_PINS:
            raise ValueError(f"pin {pinNumber} is a status input: readPin({pinNumber}) reads it")
        self.port.pins.set_pin(pinNumber, bool(state))

    def readData(self) -> int:
        """The byte on the data pins 2–9."""
        return self.port.getData()

    def readPin(self, pinNumber: int) -> int:
        """1 if the pin is high, 0 if low: pins 2–13 and 15 (and the control pins 1, 14, 16,
        17)."""
        if pinNumber not in (*DATA_PINS, *STATUS_PINS, *CONTROL_PINS):
            raise ValueError(
                f"pin {pinNumber} cannot be read: data 2–9, status 10–13 and 15, "
                "control 1, 14, 16, 17"
            )
        return int(self.port.pins.read_pin(pinNumber))

    @property
    def closed(self) -> bool:
        return self.port.closed

    def close(self) -> None:
        """Close the port underneath (a claim it held is given back)."""
        self.port.close()

    def __repr__(self) -> str:
        return f"<parport.compat.ParallelPort {self.port.device!r}>"


# --- PsychoPy's legacy module API: one port for the whole program ---------------------------------
PORT: ParallelPort | None = None
_why: str = ""


def setPortAddress(address: int | str = 0x0378) -> None:
    """Open the port the functions below use (closing the one before). As in PsychoPy, a port
    that cannot be opened is logged, not raised; the next call says why."""
    global PORT, _why
    if PORT is not None:
        PORT.close()
        PORT = None
    try:
        PORT = ParallelPort(address=address)
        _why = ""
    except Exception as exc:  # PsychoPy logs and carries on: so do we, keeping the reason
        _why = f"{type(exc).__name__}: {exc}"
        log.warning("could not open the parallel port %r: %s", address, _why)


def _port() -> ParallelPort:
    if PORT is None:
        reason = f" (the last try failed: {_why})" if _why else ""
        raise RuntimeError(f"Port address must be set using setPortAddress{reason}")
    return PORT


def setData(data: int) -> None:
    """``setData`` on the port of :func:`setPortAddress`."""
    _port().setData(data)


def setPin(pinNumber: int, state: int) -> None:
    """``setPin`` on the port of :func:`setPortAddress`."""
    _port().setPin(pinNumber, state)


def readPin(pinNumber: int) -> int:
    """``readPin`` on the port of :func:`setPortAddress`."""
    return _port().readPin(pinNumber)
