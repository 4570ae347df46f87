"""The per-device work queue and its worker thread (windows-parport.md §11.4; docs/driver.md,
"Devices and their worker"): FIFO order, cancel while waiting, jobs between requests, requests
run in the caller's thread, and a shutdown that ends in bounded time from any thread. Written
against the mutants of ``worker.py`` (docs/mutation.md)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from driver_helpers import until
from parport import nt
from parport.driver.worker import WorkQueue

WAIT = 30.0


def _irp(tag: int = 0) -> nt.Irp:
    return nt.Irp(nt.IRP_MJ_WRITE, input=bytes([tag]))


class Recorder:
    """A ``run`` for the queue: records the requests it runs, in which thread, and can be held
    inside a request until released."""

    def __init__(self) -> None:
        self.ran: list[nt.Irp] = []
        self.threads: list[str] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.cancelled_seen: list[bool] = []

    def hold(self) -> None:
        self.entered.clear()
        self.release.clear()

    def __call__(self, irp: nt.Irp) -> None:
        self.ran.append(irp)
        self.threads.append(threading.current_thread().name)
        self.entered.set()
        assert self.release.wait(WAIT)
        self.cancelled_seen.append(irp.cancelled)
        irp.complete(nt.STATUS_SUCCESS)


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="parport")
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture
def work() -> Iterator[tuple[WorkQueue, Recorder]]:
    run = Recorder()
    queue = WorkQueue("LPTx", run)
    queue.start()
    yield queue, run
    run.release.set()
    queue.shutdown(lambda: None)


def _done(irp: nt.Irp) -> nt.IoStatus:
    result = irp.wait(WAIT)
    assert result is not None, f"{irp!r} did not complete"
    return result


def test_a_new_queue_is_stopped_and_idle() -> None:
    queue = WorkQueue("idle", Recorder())
    assert not queue.running and queue.idle and len(queue) == 0 and queue.head() is None
    assert queue.current is None
    irp = _irp()
    assert queue.queue(irp) is False  # stopped: cancelled at once
    assert irp.result == nt.IoStatus(nt.STATUS_CANCELLED, 0)
    ran: list[str] = []
    queue.shutdown(lambda: ran.append("final"))  # on a stopped worker: runs here
    assert ran == ["final"]
    assert not queue.begin_inline()


def test_start_runs_one_daemon_thread_named_after_the_queue(
    work: tuple[WorkQueue, Recorder],
) -> None:
    queue, run = work
    assert queue.running
    queue.start()  # already running: nothing more
    threads = [t for t in threading.enumerate() if t.name == "parport LPTx"]
    assert len(threads) == 1 and threads[0].daemon
    irp = _irp()
    assert queue.queue(irp) is True
    assert _done(irp).status == nt.STATUS_SUCCESS
    assert run.threads == ["parport LPTx"]


def test_requests_run_one_at_a_time_in_fifo_order(work: tuple[WorkQueue, Recorder]) -> None:
    queue, run = work
    run.hold()
    first = _irp(1)
    assert queue.queue(first) is True  # next in line
    assert run.entered.wait(WAIT)
    assert queue.current is first and not queue.idle
    rest = [_irp(i) for i in range(2, 6)]
    assert [queue.queue(irp) for irp in rest] == [False] * 4  # something runs: not next
    assert len(queue) == 4 and queue.head() is rest[0]
    run.release.set()
    for irp in rest:
        _done(irp)
    assert run.ran == [first, *rest]
    assert _done(first).status == nt.STATUS_SUCCESS


def test_a_waiting_request_cancelled_leaves_the_queue_and_the_device_is_told(
    work: tuple[WorkQueue, Recorder],
) -> None:
    told: list[tuple[nt.Irp, int]] = []
    run = Recorder()
    queue = WorkQueue("told", run, on_cancel=lambda irp: told.append((irp, irp.status)))
    queue.start()
    run.hold()
    busy, waiting, last = _irp(1), _irp(2), _irp(3)
    queue.queue(busy)
    assert run.entered.wait(WAIT)
    queue.queue(waiting)
    queue.queue(last)
    assert waiting.cancel()
    assert waiting.result == nt.IoStatus(nt.STATUS_CANCELLED, 0)
    assert told == [(waiting, nt.STATUS_CANCELLED)]  # told after it completed
    assert len(queue) == 1 and queue.head() is last
    run.release.set()
    _done(last)
    assert run.ran == [busy, last]
    queue.shutdown(lambda: None)
    work[0].shutdown(lambda: None)


def test_a_request_already_cancelled_is_not_queued(work: tuple[WorkQueue, Recorder]) -> None:
    queue, run = work
    irp = _irp()
    irp.cancel()
    assert queue.queue(irp) is False
    assert irp.result == nt.IoStatus(nt.STATUS_CANCELLED, 0)
    assert len(queue) == 0 and run.ran == []


def test_next_in_line_only_when_nothing_waits_runs_or_is_scheduled(
    work: tuple[WorkQueue, Recorder],
) -> None:
    queue, run = work
    assert queue.begin_inline()  # a request running in a caller's thread
    irp = _irp()
    assert queue.queue(irp) is False
    assert not queue.idle
    queue.end_inline()  # the worker is woken for what waits
    _done(irp)
    gate = threading.Event()
    started = threading.Event()

    def job() -> None:
        started.set()
        assert gate.wait(WAIT)

    queue.call(job, wait=False)
    assert started.wait(WAIT)
    second = _irp()
    assert queue.queue(second) is False  # a job runs
    gate.set()
    _done(second)
    assert run.ran == [irp, second]


def test_a_job_scheduled_before_a_request_makes_it_wait_its_turn() -> None:
    run = Recorder()
    queue = WorkQueue("jobs", run)
    queue.start()
    assert queue.begin_inline()  # keeps the worker from picking anything up
    order: list[str] = []
    queue.call(lambda: order.append("job"), wait=False)
    irp = _irp()
    assert queue.queue(irp) is False  # a job is scheduled: not next in line
    assert not queue.begin_inline()
    queue.end_inline()
    _done(irp)
    assert order == ["job"]
    queue.shutdown(lambda: None)


def test_call_runs_the_job_on_the_worker_and_waits(work: tuple[WorkQueue, Recorder]) -> None:
    queue, run = work
    where: list[str] = []
    queue.call(lambda: where.append(threading.current_thread().name))
    assert where == ["parport LPTx"]  # done when call returns
    run.hold()
    irp = _irp()
    queue.queue(irp)
    assert run.entered.wait(WAIT)
    late: list[str] = []
    caller = threading.Thread(target=lambda: queue.call(lambda: late.append("job")))
    caller.start()
    caller.join(0.05)
    assert late == [] and caller.is_alive()  # waits for the request in progress
    run.release.set()
    caller.join(WAIT)
    assert late == ["job"] and not caller.is_alive()


def test_call_from_the_worker_itself_does_not_wait_for_itself(
    work: tuple[WorkQueue, Recorder],
) -> None:
    queue, _ = work
    order: list[str] = []

    def outer() -> None:
        queue.call(lambda: order.append("inner"))  # runs after this job
        order.append("outer done")

    queue.call(outer)
    queue.call(lambda: None)  # one more turn: the inner job ran before it
    assert order == ["outer done", "inner"]


def test_call_without_wait_returns_before_the_job_runs(work: tuple[WorkQueue, Recorder]) -> None:
    queue, run = work
    run.hold()
    queue.queue(_irp())
    assert run.entered.wait(WAIT)
    ran = threading.Event()
    queue.call(ran.set, wait=False)
    assert not ran.is_set()
    run.release.set()
    assert ran.wait(WAIT)


def test_call_on_a_stopped_queue_runs_in_the_callers_thread() -> None:
    queue = WorkQueue("stopped", Recorder())
    where: list[str] = []
    queue.call(lambda: where.append(threading.current_thread().name))
    queue.call(lambda: where.append("again"), wait=False)
    assert where == [threading.current_thread().name, "again"]


def test_cancel_all_cancels_what_waits_last_to_first_and_flags_the_current(
    work: tuple[WorkQueue, Recorder],
) -> None:
    queue, run = work
    run.hold()
    current = _irp(0)
    queue.queue(current)
    assert run.entered.wait(WAIT)
    order: list[int] = []
    waiting = [_irp(i) for i in (1, 2, 3)]
    for irp in waiting:
        queue.queue(irp)
        irp.add_done_callback(lambda done: order.append(done.input[0]))
    assert queue.cancel_all() == 3
    assert order == [3, 2, 1]
    assert all(irp.status == nt.STATUS_CANCELLED for irp in waiting)
    assert current.cancelled and not current.done  # flagged: it notices by itself
    run.release.set()
    assert _done(current).status == nt.STATUS_SUCCESS
    assert run.cancelled_seen == [True]
    assert queue.cancel_all() == 0


def test_shutdown_cancels_flags_runs_final_after_the_current_request_and_stops() -> None:
    run = Recorder()
    queue = WorkQueue("stop", run)
    queue.start()
    run.hold()
    current = _irp(0)
    queue.queue(current)
    assert run.entered.wait(WAIT)
    order: list[str] = []
    waiting = [_irp(1), _irp(2)]
    for irp in waiting:
        queue.queue(irp)
        irp.add_done_callback(lambda done: order.append(f"cancel {done.input[0]}"))

    def final() -> None:
        order.append(f"final after {current.status:#x}")

    stopper = threading.Thread(target=lambda: queue.shutdown(final))
    stopper.start()
    # The shutdown cancels what waits, then flags the current request.
    until(lambda: current.cancelled, "the current request flagged")
    run.release.set()
    stopper.join(WAIT)
    assert not stopper.is_alive()
    assert order == ["cancel 2", "cancel 1", "final after 0x0"]
    assert run.cancelled_seen == [True]
    assert not queue.running
    assert not [t for t in threading.enumerate() if t.name == "parport stop"]
    late = _irp()
    assert queue.queue(late) is False and late.status == nt.STATUS_CANCELLED


def _stopping(queue: WorkQueue, run: Recorder, final: Callable[[], None]) -> threading.Thread:
    """Hold ``queue``'s worker in a request, start its shutdown in another thread, and return
    once the shutdown has begun (a request waiting behind was cancelled by it)."""
    run.hold()
    queue.queue(_irp(0))
    assert run.entered.wait(WAIT)
    behind = _irp(1)
    queue.queue(behind)
    stopper = threading.Thread(target=lambda: queue.shutdown(final))
    stopper.start()
    assert _done(behind).status == nt.STATUS_CANCELLED
    assert not queue.running
    return stopper


class _ParkWatch(threading.Condition):
    """The queue's condition, telling when its worker goes to sleep on it."""

    def __init__(self, lock: threading.Lock) -> None:
        super().__init__(lock)
        self.parked = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.parked.set()
        return super().wait(timeout)


