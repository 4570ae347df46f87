"""Leases: LOCK_PORT and UNLOCK_PORT without a round trip while nobody else uses the daemon.

A client offers a small shared file at the handshake (a sealed memfd passed with SCM_RIGHTS).
When an UNLOCK_PORT arrives while the daemon is otherwise idle — no other message being handled,
no request pending on any connection, nobody waiting for the port — and the unlock would only
free the port, unseen (:func:`unlock_is_silent`: nothing on the wire, nobody called), the daemon
keeps the lock and hands the handle a *lease* on one byte of that file instead (docs/protocol.md,
"Leases"). The client then locks and unlocks on its own:

* the client is *logically locked* exactly while it holds an OFD write lock on its byte (the
  kernel drops it when the client dies);
* the byte itself says whether the lease is still good: 0 granted, 1 revoked (the daemon writes
  it; the client only reads it, after each lock or unlock).

Before the daemon handles anything else — any message on any connection, a connection's end, its
own shutdown — it revokes every lease (:class:`Leases`; a message that finds one ending waits for
it): it writes 1, then looks whether the client holds its byte. Held: the client is locked, and the
lock the daemon kept is real from now on. Not held: the client is unlocked, and the daemon runs the
deferred UNLOCK_PORT. A client that sees 1 after a lock or an unlock gives up the lease and sends
that request to the daemon (a lock the daemon finds already there succeeds; an unlock of a lock the
daemon already undid succeeds touching nothing). The two record-lock system calls order the byte's
write and read on both sides, so no request anybody makes can see the lease's state between the
client's steps.

Nobody else can tell a lease from the UNLOCK_PORT it stands for: every observer is a message,
and a message ends the lease first.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import stat
import struct
import sys
import threading
from collections.abc import Callable
from typing import Final, NamedTuple

from ..driver import ParallelDevice

__all__ = ["LEASE_BYTES", "LeaseFile", "LeaseView", "Leases", "supported", "unlock_is_silent"]

log = logging.getLogger(__name__)

LEASE_BYTES: Final = 4096  # one byte per slot; slots are handles, at most MAX_HANDLES of them
GRANTED: Final = b"\x00"
REVOKED: Final = b"\x01"
_SEALS: Final = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL
_WRITE_SEALS: Final = 0x0008 | 0x0010  # F_SEAL_WRITE, F_SEAL_FUTURE_WRITE: the daemon must write
# struct flock on 64-bit Linux: l_type, l_whence, (pad), l_start, l_len, l_pid, (pad).
_FLOCK: Final = struct.Struct("hhqqi4x")


def supported() -> bool:
    """Whether this system has what leases need (Linux: memfd, OFD record locks, 64-bit)."""
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "memfd_create")
        and hasattr(fcntl, "F_OFD_SETLK")
        and struct.calcsize("P") == 8
    )


def _range(kind: int, slot: int) -> bytes:
    return _FLOCK.pack(kind, os.SEEK_SET, slot, 1, 0)


class LeaseFile:
    """The client's side: the shared file it offers, and the record locks it takes on it."""

    def __init__(self) -> None:
        fd = os.memfd_create("parportd-lease", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(fd, LEASE_BYTES)
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)  # the daemon never sees it change size
            self._map = mmap.mmap(fd, LEASE_BYTES)
            self._map[:] = REVOKED * LEASE_BYTES  # nothing leased until the daemon says so
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        self._ranges: dict[int, tuple[bytes, bytes]] = {}  # slot → its lock and unlock

    def _of(self, slot: int) -> tuple[bytes, bytes]:
        ranges = self._ranges.get(slot)
        if ranges is None:
            ranges = self._ranges[slot] = (_range(fcntl.F_WRLCK, slot), _range(fcntl.F_UNLCK, slot))
        return ranges

    def hold(self, slot: int) -> bool:
        """Lock ``slot`` (the client is locked); False — holding nothing — if its lease is
        revoked."""
        lock, unlock = self._of(slot)
        fcntl.fcntl(self.fd, fcntl.F_OFD_SETLK, lock)
        if self._map[slot]:
            fcntl.fcntl(self.fd, fcntl.F_OFD_SETLK, unlock)
            return False
        return True

    def let_go(self, slot: int) -> bool:
        """Unlock ``slot`` (the client is unlocked); False if its lease was revoked (the daemon
        may still hold the lock for it: the caller sends the UNLOCK_PORT)."""
        fcntl.fcntl(self.fd, fcntl.F_OFD_SETLK, self._of(slot)[1])
        return not self._map[slot]

    def close(self) -> None:
        if self.fd >= 0:
            self._map.close()
            os.close(self.fd)
            self.fd = -1


