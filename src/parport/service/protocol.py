"""The parportd wire protocol: handshake, frames, messages and limits (docs/protocol.md).

A connection starts with a handshake: the client sends :data:`MAGIC`, its protocol version and a
reserved word (12 bytes); the server answers with :data:`MAGIC`, the version it speaks and a
result code. After a successful handshake both sides send frames: a 4-byte big-endian length
``N`` (1 ≤ N ≤ :data:`MAX_FRAME`) and ``N`` bytes of one msgpack array. Reads loop until a frame
is whole; an end of stream between frames is a clean close, one inside a frame is a truncated
frame (:class:`ProtocolError`). Nothing here is pickled: msgpack carries only nil, booleans,
integers, floats, strings, bytes, arrays and maps.

Client messages are ``[op, seq, *arguments]`` (``seq``: a 32-bit number the client picks; for
:data:`OP_SUBMIT` it names the request until its completion). The server sends
:data:`MSG_REPLY` for each request that has an answer, :data:`MSG_COMPLETE` when a submitted
request completes, and :data:`MSG_NOTIFY`, :data:`MSG_ERROR` and :data:`MSG_GOODBYE` as they
happen.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Any, Final

import msgpack  # type: ignore[import-untyped]

__all__ = [
    "HANDSHAKE",
    "MAGIC",
    "MAX_BACKLOG",
    "MAX_FRAME",
    "MAX_HANDLES",
    "MAX_IO",
    "MAX_PENDING_INPUT",
    "MAX_REQUESTS",
    "MAX_REQUEST_ARRAYS",
    "MAX_REQUEST_ITEMS",
    "VERSION",
    "FrameReader",
    "Framer",
    "ProtocolError",
    "decode",
    "decode_request",
    "encode",
    "frame",
    "handshake_reply",
    "handshake_request",
    "parse_handshake",
    "read_exact",
    "read_frame",
    "read_handshake",
]

MAGIC: Final = b"PARPORTD"
VERSION: Final = 1
HANDSHAKE: Final = struct.Struct(">8sHH")  # magic, version, reserved (client) / result (server)

# Handshake results (the server's third field).
HELLO_OK: Final = 0
HELLO_BAD_VERSION: Final = 1  # the server speaks the version it sent back, and closes
HELLO_BUSY: Final = 2  # too many connections
HELLO_BAD_MAGIC: Final = 3  # not a parportd client
# The client's flags (its third field).
TAKES_GRANTS: Final = 1  # it takes direct grants of the port from other clients (handoff.py)

# Limits (docs/protocol.md, "Limits").
MAX_FRAME: Final = 4 * 1024 * 1024  # bytes of msgpack in one frame
MAX_IO: Final = MAX_FRAME - 64 * 1024  # input bytes, and output_length, of one request
MAX_HANDLES: Final = 64  # open handles per connection
MAX_REQUESTS: Final = 1024  # submitted requests in flight per connection
MAX_PENDING_INPUT: Final = 32 * 1024 * 1024  # input bytes held by one connection's requests
MAX_BACKLOG: Final = 16 * 1024 * 1024  # unsent bytes to one client before it is disconnected
MAX_CONNECTIONS: Final = 256  # default; the config may change it
HANDSHAKE_TIMEOUT_S: Final = 5.0  # for the handshake of a new connection
MAX_REQUEST_ITEMS: Final = 64  # items in one array of a client's message
MAX_REQUEST_ARRAYS: Final = 16  # arrays in one client's message

# Client → server operations.
OP_NAMES: Final = 1  # → [str]
OP_CREATE: Final = 2  # name, options → [handle, name]
OP_CLOSE: Final = 3  # handle → nil
OP_SUBMIT: Final = 4  # handle, major, code, input, output_length → MSG_COMPLETE later
OP_CANCEL: Final = 5  # request seq → bool (whether a cancel routine ran)
OP_RESOLVE: Final = 6  # handle, token → ["routine"] | ["object"] | ["value", v]
OP_CALL: Final = 7  # handle, token, [args] → result
OP_TOKEN: Final = 8  # handle → token standing for a client callable (MSG_NOTIFY)
OP_RESCAN: Final = 9  # timeout | nil → [scanned, added, removed]
OP_HARDWARE: Final = 10  # port, index, attribute → value (the emulated chain, read only)
OP_CHECK: Final = 11  # → [str]: broken ownership invariants (diagnostics)
OP_PING: Final = 12  # → nil
OP_BYE: Final = 13  # → nil, once every handle of the connection is closed
OP_INFO: Final = 14  # → map: the port list, the peer's credentials, the limits
OP_HANDED: Final = 15  # request seq; no answer: a direct grant of that ALLOCATE taken (handoff.py)

OP_NAMES_BY_CODE: Final = {
    OP_NAMES: "NAMES",
    OP_CREATE: "CREATE",
    OP_CLOSE: "CLOSE",
    OP_SUBMIT: "SUBMIT",
    OP_CANCEL: "CANCEL",
    OP_RESOLVE: "RESOLVE",
    OP_CALL: "CALL",
    OP_TOKEN: "TOKEN",
    OP_RESCAN: "RESCAN",
    OP_HARDWARE: "HARDWARE",
    OP_CHECK: "CHECK",
    OP_PING: "PING",
    OP_BYE: "BYE",
    OP_INFO: "INFO",
    OP_HANDED: "HANDED",
}

# Server → client messages.
MSG_REPLY: Final = 64  # seq, status, value (a message string when status is a failure)
MSG_COMPLETE: Final = 65  # seq, status, information, output
MSG_NOTIFY: Final = 66  # token, "set" | "call", [args]: a client callable invoked by the daemon
MSG_ERROR: Final = 67  # seq | nil, status, message: a message the server could not take
MSG_GOODBYE: Final = 68  # status, message: the daemon is going away
MSG_HELLO: Final = 69  # map: the first frame after the handshake
MSG_NEXT: Final = 70  # handle, inbox, seq, nonce: whom a FREE through it may grant (handoff.py)

_LENGTH = struct.Struct(">I")


class ProtocolError(Exception):
    """The peer broke the framing or the handshake; the connection cannot go on."""


def handshake_request(version: int = VERSION, flags: int = 0) -> bytes:
    """What a client sends first (``flags``: :data:`TAKES_GRANTS`, or 0)."""
    return HANDSHAKE.pack(MAGIC, version, flags)


def handshake_reply(result: int, version: int = VERSION) -> bytes:
    """What the server answers."""
    return HANDSHAKE.pack(MAGIC, version, result)


def parse_handshake(data: bytes) -> tuple[bool, int, int]:
    """(magic matches, version, third field) of a handshake message."""
    magic, version, value = HANDSHAKE.unpack(data)
    return magic == MAGIC, version, value


def encode(message: Any) -> bytes:
    """msgpack bytes of ``message`` (bytes stay bytes, strings stay strings)."""
    data: bytes = msgpack.packb(message, use_bin_type=True)
    return data


def decode(data: bytes) -> Any:
    """The message in a frame; :class:`ValueError` for anything msgpack cannot read whole."""
    try:
        return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True)
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise ValueError(f"not a msgpack message: {exc}") from None


def decode_request(data: bytes) -> Any:
    """A client's message, as the daemon reads it: :func:`decode` within bounds that keep a
    hostile frame as cheap to refuse as a good one is to read (decoding holds the interpreter:
    4 MiB of empty arrays would take seconds). No message has a map; an array has at most
    :data:`MAX_REQUEST_ITEMS` items and a message :data:`MAX_REQUEST_ARRAYS` arrays (the message
    itself and a CALL's arguments)."""
    arrays = 0

    def counted(items: list[Any]) -> list[Any]:
        nonlocal arrays
        arrays += 1
        if arrays > MAX_REQUEST_ARRAYS:
            raise ValueError(f"more than {MAX_REQUEST_ARRAYS} arrays in one message")
        return items

    def no_map(pairs: Any) -> Any:
        raise ValueError("a map in a client's message")

    try:
        return msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            max_array_len=MAX_REQUEST_ITEMS,
            max_map_len=0,
            list_hook=counted,
            object_pairs_hook=no_map,
        )
    except Exception as exc:  # msgpack raises several unrelated types for bad input
        raise ValueError(f"not a message parportd reads: {exc}") from None