def test_the_last_request_ending_during_the_shutdowns_cancels_still_gets_the_final() -> None:
    """The request in progress ends while the shutdown is still cancelling (its cancel routine
    runs in the shutdown's thread): the worker, finding nothing left, waits for the final job
    instead of ending without it (a device closed this way kept its place in the port's FIFO)."""
    finals: list[str] = []
    queue: WorkQueue

    def run(irp: nt.Irp) -> None:
        watch.parked.clear()

        def cancelled(_: nt.Irp) -> None:
            irp.complete(nt.STATUS_CANCELLED)  # the worker leaves the request now
            # Until it ended (before the fix) or waits for the final job (now).
            until(lambda: queue.stopped or watch.parked.is_set(), "the worker ended or waiting")

        irp.arm_cancel(cancelled)
        irp.wait(WAIT)

    queue = WorkQueue("racing", run)
    watch = _ParkWatch(queue._lock)
    queue._cond = watch
    queue.start()
    current = _irp()
    queue.queue(current)
    until(lambda: queue.current is current, "the worker running the request")
    queue.shutdown(lambda: finals.append("final"))
    assert current.status == nt.STATUS_CANCELLED
    assert finals == ["final"]
    assert queue.stopped


def test_a_second_shutdown_waits_for_the_first() -> None:
    run = Recorder()
    queue = WorkQueue("twice", run)
    queue.start()
    finals: list[str] = []
    first = _stopping(queue, run, lambda: finals.append("first"))
    second_done = threading.Event()

    def second() -> None:
        queue.shutdown(lambda: finals.append("second"))
        second_done.set()

    threading.Thread(target=second).start()
    assert not second_done.wait(0.05)  # the first is still waiting for the request
    run.release.set()
    assert second_done.wait(WAIT)
    first.join(WAIT)
    assert finals == ["first"]  # the second one's final is not run: the first did the work


