"""The Pythonic facade on the driver's handles (``design.md`` §5).

``parport.open(spec)`` gives a :class:`Bus`: the contract interface (``names()``,
``create_file()``, ``hardware``, ``close()``) plus ``bus.device(name)`` and ``bus.port``.
Everything here goes through handles and the requests and callbacks they offer — never into the
driver's objects — so the daemon's client offers the same facade on its own handles. Failures
raise the exception tree rooted at :class:`~parport.nt.ParportError`, each carrying the
NTSTATUS; a ``timeout=`` that passes raises :class:`~parport.nt.IoTimeoutError` (a
``TimeoutError``) naming the operation and the time waited.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from enum import IntFlag
from typing import Any, Protocol

from . import nt
from .driver import PortOptions, open_bus
from .hw.lifetime import Closing
from .hw.spec import default_spec
from .nt.irp import wait_or_cancel, wait_seconds

__all__ = ["Bus", "BusDriver", "Device", "DeviceStatus", "Mode", "Port", "connect", "open"]


class Mode(IntFlag):
    """IEEE 1284 modes (the ``ntddpar.h`` mode bits), for :meth:`Device.negotiate` and what
    :attr:`Device.modes` reports. ``COMPATIBILITY``, ``BYTE``, ``EPP`` and ``ECP`` name the
    usual choices (EPP and ECP: any flavour the port and the device both have)."""

    NONE = nt.NONE
    CENTRONICS = nt.CENTRONICS
    IEEE_COMPATIBILITY = nt.IEEE_COMPATIBILITY
    NIBBLE = nt.NIBBLE
    CHANNEL_NIBBLE = nt.CHANNEL_NIBBLE
    BYTE_BIDIR = nt.BYTE_BIDIR
    EPP_HW = nt.EPP_HW
    EPP_SW = nt.EPP_SW
    BOUNDED_ECP = nt.BOUNDED_ECP
    ECP_HW_NOIRQ = nt.ECP_HW_NOIRQ
    ECP_HW_IRQ = nt.ECP_HW_IRQ
    ECP_SW = nt.ECP_SW
    COMPATIBILITY = nt.CENTRONICS | nt.IEEE_COMPATIBILITY
    BYTE = nt.BYTE_BIDIR
    EPP = nt.EPP_ANY
    ECP = nt.ECP_ANY

    def __str__(self) -> str:
        return _flag_name(self)


class DeviceStatus(IntFlag):
    """The PAR_QUERY_INFORMATION status bits (``ntddpar.h`` PARALLEL_*), as
    :attr:`Device.status` reports them."""

    NONE = 0
    INIT = nt.PARALLEL_INIT
    AUTOFEED = nt.PARALLEL_AUTOFEED
    PAPER_EMPTY = nt.PARALLEL_PAPER_EMPTY
    OFF_LINE = nt.PARALLEL_OFF_LINE
    POWER_OFF = nt.PARALLEL_POWER_OFF
    NOT_CONNECTED = nt.PARALLEL_NOT_CONNECTED
    BUSY = nt.PARALLEL_BUSY
    SELECTED = nt.PARALLEL_SELECTED

    def __str__(self) -> str:
        return _flag_name(self)


def _flag_name(flag: IntFlag) -> str:
    """A flag value by name, as ``print`` shows it (``ECP_HW_NOIRQ``, ``BUSY|SELECTED``)."""
    if flag.name is not None:
        return flag.name
    return "|".join(member.name or "" for member in type(flag) if member in flag) or "NONE"


class HandleLike(Protocol):
    """What the facade needs of a handle (``design.md`` §5): in-process and through the daemon."""

    name: str

    @property
    def closed(self) -> bool: ...

    def submit_internal_device_control(
        self, code: int, input: bytes = b"", output_length: int = 0
    ) -> nt.Irp: ...

    def submit_device_control(
        self, code: int, input: bytes = b"", output_length: int = 0
    ) -> nt.Irp: ...

    def submit_read(self, length: int) -> nt.Irp: ...

    def submit_write(self, data: bytes) -> nt.Irp: ...

    @property
    def callbacks(self) -> Any: ...

    def close(self) -> None: ...


class BusDriver(Protocol):
    """What the facade needs of a bus: ``parport.driver.ParallelBus``, or the daemon's client."""

    spec: str

    @property
    def hardware(self) -> Any: ...

    @property
    def closed(self) -> bool: ...

    def names(self) -> list[str]: ...

    def create_file(self, name: str, options: int = 0) -> Any: ...

    def rescan(self, timeout: float | None = None) -> Any: ...

    def close(self) -> None: ...


