"""Time for the register layer: a virtual clock for the emulator, the monotonic clock for hardware.

Protocol code asks a backend for ``now()`` (microseconds) and ``sleep(us)``; it never reads the wall
clock itself, so the same code runs in virtual time on the emulator (deterministic, no wall time
spent waiting) and in real time on hardware (``design.md`` §3).

Both clocks run timers (``call_later``): the driver's TimerStart, its 250 ms idle rule and the
2 s bus-scan wait. A cancelled timer leaves nothing behind: its entry is dropped from the queue
when the queue next reaches it, and the queue is compacted when cancelled entries make up most of
it (the way the standard library's ``sched`` and asyncio's event loop keep theirs small).

A *paced* virtual clock (the emulator's default) never falls behind wall time while the emulated
hardware is idle: a thread of its own moves it along at wall-clock pace whenever a timer is due
and nobody holds the hardware's lock, so a driver timer fires after at most its length in wall
time. While the hardware is in use, time moves only through emulated accesses and waits (and runs
ahead of wall time, as the emulator is faster than the hardware) — except a long wait for
nothing (no event due before its end), which passes at wall-clock pace, so that a transfer
stalled for minutes waits for minutes without burning a core. A *manual* virtual clock
(``paced=False``) moves only through accesses, waits and sleeps: deterministic, for tests.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable, Collection
from typing import Protocol

__all__ = ["Cancellable", "Clock", "MonotonicClock", "ScheduledCall", "VirtualClock"]

log = logging.getLogger(__name__)

# Cancelled entries are compacted away once there are this many and they are most of the queue.
_COMPACT_MIN = 64
# On a paced clock, a wait with nothing due before its end that is longer than this passes at
# wall-clock pace (shorter ones, such as IEEE 1284 handshake timeouts, take no wall time).
PACED_IDLE_JUMP_NS = 50_000_000
# How long the pacer looks away at most, so a closed or collected clock ends its thread soon.
_PACER_POLL_S = 0.5
# How soon the pacer looks again when the hardware's lock is held (its holder moves time itself).
_PACER_BUSY_S = 0.002
# The most wall time one catch-up spends running due events with the clock's lock held. Events
# denser than Python can run them (a peripheral clocking bytes every microsecond) would otherwise
# keep the pacer behind wall time for ever, holding the lock: past this, virtual time is let lag
# (pacing counts from where the clock got to) and the lock is released for others.
_PACER_SLICE_NS = 5_000_000


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

    def close(self) -> None:
        """Drop every pending timer and end the clock's thread, if it has one."""
        ...


class _TimerQueue(Protocol):
    def _cancelled_one(self) -> None: ...


class ScheduledCall:
    """A handle to a scheduled call; ``cancel()`` drops it (and its callback) at once."""

    __slots__ = ("_queue", "callback", "cancelled", "when")

    def __init__(
        self, when: int, callback: Callable[[], None], queue: _TimerQueue | None = None
    ) -> None:
        self.when = when
        self.callback: Callable[[], None] | None = callback
        self.cancelled = False
        self._queue = queue

    def cancel(self) -> None:
        if self.cancelled or self.callback is None:
            return  # cancelled already, or it has run
        self.cancelled = True
        self.callback = None  # whatever it refers to can go now
        queue, self._queue = self._queue, None
        if queue is not None:
            queue._cancelled_one()

    def _take(self) -> Callable[[], None] | None:
        """The callback, once (None if cancelled); the call is spent afterwards."""
        callback, self.callback = self.callback, None
        self._queue = None
        return None if self.cancelled else callback