def test_shutdown_from_the_worker_returns_and_finishes_after_the_request() -> None:
    finals: list[str] = []
    stopped = threading.Event()
    queue: WorkQueue

    def run(irp: nt.Irp) -> None:
        queue.shutdown(lambda: finals.append(f"final {irp.done}"))
        finals.append("returned")
        irp.complete(nt.STATUS_SUCCESS)

    queue = WorkQueue("self", run)
    queue.start()
    irp = _irp()
    irp.add_done_callback(lambda _: stopped.set())
    queue.queue(irp)
    assert stopped.wait(WAIT)
    queue.shutdown(lambda: None)  # waits for the stop (or runs here once it is stopped)
    assert finals == ["returned", "final True"]
    assert not queue.running


def test_a_request_taken_off_the_queue_while_stopping_is_cancelled_not_run() -> None:
    """The worker picks up a request the shutdown did not see (queued while it ran): it is not
    run, it completes CANCELLED."""
    run = Recorder()
    queue = WorkQueue("late", run)
    queue.start()
    stopper = _stopping(queue, run, lambda: None)
    # Slip a request into the queue behind the shutdown's back, as a dispatch racing it would.
    sneaky = _irp(9)
    assert sneaky.arm_cancel(queue._cancel_routine)
    with queue._cond:
        queue._queue.append(sneaky)
    run.release.set()
    stopper.join(WAIT)
    assert sneaky.result == nt.IoStatus(nt.STATUS_CANCELLED, 0)
    assert [irp.input for irp in run.ran] == [b"\x00"]  # neither the cancelled one nor it


