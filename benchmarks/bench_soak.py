"""A soak: 8 threads doing LOCK/UNLOCK, ALLOCATE/FREE, writes, the port callbacks and closes on
the default ``emu:`` for five minutes (``PARPORT_SOAK_S`` to change it). Reports the memory the
process holds (RSS) over time — its growth after the first minute must stay within 10 MB —
that no thread hung, that every request completed exactly once, and that the port ends free
with nothing selected and every ownership invariant holding."""

from __future__ import annotations

import os
import random
import threading
import time

import parport
from parport import nt
from parport.driver import ParallelBus

from .common import table

DURATION_S = float(os.environ.get("PARPORT_SOAK_S", "300"))
THREADS = 8
PORT = "\\Device\\ParallelPort0"
DEVICES = ("LPT1.0", "LPT1.1", "LPT1.4")


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as file:
        pages = int(file.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


class _Counts:
    """Requests submitted, completed once, completed more than once — kept as numbers only, so
    the soak measures the stack's memory, not its own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.submitted = 0
        self.completed = 0
        self.twice = 0
        self.operations = 0

    def track(self, irp: nt.Irp) -> nt.Irp:
        with self.lock:
            self.submitted += 1
        seen = [0]

        def done(_: nt.Irp) -> None:
            seen[0] += 1
            with self.lock:
                if seen[0] == 1:
                    self.completed += 1
                else:
                    self.twice += 1

        irp.add_done_callback(done)
        return irp


def _worker(bus: parport.Bus, seed: int, stop: threading.Event, counts: _Counts) -> None:
    rng = random.Random(seed)
    name = DEVICES[seed % len(DEVICES)]
    while not stop.is_set():
        choice = rng.random()
        try:
            if choice < 0.3:
                h = bus.create_file(PORT)
                counts.track(
                    h.submit_internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
                )
                h.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE, timeout=5)
                h.close()
            elif choice < 0.55:
                try:
                    h = bus.create_file(name)
                except parport.AccessDeniedError:
                    continue  # another thread has the device open
                lock = counts.track(h.submit_internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT))
                lock.wait(5)
                counts.track(h.submit_write(b"soak" * rng.randint(1, 64))).wait(5)
                if rng.random() < 0.8:
                    counts.track(
                        h.submit_internal_device_control(nt.IOCTL_INTERNAL_UNLOCK_PORT)
                    ).wait(5)
                h.close()  # the close releases what a missing UNLOCK left
            elif choice < 0.8:
                h = bus.create_file(PORT)
                size = nt.PARALLEL_PORT_INFORMATION.SIZE
                out = h.internal_device_control(nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO, b"", size)
                info = nt.PARALLEL_PORT_INFORMATION.unpack(out.output)
                if h.callbacks.callable(info.TryAllocatePort)(info.Context):
                    h.callbacks.callable(info.FreePort)(info.Context)
                h.close()
            else:
                bus.pins.pulse(rng.randrange(256), 0.0001)
        except parport.ParportError:
            pass  # a timeout under contention is an answer, not a failure
        with counts.lock:
            counts.operations += 1


def main() -> str:
    bus = parport.open("emu:")
    driver = bus.driver
    assert isinstance(driver, ParallelBus)
    counts = _Counts()
    stop = threading.Event()
    threads = [
        threading.Thread(target=_worker, args=(bus, seed, stop, counts), name=f"soak {seed}")
        for seed in range(THREADS)
    ]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    samples: list[tuple[float, float, int]] = []
    step = max(DURATION_S / 10, 1.0)
    while (elapsed := time.monotonic() - start) < DURATION_S:
        time.sleep(min(step, DURATION_S - elapsed))
        # The emulated peripherals keep what they received (the printer's pages): take it away,
        # as a tray is emptied, so the soak measures the stack and not the paper.
        for peripheral in driver.hardware.chain:
            del peripheral.received[:]
        samples.append((time.monotonic() - start, _rss_mb(), counts.operations))
    stop.set()
    for thread in threads:
        thread.join(60)
    hung = [thread.name for thread in threads if thread.is_alive()]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and counts.completed < counts.submitted:
        time.sleep(0.05)
    twice = counts.twice
    lost = counts.submitted - counts.completed
    problems = driver.check()
    bus.close()
    first_minute = next(
        (rss for t, rss, _ in samples if t >= min(60.0, DURATION_S / 5)), samples[0][1]
    )
    growth = samples[-1][1] - first_minute
    rows = [(f"{t:.0f} s", f"{rss:.1f} MB", f"{ops}") for t, rss, ops in samples]
    return "\n".join(
        [
            f"{THREADS} threads for {DURATION_S:.0f} s on emu: (LOCK/UNLOCK and writes, "
            "ALLOCATE/FREE, TryAllocatePort/FreePort, pin pulses, opens and closes)",
            table(("time", "RSS", "operations"), rows),
            "",
            table(
                (
                    "RSS growth after the first minute (target ≤ 10 MB)",
                    "threads hung",
                    "requests lost",
                    "completed twice",
                    "ownership problems",
                ),
                [(f"{growth:+.1f} MB", str(len(hung)), str(lost), str(twice), str(len(problems)))],
            ),
        ]
    )


if __name__ == "__main__":
    print(main())
