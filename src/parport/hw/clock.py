"""Time for the register layer: a virtual clock for the emulator, the monotonic clock for hardware.

Protocol code asks a backend for ``now()`` (microseconds) and ``sleep(us)``; it never reads the wall
clock itself, so the same code runs in virtual time on the emulator (deterministic, no wall time
spent waiting) and in real time on hardware (``design.md`` §3).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Collection
from typing import Protocol

__all__ = ["Cancellable", "Clock", "MonotonicClock", "ScheduledCall", "VirtualClock"]


class Cancellable(Protocol):
    """A scheduled call that can be dropped before it runs."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """What every backend's clock offers."""

    def now_ns(self) -> int:
        """Nanoseconds since an arbitrary origin."""
        ...

    def now(self) -> float:
        """Microseconds since an arbitrary origin."""
        ...

    def sleep(self, us: float) -> None:
        """Let ``us`` microseconds pass."""
        ...

    def call_later(self, delay_ns: int, callback: Callable[[], None]) -> Cancellable:
        """Run ``callback`` once ``delay_ns`` nanoseconds have passed on this clock."""
        ...


class MonotonicClock:
    """Real time, for hardware backends. Short sleeps spin so microsecond delays stay short."""

    SPIN_BELOW_US = 200.0

    def now_ns(self) -> int:
        return time.perf_counter_ns()

    def now(self) -> float:
        return time.perf_counter_ns() / 1000.0

    def sleep(self, us: float) -> None:
        if us <= 0:
            return
        if us >= self.SPIN_BELOW_US:
            time.sleep(us / 1e6)
            return
        end = time.perf_counter_ns() + int(us * 1000)
        while time.perf_counter_ns() < end:
            pass

    def call_later(self, delay_ns: int, callback: Callable[[], None]) -> Cancellable:
        """A timer thread, started only now (never at import)."""
        timer = threading.Timer(max(delay_ns, 0) / 1e9, callback)
        timer.daemon = True
        timer.start()
        return timer


class ScheduledCall:
    """A handle to a call scheduled on a :class:`VirtualClock`; ``cancel()`` drops it."""

    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: int, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """Virtual time in integer nanoseconds, with a queue of scheduled peripheral events.

    Time moves only when somebody advances it: a register access (its cost), a ``sleep``, or a
    wait that jumps to the next event. Events due at or before the new time run in time order,
    each with the clock set to its own due time, so every run is deterministic.
    """

    def __init__(self, start_ns: int = 0, *, paced: bool = False) -> None:
        self.paced = paced  # see design: never behind wall time while the hardware is idle
        self._now = start_ns
        self._queue: list[tuple[int, int, ScheduledCall]] = []
        self._seq = itertools.count()
        self._running = False
        # Timers are scheduled from any thread; events run in the thread that moves time, with
        # this lock held, so that two threads moving time never run events out of order.
        self._lock = threading.RLock()

    def now_ns(self) -> int:
        return self._now

    def now(self) -> float:
        return self._now / 1000.0

    def call_at(self, when_ns: int, callback: Callable[[], None]) -> ScheduledCall:
        """Run ``callback`` when virtual time reaches ``when_ns`` (at once-ish if it is past)."""
        with self._lock:
            call = ScheduledCall(max(when_ns, self._now), callback)
            heapq.heappush(self._queue, (call.when, next(self._seq), call))
        return call

    def call_later(self, delay_ns: int, callback: Callable[[], None]) -> ScheduledCall:
        return self.call_at(self._now + delay_ns, callback)

    def next_event_ns(self, ignore: Collection[ScheduledCall] = ()) -> int | None:
        """When the next pending event is due, or None; events in ``ignore`` do not count."""
        with self._lock:
            queue = self._queue
            while queue and queue[0][2].cancelled:
                heapq.heappop(queue)
            if not ignore or not queue:
                return queue[0][0] if queue else None
            due = [when for when, _, call in queue if not call.cancelled and call not in ignore]
            return min(due) if due else None

    def advance_to(self, when_ns: int) -> None:
        """Move time forward to ``when_ns``, running every event due on the way."""
        queue = self._queue
        if when_ns < self._now:
            return
        if not queue or queue[0][0] > when_ns:
            self._now = when_ns  # the common case: nothing due on the way
            return
        with self._lock:
            if self._running:
                # An event callback moving time: only move the clock; the loop further up this
                # thread's stack runs the events.
                self._now = max(self._now, when_ns)
                return
            self._running = True
            try:
                while queue and queue[0][0] <= when_ns:
                    due, _, call = heapq.heappop(queue)
                    if call.cancelled:
                        continue
                    self._now = max(self._now, due)
                    call.callback()
                self._now = max(self._now, when_ns)
            finally:
                self._running = False

    def advance(self, delta_ns: int) -> None:
        self.advance_to(self._now + delta_ns)

    def run_due(self) -> None:
        """Run the events due now without moving time."""
        self.advance_to(self._now)

    def sleep(self, us: float) -> None:
        self.advance_to(self._now + round(us * 1000))
