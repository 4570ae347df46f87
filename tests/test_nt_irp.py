"""The Irp: completes exactly once, cancel protocol, waiters and callbacks, thread races."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parport import nt


def _ioctl(code: int = nt.IOCTL_INTERNAL_UNLOCK_PORT, output_length: int = 0) -> nt.Irp:
    return nt.Irp(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, code, output_length=output_length)


def _queue(irp: nt.Irp) -> None:
    """What a driver does when it queues a request: arm a routine that completes it cancelled."""
    assert irp.arm_cancel(lambda victim: victim.complete(nt.STATUS_CANCELLED))


def test_fields_and_pending_state() -> None:
    handle = object()
    irp = nt.Irp(nt.IRP_MJ_DEVICE_CONTROL, nt.IOCTL_PAR_QUERY_LOCATION, b"ab", 16, handle)
    assert irp.major_function == nt.IRP_MJ_DEVICE_CONTROL
    assert irp.code == 0x00160058
    assert irp.input == b"ab"
    assert irp.output_length == 16
    assert irp.handle is handle
    assert not irp.done
    assert irp.result is None
    assert irp.status == nt.STATUS_PENDING
    assert "IOCTL_PAR_QUERY_LOCATION" in repr(irp)


def test_complete_once_then_second_completion_is_an_error() -> None:
    irp = _ioctl(output_length=4)
    irp.complete(nt.STATUS_SUCCESS, 4, b"LPT1")
    assert irp.result == nt.IoStatus(nt.STATUS_SUCCESS, 4, b"LPT1")
    with pytest.raises(nt.IrpAlreadyCompletedError):
        irp.complete(nt.STATUS_CANCELLED)
    assert irp.status == nt.STATUS_SUCCESS  # not overwritten


def test_completion_arguments_are_checked() -> None:
    irp = _ioctl(output_length=2)
    with pytest.raises(ValueError, match="STATUS_PENDING"):
        irp.complete(nt.STATUS_PENDING)
    with pytest.raises(ValueError, match="Information 3 != 2"):
        irp.complete(nt.STATUS_SUCCESS, 3, b"ab")
    with pytest.raises(ValueError, match="exceed the buffer of 2"):
        irp.complete(nt.STATUS_SUCCESS, 3, b"abc")
    assert not irp.done
    write = nt.Irp(nt.IRP_MJ_WRITE, input=b"hello")
    write.complete(nt.STATUS_SUCCESS, 5)
    assert write.result == nt.IoStatus(nt.STATUS_SUCCESS, 5, b"")
    with pytest.raises(ValueError):
        nt.Irp(nt.IRP_MJ_READ, output_length=-1)
    with pytest.raises(ValueError):
        nt.Irp(0x99)


def test_wait_returns_result_or_none_on_timeout() -> None:
    irp = _ioctl()
    assert irp.wait(0) is None
    assert irp.wait(0.001) is None
    threading.Timer(0.0, lambda: irp.complete(nt.STATUS_DEVICE_BUSY)).start()
    result = irp.wait(10)
    assert result is not None
    assert result.status == nt.STATUS_DEVICE_BUSY
    assert not result.ok
    assert irp.wait() is result


def test_callbacks_run_after_completion_outside_the_lock() -> None:
    irp = _ioctl()
    seen: list[tuple[bool, int]] = []

    def callback(done: nt.Irp) -> None:
        # Re-entering the request from a callback must not deadlock.
        seen.append((done.done, done.status))
        assert done.wait(0) is not None
        assert not done.cancel()

    irp.add_done_callback(callback)
    assert seen == []
    irp.complete(nt.STATUS_SUCCESS)
    assert seen == [(True, nt.STATUS_SUCCESS)]
    irp.add_done_callback(callback)  # already done: runs at once
    assert len(seen) == 2


def test_a_failing_callback_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    irp = _ioctl()
    ran: list[int] = []

    def bad(_: nt.Irp) -> None:
        raise RuntimeError("boom")

    irp.add_done_callback(bad)
    irp.add_done_callback(lambda _: ran.append(1))
    irp.complete(nt.STATUS_SUCCESS)
    assert ran == [1]
    assert "boom" in caplog.text


def test_cancel_with_routine_completes_cancelled() -> None:
    irp = _ioctl()
    _queue(irp)
    assert irp.cancel() is True
    assert irp.cancelled
    assert irp.result == nt.IoStatus(nt.STATUS_CANCELLED, 0, b"")
    assert irp.cancel() is False  # already complete


def test_cancel_without_routine_only_sets_the_flag() -> None:
    irp = _ioctl()
    assert irp.cancel() is False
    assert irp.cancelled
    assert not irp.done
    # A driver that then tries to queue it is told to complete it cancelled itself.
    assert irp.arm_cancel(lambda victim: victim.complete(nt.STATUS_CANCELLED)) is False
    irp.complete(nt.STATUS_CANCELLED)
    assert irp.status == nt.STATUS_CANCELLED


def test_disarm_gives_ownership_to_the_worker() -> None:
    irp = _ioctl()
    _queue(irp)
    assert irp.disarm_cancel() is True
    assert irp.cancel() is False  # nothing armed: the worker owns it now
    assert irp.cancelled  # ...but it can see the flag
    irp.complete(nt.STATUS_SUCCESS)
    assert irp.status == nt.STATUS_SUCCESS


def test_set_cancel_routine_returns_previous() -> None:
    irp = _ioctl()

    def first(victim: nt.Irp) -> None:
        victim.complete(nt.STATUS_CANCELLED)

    assert irp.set_cancel_routine(first) is None
    assert irp.set_cancel_routine(None) is first
    irp.complete(nt.STATUS_SUCCESS)
    with pytest.raises(nt.IrpAlreadyCompletedError):
        irp.set_cancel_routine(first)
    with pytest.raises(nt.IrpAlreadyCompletedError):
        irp.arm_cancel(first)


def _race_once(barrier_timeout: float = 10.0) -> tuple[int, int, list[int]]:
    """One thread completes (worker protocol) while another cancels; both start together."""
    irp = _ioctl()
    _queue(irp)
    callbacks: list[int] = []
    irp.add_done_callback(lambda done: callbacks.append(done.status))
    woke: list[int] = []
    start = threading.Barrier(4, timeout=barrier_timeout)

    def worker() -> None:
        start.wait()
        if irp.disarm_cancel():
            irp.complete(nt.STATUS_SUCCESS)

    def canceller() -> None:
        start.wait()
        irp.cancel()

    def waiter() -> None:
        start.wait()
        result = irp.wait(barrier_timeout)
        woke.append(-1 if result is None else result.status)

    threads = [threading.Thread(target=f) for f in (worker, canceller, waiter, waiter)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(barrier_timeout)
    assert len(woke) == 2
    assert all(s == irp.status for s in woke)
    return irp.status, len(callbacks), callbacks


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 3))
def test_complete_and_cancel_race_exactly_one_wins(_: int) -> None:
    status, ncallbacks, callbacks = _race_once()
    assert status in (nt.STATUS_SUCCESS, nt.STATUS_CANCELLED)
    assert ncallbacks == 1
    assert callbacks == [status]


def test_many_races_end_in_one_of_the_two_outcomes() -> None:
    outcomes = {_race_once()[0] for _ in range(300)}
    assert outcomes <= {nt.STATUS_SUCCESS, nt.STATUS_CANCELLED}


def test_concurrent_completions_one_succeeds_others_raise() -> None:
    irp = _ioctl()
    start = threading.Barrier(8, timeout=10)
    errors: list[BaseException] = []

    def complete(status: int) -> None:
        start.wait()
        try:
            irp.complete(status)
        except nt.IrpAlreadyCompletedError as exc:
            errors.append(exc)

    statuses = [nt.STATUS_SUCCESS, nt.STATUS_CANCELLED] * 4
    threads = [threading.Thread(target=complete, args=(s,)) for s in statuses]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(errors) == 7
    assert irp.done
