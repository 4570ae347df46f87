"""The daemon's client: a bus driver whose handles send their requests to ``parportd``.

``parport.connect()`` wraps a :class:`DaemonBus` in the facade's ``Bus``, so a program uses the
same interface as on ``parport.open()``: ``names()``, ``create_file()``, handles with the blocking
and ``submit_*`` calls returning real :class:`~parport.nt.Irp` objects (completed here when the
daemon reports their completion; ``irp.cancel()`` asks the daemon to cancel), the callbacks
(``handle.callbacks.callable(token)`` gives callables that run in the daemon), and on an
emulated port a read-only view of the emulated chain (``bus.hardware.chain``).

Whoever waits reads: a thread blocked in ``irp.wait()`` or a blocking call reads the socket
itself and completes what arrives (no thread switch on the way back); a pump thread reads when
nobody has waited for 5 ms (what arrives in between is delivered at most that much later), and
sleeps through a program's blocking calls once one wait has lasted that long, until a request
is submitted that nobody waits for (see ``_await`` and ``_kick_pump``).
Completion callbacks run on whichever thread read the completion; a callback may itself wait
(the reading goes on in it), so nothing waits for itself.
"""

from __future__ import annotations

import contextlib
import hmac
import itertools
import logging
import math
import os
import select
import socket
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from typing import Any

from .. import nt
from ..driver import Rescan
from ..driver.iomgr import reap_later
from ..hw.lifetime import Closing
from ..nt.irp import wait_or_cancel, wait_seconds
from . import handoff
from . import protocol as p
from .config import default_socket_path
from .lease import LEASE_BYTES, LeaseFile, supported

__all__ = [
    "DaemonAccessError",
    "DaemonBus",
    "DaemonUnavailableError",
    "RemoteHandle",
    "RemoteIrp",
    "open_client",
    "resolve_address",
]

log = logging.getLogger(__name__)

SPEC_PREFIX = "parportd:"
CONNECT_TIMEOUT_S = 10.0  # for the handshake
PUMP_GRACE_S = 0.005  # the pump reads again once no thread has waited for this long
PUMP_PARK_S = 1.0  # the longest the pump sleeps while the program only makes blocking calls
_POLL_MAX_MS = 2**31 - 1  # poll() takes its timeout as a C int of milliseconds
LOCK_PORT, UNLOCK_PORT = nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT
_LOCKS = (LOCK_PORT, UNLOCK_PORT)  # what a lease does without the daemon
_UNLOCKS = (UNLOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT)
_DONE = nt.IoStatus(nt.STATUS_SUCCESS, 0, b"")
ALLOCATE, FREE = nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE, nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE
INTERNAL = nt.IRP_MJ_INTERNAL_DEVICE_CONTROL
READ_ONLY_ATTRIBUTES = frozenset({"kind", "name", "selected", "address", "device_id", "phase"})


class DaemonUnavailableError(nt.DeviceRemovedError):
    """No daemon answers at the address (the message says how to start one)."""

    def __init__(self, message: str) -> None:
        self.status = nt.STATUS_NO_SUCH_DEVICE
        self.information = 0
        Exception.__init__(self, message)


class DaemonAccessError(nt.AccessDeniedError):
    """The daemon's socket does not let this user in (its mode and group)."""

    def __init__(self, message: str) -> None:
        self.status = nt.STATUS_ACCESS_DENIED
        self.information = 0
        Exception.__init__(self, message)


def resolve_address(address: str | None) -> str:
    """The socket path for ``address``: a path, ``parportd:``, ``parportd:/path.sock`` or None
    (the default: :func:`~parport.service.config.default_socket_path`)."""
    if address is None:
        return default_socket_path()
    if not isinstance(address, str):
        raise TypeError(f"address must be a socket path (a str), not {type(address).__name__}")
    if address.startswith(SPEC_PREFIX):
        address = address[len(SPEC_PREFIX) :]
    return address or default_socket_path()


class _Slot:
    """Where a reply waits for the thread that asked: ``_result`` is None until it is in (as
    an :class:`~parport.nt.Irp`'s, so that one wait serves both)."""

    __slots__ = ("_result",)

    def __init__(self) -> None:
        self._result: tuple[int, Any] | None = None

    def set(self, value: tuple[int, Any]) -> None:
        self._result = value


class RemoteIrp(nt.Irp):
    """An :class:`~parport.nt.Irp` sent to the daemon: completed when the daemon says so;
    a wait on the client's reading thread hands the reading to another thread first."""

    __slots__ = ("bus", "seq")

    bus: DaemonBus
    seq: int

    def wait(self, timeout: float | None = None) -> nt.IoStatus | None:
        if self._result is None:
            bus = self.bus
            bus._await(self, wait_seconds(timeout))
            if self._result is None and bus._lost is not None:
                bus._fail_lost(self)
        return self._result


def _argument(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, nt.NtStruct):
        return value.pack()
    raise TypeError(f"a callback argument cannot be a {type(value).__name__} through parportd")


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    return value


class RemoteRoutine:
    """A callback handed out by the daemon: calling it runs the routine in the daemon."""

    def __init__(self, file: RemoteFile, token: int) -> None:
        self.file = file
        self.token = token

    def __call__(self, *args: Any) -> Any:
        converted = [_argument(a) for a in args]
        return _tuples(self.file.bus._request(p.OP_CALL, self.file.hid, self.token, converted))

    def __repr__(self) -> str:
        return f"<parportd routine {self.token:#018x} of {self.file.name}>"


class RemotePointer:
    """A pointer the daemon handed out that stands for one of its objects (a context)."""

    def __init__(self, token: int) -> None:
        self.token = token

    def __repr__(self) -> str:
        return f"<parportd object {self.token:#018x}>"


