"""The I/O manager: device objects by name, handles, and dispatch of requests to them.

A :class:`DeviceObject` has an internal name (``\\Device\\ParallelPort0``,
``\\Device\\Parallel0.1``) and symbolic links (``LPT1.1``). :meth:`IoManager.create_file` opens
one (the port is shared, each device is exclusive) and gives a :class:`Handle`. Requests are
:class:`~parport.nt.Irp` objects dispatched to the device object by (major function, code); the
device completes them at once or returns with them pending and completes them later.

Blocking calls (``handle.read()``, ``handle.device_control()``…) wait for completion; one whose
``timeout`` (wall-clock seconds) passes cancels its request and returns the request's final
status (``design.md`` §5). ``timeout=0`` means: take what is there now.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Container, Iterable
from typing import Any

from .. import nt
from ..hw.lifetime import Closing
from .tokens import TokenTable

__all__ = ["DeviceObject", "Handle", "IoManager", "normalize_name"]

log = logging.getLogger(__name__)

MAX_COLLISIONS = 9


def normalize_name(name: str) -> str:
    """``\\\\.\\LPT1.0``, ``\\DosDevices\\LPT1.0``, ``lpt1.0:`` → ``LPT1.0``."""
    text = name.strip()
    for prefix in ("\\\\.\\", "\\??\\", "\\DosDevices\\", "\\GLOBAL??\\"):
        if text[: len(prefix)].lower() == prefix.lower():
            text = text[len(prefix) :]
            break
    if text.endswith(":"):
        text = text[:-1]
    if text.startswith("\\"):
        return text
    return text.upper()


class DeviceObject:
    """A named target of requests. Subclasses implement :meth:`dispatch` and the open rules."""

    exclusive = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.symlinks: list[str] = []
        self.iomgr: IoManager | None = None
        self.open_handles: set[Handle] = set()
        self.removed = False
        self._lock = threading.RLock()

    def create(self, handle: Handle, options: int) -> int:
        """IRP_MJ_CREATE: an NTSTATUS (success lets the handle open)."""
        with self._lock:
            if self.removed:
                return nt.STATUS_DELETE_PENDING
            if self.exclusive and self.open_handles:
                return nt.STATUS_ACCESS_DENIED
            self.open_handles.add(handle)
        return nt.STATUS_SUCCESS

    def cleanup(self, handle: Handle) -> None:
        """IRP_MJ_CLEANUP: the handle is being closed; cancel and release what it holds."""

    def close(self, handle: Handle) -> None:
        """IRP_MJ_CLOSE."""
        with self._lock:
            self.open_handles.discard(handle)

    def dispatch(self, irp: nt.Irp) -> None:
        """Complete ``irp`` now, or keep it and complete it later."""
        irp.complete(nt.STATUS_INVALID_DEVICE_REQUEST)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class Handle(Closing):
    """An open handle: sends requests to its device object. Thread-safe; ``close()`` idempotent."""

    def __init__(self, iomgr: IoManager, device: DeviceObject, name: str) -> None:
        self.iomgr = iomgr
        self.device = device
        self.name = name
        self.callbacks = TokenTable()  # pointers handed out through this handle
        self.context: dict[str, Any] = {}  # per-handle state a device object keeps
        self._closed = False
        self._lock = threading.Lock()
        self._outstanding: set[nt.Irp] = set()

    @property
    def closed(self) -> bool:
        return self._closed

    # --- non-blocking ---------------------------------------------------------------------------
    def _submit(self, major: int, code: int, data: bytes, output_length: int) -> nt.Irp:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"input must be bytes, not {type(data).__name__}")
        if output_length < 0:
            raise ValueError(f"output_length must be >= 0, not {output_length}")
        irp = nt.Irp(major, code, data, output_length, self)
        with self._lock:
            if self._closed:
                raise nt.NtStatusError.from_status(
                    nt.STATUS_INVALID_DEVICE_REQUEST, f"{self.name}: the handle is closed"
                )
            self._outstanding.add(irp)
        try:
            self.device.dispatch(irp)
        except Exception as exc:
            log.exception("%r: dispatch of %r raised", self.device, irp)
            if not irp.done:
                irp.complete(nt.STATUS_UNSUCCESSFUL)
            if isinstance(exc, nt.IrpAlreadyCompletedError):
                self._forget(irp)
                raise
        if irp.done:
            self._forget(irp)  # answered in dispatch: nothing outstanding
        else:
            irp.add_done_callback(self._forget)  # at once if it completed meanwhile
        return irp

    def _forget(self, irp: nt.Irp) -> None:
        with self._lock:
            self._outstanding.discard(irp)

    def submit_internal_device_control(
        self, code: int, input: bytes = b"", output_length: int = 0
    ) -> nt.Irp:
        """Send an IRP_MJ_INTERNAL_DEVICE_CONTROL request; returns at once."""
        return self._submit(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, code, input, output_length)

    def submit_device_control(
        self, code: int, input: bytes = b"", output_length: int = 0
    ) -> nt.Irp:
        """Send an IRP_MJ_DEVICE_CONTROL request; returns at once."""
        return self._submit(nt.IRP_MJ_DEVICE_CONTROL, code, input, output_length)

    def submit_read(self, length: int) -> nt.Irp:
        return self._submit(nt.IRP_MJ_READ, 0, b"", length)

    def submit_write(self, data: bytes) -> nt.Irp:
        return self._submit(nt.IRP_MJ_WRITE, 0, data, 0)

    def submit_query_information(self, info_class: int, length: int) -> nt.Irp:
        """IRP_MJ_QUERY_INFORMATION for ``info_class`` (input: the class as a 4-byte ULONG)."""
        return self._submit(
            nt.IRP_MJ_QUERY_INFORMATION, 0, info_class.to_bytes(4, "little"), length
        )

    def submit_set_information(self, info_class: int, data: bytes = b"") -> nt.Irp:
        return self._submit(
            nt.IRP_MJ_SET_INFORMATION, 0, info_class.to_bytes(4, "little") + data, 0
        )

    # --- blocking -------------------------------------------------------------------------------
    @staticmethod
    def _finish(irp: nt.Irp, timeout: float | None) -> nt.IoStatus:
        result = irp.wait(timeout)
        if result is None:
            # Cancel it: a queued request completes STATUS_CANCELLED at once; one being worked
            # on sees the cancel flag between bytes and ends with what it has done.
            irp.cancel()
            result = irp.wait()
        assert result is not None
        return result

    def internal_device_control(
        self, code: int, input: bytes = b"", output_length: int = 0, timeout: float | None = None
    ) -> nt.IoStatus:
        return self._finish(
            self.submit_internal_device_control(code, input, output_length), timeout
        )

    def device_control(
        self, code: int, input: bytes = b"", output_length: int = 0, timeout: float | None = None
    ) -> nt.IoStatus:
        return self._finish(self.submit_device_control(code, input, output_length), timeout)

    def read(self, length: int, timeout: float | None = None) -> nt.IoStatus:
        return self._finish(self.submit_read(length), timeout)

    def write(self, data: bytes, timeout: float | None = None) -> nt.IoStatus:
        return self._finish(self.submit_write(data), timeout)

    def query_information(self, info_class: int, length: int) -> nt.IoStatus:
        return self._finish(self.submit_query_information(info_class, length), None)

    def set_information(self, info_class: int, data: bytes = b"") -> nt.IoStatus:
        return self._finish(self.submit_set_information(info_class, data), None)

    # --- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """IRP_MJ_CLEANUP then IRP_MJ_CLOSE; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.device.cleanup(self)
        finally:
            self.device.close(self)
            self.iomgr._handle_closed(self)
            self.callbacks.clear()

    def __repr__(self) -> str:
        return f"<Handle {self.name}{' closed' if self._closed else ''}>"


