"""Ownership through the port's one claim/release seam: each defect the core had, as the user
saw it — a port stuck or stolen, a device left selected, a closed or dropped handle keeping the
port — and what must happen instead (docs/driver.md, "Ownership"; windows-parport.md A27)."""

from __future__ import annotations

import functools
import gc
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

import pytest

from driver_helpers import PORT, bus, command, emu, until
from parport import nt
from parport.driver import ParallelBus, ParallelDevice, registers
from parport.hw.emu import EmulatedPort, Fault
from parport.hw.emu.topology import build_chain

WAIT = 30.0
LOCK, UNLOCK = nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT
ALLOCATE, FREE = nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE, nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE


def _wait_owner(b: ParallelBus, owner: object) -> None:
    assert b.fdo.arbiter.wait_for(lambda a: a.owner is owner, WAIT), b.fdo.arbiter.owner


def _waiters(b: ParallelBus, n: int) -> None:
    assert b.fdo.arbiter.wait_for(lambda a: a.query_num_waiters() == n, WAIT)


def test_a_stalled_printer_gives_the_port_away_without_holding_the_wire() -> None:
    """A printer out of paper while another device waits: the waiter gets the port (the write
    yields it outside the wire lock), the write resumes after and ends when TimerStart runs
    out; nothing deadlocks, close works. On the paced clock: the stall waits at wall pace."""
    b = bus("emu:clock=paced", timer_start_s=2)
    printer = emu(b).chain[2]
    pr, d0 = b.create_file("LPT1.4"), b.create_file("LPT1.0")
    emu(b).inject(Fault.PAPER_OUT, "printer", after_bytes=200)
    write = pr.submit_write(b"p" * 400)
    _wait_owner(b, b.lookup("LPT1.4"))
    lock = d0.submit_internal_device_control(LOCK)
    assert lock.wait(WAIT) is not None and lock.status == nt.STATUS_SUCCESS
    assert b.lookup("LPT1.0").locked and not write.done  # the write queued behind the lock
    assert bytes(printer.received) == b"p" * 200
    assert b.check() == []
    assert d0.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
    result = write.wait(WAIT)
    assert result is not None
    assert (result.status, result.information) == (nt.STATUS_DEVICE_PAPER_EMPTY, 200)
    assert b.check() == [] and b.fdo.owner is None
    b.close()


def test_a_stalled_write_cancelled_while_waiting_for_the_port_back() -> None:
    b = bus("emu:clock=paced", timer_start_s=300)
    pr, d0 = b.create_file("LPT1.4"), b.create_file("LPT1.0")
    emu(b).inject(Fault.PAPER_OUT, "printer", after_bytes=100)
    write = pr.submit_write(b"q" * 300)
    _wait_owner(b, b.lookup("LPT1.4"))
    assert d0.internal_device_control(LOCK, timeout=WAIT).status == nt.STATUS_SUCCESS
    assert write.wait(0) is None
    write.cancel()
    result = write.wait(WAIT)
    assert result is not None and (result.status, result.information) == (
        nt.STATUS_CANCELLED,
        100,
    )
    pr.close()
    d0.close()
    assert b.fdo.owner is None and b.check() == []
    b.close()


def test_no_spurious_paper_empty_after_a_session_under_a_no_select_lock() -> None:
    """A nibble read under LOCK_PORT_NO_SELECT reaches the printer; a LOCK_PORT then selects a
    1284.3 device: the session is ended first, so the printer is left idle, not mid-termination."""
    b = bus("emu:")
    printer = emu(b).chain[2]
    d1, pr = b.create_file("LPT1.1"), b.create_file("LPT1.4")
    assert d1.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT_NO_SELECT).status == 0
    assert d1.read(8).status == nt.STATUS_SUCCESS
    assert d1.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    assert d1.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
    assert printer.phase == "compatibility"
    result = pr.write(b"page", timeout=WAIT)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 4)
    assert bytes(printer.received) == b"page"
    b.close()


def _parclass(h: object) -> nt.PARCLASS_INFORMATION:
    result = h.internal_device_control(  # type: ignore[attr-defined]
        nt.IOCTL_INTERNAL_PARCLASS_CONNECT, b"", nt.PARCLASS_INFORMATION.SIZE
    )
    return nt.PARCLASS_INFORMATION.unpack(result.output)