def test_start_after_shutdown_starts_a_new_thread() -> None:
    run = Recorder()
    queue = WorkQueue("again", run)
    for _ in range(3):
        queue.start()
        irp = _irp()
        queue.queue(irp)
        _done(irp)
        queue.shutdown(lambda: None)
        assert not queue.running
    assert len(run.ran) == 3


def test_start_while_stopping_waits_for_the_stop_then_starts() -> None:
    run = Recorder()
    queue = WorkQueue("restart", run)
    queue.start()
    _stopping(queue, run, lambda: None)
    started = threading.Event()

    def restart() -> None:
        queue.start()
        started.set()

    threading.Thread(target=restart).start()
    assert not started.wait(0.05)  # waits for the stopping worker
    run.release.set()
    assert started.wait(WAIT) and queue.running
    irp = _irp()
    queue.queue(irp)
    assert _done(irp).status == nt.STATUS_SUCCESS
    queue.shutdown(lambda: None)


def test_start_from_the_stopping_worker_returns_at_once() -> None:
    done = threading.Event()
    queue: WorkQueue

    def run(irp: nt.Irp) -> None:
        queue.shutdown(lambda: None)
        queue.start()  # its own shutdown is under way: it cannot wait for itself
        irp.complete(nt.STATUS_SUCCESS)
        done.set()

    queue = WorkQueue("own", run)
    queue.start()
    queue.queue(_irp())
    assert done.wait(WAIT)
    queue.shutdown(lambda: None)
    assert not queue.running


