"""parportd: requests from other processes, each beside its floor measured in the same run.

* LOCK_PORT + UNLOCK_PORT from a client process, against two Unix-socket ping-pongs between two
  Python processes (goal ≤ 1.3×), with the same pair in-process: on LPT1.4 through the lease the
  daemon grants while nobody else uses it (no round trip), on LPT1.4 with the lease turned off,
  and on LPT1.0 (selected on the wire, never leased); for scale, a bare msgpack frame and its
  answer between two Python processes;
* the ALLOCATE handoff between two client processes (A's FREE sent → B's ALLOCATE returns),
  against one ping-pong (goal ≤ 1.5×): with the direct grant A sends B, and through the daemon
  (PARPORT_HANDOFF=0); for scale, one bare datagram to a process that has waited as long as B
  waits (the trip a direct grant takes, with no work at either end);
* a SIGKILLed lock holder's port granted to the next process (goal < 100 ms);
* 64 client processes contending (SELECT_DEVICE + DESELECT_DEVICE from port handles): pairs per
  second against one client alone (goal ≥ 0.8×).
"""

from __future__ import annotations

import os
import select
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import parport
from parport import nt
from parport.driver import open_bus
from parport.service import protocol

from .common import table

PAIRS = 2000
PINGS = 5000
HANDOFFS = 300
KILLS = 10
CONTENDERS = 64
CONTENDED_PAIRS = 200  # per contender
LOCK, UNLOCK = nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT
ALLOCATE, FREE = nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE, nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE
PORT = "\\Device\\ParallelPort0"
SRC = str(Path(__file__).resolve().parent.parent / "src")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([SRC, env.get("PYTHONPATH", "")])
    return env


@contextmanager
def _daemon() -> Iterator[str]:
    """A parportd on ``emu:`` in a subprocess; its socket path."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "parportd.sock")
        notify_path = os.path.join(directory, "notify.sock")
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(notify_path)
        notify.settimeout(30)
        env = _env()
        env["NOTIFY_SOCKET"] = notify_path
        proc = subprocess.Popen(
            [sys.executable, "-m", "parport.service", "--socket", path, "--log-level", "warning"],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        try:
            while b"READY=1" not in notify.recv(4096):
                pass
            yield path
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
            notify.close()


def _child(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _say(child: subprocess.Popen[str], text: str) -> None:
    assert child.stdin is not None
    child.stdin.write(text + "\n")
    child.stdin.flush()


def _line(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line:
        raise RuntimeError("a benchmark client ended early")
    return line.strip()


def _best_us(step: Callable[[int], object], count: int, warm_up: int = 500) -> float:
    """µs per ``step(i)``: the best of three runs of ``count`` steps, after ``warm_up``."""
    for i in range(warm_up):
        step(i)
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(count):
            step(i)
        best = min(best, (time.perf_counter() - start) / count * 1e6)
    return best


# --- the floors ----------------------------------------------------------------------------------
def ping_pong_us(count: int = PINGS) -> float:
    """One round trip of a small message between two Python processes over a Unix socket."""
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        parent.close()
        while True:
            data = child.recv(64)
            if not data:
                os._exit(0)
            child.sendall(data)
    child.close()
    message = b"x" * 24

    def round_trip(_: int) -> None:
        parent.sendall(message)
        parent.recv(64)

    best = _best_us(round_trip, count)
    parent.close()
    os.waitpid(pid, 0)
    return best


def one_hop_us(idle_s: float, count: int = PINGS // 5) -> float:
    """Median µs from sending a datagram to a Python process waiting in ``poll`` for it, after
    it has waited ``idle_s``, to that process holding it: what a direct grant's trip costs
    with no work on either side (a process woken after a wait starts slower than one in a
    tight ping-pong)."""
    sender, waiter = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    pid = os.fork()
    if pid == 0:
        sender.close()
        poller = select.poll()
        poller.register(waiter, select.POLLIN)
        spans = []
        while True:
            poller.poll()
            data = waiter.recv(64)
            held = time.perf_counter_ns()
            if not data:
                break
            spans.append(held - int(data))
            waiter.send(b"k")
        waiter.send(str(statistics.median(spans[count // 10 :])).encode())
        os._exit(0)
    waiter.close()
    for _ in range(count):
        end = time.perf_counter() + idle_s
        while time.perf_counter() < end:
            pass
        sender.send(str(time.perf_counter_ns()).encode())
        sender.recv(64)
    sender.send(b"")
    median = float(sender.recv(64))
    sender.close()
    os.waitpid(pid, 0)
    return median / 1000


def msgpack_echo_us(count: int = PINGS) -> float:
    """One round trip of a SUBMIT-shaped frame and a COMPLETE-shaped answer between two Python
    processes that do nothing else (no driver, no checks, no threads): what any request and
    answer through a socket in CPython costs here, for scale."""
    parent, child = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        parent.close()
        reader, framer = protocol.FrameReader(child), protocol.Framer()
        while True:
            payload = reader.read()
            if payload is None:
                os._exit(0)
            message = protocol.decode(payload)
            child.sendall(framer.frame([protocol.MSG_COMPLETE, message[1], 0, 0, b""]))
    child.close()
    reader, framer = protocol.FrameReader(parent), protocol.Framer()

    def round_trip(seq: int) -> None:
        parent.sendall(framer.frame([protocol.OP_SUBMIT, seq, 1, 0x0F, LOCK, b"", 0]))
        protocol.decode(reader.read() or b"")

    best = _best_us(round_trip, count)
    parent.close()
    os.waitpid(pid, 0)
    return best


# --- the measurements ----------------------------------------------------------------------------
def _pairs_us(handle: object, count: int = PAIRS) -> float:
    control = handle.internal_device_control  # type: ignore[attr-defined]

    def pair(_: int) -> None:
        control(LOCK)
        control(UNLOCK)

    return _best_us(pair, count, warm_up=200)


@contextmanager
def _no_leases() -> Iterator[None]:
    """Clients connected inside the block offer no lease file: every request is a round trip."""
    os.environ["PARPORT_LEASES"] = "0"
    try:
        yield
    finally:
        del os.environ["PARPORT_LEASES"]


def lock_unlock(path: str) -> list[tuple[str, float, float]]:
    """(what, through the daemon, in-process) µs per LOCK_PORT + UNLOCK_PORT pair: LPT1.4 (no
    selection on the wire) leased, and with every request a round trip; LPT1.0 (an IEEE 1284.3
    daisy-chain device, selected on the wire, never leased)."""
    rows = []
    local = open_bus("emu:")
    with _no_leases():
        plain = parport.connect(path)
    with parport.connect(path) as bus, plain:
        for label, client, name in (
            ("LPT1.4, leased", bus, "LPT1.4"),
            ("LPT1.4, lease turned off", plain, "LPT1.4"),
            ("LPT1.0", bus, "LPT1.0"),
        ):
            remote = client.create_file(name)
            here = local.create_file(name)
            rows.append((label, _pairs_us(remote), _pairs_us(here)))
            remote.close()
            here.close()
    local.close()
    return rows


HANDOFF_CLIENT = """
    import sys, time, parport
    from parport import nt
    bus = parport.connect(sys.argv[1])
    port = bus.create_file("\\\\Device\\\\ParallelPort0")
    for line in sys.stdin:
        irp = port.submit_internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
        print("queued", flush=True)
        waiting = time.perf_counter_ns()
        irp.wait()
        granted = time.perf_counter_ns()
        port.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE)
        print(waiting, granted, bus.driver.direct_grants, flush=True)
