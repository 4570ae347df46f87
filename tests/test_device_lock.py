"""The lock family on device objects (windows-parport.md §11.6 with Part A): sequences across
several devices, the wire selection while locked, TimerStart, the idle rule, cleanup."""

from __future__ import annotations

from pathlib import Path

import pytest

from driver_helpers import PORT, allocate, bus, emu, free
from parport import nt
from parport.hw.emu import DaisyDevice, Fault
from test_hw_spy import read_vcd

LOCK = nt.IOCTL_INTERNAL_LOCK_PORT
UNLOCK = nt.IOCTL_INTERNAL_UNLOCK_PORT
LOCK_NS = nt.IOCTL_INTERNAL_LOCK_PORT_NO_SELECT
UNLOCK_ND = nt.IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT
WAIT = 30.0  # wall seconds a test waits for a worker before it fails (never reached when right)


def done(irp: nt.Irp) -> nt.IoStatus:
    result = irp.wait(WAIT)
    assert result is not None, f"{irp!r} did not complete"
    return result


def waiters(b, count: int) -> None:  # type: ignore[no-untyped-def]
    assert b.fdo.arbiter.wait_for(lambda a: a.query_num_waiters() >= count, WAIT)


def test_lock_unlock_select_deselect_and_information_zero() -> None:
    b = bus("emu:")
    d0, d1, printer = emu(b).chain
    h = b.create_file("LPT1.0")
    result = h.internal_device_control(LOCK)
    assert (result.status, result.information, result.output) == (nt.STATUS_SUCCESS, 0, b"")
    assert isinstance(d0, DaisyDevice) and d0.selected
    device = b.lookup("LPT1.0")
    assert b.fdo.arbiter.owner is device
    assert h.write(b"locked job").information == 10
    assert bytes(d0.received) == b"locked job" and bytes(printer.received) == b""
    assert d0.selected and b.fdo.arbiter.owner is device  # the lock holds across requests
    result = h.internal_device_control(UNLOCK)
    assert (result.status, result.information, result.output) == (nt.STATUS_SUCCESS, 0, b"")
    assert not d0.selected and b.fdo.arbiter.owner is None
    b.close()


def test_while_locked_others_wait_and_run_in_arrival_order(tmp_path: Path) -> None:
    vcd = tmp_path / "lock.vcd"
    b = bus(f"spy:emu:?vcd={vcd}")
    d0, d1, printer = emu(b).chain
    h0, h1, h4 = (b.create_file(n) for n in ("LPT1.0", "LPT1.1", "LPT1.4"))
    trace_start = emu(b).clock.now_ns() - b.hardware.trace.start_ns  # type: ignore[attr-defined]
    order: list[str] = []
    b.fdo.arbiter.on_owner_change = lambda owner: order.append(getattr(owner, "location", "-"))
    assert h0.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    lock1 = h1.submit_internal_device_control(LOCK)
    waiters(b, 1)
    write4 = h4.submit_write(b"page")
    waiters(b, 2)
    assert not lock1.done and not write4.done
    assert bytes(printer.received) == b"" and not d1.selected
    unlock = h0.internal_device_control(UNLOCK)
    assert (unlock.status, unlock.information) == (nt.STATUS_SUCCESS, 0)
    assert done(lock1).status == nt.STATUS_SUCCESS
    assert d1.selected and not d0.selected
    assert h1.write(b"label").information == 5
    assert not write4.done  # still waiting: LPT1.1 holds its lock
    assert h1.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
    assert (done(write4).status, done(write4).information) == (nt.STATUS_SUCCESS, 4)
    assert bytes(printer.received) == b"page"
    b.fdo.arbiter.wait_for(lambda a: a.owner is None, WAIT)
    assert order == ["LPT1.0", "LPT1.1", "LPT1.4", "-"]
    b.close()
    # In the trace, each daisy device is selected exactly while its client holds the lock (the
    # selections before are the bus scan reading device IDs).
    _, changes = read_vcd(vcd)
    during = [value for time, value in changes["selected"] if time >= trace_start]
    assert during == [0, 0xFF, 1, 0xFF]


