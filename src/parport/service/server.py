"""The parportd daemon: owns the ports, serves clients on a Unix socket (docs/daemon.md).

One thread — the loop — accepts connections, reads every connection's frames and runs the
messages that cannot wait for anything: a request submitted to a device (it returns at once; its
completion is sent when it happens, from whichever thread completes it), a cancel, the
information calls. A message that may wait (a close, a callback, a register script, any request
to a port shared with the system, whose claim waits for the kernel) is handed to a thread of
its own, and the connection's later messages run after it, in order, before the loop reads the
connection again. Each new connection's handshake runs on a thread too. One thread for every
connection's messages means no thread switch between them: under many clients the daemon does
less work per request, not more.

What a connection opened is its own: when it drops — closed, crashed, killed — its handles are
closed as ``Handle.close()`` closes them in-process (queued requests cancelled, a lock
released, the device deselected, the port granted to the next waiter).

Sending never blocks the thread that completes a request: a frame goes straight into the socket
when it fits, and otherwise waits in the connection's outbox for the connection's writer thread.
A client that stops reading and lets its outbox grow past :data:`~.protocol.MAX_BACKLOG` is
disconnected (and cleaned up).
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
import select
import socket
import stat
import struct
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import nt
from .._version import __version__
from ..driver import DeviceObject, Handle, ParallelBus, ParallelDevice, ParallelPort, open_bus
from . import handoff
from . import protocol as p
from .access import Peer, peer_of, user_mode_major
from .config import AllowList, Config, PortConfig
from .helpers import Helpers
from .lease import Leases, LeaseView, unlock_is_silent

__all__ = ["Daemon", "DaemonError"]

log = logging.getLogger(__name__)

MAX_CLIENT_ROUTINES = 64  # client callables (OP_TOKEN) per connection
MAX_RESCAN_WAIT_S = 60.0
MAX_MESSAGE = 1000  # characters of a refusal's message
OUTBOX_CHUNK = 64 * 1024  # small frames waiting for a client are joined up to this size
BATCH = 32  # messages one connection runs in a turn of the loop before the others get theirs
SHUTDOWN_FLUSH_S = 1.0  # how long a goodbye waits for the clients to read what is left
LINGER_S = 5.0  # how long an ended connection's client gets to read the answers on their way
SHUTDOWN_SETTLE_S = 5.0  # how long the shutdown waits for messages running apart to end
WATCH_S = 0.05  # how often a connection whose message runs apart is looked at for its client gone
PERIPHERAL_ATTRIBUTES = frozenset(
    {"kind", "name", "selected", "address", "received", "device_id", "phase"}
)
_ALLOCATE = nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE
_MAJORS = {  # the major functions a client may send, by value
    int(major): major
    for major in (
        nt.IRP_MJ_INTERNAL_DEVICE_CONTROL,
        nt.IRP_MJ_DEVICE_CONTROL,
        nt.IRP_MJ_READ,
        nt.IRP_MJ_WRITE,
        nt.IRP_MJ_QUERY_INFORMATION,
        nt.IRP_MJ_SET_INFORMATION,
    )
}


class DaemonError(Exception):
    """The daemon cannot start (its socket is taken, a port cannot be opened …)."""


class _RefusedError(Exception):
    """A request answered with a failure status (and a message for the client)."""

    def __init__(self, status: int, message: str) -> None:
        if len(message) > MAX_MESSAGE:  # it may quote what the client sent, of any length
            message = message[: MAX_MESSAGE - 1] + "…"
        super().__init__(message)
        self.status = status
        self.message = message


def _int(value: object, what: str, low: int = 0, high: int = 0xFFFFFFFF) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _RefusedError(nt.STATUS_INVALID_PARAMETER, f"{what} must be an int {low}..{high}")
    return value


def _bytes(value: object, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise _RefusedError(nt.STATUS_INVALID_PARAMETER, f"{what} must be bytes")
    return value


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise _RefusedError(nt.STATUS_INVALID_PARAMETER, f"{what} must be a str")
    return value


def _args(args: list[Any], count: int, op: str) -> list[Any]:
    if len(args) != count:
        raise _RefusedError(nt.STATUS_INVALID_PARAMETER, f"{op} takes {count} arguments")
    return args


def plain(value: Any, depth: int = 0) -> Any:
    """``value`` as something msgpack carries: structures packed, enums as their values,
    tuples as lists, bytearrays as bytes; anything else as its repr."""
    if value is None or isinstance(value, bool | str | bytes | float):
        return value
    if isinstance(value, int):
        number = int(value)
        return number if -(2**63) <= number < 2**64 else str(number)
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, nt.NtStruct):
        return value.pack()
    if isinstance(value, enum.Enum):
        return plain(value.value, depth + 1)
    if depth < 8 and isinstance(value, list | tuple):
        return [plain(item, depth + 1) for item in value]
    return repr(value)


@dataclass
class _Port:
    """One port the daemon owns: its device object on the bus, and who may use it."""

    index: int
    bus: ParallelBus
    fdo: ParallelPort
    config: PortConfig

    def allow_list(self, device: DeviceObject) -> AllowList | None:
        """The device's own allow list, if it has one (the port's applies to every device)."""
        if isinstance(device, ParallelPort):
            return None
        name = device.symlinks[0] if device.symlinks else device.name
        return self.config.devices.get(name.upper())


@dataclass
class _Open:
    handle: Handle
    port: _Port
    # Whether its requests run on the daemon's loop (Connection._at_once): its internal device
    # controls, its other requests. Not on a port shared with the system (its claim may wait
    # for the kernel), nor the port's own device controls (a register script may sleep).
    internal_at_once: bool = field(init=False)
    others_at_once: bool = field(init=False)

    def __post_init__(self) -> None:
        shared = self.port.fdo.backend.shared
        self.internal_at_once = not shared
        self.others_at_once = not shared and not isinstance(self.handle.device, ParallelPort)


class _ClientRoutine:
    """A client's callable as the driver sees it (a pointer it was given through OP_TOKEN):
    calling it, or ``set()`` on it, tells the client (MSG_NOTIFY). The daemon does not wait for
    the client: the call returns 0 (an ISR that did not claim the interrupt)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = weakref.ref(connection)
        self.token = 0

    def _notify(self, kind: str, args: tuple[Any, ...]) -> None:
        connection = self._connection()
        if connection is not None:
            connection.send([p.MSG_NOTIFY, self.token, kind, [plain(a) for a in args]])

    def __call__(self, *args: Any) -> int:
        self._notify("call", args)
        return 0

    def set(self) -> None:
        self._notify("set", ())


