"""The port's device object: every internal request of windows-parport.md §7 and Part A."""

from __future__ import annotations

import pytest

from driver_helpers import (
    ALLOCATE,
    DESELECT,
    FREE,
    PORT,
    SELECT,
    allocate,
    bus,
    command,
    emu,
    free,
    interrupt_routine,
    status,
)
from parport import nt
from parport.hw.emu import DaisyDevice, Fault


@pytest.fixture
def lpt():  # type: ignore[no-untyped-def]
    b = bus()
    yield b
    b.close()


def test_port_is_shared_and_has_no_symlink(lpt) -> None:  # type: ignore[no-untyped-def]
    a = lpt.create_file(PORT)
    b = lpt.create_file("\\Device\\ParallelPort0")
    assert a.device is b.device
    assert lpt.fdo.symlinks == []


def test_allocate_free_and_fifo(lpt) -> None:  # type: ignore[no-untyped-def]
    a, b, c = (lpt.create_file(PORT) for _ in range(3))
    first = allocate(a)
    assert (status(first), first.result.information) == (nt.STATUS_SUCCESS, 0)  # type: ignore[union-attr]
    second, third = allocate(b), allocate(c)
    assert not second.done and not third.done
    assert second.status == nt.STATUS_PENDING
    assert lpt.fdo.arbiter.query_num_waiters() == 2
    assert status(free(a)) == nt.STATUS_SUCCESS
    assert status(second) == nt.STATUS_SUCCESS and not third.done  # arrival order
    assert lpt.fdo.arbiter.owner is b.file
    assert status(free(b)) == nt.STATUS_SUCCESS
    assert status(third) == nt.STATUS_SUCCESS
    assert status(free(c)) == nt.STATUS_SUCCESS
    assert lpt.fdo.arbiter.owner is None


def test_free_from_a_non_owner_changes_nothing(lpt) -> None:  # type: ignore[no-untyped-def]
    a, b = lpt.create_file(PORT), lpt.create_file(PORT)
    assert status(free(a)) == nt.STATUS_INVALID_DEVICE_STATE  # nobody owns it
    allocate(a)
    result = free(b)
    assert (result.status, result.information) == (nt.STATUS_INVALID_DEVICE_STATE, 0)  # A4
    assert lpt.fdo.arbiter.owner is a.file


def test_allocate_cancel_while_queued_and_cancel_flag_at_dispatch(lpt) -> None:  # type: ignore[no-untyped-def]
    a, b = lpt.create_file(PORT), lpt.create_file(PORT)
    allocate(a)
    queued = allocate(b)
    assert queued.cancel()
    assert status(queued) == nt.STATUS_CANCELLED
    assert lpt.fdo.arbiter.query_num_waiters() == 0
    early = nt.Irp(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, ALLOCATE, handle=b)
    early.cancel()
    lpt.fdo.dispatch(early)
    assert status(early) == nt.STATUS_CANCELLED
    free(a)
    assert lpt.fdo.arbiter.owner is None  # the cancelled ones were not granted


def test_blocking_call_timeout_cancels(lpt) -> None:  # type: ignore[no-untyped-def]
    a, b = lpt.create_file(PORT), lpt.create_file(PORT)
    allocate(a)
    result = b.internal_device_control(ALLOCATE, timeout=0)
    assert (result.status, result.information) == (nt.STATUS_CANCELLED, 0)
    assert lpt.fdo.arbiter.query_num_waiters() == 0


def test_port_information_and_its_callbacks(lpt) -> None:  # type: ignore[no-untyped-def]
    a, b = lpt.create_file(PORT), lpt.create_file(PORT)
    code = nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO
    short = a.internal_device_control(code, output_length=55)
    assert (short.status, short.information, short.output) == (nt.STATUS_BUFFER_TOO_SMALL, 0, b"")
    result = a.internal_device_control(code, output_length=56)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 56)  # A11
    info = nt.PARALLEL_PORT_INFORMATION.unpack(result.output)
    assert info.OriginalController == info.Controller == 0x378
    assert info.SpanOfController == 8
    for pointer in (info.TryAllocatePort, info.FreePort, info.QueryNumWaiters, info.Context):
        assert pointer != 0
    try_allocate = a.callbacks.callable(info.TryAllocatePort)
    free_port = a.callbacks.callable(info.FreePort)
    waiters = a.callbacks.callable(info.QueryNumWaiters)
    assert try_allocate(info.Context) is True
    assert lpt.fdo.arbiter.owner is a.file  # bound to the handle that fetched it
    assert try_allocate(info.Context) is False
    queued = allocate(b)
    assert waiters(info.Context) == 1
    b_info = nt.PARALLEL_PORT_INFORMATION.unpack(
        b.internal_device_control(code, output_length=56).output
    )
    b.callbacks.callable(b_info.FreePort)(b_info.Context)  # not the owner: a no-op (A4)
    assert lpt.fdo.arbiter.owner is a.file
    free_port(info.Context)
    assert status(queued) == nt.STATUS_SUCCESS
    with pytest.raises(KeyError):
        b.callbacks.callable(info.TryAllocatePort)  # another handle's pointer


