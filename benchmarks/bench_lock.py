"""IOCTL_INTERNAL_LOCK_PORT + IOCTL_INTERNAL_UNLOCK_PORT on a daisy-chain device: wall time
beside the virtual time the same register accesses take on real hardware (target ratio ≤ 1.0),
and the handoff latency from one client's UNLOCK_PORT to the next waiter's completed LOCK_PORT.

Floors measured in the same run: the virtual time (real hardware) and the bare 1284.3 select +
deselect of the engine (what a lock/unlock pair must do on the wire at the least)."""

from __future__ import annotations

import statistics

from parport import nt
from parport.driver import open_bus
from parport.ieee1284 import dot3

from .common import best_of, event_relay, handoff, table

PAIRS = 300
REPEATS = 5


def _lock_unlock() -> tuple[float, float, float]:
    bus = open_bus("emu:")
    h = bus.create_file("LPT1.0")
    port = bus.hardware
    virtual: list[float] = []

    def run() -> None:
        start = port.now()
        for _ in range(PAIRS):
            assert h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT).status == 0
            assert h.internal_device_control(nt.IOCTL_INTERNAL_UNLOCK_PORT).status == 0
        virtual.append((port.now() - start) / PAIRS)

    wall = best_of(REPEATS, run) / PAIRS * 1e6

    def wire() -> None:
        for _ in range(PAIRS):
            dot3.select(port, 0)
            dot3.deselect_all(port)

    floor = best_of(REPEATS, wire) / PAIRS * 1e6
    bus.close()
    return wall, virtual[-1], floor


def _handoff(samples: int = 200) -> tuple[float, float]:
    bus = open_bus("emu:")
    first, second = bus.create_file("LPT1.0"), bus.create_file("LPT1.1")
    lock, unlock = nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT
    wall, virtual = handoff(bus, first, second, lock, unlock, samples=samples)
    bus.close()
    return statistics.median(wall), statistics.median(virtual)


def main() -> str:
    wall, virtual, floor = _lock_unlock()
    handoff_wall, handoff_virtual = _handoff()
    relay = statistics.median(event_relay(200))
    return "\n".join(
        [
            "LOCK_PORT + UNLOCK_PORT on LPT1.0 (a 1284.3 device), through IOCTLs and the worker:",
            table(
                (
                    "wall",
                    "virtual (real hardware)",
                    "wall / virtual (target ≤ 1.0)",
                    "engine select+deselect (wall)",
                ),
                [
                    (
                        f"{wall:.1f} µs",
                        f"{virtual:.1f} µs",
                        f"{wall / virtual:.2f}",
                        f"{floor:.1f} µs",
                    )
                ],
            ),
            "",
            "Handoff, UNLOCK_PORT on LPT1.0 to the waiting LOCK_PORT on LPT1.1 done (median), "
            "beside a two-hop threading.Event relay between the same threads (the floor):",
            table(
                (
                    "wall",
                    "virtual (deselect + select on the wire)",
                    "two-hop Event relay (floor)",
                    "× floor (target ≤ 1.2)",
                ),
                [
                    (
                        f"{handoff_wall:.1f} µs",
                        f"{handoff_virtual:.1f} µs",
                        f"{relay:.1f} µs",
                        f"{handoff_wall / relay:.2f}",
                    )
                ],
            ),
        ]
    )


if __name__ == "__main__":
    print(main())
