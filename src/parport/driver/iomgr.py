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
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Container, Iterable
from threading import get_ident
from typing import Any, Protocol, TypeVar

from .. import nt
from ..hw.lifetime import Closing
from ..nt.irp import wait_or_cancel, wait_seconds
from .seam import PortOwner
from .tokens import TokenTable

__all__ = ["DeviceObject", "FileObject", "Handle", "IoManager", "normalize_name", "reap_later"]

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_COLLISIONS = 9
_INTERNAL = nt.IRP_MJ_INTERNAL_DEVICE_CONTROL
_DEVICE = nt.IRP_MJ_DEVICE_CONTROL
_WRITE = nt.IRP_MJ_WRITE
CREATE_WAITS_FOR_CLOSE_S = 10.0  # an open of an exclusive device waits this long for a close


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
        self.open_handles: set[FileObject] = set()
        self.removed = False
        self._lock = threading.RLock()

    def create(self, file: FileObject, options: int) -> int:
        """IRP_MJ_CREATE: an NTSTATUS (success lets the handle open). An exclusive device whose
        last handle is still being closed (by another thread, or after it was dropped) opens
        once that close is over."""
        for _ in range(2):
            with self._lock:
                if self.removed:
                    return nt.STATUS_DELETE_PENDING
                if not self.exclusive or not self.open_handles:
                    self.open_handles.add(file)
                    return nt.STATUS_SUCCESS
                closing = [f for f in self.open_handles if f.closing]
                if len(closing) != len(self.open_handles):
                    return nt.STATUS_ACCESS_DENIED
            for other in closing:
                other.wait_closed(CREATE_WAITS_FOR_CLOSE_S)
        return nt.STATUS_ACCESS_DENIED

    def cleanup(self, file: FileObject) -> None:
        """IRP_MJ_CLEANUP: the handle is being closed; cancel and release what it holds."""

    def cleanup_waits_for_this_thread(self) -> bool:
        """Whether a cleanup under way may be waiting for the calling thread (a device's own
        worker): a second close from it must not wait for the first."""
        return False

    def close(self, file: FileObject) -> None:
        """IRP_MJ_CLOSE."""
        with self._lock:
            self.open_handles.discard(file)

    def dispatch(self, irp: nt.Irp) -> None:
        """Complete ``irp`` now, or keep it and complete it later."""
        irp.complete(nt.STATUS_INVALID_DEVICE_REQUEST)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class FileObject(PortOwner):
    """The driver's side of one open handle (NT's FILE_OBJECT): what requests carry
    (``irp.handle``), what owns the port for port requests, what callbacks are bound to.

    It holds no reference to the :class:`Handle` a user has, so a handle dropped without
    ``close()`` becomes garbage and is cleaned up as if closed (with a ``ResourceWarning``), the
    way Python's files and sockets are. Closing waits until no other thread is inside a
    dispatch through this handle (rundown), so no request runs after the cleanup."""

    __slots__ = (
        "__weakref__",
        "_closed",
        "_closer",
        "_done",
        "_drained",
        "_dropped",
        "_inside",
        "_lock",
        "callbacks",
        "context",
        "device",
        "iomgr",
        "name",
    )

    def __init__(self, iomgr: IoManager, device: DeviceObject, name: str) -> None:
        self.iomgr = iomgr
        self.device = device
        self.name = name
        self.callbacks = TokenTable()  # pointers handed out through this handle
        self.context: dict[str, Any] = {}  # per-handle state a device object keeps
        self._closed = False
        self._closer = 0  # the thread running the first close
        self._lock = threading.Lock()
        self._drained = threading.Condition(self._lock)
        self._inside: list[int] = []  # threads inside a dispatch through this handle
        self._done = threading.Event()  # set once a close has finished
        self._dropped = False  # its handle became garbage: a close is on its way

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def closing(self) -> bool:
        """Closed, being closed, or dropped and about to be."""
        return self._closed or self._dropped

    def submit(self, irp: nt.Irp) -> nt.Irp:
        """Dispatch ``irp`` to the device (the handle must be open).

        Rundown without a lock on this path: the dispatching thread enters ``_inside`` and only
        then looks at ``_closed``; a close sets ``_closed`` and only then looks at ``_inside``
        (under its lock). Either the close sees the dispatch and waits for it, or the dispatch
        sees the close and backs out."""
        me = get_ident()
        inside = self._inside
        inside.append(me)
        try:
            if self._closed:
                raise nt.NtStatusError.from_status(
                    nt.STATUS_INVALID_DEVICE_REQUEST, f"{self.name}: the handle is closed"
                )
            self.device.dispatch(irp)
        except nt.NtStatusError:
            raise
        except Exception as exc:  # a driver bug: the request still completes
            log.exception("%r: dispatch of %r raised", self.device, irp)
            if not irp.done:
                irp.complete(nt.STATUS_UNSUCCESSFUL)
            if isinstance(exc, nt.IrpAlreadyCompletedError):
                raise
        finally:
            self._leave(me)
        return irp

    def _leave(self, me: int) -> None:
        """The end of a dispatch or a callback through this handle (the rundown's other half)."""
        self._inside.remove(me)
        if self._closed:
            with self._lock:
                self._drained.notify_all()

    def run_now(self, code: int, data: bytes, output_length: int) -> nt.IoStatus | None:
        """A device control the device can finish in this thread without waiting for anything
        (its ``run_now``: a register script on a free port), done now under the same rundown
        as :meth:`submit`; None when it cannot be done so (submit it instead)."""
        run = getattr(self.device, "run_now", None)
        if run is None:
            return None
        me = get_ident()
        self._inside.append(me)
        try:
            if self._closed:
                return None  # the submit says the handle is closed
            result: nt.IoStatus | None = run(self, code, data, output_length)
            return result
        finally:
            self._leave(me)

    def guarded(self, routine: Callable[..., T], refused: T) -> Callable[..., T]:
        """``routine`` as a callback handed out through this handle: it runs under the same
        rundown as :meth:`submit` (a close waits for a call under way, then cleans up what it
        took), and once the handle is closed it does nothing and answers ``refused``."""

        def callback(*args: Any) -> T:
            me = get_ident()
            self._inside.append(me)
            try:
                return refused if self._closed else routine(*args)
            finally:
                self._leave(me)

        return callback

    @property
    def finished_closing(self) -> bool:
        """Closed, and its cleanup over."""
        return self._done.is_set()

    def close(self) -> None:
        """IRP_MJ_CLEANUP then IRP_MJ_CLOSE, once; a second close waits for the first, except
        from a thread the first may be waiting for — inside a dispatch through this handle, the
        first close's own thread (a completion callback its cancels ran), the device's worker
        (a completion callback of the request the cleanup waits to end) — where it returns at
        once and the first close finishes the job."""
        me = get_ident()
        done = self._done
        with self._lock:
            first = not self._closed
            self._closed = True
            if first:
                self._closer = me
                # Rundown: dispatches already under way through this handle finish first (a
                # close from inside one of them, in this thread, does not wait for itself).
                while any(ident != me for ident in self._inside):
                    self._drained.wait()
        if not first:
            if not (
                me in self._inside
                or me == self._closer
                or self.device.cleanup_waits_for_this_thread()
            ):
                done.wait()
            return
        try:
            self.device.cleanup(self)
        finally:
            self.device.close(self)
            self.iomgr._handle_closed(self)
            self.callbacks.clear()
            self.context.clear()
            done.set()

    def wait_closed(self, timeout: float | None = None) -> bool:
        """Wait until the close under way (or due: a dropped handle's) has finished; False if
        ``timeout`` passed first, or if nobody is closing it."""
        if not self.closing:
            return False
        return self._done.wait(timeout)

    def __repr__(self) -> str:
        return f"<file {self.name}{' closed' if self._closed else ''}>"


