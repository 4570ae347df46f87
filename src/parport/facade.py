"""The Pythonic facade on the driver's objects (``design.md`` §5).

``parport.open(spec)`` gives a :class:`Bus`: the contract interface (``names()``,
``create_file()``, ``hardware``, ``close()``) plus ``bus.device(name)`` and ``bus.port``.
Failures raise the exception tree rooted at :class:`~parport.nt.ParportError`, each carrying the
NTSTATUS.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from enum import IntFlag
from typing import Any

from . import nt
from .driver import Handle, ParallelBus, PortOptions, Rescan, open_bus
from .hw.backend import PortBackend
from .hw.lifetime import Closing

__all__ = ["Bus", "Device", "Mode", "Port", "connect", "open"]

PORT_NAME = "\\Device\\ParallelPort{index}"


class Mode(IntFlag):
    """IEEE 1284 modes for :meth:`Device.negotiate` (the ``ntddpar.h`` mode bits)."""

    COMPATIBILITY = nt.CENTRONICS | nt.IEEE_COMPATIBILITY
    NIBBLE = nt.NIBBLE
    BYTE = nt.BYTE_BIDIR
    EPP = nt.EPP_ANY
    ECP = nt.ECP_ANY


def _check(result: nt.IoStatus, what: str) -> nt.IoStatus:
    if not nt.NT_SUCCESS(result.status):
        raise nt.NtStatusError.from_status(result.status, what, result.information)
    return result


class Device(Closing):
    """An open device (``LPT1.0``…): exclusive, closed by :meth:`close` or ``with``."""

    def __init__(self, bus: Bus, name: str, timeout: float | None = None) -> None:
        self.bus = bus
        self.handle: Handle = bus.create_file(name)
        self.name = name
        self.timeout = timeout

    # --- the lock -------------------------------------------------------------------------------
    def lock(self, timeout: float | None = None, *, select: bool = True) -> None:
        """IOCTL_INTERNAL_LOCK_PORT (or _NO_SELECT): the port is this device's until unlock()."""
        code = nt.IOCTL_INTERNAL_LOCK_PORT if select else nt.IOCTL_INTERNAL_LOCK_PORT_NO_SELECT
        _check(
            self.handle.internal_device_control(code, timeout=self._t(timeout)), f"lock {self.name}"
        )

    def unlock(self, *, deselect: bool = True) -> None:
        """IOCTL_INTERNAL_UNLOCK_PORT (or _NO_DESELECT): deselect, free the port."""
        code = (
            nt.IOCTL_INTERNAL_UNLOCK_PORT if deselect else nt.IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT
        )
        _check(self.handle.internal_device_control(code), f"unlock {self.name}")

    @contextlib.contextmanager
    def locked(self, timeout: float | None = None, *, select: bool = True) -> Iterator[Device]:
        """Hold the port (device selected) for an uninterrupted sequence of operations."""
        self.lock(timeout, select=select)
        try:
            yield self
        finally:
            self.unlock(deselect=select)

    # --- data -----------------------------------------------------------------------------------
    def write(self, data: bytes, timeout: float | None = None) -> int:
        """Write ``data`` in the current forward mode; the byte count. Raises with the partial
        count in ``.information`` when the device fails."""
        result = self.handle.write(bytes(data), timeout=self._t(timeout))
        _check(result, f"write to {self.name}")
        return result.information

    def read(self, length: int = 4096, timeout: float | None = None) -> bytes:
        """Read up to ``length`` bytes in the current reverse mode (fewer when it has no more)."""
        result = self.handle.read(length, timeout=self._t(timeout))
        _check(result, f"read from {self.name}")
        return result.output

    def _ioctl(self, code: int, data: bytes = b"", out: int = 0) -> nt.IoStatus:
        return _check(self.handle.device_control(code, data, out, timeout=self.timeout), self.name)

    @property
    def device_id(self) -> str:
        """The IEEE 1284 device ID text (IOCTL_PAR_QUERY_DEVICE_ID)."""
        return (
            self._ioctl(nt.IOCTL_PAR_QUERY_DEVICE_ID, out=0x10000)
            .output.rstrip(b"\0")
            .decode("ascii", "replace")
        )

    @property
    def status(self) -> int:
        """The PARALLEL_* status bits (IOCTL_PAR_QUERY_INFORMATION)."""
        return self._ioctl(nt.IOCTL_PAR_QUERY_INFORMATION, out=1).output[0]

    @property
    def location(self) -> str:
        return self._ioctl(nt.IOCTL_PAR_QUERY_LOCATION, out=64).output.rstrip(b"\0").decode()

    @property
    def modes(self) -> tuple[int, int]:
        """(forward, reverse) mode bits in force (IOCTL_IEEE1284_GET_MODE)."""
        masks = nt.PARCLASS_NEGOTIATION_MASK.unpack(
            self._ioctl(nt.IOCTL_IEEE1284_GET_MODE, out=4).output
        )
        return masks.usWriteMask, masks.usReadMask

    def negotiate(self, forward: int, reverse: int | None = None) -> tuple[int, int]:
        """IOCTL_IEEE1284_NEGOTIATE: the fastest supported mode of each mask becomes the
        default (``reverse`` defaults to ``forward``); the (forward, reverse) modes chosen."""
        masks = nt.PARCLASS_NEGOTIATION_MASK(
            usReadMask=int(forward if reverse is None else reverse), usWriteMask=int(forward)
        ).pack()
        chosen = nt.PARCLASS_NEGOTIATION_MASK.unpack(
            self._ioctl(nt.IOCTL_IEEE1284_NEGOTIATE, masks, 4).output
        )
        return chosen.usWriteMask, chosen.usReadMask

    def reset(self) -> None:
        """Reset and initialise the printer (IOCTL_PAR_SET_INFORMATION)."""
        self._ioctl(nt.IOCTL_PAR_SET_INFORMATION, bytes((nt.PARALLEL_INIT,)))

    def _t(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is None else timeout

    # --- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        self.handle.close()

    def __repr__(self) -> str:
        return f"<parport.Device {self.name}>"


class Port(Closing):
    """The port itself (its arbiter), through a shared handle of its own."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.handle: Handle = bus.create_file(PORT_NAME.format(index=bus.driver.fdo.index))

    def allocate(self, timeout: float | None = None) -> None:
        """IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE: wait (in FIFO order) for the port."""
        _check(
            self.handle.internal_device_control(
                nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE, timeout=timeout
            ),
            "allocate the port",
        )

    def free(self) -> None:
        _check(
            self.handle.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE),
            "free the port",
        )

    def try_allocate(self) -> bool:
        """Take the port if it is free right now (never waits, never queues)."""
        return self.bus.driver.fdo.arbiter.try_allocate(self.handle)

    @contextlib.contextmanager
    def allocated(self, timeout: float | None = None) -> Iterator[Port]:
        self.allocate(timeout)
        try:
            yield self
        finally:
            self.free()

    @property
    def waiters(self) -> int:
        """Requests queued for the port (QueryNumWaiters)."""
        return self.bus.driver.fdo.arbiter.query_num_waiters()

    @property
    def owned(self) -> bool:
        return self.bus.driver.fdo.arbiter.owned_by(self.handle)

    def close(self) -> None:
        self.handle.close()


class Bus(Closing):
    """One parallel port and its devices (``parport.open``)."""

    def __init__(self, driver: ParallelBus) -> None:
        self.driver = driver
        self._port: Port | None = None
        self._lock = threading.Lock()

    @property
    def hardware(self) -> PortBackend:
        """The backend; on ``emu:`` the emulated port with ``.chain``."""
        return self.driver.hardware

    def names(self) -> list[str]:
        return self.driver.names()

    def create_file(self, name: str, options: int = 0) -> Handle:
        return self.driver.create_file(name, options)

    def device(self, name: str, timeout: float | None = None) -> Device:
        """Open a device by name (``LPT1.0``, ``\\\\.\\LPT1.4``…)."""
        return Device(self, name, timeout)

    @property
    def port(self) -> Port:
        with self._lock:
            if self._port is None:
                self._port = Port(self)
            return self._port

    def rescan(self, timeout: float | None = None) -> Rescan:
        return self.driver.rescan(timeout)

    @property
    def devices(self) -> list[str]:
        """The devices found on the port, by symbolic link."""
        return [device.location for device in self.driver.devices]

    def close(self) -> None:
        self.driver.close()

    def __repr__(self) -> str:
        return f"<parport.Bus {self.driver.spec or 'emu:'} {self.devices}>"


def open(spec: str | None = None, **options: Any) -> Bus:
    """Open the in-process stack on a port spec (default ``$PARPORT_PORT``, else ``emu:``).

    Keyword options are the bus options of :class:`~parport.driver.PortOptions`
    (``max_daisy``, ``legacy_zip``, ``timer_start_s``, ``enable_connect_interrupt``).
    """
    return Bus(open_bus(spec, options=PortOptions(**options)))


def connect(address: str | None = None) -> Bus:
    """The same interface through the ``parportd`` daemon (not part of this release)."""
    raise nt.NotSupportedError(
        nt.STATUS_NOT_SUPPORTED,
        "the parportd daemon is not part of this release; use parport.open()",
    )
