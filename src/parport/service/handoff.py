"""Direct handoff: the port passes from one client's FREE to the next client's ALLOCATE in one
hop, client to client, instead of two through the daemon (docs/protocol.md, "Handoff").

The daemon stays the only judge of who owns the port; a direct grant only lets the next client's
ALLOCATE return before the daemon's own answer arrives.

* A client that asks at its handshake (:data:`~.protocol.TAKES_GRANTS`) gets in MSG_HELLO
  (``"handoff"``) a datagram address of its own in Linux's abstract socket namespace and a secret
  key. The client binds that address: its *inbox*.
* When a port's owner is a client's port handle and the oldest request waiting for the port is
  another client's ALLOCATE (a plain one: nothing to do on the wire when it is granted), the
  daemon tells the owner (MSG_NEXT): that request's number, the waiting client's inbox, and a
  *nonce* — a keyed hash of the request number under the waiting client's key, so that the nonce
  for one request tells nothing about another.
* The owner, when it frees the port through that handle with nothing else of its own in flight,
  first sends the datagram (request number, nonce) to the inbox, then its FREE to the daemon.
* The waiting client completes its ALLOCATE STATUS_SUCCESS on a datagram whose nonce is right,
  for a request still waiting that it has not asked to cancel. Its next message to the daemon is
  preceded by HANDED (the request's number); the daemon then runs nothing more of that client
  until the request is granted there too (a FREE on its way from the owner, or the owner's
  cleanup when it died) — however long the owner takes, as if the ALLOCATE had not returned yet —
  or the client is gone.

Everything else goes as before: the daemon's completion still arrives (and is taken as the
confirmation), and a grant that is late, forged, for a cancelled request or for a closed handle
is dropped.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import struct
import sys
import weakref
from typing import Any, Final

from .. import nt
from ..driver import PortArbiter
from . import protocol as p

__all__ = [
    "CLIENT",
    "GRANT",
    "NEXT_PER_HOLD",
    "Inbox",
    "Successors",
    "new_inbox",
    "nonce",
    "send_grant",
    "supported",
]

log = logging.getLogger(__name__)

GRANT: Final = struct.Struct(">I8s")  # the ALLOCATE request's number, its nonce
KEY_BYTES: Final = 16
NONCE_BYTES: Final = 8
NEXT_PER_HOLD: Final = 8  # NEXT messages to one owner in one hold of the port, at most
_PREFIX: Final = b"\0parportd-handoff-"
CLIENT: Final = "parportd client"  # a file object's context key: (connection, handle number)


def supported() -> bool:
    """Whether this system has abstract Unix datagram sockets (Linux)."""
    return sys.platform.startswith("linux")


def new_inbox() -> tuple[bytes, bytes]:
    """The daemon's side: a fresh (inbox address, key) for one connection."""
    return _PREFIX + os.urandom(12).hex().encode(), os.urandom(KEY_BYTES)


def nonce(key: bytes, request: int) -> bytes:
    """The nonce a grant of ``request`` carries: the request number hashed under ``key``."""
    return hashlib.blake2b(request.to_bytes(4, "big"), key=key, digest_size=NONCE_BYTES).digest()


def send_grant(sock: socket.socket, address: bytes, grant: bytes) -> bool:
    """Send one grant (:data:`GRANT`, packed) without waiting; False when it could not go
    (nobody bound the address, its queue is full): the daemon's completion then tells the
    client, a hop later."""
    try:
        sock.sendto(grant, socket.MSG_DONTWAIT, address)
    except OSError as exc:
        log.debug("a direct grant did not go: %s", exc)
        return False
    return True


class Inbox:
    """The client's side: the datagram socket the grants for its ALLOCATE requests arrive on."""

    def __init__(self, address: bytes, key: bytes) -> None:
        if not (
            isinstance(address, bytes)
            and address.startswith(_PREFIX)
            and isinstance(key, bytes)
            and len(key) == KEY_BYTES
        ):
            raise ValueError("not a handoff inbox the daemon gives")
        self._key = key
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            self._sock.bind(address)
            self._sock.setblocking(False)
        except OSError:
            self._sock.close()
            raise

    def fileno(self) -> int:
        return self._sock.fileno()

    def nonce(self, request: int) -> bytes:
        """The nonce a grant of this client's ``request`` must carry."""
        return nonce(self._key, request)

    def take(self) -> tuple[int, bytes] | None:
        """One datagram waiting, as (request, nonce); None when none is, or it is not a grant
        (one at a time: a poll sees the rest)."""
        try:
            data = self._sock.recv(64)
        except OSError:
            return None
        if len(data) != GRANT.size:
            return None
        request, tag = GRANT.unpack(data)
        return request, tag

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()


class Successors:
    """The daemon's side: the plain ALLOCATE requests of clients with an inbox while they wait
    for a port, and telling a port's owner (MSG_NEXT) when the oldest waiter is one of them.

    A client's port handle is known by :data:`CLIENT` in its file object's context: a weak
    reference to its connection (anything with ``send(message)``) and the handle's number there.
    What is told may be out of date by the time the owner frees the port; that is harmless: a
    grant is only taken by a request still waiting that its client has not asked to cancel, and
    such a request is the one the daemon grants next (the queue is strictly first come, first
    served), or the owner's free was not the one that ended its hold and the daemon has granted
    the port to that same request already.
    """

    def __init__(self) -> None:
        self._waiting: dict[int, tuple[weakref.ref[Any], int, bytes, bytes]] = {}
        # Per port (its arbiter's id): the hold last told about, and how many NEXT it was sent.
        # Waiters that come and go (a timeout, a cancel) would otherwise send the owner a NEXT
        # each, and an owner that does not read them would be cut off at the backlog limit.
        self._told: dict[int, tuple[int, int]] = {}

    def waiting(
        self,
        irp: nt.Irp,
        connection: Any,
        request: int,
        inbox: tuple[bytes, bytes],
        arbiter: PortArbiter,
    ) -> None:
        """``irp`` (``connection``'s request ``request``) was queued for the port."""
        key = id(irp)
        self._waiting[key] = (weakref.ref(connection), request, *inbox)
        irp.add_done_callback(lambda _: self._forget(key))
        self.tell(arbiter)

    def _forget(self, key: int) -> None:
        self._waiting.pop(key, None)

    def tell(self, arbiter: PortArbiter) -> None:
        """If the port's owner is a client's port handle and its next waiter is another
        client's ALLOCATE, tell the owner who is next."""
        if not self._waiting:
            return
        head = arbiter.head()
        if head is None:
            return
        entry = self._waiting.get(id(head.irp))
        client = getattr(arbiter.owner, "context", {}).get(CLIENT)
        if entry is None or client is None:
            return
        waiter_ref, request, address, key = entry
        owner_ref, handle = client
        owner = owner_ref()
        if owner is None or owner is waiter_ref():
            return
        hold, told = self._told.get(id(arbiter), (-1, 0))
        if hold != arbiter.holds:
            hold, told = arbiter.holds, 0
        if told >= NEXT_PER_HOLD:
            return
        self._told[id(arbiter)] = (hold, told + 1)
        owner.send([p.MSG_NEXT, handle, address, request, nonce(key, request)])
