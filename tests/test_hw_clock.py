"""The virtual clock: events in time order, each at its own time; the monotonic clock."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from parport.hw.clock import MonotonicClock, VirtualClock


def test_events_run_in_order_at_their_time() -> None:
    clock = VirtualClock()
    seen: list[tuple[str, int]] = []
    clock.call_at(3000, lambda: seen.append(("b", clock.now_ns())))
    clock.call_at(1000, lambda: seen.append(("a", clock.now_ns())))
    clock.call_later(3000, lambda: seen.append(("c", clock.now_ns())))  # same time: FIFO
    assert clock.next_event_ns() == 1000
    clock.advance_to(2000)
    assert seen == [("a", 1000)]
    assert clock.now_ns() == 2000
    clock.sleep(5)  # microseconds
    assert seen == [("a", 1000), ("b", 3000), ("c", 3000)]
    assert clock.now() == 7.0
    assert clock.next_event_ns() is None


def test_cancelled_events_do_not_run_and_time_never_goes_back() -> None:
    clock = VirtualClock(start_ns=500)
    ran: list[int] = []
    call = clock.call_at(900, lambda: ran.append(1))
    call.cancel()
    clock.advance_to(100)
    assert clock.now_ns() == 500
    clock.advance(1000)
    assert ran == []
    assert clock.next_event_ns() is None
    late = clock.call_at(0, lambda: ran.append(2))  # in the past: due now
    assert late.when == clock.now_ns()
    clock.run_due()
    assert ran == [2]


def test_events_scheduled_by_events() -> None:
    clock = VirtualClock()
    seen: list[int] = []

    def first() -> None:
        seen.append(clock.now_ns())
        clock.call_later(10, lambda: seen.append(clock.now_ns()))

    clock.call_at(5, first)
    clock.advance_to(100)
    assert seen == [5, 15]


@given(st.lists(st.integers(0, 10_000), max_size=30), st.integers(0, 20_000))
def test_any_schedule_runs_due_events_sorted(times: list[int], until: int) -> None:
    clock = VirtualClock()
    seen: list[int] = []
    for when in times:
        clock.call_at(when, lambda: seen.append(clock.now_ns()))
    clock.advance_to(until)
    assert seen == sorted(t for t in times if t <= until)
    assert clock.now_ns() == until


def test_monotonic_clock_moves_forward() -> None:
    clock = MonotonicClock()
    start = clock.now_ns()
    clock.sleep(5)
    clock.sleep(0)
    assert clock.now_ns() >= start + 5000
    assert clock.now() > 0