class RemoteCallbacks:
    """``handle.callbacks`` through the daemon: the same calls as the in-process token table."""

    def __init__(self, file: RemoteFile) -> None:
        self.file = file
        self._routines: dict[int, RemoteRoutine] = {}
        self._tokens: dict[int, int] = {}  # id(local target) -> token
        self._lock = threading.Lock()

    def _kind(self, token: int) -> list[Any]:
        try:
            kind = self.file.bus._request(p.OP_RESOLVE, self.file.hid, token)
        except nt.InvalidParameterError:
            raise KeyError(f"{token:#018x} is not a pointer this handle was given") from None
        return list(kind)

    def resolve(self, token: int) -> Any:
        """The routine, value or object a token stands for; KeyError for one never handed out."""
        with self._lock:
            routine = self._routines.get(token)
        if routine is not None:
            return routine
        kind = self._kind(token)
        if kind[0] == "routine":
            return self.callable(token)
        if kind[0] == "value":
            return kind[1]
        return RemotePointer(token)

    def callable(self, token: int) -> Callable[..., Any]:
        """A callable that runs the routine ``token`` stands for in the daemon."""
        with self._lock:
            routine = self._routines.get(token)
        if routine is not None:
            return routine
        if self._kind(token)[0] != "routine":
            raise TypeError(f"{token:#018x} does not point to a routine")
        with self._lock:
            return self._routines.setdefault(token, RemoteRoutine(self.file, token))

    def token(self, target: Any) -> int:
        """A pointer standing for ``target`` (a callable, or an object with ``set()``) that
        requests can carry (CONNECT_INTERRUPT, PARDOT3_SIGNAL): the daemon tells this process
        when the driver calls it, and ``target`` runs here (its result is not sent back)."""
        with self._lock:
            existing = self._tokens.get(id(target))
        if existing is not None and self.file.bus._local.get(existing) is target:
            return existing
        value = int(self.file.bus._request(p.OP_TOKEN, self.file.hid))
        with self._lock:
            self._tokens[id(target)] = value
        self.file.bus._local[value] = target
        self.file.bus._kick_pump()  # the daemon may call it while no thread waits
        return value

    def clear(self) -> None:
        with self._lock:
            tokens = list(self._tokens.values())
            self._tokens.clear()
            self._routines.clear()
        for token in tokens:
            self.file.bus._local.pop(token, None)


class RemoteFile:
    """The client's side of one handle in the daemon (what requests carry as ``irp.handle``)."""

    def __init__(self, bus: DaemonBus, hid: int, name: str) -> None:
        self.bus = bus
        self.hid = hid
        self.name = name
        self.callbacks = RemoteCallbacks(self)
        self.context: dict[str, Any] = {}
        self._closed = False
        self._done = threading.Event()
        self._lock = threading.Lock()
        self.lease: int | None = None  # its byte in the lease file, while the daemon leases it
        self.held = False  # locked through the lease (the record lock on that byte is held)

    @property
    def closed(self) -> bool:
        return self._closed or self.bus.closed

    def close(self) -> None:
        """Close the handle in the daemon (once; a second close waits for the first)."""
        with self._lock:
            first = not self._closed
            self._closed = True
        if not first:
            self._done.wait()
            return
        self.bus._lease_end(self)
        self.bus._handoff_end(self)
        try:
            if not self.bus.closed:
                self.bus._request(p.OP_CLOSE, self.hid)
        except nt.ParportError as exc:
            log.debug("closing %s: %s", self.name, exc)
        finally:
            self.callbacks.clear()
            self._done.set()

    def drop(self) -> None:
        """Close without waiting (the handle became garbage)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self.bus._lease_end(self)
        self.bus._handoff_end(self)
        self._done.set()
        self.bus._send_quietly([p.OP_CLOSE, self.bus._next_seq(), self.hid])

    def __repr__(self) -> str:
        return f"<parportd file {self.name}{' closed' if self.closed else ''}>"


class _Drop:
    """Closing a dropped handle's file: what the reaper thread runs."""

    __slots__ = ("file",)

    def __init__(self, file: RemoteFile) -> None:
        self.file = file

    def close(self) -> None:
        self.file.drop()


def _dropped(file: RemoteFile) -> None:
    """A handle became garbage unclosed: warn, and close it on the reaper thread (a finalizer
    runs wherever the collector does, maybe in a thread that holds the lock ``drop`` takes)."""
    reap_later(_Drop(file))  # first: with warnings turned into errors, the warning raises
    warnings.warn(f"unclosed parport handle {file.name}", ResourceWarning, stacklevel=2)