def test_more_and_pnp_information(lpt) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file(PORT)
    more = nt.IOCTL_INTERNAL_GET_MORE_PARALLEL_PORT_INFO
    assert status(h.internal_device_control(more, output_length=31)) == nt.STATUS_BUFFER_TOO_SMALL
    result = h.internal_device_control(more, output_length=32)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 32)
    info = nt.MORE_PARALLEL_PORT_INFORMATION.unpack(result.output)
    assert (info.InterfaceType, info.InterruptLevel, info.InterruptMode) == (1, 7, 1)
    pnp = nt.IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO
    assert status(h.internal_device_control(pnp, output_length=111)) == nt.STATUS_BUFFER_TOO_SMALL
    result = h.internal_device_control(pnp, output_length=200)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 112)  # A12
    info = nt.PARALLEL_PNP_INFORMATION.unpack(result.output)
    assert info.HardwareCapabilities == (
        nt.PPT_ECP_PRESENT | nt.PPT_EPP_PRESENT | nt.PPT_BYTE_PRESENT | nt.PPT_1284_3_PRESENT
    )
    assert (info.FifoDepth, info.FifoWidth, info.Ieee1284_3DeviceCount) == (16, 8, 2)
    assert info.OriginalEcpController == 0x778
    assert info.CurrentMode == nt.INITIAL_MODE
    assert h.callbacks.resolve(info.PortName) == "LPT1"
    for pointer in (
        info.TrySetChipMode,
        info.ClearChipMode,
        info.TrySelectDevice,
        info.DeselectDevice,
    ):
        assert callable(h.callbacks.resolve(pointer))
    release = h.internal_device_control(nt.IOCTL_INTERNAL_RELEASE_PARALLEL_PORT_INFO)
    assert (release.status, release.information) == (nt.STATUS_SUCCESS, 0)


def _chip(h, code: int, mode: int) -> int:  # type: ignore[no-untyped-def]
    return status(h.internal_device_control(code, nt.PARALLEL_CHIP_MODE(ModeFlags=mode).pack()))


def test_chip_modes(lpt) -> None:  # type: ignore[no-untyped-def]
    set_, clear = (
        nt.IOCTL_INTERNAL_PARALLEL_SET_CHIP_MODE,
        nt.IOCTL_INTERNAL_PARALLEL_CLEAR_CHIP_MODE,
    )
    a, b = lpt.create_file(PORT), lpt.create_file(PORT)
    assert status(a.internal_device_control(set_, b"\x60")) == nt.STATUS_BUFFER_TOO_SMALL
    assert _chip(a, set_, nt.ECR_ECP_MODE) == nt.STATUS_INVALID_DEVICE_STATE  # not the owner
    allocate(a)
    assert _chip(b, set_, nt.ECR_ECP_MODE) == nt.STATUS_INVALID_DEVICE_STATE
    assert _chip(a, set_, nt.ECR_FASTCENT_MODE) == nt.STATUS_NO_SUCH_DEVICE  # A17
    assert _chip(a, clear, nt.INITIAL_MODE) == nt.STATUS_INVALID_DEVICE_STATE  # A17
    assert _chip(a, set_, nt.ECR_ECP_PIO_MODE) == nt.STATUS_SUCCESS
    assert emu(lpt).read_ecr() >> 5 == 3
    assert lpt.fdo.current_mode == nt.ECR_ECP_MODE
    assert _chip(a, set_, nt.ECR_EPP_MODE) == nt.STATUS_INVALID_DEVICE_STATE  # not cleared
    assert _chip(a, clear, nt.ECR_EPP_MODE) == nt.STATUS_INVALID_DEVICE_STATE  # not current
    assert _chip(b, clear, nt.ECR_ECP_MODE) == nt.STATUS_INVALID_DEVICE_STATE  # not the owner
    assert _chip(a, clear, nt.ECR_ECP_MODE) == nt.STATUS_SUCCESS
    assert emu(lpt).read_ecr() >> 5 == 1  # restored
    assert _chip(a, set_, nt.ECR_BYTE_MODE) == nt.STATUS_SUCCESS
    assert _chip(a, set_, nt.ECR_ECP_MODE) == nt.STATUS_SUCCESS  # from BYTE is allowed (§7.7)