def test_lock_of_an_unlocked_device_twice_and_unlock_without_lock() -> None:
    b = bus("emu:")
    d0 = emu(b).chain[0]
    h = b.create_file("LPT1.0")
    accesses = emu(b).accesses
    result = h.internal_device_control(UNLOCK)  # A1: no lock held
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 0)
    assert h.internal_device_control(UNLOCK_ND).status == nt.STATUS_SUCCESS
    assert emu(b).accesses == accesses and b.fdo.arbiter.owner is None  # nothing touched
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS  # no nesting count
    assert h.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
    assert not d0.selected and b.fdo.arbiter.owner is None  # one unlock ends it
    b.close()


def test_unlock_with_port_held_by_someone_else_does_not_block() -> None:
    b = bus("emu:")
    port = b.create_file(PORT)
    allocate(port)
    h = b.create_file("LPT1.0")
    result = h.internal_device_control(UNLOCK, timeout=WAIT)
    assert result.status == nt.STATUS_SUCCESS  # A1: the reference driver would wait TimerStart
    assert b.fdo.arbiter.owner is port.file
    b.close()


def test_no_select_and_no_deselect_skip_the_wire() -> None:
    b = bus("emu:")
    d0 = emu(b).chain[0]
    h = b.create_file("LPT1.0")
    accesses = emu(b).accesses
    assert h.internal_device_control(LOCK_NS).status == nt.STATUS_SUCCESS
    assert not d0.selected and emu(b).accesses == accesses  # allocated, nothing on the wire
    assert b.fdo.arbiter.owner is b.lookup("LPT1.0")
    assert h.internal_device_control(UNLOCK_ND).status == nt.STATUS_SUCCESS
    assert b.fdo.arbiter.owner is None
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    assert d0.selected
    accesses = emu(b).accesses
    assert h.internal_device_control(UNLOCK_ND).status == nt.STATUS_SUCCESS
    # A27: the selection the driver made for the lock does not outlive the lock's hold on the
    # port: the port is never passed on with a stale selection.
    assert not d0.selected and emu(b).accesses > accesses
    assert b.fdo.arbiter.owner is None
    b.close()


def test_failed_select_gives_the_port_back() -> None:
    b = bus("emu:")
    d0 = emu(b).chain[0]
    d0.inject(Fault.SILENT)
    h = b.create_file("LPT1.0")
    result = h.internal_device_control(LOCK)
    assert (result.status, result.information) == (nt.STATUS_UNSUCCESSFUL, 0)
    assert b.fdo.arbiter.owner is None
    d0.clear(Fault.SILENT)
    b.close()


def test_failed_deselect_frees_the_port_and_says_so() -> None:
    b = bus("emu:")
    d0 = emu(b).chain[0]
    h = b.create_file("LPT1.0")
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    d0.inject(Fault.SILENT)
    result = h.internal_device_control(UNLOCK)
    assert (result.status, result.information) == (nt.STATUS_UNSUCCESSFUL, 0)  # A2
    assert b.fdo.arbiter.owner is None
    d0.clear(Fault.SILENT)
    b.close()


def test_timer_start_ends_in_device_busy_without_running() -> None:
    b = bus("emu:", timer_start_s=2)
    printer = emu(b).chain[-1]
    port = b.create_file(PORT)
    allocate(port)
    h = b.create_file("LPT1.4")
    write = h.submit_write(b"never")
    waiters(b, 1)
    emu(b).sleep(1_999_000)
    assert not write.done
    emu(b).sleep(2_000)  # two seconds of the port's clock: TimerStart
    result = done(write)
    assert (result.status, result.information) == (nt.STATUS_DEVICE_BUSY, 0)
    assert bytes(printer.received) == b""
    assert b.fdo.arbiter.owner is port.file and b.fdo.arbiter.query_num_waiters() == 0
    b.close()


