"""One parallel port and the devices found on it: the bus object ``parport.open(spec)`` returns.

Opening a bus opens the backend, detects the hardware, creates the port's device object and
enumerates the devices on the cable (windows-parport.md §2.4): the raw device always; the
end-of-chain device when its IEEE 1284 ID has MFG and MDL; a legacy Zip drive when enabled; one
device per IEEE 1284.3 daisy-chain device (at most ``max_daisy``, Part A A10) whose ID has MFG
and MDL. A rescan reports what was added and removed.
"""

from __future__ import annotations

import logging
import threading
import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import nt
from ..hw.backend import PortBackend
from ..hw.lifetime import Closing
from ..hw.spec import open_backend
from ..ieee1284 import DeviceId, Session, dot3
from ..nt.irp import wait_seconds
from .fdo import ParallelPort, PortOptions
from .iomgr import DeviceObject, Handle, IoManager, reap_later
from .pdo import DeviceKind, ParallelDevice
from .seam import PortOwner

__all__ = ["ParallelBus", "Rescan", "open_bus"]

log = logging.getLogger(__name__)

SCAN_ALLOCATE_TIMEOUT_NS = 2_000_000_000  # §2.4 step 1: 2 s for the port


@dataclass
class Rescan:
    """What one bus scan did."""

    scanned: bool = False  # False: the port could not be had (the previous devices stay)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


class _ScanOwner(PortOwner):
    """The bus scan as a port owner (it allocates the port like any client)."""

    def __repr__(self) -> str:
        return "<bus scan>"


class _Teardown:
    """What closes a bus: kept apart from the bus object, so that a bus dropped without
    ``close()`` can be closed by its finalizer (which must not refer to the bus)."""

    def __init__(self, iomgr: IoManager) -> None:
        self.iomgr = iomgr
        self.ports: list[ParallelPort] = []
        self.devices: dict[str, ParallelDevice] = {}
        self.closed = False
        self._lock = threading.Lock()
        self._done = threading.Event()

    def close(self) -> None:
        """Close every handle (releasing what they hold), remove the devices, close the
        backends (and their clocks' threads); idempotent, and a second caller waits for the
        first."""
        with self._lock:
            first = not self.closed
            self.closed = True
        if not first:
            self._done.wait()
            return
        try:
            self.iomgr.close_all()
            for name in list(self.devices):
                device = self.devices.pop(name)
                device.remove()
                self.iomgr.unregister(device)
            for device_object in self.iomgr.devices():
                self.iomgr.unregister(device_object)
            for port in self.ports:
                port.shutdown()
                port.backend.close()
        finally:
            self._done.set()


def _dropped(teardown: _Teardown) -> None:
    reap_later(teardown)  # first: with warnings turned into errors, the warning raises
    warnings.warn("unclosed parport bus", ResourceWarning, stacklevel=2)


