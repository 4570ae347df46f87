"""The contract of design.md §5, run twice: on ``parport.open("emu:")`` and through a daemon on a
temporary socket (``parport.connect()``). Every test here uses only §5 names and the facade, so
both runs must agree; test_facade's contract tests run the same way, unchanged."""

from __future__ import annotations

import gc
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest

import parport
import test_facade as facade_tests
from driver_helpers import until
from parport import nt
from service_helpers import config_text, daemon

Opener = Callable[..., parport.Bus]
WAIT = 30.0  # wall seconds before a test gives up (never reached when right)
LOCK = nt.IOCTL_INTERNAL_LOCK_PORT
UNLOCK = nt.IOCTL_INTERNAL_UNLOCK_PORT
ALLOCATE = nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE
FREE = nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE
PORT = "\\Device\\ParallelPort0"


@pytest.fixture(params=["in-process", "daemon"])
def open_bus(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """``open_bus(spec, **options)``: a bus on ``parport.open`` or through a fresh daemon
    serving ``spec`` (closed, and the daemon stopped cleanly, at the end of the test)."""
    in_process = parport.open
    with ExitStack() as stack:
        count = 0

        def opener(spec: str = "emu:", **options: Any) -> parport.Bus:
            nonlocal count
            if request.param == "in-process":
                bus = in_process(spec, **options)
            else:
                count += 1
                directory = tmp_path / f"d{count}"
                directory.mkdir()
                served = stack.enter_context(
                    daemon(directory, config_text([spec], options=options, log_level="warning"))
                )
                bus = parport.connect(served.socket)
            stack.callback(bus.close)
            return bus

        yield opener


def done(irp: nt.Irp) -> nt.IoStatus:
    result = irp.wait(WAIT)
    assert result is not None, f"{irp!r} did not complete"
    return result


# --- test_facade's contract tests, unchanged, on both --------------------------------------------


def test_facade_contract_names(open_bus: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parport, "open", open_bus)
    facade_tests.test_contract_names()


def test_facade_port(open_bus: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parport, "open", open_bus)
    facade_tests.test_port_facade()


# --- handles and requests ------------------------------------------------------------------------


def test_names_and_create_file_rules(open_bus: Opener) -> None:
    bus = open_bus()
    names = bus.names()
    assert names[:5] == [
        "\\Device\\Parallel0",
        "\\Device\\Parallel0.0",
        "\\Device\\Parallel0.1",
        "\\Device\\Parallel0.4",
        "\\Device\\ParallelPort0",
    ]
    assert set(names[5:]) == {"LPT1", "LPT1.0", "LPT1.1", "LPT1.4"}
    h = bus.create_file("\\\\.\\LPT1.0")
    with pytest.raises(parport.AccessDeniedError) as denied:
        bus.create_file("LPT1.0")  # devices are exclusive
    assert denied.value.status == nt.STATUS_ACCESS_DENIED
    assert isinstance(denied.value, PermissionError)
    a, b = bus.create_file(PORT), bus.create_file(PORT)  # the port is shared
    with pytest.raises(parport.DeviceRemovedError) as missing:
        bus.create_file("LPT9")
    assert missing.value.status == nt.STATUS_NO_SUCH_DEVICE
    with pytest.raises(TypeError):
        bus.create_file(1)  # type: ignore[arg-type]
    for each in (h, a, b):
        each.close()
        each.close()  # idempotent
    assert h.closed
    with pytest.raises(parport.NtStatusError):
        h.write(b"after close")
    bus.create_file("LPT1.0").close()  # free again


def test_blocking_calls_return_io_status(open_bus: Opener) -> None:
    bus = open_bus()
    h = bus.create_file("LPT1.0")
    r = h.internal_device_control(LOCK)
    assert isinstance(r, nt.IoStatus)
    assert (r.status, r.information, r.output) == (nt.STATUS_SUCCESS, 0, b"")
    assert bus.hardware.chain[0].selected
    w = h.write(b"while locked")
    assert (w.status, w.information, w.output) == (nt.STATUS_SUCCESS, 12, b"")
    mode = h.device_control(nt.IOCTL_IEEE1284_GET_MODE, b"", 4)
    assert (mode.status, mode.information, len(mode.output)) == (nt.STATUS_SUCCESS, 4, 4)
    short = h.device_control(nt.IOCTL_IEEE1284_GET_MODE, b"", 3)
    assert (short.status, short.information) == (nt.STATUS_BUFFER_TOO_SMALL, 0)
    assert h.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
    assert not bus.hardware.chain[0].selected
    assert bytes(bus.hardware.chain[0].received) == b"while locked"
    info = h.query_information(nt.FileStandardInformation, 24)
    assert (info.status, info.information, info.output) == (nt.STATUS_SUCCESS, 24, bytes(24))
    assert h.set_information(nt.FileEndOfFileInformation, bytes(8)).status == nt.STATUS_SUCCESS
    read = h.read(0)
    assert (read.status, read.information, read.output) == (nt.STATUS_SUCCESS, 0, b"")
    h.close()


def test_submits_never_block_and_complete_in_fifo_order(open_bus: Opener) -> None:
    bus = open_bus()
    h0, h1, h4 = (bus.create_file(n) for n in ("LPT1.0", "LPT1.1", "LPT1.4"))
    assert h0.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    order: list[str] = []
    lock1 = h1.submit_internal_device_control(LOCK)
    write4 = h4.submit_write(b"page")
    assert isinstance(lock1, nt.Irp) and isinstance(write4, nt.Irp)
    lock1.add_done_callback(lambda irp: order.append("lock1"))
    write4.add_done_callback(lambda irp: order.append("write4"))
    assert lock1.wait(0.05) is None and not lock1.done
    assert lock1.status == nt.STATUS_PENDING
    deadline = time.monotonic() + WAIT  # the write joins the port's FIFO from its worker
    while bus.port.waiters != 2:
        assert time.monotonic() < deadline
    assert h0.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
    assert done(lock1).status == nt.STATUS_SUCCESS
    chain = bus.hardware.chain
    assert chain[1].selected and not chain[0].selected
    assert not write4.done  # LPT1.1 holds its lock
    assert h1.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
    assert (done(write4).status, done(write4).information) == (nt.STATUS_SUCCESS, 4)
    assert order == ["lock1", "write4"]
    assert bytes(chain[2].received) == b"page"
    for h in (h0, h1, h4):
        h.close()


def test_cancel_and_timeouts(open_bus: Opener) -> None:
    bus = open_bus()
    owner, waiter = bus.create_file(PORT), bus.create_file(PORT)
    assert owner.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    queued = waiter.submit_internal_device_control(ALLOCATE)
    assert bus.port.waiters == 1
    assert queued.cancel()
    assert done(queued) == nt.IoStatus(nt.STATUS_CANCELLED, 0)
    assert not queued.cancel()  # done: nothing to cancel
    assert bus.port.waiters == 0
    timed = waiter.internal_device_control(ALLOCATE, timeout=0.05)  # cancelled when it passes
    assert (timed.status, timed.information) == (nt.STATUS_CANCELLED, 0)
    dev = bus.device("LPT1.4")
    with pytest.raises(parport.IoTimeoutError) as late:
        dev.write(b"x", timeout=0.05)
    assert isinstance(late.value, TimeoutError)
    with pytest.raises(parport.IoTimeoutError), bus.port.allocated(timeout=0.05):
        pass
    assert owner.internal_device_control(FREE).status == nt.STATUS_SUCCESS
    assert dev.write(b"now") == 3
    dev.close()
    with pytest.raises(parport.InvalidDeviceStateError):
        bus.port.free()  # not the owner: A4
    owner.close()
    waiter.close()


def test_close_releases_what_a_handle_holds(open_bus: Opener) -> None:
    bus = open_bus()
    h = bus.create_file("LPT1.1")
    port = bus.create_file(PORT)
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    queued = port.submit_internal_device_control(ALLOCATE)
    behind = h.submit_write(b"never")  # queued behind nothing: runs under the lock
    assert done(behind).status == nt.STATUS_SUCCESS
    h.close()  # A8: deselect, free, the waiter is granted
    assert done(queued).status == nt.STATUS_SUCCESS
    assert not bus.hardware.chain[1].selected
    assert port.internal_device_control(FREE).status == nt.STATUS_SUCCESS
    mine = bus.create_file("LPT1.4")
    assert port.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    waiting = [mine.submit_write(b"a"), mine.submit_write(b"b")]
    mine.close()  # cancels what it queued
    assert {done(irp).status for irp in waiting} <= {nt.STATUS_CANCELLED, nt.STATUS_DEVICE_BUSY}
    assert bus.port.waiters == 0
    port.close()


def test_a_dropped_handle_is_closed_for_you(open_bus: Opener) -> None:
    """A handle that becomes garbage unclosed warns and is closed as if closed: its lock goes,
    the device is deselected and the waiter is granted (the close runs on the reaper thread, so
    the finalizer never waits for a lock the collecting thread may hold)."""
    bus = open_bus()
    port = bus.create_file(PORT)
    h = bus.create_file("LPT1.1")
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    queued = port.submit_internal_device_control(ALLOCATE)
    with pytest.warns(ResourceWarning, match="unclosed parport handle"):
        del h
        gc.collect()
    assert done(queued).status == nt.STATUS_SUCCESS
    assert not bus.hardware.chain[1].selected
    assert port.internal_device_control(FREE).status == nt.STATUS_SUCCESS
    port.close()


# --- the facade ----------------------------------------------------------------------------------


def test_device_facade(open_bus: Opener) -> None:
    bus = open_bus()
    with bus.device("LPT1.0") as dev:
        with dev.locked():
            assert bus.hardware.chain[0].selected
            assert dev.write(b"job") == 3
        assert not bus.hardware.chain[0].selected
        assert dev.device_id.startswith("MFG:Parport;MDL:Daisy Device 0;")
        assert dev.location == "LPT1.0"
    with bus.device("LPT1.4") as printer:
        assert printer.read(10) == b""
        assert printer.negotiate(parport.Mode.ECP) == (nt.ECP_HW_NOIRQ, nt.ECP_HW_NOIRQ)
        assert printer.modes == (nt.ECP_HW_NOIRQ, nt.ECP_HW_NOIRQ)
        assert printer.write(b"fast") == 4
        printer.reset()
        assert bus.hardware.chain[2].device_id.startswith("MFG:Acme;")
    assert bus.devices == ["LPT1", "LPT1.0", "LPT1.1", "LPT1.4"]
    assert bus.rescan(timeout=WAIT).scanned
    with pytest.raises(parport.DeviceRemovedError):
        bus.device("LPT7")


def test_port_callbacks_and_parclass_callbacks(open_bus: Opener) -> None:
    bus = open_bus()
    a, b = bus.create_file(PORT), bus.create_file(PORT)
    size = nt.PARALLEL_PORT_INFORMATION.SIZE
    result = a.internal_device_control(nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO, b"", size)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, size)
    info = nt.PARALLEL_PORT_INFORMATION.unpack(result.output)
    try_allocate = a.callbacks.callable(info.TryAllocatePort)
    free = a.callbacks.callable(info.FreePort)
    waiters = a.callbacks.callable(info.QueryNumWaiters)
    assert a.callbacks.callable(info.TryAllocatePort) is try_allocate
    with pytest.raises(KeyError):
        a.callbacks.callable(0x1234)
    with pytest.raises(TypeError):
        a.callbacks.callable(info.Context)  # an object, not a routine
    assert try_allocate(info.Context) is True
    assert try_allocate(info.Context) is False
    queued = b.submit_internal_device_control(ALLOCATE)
    assert waiters(info.Context) == 1
    free(info.Context)
    assert done(queued).status == nt.STATUS_SUCCESS
    free(info.Context)  # a non-owner's FreePort changes nothing (A4)
    assert b.internal_device_control(FREE).status == nt.STATUS_SUCCESS
    pnp = a.internal_device_control(nt.IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO, b"", 112)
    fields = nt.PARALLEL_PNP_INFORMATION.unpack(pnp.output)
    assert a.callbacks.resolve(fields.PortName) == "LPT1"
    select = a.callbacks.callable(fields.TrySelectDevice)
    deselect = a.callbacks.callable(fields.DeselectDevice)
    command = nt.PARALLEL_1284_COMMAND(ID=1, CommandFlags=0)
    assert select(fields.Context, command) == nt.STATUS_SUCCESS
    assert bus.hardware.chain[1].selected
    assert deselect(fields.Context, command.pack()) == nt.STATUS_SUCCESS
    assert not bus.hardware.chain[1].selected
    h = bus.create_file("LPT1.4")
    connect = h.internal_device_control(nt.IOCTL_INTERNAL_PARCLASS_CONNECT, b"", 120)
    parclass = nt.PARCLASS_INFORMATION.unpack(connect.output)
    write = h.callbacks.callable(parclass.ParallelWrite)
    assert write(parclass.ParclassContext, b"cb") == (nt.STATUS_INVALID_DEVICE_STATE, 0)
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    assert write(parclass.ParclassContext, b"cb") == (nt.STATUS_SUCCESS, 2)
    assert h.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
    assert bytes(bus.hardware.chain[2].received) == b"cb"
    for each in (a, b, h):
        each.close()