def test_the_deselect_callback_ends_the_lock_with_the_port() -> None:
    b = bus("emu:")
    chain = emu(b).chain
    a, c = b.create_file("LPT1.0"), b.create_file("LPT1.1")
    assert a.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    info = _parclass(a)
    deselect = a.callbacks.callable(info.ParallelDeSelect)
    assert deselect(info.ParclassContext, nt.PARALLEL_1284_COMMAND(ID=0)) == nt.STATUS_SUCCESS
    device = b.lookup("LPT1.0")
    assert isinstance(device, ParallelDevice)
    assert not device.locked and not device.owns_port and b.check() == []
    assert c.internal_device_control(LOCK, timeout=WAIT).status == nt.STATUS_SUCCESS
    late = a.submit_write(b"AAAA")
    assert late.wait(0) is None  # waits for the port: C holds it
    c.write(b"BBBB")
    assert bytes(chain[1].received) == b"BBBB" and bytes(chain[0].received) == b""
    c.internal_device_control(UNLOCK)
    assert late.wait(WAIT) is not None and late.status == nt.STATUS_SUCCESS
    assert bytes(chain[0].received) == b"AAAA"
    b.close()


def test_the_deselect_callback_with_keep_port_keeps_the_lock() -> None:
    b = bus("emu:")
    a = b.create_file("LPT1.0")
    assert a.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    info = _parclass(a)
    keep = nt.PARALLEL_1284_COMMAND(ID=0, CommandFlags=nt.PAR_HAVE_PORT_KEEP_PORT)
    assert a.callbacks.callable(info.ParallelDeSelect)(info.ParclassContext, keep) == 0
    device = b.lookup("LPT1.0")
    assert isinstance(device, ParallelDevice)
    assert device.locked and device.owns_port and not device.selected
    assert emu(b).selected_address is None
    b.close()


def test_the_tryselect_callback_holds_like_a_lock_until_close() -> None:
    b = bus("emu:")
    h = b.create_file("LPT1.0")
    info = _parclass(h)
    try_select = h.callbacks.callable(info.ParallelTryselect)
    assert try_select(info.ParclassContext, nt.PARALLEL_1284_COMMAND(ID=0)) == 0
    assert emu(b).selected_address == 0
    result = h.write(b"abc", timeout=WAIT)  # its own request runs on the port it holds
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 3)
    p = b.create_file(PORT)
    allocate = p.submit_internal_device_control(ALLOCATE)
    assert allocate.wait(0) is None
    h.close()
    assert allocate.wait(WAIT) is not None and allocate.status == nt.STATUS_SUCCESS
    assert emu(b).selected_address is None
    b.close()


def test_the_tryselect_callback_while_busy_is_pending_and_queues_nothing() -> None:
    b = bus("emu:")
    p, h = b.create_file(PORT), b.create_file("LPT1.0")
    assert p.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    info = _parclass(h)
    status = h.callbacks.callable(info.ParallelTryselect)(
        info.ParclassContext, nt.PARALLEL_1284_COMMAND(ID=0)
    )
    assert status == nt.STATUS_PENDING and b.fdo.arbiter.query_num_waiters() == 0  # A5
    assert not b.lookup("LPT1.0").locked  # type: ignore[union-attr]
    b.close()


@pytest.mark.parametrize("how", ["free", "free callback", "close"])
def test_freeing_the_port_deselects_what_its_owner_selected(how: str) -> None:
    """A27: SELECT then FREE (or the FreePort callback, or closing the handle): the device is
    deselected before the port is freed; the next client's job lands where it should."""
    b = bus("emu:")
    chain = emu(b).chain
    p = b.create_file(PORT)
    assert p.internal_device_control(nt.IOCTL_INTERNAL_SELECT_DEVICE, command(0)).status == 0
    assert chain[0].selected
    if how == "free":
        assert p.internal_device_control(FREE).status == nt.STATUS_SUCCESS
    elif how == "free callback":
        out = p.internal_device_control(
            nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO, b"", nt.PARALLEL_PORT_INFORMATION.SIZE
        )
        info = nt.PARALLEL_PORT_INFORMATION.unpack(out.output)
        p.callbacks.callable(info.FreePort)(info.Context)
    else:
        p.close()
    assert b.fdo.owner is None and not chain[0].selected
    pr = b.create_file("LPT1.4")
    assert pr.write(b"PRINTME", timeout=WAIT).information == 7
    assert bytes(chain[2].received) == b"PRINTME" and bytes(chain[0].received) == b""
    b.close()


