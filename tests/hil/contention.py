"""Two processes contending for one port through raw ppdev (shared/spec/hil-qemu.md).

Run by test_ppdev_raw.test_two_process_contention inside the guest, as its own process so that
the test never blocks in an ioctl itself. The script is the recipe's: fork; the parent claims,
sleeps 1 s, releases; the child sleeps 0.3 s, then claims (and releases when it gets the port).
Each process opens the device itself after the fork (one ppdev registration each). Every step is
printed as one JSON line on stdout, with the seconds since the start (``t``) and the monotonic
clock (``mono``).

On kernel 6.1 the pair deadlocks and nothing here breaks it: a signal to the child sometimes
lets the parent's PPRELEASE through and sometimes froze the whole guest (handled: 5 of 6 runs
froze, SIGKILL: 1 of 6; docs/hil.md), so the test leaves the pair stuck and the guest powers off
around them.

Usage: python contention.py /dev/parport0
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import sys
import time

PPCLAIM = 0x0000708B
PPRELEASE = 0x0000708C

T0 = time.monotonic()


def emit(role: str, event: str, **extra: object) -> None:
    now = time.monotonic()
    line = {"role": role, "event": event, "pid": os.getpid(), "t": now - T0, "mono": now}
    line.update(extra)
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def child(device: str) -> None:
    fd = os.open(device, os.O_RDWR)
    time.sleep(0.3)  # the recipe's timing: the parent holds the port by now
    emit("child", "claiming")
    try:
        fcntl.ioctl(fd, PPCLAIM)
    except OSError as exc:
        emit("child", "claim-error", errno=errno.errorcode.get(exc.errno or 0, str(exc.errno)))
        return
    emit("child", "claimed")
    fcntl.ioctl(fd, PPRELEASE)
    emit("child", "released")
    os.close(fd)


def parent(device: str, child_pid: int) -> None:
    fd = os.open(device, os.O_RDWR)
    emit("parent", "claiming", child=child_pid)
    fcntl.ioctl(fd, PPCLAIM)
    emit("parent", "claimed")
    time.sleep(1.0)  # the recipe's timing: the child is blocked in PPCLAIM by now
    emit("parent", "releasing")
    fcntl.ioctl(fd, PPRELEASE)
    emit("parent", "released")
    os.close(fd)
    os.waitpid(child_pid, 0)
    emit("parent", "child-reaped")


def main(argv: list[str]) -> int:
    device = argv[1] if len(argv) > 1 else "/dev/parport0"
    pid = os.fork()
    if pid == 0:
        try:
            child(device)
        finally:
            os._exit(0)
    parent(device, pid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
