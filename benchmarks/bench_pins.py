"""Trigger-port latency: the wall time of one ``setData`` (``bus.pins.set_data``), from the call
to the line changed and the call returned, with its spread (p50, p99, max over 10 000 calls).

Rows, each beside a floor measured in the same run:

* in-process on ``emu:`` — the pin API and the pyparallel drop-in (floor: a bare write of the
  emulated data register, what the request wraps);
* through ``parport.connect()`` to a ``parport serve`` daemon in another process (floor: two
  Unix-socket ping-pongs with an echo process; goal p99 ≤ 1.5× the floor's p99);
* on ``ppdev:`` — in the QEMU guest of the hil tests, where ``/dev/parport0`` exists (floor: a
  bare ``fcntl.ioctl(PPWDATA)``; goal ≤ 2×); elsewhere the row says why it did not run.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import parport
from parport.compat.pyparallel import PPCLAIM, PPRELEASE, PPWDATA, Parallel

from .common import table

CALLS = 10_000
WARMUP = 500


def _latencies(call: Callable[[int], object], calls: int = CALLS) -> list[float]:
    """Wall µs of each of ``calls`` calls (after a warm-up), codes cycling through 0..255."""
    for i in range(WARMUP):
        call(i & 0xFF)
    clock = time.perf_counter
    out = []
    for i in range(calls):
        start = clock()
        call(i & 0xFF)
        out.append((clock() - start) * 1e6)
    return out


def _stats(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)))]
    return statistics.median(ordered), p99, ordered[-1]


def _row(name: str, samples: list[float], floor: list[float] | None, goal: str) -> list[object]:
    p50, p99, top = _stats(samples)
    ratios = ["–", "–"]
    if floor is not None:
        base = _stats(floor)
        ratios = [f"{p50 / base[0]:.2f}", f"{p99 / base[1]:.2f}"]
    return [name, len(samples), f"{p50:.1f}", f"{p99:.1f}", f"{top:.0f}", *ratios, goal]


def _in_process() -> list[list[object]]:
    rows = []
    with parport.open("emu:chain=") as bus:
        write = bus.hardware.write_data
        floor = _latencies(write)
        rows.append(_row("emu: bare data-register write (floor)", floor, None, "–"))
        rows.append(_row("emu: bus.pins.set_data", _latencies(bus.pins.set_data), floor, "–"))
        with Parallel(bus=bus) as port:
            rows.append(_row("emu: compat Parallel.setData", _latencies(port.setData), floor, "–"))
    with parport.open("emu:") as bus:
        samples = _latencies(bus.pins.set_data)
        rows.append(_row("emu: (daisy, daisy, printer) bus.pins.set_data", samples, None, "–"))
    return rows


_ECHO = """
import os, socket, sys
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(sys.argv[1]); server.listen(1)
print("ready", flush=True)
conn, _ = server.accept()
while True:
    data = conn.recv(64)
    if not data:
        break
    conn.sendall(data)
"""


def _ping_pongs(folder: str) -> list[float]:
    """Two request/response round trips of a 32-byte frame with an echo process, per sample."""
    path = os.path.join(folder, "echo.sock")
    echo = subprocess.Popen([sys.executable, "-c", _ECHO, path], stdout=subprocess.PIPE, text=True)
    try:
        assert echo.stdout is not None and echo.stdout.readline().strip() == "ready"
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(path)
        frame = bytes(32)

        def two(_: int) -> None:
            for _ in range(2):
                client.sendall(frame)
                got = 0
                while got < len(frame):
                    got += len(client.recv(64))

        samples = _latencies(two)
        client.close()
        return samples
    finally:
        echo.wait(30)


def _through_daemon() -> list[list[object]]:
    with tempfile.TemporaryDirectory() as folder:
        floor = _ping_pongs(folder)
        sock = os.path.join(folder, "parportd.sock")
        daemon = subprocess.Popen(
            [sys.executable, "-m", "parport", "serve", "--socket", sock, "emu:chain="],
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert daemon.stderr is not None
            for line in daemon.stderr:
                if "serving" in line:
                    break
            else:
                return [
                    ["parport.connect(): the daemon did not start", "–", "", "", "", "", "", ""]
                ]
            with parport.connect(sock) as bus:
                samples = _latencies(bus.pins.set_data)
        finally:
            daemon.terminate()
            daemon.communicate(timeout=60)
    return [
        _row("two Unix-socket ping-pongs (floor)", floor, None, "–"),
        _row("parport.connect(): bus.pins.set_data", samples, floor, "p99 ≤ 1.5"),
    ]


def _ppdev() -> list[list[object]]:
    node = "/dev/parport0"
    if not os.path.exists(node):
        return [[f"ppdev: not run here (no {node}: run it in the QEMU guest, docs/hil.md)",
                 "–", "", "", "", "", "", "≤ 2"]]  # fmt: skip
    import fcntl  # noqa: PLC0415

    fd = os.open(node, os.O_RDWR)
    try:
        fcntl.ioctl(fd, PPCLAIM)

        def bare(value: int) -> None:
            fcntl.ioctl(fd, PPWDATA, bytes((value,)))

        floor = _latencies(bare)
        fcntl.ioctl(fd, PPRELEASE)
    finally:
        os.close(fd)
    rows = [_row("ppdev: bare fcntl.ioctl(PPWDATA) (floor)", floor, None, "–")]
    # Exclusive: the kernel's claim is held from open to close, as the floor holds it. Shared:
    # each call takes the claim and gives it back (PPCLAIM, PPRELEASE) so lp can print between.
    for spec, label, goal in (
        (node + "?exclusive=1", "ppdev (exclusive=1): bus.pins.set_data", "≤ 2"),
        (node, "ppdev (shared): bus.pins.set_data", "info"),
    ):
        try:
            with parport.open(spec) as bus:
                samples = _latencies(bus.pins.set_data)
        except parport.ParportError as exc:
            rows.append([f"{label}: {exc}", "–", "", "", "", "", "", goal])
            continue
        rows.append(_row(label, samples, floor, goal))
    return rows


def main() -> str:
    rows = _in_process() + _through_daemon() + _ppdev()
    headers = ["setData, wall time of the call", "calls", "p50 µs", "p99 µs", "max µs",
               "p50 / floor", "p99 / floor", "goal"]  # fmt: skip
    return table(headers, rows)


if __name__ == "__main__":
    print(main())