def test_pins_share_the_port(open_bus: Opener) -> None:
    bus = open_bus("emu:chain=printer")
    pins = bus.pins
    pins.set_data(0x5A)
    assert pins.read_data() == 0x5A
    pins.pulse(0xFF, 0.001, idle=0x01)
    assert pins.data == 0x01
    assert pins.read_pin(2) is True and pins.read_pin(3) is False
    assert set(pins.status) == {"nAck", "Busy", "PError", "Select", "nFault"}
    with pytest.raises(parport.InvalidDeviceStateError):
        pins.read_register("data")  # raw registers only inside a hold
    with bus.port.allocated(timeout=WAIT):
        assert pins.read_register("data") == 0x01


def test_bus_close_closes_every_handle(open_bus: Opener) -> None:
    bus = open_bus()
    h = bus.create_file("LPT1.0")
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    bus.close()
    assert bus.closed and h.closed
    with pytest.raises(parport.NtStatusError):
        bus.create_file("LPT1.4")
    bus.close()  # idempotent


def test_completion_callbacks_may_block_and_completions_arrive_unwaited(open_bus: Opener) -> None:
    bus = open_bus()
    h0, h4 = bus.create_file("LPT1.0"), bus.create_file("LPT1.4")
    assert h0.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    seen: list[object] = []

    def then_ask(irp: nt.Irp) -> None:  # a blocking call inside a completion callback
        seen.append(h4.device_control(nt.IOCTL_IEEE1284_GET_MODE, b"", 4).status)

    queued = h4.submit_write(b"later")
    queued.add_done_callback(then_ask)
    unlock = h0.submit_internal_device_control(UNLOCK)
    deadline = time.monotonic() + WAIT
    while not (unlock.done and queued.done and seen):  # nobody waits: the completions come
        assert time.monotonic() < deadline, "completions did not arrive"
    assert unlock.status == queued.status == nt.STATUS_SUCCESS
    assert seen == [nt.STATUS_SUCCESS]
    h0.close()
    h4.close()