class ParallelBus(Closing):
    """The ports of one bus (LPT1, LPT2, … — usually one), their device objects and the I/O
    manager that names them. ``fdo``, ``hardware`` and ``session`` are the first port's."""

    def __init__(
        self,
        backend: PortBackend | Sequence[PortBackend],
        *,
        index: int = 0,
        options: PortOptions | None = None,
        spec: str = "",
    ) -> None:
        backends = [backend] if isinstance(backend, PortBackend) else list(backend)
        if not backends:
            raise ValueError("a bus needs at least one port")
        self.spec = spec
        self.options = options or PortOptions()
        self.iomgr = IoManager()
        self._teardown = _Teardown(self.iomgr)
        self.ports = self._teardown.ports
        for offset, each in enumerate(backends):
            fdo = ParallelPort(index + offset, each, Session(each), self.options)
            self.iomgr.register(fdo)  # no symbolic link for the port (§2.1)
            self.ports.append(fdo)
        self.fdo = self.ports[0]
        self.hardware = self.fdo.backend
        self.session = self.fdo.session
        self._devices = self._teardown.devices
        self._scan_owner = _ScanOwner()
        self._finalizer = weakref.finalize(self, _dropped, self._teardown)
        self._finalizer.atexit = False  # at exit the process lets everything go anyway
        self.rescan()

    # --- names and handles ----------------------------------------------------------------------
    def names(self) -> list[str]:
        """Every internal device name and symbolic link."""
        return self.iomgr.names()

    def create_file(self, name: str, options: int = 0) -> Handle:
        """Open a device or a port; raises :class:`~parport.nt.NtStatusError` on failure.
        The handle keeps this bus alive."""
        if self._teardown.closed:
            raise nt.NtStatusError.from_status(nt.STATUS_DELETE_PENDING, "the bus is closed")
        return self.iomgr.create_file(name, options, keepalive=self)

    def lookup(self, name: str) -> DeviceObject | None:
        return self.iomgr.lookup(name)

    @property
    def devices(self) -> list[ParallelDevice]:
        """The device objects on the ports (by port, raw first, then by location)."""
        return sorted(
            self._devices.values(),
            key=lambda d: (d.port.index, d.kind != DeviceKind.RAW, d.location),
        )

    # --- enumeration ----------------------------------------------------------------------------
    def rescan(self, timeout: float | None = None, port: int | None = None) -> Rescan:
        """Scan the cables (§2.4): every port, or the one with index ``port``. Waits for each
        port up to 2 s on its clock; a port not granted by then keeps its previous devices.
        ``timeout`` (wall seconds) bounds how long this call waits for each: the scan still runs
        when the port is granted later."""
        timeout = wait_seconds(timeout)  # before the scan starts: a bad one starts none
        ports = self.ports if port is None else [p for p in self.ports if p.index == port]
        if not ports:
            raise ValueError(f"no port with index {port} on this bus")
        results = [self._rescan_port(fdo, timeout) for fdo in ports]
        if len(results) == 1:
            return results[0]
        merged = Rescan(scanned=all(r.scanned for r in results))
        for each in results:
            merged.added += each.added
            merged.removed += each.removed
        if all(r.done.is_set() for r in results):
            merged.done.set()
        return merged

    def _rescan_port(self, fdo: ParallelPort, timeout: float | None) -> Rescan:
        result = Rescan()
        irp = nt.Irp(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
        owner = self._scan_owner

        def granted(done: nt.Irp) -> None:
            try:
                if done.status == nt.STATUS_SUCCESS:
                    try:
                        self._scan(fdo, result)
                        result.scanned = True
                    finally:
                        fdo.release(owner)
                else:
                    log.info("%s: no port for the bus scan; devices unchanged", fdo.name)
            finally:
                result.done.set()

        if fdo.claim(irp, owner):
            irp.complete(nt.STATUS_SUCCESS)
        else:
            fdo.waiting_for_port()

            def give_up() -> None:
                irp.cancel()

            timer = fdo.backend.clock.call_later(SCAN_ALLOCATE_TIMEOUT_NS, give_up)
            irp.add_done_callback(lambda _: timer.cancel())
        irp.add_done_callback(granted)
        result.done.wait(timeout)
        return result

    def _scan(self, fdo: ParallelPort, result: Rescan) -> None:
        port = fdo.backend
        session = fdo.session
        wanted: dict[str, tuple[DeviceKind, int | None, DeviceId | None]] = {}
        wanted[fdo.port_name] = (DeviceKind.RAW, None, None)
        with fdo.wire_lock:
            session.terminate()
            dot3.deselect_all(port)
            eoc_name = f"{fdo.port_name}.{nt.DOT3_END_OF_CHAIN_ID}"
            existing_eoc = self._devices.get(eoc_name)
            if existing_eoc is not None and fdo.eoc_rescan_disabled:
                wanted[eoc_name] = (DeviceKind.END_OF_CHAIN, None, existing_eoc.device_id)
            else:
                found = session.device_id()
                if found is not None and found.complete:
                    wanted[eoc_name] = (DeviceKind.END_OF_CHAIN, None, found)
            if self.options.legacy_zip and dot3.zip_connect(port):
                dot3.zip_disconnect(port)
                zip_name = f"{fdo.port_name}.{nt.DOT3_LEGACY_ZIP_ID}"
                wanted[zip_name] = (DeviceKind.LEGACY_ZIP, None, None)
            count = dot3.assign_addresses(port)
            created = 0
            for address in range(min(count, self.options.max_daisy)):
                if not dot3.select(port, address):
                    continue
                found = session.device_id()
                dot3.deselect_all(port)
                if found is not None and found.complete:
                    wanted[f"{fdo.port_name}.{address}"] = (DeviceKind.DAISY_CHAIN, address, found)
                    created += 1
            fdo.daisy_count = created
        self._apply(fdo, wanted, result)

    def _apply(
        self,
        fdo: ParallelPort,
        wanted: dict[str, tuple[DeviceKind, int | None, DeviceId | None]],
        result: Rescan,
    ) -> None:
        for name, device in list(self._devices.items()):
            if device.port is not fdo:
                continue
            spec = wanted.get(name)
            same_id = spec is not None and (
                (spec[2].text if spec[2] else None)
                == (device.device_id.text if device.device_id else None)
                or spec[0] in (DeviceKind.RAW, DeviceKind.LEGACY_ZIP)
            )
            if not same_id:
                self._remove(name)
                result.removed.append(name)
        for name, (kind, daisy_id, device_id) in wanted.items():
            if name in self._devices:
                continue
            device = ParallelDevice(fdo, kind, daisy_id, device_id)
            self.iomgr.register(device, [name])
            self._devices[name] = device
            result.added.append(name)

    def _remove(self, name: str) -> None:
        device = self._devices.pop(name)
        device.remove()
        self.iomgr.unregister(device)

    # --- lifetime -------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._teardown.closed

    def close(self) -> None:
        """Close every handle (releasing what they hold), the devices and the backend;
        idempotent, from any thread, racing any handle's close."""
        self._finalizer.detach()
        self._teardown.close()

    def check(self) -> list[str]:
        """What is wrong with ownership right now (docs/driver.md, "Ownership"); empty when
        every invariant holds. For tests and diagnostics."""
        problems: list[str] = []
        for fdo in self.ports:
            problems += fdo.check()
            owner = fdo.owner
            for device in list(self._devices.values()):
                if device.port is fdo and device.locked and owner is not device:
                    problems.append(f"{device.location} is locked but the port is {owner!r}'s")
            if (
                isinstance(owner, ParallelDevice)
                and not owner.open_handles
                and (not owner._closing or owner.work.stopped)
            ):
                problems.append(
                    f"{fdo.port_name} is held by {owner.location}, which nobody has open"
                )
        return problems

    def __repr__(self) -> str:
        return f"<ParallelBus {self.spec or self.hardware.name}: {', '.join(self._devices)}>"


def open_bus(
    spec: str | Sequence[str] | None = None, *, options: PortOptions | None = None
) -> ParallelBus:
    """Open the backends the specs name (one spec, or several: LPT1, LPT2, … in that order)
    and the bus on them."""
    specs = [spec] if spec is None or isinstance(spec, str) else list(spec)
    if not specs:
        raise ValueError("open_bus needs at least one port spec")
    backends: list[PortBackend] = []
    try:
        for each in specs:
            backends.append(open_backend(each))
        return ParallelBus(backends, options=options, spec=", ".join(s or "" for s in specs))
    except BaseException:
        for backend in backends:
            backend.close()
        raise