class RemoteHandle(Closing):
    """An open handle in the daemon, with the interface of ``parport.driver.Handle``."""

    def __init__(self, file: RemoteFile, keepalive: object | None = None) -> None:
        self.file = file
        self._keepalive = keepalive
        self._finalizer = weakref.finalize(self, _dropped, file)
        self._finalizer.atexit = False

    @property
    def name(self) -> str:
        return self.file.name

    @property
    def callbacks(self) -> RemoteCallbacks:
        return self.file.callbacks

    @property
    def context(self) -> dict[str, Any]:
        return self.file.context

    @property
    def closed(self) -> bool:
        return self.file.closed

    # --- non-blocking ---------------------------------------------------------------------------
    def _submit(self, major: nt.IRP_MJ, code: int, data: Any, output_length: Any) -> nt.Irp:
        if type(data) is not bytes:
            if not isinstance(data, bytes | bytearray | memoryview):
                raise TypeError(f"input must be bytes, not {type(data).__name__}")
            data = bytes(data)
        if type(output_length) is not int:
            raise TypeError(f"output_length must be an int, not {type(output_length).__name__}")
        if output_length < 0:
            raise ValueError(f"output_length must be >= 0, not {output_length}")
        if type(code) is not int:
            if not isinstance(code, int):
                raise TypeError(f"an IOCTL code must be an int, not {type(code).__name__}")
            code = int(code)
        if not 0 <= code <= 0xFFFFFFFF:
            raise ValueError(f"an IOCTL code is a 32-bit value, not {code!r}")
        file = self.file
        if file.held and code in _UNLOCKS and major == nt.IRP_MJ_INTERNAL_DEVICE_CONTROL:
            # An unlock the lease does not take: the lock held through the lease is let go
            # first, so that no lease the daemon grants finds it still held.
            file.bus._lease_end(file)
        return file.bus._submit(file, major, code, data, output_length)

    def _read(self, length: int) -> nt.Irp:
        if type(length) is not int:
            raise TypeError(f"a read length must be an int, not {type(length).__name__}")
        return self._submit(nt.IRP_MJ_READ, 0, b"", length)

    def _write(self, data: bytes) -> nt.Irp:
        return self._submit(nt.IRP_MJ_WRITE, 0, data, 0)

    def _query(self, info_class: int, length: int) -> nt.Irp:
        return self._submit(
            nt.IRP_MJ_QUERY_INFORMATION, 0, info_class.to_bytes(4, "little"), length
        )

    def _set(self, info_class: int, data: bytes) -> nt.Irp:
        return self._submit(
            nt.IRP_MJ_SET_INFORMATION, 0, info_class.to_bytes(4, "little") + data, 0
        )

    def _by_lease(self, code: int, input: bytes, output_length: int) -> bool:
        """Whether this is a LOCK_PORT or UNLOCK_PORT (no buffers) done through the handle's
        lease, without the daemon (lease.py)."""
        if code in _LOCKS and not input and not output_length:
            file = self.file
            return file.lease is not None and file.bus._leased(file, code)
        return False

    def _unwaited(self, irp: nt.Irp) -> nt.Irp:
        """A request handed to the caller, who may never wait for it: its completion must be
        read even if no thread waits (the pump, asleep through a long wait, is woken)."""
        self.file.bus._kick_pump()
        return irp

    def submit_internal_device_control(
        self, code: int, input: bytes = b"", output_length: int = 0
    ) -> nt.Irp:
        """Send an IRP_MJ_INTERNAL_DEVICE_CONTROL request; returns at once."""
        if self._by_lease(code, input, output_length):
            file = self.file
            irp = RemoteIrp._trusted(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, code, b"", 0, file)
            irp.bus = file.bus
            irp.seq = 0
            irp.complete(nt.STATUS_SUCCESS)
            return irp
        return self._unwaited(
            self._submit(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, code, input, output_length)
        )

    def submit_device_control(
        self, code: int, input: bytes = b"", output_length: int = 0
    ) -> nt.Irp:
        """Send an IRP_MJ_DEVICE_CONTROL request; returns at once."""
        return self._unwaited(self._submit(nt.IRP_MJ_DEVICE_CONTROL, code, input, output_length))

    def submit_read(self, length: int) -> nt.Irp:
        return self._unwaited(self._read(length))

    def submit_write(self, data: bytes) -> nt.Irp:
        return self._unwaited(self._write(data))

    def submit_query_information(self, info_class: int, length: int) -> nt.Irp:
        """IRP_MJ_QUERY_INFORMATION for ``info_class`` (input: the class as a 4-byte ULONG)."""
        return self._unwaited(self._query(info_class, length))

    def submit_set_information(self, info_class: int, data: bytes = b"") -> nt.Irp:
        return self._unwaited(self._set(info_class, data))

    # --- blocking (the thread that waits reads its own completion) ------------------------------
    @staticmethod
    def _finish(irp: nt.Irp, timeout: float | None) -> nt.IoStatus:
        result = wait_or_cancel(irp, timeout)
        if result is None:
            irp.cancel()
            result = irp.wait()
        assert result is not None
        return result

    def internal_device_control(
        self, code: int, input: bytes = b"", output_length: int = 0, timeout: float | None = None
    ) -> nt.IoStatus:
        if self._by_lease(code, input, output_length):
            return _DONE
        if timeout is not None:
            timeout = wait_seconds(timeout)  # before the request goes: a bad one leaves none
        return self._finish(
            self._submit(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, code, input, output_length), timeout
        )

    def device_control(
        self, code: int, input: bytes = b"", output_length: int = 0, timeout: float | None = None
    ) -> nt.IoStatus:
        timeout = wait_seconds(timeout)
        return self._finish(
            self._submit(nt.IRP_MJ_DEVICE_CONTROL, code, input, output_length), timeout
        )

    def read(self, length: int, timeout: float | None = None) -> nt.IoStatus:
        timeout = wait_seconds(timeout)
        return self._finish(self._read(length), timeout)

    def write(self, data: bytes, timeout: float | None = None) -> nt.IoStatus:
        timeout = wait_seconds(timeout)
        return self._finish(self._write(data), timeout)

    def query_information(self, info_class: int, length: int) -> nt.IoStatus:
        return self._finish(self._query(info_class, length), None)

    def set_information(self, info_class: int, data: bytes = b"") -> nt.IoStatus:
        return self._finish(self._set(info_class, data), None)

    # --- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """IRP_MJ_CLEANUP then IRP_MJ_CLOSE in the daemon; idempotent."""
        self._finalizer.detach()
        self.file.close()

    def __repr__(self) -> str:
        return f"<Handle {self.name} via parportd{' closed' if self.closed else ''}>"


class RemotePeripheral:
    """One emulated peripheral, read only: ``kind``, ``name``, ``selected``, ``address``,
    ``received`` (a bytearray copy), ``device_id``, ``phase`` — each read asks the daemon."""

    def __init__(self, bus: DaemonBus, port: int, position: int) -> None:
        object.__setattr__(self, "_where", (bus, port, position))

    def __getattr__(self, attribute: str) -> Any:
        bus, port, position = object.__getattribute__(self, "_where")
        if attribute == "received":
            return bytearray(bus._hardware(port, position, attribute))
        if attribute not in READ_ONLY_ATTRIBUTES:
            raise AttributeError(
                f"the daemon's view of an emulated peripheral has no {attribute!r} (it offers "
                f"{', '.join(sorted(READ_ONLY_ATTRIBUTES | {'received'}))})"
            )
        return bus._hardware(port, position, attribute)

    def __setattr__(self, attribute: str, value: Any) -> None:
        raise AttributeError("the daemon's view of the emulated chain is read only")

    def __repr__(self) -> str:
        _, port, position = object.__getattribute__(self, "_where")
        return f"<parportd view of LPT{port + 1} peripheral {position}>"


class RemoteHardware:
    """``bus.hardware`` through the daemon: on an emulated port, ``chain`` (read only)."""

    def __init__(self, bus: DaemonBus, port: int = 0) -> None:
        self._bus = bus
        self._port = port

    @property
    def chain(self) -> list[RemotePeripheral]:
        """The emulated peripherals in cable order."""
        count = int(self._bus._hardware(self._port, -1, "count"))
        return [RemotePeripheral(self._bus, self._port, i) for i in range(count)]

    @property
    def name(self) -> str:
        return str(self._bus._hardware(self._port, -1, "name"))

    def __repr__(self) -> str:
        return f"<parportd view of LPT{self._port + 1}>"