BAD_TIMEOUTS = [("1", TypeError), (True, TypeError), (float("nan"), ValueError)]


@pytest.mark.parametrize(("timeout", "error"), BAD_TIMEOUTS, ids=["str", "bool", "nan"])
def test_a_bad_timeout_is_refused_before_its_request_goes(
    open_bus: Opener, timeout: Any, error: type[Exception]
) -> None:
    """A blocking call given a timeout that is not a number of seconds raises at once and sends
    nothing: no request is left queued to be granted, later, to a caller that was told it
    failed (the port stays the owner's, then is free). Through the daemon, the connection goes
    on (a NaN once cut it)."""
    bus = open_bus()
    owner, other = bus.create_file(PORT), bus.create_file(PORT)
    assert owner.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    calls: list[Callable[[], object]] = [
        lambda: other.internal_device_control(ALLOCATE, timeout=timeout),
        lambda: other.device_control(nt.IOCTL_PAR_QUERY_INFORMATION, b"", 1, timeout=timeout),
        lambda: other.read(1, timeout=timeout),
        lambda: other.write(b"x", timeout=timeout),
        lambda: bus.port.allocate(timeout=timeout),
        lambda: bus.device("LPT1.0").lock(timeout=timeout),
        lambda: bus.device("LPT1.1", timeout=timeout),
    ]
    for call in calls:
        with pytest.raises(error, match="timeout"):
            call()
    bus.pins.timeout = timeout
    with pytest.raises(error, match="timeout"):
        bus.pins.set_data(0x5A)
    bus.pins.timeout = None
    assert bus.port.waiters == 0
    queued = other.submit_internal_device_control(ALLOCATE)
    with pytest.raises(error, match="timeout"):
        queued.wait(timeout)  # the caller holds the request: it may still wait or cancel
    queued.cancel()
    assert done(queued).status == nt.STATUS_CANCELLED
    assert owner.internal_device_control(FREE).status == nt.STATUS_SUCCESS
    assert other.internal_device_control(ALLOCATE, timeout=0).status == nt.STATUS_SUCCESS
    assert other.internal_device_control(FREE).status == nt.STATUS_SUCCESS
    bus.device("LPT1.0").close()  # nothing left open by the refused calls
    bus.device("LPT1.1").close()