"""


def handoff_us(path: str, direct: bool, samples: int = HANDOFFS) -> tuple[float, float, int]:
    """(median µs from A sending its FREE to B's queued ALLOCATE returning, in B; median s B
    waited before A's FREE; how many of B's ALLOCATEs a direct grant completed)."""
    with _handoff(direct):
        child = _child(HANDOFF_CLIENT, path)
        bus = parport.connect(path)
    spans: list[float] = []
    waits: list[float] = []
    direct_grants = 0
    with bus:
        port = bus.create_file(PORT)
        for _ in range(samples):
            port.internal_device_control(ALLOCATE)
            _say(child, "go")
            assert _line(child) == "queued"
            while bus.port.waiters != 1:  # its ALLOCATE is in the daemon's FIFO
                pass
            start = time.perf_counter_ns()
            port.internal_device_control(FREE)
            waiting, granted, direct_grants = map(int, _line(child).split())
            spans.append((granted - start) / 1000)
            waits.append((start - waiting) / 1e9)
    assert child.stdin is not None
    child.stdin.close()
    child.wait(30)
    return statistics.median(spans), statistics.median(waits), direct_grants


@contextmanager
def _handoff(direct: bool) -> Iterator[None]:
    """Clients connected inside the block take part in direct grants only when ``direct``."""
    os.environ["PARPORT_HANDOFF"] = "1" if direct else "0"
    try:
        yield
    finally:
        del os.environ["PARPORT_HANDOFF"]


HOLDER = """
    import sys, parport
    from parport import nt
    bus = parport.connect(sys.argv[1])
    h = bus.create_file("LPT1.0")
    h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT)
    print("locked", flush=True)
    sys.stdin.readline()
