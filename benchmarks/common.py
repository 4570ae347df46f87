"""Shared helpers: best-of-N timing, the machine description, and markdown tables."""

from __future__ import annotations

import os
import platform
import threading
import time
from collections.abc import Callable, Sequence

from parport.driver import Handle, ParallelBus


def best_of(repeats: int, run: Callable[[], None]) -> float:
    """The shortest wall time of ``repeats`` runs of ``run``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def machine() -> str:
    """CPU model, core count and Python version."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as file:
            for line in file:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()} on {platform.system()} {platform.release()}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


class _Floor:
    def __init__(self) -> None:
        self.value = 0

    def call(self, value: int) -> None:
        self.value = value


def method_call_floor_ns(calls: int = 200_000, repeats: int = 5) -> float:
    """Nanoseconds for one trivial Python method call on this machine, in this run."""
    floor = _Floor()
    method = floor.call

    def run() -> None:
        for _ in range(calls // 4):
            method(1)
            method(2)
            method(3)
            method(4)

    return best_of(repeats, run) / calls * 1e9


def _take(waiter: Handle, code: int, queued: threading.Event, done: list[float]) -> None:
    irp = waiter.submit_internal_device_control(code)
    queued.set()
    irp.wait()
    done.append(time.perf_counter())


def handoff(
    bus: ParallelBus, owner: Handle, waiter: Handle, take: int, give: int, *, samples: int
) -> tuple[list[float], list[float]]:
    """Per sample, wall µs and virtual µs from ``owner``'s ``give`` call until ``waiter``'s
    ``take``, queued behind it from another thread, has completed.

    The owner takes the port first; the clock starts once the arbiter holds exactly one waiter,
    so the span is the handoff alone. The waiter gives the port back after each sample."""
    wall: list[float] = []
    virtual: list[float] = []
    arbiter, port = bus.fdo.arbiter, bus.hardware
    for _ in range(samples):
        owner.internal_device_control(take)
        queued = threading.Event()
        done: list[float] = []
        thread = threading.Thread(target=_take, args=(waiter, take, queued, done))
        thread.start()
        queued.wait()
        arbiter.wait_for(lambda a: a.query_num_waiters() == 1, 30)
        start, vstart = time.perf_counter(), port.now()
        owner.internal_device_control(give)
        thread.join()
        wall.append((done[0] - start) * 1e6)
        virtual.append(port.now() - vstart)
        waiter.internal_device_control(give)
    return wall, virtual


def event_relay(samples: int) -> list[float]:
    """Per sample, wall µs of a two-hop relay between two threads, as :func:`handoff` has them
    (a thread started per sample): this thread sets an event, the other wakes and sets a
    second one, this thread wakes. The floor for a handoff: two thread wake-ups."""
    spans: list[float] = []
    for _ in range(samples):
        there, back, ready = threading.Event(), threading.Event(), threading.Event()

        def relay(
            there: threading.Event = there,
            back: threading.Event = back,
            ready: threading.Event = ready,
        ) -> None:
            ready.set()
            there.wait()
            back.set()

        thread = threading.Thread(target=relay)
        thread.start()
        ready.wait()
        time.sleep(0.0002)  # let the other thread reach its wait, as the handoff's waiter has
        start = time.perf_counter()
        there.set()
        back.wait()
        spans.append((time.perf_counter() - start) * 1e6)
        thread.join()
    return spans