def test_a_request_that_raises_completes_unsuccessful_and_the_worker_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def run(irp: nt.Irp) -> None:
        if irp.input == b"\x01":
            raise RuntimeError("broken request")
        if irp.input == b"\x02":
            irp.complete(nt.STATUS_DEVICE_BUSY)
            raise RuntimeError("after completing")
        irp.complete(nt.STATUS_SUCCESS)

    queue = WorkQueue("raising", run)
    queue.start()
    broken, half, fine = _irp(1), _irp(2), _irp(3)
    for irp in (broken, half, fine):
        queue.queue(irp)
    assert _done(broken) == nt.IoStatus(nt.STATUS_UNSUCCESSFUL, 0)
    assert _done(half).status == nt.STATUS_DEVICE_BUSY
    assert _done(fine).status == nt.STATUS_SUCCESS
    assert queue.current is None
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(messages) == 2 and all(m.startswith("raising: request <Irp") for m in messages)
    caplog.clear()
    queue.shutdown(lambda: None)


def test_a_job_that_raises_is_logged_and_the_worker_goes_on(
    work: tuple[WorkQueue, Recorder], caplog: pytest.LogCaptureFixture
) -> None:
    queue, run = work

    def broken() -> None:
        raise RuntimeError("broken job")

    queue.call(broken, wait=False)
    irp = _irp()
    queue.queue(irp)
    assert _done(irp).status == nt.STATUS_SUCCESS
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert messages == ["LPTx: a job raised"]
    caplog.clear()


def test_begin_inline_takes_the_workers_turn_only_when_it_is_idle(
    work: tuple[WorkQueue, Recorder],
) -> None:
    queue, run = work
    assert queue.begin_inline()
    assert not queue.begin_inline()  # one at a time
    assert not queue.idle
    queue.end_inline()
    assert queue.idle
    run.hold()
    queue.queue(_irp())
    assert run.entered.wait(WAIT)
    assert not queue.begin_inline()  # the worker runs a request
    waiting = _irp()
    queue.queue(waiting)
    run.release.set()
    _done(waiting)
    assert queue.begin_inline()
    queue.end_inline()


def test_take_runs_the_head_request_in_the_callers_thread(
    work: tuple[WorkQueue, Recorder],
) -> None:
    queue, run = work
    assert queue.begin_inline()  # the worker stays away while this thread decides
    first, second = _irp(1), _irp(2)
    queue.queue(first)
    queue.queue(second)
    queue.end_inline()
    # The worker may have picked ``first`` up already; take only succeeds for the head.
    assert not queue.take(second)
    assert not queue.take(_irp(7))


def test_take_refuses_when_something_runs_or_the_queue_stopped() -> None:
    run = Recorder()
    queue = WorkQueue("take", run)
    irp = _irp()
    assert not queue.take(irp)  # stopped
    queue.start()
    assert queue.begin_inline()
    queue.queue(irp)
    assert not queue.take(irp)  # something runs (the inline turn)
    queue.end_inline()
    _done(irp)
    assert not queue.take(irp)  # nothing waits
    queue.shutdown(lambda: None)


def test_take_and_end_inline_hand_the_turn_back_to_the_worker() -> None:
    run = Recorder()
    queue = WorkQueue("turns", run)
    queue.start()
    assert queue.begin_inline()
    head, behind = _irp(1), _irp(2)
    queue.queue(head)
    queue.queue(behind)
    queue.end_inline()
    # Either the worker already has ``head``, or this thread takes it; the other runs behind.
    if queue.take(head):
        assert queue.head() is behind and not queue.idle
        assert not queue.begin_inline()
        head.complete(nt.STATUS_SUCCESS)
        queue.end_inline()  # wakes the worker for ``behind``
    _done(head)
    _done(behind)
    queue.shutdown(lambda: None)


