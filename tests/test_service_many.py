"""Many clients: 64 processes take and give back the port for two devices, 1,000 times each
(``PARPORT_MANY_PAIRS`` changes the count; the whole test takes about 100 s on two cores, 40 of
them starting the 64 Python processes). Devices are exclusive, so two processes hold
``LPT1.0`` and ``LPT1.1`` and use LOCK_PORT / UNLOCK_PORT; the other 62 hold port handles and use
SELECT_DEVICE / DESELECT_DEVICE for daisy-chain device 0 or 1 — the same allocate + select and
deselect + free, in the same FIFO.

Every process appends ``S`` (about to ask), ``G`` (granted) and ``R`` (about to give back)
lines to one file (O_APPEND: whole lines). Checked: the grants alternate with the releases of
the same process (never granted twice), while it holds the port its device is the one selected,
every request completes (nothing lost), and between a process's ask and its grant fewer than
four rounds of the others are granted (FIFO: no starvation)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import parport
from service_helpers import Child, config_text, daemon

PROCESSES = 64
PAIRS = int(os.environ.get("PARPORT_MANY_PAIRS", "1000"))
MAX_GAP = 4 * PROCESSES  # grants to others between an ask and its grant (FIFO: < 2 rounds)

WORKER = """
    import os, sys, parport
    from parport import nt
    path, mode, ident, pairs, log = sys.argv[1:]
    ident, pairs = int(ident), int(pairs)
    bus = parport.connect(path)
    chain = bus.hardware.chain
    mine, other = chain[ident], chain[1 - ident]
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)
    me = os.getpid()
    if mode == "lock":
        h = bus.create_file(f"LPT1.{ident}")
        take = lambda: h.submit_internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT)
        give = lambda: h.internal_device_control(nt.IOCTL_INTERNAL_UNLOCK_PORT)
    else:
        h = bus.create_file("\\\\Device\\\\ParallelPort0")
        cmd = nt.PARALLEL_1284_COMMAND(ID=ident, CommandFlags=0).pack()
        take = lambda: h.submit_internal_device_control(nt.IOCTL_INTERNAL_SELECT_DEVICE, cmd)
        give = lambda: h.internal_device_control(nt.IOCTL_INTERNAL_DESELECT_DEVICE, cmd)
    print("ready", flush=True)
    sys.stdin.readline()
    bad = []
    for i in range(pairs):
        os.write(fd, b"S %d\\n" % me)
        result = take().wait(120)
        if result is None or result.status != 0:
            bad.append(("take", i, result and result.status))
            continue
        os.write(fd, b"G %d\\n" % me)
        if i % 10 == 0 and (not mine.selected or other.selected):
            bad.append(("not selected", i))
        os.write(fd, b"R %d\\n" % me)
        status = give().status
        if status != 0:
            bad.append(("give", i, status))
    print("done", repr(bad), flush=True)
    bus.close()
"""


@pytest.mark.timeout(1800)
def test_64_processes_share_the_port_fairly(tmp_path: Path) -> None:
    log = tmp_path / "grants.log"
    log.write_bytes(b"")
    with daemon(tmp_path, config_text(log_level="warning", max_connections=128)) as served:
        children: list[Child] = []
        try:
            for index in range(PROCESSES):
                mode = "lock" if index < 2 else "select"
                args = (served.socket, mode, str(index % 2), str(PAIRS), str(log))
                children.append(Child(WORKER, *args))
            for child in children:
                assert child.line() == "ready"
            start = time.monotonic()
            for child in children:
                child.say("go")
            results = [child.line() for child in children]
            elapsed = time.monotonic() - start
        finally:
            for child in children:
                child.kill()
        assert results == ["done []"] * PROCESSES
        with parport.connect(served.socket) as bus:
            assert bus.port.waiters == 0 and bus.driver.check() == []
            assert not any(getattr(p, "selected", False) for p in bus.hardware.chain)
    holder = None
    granted: dict[str, int] = {}
    asked: dict[str, int] = {}
    grants = 0
    worst = 0
    for line in log.read_text().splitlines():
        kind, pid = line.split()
        if kind == "S":
            asked[pid] = grants
        elif kind == "G":
            assert holder is None, f"{pid} granted while {holder} holds the port"
            holder = pid
            worst = max(worst, grants - asked.pop(pid))
            grants += 1
            granted[pid] = granted.get(pid, 0) + 1
        else:
            assert holder == pid, f"{pid} released a port that {holder} holds"
            holder = None
    assert grants == PROCESSES * PAIRS
    assert set(granted.values()) == {PAIRS}
    assert worst < MAX_GAP, f"a process waited through {worst} grants to others"
    print(f"{grants} grants in {elapsed:.1f} s ({grants / elapsed:.0f}/s); longest wait {worst}")