class _Heap:
    """A heap of (when, seq, call) with cancelled entries counted and compacted."""

    def __init__(self, lock: threading.RLock) -> None:
        self.items: list[tuple[int, int, ScheduledCall]] = []
        self._seq = itertools.count()
        self._lock = lock
        self.cancelled = 0

    def push(self, when: int, call: ScheduledCall) -> None:
        heapq.heappush(self.items, (when, next(self._seq), call))

    def _cancelled_one(self) -> None:
        with self._lock:
            self.cancelled += 1
            items = self.items
            if self.cancelled >= _COMPACT_MIN and self.cancelled * 2 > len(items):
                kept = [entry for entry in items if not entry[2].cancelled]
                heapq.heapify(kept)
                items[:] = kept  # one step: lock-free readers of the head never see a half heap
                self.cancelled = 0

    def drop_cancelled_head(self) -> None:
        """Pop cancelled entries at the head (the lock is held)."""
        items = self.items
        while items and items[0][2].cancelled:
            heapq.heappop(items)
            if self.cancelled:
                self.cancelled -= 1

    def clear(self) -> None:
        with self._lock:
            for _, _, call in self.items:
                call.cancel()
            self.items.clear()
            self.cancelled = 0


class MonotonicClock:
    """Real time, for hardware backends. Short sleeps spin so microsecond delays stay short.

    Timers run on one thread per clock, started when a timer is scheduled and ended when none is
    left (never at import)."""

    SPIN_BELOW_US = 200.0

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._heap = _Heap(self._lock)
        self._thread: threading.Thread | None = None
        self._closed = False

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

    def call_later(self, delay_ns: int, callback: Callable[[], None]) -> ScheduledCall:
        """Run ``callback`` on the clock's timer thread once ``delay_ns`` have passed."""
        when = time.perf_counter_ns() + max(delay_ns, 0)
        with self._lock:
            call = ScheduledCall(when, callback, self._heap)
            if self._closed:
                call.cancel()
                return call
            first = not self._heap.items or when < self._heap.items[0][0]
            self._heap.push(when, call)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=_run_timers,
                    args=(weakref.ref(self),),
                    name="parport timers",
                    daemon=True,
                )
                self._thread.start()
            elif first:
                self._wake.notify()
        return call

    @property
    def pending(self) -> int:
        """Timers waiting to run (cancelled ones included until they are dropped)."""
        return len(self._heap.items)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._heap.clear()
            self._wake.notify_all()

    def _next_timer(self) -> tuple[Callable[[], None] | None, float | None, bool]:
        """(a callback due now, or None; how long to wait; whether the thread should end)."""
        with self._lock:
            heap = self._heap
            heap.drop_cancelled_head()
            if self._closed or not heap.items:
                self._thread = None
                return None, None, True
            when, _, call = heap.items[0]
            wait = when - time.perf_counter_ns()
            if wait > 0:
                self._wake.wait(min(wait / 1e9, _PACER_POLL_S))
                return None, None, False
            heapq.heappop(heap.items)
            return call._take(), None, False


def _run_timers(ref: weakref.ref[MonotonicClock]) -> None:
    while True:
        clock = ref()
        if clock is None:
            return
        callback, _, done = clock._next_timer()
        del clock
        if done:
            return
        if callback is not None:
            _call(callback)


def _call(callback: Callable[[], None]) -> None:
    try:
        callback()
    except Exception:
        log.exception("a timer callback raised")