def test_a_handle_closed_while_another_thread_submits_leaves_nothing_behind() -> None:
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        b = bus("emu:")
        for _ in range(200):
            h = b.create_file("LPT1.0")
            irps: list[nt.Irp] = []

            def spam(handle: object = h, out: list[nt.Irp] = irps) -> None:
                for _ in range(20):
                    try:
                        out.append(handle.submit_internal_device_control(LOCK))  # type: ignore[attr-defined]
                    except nt.ParportError:
                        return

            thread = threading.Thread(target=spam)
            thread.start()
            h.close()
            thread.join(WAIT)
            assert all(irp.wait(WAIT) is not None for irp in irps)
            assert b.fdo.owner is None and emu(b).selected_address is None, irps
            assert b.check() == []
        b.close()
    finally:
        sys.setswitchinterval(old)


def test_a_dropped_handle_is_closed_for_you() -> None:
    b = bus("emu:")
    h = b.create_file("LPT1.0")
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    with pytest.warns(ResourceWarning, match="unclosed parport handle LPT1.0"):
        del h
        gc.collect()
    p = b.create_file(PORT)
    assert p.internal_device_control(ALLOCATE, timeout=WAIT).status == nt.STATUS_SUCCESS
    assert not emu(b).chain[0].selected
    again = b.create_file("LPT1.0")  # waits for the dropped handle's close, then opens
    again.close()
    b.close()


def test_a_finalizer_inside_the_reaper_start_does_not_deadlock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dropped handle's finalizer runs wherever the garbage collector happens to run: here,
    while the reaper for an earlier dropped handle is being started in the same thread. Both
    are closed; nothing waits on itself."""
    from parport.driver import iomgr

    closed = [threading.Event(), threading.Event()]

    class Target:
        def __init__(self, index: int) -> None:
            self.index = index

        def close(self) -> None:
            closed[self.index].set()

    real_thread = threading.Thread
    nested = []

    def thread_with_a_collection(*args: object, **kwargs: object) -> threading.Thread:
        if not nested:
            nested.append(True)
            iomgr.reap_later(Target(1))  # as a finalizer would, mid-allocation
        return real_thread(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(iomgr.threading, "Thread", thread_with_a_collection)
    caller = real_thread(target=iomgr.reap_later, args=(Target(0),), daemon=True)
    caller.start()
    caller.join(WAIT)
    assert not caller.is_alive(), "reap_later waited on itself"
    assert closed[0].wait(WAIT) and closed[1].wait(WAIT)


# The warning raised in the finalizer is reported as an unraisable exception: expected here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_dropped_handle_is_closed_even_when_warnings_are_errors() -> None:
    """``python -W error``: the finalizer's ResourceWarning raises, and the close still
    happens (it is queued before the warning)."""
    b = bus("emu:")
    h = b.create_file("LPT1.0")
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        del h
        gc.collect()
    p = b.create_file(PORT)
    assert p.internal_device_control(ALLOCATE, timeout=WAIT).status == nt.STATUS_SUCCESS
    assert not emu(b).chain[0].selected
    p.close()
    b.close()


def test_a_dropped_bus_stops_its_threads() -> None:
    def parport_threads() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("parport")]

    before = set(parport_threads())
    b = bus("emu:")
    h = b.create_file("LPT1.0")
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        del b, h
        gc.collect()
    for thread in threading.enumerate():
        if thread.name.startswith("parport") and thread.name not in before:
            thread.join(WAIT)
    assert set(parport_threads()) <= before | {"parport reaper"}


def test_a_handle_keeps_its_bus_alive() -> None:
    h = bus("emu:").create_file("LPT1.4")
    gc.collect()
    assert h.write(b"still here", timeout=WAIT).information == 10
    h.close()


def test_bus_close_racing_device_close_ends() -> None:
    for _ in range(100):
        b = bus("emu:")
        h = b.create_file("LPT1.0")
        assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
        closer = threading.Thread(target=h.close)
        closer.start()
        b.close()
        closer.join(WAIT)
        assert not closer.is_alive() and h.closed


def test_port_requests_and_device_requests_are_granted_in_submission_order() -> None:
    """A26: ALLOCATE on the port, LOCK_PORT on LPT1.1, ALLOCATE again — from one thread, in that
    order, with the port held — are granted in that order."""
    b = bus("emu:")
    holder, p1, p2 = (b.create_file(PORT) for _ in range(3))
    d1 = b.create_file("LPT1.1")
    assert holder.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    order: list[str] = []
    first = p1.submit_internal_device_control(ALLOCATE)
    lock = d1.submit_internal_device_control(LOCK)
    second = p2.submit_internal_device_control(ALLOCATE)
    for name, irp in (("first", first), ("lock", lock), ("second", second)):
        irp.add_done_callback(lambda _, name=name: order.append(name))
    assert b.fdo.arbiter.query_num_waiters() == 3
    holder.internal_device_control(FREE)
    assert first.wait(WAIT) is not None
    p1.internal_device_control(FREE)
    assert lock.wait(WAIT) is not None and lock.status == nt.STATUS_SUCCESS
    d1.internal_device_control(UNLOCK)
    assert second.wait(WAIT) is not None
    assert order == ["first", "lock", "second"]
    b.close()


@pytest.mark.parametrize(
    ("name", "code", "size"),
    [
        (PORT, nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO, nt.PARALLEL_PORT_INFORMATION.SIZE),
        ("LPT1.0", nt.IOCTL_INTERNAL_PARCLASS_CONNECT, nt.PARCLASS_INFORMATION.SIZE),
    ],
)
def test_asking_again_hands_out_the_same_callbacks(name: str, code: int, size: int) -> None:
    """GET_PARALLEL_PORT_INFO and PARCLASS_CONNECT give the same pointers each time, and the
    handle's callback table does not grow (10,000 calls once cost 12 MB)."""
    b = bus("emu:")
    h = b.create_file(name)
    first = h.internal_device_control(code, b"", size)
    entries = len(h.callbacks._by_token)
    for _ in range(1000):
        again = h.internal_device_control(code, b"", size)
        assert again.output == first.output
    assert len(h.callbacks._by_token) == entries
    h.close()
    b.close()