class Framer:
    """Makes frames with one msgpack packer of its own, kept from message to message (a new
    packer for each costs more than the packing). One caller at a time: a connection frames
    under the lock that orders its sends."""

    def __init__(self) -> None:
        self._pack = msgpack.Packer(use_bin_type=True).pack

    def frame(self, message: Any) -> bytes:
        """A whole frame (length prefix and payload) for ``message``; :class:`ValueError` when
        the payload exceeds :data:`MAX_FRAME`, :class:`TypeError` for what msgpack cannot
        carry."""
        payload: bytes = self._pack(message)
        if len(payload) > MAX_FRAME:
            raise ValueError(f"a frame of {len(payload)} bytes exceeds the limit of {MAX_FRAME}")
        return _LENGTH.pack(len(payload)) + payload


def frame(message: Any) -> bytes:
    """A whole frame (length prefix and payload) for ``message``."""
    return Framer().frame(message)


def read_exact(sock: socket.socket, size: int, *, at_boundary: bool) -> bytes | None:
    """Read exactly ``size`` bytes. None for a clean end of stream before the first byte when
    ``at_boundary``; :class:`ProtocolError` for an end of stream inside the data."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        count = sock.recv_into(view[got:], size - got)
        if count == 0:
            if got == 0 and at_boundary:
                return None
            raise ProtocolError(f"the stream ended inside a frame ({got} of {size} bytes)")
        got += count
    return bytes(buffer)


def read_handshake(sock: socket.socket) -> tuple[bytes | None, list[int]]:
    """The client's handshake (None: the stream ended before it), and the descriptors passed
    with it (SCM_RIGHTS: a lease file, docs/protocol.md), which the caller then owns; when this
    raises, they are closed here."""
    buffer = b""
    fds: list[int] = []
    try:
        while len(buffer) < HANDSHAKE.size:
            data, received, _, _ = socket.recv_fds(
                sock, HANDSHAKE.size - len(buffer), 4, socket.MSG_CMSG_CLOEXEC
            )
            fds.extend(received)
            if not data:
                if not buffer:
                    return None, fds
                raise ProtocolError(
                    f"the stream ended inside the handshake ({len(buffer)} of "
                    f"{HANDSHAKE.size} bytes)"
                )
            buffer += data
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return buffer, fds


def read_frame(sock: socket.socket, limit: int = MAX_FRAME) -> bytes | None:
    """The payload of the next frame, or None at a clean end of stream (between frames)."""
    header = read_exact(sock, _LENGTH.size, at_boundary=True)
    if header is None:
        return None
    (length,) = _LENGTH.unpack(header)
    if length == 0 or length > limit:
        raise ProtocolError(f"a frame length of {length} bytes is outside 1..{limit}")
    data = read_exact(sock, length, at_boundary=False)
    assert data is not None
    return data


class FrameReader:
    """Reads frames from a socket with one ``recv`` for as many frames as have arrived (the
    rules of :func:`read_frame`)."""

    CHUNK = 64 * 1024

    def __init__(self, sock: socket.socket, limit: int = MAX_FRAME) -> None:
        self.sock = sock
        self.limit = limit
        self.unread = bytearray()  # bytes read and not yet taken (from ``_start`` on)
        self._start = 0
        self._scratch = bytearray(self.CHUNK)
        self._view = memoryview(self._scratch)

    def _fill(self, need: int) -> bool:
        """Make ``need`` unread bytes available; False at an end of stream before any."""
        while len(self.unread) - self._start < need:
            if self._start:
                del self.unread[: self._start]
                self._start = 0
            count = self.sock.recv_into(self._view)
            if not count:
                if len(self.unread) - self._start == 0:
                    return False
                raise ProtocolError(
                    f"the stream ended inside a frame ({len(self.unread) - self._start} bytes "
                    f"of {need})"
                )
            self.unread += self._view[:count]
        return True

    def buffered(self) -> bool:
        """Whether a whole frame has been read already (the next :meth:`read` will not wait)."""
        have = len(self.unread) - self._start
        if have < _LENGTH.size:
            return False
        (length,) = _LENGTH.unpack_from(self.unread, self._start)
        return have >= _LENGTH.size + int(length)

    def read(self) -> bytes | None:
        """The payload of the next frame, or None at a clean end of stream (between frames)."""
        if self._start == len(self.unread):
            # Nothing buffered: read, and when what came is one whole frame (a request, an
            # answer) take it from the scratch buffer as it is.
            count = self.sock.recv_into(self._view)
            if not count:
                return None
            alone = self._alone(count)
            if alone is not None:
                return alone
            self.unread += self._view[:count]
        if not self._fill(_LENGTH.size):
            return None
        length = self._length()
        if not self._fill(_LENGTH.size + length):
            raise ProtocolError("the stream ended inside a frame")
        return self._cut(length)

    # --- without waiting (the daemon's loop) ------------------------------------------------------
    def receive(self) -> bytes | bool:
        """One ``recv`` of what has arrived, never waiting: the payload itself when exactly one
        whole frame came and nothing was buffered (the usual request), else True with the bytes
        buffered for :meth:`take` (or nothing come); False at the end of the stream between
        frames (an end inside one raises :class:`ProtocolError`). A frame length out of bounds
        is refused as soon as its header is in, before its bytes are buffered."""
        try:
            count = self.sock.recv_into(self._view, 0, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        if not count:
            if len(self.unread) > self._start:
                raise ProtocolError("the stream ended inside a frame")
            return False
        if not self.unread:
            alone = self._alone(count)
            if alone is not None:
                return alone
        if self._start:
            del self.unread[: self._start]
            self._start = 0
        self.unread += self._view[:count]
        if len(self.unread) >= _LENGTH.size:
            self._length()
        return True

    def clear(self) -> None:
        """Forget what was read and not taken (the connection has ended)."""
        self.unread = bytearray()
        self._start = 0

    def take(self) -> bytes | None:
        """The next frame's payload if it has been read whole already, else None (nothing is
        read)."""
        if len(self.unread) - self._start < _LENGTH.size:
            return None
        length = self._length()
        if len(self.unread) - self._start < _LENGTH.size + length:
            return None
        return self._cut(length)

    def _alone(self, count: int) -> bytes | None:
        """The payload, when the ``count`` bytes just read into the scratch buffer are one
        whole frame (a request, an answer): taken as it is, with no buffer to manage."""
        if count > _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._scratch)
            if count == _LENGTH.size + length and length <= self.limit:
                return bytes(self._view[_LENGTH.size : count])
        return None

    def _length(self) -> int:
        """The length of the frame whose header is at the front (checked against the limit)."""
        (length,) = _LENGTH.unpack_from(self.unread, self._start)
        if length == 0 or length > self.limit:
            raise ProtocolError(f"a frame length of {length} bytes is outside 1..{self.limit}")
        return int(length)

    def _cut(self, length: int) -> bytes:
        """The payload of the frame at the front, taken off the buffer."""
        begin = self._start + _LENGTH.size
        payload = bytes(self.unread[begin : begin + length])
        self._start = begin + length
        if self._start == len(self.unread):
            self.unread.clear()
            self._start = 0
        return payload