class DaemonBus(Closing):
    """A connection to ``parportd`` with the bus interface the facade needs (``BusDriver``)."""

    def __init__(
        self,
        sock: socket.socket,
        path: str,
        hello: dict[str, Any],
        leases: LeaseFile | None = None,
    ) -> None:
        self.spec = f"{SPEC_PREFIX}{path}"
        self.path = path
        self.info = hello
        self._sock = sock
        self._sock_fd = sock.fileno()
        self._frames = p.FrameReader(sock)
        # The reader waits in poll() for POLLIN, never in a blocking recv: a thread asleep in
        # recv on a Unix stream socket is also woken each time the daemon reads a frame this
        # client sent (the kernel's write-space wake-up of the same wait queue), and goes back
        # to sleep; poll() filters that wake-up out, so a request costs one wake-up, not two.
        self._incoming = select.poll()
        self._incoming.register(sock, select.POLLIN)
        self._polling = 0  # the reading thread's polls under way (one nested in a signal handler)
        self._reads = 0  # the reading thread's _read_until calls under way
        # A read nested in another read of the reading thread ends the outer one's poll through
        # this pipe: the nested read may have taken what the outer one waited for.
        self._nested_r, self._nested_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._incoming.register(self._nested_r, select.POLLIN)
        self._send_lock = threading.Lock()  # orders the frames, and guards the framer
        self._framer = p.Framer()
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._irps: dict[int, RemoteIrp] = {}
        self._replies: dict[int, _Slot] = {}
        self._local: dict[int, Any] = {}  # tokens standing for this process's callables
        self._lost: str | None = None
        self._closed = False
        self._hardware_view: RemoteHardware | None = None
        self._leases = leases  # the lease file offered at the handshake (lease.py)
        self._lease_lock = threading.Lock()
        # Who reads the socket, who waits. The short sections take the lock itself (a
        # Condition's own ``with`` costs two Python calls more on every request).
        self._state_lock = threading.Lock()
        self._state = threading.Condition(self._state_lock)
        self._reading: int | None = None  # the reading thread's ident
        self._waiters = 0  # threads in _await
        self._blocked = 0  # of them, those sleeping while another reads
        self._last_wait = 0.0  # when a waiting thread last left (time.monotonic())
        self._left = 0  # how many waits have ended (the pump tells one long wait from many)
        self._pump_polling = False
        self._pump_parked = False  # the pump sleeps until the last waiting thread leaves
        self._wake_r, self._wake_w = os.pipe()  # tells the pump to stop
        # Direct handoff (handoff.py): where grants for this client's ALLOCATEs arrive, its
        # ALLOCATEs a grant may complete, those it completed (until the daemon confirms; the
        # first message after one tells the daemon, HANDED), and per handle who its FREE may
        # grant the port to. All under ``_lock``.
        self._inbox = _inbox(hello)
        self._grant_sock: socket.socket | None = None  # sends this client's grants
        self._both: select.poll | None = None  # the socket and the inbox, for a reader
        if self._inbox is not None:
            self._grant_sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._both = select.poll()
            self._both.register(sock, select.POLLIN)
            self._both.register(self._inbox.fileno(), select.POLLIN)
            self._both.register(self._nested_r, select.POLLIN)
        self._grantable: dict[int, tuple[RemoteIrp, bytes]] = {}  # with the nonce to expect
        self._handed: set[int] = set()
        self._announce: list[int] = []
        self._successors: dict[int, tuple[bytes, bytes]] = {}  # handle → (inbox, grant)
        self.direct_grants = 0  # ALLOCATEs completed by a grant from the previous owner
        self._pump = threading.Thread(target=self._pump_loop, name="parportd client", daemon=True)
        self._pump.start()

    # --- the bus interface ----------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed or self._lost is not None

    @property
    def trusted(self) -> bool:
        """Whether the daemon lets this process send kernel-level requests."""
        return bool(self.info.get("peer", {}).get("trusted"))

    @property
    def hardware(self) -> RemoteHardware:
        """The first port's emulated chain, read only (``.chain``)."""
        if self._hardware_view is None:
            self._hardware_view = RemoteHardware(self, 0)
        return self._hardware_view

    def names(self) -> list[str]:
        return list(self._request(p.OP_NAMES))

    def create_file(self, name: str, options: int = 0) -> RemoteHandle:
        """Open a device or a port in the daemon; raises :class:`~parport.nt.NtStatusError`
        on failure, as in-process."""
        if not isinstance(name, str):
            raise TypeError(f"a device name must be a str like 'LPT1.0', not {type(name).__name__}")
        if type(options) is not int:
            raise TypeError(f"options must be an int, not {type(options).__name__}")
        if self.closed:
            raise nt.NtStatusError.from_status(nt.STATUS_DELETE_PENDING, "the bus is closed")
        hid, opened_name = self._request(p.OP_CREATE, name, options)
        return RemoteHandle(RemoteFile(self, int(hid), str(opened_name)), keepalive=self)

    def rescan(self, timeout: float | None = None) -> Rescan:
        scanned, added, removed = self._request(p.OP_RESCAN, timeout)
        result = Rescan(bool(scanned), list(added), list(removed))
        result.done.set()
        return result

    def check(self) -> list[str]:
        """The daemon's broken ownership invariants (``ParallelBus.check()``), for tests."""
        return list(self._request(p.OP_CHECK))

    def ping(self) -> None:
        self._request(p.OP_PING)

    def close(self) -> None:
        """Close every handle in the daemon (releasing what they hold), then the connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._lost is None:
            try:
                self._request(p.OP_BYE, closing=True)
            except nt.ParportError as exc:
                log.debug("closing the parportd connection: %s", exc)
        self._connection_lost("the bus was closed")
        # The pump ends once nobody reads; from the reading thread (a completion callback) it
        # cannot end before this returns, so it is not waited for there.
        if self._pump is not threading.current_thread() and self._reading != threading.get_ident():
            self._pump.join(5.0)

    def __repr__(self) -> str:
        return f"<parportd client {self.path}{' closed' if self.closed else ''}>"

    # --- requests -------------------------------------------------------------------------------
    def _next_seq(self) -> int:
        return next(self._counter) & 0xFFFFFFFF

    def _dead(self) -> nt.NtStatusError:
        return nt.DeviceRemovedError(
            nt.STATUS_DEVICE_REMOVED, f"the parportd connection is gone ({self._lost})"
        )

    def _send(self, message: list[Any]) -> None:
        """Send ``message``; first a HANDED for each ALLOCATE granted directly since the last
        send (handoff.py)."""
        try:
            with self._send_lock:
                data = self._framer.frame(message)
                if self._announce:
                    data = self._announced(data)
                self._sock.sendall(data)
        except OSError as exc:
            self._connection_lost(f"sending failed: {exc}")
            raise self._dead() from None

    def _grant(self, file: RemoteFile) -> None:
        """A FREE through ``file`` is about to go: grant the port to the client the daemon said
        is next, when nothing else of this client is in flight (then the daemon reads the FREE
        next, and the new owner's messages wait for it no longer than that)."""
        with self._lock:
            grant = self._successors.pop(file.hid, None)
            if grant is None or self._irps or self._replies:
                return
        if self._grant_sock is not None:
            handoff.send_grant(self._grant_sock, *grant)

    def _announced(self, data: bytes) -> bytes:
        """(``_send_lock`` is held.) ``data`` after a HANDED for each ALLOCATE granted
        directly since the last message."""
        with self._lock:
            announce, self._announce = self._announce, []
        handed = [self._framer.frame([p.OP_HANDED, self._next_seq(), r]) for r in announce]
        return b"".join(handed) + data

    def _send_quietly(self, message: list[Any]) -> None:
        if self._lost is None:
            with contextlib.suppress(nt.ParportError):
                self._send(message)

    def _submit(
        self, file: RemoteFile, major: nt.IRP_MJ, code: int, data: bytes, output_length: int
    ) -> RemoteIrp:
        if file._closed or self._closed or self._lost is not None:  # file.closed, inlined
            if self._lost is not None and not self._closed:
                raise self._dead()
            raise nt.NtStatusError.from_status(
                nt.STATUS_INVALID_DEVICE_REQUEST, f"{file.name}: the handle is closed"
            )
        if len(data) > p.MAX_IO:
            raise ValueError(f"{len(data)} bytes exceed the daemon's limit of {p.MAX_IO}")
        if code == FREE and self._successors and major == INTERNAL:
            self._grant(file)  # first: the next owner wakes while this FREE is made
        irp = RemoteIrp._trusted(major, code, data, output_length, file)  # checked by the handle
        irp.bus = self
        irp.seq = seq = next(self._counter) & 0xFFFFFFFF  # _next_seq, inlined
        with self._lock:
            self._irps[seq] = irp
            if code == ALLOCATE and self._inbox is not None and major == INTERNAL:
                self._grantable[seq] = (irp, self._inbox.nonce(seq))
        irp.arm_cancel(self._cancel_routine)
        try:
            self._send([p.OP_SUBMIT, seq, file.hid, major, code, data, output_length])
        except BaseException:
            with self._lock:
                self._irps.pop(seq, None)
            raise
        if self._lost is not None and not irp.done:  # lost while it was being registered
            with self._lock:
                self._irps.pop(seq, None)
            self._complete(irp, nt.STATUS_DEVICE_REMOVED, 0, b"")
        return irp

    # --- leases (lease.py) -----------------------------------------------------------------------
    def _leased(self, file: RemoteFile, code: int) -> bool:
        """LOCK_PORT or UNLOCK_PORT done through ``file``'s lease, without the daemon; False
        when it must go to the daemon (no lease, a revoked one, not the step the lease takes)."""
        with self._lease_lock:
            leases = self._leases
            slot = file.lease
            if leases is None or slot is None or file._closed or self._closed:
                return False
            if code == LOCK_PORT:
                if file.held:
                    return False
                if leases.hold(slot):
                    file.held = True
                    return True
            else:
                if not file.held:
                    return False
                file.held = False
                if leases.let_go(slot):
                    return True
            file.lease = None  # revoked: the daemon decides from here
            return False

    def _lease_end(self, file: RemoteFile) -> None:
        """``file`` closes: a lock held through its lease is let go (the daemon ends the lease
        as the close arrives, and the close releases what the handle holds)."""
        with self._lease_lock:
            if file.held and self._leases is not None and file.lease is not None:
                self._leases.let_go(file.lease)
            file.held = False
            file.lease = None

    def _kick_pump(self) -> None:
        """Something may arrive that no thread will wait for (a request submitted without a
        wait, a callable the daemon may call): wake the pump if it sleeps through a long wait
        that has ended."""
        if self._pump_parked:
            with self._state_lock:
                if self._pump_parked and not self._waiters:
                    self._state.notify_all()

    def _cancel_routine(self, irp: nt.Irp) -> None:
        assert isinstance(irp, RemoteIrp)
        if self._grantable or self._handed:
            with self._lock:  # a grant taken first stands; one arriving after is dropped
                if irp.seq in self._handed:
                    return
                self._grantable.pop(irp.seq, None)
        if self._lost is None:
            try:
                self._request(p.OP_CANCEL, irp.seq)
            except nt.ParportError as exc:
                log.debug("cancel of %r: %s", irp, exc)

    def _request(self, op: int, *args: Any, closing: bool = False) -> Any:
        """Send an operation and wait for its reply; raises the failure's NtStatusError."""
        if self._lost is not None or (self._closed and not closing):
            raise (
                self._dead()
                if self._lost is not None
                else nt.NtStatusError.from_status(nt.STATUS_DELETE_PENDING, "the bus is closed")
            )
        seq = self._next_seq()
        slot = _Slot()
        with self._lock:
            self._replies[seq] = slot
        try:
            self._send([op, seq, *args])
        except BaseException:  # an argument msgpack cannot carry, or the connection is gone
            with self._lock:
                self._replies.pop(seq, None)
            raise
        self._await(slot, None)
        if slot._result is None:
            with self._lock:
                self._replies.pop(seq, None)
            raise self._dead()
        status, value = slot._result
        if not nt.NT_SUCCESS(status):
            message = value if isinstance(value, str) else ""
            raise nt.NtStatusError.from_status(status, message)
        return value

    def _hardware(self, port: int, position: int, attribute: str) -> Any:
        try:
            return self._request(p.OP_HARDWARE, port, position, attribute)
        except nt.NotSupportedError as exc:
            raise AttributeError(str(exc)) from None

    # --- reading -------------------------------------------------------------------------------
    # Whoever waits reads: a thread waiting for its reply or completion becomes the reader (one
    # at a time, under ``_state``) and reads the socket itself — no thread switch on the way
    # back — dispatching whatever arrives; other waiting threads sleep on ``_state`` until their
    # result is in or the reader leaves. The pump thread reads only once no thread has waited for
    # PUMP_GRACE_S, so that a client making request after request never has two threads woken
    # by one reply. Once one wait lasts longer than that, the pump sleeps — through that wait
    # and the blocking calls after it — until a wait ends with requests or callables outstanding
    # that nobody waits for, or such a request is submitted (_kick_pump), or PUMP_PARK_S pass.
    def _await(self, waitable: _Slot | RemoteIrp, timeout: float | None) -> None:
        """Return once ``waitable`` has its result (or ``timeout`` passed, or the connection is
        lost), reading the socket in this thread when nobody else does."""
        deadline = None if timeout is None else time.monotonic() + timeout
        me = threading.get_ident()
        if self._reading == me:  # a callback of the reading thread waits: go on reading here
            self._read_until(waitable, deadline)
            return
        state = self._state
        lock = self._state_lock
        with lock:
            self._waiters += 1
            polling = self._pump_polling
            reads = self._reading is None and not polling  # nobody reads: this thread does
            if reads:
                self._reading = me
        if polling:  # the pump stands down while threads wait (they read)
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"w")
        try:
            while not reads and waitable._result is None and self._lost is None:
                with lock:
                    if self._reading is None:
                        self._reading = me
                        reads = True
                        break
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return
                    self._blocked += 1
                    try:
                        # Looked at again once counted: the reader sets a result, then looks at
                        # the count to notify (_read_one). One of the two sees the other; a look
                        # before the count could miss a result set since, and sleep through it.
                        if waitable._result is None and self._lost is None:
                            state.wait(remaining)
                    finally:
                        self._blocked -= 1
            if reads:
                self._read_until(waitable, deadline)
                if self._frames.unread:
                    self._drain_buffered()
        finally:
            with lock:
                if reads:
                    self._reading = None
                    if self._blocked or self._lost is not None:
                        state.notify_all()  # waiting threads, or a pump waiting to end
                self._waiters -= 1
                self._left += 1
                self._last_wait = time.monotonic()  # the pump looks at it on its own time
                if self._pump_parked and not self._waiters and (self._irps or self._local):
                    state.notify_all()  # requests nobody waits for: the pump reads again

    def _read_one(self, deadline: float | None) -> bool:
        """Read and dispatch one frame (this thread is the reader); False if ``deadline``
        passed first or the connection is gone."""
        try:
            if self._grantable and not self._frames.buffered():
                # An ALLOCATE waits: a grant may come on the inbox before the daemon answers.
                both = self._both
                assert both is not None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                events = self._poll(both, None if remaining is None else _poll_ms(remaining))
                if not events:  # the deadline passed, the longest poll did, or a nested read
                    return deadline is None or time.monotonic() < deadline
                if len(events) == 1 and events[0][0] != self._sock_fd:  # the daemon's word first
                    self._take_grant()
                    return True
            elif not self._frames.buffered():
                if deadline is None:
                    if not self._poll(self._incoming, None):
                        return True  # a read nested in the poll: look at the result again
                else:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    if not self._poll(self._incoming, _poll_ms(remaining)):
                        return time.monotonic() < deadline  # or nested, or the longest poll
            payload = self._frames.read()
            if payload is None:
                self._connection_lost("parportd closed the connection")
                return False
            message = p.decode(payload)
        except (OSError, p.ProtocolError, ValueError) as exc:
            self._connection_lost(str(exc))
            return False
        self._dispatch(message)
        if self._blocked:
            with self._state_lock:
                self._state.notify_all()
        return True

    def _poll(self, poller: select.poll, ms: int | None) -> list[tuple[int, int]]:
        """``poller.poll(ms)`` for the reading thread: the socket's (and the inbox's) events;
        none when ``ms`` passed or a nested read ended the poll. A read nested in the poll (a
        signal handler of the reading thread makes a request while the thread waits: CPython
        runs the handler inside the poll, then polls again) polls a poll object of its own:
        one cannot be polled twice at once. Its _read_until then ends the outer poll."""
        nested = self._polling
        if nested:
            poller = select.poll()
            poller.register(self._sock, select.POLLIN)
            if self._inbox is not None and self._grantable:
                poller.register(self._inbox.fileno(), select.POLLIN)
        self._polling += 1
        try:
            events = poller.poll(ms)
        finally:
            self._polling -= 1
        if not nested and any(fd == self._nested_r for fd, _ in events):
            with contextlib.suppress(OSError):
                os.read(self._nested_r, 512)
            events = [event for event in events if event[0] != self._nested_r]
        return events

    def _read_until(self, waitable: _Slot | RemoteIrp, deadline: float | None) -> None:
        nested = self._reads  # a read inside another of this thread (a handler, a callback)
        self._reads += 1
        try:
            while waitable._result is None and self._lost is None:
                if not self._read_one(deadline):
                    return
        finally:
            self._reads -= 1
            if nested:  # the outer read looks at its result again before it polls
                with contextlib.suppress(OSError):
                    os.write(self._nested_w, b"n")

    def _drain_buffered(self) -> None:
        """Dispatch the whole frames already read (the pump only wakes for new bytes)."""
        while self._lost is None and self._frames.buffered():
            if not self._read_one(None):
                return

    def _pump_loop(self) -> None:
        poller = select.poll()
        poller.register(self._sock, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        inbox = self._inbox.fileno() if self._inbox is not None else -1
        if inbox >= 0:
            poller.register(inbox, select.POLLIN)
        state = self._state
        me = threading.get_ident()
        try:
            while self._lost is None:
                with state:
                    seen = -1
                    while self._lost is None:
                        idle = time.monotonic() - self._last_wait
                        if not self._waiters and idle >= PUMP_GRACE_S:
                            break
                        if self._pump_parked or (self._waiters and self._left == seen):
                            # One wait has lasted a whole grace period (a request queued behind
                            # other clients): sleep until something may arrive that no thread
                            # waits for (_kick_pump), rather than waking every PUMP_GRACE_S
                            # while the program makes request after request; every PUMP_PARK_S
                            # at most, to see a daemon that went away.
                            self._pump_parked = True
                            notified = state.wait(PUMP_PARK_S)
                            if notified or not self._waiters:
                                self._pump_parked = False
                            seen = self._left
                            continue
                        seen = self._left
                        state.wait(PUMP_GRACE_S if self._waiters else PUMP_GRACE_S - idle)
                    self._pump_polling = True
                try:
                    events = poller.poll()
                finally:
                    with state:
                        self._pump_polling = False
                if any(fd == self._wake_r for fd, _ in events):
                    os.read(self._wake_r, 512)
                    continue
                if any(fd == inbox for fd, _ in events):
                    self._take_grant()
                    if all(fd == inbox for fd, _ in events):
                        continue
                with state:
                    if self._reading is not None or self._waiters:
                        continue  # a waiting thread reads
                    self._reading = me
                try:
                    while self._lost is None and (
                        self._frames.buffered() or _readable(self._sock, 0)
                    ):
                        if not self._read_one(None):
                            break
                finally:
                    with state:
                        self._reading = None
                        state.notify_all()
        finally:
            with state:
                while self._reading is not None:
                    state.wait()
                self._reading = -1  # nobody reads a closed socket
                self._sock.close()
                if self._inbox is not None:
                    self._inbox.close()
                if self._grant_sock is not None:
                    self._grant_sock.close()
                os.close(self._wake_r)
                os.close(self._wake_w)
                os.close(self._nested_r)
                os.close(self._nested_w)
                self._wake_r = self._wake_w = self._nested_r = self._nested_w = -1

    def _dispatch(self, message: Any) -> None:
        if type(message) is not list or not message:
            log.warning("parportd sent something that is not a message: %r", message)
            return
        kind = message[0]
        if kind == p.MSG_COMPLETE:
            if len(message) == 6:  # an UNLOCK_PORT answered with a lease
                _, seq, status, information, output, slot = message
            else:
                _, seq, status, information, output = message
                slot = None
            with self._lock:
                irp = self._irps.pop(seq, None)
                if self._grantable:
                    self._grantable.pop(seq, None)
            if slot is not None and irp is not None:
                self._lease_begin(irp.handle, slot)
            if irp is not None:
                try:  # _complete, inlined: the path of every request
                    irp.complete(status, information, output)
                except (ValueError, nt.IrpAlreadyCompletedError):
                    if not self._confirmed(seq, status):
                        log.exception("parportd completed %r with a result it cannot have", irp)
        elif kind == p.MSG_REPLY:
            _, seq, status, value = message
            with self._lock:
                slot = self._replies.pop(seq, None)
            if slot is not None:
                slot.set((status, value))
        elif kind == p.MSG_ERROR:
            _, seq, status, text = message
            with self._lock:
                slot = self._replies.pop(seq, None)
                irp = self._irps.pop(seq, None) if slot is None else None
            if slot is not None:
                slot.set((status, text))
            elif irp is not None:
                log.warning("parportd refused %r: %s", irp, text)
                self._complete(irp, status, 0, b"")
            else:
                log.warning("parportd: %s", text)
        elif kind == p.MSG_NOTIFY:
            self._notify(message)
        elif kind == p.MSG_NEXT:
            self._next(message)
        elif kind == p.MSG_GOODBYE:
            log.warning("parportd: %s", message[2])
            self._connection_lost(str(message[2]))  # nothing more comes: fail what waits
        else:
            log.warning("parportd sent an unknown message %r", kind)

    # --- direct handoff (handoff.py) -------------------------------------------------------------
    def _next(self, message: list[Any]) -> None:
        """MSG_NEXT: whom a FREE through a handle may grant the port to, directly."""
        if len(message) != 5 or self._inbox is None:  # no inbox: this client takes no part
            return
        _, hid, address, request, tag = message
        if (
            type(hid) is int
            and type(address) is bytes
            and type(request) is int
            and type(tag) is bytes
            and len(tag) == handoff.NONCE_BYTES
        ):
            with self._lock:
                self._successors[hid] = (address, handoff.GRANT.pack(request, tag))

    def _take_grant(self) -> None:
        """Complete the ALLOCATE granted by the datagram waiting in the inbox (a request still
        waiting, not cancelled here, on a handle still open, with the right nonce); the next
        message tells the daemon."""
        assert self._inbox is not None
        grant = self._inbox.take()
        if grant is None:
            return
        request, tag = grant
        with self._lock:
            waiting = self._grantable.get(request)
            if waiting is None or not hmac.compare_digest(waiting[1], tag):
                log.debug("a grant of request %d dropped (not waiting, or a wrong nonce)", request)
                return
            irp = waiting[0]
            if self._closed or getattr(irp.handle, "_closed", True):  # see _handoff_end
                return
            del self._grantable[request]
            self._handed.add(request)
            self._announce.append(request)
            self.direct_grants += 1
        try:
            irp.complete(nt.STATUS_SUCCESS)
        except nt.IrpAlreadyCompletedError:  # the daemon's answer came first
            self._confirmed(request, nt.STATUS_SUCCESS)
        if self._blocked:
            with self._state_lock:
                self._state.notify_all()

    def _handoff_end(self, file: RemoteFile) -> None:
        """``file`` is closing (marked closed already): its NEXT is forgotten, and from here no
        grant is taken for its requests. A grant taken before this (under the same lock) is
        announced before the CLOSE goes out, so the daemon grants that request before the
        close releases it, and the two agree."""
        with self._lock:
            self._successors.pop(file.hid, None)

    def _confirmed(self, request: int, status: int) -> bool:
        """The daemon's answer to an ALLOCATE granted directly (False: not one)."""
        with self._lock:
            if request not in self._handed:
                return False
            self._handed.discard(request)
            with contextlib.suppress(ValueError):
                self._announce.remove(request)
        if status != nt.STATUS_SUCCESS:
            log.warning(
                "parportd answered request %d, granted directly, with %s",
                request,
                nt.status_name(status),
            )
        return True

    def _lease_begin(self, file: Any, slot: Any) -> None:
        if not isinstance(file, RemoteFile) or type(slot) is not int or not 0 <= slot < LEASE_BYTES:
            log.warning("parportd sent a lease it cannot give (%r)", slot)
            return
        with self._lease_lock:
            if not file._closed and not file.held:
                file.lease = slot

    @staticmethod
    def _complete(irp: RemoteIrp, status: int, information: int, output: bytes) -> None:
        try:
            irp.complete(status, information, output)
        except (ValueError, nt.IrpAlreadyCompletedError):
            log.exception("parportd completed %r with a result it cannot have", irp)

    def _notify(self, message: list[Any]) -> None:
        _, token, kind, args = message
        target = self._local.get(token)
        if target is None:
            return
        try:
            if kind == "set" and hasattr(target, "set"):
                target.set()
            elif callable(target):
                target(*args)
        except Exception:
            log.exception("a callable the daemon called (%r) raised", target)

    def _fail_lost(self, irp: RemoteIrp) -> None:
        """A request the lost connection will never answer: STATUS_DEVICE_REMOVED (unless it
        completed meanwhile)."""
        with self._lock:
            self._irps.pop(irp.seq, None)
        with contextlib.suppress(nt.IrpAlreadyCompletedError):
            irp.complete(nt.STATUS_DEVICE_REMOVED)

    def _connection_lost(self, reason: str) -> None:
        """Nothing more comes from the daemon: fail what waits, close the socket."""
        with self._lease_lock:  # the daemon ends every lease of a connection that ends
            leases, self._leases = self._leases, None
        if leases is not None:
            leases.close()
        with self._lock:
            if self._lost is None:
                self._lost = reason
            irps = list(self._irps.values())
            self._irps.clear()
            self._grantable.clear()
            self._successors.clear()
            replies = list(self._replies.values())
            self._replies.clear()
        for slot in replies:
            slot.set((nt.STATUS_DEVICE_REMOVED, f"the parportd connection is gone ({reason})"))
        for irp in irps:
            self._complete(irp, nt.STATUS_DEVICE_REMOVED, 0, b"")
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        with self._state:
            self._state.notify_all()


def _inbox(hello: dict[str, Any]) -> handoff.Inbox | None:
    """The inbox for direct grants the daemon offered (None: not offered, turned off with
    PARPORT_HANDOFF=0, or the address could not be bound)."""
    offered = hello.get("handoff")
    if not _takes_grants() or not (isinstance(offered, list | tuple) and len(offered) == 2):
        return None
    try:
        return handoff.Inbox(*offered)
    except (OSError, ValueError) as exc:
        log.debug("no handoff inbox: %s", exc)
        return None


def _takes_grants() -> bool:
    """Whether this client takes part in direct grants (handoff.py)."""
    return handoff.supported() and os.environ.get("PARPORT_HANDOFF", "1") != "0"


def _poll_ms(seconds: float) -> int:
    """``seconds`` (> 0) as poll()'s timeout: milliseconds, rounded up, at most what it takes
    (a C int: about 24.8 days; a longer wait polls again)."""
    return min(math.ceil(seconds * 1000), _POLL_MAX_MS)


def _readable(sock: socket.socket, timeout: float | None) -> bool:
    """Whether ``sock`` has bytes (or an end of stream) to read within ``timeout`` seconds."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(None if timeout is None else max(0, math.ceil(timeout * 1000))))


def open_client(address: str | None = None, timeout: float = CONNECT_TIMEOUT_S) -> DaemonBus:
    """Connect to ``parportd`` at ``address`` (see :func:`resolve_address`)."""
    path = resolve_address(address)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        sock.close()
        raise DaemonUnavailableError(
            f"no parportd is running at {path} ({exc.strerror}); "
            f"start one with: parportd --socket {path}"
        ) from None
    except PermissionError:
        sock.close()
        raise DaemonAccessError(
            f"not allowed to connect to parportd at {path}: its socket's mode and group decide "
            f"(docs/daemon.md; on most systems, join the group it names, e.g. lp)"
        ) from None
    except OSError as exc:
        sock.close()
        raise DaemonUnavailableError(f"cannot reach parportd at {path}: {exc}") from None
    leases: LeaseFile | None = None
    flags = p.TAKES_GRANTS if _takes_grants() else 0
    try:
        sock.settimeout(timeout)
        if supported() and os.environ.get("PARPORT_LEASES", "1") != "0":
            try:
                leases = LeaseFile()
            except OSError as exc:
                log.debug("no lease file: %s", exc)
        if leases is not None:
            socket.send_fds(sock, [p.handshake_request(flags=flags)], [leases.fd])
        else:
            sock.sendall(p.handshake_request(flags=flags))
        reply = p.read_exact(sock, p.HANDSHAKE.size, at_boundary=False)
        assert reply is not None
        magic, version, result = p.parse_handshake(reply)
        if not magic:
            raise DaemonUnavailableError(f"{path} is not a parportd socket")
        if result == p.HELLO_BUSY:
            raise nt.DeviceBusyError(
                nt.STATUS_DEVICE_BUSY, f"parportd at {path} has too many connections"
            )
        if result != p.HELLO_OK:
            raise nt.NotSupportedError(
                nt.STATUS_NOT_SUPPORTED,
                f"parportd at {path} speaks protocol version {version}, this client {p.VERSION}",
            )
        payload = p.read_frame(sock)
        hello = p.decode(payload) if payload is not None else None
        if not (isinstance(hello, list) and len(hello) == 2 and hello[0] == p.MSG_HELLO):
            raise DaemonUnavailableError(f"parportd at {path} did not say hello")
        sock.settimeout(None)
    except (OSError, p.ProtocolError, ValueError) as exc:
        sock.close()
        if leases is not None:
            leases.close()
        raise DaemonUnavailableError(
            f"the handshake with parportd at {path} failed: {exc}"
        ) from None
    except BaseException:
        sock.close()
        if leases is not None:
            leases.close()
        raise
    return DaemonBus(sock, path, dict(hello[1]), leases)