def _unused_name(name: str, taken: Container[str]) -> str:
    """``name``, or the first of ``name-1`` … ``name-9`` not in ``taken`` (Part B §2.2)."""
    for attempt in range(MAX_COLLISIONS + 1):
        candidate = name + (f"-{attempt}" if attempt else "")
        if candidate not in taken:
            return candidate
    raise nt.NtStatusError.from_status(
        nt.STATUS_OBJECT_NAME_COLLISION, f"{name}: every suffix -1..-{MAX_COLLISIONS} is taken"
    )


class IoManager:
    """Device objects by internal name and symbolic link; opens handles to them."""

    def __init__(self) -> None:
        self._objects: dict[str, DeviceObject] = {}
        self._links: dict[str, DeviceObject] = {}
        self._handles: set[Handle] = set()
        self._lock = threading.RLock()

    def register(self, device: DeviceObject, symlinks: Iterable[str] = ()) -> DeviceObject:
        """Add ``device``; on a name collision append ``-1`` … ``-9`` (Part B §2.2)."""
        with self._lock:
            device.name = _unused_name(device.name, self._objects)
            self._objects[device.name] = device
            device.iomgr = self
            for link in symlinks:
                candidate = _unused_name(normalize_name(link), self._links)
                self._links[candidate] = device
                device.symlinks.append(candidate)
        return device

    def unregister(self, device: DeviceObject) -> None:
        """Remove ``device``; its open handles get STATUS_DEVICE_REMOVED from then on."""
        with self._lock:
            device.removed = True
            self._objects.pop(device.name, None)
            for link in device.symlinks:
                self._links.pop(link, None)

    def lookup(self, name: str) -> DeviceObject | None:
        key = normalize_name(name)
        with self._lock:
            return self._objects.get(key) or self._links.get(key)

    def names(self) -> list[str]:
        """Every internal name and symbolic link."""
        with self._lock:
            return sorted(self._objects) + sorted(self._links)

    def devices(self) -> list[DeviceObject]:
        with self._lock:
            return list(self._objects.values())

    def create_file(self, name: str, options: int = 0) -> Handle:
        """Open ``name``; raises :class:`~parport.nt.NtStatusError` when the open fails."""
        device = self.lookup(name)
        if device is None:
            raise nt.NtStatusError.from_status(
                nt.STATUS_NO_SUCH_DEVICE, f"no device named {name!r}; try one of {self.names()}"
            )
        handle = Handle(self, device, device.symlinks[0] if device.symlinks else device.name)
        status = device.create(handle, options)
        if status != nt.STATUS_SUCCESS:
            raise nt.NtStatusError.from_status(status, f"cannot open {name}")
        with self._lock:
            self._handles.add(handle)
        return handle

    def _handle_closed(self, handle: Handle) -> None:
        with self._lock:
            self._handles.discard(handle)

    def open_handles(self) -> list[Handle]:
        with self._lock:
            return list(self._handles)

    def close_all(self) -> None:
        for handle in self.open_handles():
            handle.close()