def _check(result: nt.IoStatus, what: str) -> nt.IoStatus:
    if not nt.NT_SUCCESS(result.status):
        raise nt.NtStatusError.from_status(result.status, what, result.information)
    return result


def _seconds(timeout: float | None) -> float | None:
    """A facade call's ``timeout``, checked before its request goes (a bad one leaves no request
    behind): None or infinity for no limit, else a number of seconds >= 0."""
    seconds = wait_seconds(timeout)
    if seconds is not None and seconds < 0:
        raise ValueError(f"timeout must be >= 0 seconds, not {timeout}")
    return seconds


def _wait(
    irp: nt.Irp, what: str, timeout: float | None, undo: Callable[[], object] | None = None
) -> nt.IoStatus:
    """Wait for ``irp``; when ``timeout`` (checked by :func:`_seconds`) passes, cancel it and
    raise IoTimeoutError (unless it finished anyway), with the bytes moved so far in
    ``.information``. When the wait is interrupted (Ctrl-C), the request is cancelled; if it
    succeeded all the same (granted before the cancel reached it), ``undo`` takes it back
    before the interruption goes on, so an interrupted lock or allocate leaves nothing held."""
    try:
        result = wait_or_cancel(irp, timeout)
    except BaseException:
        if undo is not None:
            final = irp.wait()  # at once for a queued request; soon for one at work
            if final is not None and final.status == nt.STATUS_SUCCESS:
                undo()
        raise
    if result is None:
        irp.cancel()
        result = irp.wait()
        assert result is not None
        if result.status == nt.STATUS_CANCELLED:
            raise nt.IoTimeoutError(
                nt.STATUS_IO_TIMEOUT,
                f"{what}: not done after {timeout:g} s (cancelled)",
                result.information,
            )
    return result


def _mode_mask(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{what} must be a mode like parport.Mode.ECP (an int), not {type(value).__name__}"
        )
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"{what} must be a 16-bit mode mask, not {value:#x}")
    return int(value)


