"""The port arbiter on its own (windows-parport.md §11.1, Part A A3–A5): one owner, waiters
granted in arrival order, cancels racing grants, grants that fail, watchers, the hooks the seam
hangs on it. Written against the mutants of ``arbiter.py`` (docs/mutation.md): each test pins a
behaviour a client of the arbiter would notice."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from parport import nt
from parport.driver.arbiter import PortArbiter, Waiter

WAIT = 30.0


def _irp() -> nt.Irp:
    return nt.Irp(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)


class Owner:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Nothing the arbiter does may be an error it only logs (a grant that raised, …), unless a
    test says it expects one (by clearing the records itself)."""
    caplog.set_level(logging.DEBUG, logger="parport")
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def test_a_bare_arbiter_without_hooks_allocates_and_frees() -> None:
    """Gap 15 of the last run: a bare arbiter freed with nobody waiting must not need hooks."""
    arbiter = PortArbiter("bare")
    a, b = Owner("a"), Owner("b")
    assert arbiter.is_free() and arbiter.owner is None
    assert arbiter.try_allocate(a)
    assert arbiter.owner is a and arbiter.owned_by(a) and not arbiter.owned_by(b)
    assert not arbiter.is_free()
    assert not arbiter.try_allocate(b)
    assert arbiter.free(a) is True
    assert arbiter.owner is None and arbiter.is_free()
    first = _irp()
    assert arbiter.allocate(first, b) is True  # granted at once: the caller completes it
    assert not first.done and arbiter.owner is b
    assert arbiter.free(b) is True and arbiter.is_free()


def test_free_by_a_non_owner_changes_nothing() -> None:
    arbiter = PortArbiter()
    a, b, c = Owner("a"), Owner("b"), Owner("c")
    assert arbiter.free(a) is False  # nobody owns it
    assert arbiter.try_allocate(a)
    assert arbiter.free(b) is False
    assert arbiter.owner is a
    waiting = _irp()
    assert arbiter.allocate(waiting, c) is False
    assert arbiter.free(b) is False  # with somebody waiting too
    assert arbiter.owner is a and not waiting.done and arbiter.query_num_waiters() == 1
    assert arbiter.free(a) is True
    assert waiting.wait(WAIT) is not None and waiting.status == nt.STATUS_SUCCESS
    assert arbiter.owner is c
    assert arbiter.free(a) is False and arbiter.owner is c  # a's hold ended with its free
    assert arbiter.free(c) is True and arbiter.owner is None


def test_owners_change_in_arrival_order_and_hooks_see_each_change() -> None:
    arbiter = PortArbiter()
    changes: list[object] = []
    taken: list[object] = []
    freed: list[str] = []
    arbiter.on_owner_change = changes.append
    arbiter.on_taken = taken.append
    arbiter.on_free = lambda: freed.append("free")
    arbiter.trace = []
    a, b, c = Owner("a"), Owner("b"), Owner("c")
    assert arbiter.try_allocate(a)
    wb, wc = _irp(), _irp()
    assert arbiter.allocate(wb, b) is False
    assert arbiter.allocate(wc, c) is False
    assert arbiter.query_num_waiters() == arbiter.count_waiters("any context") == 2
    assert [w.owner for w in arbiter.waiters()] == [b, c]
    assert [w.irp for w in arbiter.waiters()] == [wb, wc]
    assert not arbiter.is_free()
    assert arbiter.free(a)
    assert wb.status == nt.STATUS_SUCCESS and not wc.done
    assert arbiter.free(b)
    assert wc.status == nt.STATUS_SUCCESS
    assert arbiter.free(c)
    assert changes == [a, b, c, None]
    assert taken == [a, b, c]
    assert freed == ["free"]  # only when it went free with nobody waiting
    assert arbiter.trace == [("queued", wb), ("queued", wc), ("granted", wb), ("granted", wc)]


def test_allocate_hooks_when_the_port_is_free() -> None:
    arbiter = PortArbiter()
    taken: list[object] = []
    changes: list[object] = []
    arbiter.on_taken = taken.append
    a = Owner("a")
    assert arbiter.allocate(_irp(), a)
    assert taken == [a]
    arbiter.free(a)
    arbiter.on_taken = None
    arbiter.on_owner_change = changes.append
    assert arbiter.allocate(_irp(), a)
    assert changes == [a]
    arbiter.free(a)
    assert changes == [a, None]


