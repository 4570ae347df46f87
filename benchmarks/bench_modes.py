"""IEEE 1284 transfer modes through the public device API on the default ``emu:`` port: bytes
per second of wall time for a 1 MiB ``dev.write`` / ``dev.read`` on the end-of-chain printer
(``LPT1.4``, behind two 1284.3 devices), beside that mode's real-hardware ceiling
(ieee1284.md §7.1), the virtual time the same register accesses take on an ISA port, and the
register accesses per byte beside Linux's routines (§7.2). Each transfer is one request: the
driver allocates the port, negotiates the mode and gives the port back, as it would for any
client; each mode is timed over a few requests and the best counts. Target (engine issue):
every mode at or above its ceiling."""

from __future__ import annotations

import os
import time

import parport
from parport import nt
from parport.hw.emu import EmulatedPort, Ieee1284Peripheral

from .common import table

SIZE = int(os.environ.get("PARPORT_BENCH_BYTES", str(1 << 20)))
REPEATS = 3  # requests per mode; the best wall time counts
DEVICE = "LPT1.4"  # the printer at the end of the default chain (daisy, daisy, printer)

# (name, mode bits, forward, real-hardware ceiling in bytes/s, Linux accesses per byte)
CASES = [
    ("compatibility (software)", nt.CENTRONICS, True, 150_000, 4),
    ("compatibility (FIFO)", nt.IEEE_COMPATIBILITY, True, 150_000, None),
    ("nibble", nt.NIBBLE, False, 50_000, 11),
    ("byte", nt.BYTE_BIDIR, False, 500_000, 9),
    ("EPP write (hardware)", nt.EPP_HW, True, 2_000_000, 2),
    ("EPP read (hardware)", nt.EPP_HW, False, 2_000_000, 2),
    ("EPP write (software)", nt.EPP_SW, True, 2_000_000, 5),
    ("EPP read (software)", nt.EPP_SW, False, 2_000_000, 5),
    ("ECP write (hardware FIFO)", nt.ECP_HW_NOIRQ, True, 2_500_000, None),
    ("ECP read (hardware FIFO)", nt.ECP_HW_NOIRQ, False, 2_500_000, None),
    ("ECP write (software)", nt.ECP_SW, True, 2_500_000, 5),
    ("ECP read (software)", nt.ECP_SW, False, 2_500_000, 5),
]


def _run(
    dev: parport.Device, port: EmulatedPort, printer: Ieee1284Peripheral, mode: int, forward: bool
) -> tuple[float, float, float]:
    """(wall bytes/s, virtual bytes/s, accesses per byte) of one 1 MiB request in ``mode``."""
    payload = bytes(range(256)) * (SIZE // 256)
    dev.negotiate(mode)  # the default forward or reverse mode from now on
    if not forward:
        printer.queue_reverse(payload)
    start, accesses, wall = port.now(), port.accesses, time.perf_counter()
    count = dev.write(payload) if forward else len(dev.read(len(payload)))
    wall = time.perf_counter() - wall
    assert count == len(payload), (mode, forward, count)
    virtual = (port.now() - start) / 1e6
    return len(payload) / wall, len(payload) / virtual, (port.accesses - accesses) / len(payload)


def main() -> str:
    rows = []
    with parport.open("emu:") as bus:
        port, dev = bus.hardware, bus.device(DEVICE)
        assert isinstance(port, EmulatedPort)
        printer = port.chain[-1]
        assert isinstance(printer, Ieee1284Peripheral)
        with dev:
            for name, mode, forward, ceiling, linux in CASES:
                runs = [_run(dev, port, printer, mode, forward) for _ in range(REPEATS)]
                wall, virtual, per_byte = max(runs)
                rows.append(
                    (
                        name,
                        f"{wall / 1e3:.0f} kB/s",
                        f"{ceiling / 1e3:.0f} kB/s",
                        f"{wall / ceiling:.2f}",
                        f"{virtual / 1e3:.0f} kB/s",
                        f"{per_byte:.2f}",
                        "–" if linux is None else str(linux),
                    )
                )
    title = f"{SIZE // 1024} KiB per request, dev.write/dev.read on {DEVICE} of emu:"
    return f"{title}, best of {REPEATS}\n" + table(
        (
            "mode",
            "emulated (wall)",
            "hardware ceiling",
            "wall / ceiling (target ≥ 1)",
            "virtual (ISA timing)",
            "accesses / byte",
            "Linux accesses / byte",
        ),
        rows,
    )


if __name__ == "__main__":
    print(main())