@pytest.mark.parametrize(
    ("hw", "mode"),
    [("ecp", nt.ECR_EPP_MODE), ("epp", nt.ECR_ECP_MODE), ("spp", nt.ECR_BYTE_MODE)],
)
def test_chip_mode_missing_in_hardware(hw: str, mode: int) -> None:
    b = bus(f"emu:chain=printer&hw={hw}")
    h = b.create_file(PORT)
    allocate(h)
    assert _chip(h, nt.IOCTL_INTERNAL_PARALLEL_SET_CHIP_MODE, mode) == nt.STATUS_NO_SUCH_DEVICE
    b.close()


def test_select_and_deselect(lpt) -> None:  # type: ignore[no-untyped-def]
    d0, d1, _ = emu(lpt).chain
    assert isinstance(d0, DaisyDevice) and isinstance(d1, DaisyDevice)
    a, b = lpt.create_file(PORT), lpt.create_file(PORT)
    assert status(a.internal_device_control(SELECT, command(1)[:7])) == nt.STATUS_BUFFER_TOO_SMALL
    assert status(a.internal_device_control(SELECT, command(3))) == nt.STATUS_INVALID_PARAMETER
    selected = a.internal_device_control(SELECT, command(1))
    assert (selected.status, selected.information) == (nt.STATUS_SUCCESS, 0)
    assert d1.selected and lpt.fdo.arbiter.owner is a.file
    waiting = b.submit_internal_device_control(SELECT, command(0))
    assert not waiting.done and lpt.fdo.arbiter.query_num_waiters() == 1
    assert status(b.internal_device_control(DESELECT, command(1))) == nt.STATUS_INVALID_DEVICE_STATE
    assert status(a.internal_device_control(DESELECT, command(1)[:7])) == nt.STATUS_BUFFER_TOO_SMALL
    assert status(a.internal_device_control(DESELECT, command(1))) == nt.STATUS_SUCCESS
    assert status(waiting) == nt.STATUS_SUCCESS  # granted and selected on the wire
    assert d0.selected and not d1.selected and lpt.fdo.arbiter.owner is b.file
    keep = command(0, nt.PAR_HAVE_PORT_KEEP_PORT)
    assert status(b.internal_device_control(DESELECT, keep)) == nt.STATUS_SUCCESS
    assert not d0.selected and lpt.fdo.arbiter.owner is b.file  # KEEP_PORT: still owned
    assert status(a.internal_device_control(SELECT, keep)) == nt.STATUS_INVALID_DEVICE_STATE
    assert status(b.internal_device_control(SELECT, keep)) == nt.STATUS_SUCCESS
    assert d0.selected


@pytest.mark.parametrize(
    "cmd",
    [
        command(4),
        command(2),
        command(0, nt.PAR_END_OF_CHAIN_DEVICE),
        command(9, nt.PAR_END_OF_CHAIN_DEVICE),
    ],
)
def test_end_of_chain_addressing(lpt, cmd: bytes) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file(PORT)
    accesses = emu(lpt).accesses
    assert status(h.internal_device_control(SELECT, cmd)) == nt.STATUS_SUCCESS  # A20
    assert emu(lpt).accesses == accesses  # nothing on the wire
    assert lpt.fdo.arbiter.owner is h.file
    assert status(h.internal_device_control(DESELECT, cmd)) == nt.STATUS_SUCCESS
    assert lpt.fdo.arbiter.owner is None


def test_failed_select_gives_the_port_back(lpt) -> None:  # type: ignore[no-untyped-def]
    d0 = emu(lpt).chain[0]
    d0.inject(Fault.SILENT)
    a = lpt.create_file(PORT)
    result = a.internal_device_control(SELECT, command(0))
    assert result.status == nt.STATUS_UNSUCCESSFUL
    assert lpt.fdo.arbiter.owner is None  # A6
    d0.clear(Fault.SILENT)


