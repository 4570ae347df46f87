"""The port arbiter: one owner at a time, waiters granted in strict arrival order.

Windows keeps a signed counter and an anonymous owner (windows-parport.md §11.1); parport keeps
the owner itself (Part A, A3): the file object an allocation was granted to, or the device object
a device request runs for. One FIFO holds the requests waiting for the port; freeing the port
grants the oldest waiter. Enqueue, grant and cancel are O(1) (an ordered dict keyed by the
request). Nothing blocks while the arbiter's lock is held, and no completion or callback runs
under it: grants and cancels decide under the lock, then act outside it.

A grant runs the waiter's ``on_grant`` (or completes its request STATUS_SUCCESS) in the thread
that freed the port. A grant action may itself free the port again (a select that fails gives
the port back); the next grant then runs in the same loop, not deeper in the stack, so any chain
of failing waiters is served in constant stack depth.

The arbiter only knows owners; what an owner has selected on the wire, and who is told when an
owner loses the port, is the port's seam (:mod:`.seam`) — the one place that claims and releases.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from .. import nt

__all__ = ["PortArbiter", "Waiter"]

log = logging.getLogger(__name__)

# What ``_hold.pop`` answers for a hold that has ended: never an owner, not even None.
_NOBODY: object = object()


@dataclass(eq=False, slots=True)
class Waiter:
    """A request queued for the port, on behalf of ``owner``."""

    irp: nt.Irp
    owner: object
    on_grant: Callable[[Waiter], None] | None = None  # None: complete the request SUCCESS


class PortArbiter:
    """See the module docstring."""

    def __init__(self, name: str = "port") -> None:
        self.name = name
        self._lock = threading.Lock()  # the queue, and handing the port to a waiter
        self._changed = threading.Condition(self._lock)  # the owner or the queue changed
        self._busy = threading.Lock()  # held exactly while the port is owned
        # {hold number: owner}: the current hold, popped by exactly one release of it.
        self._hold: dict[int, object] = {}
        # How many holds have begun: the current hold's number. An owner granted the port again
        # (a second request of its own, granted by its own free) starts a new hold. A new hold
        # is published owner first, then its entry, then its number (see :meth:`free`).
        self.holds = 0
        self._watchers = 0
        self._owner: object | None = None
        self._queue: OrderedDict[int, Waiter] = OrderedDict()
        self._local = threading.local()  # per thread: grants to deliver (see _deliver)
        # Called outside the lock: with each new owner, whether it took a free port or was
        # granted it after a wait (``on_taken``), and when the port goes from owned to free with
        # nobody waiting (``on_free``).
        self.on_taken: Callable[[object], None] | None = None
        self.on_free: Callable[[], None] | None = None
        # For tests and diagnostics: called outside the lock with each new owner (None: free).
        self.on_owner_change: Callable[[object | None], None] | None = None
        # For tests and diagnostics: when a list, ("queued" | "granted", request) in the order
        # the arbiter decided them, recorded under its lock.
        self.trace: list[tuple[str, nt.Irp]] | None = None

    # --- state ----------------------------------------------------------------------------------
    @property
    def owner(self) -> object | None:
        return self._owner

    def owned_by(self, owner: object) -> bool:
        return self._owner is owner

    def is_free(self) -> bool:
        """Nobody owns the port and nobody waits for it (what TryAllocatePort would take).
        Reads without the lock (the state may change right after, as with any query)."""
        return self._owner is None and not self._queue

    def query_num_waiters(self) -> int:
        """Exactly the queued requests (§10.3). A bus scan waits for the port with an ALLOCATE
        request of its own, so it counts as one waiter like the sample's FDO."""
        return len(self._queue)

    def waiters(self) -> list[Waiter]:
        """The waiters in FIFO order (one consistent snapshot: the copy is made in one step)."""
        return list(self._queue.values())

    def head(self) -> Waiter | None:
        """The oldest waiter: the one the next free grants (None when nobody waits)."""
        with self._lock:
            for waiter in self._queue.values():
                return waiter
        return None

    def wait_for(
        self, predicate: Callable[[PortArbiter], bool], timeout: float | None = None
    ) -> bool:
        """Block until ``predicate(arbiter)`` holds (checked at every change of owner or queue,
        with the arbiter's lock held: the predicate may read ``owner``, ``waiters()``,
        ``query_num_waiters()`` and ``is_free()``, and must not change anything); False if
        ``timeout`` wall-clock seconds pass first."""
        with self._changed:
            self._watchers += 1
            try:
                return self._changed.wait_for(lambda: predicate(self), timeout)
            finally:
                self._watchers -= 1

    def _notify(self) -> None:
        """Wake ``wait_for`` callers (the lock is held); nothing to do when nobody watches."""
        if self._watchers:
            self._changed.notify_all()

    # --- taking the port ------------------------------------------------------------------------
    def count_waiters(self, context: object = None) -> int:
        """QueryNumWaiters (the ``context`` a callback passes is not needed)."""
        return len(self._queue)

    def try_allocate(self, owner: object, context: object = None) -> bool:
        """Take the port if nobody owns it and nobody waits (never queues). ``context`` is what
        the TryAllocatePort callback passes; it is not needed."""
        if self._queue or not self._busy.acquire(False):
            return False
        self._owner = owner  # _begin, inlined: the hot path
        number = self.holds + 1
        self._hold[number] = owner
        self.holds = number
        if self._watchers or self.on_taken is not None or self.on_owner_change is not None:
            self._taken(owner)
        return True

    def allocate(
        self,
        irp: nt.Irp,
        owner: object,
        on_grant: Callable[[Waiter], None] | None = None,
    ) -> bool:
        """Grant now (True: the caller owns the port and completes the request itself) or queue
        the request (False: it is pending and cancellable, and is granted or cancelled later —
        at once, STATUS_CANCELLED, when its cancel flag is already set)."""
        if not self._queue and self._busy.acquire(False):
            self._owner = owner  # _begin, inlined: the hot path
            number = self.holds + 1
            self._hold[number] = owner
            self.holds = number
            if self._watchers or self.on_taken is not None or self.on_owner_change is not None:
                self._taken(owner)
            return True
        with self._lock:
            if not self._queue and self._busy.acquire(False):
                granted = True  # freed meanwhile
                self._begin(owner)
            else:
                granted = False
                cancelled_now = not irp.arm_cancel(self._cancel_routine)
                if not cancelled_now:
                    self._queue[id(irp)] = Waiter(irp, owner, on_grant)
                    self._notify()
                    if self.trace is not None:
                        self.trace.append(("queued", irp))
        if granted:
            self._taken(owner)
            return True
        if cancelled_now:
            irp.complete(nt.STATUS_CANCELLED)
        elif not self._busy.locked():
            self._rescue()  # the owner let go while this request was being queued
        return False

    def _begin(self, owner: object) -> None:
        """A new hold for ``owner`` (the caller has ``_busy``): the owner, the entry, then the
        number, so that whoever reads the number and then sees ``owner`` as the owner names a
        hold that is ``owner``'s or already over."""
        self._owner = owner
        number = self.holds + 1
        self._hold[number] = owner
        self.holds = number

    def _taken(self, owner: object) -> None:
        """The port went from free to ``owner``'s: wake watchers, tell the hooks."""
        if self._watchers:
            with self._lock:
                self._changed.notify_all()
        taken = self.on_taken
        if taken is not None:
            taken(owner)
        changed = self.on_owner_change
        if changed is not None:
            changed(owner)

    def _cancel_routine(self, irp: nt.Irp) -> None:
        with self._lock:
            self._queue.pop(id(irp), None)
            self._notify()
        irp.complete(nt.STATUS_CANCELLED)

    # --- giving it back -------------------------------------------------------------------------
    def free(
        self,
        owner: object,
        hold: int | None = None,
        freed: Callable[[object, int], None] | None = None,
    ) -> bool:
        """Release the port if ``owner`` holds it (Part A, A4) and grant the next waiter. The
        port's seam calls this once it has ended what the owner had on the wire, with the
        number of the hold it ended (:meth:`hold_of`): when another release of the same owner
        ended that hold first, and the owner has the port again, this frees nothing (False).
        ``freed(owner, hold)`` runs as soon as the hold is over, before any grant or hook runs
        (they may run a client's callbacks in this thread).

        Ownership is the ``_busy`` lock, held exactly while the port is owned and passed from
        one owner to the next when a waiter is granted, with ``_hold`` — one entry, popped by
        exactly one release. Taking a free port and letting it go with nobody waiting need
        neither the arbiter's lock; a request queued meanwhile is granted by whoever takes
        ``_busy`` back after seeing it (:meth:`_rescue`). Handing the port to a waiter takes
        the arbiter's lock."""
        if hold is None:
            hold = self.hold_of(owner)
            if hold is None:
                return self._not_owner(owner)
        if not self._queue:
            if self._hold.pop(hold, _NOBODY) is not owner:
                return self._not_owner(owner)
            self._owner = None
            self._busy.release()
            if freed is not None:
                freed(owner, hold)
            if self._watchers:
                with self._lock:
                    self._changed.notify_all()
            changed = self.on_owner_change
            if changed is not None:
                changed(None)
            idle = self.on_free
            if idle is not None:
                idle()
            if self._queue:
                self._rescue()
            return True
        with self._lock:
            if self._hold.pop(hold, _NOBODY) is not owner:
                waiter = None
                ended = False
            else:
                ended = True
                waiter = self._next_locked()
                if waiter is None:
                    self._busy.release()
        if not ended:
            return self._not_owner(owner)
        if freed is not None:
            freed(owner, hold)
        if waiter is not None:
            self._handed(waiter)
            return True
        changed = self.on_owner_change
        if changed is not None:
            changed(None)
        idle = self.on_free
        if idle is not None:
            idle()
        if self._queue:
            self._rescue()
        return True

    def hold_of(self, owner: object) -> int | None:
        """The number of ``owner``'s current hold, or None when it does not own the port. Read
        without the lock: the number is read before the owner, and a hold is published owner
        first and number last, so the number names a hold of ``owner``'s — the current one, or
        one a release ended meanwhile, which :meth:`free` then finds gone."""
        number = self.holds
        return number if self._owner is owner else None

    def _handed(self, waiter: Waiter) -> None:
        """The port went to ``waiter``: tell the hooks, then run its grant."""
        taken = self.on_taken
        if taken is not None:
            taken(waiter.owner)
        changed = self.on_owner_change
        if changed is not None:
            changed(waiter.owner)
        self._deliver(waiter)

    def _not_owner(self, owner: object) -> bool:
        log.debug("%s: free by %r, which does not own the port", self.name, owner)
        return False

    def _rescue(self) -> None:
        """Grant the head waiter if the port is free: requests queued while the owner let go."""
        while self._queue and self._busy.acquire(False):
            with self._lock:
                waiter = self._next_locked()
                if waiter is None:
                    self._busy.release()
                    continue
            self._handed(waiter)
            return

    def _next_locked(self) -> Waiter | None:
        """The next owner (the lock is held): the oldest waiter whose cancel is not racing."""
        self._notify()
        queue = self._queue
        while queue:
            _, waiter = queue.popitem(last=False)
            if not waiter.irp.disarm_cancel():
                continue  # a cancel is completing it right now; the next one may have the port
            self._hold.clear()
            self._begin(waiter.owner)
            if self.trace is not None:
                self.trace.append(("granted", waiter.irp))
            return waiter
        self._owner = None
        self._hold.clear()
        return None

    def _deliver(self, waiter: Waiter) -> None:
        """Run ``waiter``'s grant here; a grant made by a grant action joins this loop."""
        local = self._local
        pending: list[Waiter] | None = getattr(local, "pending", None)
        if pending is not None:
            pending.append(waiter)
            return
        pending = local.pending = []
        try:
            while True:
                self._grant(waiter)
                if not pending:
                    break
                waiter = pending.pop(0)
        finally:
            local.pending = None

    def _grant(self, waiter: Waiter) -> None:
        if getattr(waiter.owner, "closing", False):
            # A handle whose close began while this waited, taken off the queue by this grant
            # before its cleanup's cancel could reach it (and maybe after the cleanup looked
            # for a hold of its own): nothing is granted to it, and the port goes on.
            if not waiter.irp.done:
                waiter.irp.complete(nt.STATUS_CANCELLED)
            self.free(waiter.owner)
            return
        action = waiter.on_grant
        if action is None:
            waiter.irp.complete(nt.STATUS_SUCCESS)
            return
        try:
            action(waiter)
        except Exception:
            log.exception("%s: the grant of %r raised", self.name, waiter.irp)
            if not waiter.irp.done:
                waiter.irp.complete(nt.STATUS_UNSUCCESSFUL)
            self.free(waiter.owner)  # no port is kept by a grant that failed

    # --- cleanup --------------------------------------------------------------------------------
    def cancel_queued_by(self, owner: object) -> int:
        """Cancel every request ``owner`` has waiting (last to first); how many."""
        with self._lock:
            mine = [w for w in self._queue.values() if w.owner is owner]
        for waiter in reversed(mine):
            waiter.irp.cancel()
        return len(mine)