class Device(Closing):
    """An open device (``LPT1.0``…): exclusive, closed by :meth:`close` or ``with``."""

    def __init__(self, bus: Bus, name: str, timeout: float | None = None) -> None:
        self.timeout = _seconds(timeout)
        self.bus = bus
        self.handle: Any = bus.create_file(name)
        self.name = name

    def _t(self, timeout: float | None) -> float | None:
        return self.timeout if timeout is None else _seconds(timeout)

    def _internal(
        self,
        code: int,
        what: str,
        timeout: float | None = None,
        undo: Callable[[], object] | None = None,
    ) -> nt.IoStatus:
        irp = self.handle.submit_internal_device_control(code)
        return _check(_wait(irp, what, timeout, undo), what)

    # --- the lock -------------------------------------------------------------------------------
    def lock(self, timeout: float | None = None, *, select: bool = True) -> None:
        """IOCTL_INTERNAL_LOCK_PORT (or _NO_SELECT): the port is this device's until unlock().
        Interrupted (Ctrl-C), it leaves the device unlocked."""
        code = nt.IOCTL_INTERNAL_LOCK_PORT if select else nt.IOCTL_INTERNAL_LOCK_PORT_NO_SELECT
        undone = (
            nt.IOCTL_INTERNAL_UNLOCK_PORT if select else nt.IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT
        )
        what = f"lock {self.name}"
        self._internal(
            code, what, self._t(timeout), lambda: self._internal(undone, f"unlock {self.name}")
        )
        self.bus._hold(self)

    def unlock(self, *, deselect: bool = True) -> None:
        """IOCTL_INTERNAL_UNLOCK_PORT (or _NO_DESELECT): deselect, free the port."""
        code = (
            nt.IOCTL_INTERNAL_UNLOCK_PORT if deselect else nt.IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT
        )
        self.bus._unhold(self)
        self._internal(code, f"unlock {self.name}")

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
        count in ``.information`` when the device fails or ``timeout`` passes."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"data must be bytes, not {type(data).__name__}")
        what = f"write to {self.name}"
        timeout = self._t(timeout)
        result = _wait(self.handle.submit_write(bytes(data)), what, timeout)
        return _check(result, what).information

    def read(self, length: int = 4096, timeout: float | None = None) -> bytes:
        """Read up to ``length`` bytes in the current reverse mode (fewer when it has no more)."""
        if isinstance(length, bool) or not isinstance(length, int):
            raise TypeError(f"length must be an int, not {type(length).__name__}")
        what = f"read from {self.name}"
        timeout = self._t(timeout)
        result = _wait(self.handle.submit_read(length), what, timeout)
        return _check(result, what).output

    def _ioctl(self, code: int, data: bytes = b"", out: int = 0) -> nt.IoStatus:
        what = f"{nt.ioctl_name(nt.IRP_MJ_DEVICE_CONTROL, code)} on {self.name}"
        irp = self.handle.submit_device_control(code, data, out)
        return _check(_wait(irp, what, self.timeout), what)

    @property
    def device_id(self) -> str:
        """The IEEE 1284 device ID text (IOCTL_PAR_QUERY_DEVICE_ID)."""
        return (
            self._ioctl(nt.IOCTL_PAR_QUERY_DEVICE_ID, out=0x10000)
            .output.rstrip(b"\0")
            .decode("ascii", "replace")
        )

    @property
    def status(self) -> DeviceStatus:
        """The printer status bits (IOCTL_PAR_QUERY_INFORMATION), by name."""
        return DeviceStatus(self._ioctl(nt.IOCTL_PAR_QUERY_INFORMATION, out=1).output[0])

    @property
    def location(self) -> str:
        return self._ioctl(nt.IOCTL_PAR_QUERY_LOCATION, out=64).output.rstrip(b"\0").decode()

    @property
    def modes(self) -> tuple[Mode, Mode]:
        """(forward, reverse) modes in force (IOCTL_IEEE1284_GET_MODE)."""
        masks = nt.PARCLASS_NEGOTIATION_MASK.unpack(
            self._ioctl(nt.IOCTL_IEEE1284_GET_MODE, out=4).output
        )
        return Mode(masks.usWriteMask), Mode(masks.usReadMask)

    def negotiate(self, forward: int, reverse: int | None = None) -> tuple[Mode, Mode]:
        """IOCTL_IEEE1284_NEGOTIATE: the fastest supported mode of each mask becomes the
        default (``reverse`` defaults to ``forward``); the (forward, reverse) modes chosen."""
        write = _mode_mask(forward, "forward")
        read = write if reverse is None else _mode_mask(reverse, "reverse")
        masks = nt.PARCLASS_NEGOTIATION_MASK(usReadMask=read, usWriteMask=write).pack()
        chosen = nt.PARCLASS_NEGOTIATION_MASK.unpack(
            self._ioctl(nt.IOCTL_IEEE1284_NEGOTIATE, masks, 4).output
        )
        return Mode(chosen.usWriteMask), Mode(chosen.usReadMask)

    def reset(self) -> None:
        """Reset and initialise the printer (IOCTL_PAR_SET_INFORMATION)."""
        self._ioctl(nt.IOCTL_PAR_SET_INFORMATION, bytes((nt.PARALLEL_INIT,)))

    # --- lifetime -------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return bool(self.handle.closed)

    def close(self) -> None:
        self.bus._unhold(self)
        self.handle.close()

    def __repr__(self) -> str:
        return f"<parport.Device {self.name}{' closed' if self.closed else ''}>"