def test_a_non_owners_free_is_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    """The library prints nothing by itself: a double free is a status, not a line on stderr."""
    b = bus("emu:")
    p = b.create_file(PORT)
    assert p.internal_device_control(FREE).status == nt.STATUS_INVALID_DEVICE_STATE
    b.close()
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_several_ports_on_one_bus() -> None:
    b = bus(["emu:", "emu:chain=printer"])
    assert [d.location for d in b.devices] == [
        "LPT1",
        "LPT1.0",
        "LPT1.1",
        "LPT1.4",
        "LPT2",
        "LPT2.4",
    ]
    one, two = b.create_file("LPT1.4"), b.create_file("LPT2.4")
    p1 = b.create_file(PORT)
    assert p1.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    assert two.write(b"two", timeout=WAIT).information == 3  # LPT2 has its own arbiter
    late = one.submit_write(b"one")
    assert late.wait(0) is None
    p1.internal_device_control(FREE)
    assert late.wait(WAIT) is not None and late.status == nt.STATUS_SUCCESS
    assert bytes(b.ports[1].backend.chain[0].received) == b"two"  # type: ignore[attr-defined]
    b.close()


class _SharedPort(EmulatedPort):
    """An emulated port shared with the system, as ppdev is: claim and release are counted."""

    shared = True

    def __init__(self, fail_claims: int = 0) -> None:
        super().__init__(build_chain([{"kind": "daisy"}, {"kind": "printer"}]))
        self.events: list[str] = []
        self.fail_claims = fail_claims

    def claim(self) -> None:
        if self.fail_claims:
            self.fail_claims -= 1
            self.events.append("claim failed")
            raise OSError("the port is held by another driver")
        self.events.append("claim")

    def release(self) -> None:
        self.events.append("release")