class VirtualClock:
    """Virtual time in integer nanoseconds, with a queue of scheduled peripheral events.

    Time moves when somebody advances it: a register access (its cost), a ``sleep``, or a wait
    that jumps to the next event — and, on a paced clock, the pacer (see the module docstring).
    Events due at or before the new time run in time order, each with the clock set to its own
    due time, so every run of a manual clock is deterministic.
    """

    def __init__(self, start_ns: int = 0, *, paced: bool = False) -> None:
        self.paced = paced  # see the module docstring
        self._now = start_ns
        self._running = False
        # Timers are scheduled from any thread; events run in the thread that moves time, with
        # this lock held, so that two threads moving time never run events out of order.
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._heap = _Heap(self._lock)
        self._queue = self._heap.items  # the emulator's hot paths read the head directly
        # The lock of the hardware this clock times (PortBackend.lock): the pacer moves time
        # only while nobody holds it.
        self.idle_lock: threading.RLock | None = None
        self._closed = False
        self._pacer: threading.Thread | None = None
        # Pacing: wall and virtual time at the last moment the pacer saw the clock move by
        # itself (the anchor), and the virtual time it left the clock at.
        self._anchor_wall = time.perf_counter_ns()
        self._anchor_virtual = start_ns
        self._pace_seen = start_ns

    def now_ns(self) -> int:
        return self._now

    def now(self) -> float:
        return self._now / 1000.0

    # --- timers ---------------------------------------------------------------------------------
    def call_at(self, when_ns: int, callback: Callable[[], None]) -> ScheduledCall:
        """Run ``callback`` when virtual time reaches ``when_ns`` (at once-ish if it is past)."""
        with self._lock:
            when = max(when_ns, self._now)
            call = ScheduledCall(when, callback, self._heap)
            if self._closed:
                call.cancel()
                return call
            queue = self._queue
            first = not queue or when < queue[0][0]
            self._heap.push(when, call)
            if self.paced:
                if self._pacer is None:
                    self._start_pacer()
                elif first:
                    self._wake.notify_all()
        return call

    def call_later(self, delay_ns: int, callback: Callable[[], None]) -> ScheduledCall:
        """Run ``callback`` once ``delay_ns`` have passed. On a paced clock that has stood idle,
        the clock first catches up with wall time, so the delay counts from now."""
        if self.paced:
            self._catch_up()
        return self.call_at(self._now + delay_ns, callback)

    @property
    def pending(self) -> int:
        """Events waiting to run (cancelled ones included until they are dropped)."""
        return len(self._queue)

    def next_event_ns(self, ignore: Collection[ScheduledCall] = ()) -> int | None:
        """When the next pending event is due, or None; events in ``ignore`` do not count."""
        with self._lock:
            queue = self._queue
            self._heap.drop_cancelled_head()
            if not ignore or not queue:
                return queue[0][0] if queue else None
            due = [when for when, _, call in queue if not call.cancelled and call not in ignore]
            return min(due) if due else None

    # --- moving time ----------------------------------------------------------------------------
    def advance_to(self, when_ns: int) -> None:
        """Move time forward to ``when_ns``, running every event due on the way."""
        queue = self._queue
        if when_ns < self._now:
            return
        if not queue or queue[0][0] > when_ns:
            if self.paced and when_ns - self._now > PACED_IDLE_JUMP_NS:
                self._wait_at_wall_pace(when_ns)
                return
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
                heap = self._heap
                while queue and queue[0][0] <= when_ns:
                    due, _, call = heapq.heappop(queue)
                    if call.cancelled:
                        if heap.cancelled:
                            heap.cancelled -= 1
                        continue
                    callback = call._take()
                    self._now = max(self._now, due)
                    if callback is not None:
                        callback()
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

    # --- pacing ---------------------------------------------------------------------------------
    def _paced_target(self, wall_ns: int) -> int:
        """Where a paced clock should be at ``wall_ns`` (the lock is held): the anchor moved on
        by the wall time since, after re-anchoring if somebody else moved the clock."""
        if self._now != self._pace_seen:
            # The hardware was in use (time moved without the pacer): pacing counts from now.
            self._anchor_wall, self._anchor_virtual = wall_ns, self._now
            self._pace_seen = self._now
        return self._anchor_virtual + (wall_ns - self._anchor_wall)

    def _catch_up(self) -> None:
        """Bring an idle paced clock up to wall time (events due on the way run)."""
        idle = self.idle_lock
        if idle is not None and not idle.acquire(blocking=False):
            return  # the hardware is in use: its user keeps time moving
        try:
            with self._lock:
                if self._running:
                    return
                target = self._paced_target(time.perf_counter_ns())
                if target > self._now:
                    self._advance_paced(target)
        finally:
            if idle is not None:
                idle.release()

    def _advance_paced(self, target: int) -> bool:
        """The pacer's own move of time (lock held): run what is due, for one slice of wall
        time at most, then note where it left the clock so that it can tell its own moves from
        the hardware's. Returns False when the slice ran out before ``target`` (virtual time
        now lags wall time; the caller lets others have the lock before it looks again)."""
        queue = self._queue
        if not queue or queue[0][0] > target:
            self._now = max(self._now, target)
            self._pace_seen = self._now
            return True
        clock_ns = time.perf_counter_ns
        deadline = clock_ns() + _PACER_SLICE_NS
        caught_up = True
        while queue and queue[0][0] <= target:
            self.advance_to(max(queue[0][0], self._now))
            if clock_ns() > deadline:
                caught_up = not queue or queue[0][0] > target
                break
        if caught_up:
            self._now = max(self._now, target)
        else:
            # Behind by more than can be run: pace on from here instead of chasing wall time.
            self._anchor_wall, self._anchor_virtual = clock_ns(), self._now
        self._pace_seen = self._now
        return caught_up

    def _wait_at_wall_pace(self, when_ns: int) -> None:
        """A long wait with nothing due (paced clocks): let it pass at wall-clock pace; what other
        threads schedule meanwhile runs at its own time on the way."""
        if self._running:
            self._now = when_ns  # inside an event: the loop up the stack runs what is due
            return
        start_wall, start_virtual = time.perf_counter_ns(), self._now
        while True:
            with self._lock:
                if self._closed:
                    break
                virtual = min(when_ns, start_virtual + (time.perf_counter_ns() - start_wall))
                self._heap.drop_cancelled_head()
                queue = self._queue
                if queue and queue[0][0] <= virtual:
                    self.advance_to(max(queue[0][0], self._now))  # scheduled meanwhile, due now
                    continue
                self._now = max(self._now, virtual)
                if virtual >= when_ns:
                    break
                next_due = queue[0][0] if queue else when_ns
                self._wake.wait(min((min(when_ns, next_due) - virtual) / 1e9, _PACER_POLL_S))
        self._now = max(self._now, when_ns)

    def _start_pacer(self) -> None:
        self._pacer = threading.Thread(
            target=_pace, args=(weakref.ref(self),), name="parport pacer", daemon=True
        )
        self._pacer.start()

    def _pace_once(self) -> float | None:
        """One look of the pacer: move time if something is due and the hardware is idle.
        Returns how long to wait before the next look (None: the clock is closed)."""
        with self._lock:
            if self._closed:
                self._pacer = None
                return None
            self._heap.drop_cancelled_head()
            queue = self._queue
            target = self._paced_target(time.perf_counter_ns())
            if not queue:
                self._wake.wait(_PACER_POLL_S)
                return 0.0
            due = queue[0][0]
            if due > target:
                self._wake.wait(min((due - target) / 1e9, _PACER_POLL_S))
                return 0.0
        idle = self.idle_lock
        if idle is not None and not idle.acquire(blocking=False):
            return _PACER_BUSY_S
        try:
            with self._lock:
                if (
                    not self._running
                    and not self._closed
                    and not self._advance_paced(self._paced_target(time.perf_counter_ns()))
                ):
                    return _PACER_BUSY_S  # dense events: let the hardware's users in
        finally:
            if idle is not None:
                idle.release()
        return 0.0

    # --- lifetime -------------------------------------------------------------------------------
    def close(self) -> None:
        """Drop every pending event and end the pacer (idempotent)."""
        with self._lock:
            self._closed = True
            self._heap.clear()
            self._wake.notify_all()
            pacer = self._pacer
        if pacer is not None and pacer is not threading.current_thread():
            pacer.join(timeout=2.0)


def _pace(ref: weakref.ref[VirtualClock]) -> None:
    """The pacer's thread: holds its clock only weakly, so a forgotten clock ends it."""
    while True:
        clock = ref()
        if clock is None:
            return
        try:
            wait = clock._pace_once()
        except Exception:
            log.exception("the clock's pacer failed")
            wait = _PACER_POLL_S
        del clock
        if wait is None:
            return
        if wait:
            time.sleep(wait)