class Port(Closing):
    """The port itself (its arbiter), through a shared handle of its own."""

    def __init__(self, bus: Bus, name: str) -> None:
        self.bus = bus
        self.name = name
        self.handle: Any = bus.create_file(name)
        self._owned = False
        self._lock = threading.Lock()
        self._info: tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], int] | None
        self._info = None

    def _callbacks(self) -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], int]:
        """TryAllocatePort, FreePort, QueryNumWaiters and their context (from
        IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO, fetched once)."""
        info = self._info
        if info is None:
            size = nt.PARALLEL_PORT_INFORMATION.SIZE
            what = f"GET_PARALLEL_PORT_INFO on {self.name}"
            irp = self.handle.submit_internal_device_control(
                nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO, b"", size
            )
            result = _check(_wait(irp, what, None), what)
            fields = nt.PARALLEL_PORT_INFORMATION.unpack(result.output)
            table = self.handle.callbacks
            info = self._info = (
                table.callable(fields.TryAllocatePort),
                table.callable(fields.FreePort),
                table.callable(fields.QueryNumWaiters),
                fields.Context,
            )
        return info

    def allocate(self, timeout: float | None = None) -> None:
        """IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE: wait (in FIFO order) for the port."""
        what = f"allocate {self.name}"
        timeout = _seconds(timeout)
        irp = self.handle.submit_internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
        _check(_wait(irp, what, timeout, self.free), what)  # interrupted: nothing left held
        self._owned = True

    def free(self) -> None:
        """IOCTL_INTERNAL_PARALLEL_PORT_FREE (what this handle selected is deselected first)."""
        what = f"free {self.name}"
        irp = self.handle.submit_internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE)
        try:
            _check(_wait(irp, what, None), what)
        finally:
            self._owned = False

    def try_allocate(self) -> bool:
        """Take the port if it is free right now (never waits, never queues): the
        TryAllocatePort callback."""
        try_allocate, _, _, context = self._callbacks()
        got = bool(try_allocate(context))
        if got:
            self._owned = True
        return got

    @contextlib.contextmanager
    def allocated(self, timeout: float | None = None) -> Iterator[Port]:
        """Hold the port for the block (ALLOCATE ... FREE)."""
        self.allocate(timeout)
        try:
            yield self
        finally:
            self.free()

    @property
    def waiters(self) -> int:
        """Requests queued for the port (the QueryNumWaiters callback)."""
        _, _, query, context = self._callbacks()
        return int(query(context))

    @property
    def owned(self) -> bool:
        """Whether this port handle holds the port (an allocate or try_allocate not yet freed)."""
        return self._owned and not self.handle.closed

    def close(self) -> None:
        self._owned = False
        self.handle.close()

    def __repr__(self) -> str:
        return f"<parport.Port {self.name}{' owned' if self.owned else ''}>"