def test_serial_timeouts_set_timer_start() -> None:
    b = bus("emu:")
    h = b.create_file("LPT1.4")
    get = h.device_control(nt.IOCTL_SERIAL_GET_TIMEOUTS, output_length=20)
    assert nt.SERIAL_TIMEOUTS.unpack(get.output).WriteTotalTimeoutConstant == 300_000
    timeouts = nt.SERIAL_TIMEOUTS(WriteTotalTimeoutConstant=5_999).pack()
    assert h.device_control(nt.IOCTL_SERIAL_SET_TIMEOUTS, timeouts).status == nt.STATUS_SUCCESS
    get = h.device_control(nt.IOCTL_SERIAL_GET_TIMEOUTS, output_length=20)
    assert nt.SERIAL_TIMEOUTS.unpack(get.output).WriteTotalTimeoutConstant == 5_000  # truncated
    h.close()
    again = b.create_file("LPT1.4")  # TimerStart is not reset by a reopen
    get = again.device_control(nt.IOCTL_SERIAL_GET_TIMEOUTS, output_length=20)
    assert nt.SERIAL_TIMEOUTS.unpack(get.output).WriteTotalTimeoutConstant == 5_000
    port = b.create_file(PORT)
    allocate(port)
    write = again.submit_write(b"x")
    waiters(b, 1)
    emu(b).sleep(5_000_001)
    assert done(write).status == nt.STATUS_DEVICE_BUSY
    b.close()


def test_idle_rule_never_releases_a_lock_but_ends_a_session() -> None:
    b = bus("emu:")
    printer = emu(b).chain[-1]
    h0, h4 = b.create_file("LPT1.0"), b.create_file("LPT1.4")
    port = b.create_file(PORT)
    assert h0.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    queued = allocate(port)
    waiters(b, 1)
    emu(b).sleep(10_000_000)  # ten seconds of idle with a waiter
    assert not queued.done and b.fdo.arbiter.owner is b.lookup("LPT1.0")  # A7
    assert h0.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
    assert done(queued).status == nt.STATUS_SUCCESS
    free(port)
    # An IEEE 1284 session held without a lock: a nibble read leaves it connected.
    printer.queue_reverse(b"status")
    assert h4.read(3).output == b"sta"
    device = b.lookup("LPT1.4")
    assert (
        b.fdo.arbiter.owner is device and b.driver_session_connected()
        if hasattr(b, "driver_session_connected")
        else True
    )
    assert b.session.connected
    queued = allocate(port)
    waiters(b, 1)
    emu(b).sleep(300_000)  # the 250 ms idle tick with somebody waiting
    assert done(queued).status == nt.STATUS_SUCCESS
    assert not b.session.connected and printer.phase == "compatibility"
    b.close()


def test_cleanup_of_a_locked_device_deselects_and_frees() -> None:
    b = bus("emu:")
    d1 = emu(b).chain[1]
    h = b.create_file("LPT1.1")
    port = b.create_file(PORT)
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    queued = allocate(port)
    waiters(b, 1)
    h.close()  # A8
    assert not d1.selected
    assert done(queued).status == nt.STATUS_SUCCESS
    with pytest.raises(nt.NtStatusError):
        h.write(b"after close")
    again = b.create_file("LPT1.1")  # the exclusive open is free again
    again.close()
    b.close()


def test_cleanup_cancels_waiting_requests() -> None:
    b = bus("emu:")
    port = b.create_file(PORT)
    allocate(port)
    h = b.create_file("LPT1.4")
    first, second = h.submit_write(b"a"), h.submit_write(b"b")
    waiters(b, 1)
    h.close()
    assert done(first).status in (nt.STATUS_CANCELLED, nt.STATUS_DEVICE_BUSY)
    assert (done(second).status, done(second).information) == (nt.STATUS_CANCELLED, 0)
    assert b.fdo.arbiter.query_num_waiters() == 0
    b.close()


def test_timer_start_counts_from_submission_even_before_the_worker_starts() -> None:
    """A26 puts a request's claim in the FIFO when it is submitted, and TimerStart runs from
    there: if it passes before the device's worker gets to the request, the request still ends
    STATUS_DEVICE_BUSY (its wait does not start again)."""
    b = bus("emu:", timer_start_s=2)
    port = b.create_file(PORT)
    allocate(port)
    h = b.create_file("LPT1.4")
    for _ in range(20):
        write = h.submit_write(b"never")
        emu(b).sleep(2_001_000)  # at once, before or after the worker picked the write up
        result = done(write)
        assert (result.status, result.information) == (nt.STATUS_DEVICE_BUSY, 0)
    b.close()