def test_failed_deselect_frees_the_port_anyway(lpt) -> None:  # type: ignore[no-untyped-def]
    d0 = emu(lpt).chain[0]
    a = lpt.create_file(PORT)
    assert status(a.internal_device_control(SELECT, command(0))) == nt.STATUS_SUCCESS
    d0.inject(Fault.SILENT)
    assert status(a.internal_device_control(DESELECT, command(0))) == nt.STATUS_UNSUCCESSFUL
    assert lpt.fdo.arbiter.owner is None  # A6


def test_queued_select_cancelled_and_granted_select_failing(lpt) -> None:  # type: ignore[no-untyped-def]
    a, b, c = (lpt.create_file(PORT) for _ in range(3))
    allocate(a)
    cancelled = b.submit_internal_device_control(SELECT, command(1))
    failing = c.submit_internal_device_control(SELECT, command(0))
    assert cancelled.cancel() and status(cancelled) == nt.STATUS_CANCELLED
    emu(lpt).chain[0].inject(Fault.SILENT)
    free(a)
    assert status(failing) == nt.STATUS_UNSUCCESSFUL
    assert lpt.fdo.arbiter.owner is None  # given back (A6)


def test_try_select_callback_never_queues(lpt) -> None:  # type: ignore[no-untyped-def]
    a, b = lpt.create_file(PORT), lpt.create_file(PORT)
    info = nt.PARALLEL_PNP_INFORMATION.unpack(
        b.internal_device_control(nt.IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO, output_length=112).output
    )
    try_select = b.callbacks.callable(info.TrySelectDevice)
    deselect = b.callbacks.callable(info.DeselectDevice)
    allocate(a)
    assert try_select(info.Context, nt.PARALLEL_1284_COMMAND(ID=0)) == nt.STATUS_PENDING
    assert lpt.fdo.arbiter.query_num_waiters() == 0  # A5: nothing counted
    free(a)
    assert try_select(info.Context, command(1)) == nt.STATUS_SUCCESS
    assert emu(lpt).chain[1].selected
    assert deselect(info.Context, command(1)) == nt.STATUS_SUCCESS
    assert lpt.fdo.arbiter.owner is None
    assert try_select(info.Context, command(3)) == nt.STATUS_INVALID_PARAMETER


def test_init_1284_3_bus(lpt) -> None:  # type: ignore[no-untyped-def]
    three = bus("emu:chain=daisy+daisy+daisy+printer")
    a, b = three.create_file(PORT), three.create_file(PORT)
    assert three.fdo.daisy_count == 2  # clamped devices created (max_daisy 2)
    result = a.internal_device_control(nt.IOCTL_INTERNAL_INIT_1284_3_BUS)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 0)
    assert three.fdo.daisy_count == 3  # not clamped (§7.9)
    allocate(a)
    assert (
        status(b.internal_device_control(nt.IOCTL_INTERNAL_INIT_1284_3_BUS))
        == nt.STATUS_DEVICE_BUSY
    )
    three.close()


def test_interrupts_disabled_by_default(lpt) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file(PORT)
    result = h.internal_device_control(
        nt.IOCTL_INTERNAL_PARALLEL_CONNECT_INTERRUPT, bytes(32), output_length=32
    )
    assert (result.status, result.information) == (nt.STATUS_UNSUCCESSFUL, 0)


def test_connect_interrupt_isr_and_deferred_check() -> None:
    b = bus("emu:chain=printer", enable_connect_interrupt=True)
    h = b.create_file(PORT)
    calls: list[str] = []
    request = interrupt_routine(
        h,
        lambda interrupt, context: calls.append(f"isr {context}") or True,
        lambda context: calls.append(f"check {context}"),
        (42, 7),
    )
    isr = nt.PARALLEL_INTERRUPT_SERVICE_ROUTINE.unpack(request).InterruptServiceRoutine
    code = nt.IOCTL_INTERNAL_PARALLEL_CONNECT_INTERRUPT
    assert status(h.internal_device_control(code, request[:31], 32)) == nt.STATUS_BUFFER_TOO_SMALL
    assert status(h.internal_device_control(code, request, 31)) == nt.STATUS_BUFFER_TOO_SMALL
    result = h.internal_device_control(code, request, 32)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 32)
    info = nt.PARALLEL_INTERRUPT_INFORMATION.unpack(result.output)
    assert info.InterruptObject and info.TryAllocatePortAtInterruptLevel and info.Context
    assert h.callbacks.callable(info.TryAllocatePortAtInterruptLevel)(info.Context) is True
    port = emu(b)
    port.write_control(0x1C)  # the printer's nAck pulse raises the interrupt
    port.write_data(0x41)
    port.write_control(0x1D)
    port.write_control(0x1C)
    port.sleep(10)
    assert calls == ["isr 42"]
    h.callbacks.callable(info.FreePortFromInterruptLevel)(info.Context)
    assert calls == ["isr 42", "check 7"]  # freed with nobody waiting
    disconnect = nt.IOCTL_INTERNAL_PARALLEL_DISCONNECT_INTERRUPT
    assert status(h.internal_device_control(disconnect, request[:31])) == nt.STATUS_BUFFER_TOO_SMALL
    other = nt.PARALLEL_INTERRUPT_SERVICE_ROUTINE(InterruptServiceRoutine=isr).pack()
    assert status(h.internal_device_control(disconnect, other)) == nt.STATUS_INVALID_PARAMETER
    assert status(h.internal_device_control(disconnect, request)) == nt.STATUS_SUCCESS
    assert status(h.internal_device_control(disconnect, request)) == nt.STATUS_INVALID_PARAMETER
    b.close()