def test_the_worker_waits_while_a_request_runs_inline() -> None:
    run = Recorder()
    queue = WorkQueue("inline", run)
    queue.start()
    assert queue.begin_inline()
    irp = _irp()
    queue.queue(irp)
    assert irp.wait(0.05) is None  # the worker does not run it beside the inline request
    queue.end_inline()
    _done(irp)
    queue.shutdown(lambda: None)


def test_end_inline_on_a_stopping_queue_lets_the_shutdown_finish() -> None:
    run = Recorder()
    queue = WorkQueue("stopping", run)
    queue.start()
    assert queue.begin_inline()
    behind = _irp()
    queue.queue(behind)
    finals: list[str] = []
    stopper = threading.Thread(target=lambda: queue.shutdown(lambda: finals.append("final")))
    stopper.start()
    assert _done(behind).status == nt.STATUS_CANCELLED
    assert finals == []  # the inline request still runs
    queue.end_inline()
    stopper.join(WAIT)
    assert not stopper.is_alive() and finals == ["final"]


def _parked_queue(name: str, run: Callable[[nt.Irp], None]) -> tuple[WorkQueue, _ParkWatch]:
    """A started queue whose worker has gone to sleep on its (watched) condition."""
    queue = WorkQueue(name, run)
    watch = _ParkWatch(queue._lock)
    queue._cond = watch
    queue.start()
    assert watch.parked.wait(WAIT)
    return queue, watch


def test_a_request_queued_without_waking_waits_for_the_next_that_wakes() -> None:
    """``wake=False`` leaves the idle worker asleep with the request next in line (the caller
    may take it, or wake the worker); a second request, not next in line, wakes the worker for
    both, in order, even when it asks not to."""
    run = Recorder()
    queue, _ = _parked_queue("nowake", run)
    first, second = _irp(1), _irp(2)
    assert queue.queue(first, wake=False) is True
    assert first.wait(0.05) is None and not run.ran  # the worker sleeps on
    assert queue.queue(second, wake=False) is False  # behind ``first``: wakes the worker
    _done(first)
    _done(second)
    assert [irp.input for irp in run.ran] == [b"\x01", b"\x02"]
    queue.shutdown(lambda: None)


def test_a_taken_request_keeps_the_worker_away_until_end_inline() -> None:
    run = Recorder()
    queue, _ = _parked_queue("taken", run)
    head, behind = _irp(1), _irp(2)
    assert queue.queue(head, wake=False)
    assert queue.take(head)  # running: take refuses nothing but a running or stopped queue
    queue.queue(behind)  # wakes the worker, which must wait for the taken request
    assert behind.wait(0.05) is None and not run.ran
    assert head.disarm_cancel()
    head.complete(nt.STATUS_SUCCESS)
    queue.end_inline()
    _done(behind)
    assert [irp.input for irp in run.ran] == [b"\x02"]
    queue.shutdown(lambda: None)


def test_a_request_cancelled_between_take_and_its_run_completes_cancelled() -> None:
    """Taken off the queue but not yet disarmed, a request can still be cancelled: it completes
    CANCELLED (the device is told), and the taker finds it so and does not run it."""
    told: list[nt.Irp] = []
    run = Recorder()
    queue = WorkQueue("cancel-taken", run, on_cancel=told.append)
    watch = _ParkWatch(queue._lock)
    queue._cond = watch
    queue.start()
    assert watch.parked.wait(WAIT)
    irp = _irp()
    assert queue.queue(irp, wake=False)
    assert queue.take(irp)
    assert irp.cancel()
    assert irp.result == nt.IoStatus(nt.STATUS_CANCELLED, 0) and told == [irp]
    assert not irp.disarm_cancel()
    queue.end_inline()
    assert not run.ran
    queue.shutdown(lambda: None)


def test_a_job_called_during_an_inline_turn_runs_when_the_turn_ends() -> None:
    run = Recorder()
    queue = WorkQueue("job-inline", run)
    queue.start()
    assert queue.begin_inline()
    ran = threading.Event()
    caller = threading.Thread(target=lambda: queue.call(ran.set))
    caller.start()
    until(lambda: bool(queue._jobs), "the job posted")
    assert not ran.is_set()  # the inline turn holds the worker's place
    queue.end_inline()  # must wake the worker for the job
    assert ran.wait(WAIT)
    caller.join(WAIT)
    queue.shutdown(lambda: None)


