"""The virtual clock: events in time order, each at its own time; the monotonic clock."""

from __future__ import annotations

import gc
import threading
import time

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


# --- timers that leave nothing behind ----------------------------------------------------------


def test_cancelled_timers_leave_the_queue() -> None:
    clock = VirtualClock()
    keep = clock.call_later(10**12, lambda: None)
    for _ in range(10_000):
        clock.call_later(10**9, lambda: None).cancel()
    assert clock.pending < 200  # compacted, not 10 001 entries
    assert clock.next_event_ns() == keep.when
    keep.cancel()
    assert clock.next_event_ns() is None and clock.pending == 0


def test_a_cancelled_timer_drops_its_callback() -> None:
    clock = VirtualClock()
    big = bytearray(10**6)
    call = clock.call_later(1000, big.clear)
    call.cancel()
    assert call.callback is None and call.cancelled


def test_monotonic_timers_share_one_thread_that_ends_when_idle() -> None:
    clock = MonotonicClock()
    fired = threading.Event()
    before = threading.active_count()
    calls = [clock.call_later(10**10, lambda: None) for _ in range(100)]
    clock.call_later(1_000_000, fired.set)
    assert threading.active_count() == before + 1
    assert fired.wait(10)
    for call in calls:
        call.cancel()
    assert clock.pending <= 100
    clock.close()
    deadline = time.monotonic() + 10
    while threading.active_count() > before and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert threading.active_count() == before


def test_a_monotonic_timer_cancelled_does_not_run() -> None:
    clock = MonotonicClock()
    ran = threading.Event()
    clock.call_later(50_000_000, ran.set).cancel()
    done = threading.Event()
    clock.call_later(100_000_000, done.set)
    assert done.wait(10) and not ran.is_set()
    clock.close()


# --- the paced clock ------------------------------------------------------------------------------


def test_a_manual_clock_has_no_thread_and_stands_still() -> None:
    clock = VirtualClock(paced=False)
    before = threading.active_count()
    clock.call_later(1000, lambda: None)
    assert threading.active_count() == before
    assert clock.now_ns() == 0


def test_a_paced_clock_fires_a_timer_after_its_length_of_wall_time() -> None:
    clock = VirtualClock(paced=True)
    fired = threading.Event()
    start = time.monotonic()
    clock.call_later(200_000_000, fired.set)  # 0.2 s of the port's clock
    assert fired.wait(10)
    assert clock.now_ns() >= 200_000_000
    assert time.monotonic() - start < 5  # never hangs (an idle manual clock would)
    clock.close()


def test_a_paced_clock_keeps_time_still_while_the_hardware_is_in_use() -> None:
    clock = VirtualClock(paced=True)
    lock = threading.RLock()
    clock.idle_lock = lock
    fired = threading.Event()
    with lock:
        clock.call_later(1_000_000, fired.set)
        now = clock.now_ns()
        assert not fired.wait(0.2)  # the holder moves time itself; the pacer waits
        assert clock.now_ns() == now
    assert fired.wait(10)
    clock.close()


def test_a_long_idle_wait_on_a_paced_clock_passes_at_wall_pace_without_spinning() -> None:
    clock = VirtualClock(paced=True)
    wall, cpu = time.monotonic(), time.process_time()
    clock.sleep(300_000)  # 0.3 s with nothing due
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    assert clock.now_ns() >= 300_000_000
    assert wall >= 0.2 and cpu < wall / 2
    clock.sleep(5)  # short waits take no wall time
    clock.close()


def test_the_pacer_ends_with_its_clock() -> None:
    def pacers() -> int:
        return sum(1 for t in threading.enumerate() if t.name == "parport pacer")

    before = pacers()
    clock = VirtualClock(paced=True)
    clock.call_later(10**12, lambda: None)
    assert pacers() == before + 1
    clock.close()
    assert pacers() == before
    other = VirtualClock(paced=True)
    other.call_later(10**12, lambda: None)
    del other
    gc.collect()
    deadline = time.monotonic() + 10
    while pacers() > before and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    assert pacers() == before


def test_events_denser_than_wall_time_do_not_shut_others_out_of_a_paced_clock() -> None:
    """A peripheral clocking every microsecond of virtual time outruns what Python can run: the
    pacer lets virtual time lag instead of chasing wall time with the clock's lock held (which
    shut the port's own user out for longer at each look)."""
    clock = VirtualClock(paced=True)
    ran = 0
    behind = threading.Event()

    def tick() -> None:
        nonlocal ran
        ran += 1
        end = time.perf_counter_ns() + 20_000
        while time.perf_counter_ns() < end:  # 20 us of work for each 1 us of the port's time
            pass
        if ran == 20_000:
            behind.set()  # 20 ms of virtual time done in 0.4 s or more of wall time
        clock.call_later(1_000, tick)

    clock.call_later(1_000, tick)
    assert behind.wait(60)
    start = time.monotonic()
    clock.call_at(0, lambda: None)  # takes the clock's lock, as the port's user does
    waited = time.monotonic() - start
    clock.close()
    assert waited < 2.0, f"the pacer kept the clock's lock for {waited:.1f} s"