class Turn(enum.Enum):
    """What the loop does with a connection after its turn (:meth:`Connection.serve`)."""

    IDLE = "idle"  # read it again when bytes arrive
    MORE = "more"  # whole messages are left: another turn soon, after the others
    GONE = "gone"  # a thread has it now (a message that may wait, or its cleanup)


class Connection:
    """One client: its handles and requests, its reader and (when needed) writer thread."""

    def __init__(self, daemon: Daemon, sock: socket.socket) -> None:
        self.daemon = daemon
        self.sock = sock
        self.fd = sock.fileno()
        self.peer: Peer | None = None
        self.handles: dict[int, _Open] = {}
        self.pending: dict[int, nt.Irp] = {}
        self._pending_input = 0
        self._routines = 0
        self._next_handle = 1
        self._lock = threading.Lock()
        self._out: deque[bytes | bytearray] = deque()
        self._out_lock = threading.Lock()  # orders the frames, and guards the framer
        self._framer = p.Framer()
        self._out_cond = threading.Condition(self._out_lock)
        self._backlog = 0
        self._writing = False
        self._writer: threading.Thread | None = None
        self._dead = False  # nothing more goes out
        self._ended = False  # its cleanup has run, or is running (end)
        self._end_lock = threading.Lock()
        self._reader: p.FrameReader | None = None  # once the handshake is over
        self.lease_view: LeaseView | None = None  # the client's lease file (lease.py)
        self.inside = False  # handling a message, or cleaning up (lease.py, Leases)
        self._slots: dict[int, int] = {}  # handle → its byte in the lease file
        # Clear while a thread works for the connection apart from the loop (helpers.py): its
        # handshake, a message that may wait (and the messages after it), or its cleanup.
        self._settled = threading.Event()
        self._parting: list[Any] | None = None  # the message the loop let go at (serve)
        self.inbox: tuple[bytes, bytes] | None = None  # its direct grants' address, key

    def __repr__(self) -> str:
        return f"<connection {self.peer or 'handshaking'}>"

    # --- output ---------------------------------------------------------------------------------
    def send(self, message: Any) -> None:
        """Send a message without ever blocking the caller (see the module docstring)."""
        overflow = False
        with self._out_lock:
            if self._dead:
                return
            try:
                data = self._framer.frame(message)
            except ValueError as exc:
                # An answer over the frame limit: the client is told so instead (a request
                # left without its answer would wait for ever).
                log.error("%r: %s; sending an error instead", self, exc)
                if type(message) is not list or message[0] not in (p.MSG_REPLY, p.MSG_COMPLETE):
                    return
                data = self._framer.frame(
                    [p.MSG_ERROR, message[1], nt.STATUS_INVALID_PARAMETER, f"parportd: {exc}"]
                )
            if not self._out and not self._writing:
                try:
                    sent = self.sock.send(data, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    sent = 0
                except OSError:
                    self._dead = True
                    return
                if sent == len(data):
                    return
                data = data[sent:]
            out = self._out
            if out and len(out[-1]) < OUTBOX_CHUNK:  # small answers share a buffer
                tail = out[-1]
                if type(tail) is bytes:
                    tail = out[-1] = bytearray(tail)
                tail += data
            else:
                out.append(data)
            self._backlog += len(data)
            if self._backlog > p.MAX_BACKLOG:
                self._dead = True
                overflow = True
                self._out.clear()
                self._out_cond.notify_all()
            elif self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="parportd writer", daemon=True
                )
                self._writer.start()
            else:
                self._out_cond.notify()
        if overflow:
            log.warning(
                "%r does not read its completions (over %d bytes waiting); disconnecting it",
                self,
                p.MAX_BACKLOG,
            )
            self._shutdown_socket()

    def _write_loop(self) -> None:
        while True:
            with self._out_lock:
                while not self._out and not self._dead:
                    self._out_cond.wait()
                if not self._out:
                    return
                chunk = self._out.popleft()
                self._writing = True
            try:
                self.sock.sendall(chunk)
            except OSError:
                with self._out_lock:
                    self._dead = True
                    self._out.clear()
                    self._writing = False
                    self._out_cond.notify_all()
                return
            with self._out_lock:
                self._writing = False
                self._backlog -= len(chunk)
                self._out_cond.notify_all()

    def flush(self, timeout: float) -> None:
        """Wait until everything queued has gone out (or ``timeout`` passed)."""
        with self._out_lock:
            self._out_cond.wait_for(lambda: self._dead or not (self._out or self._writing), timeout)

    def _shutdown_socket(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def _reply(self, seq: int, value: Any = None, status: int = nt.STATUS_SUCCESS) -> None:
        self.send([p.MSG_REPLY, seq, status, value])

    def _error(self, seq: int | None, status: int, message: str) -> None:
        self.send([p.MSG_ERROR, seq, status, message])

    # --- the reader -----------------------------------------------------------------------------
    def begin(self) -> None:
        """The handshake, on a thread apart; then the loop reads the connection."""
        self.daemon.helpers.run(self._handshake_then_loop)

    def _handshake_then_loop(self) -> None:
        try:
            if self._handshake():
                self._reader = p.FrameReader(self.sock)
                self._settled.set()  # before the loop has it (it may hand it to a thread again)
                if self.daemon.adopt(self):
                    return
        except Exception:
            log.exception("%r: unexpected failure in the handshake", self)
        self._settled.set()
        self.end()

    def settle(self, timeout: float) -> bool:
        """Wait until no thread works for the connection apart from the loop."""
        return self._settled.wait(timeout)

    def serve(self, read: bool) -> Turn:
        """The loop's turn (on the loop thread): read what arrived when ``read``, then run up to
        :data:`BATCH` whole messages. A message that may wait is handed to a thread of its own
        (:meth:`_apart`), and so is the connection's end."""
        reader = self._reader
        assert reader is not None
        try:
            if self._dead:
                return self._let_go(None)
            # Nothing is read while whole messages wait: the client's own sends then block on
            # its full socket (a flood is held up at its source, not buffered here).
            if read and not reader.buffered():
                got = reader.receive()
                if got is False:
                    log.debug("%r closed the connection", self)
                    return self._let_go(None)
                if got is not True:  # one whole frame, and nothing else buffered
                    return self._step(got) or Turn.IDLE
            for _ in range(BATCH):
                if self._dead:  # gone, or cut off: what it sent and nobody will read is dropped
                    return self._let_go(None)
                payload = reader.take()
                if payload is None:
                    return Turn.IDLE
                if turn := self._step(payload):
                    return turn
            return Turn.MORE if reader.buffered() else Turn.IDLE
        except p.ProtocolError as exc:
            log.info("%r broke the protocol (%s); disconnecting it", self, exc)
            self._error(None, nt.STATUS_INVALID_PARAMETER, str(exc))
        except OSError as exc:
            log.debug("%r: connection ended: %s", self, exc)
        except Exception:
            log.exception("%r: unexpected failure; disconnecting it", self)
        return self._let_go(None)

    def _step(self, payload: bytes) -> Turn | None:
        """One message on the loop: run it, or hand it to a thread (GONE) when it may wait."""
        message = self._decode(payload)
        if message is None:
            return None
        if not self._at_once(message):
            return self._let_go(message)
        self._run(message)
        return None

    def went_away(self) -> None:
        """The client went while a message of its connection runs apart from the loop (which
        does not watch the socket meanwhile): nothing more goes out, and its requests are
        cancelled, so that one still running — a register script asleep — ends now, and the
        cleanup that frees what the client held follows at once."""
        self.hung_up()
        self.cancel_pending()

    def cancel_pending(self) -> None:
        """Cancel every request this connection has pending (a running register script cuts
        its sleeps short; one queued for the port leaves the queue)."""
        with self._lock:
            pending = list(self.pending.values())
        for irp in pending:
            irp.cancel()

    def hung_up(self) -> None:
        """The loop saw the socket closed both ways (the client is gone, or was cut off):
        nothing more goes out, and its turn ends the connection without running what it left
        unread."""
        with self._out_lock:
            self._dead = True

    def _let_go(self, message: list[Any] | None) -> Turn:
        """The loop stops reading this connection: once it has, :meth:`go_apart`."""
        self._parting = message
        return Turn.GONE

    def go_apart(self) -> None:
        """A thread runs the message the loop stopped at and what was read after it, then gives
        the connection back to the loop; or, when the connection ended, cleans it up. (The loop
        has let go of the socket first: the cleanup closes it.)"""
        message, self._parting = self._parting, None
        self._settled.clear()
        self.daemon.watch(self)
        self.daemon.helpers.run(lambda: self._apart(message))

    def _apart(self, message: list[Any] | None) -> None:
        try:
            self._run_apart(message)
        finally:
            self.daemon.unwatch(self)

    def _run_apart(self, message: list[Any] | None) -> None:
        reader = self._reader
        assert reader is not None
        try:
            if message is not None:
                self._run(message)
                while not self._dead and (payload := reader.take()) is not None:
                    following = self._decode(payload)
                    if following is not None:
                        self._run(following)
                self._settled.set()  # before the loop has it (it may hand it to a thread again)
                if not self._dead and self.daemon.adopt(self):
                    return
        except p.ProtocolError as exc:
            log.info("%r broke the protocol (%s); disconnecting it", self, exc)
            self._error(None, nt.STATUS_INVALID_PARAMETER, str(exc))
        except Exception:
            log.exception("%r: unexpected failure; disconnecting it", self)
        self._settled.set()
        self.end()

    def _at_once(self, message: list[Any]) -> bool:
        """Whether ``message`` runs on the loop: it waits for nothing (see the module
        docstring). A request to a device returns once queued; the port's own internal requests
        are short steps on the wire; a port shared with the system may wait for its claim."""
        op: int = message[0]
        if op in _AT_ONCE:
            return True
        if op == p.OP_HANDED:  # at once when the request is granted (or unknown) already
            request = message[2] if len(message) == 3 else None
            irp = self.pending.get(request) if type(request) is int else None
            return irp is None or irp.done
        if op == p.OP_SUBMIT:
            if len(message) != 7:
                return True  # refused at once
            opened = self._opened(message[2])
            if opened is None:
                return True
            if message[3] == nt.IRP_MJ_INTERNAL_DEVICE_CONTROL:
                return opened.internal_at_once
            return opened.others_at_once
        if op == p.OP_CALL and len(message) == 5:  # the port's callbacks wait for nothing
            opened, token = self._opened(message[2]), message[3]
            if opened is None or type(token) is not int:
                return True  # refused at once
            try:
                routine = opened.handle.callbacks.resolve(token)
            except KeyError:
                return True
            return opened.port.fdo.waits_for_nothing(opened.handle.file, routine)
        return False

    def _opened(self, handle_id: object) -> _Open | None:
        return self.handles.get(handle_id) if type(handle_id) is int else None

    def _decode(self, payload: bytes) -> list[Any] | None:
        """The message in ``payload``, or None when it is not one (the client is told)."""
        try:
            message = p.decode_request(payload)
        except ValueError as exc:
            self._error(None, nt.STATUS_INVALID_PARAMETER, str(exc))
            return None
        # op and seq are 32-bit numbers (msgpack gives exact ints; a boolean is not one).
        if (
            type(message) is not list
            or len(message) < 2
            or type(message[0]) is not int
            or type(message[1]) is not int
            or not 0 <= message[0] <= 0xFFFFFFFF
            or not 0 <= message[1] <= 0xFFFFFFFF
        ):
            self._error(None, nt.STATUS_INVALID_PARAMETER, "a message is [op, seq, ...]")
            return None
        return message

    def _run(self, message: list[Any]) -> None:
        # Busy first, then every lease ends: whatever this is, it may see the port (lease.py).
        self.inside = True
        try:
            leases = self.daemon.leases
            if leases.held:
                leases.end()
            op, seq, args = message[0], message[1], message[2:]
            handler = _OPERATIONS.get(op)
            if handler is None:
                self._error(seq, nt.STATUS_INVALID_PARAMETER, f"unknown operation {op}")
                return
            try:
                handler(self, seq, args)
            except _RefusedError as refused:
                if op == p.OP_SUBMIT:
                    self._error(seq, refused.status, refused.message)
                else:
                    self._reply(seq, refused.message, refused.status)
            except Exception:
                log.exception("%r: %s failed", self, p.OP_NAMES_BY_CODE.get(op, op))
                self._error(seq, nt.STATUS_UNSUCCESSFUL, "the daemon failed on this request")
        finally:
            self.inside = False

    def _handshake(self) -> bool:
        self.sock.settimeout(p.HANDSHAKE_TIMEOUT_S)
        try:
            self.peer = peer_of(self.sock, self.daemon.config)
            data, fds = p.read_handshake(self.sock)
        except (OSError, p.ProtocolError) as exc:
            log.info("a connection ended during its handshake: %s", exc)
            return False
        for extra in fds[1:]:
            os.close(extra)
        if fds:  # a lease file offered (lease.py); adopt() closes what it was passed
            view = LeaseView.adopt(fds[0])
            if view is not None and self.daemon.config.leases and data is not None:
                self.lease_view = view
            elif view is not None:
                view.close()
        if data is None:
            return False
        magic, version, flags = p.parse_handshake(data)
        result = p.HELLO_OK
        if not magic:
            result = p.HELLO_BAD_MAGIC
        elif version != p.VERSION:
            result = p.HELLO_BAD_VERSION
        try:
            self.sock.sendall(p.handshake_reply(result))
        except OSError:
            return False
        if result != p.HELLO_OK:
            log.info("%r: handshake refused (magic %s, version %d)", self, magic, version)
            return False
        self.sock.settimeout(None)
        hello = self.daemon.info(self.peer)
        if flags & p.TAKES_GRANTS and handoff.supported():
            self.inbox = handoff.new_inbox()
            hello["handoff"] = list(self.inbox)
        self.send([p.MSG_HELLO, hello])
        log.debug("%r connected (trusted: %s)", self, self.peer.trusted)
        return True

    # --- checks ---------------------------------------------------------------------------------
    def _trusted(self, what: str) -> None:
        peer = self.peer
        assert peer is not None
        if not peer.trusted:
            log.warning("refused %s to %s: for trusted principals only", what, peer)
            raise _RefusedError(nt.STATUS_ACCESS_DENIED, f"{what}: for trusted principals only")

    def _open(self, handle_id: object) -> _Open:
        hid = _int(handle_id, "a handle")
        with self._lock:
            opened = self.handles.get(hid)
        if opened is None:
            raise _RefusedError(
                nt.STATUS_INVALID_DEVICE_REQUEST, f"no handle {hid} on this connection"
            )
        return opened

    # --- operations -----------------------------------------------------------------------------
    def _op_names(self, seq: int, args: list[Any]) -> None:
        _args(args, 0, "NAMES")
        self._reply(seq, self.daemon.names())

    def _op_create(self, seq: int, args: list[Any]) -> None:
        name, options = _args(args, 2, "CREATE")
        name = _str(name, "a device name")
        options = _int(options, "options")
        peer = self.peer
        assert peer is not None
        if self.daemon.stopping:
            raise _RefusedError(nt.STATUS_DELETE_PENDING, "the daemon is shutting down")
        with self._lock:
            if len(self.handles) >= p.MAX_HANDLES:
                raise _RefusedError(
                    nt.STATUS_INSUFFICIENT_RESOURCES,
                    f"a connection may hold {p.MAX_HANDLES} handles",
                )
        port, device = self.daemon.lookup(name)
        if port is None or device is None:
            raise _RefusedError(
                nt.STATUS_NO_SUCH_DEVICE,
                f"no device named {name!r}; try one of {self.daemon.names()}",
            )
        own = port.allow_list(device)
        if not peer.allowed(port.config.allow) or (own is not None and not peer.allowed(own)):
            log.warning("refused the open of %s to %s: not on its allow list", name, peer)
            raise _RefusedError(nt.STATUS_ACCESS_DENIED, f"{name}: not on its allow list")
        try:
            handle = port.bus.create_file(name, options)
        except nt.NtStatusError as exc:
            raise _RefusedError(exc.status, str(exc)) from None
        with self._lock:
            hid = self._next_handle
            self._next_handle += 1
            self.handles[hid] = _Open(handle, port)
            ending = self._ended
        if self.inbox is not None and isinstance(handle.device, ParallelPort):  # may grant
            handle.file.context[handoff.CLIENT] = (weakref.ref(self), hid)
        if ending:  # the connection dropped meanwhile: its cleanup may have run already
            handle.close()
            return
        self._reply(seq, [hid, handle.name])

    def _op_close(self, seq: int, args: list[Any]) -> None:
        (handle_id,) = _args(args, 1, "CLOSE")
        opened = self._open(handle_id)
        with self._lock:
            self.handles.pop(handle_id, None)
        self._slots.pop(handle_id, None)  # its lease ended as this message began
        opened.handle.close()
        self._reply(seq)

    def _op_submit(self, seq: int, args: list[Any]) -> None:
        if len(args) != 5:
            _args(args, 5, "SUBMIT")  # refuses
        handle_id, major, code, data, output_length = args
        if not (  # what msgpack gives for good arguments: exact ints and bytes, in range
            type(major) is int
            and type(code) is int
            and type(data) is bytes
            and type(output_length) is int
            and 0 <= major <= 0xFF
            and 0 <= code <= 0xFFFFFFFF
            and 0 <= output_length <= p.MAX_IO
        ):
            _int(major, "a major function", 0, 0xFF)  # the first that is wrong refuses
            _int(code, "a code")
            _bytes(data, "input")
            _int(output_length, "output_length", 0, p.MAX_IO)
        peer = self.peer
        assert peer is not None
        pending = self.pending
        refused: int
        with self._lock:
            if seq in pending:
                raise _RefusedError(nt.STATUS_INVALID_PARAMETER, f"request {seq} is still pending")
            if (
                len(pending) >= p.MAX_REQUESTS
                or self._pending_input + len(data) > p.MAX_PENDING_INPUT
            ):
                refused = nt.STATUS_INSUFFICIENT_RESOURCES
            else:
                opened = self.handles.get(handle_id) if type(handle_id) is int else None
                member = _MAJORS.get(major)
                if opened is None or member is None:
                    stopping = opened is None and self.daemon.stopping
                    refused = (
                        nt.STATUS_DELETE_PENDING if stopping else nt.STATUS_INVALID_DEVICE_REQUEST
                    )
                elif not peer.trusted and not user_mode_major(major):
                    refused = nt.STATUS_ACCESS_DENIED
                else:
                    refused = 0
                    file = opened.handle.file
                    irp = nt.Irp._trusted(member, code, data, output_length, file)
                    pending[seq] = irp
                    self._pending_input += len(data)
        if refused:
            if refused == nt.STATUS_ACCESS_DENIED:
                assert opened is not None
                log.warning(
                    "refused %s on %s to %s: kernel-level requests are for trusted principals",
                    nt.ioctl_name(major, code),
                    opened.handle.name,
                    peer,
                )
            self._complete(seq, refused)
            return

        def completed(irp: nt.Irp) -> None:
            with self._lock:
                if pending.get(seq) is irp:
                    del pending[seq]
                    self._pending_input -= len(irp.input)
            result = irp._result
            assert result is not None
            self.send([p.MSG_COMPLETE, seq, result.status, result.information, result.output])
            if code == _ALLOCATE and not result.status and opened is not None:
                self.daemon.successors.tell(opened.port.fdo.arbiter)  # its next, if waiting

        if (
            code == nt.IOCTL_INTERNAL_UNLOCK_PORT
            and major == nt.IRP_MJ_INTERNAL_DEVICE_CONTROL
            and self.lease_view is not None
            and not data
            and not output_length
            and opened is not None
            and self._lease(seq, handle_id, opened, irp)
        ):
            return
        irp.add_done_callback(completed)
        try:
            file.submit(irp)
        except nt.NtStatusError as exc:
            if not irp.done:
                irp.complete(exc.status)
        if code == _ALLOCATE and not irp.done and opened is not None:
            self._queued(seq, irp, opened)

    def _queued(self, seq: int, irp: nt.Irp, opened: _Open) -> None:
        """An ALLOCATE waits for the port: when this client takes direct grants and the
        request is a port handle's on a port the daemon alone uses (a grant there does nothing
        on the wire or in the kernel), the owner may be told it is next (handoff.py)."""
        if (
            self.inbox is not None
            and irp.major_function == nt.IRP_MJ_INTERNAL_DEVICE_CONTROL
            and opened.internal_at_once
            and isinstance(opened.handle.device, ParallelPort)
        ):
            self.daemon.successors.waiting(irp, self, seq, self.inbox, opened.port.fdo.arbiter)

    def _complete(self, seq: int, status: int) -> None:
        self.send([p.MSG_COMPLETE, seq, status, 0, b""])

    def _lease(self, seq: int, handle_id: int, opened: _Open, irp: nt.Irp) -> bool:
        """An UNLOCK_PORT answered with a lease (lease.py) instead of run, when it would only
        free the port and the daemon has nothing else to do; False to run it."""
        view = self.lease_view
        device = opened.handle.device
        if view is None:
            return False
        slot = self._slots.get(handle_id)
        if slot is None:
            used = set(self._slots.values())
            slot = next(i for i in range(p.MAX_HANDLES + 1) if i not in used)
            self._slots[handle_id] = slot
        daemon = self.daemon

        def quiet() -> bool:
            if not unlock_is_silent(device):
                return False
            with daemon._lock:
                connections = list(daemon._connections)
            for connection in connections:
                if connection is self:
                    if len(connection.pending) != 1:  # this UNLOCK_PORT's own
                        return False
                elif connection.inside or connection.pending:
                    return False
            return True

        def unlock() -> None:
            result = opened.handle.internal_device_control(nt.IOCTL_INTERNAL_UNLOCK_PORT)
            if result.status != nt.STATUS_SUCCESS:
                log.warning("%r: the UNLOCK_PORT a lease stood for: %s", self, result)

        if not daemon.leases.grant(self, view, slot, unlock, quiet):
            return False
        with self._lock:
            if self.pending.get(seq) is irp:
                del self.pending[seq]
        self.send([p.MSG_COMPLETE, seq, nt.STATUS_SUCCESS, 0, b"", slot])
        return True

    def _op_cancel(self, seq: int, args: list[Any]) -> None:
        (request,) = _args(args, 1, "CANCEL")
        request = _int(request, "a request")
        with self._lock:
            irp = self.pending.get(request)
        self._reply(seq, irp.cancel() if irp is not None else False)

    def _op_resolve(self, seq: int, args: list[Any]) -> None:
        handle_id, token = _args(args, 2, "RESOLVE")
        self._trusted("a callback")
        opened = self._open(handle_id)
        try:
            target = opened.handle.callbacks.resolve(_int(token, "a token", 0, 2**64 - 1))
        except KeyError as exc:
            raise _RefusedError(nt.STATUS_INVALID_PARAMETER, str(exc.args[0])) from None
        if callable(target):
            self._reply(seq, ["routine"])
        elif isinstance(target, str | int | bytes):
            self._reply(seq, ["value", plain(target)])
        else:
            self._reply(seq, ["object"])

    def _op_call(self, seq: int, args: list[Any]) -> None:
        handle_id, token, call_args = _args(args, 3, "CALL")
        self._trusted("a callback")
        opened = self._open(handle_id)
        if not isinstance(call_args, list) or not all(
            a is None or isinstance(a, bool | int | float | str | bytes) for a in call_args
        ):
            raise _RefusedError(nt.STATUS_INVALID_PARAMETER, "callback arguments are plain values")
        try:
            routine = opened.handle.callbacks.callable(_int(token, "a token", 0, 2**64 - 1))
        except (KeyError, TypeError) as exc:
            raise _RefusedError(nt.STATUS_INVALID_PARAMETER, str(exc.args[0])) from None
        try:
            result = routine(*call_args)
        except (TypeError, ValueError, LookupError, struct.error) as exc:
            # Arguments the routine cannot take (a wrong count, a short structure …).
            raise _RefusedError(
                nt.STATUS_INVALID_PARAMETER, f"the callback's arguments: {exc}"
            ) from None
        self._reply(seq, plain(result))

    def _op_token(self, seq: int, args: list[Any]) -> None:
        (handle_id,) = _args(args, 1, "TOKEN")
        self._trusted("a callback")
        opened = self._open(handle_id)
        with self._lock:
            if self._routines >= MAX_CLIENT_ROUTINES:
                raise _RefusedError(
                    nt.STATUS_INSUFFICIENT_RESOURCES,
                    f"a connection may hand out {MAX_CLIENT_ROUTINES} routines",
                )
            self._routines += 1
        routine = _ClientRoutine(self)
        routine.token = opened.handle.callbacks.token(routine)
        self._reply(seq, routine.token)

    def _op_rescan(self, seq: int, args: list[Any]) -> None:
        (timeout,) = _args(args, 1, "RESCAN")
        self._trusted("a rescan")
        if timeout is not None and (
            not isinstance(timeout, int | float)
            or isinstance(timeout, bool)
            or not 0 <= timeout <= MAX_RESCAN_WAIT_S
        ):
            raise _RefusedError(nt.STATUS_INVALID_PARAMETER, "a rescan timeout is 0..60 s or nil")
        bus = self.daemon.bus
        assert bus is not None
        result = bus.rescan(MAX_RESCAN_WAIT_S if timeout is None else float(timeout))
        self._reply(seq, [result.scanned, result.added, result.removed])

    def _op_hardware(self, seq: int, args: list[Any]) -> None:
        index, position, attribute = _args(args, 3, "HARDWARE")
        peer = self.peer
        assert peer is not None
        port = self.daemon.port(_int(index, "a port", 0, 255))
        if port is None:
            raise _RefusedError(nt.STATUS_NO_SUCH_DEVICE, f"no port {index}")
        if not peer.allowed(port.config.allow):
            log.warning("refused the view of port %d to %s: not on its allow list", index, peer)
            raise _RefusedError(nt.STATUS_ACCESS_DENIED, "not on the port's allow list")
        self._reply(seq, _hardware(port, _int(position, "a position", -1, 255), attribute))

    def _op_check(self, seq: int, args: list[Any]) -> None:
        _args(args, 0, "CHECK")
        self._trusted("diagnostics")
        bus = self.daemon.bus
        assert bus is not None
        self._reply(seq, bus.check())

    def _op_ping(self, seq: int, args: list[Any]) -> None:
        self._reply(seq)

    def _op_bye(self, seq: int, args: list[Any]) -> None:
        self.close_handles()
        self._reply(seq)

    def _op_handed(self, seq: int, args: list[Any]) -> None:
        """The client took a direct grant of its ALLOCATE ``request`` (handoff.py): nothing
        more of this connection runs until the daemon has granted it too — the owner's FREE is
        on its way, or the owner's cleanup frees the port if it died — or the client is gone
        (the daemon's watch of connections running apart cancels the request: went_away). No
        answer."""
        if len(args) != 1 or type(args[0]) is not int:
            self._error(seq, nt.STATUS_INVALID_PARAMETER, "HANDED takes one request number")
            return
        with self._lock:
            irp = self.pending.get(args[0])
        if irp is not None:
            irp.wait()

    def _op_info(self, seq: int, args: list[Any]) -> None:
        assert self.peer is not None
        self._reply(seq, self.daemon.info(self.peer))

    # --- the end --------------------------------------------------------------------------------
    def close_handles(self) -> None:
        """Cancel every request of this connection, then close its handles (what the client
        holds is released). Cancelling first keeps a lock given up by one handle from being
        granted to a request the same connection still had queued on another."""
        self.cancel_pending()
        with self._lock:
            opened = list(self.handles.values())
            self.handles.clear()
        self._slots.clear()
        for each in opened:
            try:
                each.handle.close()
            except Exception:
                log.exception("%r: closing %r failed", self, each.handle)
        if opened:
            log.debug("%r: closed %d handles", self, len(opened))

    def goodbye(self, message: str) -> None:
        """The daemon is going away: release everything and tell the client (then
        :meth:`hang_up`)."""
        self.daemon.leases.close()  # no lease begins from here, and every one ends
        self.close_handles()
        self.send([p.MSG_GOODBYE, nt.STATUS_DELETE_PENDING, message])

    def hang_up(self, deadline: float) -> None:
        """Let the client read what is left until ``deadline`` (time.monotonic()), then hang
        up."""
        self.flush(max(0.0, deadline - time.monotonic()))
        self._shutdown_socket()

    def end(self) -> None:
        """The connection's cleanup, once: whoever comes second waits until it is over."""
        with self._end_lock:
            if self._ended:
                return
            with self._lock:  # a CREATE still under way sees it (_op_create)
                self._ended = True
            self._clean_up()

    def _clean_up(self) -> None:
        if self._reader is not None:
            self._reader.clear()  # what a client sent and never saw answered goes now
        if self.handles:
            log.info("%r dropped; closing its %d handles", self, len(self.handles))
        self.inside = True  # for good: no lease begins while this cleans up
        self.daemon.leases.end()
        self.close_handles()
        # A client that only shut down its sending side still reads: what is on its way goes
        # out first (the port is already given back); a client that is gone fails the send.
        self.flush(LINGER_S)
        with self._out_lock:
            self._dead = True
            self._out.clear()
            self._out_cond.notify_all()
        self._shutdown_socket()
        self.sock.close()
        if self.lease_view is not None:
            self.lease_view.close()
        self.daemon.forget(self)


_OPERATIONS: dict[int, Callable[[Connection, int, list[Any]], None]] = {
    p.OP_NAMES: Connection._op_names,
    p.OP_CREATE: Connection._op_create,
    p.OP_CLOSE: Connection._op_close,
    p.OP_SUBMIT: Connection._op_submit,
    p.OP_CANCEL: Connection._op_cancel,
    p.OP_RESOLVE: Connection._op_resolve,
    p.OP_CALL: Connection._op_call,
    p.OP_TOKEN: Connection._op_token,
    p.OP_RESCAN: Connection._op_rescan,
    p.OP_HARDWARE: Connection._op_hardware,
    p.OP_CHECK: Connection._op_check,
    p.OP_PING: Connection._op_ping,
    p.OP_BYE: Connection._op_bye,
    p.OP_INFO: Connection._op_info,
    p.OP_HANDED: Connection._op_handed,
}
# Operations that wait for nothing: the loop runs them (Connection._at_once; SUBMIT is decided
# by its target).
_AT_ONCE = frozenset(
    {
        p.OP_NAMES,
        p.OP_CANCEL,
        p.OP_RESOLVE,
        p.OP_TOKEN,
        p.OP_HARDWARE,
        p.OP_PING,
        p.OP_INFO,
    }
)


def _emulated(port: _Port) -> Any:
    hardware: Any = port.fdo.backend
    for _ in range(4):
        if hasattr(hardware, "chain"):
            return hardware
        hardware = getattr(hardware, "inner", None)
        if hardware is None:
            break
    return None


def _hardware(port: _Port, position: int, attribute: object) -> Any:
    """A value of the emulated chain's read-only view (OP_HARDWARE)."""
    hardware = _emulated(port)
    if hardware is None:
        raise _RefusedError(nt.STATUS_NOT_SUPPORTED, f"{port.config.spec} is not an emulated port")
    attribute = _str(attribute, "an attribute")
    if position < 0:
        if attribute == "count":
            return len(hardware.chain)
        if attribute == "name":
            return str(getattr(hardware, "name", port.config.spec))
        raise _RefusedError(nt.STATUS_NOT_SUPPORTED, f"the port's view has no {attribute!r}")
    chain = list(hardware.chain)
    if position >= len(chain):
        raise _RefusedError(nt.STATUS_INVALID_PARAMETER, f"the chain has {len(chain)} peripherals")
    if attribute not in PERIPHERAL_ATTRIBUTES or not hasattr(chain[position], attribute):
        raise _RefusedError(nt.STATUS_NOT_SUPPORTED, f"the peripheral's view has no {attribute!r}")
    value = getattr(chain[position], attribute)
    if isinstance(value, bytes | bytearray):
        return bytes(value[-p.MAX_IO :])
    return plain(value)


class Daemon:
    """parportd: see the module docstring. ``start()``, then ``serve_forever()`` until
    ``request_stop()``, then ``close()``."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.bus: ParallelBus | None = None
        self.ports: list[_Port] = []
        self.stopping = False
        self._listener: socket.socket | None = None
        self._activated = False  # the socket came from systemd
        self._socket_inode: tuple[int, int] | None = None
        self._connections: set[Connection] = set()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = -1, -1
        self._stop = False  # request_stop was called
        self._looping = False  # serve_forever runs: adopt() hands connections to it
        self._adopted: deque[Connection] = deque()  # for the loop to read (again)
        self._readers: dict[int, Connection] = {}  # the loop's: the connections it reads, by fd
        self._poller: select.epoll | None = None  # the loop's
        self._closed = False
        self.leases = Leases()
        self.successors = handoff.Successors()  # direct grants between clients (handoff.py)
        # The connections whose messages run apart from the loop, and the thread that looks
        # whether their clients went (the loop does not watch their sockets meanwhile).
        self._away: set[Connection] = set()
        self._away_changed = threading.Condition()
        self._watcher: threading.Thread | None = None
        self.helpers = Helpers("parportd")  # the work apart from the loop

    # --- ports ----------------------------------------------------------------------------------
    def _open_ports(self) -> None:
        specs = [port.spec for port in self.config.ports]
        self.bus = bus = open_bus(specs, options=self.config.options)
        for fdo, port in zip(bus.ports, self.config.ports, strict=True):
            self.ports.append(_Port(fdo.index, bus, fdo, port))
            names = [d.location for d in bus.devices if d.port is fdo]
            log.info("%s: %s: %s", fdo.port_name, port.spec, ", ".join(names))

    def port(self, index: int) -> _Port | None:
        return self.ports[index] if 0 <= index < len(self.ports) else None

    def lookup(self, name: str) -> tuple[_Port | None, DeviceObject | None]:
        """The port a name belongs to, and its device object."""
        bus = self.bus
        device = bus.lookup(name) if bus is not None else None
        if isinstance(device, ParallelPort):
            fdo = device
        elif isinstance(device, ParallelDevice):
            fdo = device.port
        else:
            return None, None
        for port in self.ports:
            if port.fdo is fdo:
                return port, device
        return None, None

    def names(self) -> list[str]:
        """Every device name and symbolic link on the bus (``bus.names()``)."""
        return self.bus.names() if self.bus is not None else []

    def info(self, peer: Peer) -> dict[str, Any]:
        """What a client learns at the handshake (MSG_HELLO) and from OP_INFO."""
        return {
            "server": f"parportd {__version__}",
            "version": p.VERSION,
            "pid": os.getpid(),
            "ports": [
                {
                    "index": port.index,
                    "name": port.fdo.port_name,
                    "spec": port.config.spec,
                    "emulated": _emulated(port) is not None,
                }
                for port in self.ports
            ],
            "peer": {"pid": peer.pid, "uid": peer.uid, "gid": peer.gid, "trusted": peer.trusted},
            "connections": self.connections,
            "limits": {
                "max_frame": p.MAX_FRAME,
                "max_io": p.MAX_IO,
                "max_handles": p.MAX_HANDLES,
                "max_requests": p.MAX_REQUESTS,
                "max_backlog": p.MAX_BACKLOG,
            },
        }

    # --- the socket -----------------------------------------------------------------------------
    def _systemd_socket(self) -> socket.socket | None:
        if os.environ.get("LISTEN_PID") != str(os.getpid()):
            return None
        try:
            count = int(os.environ.get("LISTEN_FDS", "0"))
        except ValueError:
            return None
        for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            os.environ.pop(name, None)
        if count < 1:
            return None
        sock = socket.socket(fileno=3)
        if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
            raise DaemonError("the socket systemd passed is not a Unix stream socket")
        return sock

    def _bind(self) -> socket.socket:
        path = self.config.socket
        if os.path.lexists(path):
            if not stat.S_ISSOCK(os.lstat(path).st_mode):
                raise DaemonError(f"{path} exists and is not a socket")
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(path)
            except OSError:
                os.unlink(path)  # left over by a daemon that is gone
            else:
                raise DaemonError(f"another parportd is serving {path}")
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_umask = os.umask(0o177)  # created 0600: no moment with a wider mode than asked
        try:
            sock.bind(path)
        except OSError as exc:
            sock.close()
            raise DaemonError(f"cannot create the socket {path}: {exc.strerror or exc}") from None
        finally:
            os.umask(old_umask)
        try:
            if self.config.socket_group is not None:
                os.chown(path, -1, self.config.socket_group)
            os.chmod(path, self.config.effective_socket_mode)
        except OSError as exc:
            sock.close()
            os.unlink(path)
            raise DaemonError(f"cannot set {path}'s group or mode: {exc.strerror or exc}") from None
        info = os.stat(path)
        self._socket_inode = (info.st_dev, info.st_ino)
        sock.listen(max(128, self.config.max_connections))
        return sock

    def start(self) -> None:
        """Open the ports and the socket; returns once clients can connect."""
        try:
            self._open_ports()
            listener = self._systemd_socket()
            self._activated = listener is not None
            self._listener = listener if listener is not None else self._bind()
        except BaseException:
            self._close_ports()
            raise
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        where = "the socket systemd passed" if self._activated else self.config.socket
        log.info("parportd %s serving %d port(s) on %s", __version__, len(self.ports), where)
        sd_notify(f"READY=1\nMAINPID={os.getpid()}")

    def request_stop(self) -> None:
        """Make :meth:`serve_forever` return (safe from a signal handler or any thread)."""
        self._stop = True
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")

    @property
    def wake_fd(self) -> int:
        """The descriptor :meth:`request_stop` writes to (for ``signal.set_wakeup_fd``)."""
        return self._wake_w

    def serve_forever(self) -> None:
        """The loop (see the module docstring): accept connections, read them and run their
        messages, until :meth:`request_stop`."""
        listener = self._listener
        assert listener is not None
        listener.setblocking(False)
        wake = self._wake_r
        more: dict[Connection, None] = {}  # connections with whole messages left, in turn order
        with select.epoll() as poller:
            self._poller = poller
            poller.register(listener.fileno(), select.EPOLLIN)
            poller.register(wake, select.EPOLLIN)
            readers = self._readers
            with self._lock:
                self._looping = True
            try:
                while not self._stop:
                    events = poller.poll(0 if more else -1)
                    waiting, more = more, {}  # a turn each per round, whatever woke them
                    for fd, mask in events:
                        connection = readers.get(fd)
                        if connection is not None:
                            waiting.pop(connection, None)
                            if mask & select.EPOLLHUP:  # both ways closed: nobody will read
                                connection.hung_up()
                            self._turn(connection, True, more)
                        elif fd == wake:
                            os.read(wake, 512)
                            self._register_adopted()
                        else:
                            self._accept(listener)
                    for connection in waiting:  # whole messages left from the last round
                        self._turn(connection, False, more)
                    connection = None  # the loop keeps no connection alive while it waits
            finally:
                with self._lock:
                    self._looping = False
                readers.clear()
                self._poller = None

    def _turn(self, connection: Connection, read: bool, more: dict[Connection, None]) -> None:
        turn = connection.serve(read)
        if turn is Turn.MORE:
            more[connection] = None
        elif turn is Turn.GONE:
            fd = connection.fd
            del self._readers[fd]
            assert self._poller is not None
            self._poller.unregister(fd)
            connection.go_apart()

    def watch(self, connection: Connection) -> None:
        """``connection`` runs a message apart from the loop: look whether its client goes."""
        with self._away_changed:
            if self._closed:
                return
            self._away.add(connection)
            if self._watcher is None:
                self._watcher = threading.Thread(
                    target=self._watch_loop, name="parportd watch", daemon=True
                )
                self._watcher.start()
            self._away_changed.notify()

    def unwatch(self, connection: Connection) -> None:
        with self._away_changed:
            self._away.discard(connection)

    def _watch_loop(self) -> None:
        """Every WATCH_S, look at the sockets of the connections running apart for both ways
        closed (POLLHUP: the client is gone; a half-close is not), and tell those connections."""
        while True:
            with self._away_changed:
                while not self._away and not self._closed:
                    self._away_changed.wait()
                if self._closed:
                    return
            self._tell_gone()  # holds no connection while this thread waits

    def _tell_gone(self) -> None:
        for connection in self._gone_away():
            self.unwatch(connection)
            connection.went_away()

    def _gone_away(self) -> list[Connection]:
        """The connections running apart whose clients are gone, after waiting WATCH_S at most
        (weakly held meanwhile: an ended connection is not kept alive by the watch)."""
        with self._away_changed:
            away = {connection.fd: weakref.ref(connection) for connection in self._away}
        poller = select.poll()
        for fd in away:
            poller.register(fd, 0)  # POLLHUP, POLLERR and POLLNVAL come whatever is asked
        try:
            events = poller.poll(WATCH_S * 1000)
        except OSError as exc:
            log.debug("the watch of connections running apart: %s", exc)
            return []
        gone = [away[fd]() for fd, _ in events]
        return [connection for connection in gone if connection is not None]

    def adopt(self, connection: Connection) -> bool:
        """Give ``connection`` to the loop to read (after its handshake, or after a message
        that ran apart); False when the loop has stopped (the caller cleans it up)."""
        with self._lock:
            if not self._looping or self._stop:
                return False
            self._adopted.append(connection)
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"a")
        return True

    def _register_adopted(self) -> None:
        with self._lock:
            adopted = list(self._adopted)
            self._adopted.clear()
        assert self._poller is not None
        for connection in adopted:
            self._readers[connection.fd] = connection
            self._poller.register(connection.fd, select.EPOLLIN)

    def _accept(self, listener: socket.socket) -> None:
        """Accept every connection waiting (the listener does not block)."""
        while True:
            try:
                sock, _ = listener.accept()
            except BlockingIOError:
                return
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                return
            sock.setblocking(True)
            self._take(sock)

    def _take(self, sock: socket.socket) -> None:
        with self._lock:
            full = len(self._connections) >= self.config.max_connections or self.stopping
            if not full:
                connection = Connection(self, sock)
                self._connections.add(connection)
        if full:
            log.warning("refused a connection: %d connections already", len(self._connections))
            with contextlib.suppress(OSError):
                sock.send(p.handshake_reply(p.HELLO_BUSY), socket.MSG_DONTWAIT)
            sock.close()
            return
        connection.begin()

    def forget(self, connection: Connection) -> None:
        with self._lock:
            self._connections.discard(connection)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._connections)

    # --- the end --------------------------------------------------------------------------------
    def _close_ports(self) -> None:
        if self.bus is not None:
            try:
                self.bus.close()
            except Exception:
                log.exception("closing the ports failed")

    def close(self, reason: str = "parportd is shutting down") -> None:
        """Tell every client, release and deselect everything, close the ports and the socket."""
        if self._closed:
            return
        with self._away_changed:
            self._closed = True
            self._away_changed.notify_all()  # the watcher ends
        sd_notify("STOPPING=1")
        self.stopping = True
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:  # first: no queued request is granted a port freed
            connection.cancel_pending()  # by another connection's close below
        for connection in connections:
            connection.goodbye(reason)
        deadline = time.monotonic() + SHUTDOWN_FLUSH_S  # one wait for all of them, not one each
        for connection in connections:
            connection.hang_up(deadline)
        deadline = time.monotonic() + SHUTDOWN_SETTLE_S
        for connection in connections:
            if connection.settle(max(0.0, deadline - time.monotonic())):
                connection.end()  # the loop had it, or it was on its way there
        self.helpers.close()
        self._close_ports()
        if not self._activated and self._socket_inode is not None:
            try:
                info = os.stat(self.config.socket)
                if (info.st_dev, info.st_ino) == self._socket_inode:
                    os.unlink(self.config.socket)
            except OSError:
                pass
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
        log.info("parportd stopped (%d client(s) told)", len(connections))


def sd_notify(state: str) -> None:
    """Tell systemd (or whoever set ``$NOTIFY_SOCKET``: the tests) about the daemon's state."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(state.encode(), address)
    except OSError as exc:
        log.debug("sd_notify(%r) failed: %s", state, exc)