class LeaseView:
    """The daemon's side of one client's lease file: it grants and revokes slots and looks at
    the client's record locks through its own open file description (a lock is never the
    daemon's own, and the client's locks go when the client does)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def adopt(cls, received: int) -> LeaseView | None:
        """A view of the file a client passed, or None (logged) when it is not a sealed memory
        file of the right size. ``received`` is closed either way: holding the client's own
        open file description would keep its record locks alive after it died."""
        try:
            info = os.fstat(received)
            if not stat.S_ISREG(info.st_mode) or info.st_size != LEASE_BYTES:
                log.info("a client's lease file is not a %d-byte file; no leases", LEASE_BYTES)
                return None
            seals = fcntl.fcntl(received, fcntl.F_GET_SEALS)
            if seals & _SEALS != _SEALS:
                log.info("a client's lease file is not sealed; no leases")
                return None
            if seals & _WRITE_SEALS:
                log.info("a client's lease file is sealed against writing; no leases")
                return None
            fd = os.open(f"/proc/self/fd/{received}", os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            log.info("a client's lease file cannot be used (%s); no leases", exc)
            return None
        finally:
            os.close(received)
        return cls(fd)

    def grant(self, slot: int) -> None:
        os.pwrite(self.fd, GRANTED, slot)

    def revoke(self, slot: int) -> bool:
        """End the lease on ``slot``: whether the client is locked now (holds its byte).
        :class:`OSError` if the file cannot be written or asked (the caller keeps the lock)."""
        os.pwrite(self.fd, REVOKED, slot)
        answer = fcntl.fcntl(self.fd, fcntl.F_OFD_GETLK, _range(fcntl.F_WRLCK, slot))
        kind: int = _FLOCK.unpack(answer)[0]
        return kind != fcntl.F_UNLCK

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def unlock_is_silent(device: object) -> bool:
    """Whether an UNLOCK_PORT of ``device`` now would only free the port, unseen: the device
    holds a lock, needs no selection on the wire (the end-of-chain device, a plain port's
    device), nothing is selected, no IEEE 1284 session runs, nobody waits for the port, the
    device has no other work, and freeing the port calls nobody (no claim to give back to the
    system, as a ppdev port shared with other programs has; no deferred port check of a
    connected interrupt routine)."""
    if not isinstance(device, ParallelDevice):
        return False
    port = device.port
    return (
        device.locked
        and not device.needs_select
        and not device._closing
        and device.owns_port
        and port.selection is None
        and not port.session.connected
        and port.arbiter.query_num_waiters() == 0
        and port.arbiter.on_free is None
        and device.work.idle
    )


class _Lease(NamedTuple):
    view: LeaseView
    slot: int
    unlock: Callable[[], None]  # the deferred UNLOCK_PORT


class Leases:
    """The daemon's leases, and the activity that ends them (see the module docstring).

    Whoever begins to handle something — a message, a connection's cleanup — marks itself busy,
    then ends every lease if there is any (:meth:`end`). A grant records the lease, then asks
    ``quiet()`` whether anybody else is busy (or anything pending), and withdraws the lease if
    so. Either the grant sees the other's mark, or the other sees the recorded lease and ends it
    (waiting for the grant to finish): under the GIL every thread sees attribute writes in one
    order. This keeps the per-message cost to a flag and a look at :attr:`held`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.held: dict[tuple[object, int], _Lease] = {}
        self.closed = False  # the daemon is shutting down: no more grants

    def __len__(self) -> int:
        return len(self.held)

    def end(self) -> None:
        """End every lease (the client's lock is real from now on, or is undone)."""
        with self._lock:
            self._revoke()

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self._revoke()

    def grant(
        self,
        owner: object,
        view: LeaseView,
        slot: int,
        unlock: Callable[[], None],
        quiet: Callable[[], bool],
    ) -> bool:
        """Lease ``slot`` of ``owner``'s file if ``quiet()`` — nobody else busy, nothing else
        pending anywhere, the unlock silent — holds once the lease is recorded; False
        otherwise."""
        key = (owner, slot)
        with self._lock:
            if self.closed or key in self.held:
                return False
            self.held[key] = _Lease(view, slot, unlock)  # first: see the class docstring
            if not quiet():
                del self.held[key]
                return False
            try:
                view.grant(slot)
            except OSError as exc:
                del self.held[key]
                log.warning("a lease could not be granted (%s); the UNLOCK_PORT runs", exc)
                return False
            return True

    def _revoke(self) -> None:
        # A lease leaves :attr:`held` only once it is over — its deferred UNLOCK_PORT run: a
        # message that begins meanwhile finds it there and waits (``end`` takes the lock), so it
        # never sees the lock of a client that is already unlocked.
        for key, lease in list(self.held.items()):
            try:
                locked = lease.view.revoke(lease.slot)
            except OSError:
                log.exception("revoking a lease failed; the lock stays")
                locked = True
            if not locked:
                try:
                    lease.unlock()
                except Exception:
                    log.exception("the UNLOCK_PORT a lease stood for failed")
            del self.held[key]