def _checked(code: Any, data: Any, output_length: Any) -> bytes:
    """A request's arguments checked, each wrong one named; the input as bytes."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"input must be bytes, not {type(data).__name__}")
    if type(output_length) is not int:  # bool is refused too
        raise TypeError(f"output_length must be an int, not {type(output_length).__name__}")
    if output_length < 0:
        raise ValueError(f"output_length must be >= 0, not {output_length}")
    if isinstance(code, bool) or not isinstance(code, int):
        raise TypeError(f"an IOCTL code must be an int, not {type(code).__name__}")
    if not 0 <= code <= 0xFFFFFFFF:
        raise ValueError(f"an IOCTL code is a 32-bit value, not {code!r}")
    return bytes(data)


class Handle(Closing):
    """An open handle: sends requests to its device object. Thread-safe; ``close()`` idempotent
    (and returns once the handle is closed, whichever thread closes it). A handle that becomes
    garbage unclosed is closed for you, with a ``ResourceWarning``."""

    def __init__(self, file: FileObject, keepalive: object | None = None) -> None:
        self.file = file
        self._keepalive = keepalive  # the bus: alive while any of its handles is
        self._finalizer = weakref.finalize(self, _reap, file)
        self._finalizer.atexit = False  # at exit the process lets everything go anyway

    @property
    def iomgr(self) -> IoManager:
        return self.file.iomgr

    @property
    def device(self) -> DeviceObject:
        return self.file.device

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def callbacks(self) -> TokenTable:
        return self.file.callbacks

    @property
    def context(self) -> dict[str, Any]:
        return self.file.context

    @property
    def closed(self) -> bool:
        return self.file.closed

    # --- non-blocking ---------------------------------------------------------------------------
    def _submit(self, major: nt.IRP_MJ, code: Any, data: Any, output_length: Any) -> nt.Irp:
        if (
            type(data) is not bytes
            or type(output_length) is not int
            or type(code) is not int
            or output_length < 0
            or not 0 <= code <= 0xFFFFFFFF
        ):
            data = _checked(code, data, output_length)
        file = self.file
        return file.submit(nt.Irp._trusted(major, code, data, output_length, file))

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
        if type(length) is not int:
            raise TypeError(f"a read length must be an int, not {type(length).__name__}")
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
        result = irp.result
        if result is not None:
            return result  # answered during dispatch
        result = wait_or_cancel(irp, timeout)
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
        if timeout is not None:
            timeout = wait_seconds(timeout)  # before the request goes: a bad one leaves none
        irp = self._submit(_INTERNAL, code, input, output_length)
        result = irp._result
        return result if result is not None else self._finish(irp, timeout)

    def device_control_now(
        self, code: int, input: bytes = b"", output_length: int = 0
    ) -> nt.IoStatus | None:
        """IRP_MJ_DEVICE_CONTROL done at once in this thread, without a request, when the
        device can do it without waiting (a register script on a free port: the pin calls'
        short way); None when it cannot — then send it as a request."""
        return self.file.run_now(code, input, output_length)

    def device_control(
        self, code: int, input: bytes = b"", output_length: int = 0, timeout: float | None = None
    ) -> nt.IoStatus:
        timeout = wait_seconds(timeout)
        return self._finish(self._submit(_DEVICE, code, input, output_length), timeout)

    def read(self, length: int, timeout: float | None = None) -> nt.IoStatus:
        timeout = wait_seconds(timeout)
        return self._finish(self.submit_read(length), timeout)

    def write(self, data: bytes, timeout: float | None = None) -> nt.IoStatus:
        timeout = wait_seconds(timeout)
        return self._finish(self._submit(_WRITE, 0, data, 0), timeout)

    def query_information(self, info_class: int, length: int) -> nt.IoStatus:
        return self._finish(self.submit_query_information(info_class, length), None)

    def set_information(self, info_class: int, data: bytes = b"") -> nt.IoStatus:
        return self._finish(self.submit_set_information(info_class, data), None)

    # --- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """IRP_MJ_CLEANUP then IRP_MJ_CLOSE; idempotent."""
        self._finalizer.detach()
        self.file.close()

    def __repr__(self) -> str:
        return f"<Handle {self.name}{' closed' if self.closed else ''}>"


# --- handles dropped without close() -------------------------------------------------------------
# A finalizer may run in any thread at any allocation, including inside the code below: nothing
# here may block. The queue's append and popleft are atomic; the reaper's flag is a lock taken
# only without blocking, by whoever finds no reaper running (the reaper looks again after it
# lets go of the flag, so a target queued meanwhile is never left behind).
_reap_queue: deque[Closable] = deque()
_reaper_running = threading.Lock()


class Closable(Protocol):
    def close(self) -> None: ...


def _reap(file: FileObject) -> None:
    """A handle became garbage unclosed: warn, and close it on the reaper thread (a finalizer
    may run anywhere, even where a lock the cleanup needs is held)."""
    file._dropped = True  # an exclusive device's next open waits for this close
    reap_later(file)  # first: with warnings turned into errors, the warning raises
    warnings.warn(f"unclosed parport handle {file.name}", ResourceWarning, stacklevel=2)


def reap_later(target: Closable) -> None:
    """Close ``target`` on the reaper thread, started for the purpose (and ended when done).
    Never blocks, so a finalizer can call it from anywhere."""
    _reap_queue.append(target)
    if not _reaper_running.acquire(blocking=False):
        return  # the running reaper will find it
    try:
        threading.Thread(target=_reap_all, name="parport reaper", daemon=True).start()
    except BaseException:
        _reaper_running.release()
        raise


def _reap_all() -> None:
    while True:
        while _reap_queue:
            try:
                target = _reap_queue.popleft()
            except IndexError:
                break
            try:
                target.close()
            except Exception:
                log.exception("closing %r, which was dropped unclosed, failed", target)
        _reaper_running.release()
        if not _reap_queue or not _reaper_running.acquire(blocking=False):
            return  # nothing more, or another reaper has started for it


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
        self._files: set[FileObject] = set()
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

    def create_file(self, name: str, options: int = 0, keepalive: object | None = None) -> Handle:
        """Open ``name``; raises :class:`~parport.nt.NtStatusError` when the open fails.
        ``keepalive`` is kept alive as long as the handle is (its bus)."""
        if not isinstance(name, str):
            raise TypeError(f"a device name must be a str like 'LPT1.0', not {type(name).__name__}")
        if type(options) is not int:
            raise TypeError(f"options must be an int, not {type(options).__name__}")
        device = self.lookup(name)
        if device is None:
            raise nt.NtStatusError.from_status(
                nt.STATUS_NO_SUCH_DEVICE, f"no device named {name!r}; try one of {self.names()}"
            )
        file = FileObject(self, device, device.symlinks[0] if device.symlinks else device.name)
        status = device.create(file, options)
        if status != nt.STATUS_SUCCESS:
            raise nt.NtStatusError.from_status(status, f"cannot open {name}")
        with self._lock:
            self._files.add(file)
        return Handle(file, keepalive)

    def _handle_closed(self, file: FileObject) -> None:
        with self._lock:
            self._files.discard(file)

    def open_files(self) -> list[FileObject]:
        """The file objects of every handle not yet closed."""
        with self._lock:
            return list(self._files)

    def close_all(self) -> None:
        for file in self.open_files():
            file.close()