def test_the_system_claim_is_held_exactly_while_the_arbiter_has_granted_the_port() -> None:
    port = _SharedPort()
    b = ParallelBus(port)
    port.events.clear()
    p1, p2 = b.create_file(PORT), b.create_file(PORT)
    assert p1.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    waiting = p2.submit_internal_device_control(ALLOCATE)
    assert port.events == ["claim"]
    p1.internal_device_control(FREE)  # handed straight to p2: the claim stays
    assert waiting.wait(WAIT) is not None and port.events == ["claim"]
    p2.internal_device_control(FREE)
    assert port.events == ["claim", "release"] and b.check() == []
    h = b.create_file("LPT1.0")
    assert h.write(b"x", timeout=WAIT).information == 1  # an automatic allocation claims too
    assert port.events == ["claim", "release", "claim", "release"]
    b.close()


def test_a_failed_system_claim_keeps_ownership_consistent_and_the_next_owner_retries() -> None:
    port = _SharedPort()
    b = ParallelBus(port)
    port.fail_claims = 1
    port.events.clear()
    p1 = b.create_file(PORT)
    assert p1.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    assert port.events == ["claim failed"] and b.check() == []
    assert b.fdo.claim_error is not None
    p1.internal_device_control(FREE)
    assert p1.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    assert port.events == ["claim failed", "claim"] and b.fdo.claim_error is None
    p1.internal_device_control(FREE)
    assert port.events[-1] == "release" and b.check() == []
    b.close()


def test_register_scripts_granted_after_a_wait_keep_running() -> None:
    """Scripts queued behind a lock run on the port's script worker, one after another: the
    worker is started once and stays up (starting it again must not wait for it to stop)."""
    b = bus("emu:")
    from parport.driver import registers as reg

    d0 = b.create_file("LPT1.0")
    p = b.create_file(PORT)
    script = reg.encode(
        [(reg.Op.WRITE, reg.Register.DATA, 0x5A), (reg.Op.READ, reg.Register.DATA, 0)]
    )
    for _ in range(3):
        assert d0.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
        queued = p.submit_device_control(reg.IOCTL_PARPORT_REGISTERS, script, 1)
        assert queued.wait(0) is None
        assert d0.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
        result = queued.wait(WAIT)
        assert result is not None and result.output == b"\x5a"
    b.close()


def test_a_write_takes_its_place_in_the_fifo_when_submitted() -> None:
    """A26 for reads and writes too: submitted while the port is held, a write counts as a
    waiter at once (its device's worker has not picked it up yet)."""
    b = bus("emu:")
    p = b.create_file(PORT)
    pr = b.create_file("LPT1.4")
    assert p.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    for _ in range(50):
        write = pr.submit_write(b"x")
        read = pr.submit_read(1)
        assert b.fdo.arbiter.query_num_waiters() == 1  # one claim for the device's head request
        write.cancel()
        read.cancel()
        assert write.wait(WAIT) is not None and read.wait(WAIT) is not None
    b.close()


def test_a_traced_shared_port_is_still_claimed_from_the_system(tmp_path: object) -> None:
    from parport.hw.spy import SpyBackend

    inner = _SharedPort()
    spy = SpyBackend(inner, str(tmp_path) + "/trace.vcd")  # type: ignore[operator]
    b = ParallelBus(spy)
    inner.events.clear()
    p = b.create_file(PORT)
    assert p.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    p.internal_device_control(FREE)
    assert inner.events == ["claim", "release"]
    b.close()


# --- callbacks racing the close of the handle that handed them out ------------------------------


def _port_callbacks(h: object) -> tuple[nt.PARALLEL_PORT_INFORMATION, object, object]:
    size = nt.PARALLEL_PORT_INFORMATION.SIZE
    out = h.internal_device_control(nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO, b"", size)  # type: ignore[attr-defined]
    info = nt.PARALLEL_PORT_INFORMATION.unpack(out.output)
    table = h.callbacks  # type: ignore[attr-defined]
    return info, table.callable(info.TryAllocatePort), table.callable(info.FreePort)


def _hammer(
    take: Callable[[], object], give: Callable[[], object]
) -> tuple[threading.Event, threading.Thread]:
    """Call ``take`` over and over from another thread, ``give`` after every other one; set the
    returned event to stop it."""
    stop, going = threading.Event(), threading.Event()

    def spin() -> None:
        calls = 0
        while not stop.is_set():
            take()
            calls += 1
            going.set()
            if calls % 2:
                give()

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    assert going.wait(WAIT)
    return stop, thread


