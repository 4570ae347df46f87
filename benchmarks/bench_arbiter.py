"""The port arbiter: ALLOCATE + FREE round trips (IOCTLs and callbacks) beside a
``threading.Lock`` acquire + release measured in the same run; the latency from a FREE to the
next waiter's completed ALLOCATE; and the cost of an enqueue + cancel with 10 and with 10 000
waiters already queued (target: flat, ratio ≤ 1.5)."""

from __future__ import annotations

import statistics
import threading

from parport import nt
from parport.driver import open_bus

from .common import best_of, handoff, table

ROUNDS = 20_000
REPEATS = 5
PORT = "\\Device\\ParallelPort0"


def _lock_floor() -> float:
    lock = threading.Lock()

    def run() -> None:
        for _ in range(ROUNDS):
            lock.acquire()
            lock.release()

    return best_of(REPEATS, run) / ROUNDS * 1e9


def _ioctl_round_trip() -> float:
    bus = open_bus("emu:chain=")
    h = bus.create_file(PORT)
    call = h.internal_device_control

    def run() -> None:
        for _ in range(ROUNDS):
            call(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
            call(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE)

    result = best_of(REPEATS, run) / ROUNDS * 1e9
    bus.close()
    return result


def _callback_round_trip() -> float:
    bus = open_bus("emu:chain=")
    h = bus.create_file(PORT)
    out = h.internal_device_control(nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO, output_length=56)
    info = nt.PARALLEL_PORT_INFORMATION.unpack(out.output)
    try_allocate = h.callbacks.callable(info.TryAllocatePort)
    free = h.callbacks.callable(info.FreePort)
    context = info.Context

    def run() -> None:
        for _ in range(ROUNDS):
            try_allocate(context)
            free(context)

    result = best_of(REPEATS, run) / ROUNDS * 1e9
    bus.close()
    return result


def _grant_latency(samples: int = 300) -> float:
    """Median µs from the owner's FREE call to the waiter's ALLOCATE returning, across threads."""
    bus = open_bus("emu:chain=")
    owner, waiter = bus.create_file(PORT), bus.create_file(PORT)
    allocate, free = nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE, nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE
    latencies, _ = handoff(bus, owner, waiter, allocate, free, samples=samples)
    bus.close()
    return statistics.median(latencies)


def _enqueue_cancel(waiters: int, rounds: int = 5_000) -> float:
    bus = open_bus("emu:chain=")
    owner, other = bus.create_file(PORT), bus.create_file(PORT)
    owner.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
    queue = [
        other.submit_internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
        for _ in range(waiters)
    ]
    submit = other.submit_internal_device_control

    def run() -> None:
        for _ in range(rounds):
            submit(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE).cancel()

    result = best_of(REPEATS, run) / rounds * 1e9
    for irp in queue:
        irp.cancel()
    bus.close()
    return result


def main() -> str:
    floor = _lock_floor()
    ioctl = _ioctl_round_trip()
    callbacks = _callback_round_trip()
    latency = _grant_latency()
    small, large = _enqueue_cancel(10), _enqueue_cancel(10_000)
    rows = [
        ("threading.Lock acquire + release (floor)", f"{floor:.0f} ns", "1.0", ""),
        ("ALLOCATE + FREE through IOCTLs", f"{ioctl:.0f} ns", f"{ioctl / floor:.1f}", "≤ 40"),
        (
            "TryAllocatePort + FreePort callbacks",
            f"{callbacks:.0f} ns",
            f"{callbacks / floor:.1f}",
            "≤ 6",
        ),
    ]
    out = [
        "Uncontended round trips:",
        table(("operation", "time", "× lock floor", "target"), rows),
        "",
        f"Grant latency, FREE to the next waiter's ALLOCATE completing in another thread "
        f"(median): {latency:.1f} µs",
        "",
        "Enqueue + cancel of one ALLOCATE with waiters already queued:",
        table(
            ("10 waiters", "10 000 waiters", "ratio (target ≤ 1.5)"),
            [(f"{small:.0f} ns", f"{large:.0f} ns", f"{large / small:.2f}")],
        ),
    ]
    return "\n".join(out)


if __name__ == "__main__":
    print(main())