@pytest.mark.parametrize("timeout", [float("inf"), 1e12], ids=["inf", "1e12"])
def test_a_timeout_longer_than_the_system_can_wait_waits_without_limit(
    open_bus: Opener, timeout: float
) -> None:
    """Infinity, or more seconds than a wait can take (threading.TIMEOUT_MAX), means no limit:
    the call waits for the port and gets it (it raised OverflowError once, leaving its request
    queued, so the port was granted to a caller told that it had failed)."""
    bus = open_bus()
    owner, other = bus.create_file(PORT), bus.create_file(PORT)
    assert owner.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    results: list[Any] = []
    waiter = threading.Thread(
        target=lambda: results.append(other.internal_device_control(ALLOCATE, timeout=timeout))
    )
    waiter.start()
    until(lambda: bus.port.waiters == 1, "the blocking ALLOCATE queued")
    assert owner.internal_device_control(FREE).status == nt.STATUS_SUCCESS
    waiter.join(WAIT)
    assert [r.status for r in results] == [nt.STATUS_SUCCESS]
    irp = owner.submit_internal_device_control(ALLOCATE)
    assert bus.port.waiters == 1
    assert other.internal_device_control(FREE).status == nt.STATUS_SUCCESS
    result = irp.wait(timeout)
    assert result is not None and result.status == nt.STATUS_SUCCESS
    assert owner.internal_device_control(FREE).status == nt.STATUS_SUCCESS


