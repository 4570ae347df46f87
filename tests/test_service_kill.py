"""A client killed with SIGKILL while it holds a lock, or while its requests wait: the daemon
cleans up its connection as a handle close (design.md §4) — the next waiter, in another process,
is granted the port within 100 ms of the kill, the device is deselected, nothing else changes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import parport
from parport import nt
from service_helpers import Child, daemon

GRANT_WITHIN_S = 0.100
WAIT = 30.0
LOCK = nt.IOCTL_INTERNAL_LOCK_PORT
UNLOCK = nt.IOCTL_INTERNAL_UNLOCK_PORT

HOLDER = """
    import sys, parport
    from parport import nt
    bus = parport.connect(sys.argv[1] if len(sys.argv) > 1 else {socket!r})
    h = bus.create_file("LPT1.0")
    assert h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT).status == 0
    assert h.write(b"A's job").information == 7
    print("locked", flush=True)
    sys.stdin.readline()  # held until killed
"""

QUEUER = """
    import sys, time, parport
    from parport import nt
    bus = parport.connect({socket!r})
    h = bus.create_file("LPT1.0")
    port = bus.create_file("\\\\Device\\\\ParallelPort0")
    printer = bus.create_file("LPT1.4")
    assert h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT).status == 0
    allocate = port.submit_internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
    write = printer.submit_write(b"never written")
    deadline = time.monotonic() + 30
    while bus.port.waiters < 2 and time.monotonic() < deadline:
        pass  # the write's claim is queued by the device (bounded wait)
    print("queued", bus.port.waiters, flush=True)
    sys.stdin.readline()  # waiting until killed
"""


def _waiters(bus: parport.Bus, count: int) -> None:
    """Wait (bounded) until ``count`` requests wait for the port: a device's write joins the
    port's FIFO when its worker takes it up."""
    deadline = time.monotonic() + WAIT
    while bus.port.waiters != count:
        assert time.monotonic() < deadline, f"{bus.port.waiters} waiters, not {count}"


def _kill(child: Child) -> float:
    start = time.monotonic()
    os.kill(child.pid, signal.SIGKILL)
    return start


def test_killed_lock_holder_hands_the_port_to_the_next_process(tmp_path: Path) -> None:
    with daemon(tmp_path) as served, parport.connect(served.socket) as bus:
        chain = bus.hardware.chain
        other = bus.device("LPT1.4")  # another client's state, which must not change
        other.write(b"before")
        holder = Child(HOLDER.format(socket=served.socket))
        try:
            assert holder.line() == "locked"
            h1 = bus.create_file("LPT1.1")
            lock = h1.submit_internal_device_control(LOCK)
            assert bus.port.waiters == 1  # queued behind the holder
            assert chain[0].selected and not chain[1].selected
            killed = _kill(holder)
            result = lock.wait(WAIT)
            elapsed = time.monotonic() - killed
            assert result is not None and result.status == nt.STATUS_SUCCESS
            assert elapsed < GRANT_WITHIN_S, f"granted {elapsed * 1000:.1f} ms after the kill"
            assert not chain[0].selected and chain[1].selected  # deselected, then selected
            assert bytes(chain[0].received) == b"A's job"
            assert bytes(chain[2].received) == b"before"
            assert bus.driver.check() == []
            assert h1.write(b"B's job").information == 7
            assert h1.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
            assert other.write(b" after") == 6  # the other client's handle still works
            assert bytes(chain[2].received) == b"before after"
            assert bus.port.waiters == 0 and bus.driver.check() == []
            # The killed client's device is free for anyone now.
            bus.create_file("LPT1.0").close()
            other.close()
        finally:
            holder.kill()


def test_killed_client_with_queued_requests_is_skipped(tmp_path: Path) -> None:
    with daemon(tmp_path) as served, parport.connect(served.socket) as bus:
        chain = bus.hardware.chain
        queuer = Child(QUEUER.format(socket=served.socket))
        try:
            assert queuer.line() == "queued 2"  # it holds LPT1.0's lock; two requests wait
            port = bus.create_file("\\Device\\ParallelPort0")
            allocate = port.submit_internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
            assert bus.port.waiters == 3
            killed = _kill(queuer)
            result = allocate.wait(WAIT)
            elapsed = time.monotonic() - killed
            assert result is not None and result.status == nt.STATUS_SUCCESS
            assert elapsed < GRANT_WITHIN_S, f"granted {elapsed * 1000:.1f} ms after the kill"
            assert bus.port.waiters == 0
            assert not chain[0].selected and not chain[1].selected
            assert bytes(chain[2].received) == b""  # its queued write never ran
            assert bus.driver.check() == []
            assert port.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE).status == 0
        finally:
            queuer.kill()
        for name in ("LPT1.0", "LPT1.4"):  # the killed client's devices are free again
            bus.create_file(name).close()


def test_sigterm_tells_every_client_and_releases_everything(tmp_path: Path) -> None:
    with daemon(tmp_path) as served:
        bus = parport.connect(served.socket)
        h = bus.create_file("LPT1.0")
        assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
        printer = bus.create_file("LPT1.4")
        queued = printer.submit_write(b"waits")
        _waiters(bus, 1)  # the daemon has it
        served.proc.send_signal(signal.SIGTERM)
        result = queued.wait(WAIT)
        assert result is not None and result.status == nt.STATUS_CANCELLED
        assert served.proc.wait(WAIT) == 0
        assert bus.closed and h.closed
        try:
            h.write(b"x")
        except parport.DeviceRemovedError as gone:
            assert "shutting down" in str(gone)
        else:
            raise AssertionError("a write after the daemon left succeeded")
        bus.close()
    log = served.text()
    assert "SIGTERM received" in log and "1 client(s) told" in log
    assert not Path(served.socket).exists()
