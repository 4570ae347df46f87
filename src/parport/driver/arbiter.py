"""The port arbiter: one owner at a time, waiters granted in strict arrival order.

Windows keeps a signed counter and an anonymous owner (windows-parport.md §11.1); parport keeps
the owner itself (Part A, A3): the handle an allocation was granted to, or the device object a
device request runs for. One FIFO holds ALLOCATE and SELECT requests; freeing the port grants the
oldest waiter by completing its request. Enqueue, grant and cancel are O(1) (an ordered dict keyed
by the request). Nothing blocks while the arbiter's lock is held, and no completion or callback
runs under it: grants and cancels decide under the lock, then complete outside it.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from .. import nt

__all__ = ["Grant", "PortArbiter", "Waiter"]

log = logging.getLogger(__name__)

# What a granted SELECT runs once the port is its owner's: the wire select, returning an NTSTATUS.
SelectAction = Callable[["Waiter"], int]


@dataclass(eq=False)
class Waiter:
    """A queued ALLOCATE or SELECT request."""

    irp: nt.Irp
    owner: object
    select: SelectAction | None = None  # None: a plain ALLOCATE


@dataclass(frozen=True)
class Grant:
    """Who got the port, to be completed outside the lock."""

    waiter: Waiter


class PortArbiter:
    """See the module docstring."""

    def __init__(self, name: str = "port") -> None:
        self.name = name
        self._lock = threading.RLock()  # re-entrant: wait_for's predicate may query the arbiter
        self._changed = threading.Condition(self._lock)  # the owner or the queue changed
        self._watchers = 0
        self._owner: object | None = None
        self._queue: OrderedDict[int, Waiter] = OrderedDict()
        self.allocations = 0  # WMI-style counters
        self.frees = 0
        self.on_idle: Callable[[], None] | None = None  # freed with nobody waiting (ISR checks)
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

    def query_num_waiters(self) -> int:
        """Exactly the queued ALLOCATE and SELECT requests (§10.3). A bus scan waits for the port
        with an ALLOCATE request of its own, so it counts as one waiter like the sample's FDO."""
        with self._lock:
            return len(self._queue)

    def waiters(self) -> list[Waiter]:
        with self._lock:
            return list(self._queue.values())

    def wait_for(
        self, predicate: Callable[[PortArbiter], bool], timeout: float | None = None
    ) -> bool:
        """Block until ``predicate(arbiter)`` holds (checked at every change of owner or queue);
        False if ``timeout`` wall-clock seconds pass first."""
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
    def try_allocate(self, owner: object) -> bool:
        """Take the port if nobody owns it and nobody waits (never queues)."""
        with self._lock:
            if self._owner is not None or self._queue:
                return False
            self._owner = owner
            self.allocations += 1
            self._notify()
        self._owner_changed(owner)
        return True

    def allocate(self, irp: nt.Irp, owner: object, select: SelectAction | None = None) -> bool:
        """Grant now (True, the caller completes the request) or queue the request (False: it
        is pending, cancellable, and completed when granted or cancelled)."""
        waiter = Waiter(irp, owner, select)
        with self._lock:
            if self._owner is None and not self._queue:
                self._owner = owner
                self.allocations += 1
                self._notify()
                granted = True
            else:
                if not irp.arm_cancel(self._cancel_routine):
                    granted = False
                    cancelled_now = True
                else:
                    self._queue[id(irp)] = waiter
                    self._notify()
                    if self.trace is not None:
                        self.trace.append(("queued", irp))
                    cancelled_now = False
                granted = False
        if granted:
            self._owner_changed(owner)
            return True
        if cancelled_now:
            irp.complete(nt.STATUS_CANCELLED)
        return False

    def _cancel_routine(self, irp: nt.Irp) -> None:
        with self._lock:
            self._queue.pop(id(irp), None)
            self._notify()
        irp.complete(nt.STATUS_CANCELLED)

    # --- giving it back -------------------------------------------------------------------------
    def free(self, owner: object) -> bool:
        """Release the port if ``owner`` holds it (Part A, A4) and grant the next waiter."""
        with self._lock:
            if self._owner is not owner:
                log.warning("%s: free by %r, which does not own the port", self.name, owner)
                return False
            self.frees += 1
            grant = self._next_locked()
        self._after_free(grant)
        return True

    def _next_locked(self) -> Grant | None:
        self._notify()
        while self._queue:
            _, waiter = self._queue.popitem(last=False)
            if not waiter.irp.disarm_cancel():
                continue  # a cancel is completing it right now
            self._owner = waiter.owner
            self.allocations += 1
            if self.trace is not None:
                self.trace.append(("granted", waiter.irp))
            return Grant(waiter)
        self._owner = None
        return None

    def _after_free(self, grant: Grant | None) -> None:
        if grant is None:
            self._owner_changed(None)
            if self.on_idle is not None:
                self.on_idle()
            return
        waiter = grant.waiter
        self._owner_changed(waiter.owner)
        if waiter.select is None:
            waiter.irp.complete(nt.STATUS_SUCCESS)
            return
        try:
            status = waiter.select(waiter)
        except Exception:
            log.exception("%s: select for a granted waiter raised", self.name)
            status = nt.STATUS_UNSUCCESSFUL
        if status != nt.STATUS_SUCCESS:
            # Part A, A6: a select that took the port and failed gives the port back.
            self.free(waiter.owner)
        waiter.irp.complete(status)

    def _owner_changed(self, owner: object | None) -> None:
        callback = self.on_owner_change
        if callback is not None:
            callback(owner)

    # --- cleanup --------------------------------------------------------------------------------
    def cancel_queued_by(self, owner: object) -> int:
        """Cancel every request ``owner`` has waiting (last to first); how many."""
        with self._lock:
            mine = [w for w in self._queue.values() if w.owner is owner]
        for waiter in reversed(mine):
            waiter.irp.cancel()
        return len(mine)