def test_try_allocate_tells_the_hooks() -> None:
    arbiter = PortArbiter()
    taken: list[object] = []
    arbiter.on_taken = taken.append
    a = Owner("a")
    assert arbiter.try_allocate(a, "the callback's context")
    assert taken == [a]
    arbiter.free(a)
    arbiter.on_taken = None
    changes: list[object] = []
    arbiter.on_owner_change = changes.append
    assert arbiter.try_allocate(a)
    assert changes == [a]


def test_allocate_of_a_cancelled_request_while_the_port_is_held() -> None:
    """Gap 11: an ALLOCATE whose cancel flag is set, port busy: not queued, CANCELLED at once."""
    arbiter = PortArbiter()
    arbiter.trace = []
    a, b = Owner("a"), Owner("b")
    assert arbiter.try_allocate(a)
    early = _irp()
    early.cancel()
    assert arbiter.allocate(early, b) is False
    assert early.result == nt.IoStatus(nt.STATUS_CANCELLED, 0)
    assert arbiter.query_num_waiters() == 0 and arbiter.trace == []
    assert arbiter.free(a) and arbiter.owner is None


def test_a_cancelled_waiter_leaves_the_queue() -> None:
    arbiter = PortArbiter()
    a, b, c = Owner("a"), Owner("b"), Owner("c")
    arbiter.try_allocate(a)
    wb, wc = _irp(), _irp()
    arbiter.allocate(wb, b)
    arbiter.allocate(wc, c)
    assert wb.cancel()
    assert wb.result == nt.IoStatus(nt.STATUS_CANCELLED, 0)
    assert arbiter.waiters()[0].irp is wc and arbiter.query_num_waiters() == 1
    arbiter.free(a)
    assert wc.status == nt.STATUS_SUCCESS and arbiter.owner is c


def test_a_head_waiter_whose_cancel_races_the_grant_is_skipped() -> None:
    """Gap 12: the head waiter's cancel has taken its routine but not yet completed it when the
    owner frees the port: the next waiter gets the port, in the freeing thread, and the port
    never goes free in between (no on_free, no owner None)."""
    arbiter = PortArbiter()
    changes: list[object] = []
    freed: list[str] = []
    arbiter.on_owner_change = changes.append
    arbiter.on_free = lambda: freed.append("free")
    a, b, c = Owner("a"), Owner("b"), Owner("c")
    arbiter.try_allocate(a)
    wb, wc = _irp(), _irp()
    arbiter.allocate(wb, b)
    arbiter.allocate(wc, c)
    routine = wb.set_cancel_routine(None)  # a cancel of wb is under way
    assert routine is not None
    assert arbiter.free(a)
    assert arbiter.owner is c and wc.status == nt.STATUS_SUCCESS
    assert changes == [a, c] and freed == []
    routine(wb)  # the cancel finishes
    assert wb.result == nt.IoStatus(nt.STATUS_CANCELLED, 0)
    assert arbiter.owner is c and arbiter.query_num_waiters() == 0
    assert arbiter.free(c) and changes == [a, c, None] and freed == ["free"]


def test_every_waiter_cancelled_under_way_leaves_the_port_free() -> None:
    arbiter = PortArbiter()
    freed: list[str] = []
    arbiter.on_free = lambda: freed.append("free")
    a, b = Owner("a"), Owner("b")
    arbiter.try_allocate(a)
    wb = _irp()
    arbiter.allocate(wb, b)
    routine = wb.set_cancel_routine(None)
    assert routine is not None
    assert arbiter.free(a)
    assert arbiter.owner is None and freed == ["free"]
    assert arbiter.free(b) is False  # the skipped waiter holds nothing
    routine(wb)
    assert wb.status == nt.STATUS_CANCELLED
    assert arbiter.try_allocate(b) and arbiter.owner is b  # and the port can be had again


def test_a_grant_action_runs_in_the_freeing_thread_with_the_port_owned() -> None:
    arbiter = PortArbiter()
    a, b = Owner("a"), Owner("b")
    arbiter.try_allocate(a)
    seen: list[tuple[object, object, str]] = []

    def granted(waiter: Waiter) -> None:
        seen.append((waiter.owner, arbiter.owner, threading.current_thread().name))
        waiter.irp.complete(nt.STATUS_SUCCESS, 0)

    irp = _irp()
    assert arbiter.allocate(irp, b, granted) is False
    arbiter.free(a)
    assert seen == [(b, b, threading.current_thread().name)]
    assert irp.status == nt.STATUS_SUCCESS