def test_call_from_the_stopping_worker_runs_a_waited_job_at_once_and_leaves_the_rest() -> None:
    """On its own thread while stopping, ``call(job)`` runs the job right there (waiting for
    itself would never end); ``call(job, wait=False)`` returns and leaves it to the final job."""
    seen: list[str] = []
    queue: WorkQueue

    def run(irp: nt.Irp) -> None:
        queue.shutdown(lambda: seen.append("final"))
        queue.call(lambda: seen.append("waited"))
        queue.call(lambda: seen.append("not waited"), wait=False)
        seen.append("returned")
        irp.complete(nt.STATUS_SUCCESS)

    queue = WorkQueue("self-call", run)
    queue.start()
    irp = _irp()
    queue.queue(irp)
    _done(irp)
    queue.shutdown(lambda: None)  # waits for the stop
    assert seen == ["waited", "returned", "final"]


def test_a_request_the_worker_finds_while_the_shutdown_cancels_does_not_end_it_early() -> None:
    """The worker finishes its request and picks up a waiting one while the shutdown is still
    cancelling (the request is not cancelled yet): it completes that one CANCELLED and goes on
    waiting for the final job, which runs."""
    finals: list[str] = []
    run = Recorder()
    queue: WorkQueue
    picked_up = _irp(1)

    def told(cancelled: nt.Irp) -> None:  # in the shutdown's thread, cancelling ``last``
        run.release.set()  # the current request ends; the worker takes ``picked_up``
        assert _done(picked_up).status == nt.STATUS_CANCELLED

    queue = WorkQueue("found", run, on_cancel=told)
    queue.start()
    run.hold()
    current = _irp(0)
    queue.queue(current)
    assert run.entered.wait(WAIT)
    last = _irp(2)
    queue.queue(picked_up)
    queue.queue(last)
    queue.shutdown(lambda: finals.append("final"))  # cancels ``last`` first, then the rest
    assert finals == ["final"]
    assert last.status == nt.STATUS_CANCELLED
    assert [irp.input for irp in run.ran] == [b"\x00"]


class _GatedEvent(threading.Event):
    """The queue's "stopped" event, holding ``gated`` (a thread) inside ``set`` until let go."""

    def __init__(self) -> None:
        super().__init__()
        self.gated: threading.Thread | None = None
        self.at_gate = threading.Event()
        self.gate = threading.Event()

    def set(self) -> None:
        if threading.current_thread() is self.gated:
            self.at_gate.set()
            assert self.gate.wait(WAIT)
        super().set()


def test_a_restart_as_the_old_worker_stops_is_never_told_stopped_by_it() -> None:
    """The worker is stopping (its last step: saying it stopped) while the device is opened
    again: the new worker starts only once the old one has said so, so the old one's signal
    never lands in the new worker's life, and the next shutdown waits for its final job."""
    queue = WorkQueue("restart", lambda irp: irp.complete(nt.STATUS_SUCCESS))
    stopped = _GatedEvent()
    stopped.set()
    queue._stopped = stopped
    queue.start()
    stopped.gated = queue._thread
    first = threading.Thread(target=queue.shutdown, args=(lambda: None,))
    first.start()
    assert stopped.at_gate.wait(WAIT)
    restarted = threading.Event()
    opener = threading.Thread(target=lambda: (queue.start(), restarted.set()))
    opener.start()
    assert not restarted.wait(0.05)  # the old worker has not said it stopped yet
    stopped.gate.set()
    assert restarted.wait(WAIT)
    first.join(WAIT)
    opener.join(WAIT)
    assert queue.running and not stopped.is_set()
    finals: list[str] = []
    queue.call(lambda: None)  # the new worker is alive and serves
    queue.shutdown(lambda: finals.append("final"))
    assert finals == ["final"] and queue.stopped