def test_port_callbacks_of_a_closed_handle_take_nothing() -> None:
    b = bus("emu:")
    p = b.create_file(PORT)
    info, try_allocate, free_port = _port_callbacks(p)
    p.close()
    assert try_allocate(info.Context) is False
    assert free_port(info.Context) == nt.STATUS_INVALID_DEVICE_STATE
    assert b.fdo.owner is None and b.check() == []
    b.close()


def test_try_allocate_racing_the_close_never_leaves_the_port_to_the_closed_handle() -> None:
    """Another thread calls TryAllocatePort/FreePort over and over while the handle closes:
    whichever way each race goes, once close() returns the port is free."""
    b = bus("emu:")
    for _ in range(200):
        p = b.create_file(PORT)
        info, try_allocate, free_port = _port_callbacks(p)
        stop, thread = _hammer(
            functools.partial(try_allocate, info.Context),
            functools.partial(free_port, info.Context),
        )
        p.close()
        stop.set()
        thread.join(WAIT)
        assert b.fdo.owner is None, b.check()
        assert b.check() == []
    b.close()


def _parclass_callbacks(d: Any) -> tuple[int, Callable[..., int], Callable[..., int]]:
    """PARCLASS_CONNECT on handle ``d``: (the context, ParallelTryselect, ParallelDeSelect)."""
    out = d.internal_device_control(
        nt.IOCTL_INTERNAL_PARCLASS_CONNECT, b"", nt.PARCLASS_INFORMATION.SIZE
    )
    info = nt.PARCLASS_INFORMATION.unpack(out.output)
    table = d.callbacks
    return (
        info.ParclassContext,
        table.callable(info.ParallelTryselect),
        table.callable(info.ParallelDeSelect),
    )


def test_parclass_callbacks_racing_the_close_leave_nothing_selected_or_held() -> None:
    """ParallelTryselect/ParallelDeSelect from another thread while the device's handle closes:
    after close() the port is free, daisy 0 is not selected, and no device is left locked."""
    b = bus("emu:")
    daisy = emu(b).chain[0]
    for _ in range(100):
        d = b.create_file("LPT1.0")
        context, try_select, deselect = _parclass_callbacks(d)
        first = nt.PARALLEL_1284_COMMAND(ID=0)
        stop, thread = _hammer(
            functools.partial(try_select, context, first),
            functools.partial(deselect, context, first),
        )
        d.close()
        stop.set()
        thread.join(WAIT)
        assert b.fdo.owner is None and not daisy.selected, b.check()
        assert b.check() == []
        assert try_select(context, nt.PARALLEL_1284_COMMAND(ID=0)) == (
            nt.STATUS_INVALID_DEVICE_STATE
        )
    b.close()


# --- one owner's threads racing each other -------------------------------------------------------


class _ReleasedJustBefore:
    """A port's wire lock through which, the first time it is taken, ``release`` runs to the end
    in another thread just before: what another thread of the same owner does at the worst
    moment."""

    def __init__(self, wire: Any, release: Callable[[], object]) -> None:
        self.wire, self.release, self.fired = wire, release, False

    def __enter__(self) -> object:
        if not self.fired:
            self.fired = True
            other = threading.Thread(target=self.release)
            other.start()
            other.join(WAIT)
        return self.wire.__enter__()

    def __exit__(self, *exc: object) -> None:
        self.wire.__exit__(*exc)


def test_tryselect_racing_a_deselect_of_the_same_device_leaves_nothing_behind() -> None:
    """ParallelTryselect of daisy 1 from one thread of a device that holds the port by daisy 0,
    while another thread's ParallelDeSelect gives the port back: the select either sees the
    port given back and takes it anew, or is undone by the release — never daisy 1 selected and
    the device marked locked on a free port (as once happened)."""
    b = bus("emu:")
    d0, d1 = emu(b).chain[:2]
    d = b.create_file("LPT1.0")
    context, try_select, deselect = _parclass_callbacks(d)
    assert try_select(context, nt.PARALLEL_1284_COMMAND(ID=0)) == nt.STATUS_SUCCESS
    wire = b.fdo.wire_lock
    b.fdo.wire_lock = _ReleasedJustBefore(  # type: ignore[assignment]
        wire, lambda: deselect(context, nt.PARALLEL_1284_COMMAND(ID=0))
    )
    status = try_select(context, nt.PARALLEL_1284_COMMAND(ID=1))
    b.fdo.wire_lock = wire
    assert status == nt.STATUS_SUCCESS
    assert b.check() == []
    assert b.fdo.owner is b.lookup("LPT1.0") and d1.selected and not d0.selected
    assert deselect(context, nt.PARALLEL_1284_COMMAND(ID=1)) == nt.STATUS_SUCCESS
    assert b.fdo.owner is None and not d1.selected and b.check() == []
    d.close()
    b.close()