def test_a_grant_that_raises_fails_its_request_and_passes_the_port_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Gap 13: a granted waiter whose action raises completes UNSUCCESSFUL and keeps no port;
    the next waiter is granted in the same loop."""
    arbiter = PortArbiter("lpt")
    a, b, c = Owner("a"), Owner("b"), Owner("c")
    arbiter.try_allocate(a)

    def broken(waiter: Waiter) -> None:
        raise RuntimeError("boom")

    failing, next_one = _irp(), _irp()
    arbiter.allocate(failing, b, broken)
    arbiter.allocate(next_one, c)
    arbiter.free(a)
    assert failing.result == nt.IoStatus(nt.STATUS_UNSUCCESSFUL, 0)
    assert next_one.status == nt.STATUS_SUCCESS and arbiter.owner is c
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"lpt: the grant of {failing!r} raised"]
    caplog.clear()


def test_only_the_owner_frees_the_port_not_even_none(caplog: pytest.LogCaptureFixture) -> None:
    """A free by anybody but the owner — None included — changes nothing and says so."""
    caplog.set_level(logging.DEBUG, logger="parport.driver.arbiter")
    arbiter = PortArbiter("lpt")
    a, b = Owner("a"), Owner("b")
    assert not arbiter.free(None)  # a free port: nobody to free it
    assert arbiter.try_allocate(a)
    assert not arbiter.free(None) and not arbiter.free(b)
    assert arbiter.owner is a
    waiting = _irp()
    arbiter.allocate(waiting, b)
    assert not arbiter.free(None)  # with a waiter queued: the other path
    assert arbiter.owner is a and not waiting.done
    assert not arbiter.free(b)  # with a waiter queued: a non-owner named as well
    messages = [r.getMessage() for r in caplog.records if r.name == "parport.driver.arbiter"]
    assert messages.count(f"lpt: free by {b!r}, which does not own the port") == 2
    assert messages.count("lpt: free by None, which does not own the port") == 3
    assert arbiter.free(a) and waiting.status == nt.STATUS_SUCCESS and arbiter.owner is b
    assert arbiter.free(b) and arbiter.owner is None


def test_a_grant_that_completed_its_request_then_raised_keeps_its_status(
    caplog: pytest.LogCaptureFixture,
) -> None:
    arbiter = PortArbiter()
    a, b = Owner("a"), Owner("b")
    arbiter.try_allocate(a)

    def half_done(waiter: Waiter) -> None:
        waiter.irp.complete(nt.STATUS_DEVICE_BUSY)
        raise RuntimeError("after completing")

    irp = _irp()
    arbiter.allocate(irp, b, half_done)
    arbiter.free(a)
    assert irp.status == nt.STATUS_DEVICE_BUSY  # completed once, not overwritten
    assert arbiter.owner is None and arbiter.is_free()
    caplog.clear()


def test_grants_made_by_a_grant_action_run_after_it_in_the_same_loop() -> None:
    """A grant action that frees the port again (a select that failed) hands it to the next
    waiter only once the action is over: the actions run one after the other, in order, in
    the freeing thread, without recursion."""
    arbiter = PortArbiter()
    owners = [Owner(f"w{i}") for i in range(50)]
    a = Owner("a")
    arbiter.try_allocate(a)
    order: list[str] = []
    depth = [0]

    def give_back(waiter: Waiter) -> None:
        depth[0] += 1
        assert depth[0] == 1  # never inside another action
        order.append(f"start {waiter.owner}")
        waiter.irp.complete(nt.STATUS_UNSUCCESSFUL)
        arbiter.free(waiter.owner)
        order.append(f"end {waiter.owner}")
        depth[0] -= 1

    irps = [_irp() for _ in owners]
    for irp, owner in zip(irps, owners, strict=True):
        arbiter.allocate(irp, owner, give_back)
    arbiter.free(a)
    assert order == [x for o in owners for x in (f"start {o}", f"end {o}")]
    assert all(irp.status == nt.STATUS_UNSUCCESSFUL for irp in irps)
    assert arbiter.owner is None and arbiter.is_free()
    assert getattr(arbiter._local, "pending", None) is None
    # The loop is over: the next grant is delivered again (not parked on a stale list).
    arbiter.try_allocate(a)
    late = _irp()
    arbiter.allocate(late, owners[0])
    arbiter.free(a)
    assert late.status == nt.STATUS_SUCCESS


def test_cancel_queued_by_cancels_only_that_owners_requests_last_to_first() -> None:
    arbiter = PortArbiter()
    a, b, c = Owner("a"), Owner("b"), Owner("c")
    arbiter.try_allocate(a)
    order: list[str] = []
    b1, c1, b2 = _irp(), _irp(), _irp()
    for name, irp, owner in (("b1", b1, b), ("c1", c1, c), ("b2", b2, b)):
        arbiter.allocate(irp, owner)
        irp.add_done_callback(lambda _, name=name: order.append(name))
    assert arbiter.cancel_queued_by(b) == 2
    assert order == ["b2", "b1"]
    assert b1.status == b2.status == nt.STATUS_CANCELLED and not c1.done
    assert arbiter.cancel_queued_by(b) == 0
    assert [w.irp for w in arbiter.waiters()] == [c1]


def _watch(
    arbiter: PortArbiter, predicate: Callable[[PortArbiter], bool], results: list[bool]
) -> threading.Thread:
    """A thread blocked in ``arbiter.wait_for(predicate)``; returns once it is watching (its
    predicate was evaluated once, under the arbiter's lock, which it holds until it waits)."""
    watching = threading.Event()

    def check(arb: PortArbiter) -> bool:
        watching.set()
        return predicate(arb)

    thread = threading.Thread(target=lambda: results.append(arbiter.wait_for(check, WAIT)))
    thread.start()
    assert watching.wait(WAIT)
    return thread


def test_wait_for_returns_when_the_predicate_holds_and_false_on_timeout() -> None:
    """Gap 14: a timeout that passes returns False; two watchers at once are both woken."""
    arbiter = PortArbiter()
    a, b = Owner("a"), Owner("b")
    assert arbiter.wait_for(lambda arb: arb.is_free(), 0)
    assert arbiter.wait_for(lambda arb: arb.owner is a, 0.01) is False
    assert arbiter._watchers == 0
    first: list[bool] = []
    second: list[bool] = []
    one = _watch(arbiter, lambda arb: arb.owner is a, first)
    two = _watch(arbiter, lambda arb: len(arb.waiters()) == 1, second)
    assert arbiter.try_allocate(a)  # wakes the first; the second goes on watching
    one.join(WAIT)
    assert first == [True] and second == []
    assert arbiter.allocate(_irp(), b) is False  # queued: wakes the second
    two.join(WAIT)
    assert second == [True]
    assert arbiter._watchers == 0


@pytest.mark.parametrize("event", ["free", "free to a waiter", "cancel", "take", "queue"])
def test_wait_for_is_woken_by_every_change(event: str) -> None:
    arbiter = PortArbiter()
    a, b = Owner("a"), Owner("b")
    if event != "take":
        arbiter.try_allocate(a)
    waiting = _irp()
    if event in ("free to a waiter", "cancel"):
        arbiter.allocate(waiting, b)
    predicate: Callable[[PortArbiter], bool] = {
        "free": lambda arb: arb.owner is None,
        "free to a waiter": lambda arb: arb.owner is b,
        "cancel": lambda arb: arb.owner is a and arb.query_num_waiters() == 0,
        "take": lambda arb: arb.owner is a,
        "queue": lambda arb: arb.query_num_waiters() == 1,
    }[event]
    result: list[bool] = []
    thread = _watch(arbiter, predicate, result)
    if event == "cancel":
        waiting.cancel()
    elif event == "take":
        assert arbiter.allocate(_irp(), a)
    elif event == "queue":
        assert arbiter.allocate(waiting, b) is False
    else:
        arbiter.free(a)
    thread.join(WAIT)
    assert result == [True]


class _HookedHold(dict):  # type: ignore[type-arg]
    """The arbiter's ``_hold``, running ``hook`` once when the hold's entry is popped: the
    moment a free has looked at the queue (empty) but not yet let the port go."""

    def __init__(self, hook: object) -> None:
        super().__init__()
        self.hook = hook

    def pop(self, *args: object) -> object:
        hook, self.hook = self.hook, None
        if hook is not None:
            hook()  # type: ignore[operator]
        return super().pop(*args)


def test_a_request_queued_while_the_owner_lets_go_is_granted_by_the_free() -> None:
    """The owner frees the port (fast path: nobody waited) while another thread queues a
    request: the free sees the waiter once the port is let go and grants it; meanwhile
    TryAllocatePort does not jump the queue."""
    arbiter = PortArbiter()
    a, b, c = Owner("a"), Owner("b"), Owner("c")
    waiting = _irp()
    tried: list[bool] = []
    arbiter.try_allocate(a)
    hooked = _HookedHold(lambda: tried.append(arbiter.allocate(waiting, b)))
    hooked.update(arbiter._hold)
    arbiter._hold = hooked

    def changed(owner: object) -> None:
        if owner is None and len(tried) == 1:
            tried.append(arbiter.try_allocate(c))  # the port is let go, b still waits

    arbiter.on_owner_change = changed
    assert arbiter.free(a)
    assert tried == [False, False]
    assert waiting.status == nt.STATUS_SUCCESS and arbiter.owner is b
    assert arbiter.free(b) and arbiter.is_free()


class _LateIrp(nt.Irp):
    """An ALLOCATE whose cancel routine is armed just after the owner let the port go."""

    __slots__ = ("before_arm",)

    def arm_cancel(self, routine: object) -> bool:
        before, self.before_arm = self.before_arm, None
        if before is not None:
            before()
        return super().arm_cancel(routine)  # type: ignore[arg-type]


def test_a_request_queued_after_the_owner_let_go_is_granted_by_its_own_allocate() -> None:
    arbiter = PortArbiter()
    a, b = Owner("a"), Owner("b")
    arbiter.try_allocate(a)
    irp = _LateIrp(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
    irp.before_arm = lambda: arbiter.free(a)
    assert arbiter.allocate(irp, b) is False  # queued, then granted by the rescue
    assert irp.status == nt.STATUS_SUCCESS and arbiter.owner is b
    assert arbiter.query_num_waiters() == 0


class _LateLock:
    """The arbiter's ownership lock, as a request being queued sees it when the owner took the
    port back an instant after the queue was checked: ``locked()`` answers False once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.lie = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        if self.lie:
            self.lie = False
            return False
        return self._lock.locked()


def test_a_request_queued_as_the_port_is_taken_back_waits_without_blocking_its_caller() -> None:
    """A request queued while the port looked free tries to take it for the head of the queue;
    when somebody has it after all, the caller returns at once and the request waits its turn."""
    arbiter = PortArbiter("lpt")
    late = _LateLock()
    arbiter._busy = late  # type: ignore[assignment]
    a, b = Owner("a"), Owner("b")
    assert arbiter.try_allocate(a)
    late.lie = True
    waiting = _irp()
    caller = threading.Thread(target=arbiter.allocate, args=(waiting, b), daemon=True)
    caller.start()
    caller.join(10)
    assert not caller.is_alive(), "queuing a request blocked until the owner let go"
    assert not waiting.done and arbiter.owner is a
    assert [w.irp for w in arbiter.waiters()] == [waiting]
    assert arbiter.free(a) and waiting.status == nt.STATUS_SUCCESS and arbiter.owner is b
    assert arbiter.free(b) and arbiter.owner is None


class _FreedMeanwhile(_LateLock):
    """The ownership lock as a request sees it when the owner lets go just after the lock-free
    first try: that try fails, the port is free by the time the arbiter's lock is held."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next_try = False

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self.fail_next_try and not blocking:
            self.fail_next_try = False
            return False
        return super().acquire(blocking, timeout)


def test_a_request_that_finds_the_port_freed_meanwhile_is_granted_at_once() -> None:
    arbiter = PortArbiter("lpt")
    lock = _FreedMeanwhile()
    arbiter._busy = lock  # type: ignore[assignment]
    a = Owner("a")
    lock.fail_next_try = True
    irp = _irp()
    assert arbiter.allocate(irp, a) is True  # granted: the caller completes the request
    assert arbiter.owner is a and arbiter.waiters() == []
    assert arbiter.free(a) and arbiter.owner is None


def test_a_waiter_whose_owner_is_closing_is_not_granted_and_the_port_goes_on() -> None:
    """A request still waiting when its handle's close begins (taken off the queue by a grant
    before the close's cleanup could cancel it) is not granted to the closing handle: it
    completes with STATUS_CANCELLED, runs no grant action, and the port goes to the next waiter
    (it used to stay with the closed handle for good)."""

    class Closing(Owner):
        closing = False

    arbiter = PortArbiter("LPT1")
    first, closing, last = Owner("first"), Closing("closing"), Owner("last")
    assert arbiter.try_allocate(first)
    ran: list[str] = []
    doomed, after = _irp(), _irp()
    assert not arbiter.allocate(doomed, closing, lambda waiter: ran.append("closing"))
    assert not arbiter.allocate(after, last)
    closing.closing = True  # its close has begun
    assert arbiter.free(first)
    assert doomed.status == nt.STATUS_CANCELLED and ran == []
    assert after.status == nt.STATUS_SUCCESS and arbiter.owner is last
    assert arbiter.free(last) and arbiter.owner is None
