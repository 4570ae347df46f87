"""Real ports: register access and compatibility writes through ppdev and ``/dev/port``, each
beside the bare system call measured in the same run (docs/performance.md, "Real ports").

Needs a real ``/dev/parport0`` (and root for ``/dev/port``): run it in the HIL guest, where
Linux's parport_pc drives QEMU's port::

    .venv/bin/python tests/hil/guest.py --run-timeout 300 \\
        --shell-command '.venv/bin/python -m benchmarks bench_hardware'

Rows: µs per register read through the backend (``PpdevPort.read_status``,
``PortIo.read_status``) against a bare ``fcntl.ioctl(fd, PPRSTATUS)`` / ``os.pread`` (goal ≤
1.5×); the same through the whole stack (``bus.pins.status``: a register script with the
port allocated and released around it, for information); compatibility-mode throughput of
``bus.device("LPT1").write()`` against a bare ``os.write`` on the claimed ppdev fd (goal ≥ 0.9×).
Under TCG everything is slow: the ratios are what count.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable

import parport
from parport.hw import ppdev
from parport.hw.handshake import CHUNK  # what the engine hands compat_write_data at most
from parport.hw.portio import PortIo

from .common import best_of, table

DEVICE = "/dev/parport0"
BASE = 0x378
CALLS = 2_000
REPEATS = 3
PAYLOAD = 64 * 1024
WRITE_ROUNDS = 3


def _per_call_us(call: Callable[[], object], calls: int = CALLS) -> float:
    def run() -> None:
        for _ in range(calls):
            call()

    return best_of(REPEATS, run) / calls * 1e6


def _bare_ioctl_us() -> float:
    fd = os.open(DEVICE, os.O_RDWR)
    try:
        fcntl.ioctl(fd, ppdev.PPCLAIM)
        try:
            ioctl, request, one = fcntl.ioctl, ppdev.PPRSTATUS, b"\0"
            return _per_call_us(lambda: ioctl(fd, request, one))
        finally:
            fcntl.ioctl(fd, ppdev.PPRELEASE)
    finally:
        os.close(fd)


def _bare_write_s(data: bytes, chunk: int) -> float:
    """One compatibility write of ``data`` by bare ``os.write`` calls of ``chunk`` bytes on a
    freshly claimed ppdev fd, in seconds."""
    fd = os.open(DEVICE, os.O_RDWR)
    try:
        fcntl.ioctl(fd, ppdev.PPCLAIM)
        try:
            start = time.perf_counter()
            sent = 0
            while sent < len(data):
                sent += os.write(fd, data[sent : sent + chunk])
            return time.perf_counter() - start
        finally:
            fcntl.ioctl(fd, ppdev.PPRELEASE)
    finally:
        os.close(fd)


def main() -> str:
    if not os.path.exists(DEVICE):
        return (
            f"No {DEVICE} here: run it in the HIL guest (`.venv/bin/python tests/hil/guest.py "
            "--shell-command '.venv/bin/python -m benchmarks bench_hardware'`)."
        )
    rows: list[tuple[str, str, str, str]] = []
    bare = _bare_ioctl_us()
    backend = ppdev.PpdevPort(DEVICE)
    try:
        read_status = backend.read_status
        through = _per_call_us(read_status)
        write_data = backend.write_data
        written = _per_call_us(lambda: write_data(0x55))
    finally:
        backend.close()
    rows.append(("bare fcntl.ioctl(PPRSTATUS)", f"{bare:.2f}", "1.00", "floor"))
    rows.append(("PpdevPort.read_status()", f"{through:.2f}", f"{through / bare:.2f}", "≤ 1.5"))
    rows.append(("PpdevPort.write_data()", f"{written:.2f}", f"{written / bare:.2f}", "≤ 1.5"))

    fd = os.open("/dev/port", os.O_RDWR)
    try:
        pread = os.pread
        bare_port = _per_call_us(lambda: pread(fd, 1, BASE + 1))
    finally:
        os.close(fd)
    raw = PortIo(BASE, force=True)
    try:
        port_status = _per_call_us(raw.read_status)
    finally:
        raw.close()
    rows.append(("bare os.pread(/dev/port, 0x379)", f"{bare_port:.2f}", "1.00", "floor"))
    rows.append(
        ("PortIo.read_status()", f"{port_status:.2f}", f"{port_status / bare_port:.2f}", "≤ 1.5")
    )

    data = bytes(range(256)) * (PAYLOAD // 256)
    bare_s = chunked_s = stack_s = float("inf")
    with parport.open(DEVICE) as bus:
        pins = bus.pins
        stack = _per_call_us(lambda: pins.status, calls=500)
    # TCG's speed drifts with the host's load: the three paths take turns, best of each. The
    # bare writes run with the bus closed: a second ppdev fd of this process sleeping in
    # PPCLAIM while the bus's fd gives its claim back is Linux's ppdev deadlock (docs/hil.md).
    for _ in range(WRITE_ROUNDS):
        bare_s = min(bare_s, _bare_write_s(data, len(data)))
        chunked_s = min(chunked_s, _bare_write_s(data, CHUNK))
        with parport.open(DEVICE) as bus, bus.device("LPT1") as device:
            start = time.perf_counter()
            assert device.write(data, timeout=120) == len(data)
            stack_s = min(stack_s, time.perf_counter() - start)
    rows.append(
        ("bus.pins.status (allocate, script, free)", f"{stack:.2f}", f"{stack / bare:.2f}", "info")
    )
    kbs = len(data) / 1000
    throughput = [
        ("bare os.write of it all on the claimed fd", f"{kbs / bare_s:.1f}", "1.00", "floor"),
        (
            f"bare os.write in {CHUNK}-byte calls (the engine's chunk)",
            f"{kbs / chunked_s:.1f}",
            f"{bare_s / chunked_s:.2f}",
            "info",
        ),
        ('bus.device("LPT1").write()', f"{kbs / stack_s:.1f}", f"{bare_s / stack_s:.2f}", "≥ 0.9"),
    ]
    stamp = time.strftime("%Y-%m-%d")
    return (
        f"Register access ({CALLS} calls, best of {REPEATS}; {stamp})\n\n"
        + table(("call", "µs/call", "× bare", "goal"), rows)
        + f"\n\nCompatibility-mode write of {PAYLOAD} bytes (best of {WRITE_ROUNDS})\n\n"
        + table(("path", "kB/s", "× bare", "goal"), throughput)
    )


if __name__ == "__main__":
    print(main())