def main_waits() -> bool:
    """Whether the main thread is asleep in a wait (in-process: a threading wait; through the
    daemon: the client's poll), not between two steps of a call a signal could cut."""
    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    return frame is not None and frame.f_code.co_name in ("wait", "_poll")


class WaitInterruptedError(Exception):
    """What the test's signal handler raises in the waiting thread (as Ctrl-C raises
    KeyboardInterrupt)."""


@contextmanager
def signalled_once_queued(bus: parport.Bus, act: Callable[[], None]) -> Iterator[list[bool]]:
    """Within the block, ``act()`` runs once as a signal handler of the main thread, once a
    request waits for the port and the thread waits for it. The signal is sent again every
    millisecond until the handler has run: one that lands just before the thread enters its
    wait is held until the wait returns (CPython runs handlers between bytecodes)."""
    main = threading.main_thread().ident
    assert main is not None and main == threading.get_ident()
    ran: list[bool] = []

    def handler(signum: int, frame: object) -> None:
        if not ran:
            ran.append(True)
            act()

    previous = signal.signal(signal.SIGUSR1, handler)
    stop = threading.Event()

    def interrupt() -> None:
        until(lambda: bus.port.waiters == 1 and main_waits(), "a request queued, waited for")
        while not ran and not stop.wait(0.001):
            signal.pthread_kill(main, signal.SIGUSR1)

    interrupter = threading.Thread(target=interrupt)
    interrupter.start()
    try:
        yield ran
    finally:
        stop.set()
        interrupter.join(WAIT)
        signal.signal(signal.SIGUSR1, previous)