def test_a_free_racing_a_script_on_the_handles_own_allocation_keeps_it_off_the_wire() -> None:
    """A script sent through a handle whose own allocation another thread of it frees at that
    moment (the port going to the next waiter) never runs in the next owner's turn: whether the
    handle holds the port is decided under the wire lock."""
    b = bus("emu:")
    p, q = b.create_file(PORT), b.create_file(PORT)
    assert p.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    queued = q.submit_internal_device_control(ALLOCATE)
    wire = b.fdo.wire_lock
    freeing = _ReleasedJustBefore(wire, lambda: p.internal_device_control(FREE))
    b.fdo.wire_lock = freeing  # type: ignore[assignment]
    before = emu(b).read_data()
    script = registers.encode([(registers.Op.WRITE, registers.Register.DATA, 0xEE)])
    done = p.device_control_now(registers.IOCTL_PARPORT_REGISTERS, script, 0)
    b.fdo.wire_lock = wire
    assert freeing.fired and queued.wait(WAIT) is not None and b.fdo.owner is q.file
    assert done is None  # not the handle's any more, and busy: left to a request
    assert emu(b).read_data() == before != 0xEE  # nothing reached the wire in q's turn
    assert q.internal_device_control(FREE).status == nt.STATUS_SUCCESS
    p.close()
    q.close()
    b.close()


def _closer_in_callback(h: Any, calls: list[str]) -> Callable[[nt.Irp], None]:
    def callback(irp: nt.Irp) -> None:
        calls.append(f"{irp.status:#x} in {threading.current_thread().name}")
        h.close()  # from inside the completion: returns, the close under way finishes it
        calls.append("closed")

    return callback


def test_a_completion_callback_on_the_worker_may_close_while_another_thread_closes() -> None:
    """A write waits on the device's worker for the port; another thread closes the handle,
    which cancels the write and waits for the worker; the write's completion callback (on the
    worker) closes the handle too. Neither close waits for the other."""
    b = bus("emu:")
    port = b.create_file(PORT)
    assert port.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    h = b.create_file("LPT1.4")
    calls: list[str] = []
    write = h.submit_write(b"never")
    write.add_done_callback(_closer_in_callback(h, calls))
    h.submit_write(b"behind")  # wakes the worker, which takes ``write`` and waits for the port
    work = h.file.device.work
    until(lambda: work.current is write, "the worker waiting for the port with the write")
    closer = threading.Thread(target=h.close)
    closer.start()
    closer.join(WAIT)
    assert not closer.is_alive(), "the closes waited for each other"
    assert write.status == nt.STATUS_CANCELLED
    assert calls == [f"{nt.STATUS_CANCELLED:#x} in parport LPT1.4", "closed"]
    assert h.closed and b.fdo.arbiter.query_num_waiters() == 0 and b.check() == []
    port.close()
    b.close()


def test_a_completion_callback_run_by_the_close_itself_may_close() -> None:
    """The close cancels a queued request in its own thread; that request's completion
    callback closes the handle again: it returns at once instead of waiting for itself."""
    b = bus("emu:")
    port = b.create_file(PORT)
    assert port.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    h = b.create_file("LPT1.4")
    calls: list[str] = []
    first, second = h.submit_write(b"one"), h.submit_write(b"two")
    second.add_done_callback(_closer_in_callback(h, calls))
    done = threading.Event()
    closer = threading.Thread(target=lambda: (h.close(), done.set()), name="closer")
    closer.start()
    assert done.wait(WAIT), "the close waited for itself"
    assert calls == [f"{nt.STATUS_CANCELLED:#x} in closer", "closed"]
    assert first.wait(WAIT) is not None and second.status == nt.STATUS_CANCELLED
    assert b.fdo.arbiter.query_num_waiters() == 0 and b.check() == []
    port.close()
    b.close()