def test_connect_interrupt_without_irq() -> None:
    b = bus("emu:chain=printer&irq=none", enable_connect_interrupt=True)
    h = b.create_file(PORT)
    result = h.internal_device_control(
        nt.IOCTL_INTERNAL_PARALLEL_CONNECT_INTERRUPT, bytes(32), output_length=32
    )
    assert result.status == nt.STATUS_NOT_SUPPORTED
    b.close()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (nt.IOCTL_INTERNAL_DISABLE_END_OF_CHAIN_BUS_RESCAN, nt.STATUS_SUCCESS),
        (nt.IOCTL_INTERNAL_ENABLE_END_OF_CHAIN_BUS_RESCAN, nt.STATUS_SUCCESS),
        (nt.IOCTL_INTERNAL_PARCHIP_CONNECT, nt.STATUS_INVALID_PARAMETER),
        (nt.IOCTL_INTERNAL_REGISTER_FOR_REMOVAL_RELATIONS, nt.STATUS_INVALID_PARAMETER),
        (nt.IOCTL_INTERNAL_UNREGISTER_FOR_REMOVAL_RELATIONS, nt.STATUS_INVALID_PARAMETER),
        (nt.IOCTL_INTERNAL_LOCK_PORT, nt.STATUS_INVALID_PARAMETER),  # a device request
        (0x00160100, nt.STATUS_INVALID_PARAMETER),
    ],
)
def test_other_internal_codes(lpt, code: int, expected: int) -> None:  # type: ignore[no-untyped-def]
    result = lpt.create_file(PORT).internal_device_control(code)
    assert (result.status, result.information) == (expected, 0)


@pytest.mark.parametrize("major", ["device_control", "read", "write", "query"])
def test_other_majors_are_not_supported(lpt, major: str) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file(PORT)
    result = {
        "device_control": lambda: h.device_control(ALLOCATE),  # A13: internal code, wrong major
        "read": lambda: h.read(10),
        "write": lambda: h.write(b"x"),
        "query": lambda: h.query_information(nt.FileStandardInformation, 24),
    }[major]()
    assert (result.status, result.information) == (nt.STATUS_NOT_SUPPORTED, 0)


def test_cleanup_cancels_only_this_handles_requests_and_frees_its_port(lpt) -> None:  # type: ignore[no-untyped-def]
    a, b, c = (lpt.create_file(PORT) for _ in range(3))
    allocate(a)
    b1, b2 = allocate(b), allocate(b)
    c1 = allocate(c)
    b.close()
    assert status(b1) == status(b2) == nt.STATUS_CANCELLED  # A9
    assert not c1.done
    a.close()  # the owner goes: the port is freed and the next waiter granted
    assert status(c1) == nt.STATUS_SUCCESS
    assert lpt.fdo.arbiter.owner is c.file
    c.close()
    assert lpt.fdo.arbiter.owner is None
    with pytest.raises(nt.NtStatusError):
        c.internal_device_control(ALLOCATE)  # a closed handle


def test_free_ioctl_value(lpt) -> None:  # type: ignore[no-untyped-def]
    assert FREE == 0x001600A0


def test_closing_a_handle_that_selected_deselects_then_frees(lpt) -> None:  # type: ignore[no-untyped-def]
    a, b = lpt.create_file(PORT), lpt.create_file(PORT)
    assert status(a.internal_device_control(SELECT, command(1))) == nt.STATUS_SUCCESS
    queued = allocate(b)
    a.close()  # design §4: deselect first, then free
    assert not emu(lpt).chain[1].selected
    assert status(queued) == nt.STATUS_SUCCESS