class Bus(Closing):
    """One parallel port and its devices (``parport.open``, ``parport.connect``)."""

    def __init__(self, driver: BusDriver) -> None:
        self.driver = driver
        self._port: Port | None = None
        self._lock = threading.Lock()
        # Per thread: the devices it locked, held weakly: a locked device the program drops is
        # closed as garbage (its lock with it), not kept alive here.
        self._holders: dict[int, list[weakref.ref[Device]]] = {}

    # --- who holds the port in this thread (for pin access) -------------------------------------
    def holder(self) -> Device | None:
        """The device this thread has locked most recently and not yet unlocked, if any: pin
        calls made inside its ``locked()`` go through it."""
        held = self._holders.get(threading.get_ident())
        while held:
            device = held[-1]()
            if device is not None:
                return device
            with self._lock:
                if held and held[-1]() is None:
                    held.pop()
        return None

    def _hold(self, device: Device) -> None:
        with self._lock:
            self._holders.setdefault(threading.get_ident(), []).append(weakref.ref(device))

    def _unhold(self, device: Device) -> None:
        with self._lock:
            for ident, held in list(self._holders.items()):
                held[:] = [
                    ref for ref in held if (alive := ref()) is not None and alive is not device
                ]
                if not held:
                    del self._holders[ident]

    @property
    def hardware(self) -> Any:
        """The backend; on ``emu:`` the emulated port with ``.chain``."""
        return self.driver.hardware

    @property
    def spec(self) -> str:
        return self.driver.spec

    def names(self) -> list[str]:
        return self.driver.names()

    def create_file(self, name: str, options: int = 0) -> Any:
        return self.driver.create_file(name, options)

    def device(self, name: str, timeout: float | None = None) -> Device:
        """Open a device by name (``LPT1.0``, ``\\\\.\\LPT1.4``…)."""
        if not isinstance(name, str):
            raise TypeError(f"a device name must be a str like 'LPT1.0', not {type(name).__name__}")
        return Device(self, name, timeout)

    @property
    def port(self) -> Port:
        """The first port (``\\Device\\ParallelPort0``), opened once."""
        with self._lock:
            if self._port is None or self._port.handle.closed:
                self._port = Port(self, self.port_names[0])
            return self._port

    @property
    def ports(self) -> list[Port]:
        """Every port of the bus (LPT1, LPT2, …), each through a shared handle of its own."""
        first = self.port
        return [first] + [Port(self, name) for name in self.port_names[1:]]

    @property
    def port_names(self) -> list[str]:
        """The ports' device names (``\\Device\\ParallelPortN``)."""
        names = [n for n in self.names() if n.startswith("\\Device\\ParallelPort")]
        if not names:
            raise nt.DeviceRemovedError(nt.STATUS_NO_SUCH_DEVICE, "the bus has no port")
        return names

    def rescan(self, timeout: float | None = None) -> Any:
        return self.driver.rescan(timeout)

    @property
    def pins(self) -> Any:
        """Pin-level access to the port's lines through the arbiter (:mod:`parport.pins`)."""
        from .pins import Pins  # noqa: PLC0415 - loaded only when pins are used

        with self._lock:
            pins = self.__dict__.get("_pins")
            if pins is None or pins.closed:
                pins = self.__dict__["_pins"] = Pins(self)
            return pins

    @property
    def devices(self) -> list[str]:
        """The devices found on the port, by symbolic link (``LPT1``, ``LPT1.0``, …)."""
        return [name for name in self.names() if not name.startswith("\\")]

    @property
    def closed(self) -> bool:
        return bool(self.driver.closed)

    def close(self) -> None:
        self.driver.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else str(self.devices)
        return f"<parport.Bus {self.driver.spec or 'emu:'} {state}>"


def open(spec: str | Sequence[str] | None = None, **options: Any) -> Bus:
    """Open the in-process stack on a port spec (default ``$PARPORT_PORT``, else ``emu:``), or
    on several (a list: LPT1, LPT2, … in that order). ``parportd:`` or ``parportd:/path.sock``
    goes through the daemon instead (:func:`connect`).

    Keyword options are the bus options of :class:`~parport.driver.PortOptions`
    (``max_daisy``, ``legacy_zip``, ``timer_start_s``, ``enable_connect_interrupt``).
    """
    if spec is None or isinstance(spec, str):
        specs: list[str | None] = [spec]
    elif isinstance(spec, list | tuple) and spec and all(isinstance(s, str) for s in spec):
        specs = list(spec)
    else:
        raise TypeError(
            "spec must be a str like 'emu:' or '/dev/parport0' (or a list of them), "
            f"not {type(spec).__name__}"
        )
    daemon = [s for s in specs if (s or default_spec()).startswith("parportd:")]
    if daemon:
        if len(specs) != 1 or options:
            raise TypeError("a parportd: spec stands alone: the daemon's config has the options")
        return connect(daemon[0] or default_spec())
    known = PortOptions.__dataclass_fields__
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise TypeError(
            f"unknown bus option {unknown[0]!r}; the options are {', '.join(sorted(known))}"
        )
    driver = open_bus(
        specs[0] if len(specs) == 1 else [s or "" for s in specs], options=PortOptions(**options)
    )
    return Bus(driver)


def connect(address: str | None = None) -> Bus:
    """The same interface through the ``parportd`` daemon (``design.md`` §7, docs/daemon.md).

    ``address`` is the daemon's socket: a path, ``"parportd:"`` or ``"parportd:/path.sock"``;
    by default ``$PARPORTD_SOCKET``, else ``/run/parportd.sock`` as root, else
    ``$XDG_RUNTIME_DIR/parportd.sock``. With no daemon there it raises
    :class:`~parport.service.DaemonUnavailableError` (a ``ConnectionError``) saying how to start
    one.
    """
    from .service.client import open_client  # noqa: PLC0415 - the client loads only when used

    return Bus(open_client(address))