def _interrupt() -> None:
    raise WaitInterruptedError


def test_an_interrupted_blocking_call_takes_its_request_back(open_bus: Opener) -> None:
    """A blocking call interrupted while its request waits for the port (Ctrl-C's
    KeyboardInterrupt, or any exception raised in the waiting thread) cancels the request
    before the exception goes on: the port is not granted later to a caller that never saw it
    succeed. The same for the facade's lock() and allocate(), and the pins."""
    bus = open_bus()
    owner, other = bus.create_file(PORT), bus.create_file(PORT)
    assert owner.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    calls: list[Callable[[], object]] = [
        lambda: other.internal_device_control(ALLOCATE),
        lambda: other.internal_device_control(ALLOCATE, timeout=WAIT),
        lambda: bus.device("LPT1.0").lock(),
        bus.port.allocate,
        lambda: bus.pins.set_data(0x5A),
    ]
    for call in calls:
        with signalled_once_queued(bus, _interrupt), pytest.raises(WaitInterruptedError):
            call()
        assert bus.port.waiters == 0
    assert owner.internal_device_control(FREE).status == nt.STATUS_SUCCESS
    third = bus.create_file(PORT)
    assert third.internal_device_control(ALLOCATE, timeout=0).status == nt.STATUS_SUCCESS
    assert third.internal_device_control(FREE).status == nt.STATUS_SUCCESS
    device = bus.device("LPT1.1")
    device.lock(timeout=0)  # no lock was left to any of the interrupted calls
    device.unlock()


@pytest.mark.parametrize("waiting", ["lock", "allocate"])
def test_a_signal_handler_may_make_requests_while_its_thread_waits(
    open_bus: Opener, waiting: str
) -> None:
    """A signal handler runs in the thread it interrupts, here one waiting for its LOCK_PORT or
    ALLOCATE behind another owner; a request it makes on the same bus is answered, and the wait
    goes on to its own answer (through the daemon, the nested read once found its poll object
    busy: RuntimeError in both)."""
    bus = open_bus()
    owner = bus.create_file(PORT)
    assert owner.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
    waiter = bus.create_file("LPT1.0" if waiting == "lock" else PORT)
    seen: list[object] = []

    def act() -> None:
        seen.append(bus.port.waiters)
        seen.append(owner.internal_device_control(FREE).status)

    with signalled_once_queued(bus, act):
        status = waiter.internal_device_control(LOCK if waiting == "lock" else ALLOCATE).status
    assert (seen, status) == ([1, nt.STATUS_SUCCESS], nt.STATUS_SUCCESS)
    assert waiter.internal_device_control(UNLOCK if waiting == "lock" else FREE).status == 0