"""


def kill_grant_ms(path: str, samples: int = KILLS) -> tuple[float, float]:
    """(median, worst) ms from SIGKILL of a lock holder to the next process's LOCK_PORT."""
    spans: list[float] = []
    with parport.connect(path) as bus:
        h = bus.create_file("LPT1.1")
        for _ in range(samples):
            holder = _child(HOLDER, path)
            assert _line(holder) == "locked"
            irp = h.submit_internal_device_control(LOCK)
            assert bus.port.waiters == 1
            start = time.perf_counter()
            holder.kill()
            result = irp.wait(30)
            spans.append((time.perf_counter() - start) * 1000)
            assert result is not None and result.status == nt.STATUS_SUCCESS
            h.internal_device_control(UNLOCK)
            holder.wait(30)
    return statistics.median(spans), max(spans)


CONTENDER = """
    import sys, parport
    from parport import nt
    bus = parport.connect(sys.argv[1])
    pairs, ident = int(sys.argv[2]), int(sys.argv[3])
    port = bus.create_file("\\\\Device\\\\ParallelPort0")
    cmd = nt.PARALLEL_1284_COMMAND(ID=ident, CommandFlags=0).pack()
    print("ready", flush=True)
    sys.stdin.readline()
    for _ in range(pairs):
        assert port.internal_device_control(nt.IOCTL_INTERNAL_SELECT_DEVICE, cmd).status == 0
        assert port.internal_device_control(nt.IOCTL_INTERNAL_DESELECT_DEVICE, cmd).status == 0
    print("done", flush=True)
"""


def pairs_per_second(path: str, clients: int, pairs: int) -> float:
    """SELECT + DESELECT pairs per second, all ``clients`` processes together."""
    children = [_child(CONTENDER, path, str(pairs), str(i % 2)) for i in range(clients)]
    for child in children:
        assert _line(child) == "ready"
    start = time.perf_counter()
    for child in children:
        _say(child, "go")
    for child in children:
        assert _line(child) == "done"
    elapsed = time.perf_counter() - start
    for child in children:
        child.wait(30)
    return clients * pairs / elapsed


def main() -> str:
    floor = ping_pong_us()
    echo = msgpack_echo_us()
    with _daemon() as path:
        pairs = lock_unlock(path)
        handoff, waited, grants = handoff_us(path, direct=True)
        relayed, _, relayed_grants = handoff_us(path, direct=False)
        kill_median, kill_worst = kill_grant_ms(path)
        alone = pairs_per_second(path, 1, CONTENDED_PAIRS * 10)
        crowd = pairs_per_second(path, CONTENDERS, CONTENDED_PAIRS)
    rows = [
        (
            f"LOCK_PORT + UNLOCK_PORT from a client process: {name}",
            f"{remote:.1f} µs",
            f"2 ping-pongs: {2 * floor:.1f} µs",
            f"{remote / (2 * floor):.2f}",
            "≤ 1.3",
            f"in-process {here:.1f} µs",
        )
        for name, remote, here in pairs
    ]
    rows.append(
        (
            "for scale: a msgpack frame and its answer between two bare Python processes",
            f"{echo:.1f} µs",
            f"1 ping-pong: {floor:.1f} µs",
            f"{echo / floor:.2f}",
            "info",
            "no driver, no checks",
        )
    )
    woken = one_hop_us(waited)
    rows.append(
        (
            "ALLOCATE handoff between two client processes, direct grant (median)",
            f"{handoff:.1f} µs",
            f"1 ping-pong: {floor:.1f} µs",
            f"{handoff / floor:.2f}",
            "≤ 1.5",
            f"{grants} of {HANDOFFS} granted directly",
        )
    )
    rows.append(
        (
            "the same through the daemon (PARPORT_HANDOFF=0)",
            f"{relayed:.1f} µs",
            f"1 ping-pong: {floor:.1f} µs",
            f"{relayed / floor:.2f}",
            "",
            f"{relayed_grants} granted directly",
        )
    )
    rows.append(
        (
            f"for scale: a bare datagram to a process that waited {waited * 1e6:.0f} µs, as B did",
            f"{woken:.1f} µs",
            f"1 ping-pong: {floor:.1f} µs",
            f"{woken / floor:.2f}",
            "info",
            f"direct handoff / this: {handoff / woken:.2f}",
        )
    )
    rows.append(
        (
            "SIGKILLed lock holder → next process granted",
            f"{kill_median:.1f} ms (worst {kill_worst:.1f})",
            "—",
            "",
            "< 100 ms",
            f"{KILLS} kills",
        )
    )
    rows.append(
        (
            f"{CONTENDERS} clients contending (SELECT + DESELECT pairs/s)",
            f"{crowd:.0f}/s",
            f"1 client: {alone:.0f}/s",
            f"{crowd / alone:.2f}",
            "≥ 0.8",
            f"{CONTENDERS}×{CONTENDED_PAIRS} pairs",
        )
    )
    return table(("metric", "parportd", "floor", "ratio", "goal", "note"), rows)


if __name__ == "__main__":
    print(main())
