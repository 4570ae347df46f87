"""The port's claim/release seam (docs/driver.md, "Ownership"; windows-parport.md §10.4, §10.5,
§11.3, Part A A2, A4–A6, A20, A24, A27): what is selected on the wire, for whom, and what a
release undoes. Written against the mutants of ``seam.py`` (docs/mutation.md): each test looks
at what a user sees — statuses, the owner, the device selected on the wire, bytes on the wire."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

import pytest

from driver_helpers import (
    DESELECT,
    PORT,
    SELECT,
    allocate,
    bus,
    command,
    emu,
    free,
    status,
    until,
)
from parport import nt
from parport.driver import Handle, ParallelBus, ParallelDevice
from parport.driver.seam import PortOwner, PortSeam, Selection, as_command
from parport.hw.emu import DaisyDevice, EmulatedPort, Fault, Printer, ZipDrive
from parport.hw.emu.topology import build_chain

WAIT = 30.0
KEEP = nt.PAR_HAVE_PORT_KEEP_PORT
LOCK, UNLOCK = nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT


@pytest.fixture(autouse=True)
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """No error the driver only logs (a grant or a request that raised): a test that expects
    one clears the records itself."""
    caplog.set_level(logging.DEBUG, logger="parport")
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


@pytest.fixture
def lpt() -> Iterator[ParallelBus]:
    b = bus("emu:")
    yield b
    assert b.check() == []
    b.close()


def _daisies(b: ParallelBus) -> tuple[DaisyDevice, DaisyDevice]:
    d0, d1 = emu(b).chain[:2]
    assert isinstance(d0, DaisyDevice) and isinstance(d1, DaisyDevice)
    return d0, d1


def _pnp(h: object) -> tuple[nt.PARALLEL_PNP_INFORMATION, object]:
    result = h.internal_device_control(  # type: ignore[attr-defined]
        nt.IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO, output_length=nt.PARALLEL_PNP_INFORMATION.SIZE
    )
    return nt.PARALLEL_PNP_INFORMATION.unpack(result.output), h.callbacks  # type: ignore[attr-defined]


# --- addressing (§10.4 steps 1–2, A20) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("id_", "flags", "target"),
    [
        (0, 0, "daisy"),
        (1, 0, "daisy"),
        (2, 0, "eoc"),  # equal to the daisy count
        (4, 0, "eoc"),
        (0, nt.PAR_END_OF_CHAIN_DEVICE, "eoc"),
        (9, nt.PAR_END_OF_CHAIN_DEVICE, "eoc"),
        (5, 0, "zip"),
        (0, nt.PAR_LEGACY_ZIP_DRIVE, "zip"),
        (3, 0, None),
        (6, 0, None),
    ],
)
def test_what_a_command_addresses(
    lpt: ParallelBus, id_: int, flags: int, target: str | None
) -> None:
    assert lpt.fdo.target_of(nt.PARALLEL_1284_COMMAND(ID=id_, CommandFlags=flags)) == target


def test_as_command_takes_the_structure_or_its_bytes() -> None:
    cmd = nt.PARALLEL_1284_COMMAND(ID=1, Port=0, CommandFlags=KEEP)
    assert as_command(cmd) is cmd
    assert as_command(cmd.pack()) == cmd
    assert as_command(bytearray(cmd.pack())) == cmd


# --- selecting on the wire (§11.3, §10.4 step 3) --------------------------------------------------


def test_selecting_the_selected_device_again_touches_nothing(lpt: ParallelBus) -> None:
    d0, _ = _daisies(lpt)
    p = lpt.create_file(PORT)
    assert status(p.internal_device_control(SELECT, command(0))) == nt.STATUS_SUCCESS
    selection = lpt.fdo.selection
    assert selection is not None and selection.owner is p.file and selection.target == "daisy"
    accesses = emu(lpt).accesses
    again = p.internal_device_control(SELECT, command(0, KEEP))
    assert again.status == nt.STATUS_SUCCESS and emu(lpt).accesses == accesses
    assert d0.selected and lpt.fdo.selection is selection


def test_selecting_another_daisy_device_deselects_the_first(lpt: ParallelBus) -> None:
    d0, d1 = _daisies(lpt)
    p = lpt.create_file(PORT)
    assert status(p.internal_device_control(SELECT, command(0))) == nt.STATUS_SUCCESS
    assert status(p.internal_device_control(SELECT, command(1, KEEP))) == nt.STATUS_SUCCESS
    assert d1.selected and not d0.selected and emu(lpt).selected_address == 1
    selection = lpt.fdo.selection
    assert selection is not None and selection.command.ID == 1 and selection.owner is p.file
    assert status(free(p)) == nt.STATUS_SUCCESS
    assert emu(lpt).selected_address is None and lpt.fdo.selection is None


def test_selecting_the_end_of_chain_device_deselects_a_daisy_device(lpt: ParallelBus) -> None:
    d0, _ = _daisies(lpt)
    printer = emu(lpt).chain[2]
    p = lpt.create_file(PORT)
    assert status(p.internal_device_control(SELECT, command(0))) == nt.STATUS_SUCCESS
    eoc = command(0, nt.PAR_END_OF_CHAIN_DEVICE | KEEP)
    assert status(p.internal_device_control(SELECT, eoc)) == nt.STATUS_SUCCESS
    assert not d0.selected and lpt.fdo.selection is None and lpt.fdo.owner is p.file
    accesses = emu(lpt).accesses
    assert status(p.internal_device_control(SELECT, eoc)) == nt.STATUS_SUCCESS
    assert emu(lpt).accesses == accesses  # nothing selected: nothing to change on the wire
    # The printer, at the end of the chain, now gets what a write sends.
    assert status(free(p)) == nt.STATUS_SUCCESS
    assert lpt.create_file("LPT1.4").write(b"eoc", timeout=WAIT).information == 3
    assert bytes(printer.received) == b"eoc"


def test_a_failed_deselect_on_the_way_to_another_device_is_reported(lpt: ParallelBus) -> None:
    d0, d1 = _daisies(lpt)
    p = lpt.create_file(PORT)
    assert status(p.internal_device_control(SELECT, command(0))) == nt.STATUS_SUCCESS
    d0.inject(Fault.SILENT)
    result = p.internal_device_control(SELECT, command(1, KEEP))
    assert result.status == nt.STATUS_UNSUCCESSFUL
    assert not d1.selected and lpt.fdo.selection is None  # not counted as selected any more
    assert lpt.fdo.owner is p.file  # KEEP_PORT: the port stays the caller's
    d0.clear(Fault.SILENT)
    eoc = command(4, KEEP)
    assert status(p.internal_device_control(SELECT, command(0, KEEP))) == nt.STATUS_SUCCESS
    d0.inject(Fault.SILENT)
    assert status(p.internal_device_control(SELECT, eoc)) == nt.STATUS_UNSUCCESSFUL
    d0.clear(Fault.SILENT)
    assert status(free(p)) == nt.STATUS_SUCCESS


def test_a_select_that_fails_on_the_wire_records_no_selection(lpt: ParallelBus) -> None:
    d0, _ = _daisies(lpt)
    p = lpt.create_file(PORT)
    allocate(p)
    d0.inject(Fault.SILENT)
    assert status(p.internal_device_control(SELECT, command(0, KEEP))) == nt.STATUS_UNSUCCESSFUL
    assert lpt.fdo.selection is None and lpt.fdo.owner is p.file
    d0.clear(Fault.SILENT)
    accesses = emu(lpt).accesses
    assert status(free(p)) == nt.STATUS_SUCCESS
    assert emu(lpt).accesses == accesses  # nothing selected: the free puts nothing on the wire


def test_select_ends_an_ieee1284_session_first(lpt: ParallelBus) -> None:
    """§11.3 with the invariant: a 1284.3 command frame never reaches a peripheral mid-session."""
    printer = emu(lpt).chain[2]
    assert isinstance(printer, Printer)
    d0, _ = _daisies(lpt)
    h = lpt.create_file("LPT1.4")
    assert h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT_NO_SELECT).status == 0
    printer.queue_reverse(b"xyz")
    assert h.read(1).output == b"x"
    assert lpt.session.connected and printer.phase != "compatibility"
    info = nt.PARCLASS_INFORMATION.unpack(
        h.internal_device_control(
            nt.IOCTL_INTERNAL_PARCLASS_CONNECT, output_length=nt.PARCLASS_INFORMATION.SIZE
        ).output
    )
    select = h.callbacks.callable(info.ParallelTryselect)
    assert select(info.ParclassContext, nt.PARALLEL_1284_COMMAND(ID=0, CommandFlags=KEEP)) == 0
    assert not lpt.session.connected and printer.phase == "compatibility"
    assert d0.selected
    assert h.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
    assert not d0.selected and lpt.fdo.owner is None


# --- deselecting (§10.5) --------------------------------------------------------------------------


def test_deselect_with_keep_port_ends_a_session_and_keeps_the_port(lpt: ParallelBus) -> None:
    d0, _ = _daisies(lpt)
    p = lpt.create_file(PORT)
    assert status(p.internal_device_control(SELECT, command(0))) == nt.STATUS_SUCCESS
    result = p.internal_device_control(DESELECT, command(0, KEEP))
    assert result.status == nt.STATUS_SUCCESS
    assert not d0.selected and lpt.fdo.selection is None and lpt.fdo.owner is p.file
    accesses = emu(lpt).accesses
    eoc = p.internal_device_control(DESELECT, command(4, KEEP))
    assert eoc.status == nt.STATUS_SUCCESS and lpt.fdo.owner is p.file
    assert emu(lpt).accesses == accesses  # the end-of-chain device: nothing to do on the wire
    bad = p.internal_device_control(DESELECT, command(3, KEEP))
    assert bad.status == nt.STATUS_INVALID_PARAMETER and lpt.fdo.owner is p.file
    assert status(free(p)) == nt.STATUS_SUCCESS


def test_a_non_owner_can_neither_select_nor_deselect(lpt: ParallelBus) -> None:
    d0, _ = _daisies(lpt)
    owner, other = lpt.create_file(PORT), lpt.create_file(PORT)
    assert status(owner.internal_device_control(SELECT, command(0))) == nt.STATUS_SUCCESS
    accesses = emu(lpt).accesses
    for cmd in (command(0, KEEP), command(0), command(4, KEEP)):
        result = other.internal_device_control(DESELECT, cmd)
        assert result.status == nt.STATUS_INVALID_DEVICE_STATE
    assert other.internal_device_control(SELECT, command(1, KEEP)).status == (
        nt.STATUS_INVALID_DEVICE_STATE
    )
    assert emu(lpt).accesses == accesses and d0.selected and lpt.fdo.owner is owner.file
    assert lpt.fdo.select(other.file, nt.PARALLEL_1284_COMMAND(ID=1)) == (
        nt.STATUS_INVALID_DEVICE_STATE
    )
    assert lpt.fdo.deselect(other.file, nt.PARALLEL_1284_COMMAND(ID=0)) == (
        nt.STATUS_INVALID_DEVICE_STATE
    )
    assert lpt.fdo.select(owner.file, nt.PARALLEL_1284_COMMAND(ID=3)) == nt.STATUS_INVALID_PARAMETER
    assert lpt.fdo.deselect(owner.file, nt.PARALLEL_1284_COMMAND(ID=3)) == (
        nt.STATUS_INVALID_PARAMETER
    )
    assert d0.selected and emu(lpt).accesses == accesses
    assert status(free(owner)) == nt.STATUS_SUCCESS


# --- releasing (A2, A4, A27) ----------------------------------------------------------------------


def test_release_by_a_non_owner_touches_nothing(lpt: ParallelBus) -> None:
    d0, _ = _daisies(lpt)
    owner, other = lpt.create_file(PORT), lpt.create_file(PORT)
    assert status(owner.internal_device_control(SELECT, command(0))) == nt.STATUS_SUCCESS
    accesses = emu(lpt).accesses
    assert lpt.fdo.release(other.file) == nt.STATUS_INVALID_DEVICE_STATE
    assert lpt.fdo.release(None) == nt.STATUS_INVALID_DEVICE_STATE
    assert emu(lpt).accesses == accesses and d0.selected and lpt.fdo.owner is owner.file
    assert lpt.fdo.release(owner.file) == nt.STATUS_SUCCESS
    assert not d0.selected and lpt.fdo.owner is None


def test_release_reports_a_failed_deselect_and_frees_anyway(lpt: ParallelBus) -> None:
    d0, _ = _daisies(lpt)
    p, q = lpt.create_file(PORT), lpt.create_file(PORT)
    assert status(p.internal_device_control(SELECT, command(0))) == nt.STATUS_SUCCESS
    waiting = allocate(q)
    d0.inject(Fault.SILENT)
    assert lpt.fdo.release(p.file) == nt.STATUS_UNSUCCESSFUL  # A2
    assert lpt.fdo.selection is None
    assert waiting.wait(WAIT) is not None and lpt.fdo.owner is q.file
    d0.clear(Fault.SILENT)
    assert status(free(q)) == nt.STATUS_SUCCESS


def test_release_ends_an_owners_ieee1284_session(lpt: ParallelBus) -> None:
    """A session left connected by a device's read is ended by whatever takes the port from it:
    the next owner finds the printer idle, in compatibility mode."""
    printer = emu(lpt).chain[2]
    assert isinstance(printer, Printer)
    h = lpt.create_file("LPT1.4")
    printer.queue_reverse(b"abc")
    assert h.read(1).output == b"a"
    device = lpt.lookup("LPT1.4")
    assert lpt.fdo.owner is device and lpt.session.connected
    assert lpt.fdo.selection is None
    assert lpt.fdo.release(device) == nt.STATUS_SUCCESS
    assert not lpt.session.connected and printer.phase == "compatibility"
    assert lpt.fdo.owner is None


def test_release_tells_an_owner_that_asks_to_be_told() -> None:
    class Told(PortOwner):
        __slots__ = ("told",)
        notify_release = True

        def __init__(self) -> None:
            self.told = 0

        def port_released(self) -> None:
            self.told += 1

    class Quiet(PortOwner):
        __slots__ = ("told",)

        def __init__(self) -> None:
            self.told = 0

        def port_released(self) -> None:
            self.told += 1

    b = bus("emu:chain=printer")
    told, quiet = Told(), Quiet()
    for owner in (told, quiet):
        assert b.fdo.try_claim(owner) == nt.STATUS_SUCCESS
        assert b.fdo.owner is owner
        assert b.fdo.release(owner) == nt.STATUS_SUCCESS
    assert (told.told, quiet.told) == (1, 0)
    assert PortOwner.notify_release is False
    PortOwner().port_released()  # the default does nothing
    b.close()


def test_a_device_loses_its_lock_with_the_port(lpt: ParallelBus) -> None:
    d0, _ = _daisies(lpt)
    h = lpt.create_file("LPT1.0")
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    device = lpt.lookup("LPT1.0")
    assert isinstance(device, ParallelDevice) and device.locked and device.selected
    assert lpt.fdo.release(device) == nt.STATUS_SUCCESS
    assert not device.locked and not device.selected and not d0.selected
    assert lpt.fdo.owner is None


# --- try_claim (TrySelectDevice without KEEP_PORT, A5, A6) ----------------------------------------


def test_try_claim(lpt: ParallelBus) -> None:
    d0, _ = _daisies(lpt)
    p, q = lpt.create_file(PORT), lpt.create_file(PORT)
    fdo = lpt.fdo
    assert fdo.try_claim(p.file) == nt.STATUS_SUCCESS and fdo.owner is p.file
    assert fdo.selection is None
    assert fdo.try_claim(q.file, nt.PARALLEL_1284_COMMAND(ID=0)) == nt.STATUS_PENDING
    assert fdo.owner is p.file and fdo.arbiter.query_num_waiters() == 0
    assert fdo.release(p.file) == nt.STATUS_SUCCESS
    assert fdo.try_claim(q.file, nt.PARALLEL_1284_COMMAND(ID=0)) == nt.STATUS_SUCCESS
    assert d0.selected and fdo.selected_by(q.file) and not fdo.selected_by(p.file)
    assert fdo.release(q.file) == nt.STATUS_SUCCESS
    d0.inject(Fault.SILENT)
    assert fdo.try_claim(q.file, nt.PARALLEL_1284_COMMAND(ID=0)) == nt.STATUS_UNSUCCESSFUL
    assert fdo.owner is None  # A6: given back
    assert fdo.try_claim(q.file, nt.PARALLEL_1284_COMMAND(ID=3)) == nt.STATUS_INVALID_PARAMETER
    assert fdo.owner is None
    d0.clear(Fault.SILENT)


def test_the_try_select_callback_takes_the_command_as_bytes(lpt: ParallelBus) -> None:
    d0, d1 = _daisies(lpt)
    p = lpt.create_file(PORT)
    info, tokens = _pnp(p)
    try_select = tokens.callable(info.TrySelectDevice)  # type: ignore[attr-defined]
    deselect = tokens.callable(info.DeselectDevice)  # type: ignore[attr-defined]
    assert try_select(info.Context, command(1)) == nt.STATUS_SUCCESS
    assert d1.selected and lpt.fdo.owner is p.file
    assert try_select(info.Context, command(0, KEEP)) == nt.STATUS_SUCCESS
    assert d0.selected and not d1.selected
    assert deselect(info.Context, command(0)) == nt.STATUS_SUCCESS
    assert lpt.fdo.owner is None and emu(lpt).selected_address is None


# --- a legacy Zip drive (§11.3: its own select and deselect sequences) ----------------------------


@pytest.fixture
def zip_bus() -> Iterator[ParallelBus]:
    b = bus("emu:chain=daisy+zip+printer", legacy_zip=True)
    yield b
    assert b.check() == []
    b.close()


def _zip(b: ParallelBus) -> ZipDrive:
    drive = emu(b).chain[1]
    assert isinstance(drive, ZipDrive)
    return drive


def test_a_zip_drive_is_connected_by_a_lock_and_disconnected_by_the_unlock(
    zip_bus: ParallelBus,
) -> None:
    drive = _zip(zip_bus)
    h = zip_bus.create_file("LPT1.5")
    assert h.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
    assert drive.connected and not drive.epp_mode
    selection = zip_bus.fdo.selection
    assert selection is not None and selection.target == "zip"
    assert h.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
    assert not drive.connected and zip_bus.fdo.selection is None


@pytest.mark.parametrize(
    ("flags", "epp"),
    [
        (nt.PAR_LEGACY_ZIP_DRIVE, False),
        (nt.PAR_LEGACY_ZIP_DRIVE | nt.PAR_LEGACY_ZIP_DRIVE_EPP_MODE, True),
    ],
)
def test_select_and_deselect_of_a_zip_drive_from_the_port(
    zip_bus: ParallelBus, flags: int, epp: bool
) -> None:
    drive = _zip(zip_bus)
    p = zip_bus.create_file(PORT)
    assert status(p.internal_device_control(SELECT, command(0, flags))) == nt.STATUS_SUCCESS
    assert drive.connected and drive.epp_mode is epp and zip_bus.fdo.owner is p.file
    result = p.internal_device_control(DESELECT, command(0, flags | KEEP))
    assert result.status == nt.STATUS_SUCCESS
    assert not drive.connected and zip_bus.fdo.owner is p.file
    assert status(p.internal_device_control(SELECT, command(5, KEEP))) == nt.STATUS_SUCCESS
    assert drive.connected
    assert status(p.internal_device_control(DESELECT, command(5))) == nt.STATUS_SUCCESS
    assert not drive.connected and zip_bus.fdo.owner is None


def test_switching_between_a_zip_drive_and_a_daisy_device(zip_bus: ParallelBus) -> None:
    drive = _zip(zip_bus)
    d0 = emu(zip_bus).chain[0]
    assert isinstance(d0, DaisyDevice)
    p = zip_bus.create_file(PORT)
    assert status(p.internal_device_control(SELECT, command(5))) == nt.STATUS_SUCCESS
    assert status(p.internal_device_control(SELECT, command(0, KEEP))) == nt.STATUS_SUCCESS
    assert d0.selected and not drive.connected
    assert status(p.internal_device_control(SELECT, command(5, KEEP))) == nt.STATUS_SUCCESS
    assert drive.connected and not d0.selected
    assert status(free(p)) == nt.STATUS_SUCCESS  # A27: the free disconnects the drive
    assert not drive.connected and not d0.selected and zip_bus.fdo.selection is None


def test_a_zip_drive_that_does_not_answer(zip_bus: ParallelBus) -> None:
    drive = _zip(zip_bus)
    p = zip_bus.create_file(PORT)
    drive.inject(Fault.SILENT)
    assert status(p.internal_device_control(SELECT, command(5))) == nt.STATUS_UNSUCCESSFUL
    assert zip_bus.fdo.owner is None and zip_bus.fdo.selection is None
    drive.clear(Fault.SILENT)


# --- address assignment (INIT_1284_3_BUS, a printer reset) ----------------------------------------


def test_address_assignment_by_an_owner_with_a_daisy_device_selected(lpt: ParallelBus) -> None:
    d0, _ = _daisies(lpt)
    printer = emu(lpt).chain[2]
    p = lpt.create_file(PORT)
    assert status(p.internal_device_control(SELECT, command(0))) == nt.STATUS_SUCCESS
    result = p.internal_device_control(nt.IOCTL_INTERNAL_INIT_1284_3_BUS)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 0)
    assert lpt.fdo.daisy_count == 2  # both devices answered
    assert status(free(p)) == nt.STATUS_SUCCESS
    assert emu(lpt).selected_address is None  # A27: nothing left selected for the next owner
    assert lpt.create_file("LPT1.4").write(b"job", timeout=WAIT).information == 3
    assert bytes(printer.received) == b"job" and bytes(d0.received) == b""


def test_address_assignment_by_the_owner_with_nothing_selected(lpt: ParallelBus) -> None:
    d0, d1 = _daisies(lpt)
    p = lpt.create_file(PORT)
    allocate(p)
    assert lpt.fdo.reassign_addresses(p.file) == 2
    assert (d0.address, d1.address) == (0, 1) and lpt.fdo.selection is None
    assert status(free(p)) == nt.STATUS_SUCCESS


def test_address_assignment_keeps_a_zip_selection(zip_bus: ParallelBus) -> None:
    drive = _zip(zip_bus)
    p = zip_bus.create_file(PORT)
    assert status(p.internal_device_control(SELECT, command(5))) == nt.STATUS_SUCCESS
    zip_bus.fdo.reassign_addresses(p.file)
    selection = zip_bus.fdo.selection
    assert selection is not None and selection.target == "zip"
    assert status(free(p)) == nt.STATUS_SUCCESS
    assert not drive.connected


def test_address_assignment_ends_a_session_first(lpt: ParallelBus) -> None:
    printer = emu(lpt).chain[2]
    assert isinstance(printer, Printer)
    h = lpt.create_file("LPT1.4")
    printer.queue_reverse(b"zz")
    assert h.read(1).output == b"z"
    assert lpt.session.connected
    device = lpt.lookup("LPT1.4")
    assert lpt.fdo.reassign_addresses(device) == 2
    assert not lpt.session.connected and printer.phase == "compatibility"
    h.close()


# --- the invariants' own checks -------------------------------------------------------------------


def test_waiting_for_the_port_holding_the_wire_lock_is_a_violation(
    lpt: ParallelBus, caplog: pytest.LogCaptureFixture
) -> None:
    lpt.fdo.waiting_for_port()
    assert lpt.check() == []
    with lpt.fdo.wire_lock:
        lpt.fdo.waiting_for_port()
    problems = lpt.check()
    assert len(problems) == 1 and "waits for the port holding the wire lock" in problems[0]
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"{lpt.fdo.arbiter.name}: {problems[0]}"]
    assert (
        problems[0] == f"{threading.current_thread().name} waits for the port holding the wire lock"
    )
    caplog.clear()
    lpt.fdo.violations.clear()


def test_check_reports_a_selection_made_for_somebody_else(lpt: ParallelBus) -> None:
    p, q = lpt.create_file(PORT), lpt.create_file(PORT)
    assert status(p.internal_device_control(SELECT, command(1))) == nt.STATUS_SUCCESS
    assert lpt.fdo.check() == []
    real = lpt.fdo._selection
    assert real is not None
    lpt.fdo._selection = Selection(q.file, real.command, real.target)
    problems = lpt.fdo.check()
    assert problems == [f"daisy 1 is selected for {q.file!r}, but the port is {p.file!r}'s"]
    lpt.fdo._selection = real
    assert status(free(p)) == nt.STATUS_SUCCESS


# --- the system's claim (a shared backend: ppdev) -------------------------------------------------


class _Shared(EmulatedPort):
    shared = True

    def __init__(self, fail_claims: int = 0, fail_releases: int = 0) -> None:
        super().__init__(build_chain([{"kind": "daisy"}, {"kind": "printer"}]))
        self.events: list[str] = []
        self.fail_claims = fail_claims
        self.fail_releases = fail_releases

    def claim(self) -> None:
        if self.fail_claims:
            self.fail_claims -= 1
            self.events.append("claim failed")
            raise OSError("busy")
        self.events.append("claim")

    def release(self) -> None:
        if self.fail_releases:
            self.fail_releases -= 1
            self.events.append("release failed")
            raise OSError("hung")
        self.events.append("release")


def test_a_failed_claim_is_logged_once_and_retried_by_the_next_owner_even_after_a_wait(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _Shared()
    b = ParallelBus(port)
    port.events.clear()
    port.fail_claims = 2
    p, q = b.create_file(PORT), b.create_file(PORT)
    assert p.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE).status == 0
    logged = [f"{b.fdo.arbiter.name}: the port could not be claimed: busy"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == logged
    waiting = allocate(q)
    assert status(free(p)) == nt.STATUS_SUCCESS  # handed to q: q's claim is tried again
    assert waiting.wait(WAIT) is not None and b.fdo.owner is q.file
    assert port.events == ["claim failed", "claim failed"]
    assert b.fdo.claim_error is not None and b.check() == []
    # once: the second failure in a row is not logged again
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == logged
    caplog.clear()
    assert status(free(q)) == nt.STATUS_SUCCESS
    assert port.events == ["claim failed", "claim failed"]  # nothing claimed: nothing released
    assert p.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE).status == 0
    assert port.events[-1] == "claim" and b.fdo.claim_error is None
    assert status(free(p)) == nt.STATUS_SUCCESS
    assert port.events[-1] == "release" and b.check() == []
    b.close()


def test_a_failed_release_is_logged_and_the_next_owner_claims_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = _Shared()
    b = ParallelBus(port)
    port.events.clear()
    port.fail_releases = 1
    p = b.create_file(PORT)
    assert p.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE).status == 0
    assert status(free(p)) == nt.STATUS_SUCCESS
    assert port.events == ["claim", "release failed"] and b.check() == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"{b.fdo.arbiter.name}: the backend's release failed"]
    caplog.clear()
    assert p.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE).status == 0
    assert port.events[-1] == "claim"
    assert status(free(p)) == nt.STATUS_SUCCESS
    assert port.events[-1] == "release"
    b.close()


def test_check_sees_a_system_claim_that_does_not_follow_the_arbiter() -> None:
    port = _Shared()
    b = ParallelBus(port)
    p = b.create_file(PORT)
    assert b.check() == []
    b.fdo._system_claimed = True  # claimed, with nobody owning the port
    assert b.check() == ["the system's claim does not follow the arbiter"]
    b.fdo._system_claimed = False
    assert p.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE).status == 0
    assert b.check() == []
    b.fdo._system_claimed = False  # owned, not claimed, and no claim error to explain it
    assert b.check() == ["the system's claim does not follow the arbiter"]
    b.fdo._system_claimed = True
    assert status(free(p)) == nt.STATUS_SUCCESS
    b.close()


def test_a_port_that_is_not_shared_claims_nothing_from_the_system(lpt: ParallelBus) -> None:
    assert lpt.fdo.arbiter.on_taken is None and lpt.fdo.arbiter.on_free is None
    p = lpt.create_file(PORT)
    allocate(p)
    assert not lpt.fdo._system_claimed
    free(p)


def test_the_seam_owns_a_paced_clock_s_idle_lock() -> None:
    b = bus("emu:clock=paced")
    clock = emu(b).clock
    assert clock.idle_lock is b.fdo.wire_lock is emu(b).lock
    b.close()
    manual = bus("emu:")
    assert emu(manual).clock.idle_lock is None
    manual.close()


def test_a_seam_on_its_own() -> None:
    backend = EmulatedPort(build_chain([{"kind": "daisy"}, {"kind": "printer"}]))
    from parport.ieee1284 import Session

    seam = PortSeam("solo", backend, Session(backend))
    assert seam.arbiter.name == "solo" and seam.backend is backend
    assert seam.wire_lock is backend.lock and seam.daisy_count == 0 and seam.selection is None
    assert seam.on_free is None and seam.claim_error is None and seam.violations == []
    owner = object()
    irp = nt.Irp(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
    assert seam.claim(irp, owner) is True and seam.owns(owner) and seam.owner is owner
    other = nt.Irp(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
    granted: list[object] = []
    assert seam.claim(other, "b", lambda waiter: granted.append(waiter.owner)) is False
    assert seam.release(owner) == nt.STATUS_SUCCESS
    assert granted == ["b"] and seam.owner == "b"
    assert seam.check() == []
    backend.close()


def test_selecting_the_end_of_chain_device_keeps_the_owners_session(lpt: ParallelBus) -> None:
    """With nothing selected, SELECT of the end-of-chain device changes nothing on the wire: an
    IEEE 1284 session the owner has open with that device (nibble mode here) stays open."""
    printer = emu(lpt).chain[2]
    p = lpt.create_file(PORT)
    allocate(p)
    printer.queue_reverse(b"ok")
    with lpt.fdo.wire_lock:
        assert lpt.fdo.session.read(1, nt.NIBBLE).data == b"o"
    assert lpt.fdo.session.connected
    accesses = emu(lpt).accesses
    assert status(p.internal_device_control(SELECT, command(4, KEEP))) == nt.STATUS_SUCCESS
    assert lpt.fdo.session.connected and emu(lpt).accesses == accesses
    assert status(free(p)) == nt.STATUS_SUCCESS
    assert not lpt.fdo.session.connected  # the release ends it


def test_check_reports_a_port_held_by_a_handle_whose_close_has_finished(
    lpt: ParallelBus,
) -> None:
    """The state a callback racing a close once left (the close finished, the port still the
    handle's): check() names it."""
    p = lpt.create_file(PORT)
    file = p.file
    p.close()
    assert lpt.fdo.arbiter.try_allocate(file)  # behind the handle's back, as the race did
    assert lpt.check() == [f"the port is held by {file!r}, whose close has finished"]
    assert lpt.fdo.arbiter.free(file)
    assert lpt.check() == []


# --- two threads of one owner: a select racing the owner's release --------------------------------


class _Owner(PortOwner):
    """An owner told when it loses the port, which then runs ``on_release`` (in another thread,
    to its end): another thread of the same owner acting at that moment."""

    __slots__ = ("on_release",)
    notify_release = True

    def __init__(self) -> None:
        self.on_release: list[object] = []

    def port_released(self) -> None:
        for action in self.on_release:
            other = threading.Thread(target=action)  # type: ignore[arg-type]
            other.start()
            other.join(30)


def test_a_select_while_its_owner_is_being_released_selects_nothing(lpt: ParallelBus) -> None:
    """The release marks its owner before it looks for a selection: a select from another
    thread of the owner after that does nothing on the wire (STATUS_INVALID_DEVICE_STATE), so
    no device is left selected on the freed port."""
    d0, _ = _daisies(lpt)
    owner = _Owner()
    answers: list[int] = []
    assert lpt.fdo.try_claim(owner) == nt.STATUS_SUCCESS
    accesses = emu(lpt).accesses
    owner.on_release.append(
        lambda: answers.append(lpt.fdo.select(owner, nt.PARALLEL_1284_COMMAND(ID=0)))
    )
    assert lpt.fdo.release(owner) == nt.STATUS_SUCCESS
    assert answers == [nt.STATUS_INVALID_DEVICE_STATE]
    assert emu(lpt).accesses == accesses  # nothing went on the wire
    assert lpt.fdo.owner is None and lpt.fdo.selection is None and not d0.selected


def test_a_select_overtaken_by_its_owners_release_undoes_itself(
    lpt: ParallelBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The owner's release runs to its end (the port freed) while the select is on the wire:
    the select sees it when it checks again, deselects, and answers
    STATUS_INVALID_DEVICE_STATE."""
    from parport.driver import seam

    d0, _ = _daisies(lpt)
    owner = _Owner()
    assert lpt.fdo.try_claim(owner) == nt.STATUS_SUCCESS
    real_select = seam.dot3.select

    def select_overtaken(backend: object, address: int) -> bool:
        other = threading.Thread(target=lpt.fdo.release, args=(owner,))
        other.start()
        other.join(30)
        return real_select(backend, address)  # type: ignore[arg-type]

    monkeypatch.setattr(seam.dot3, "select", select_overtaken)
    status = lpt.fdo.select(owner, nt.PARALLEL_1284_COMMAND(ID=0))
    assert status == nt.STATUS_INVALID_DEVICE_STATE
    assert lpt.fdo.owner is None and lpt.fdo.selection is None and not d0.selected


def _holding_with_own_select_queued(lpt: ParallelBus) -> tuple[Handle, Handle, nt.Irp]:
    """A port handle holding the port (granted after another handle's hold) with a SELECT of
    daisy 0 of its own queued behind; (the other handle, the holder, the queued SELECT)."""
    other = lpt.create_file(PORT)
    h = lpt.create_file(PORT)
    assert status(allocate(other)) == nt.STATUS_SUCCESS
    queued_allocate = allocate(h)
    queued_select = h.submit_internal_device_control(SELECT, command(0))
    assert not queued_allocate.done and not queued_select.done
    assert status(free(other)) == nt.STATUS_SUCCESS
    assert status(queued_allocate) == nt.STATUS_SUCCESS and not queued_select.done
    return other, h, queued_select


def test_a_handle_granted_its_own_queued_select_by_its_own_free_selects(
    lpt: ParallelBus,
) -> None:
    """A handle with a SELECT queued behind its own ALLOCATE: its FREE grants the port to that
    SELECT, a new hold of the same handle, which selects (the release's mark is for the hold it
    ends, not for the handle)."""
    d0, _ = _daisies(lpt)
    other, h, queued_select = _holding_with_own_select_queued(lpt)
    assert status(free(h)) == nt.STATUS_SUCCESS
    assert status(queued_select) == nt.STATUS_SUCCESS
    assert lpt.fdo.owner is h.file and d0.selected
    assert status(free(h)) == nt.STATUS_SUCCESS  # deselects (A27), frees
    assert lpt.fdo.owner is None and not d0.selected
    h.close()
    other.close()


@pytest.mark.parametrize("how", ["try_claim", "claim"])
def test_an_owner_taking_the_port_again_as_its_release_ends_can_select(
    lpt: ParallelBus, how: str
) -> None:
    """Another thread of the owner takes the freed port at the moment the release frees it
    (before the release has cleared its mark): that is a new hold, and it selects."""
    d0, _ = _daisies(lpt)
    owner = _Owner()
    answers: list[int] = []
    assert lpt.fdo.try_claim(owner) == nt.STATUS_SUCCESS

    def again() -> None:
        if how == "try_claim":
            answers.append(lpt.fdo.try_claim(owner, nt.PARALLEL_1284_COMMAND(ID=0)))
            return
        irp = nt.Irp(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
        assert lpt.fdo.claim(irp, owner)  # free: granted at once
        answers.append(lpt.fdo.select(owner, nt.PARALLEL_1284_COMMAND(ID=0)))

    def changed(new_owner: object) -> None:
        if new_owner is None and not answers:
            other = threading.Thread(target=again)
            other.start()
            other.join(30)

    lpt.fdo.arbiter.on_owner_change = changed
    assert lpt.fdo.release(owner) == nt.STATUS_SUCCESS
    lpt.fdo.arbiter.on_owner_change = None
    assert answers == [nt.STATUS_SUCCESS]
    assert lpt.fdo.owner is owner and d0.selected
    assert lpt.fdo.release(owner) == nt.STATUS_SUCCESS
    assert lpt.fdo.owner is None and not d0.selected


def _free_paused_in(
    name: str, lpt: ParallelBus, monkeypatch: pytest.MonkeyPatch
) -> tuple[threading.Event, threading.Event]:
    """The port's arbiter, its ``free`` pausing the thread called ``name`` on its way in:
    (set when that thread is there, set it to let the thread go on)."""
    arbiter = lpt.fdo.arbiter
    real_free = arbiter.free
    at_free, go = threading.Event(), threading.Event()

    def held_free(
        owner: object,
        hold: int | None = None,
        freed: Callable[[object, int], None] | None = None,
    ) -> bool:
        if threading.current_thread().name == name:
            at_free.set()
            assert go.wait(WAIT)
        return real_free(owner, hold, freed)

    monkeypatch.setattr(arbiter, "free", held_free)
    return at_free, go


def test_a_second_free_of_one_hold_frees_nothing_of_the_hold_after_it(
    lpt: ParallelBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two threads of one port handle FREE the same hold. The first to claim it frees it and
    grants the handle's own queued SELECT (a new hold, which selects); the other, which set out
    to end the same hold, ends nothing: it waits until the hold is over, then answers
    STATUS_INVALID_DEVICE_STATE, and the handle keeps the port and its selection (it used to
    free the new hold without deselecting, leaving daisy 0 selected on a free port)."""
    d0, _ = _daisies(lpt)
    other, h, queued_select = _holding_with_own_select_queued(lpt)
    at_free, go = _free_paused_in("first FREE", lpt, monkeypatch)
    claims = _Claims("second FREE")
    lpt.fdo._releasing = claims
    answers: dict[str, tuple[int, bool]] = {}

    def freeing() -> None:
        answer = status(free(h))
        answers[threading.current_thread().name] = (answer, go.is_set())

    first = threading.Thread(target=freeing, name="first FREE")
    first.start()
    assert at_free.wait(WAIT)  # it has looked at the wire (nothing selected) and is freeing
    second = threading.Thread(target=freeing, name="second FREE")
    second.start()
    assert claims.claimed["second FREE"].wait(WAIT)  # the second found the hold claimed
    assert not queued_select.done and lpt.fdo.owner is h.file
    go.set()
    first.join(WAIT)
    second.join(WAIT)
    assert answers["first FREE"] == (nt.STATUS_SUCCESS, True)
    assert answers["second FREE"] == (nt.STATUS_INVALID_DEVICE_STATE, True)  # after the first
    assert status(queued_select) == nt.STATUS_SUCCESS and d0.selected
    assert lpt.fdo.owner is h.file
    assert lpt.check() == []
    monkeypatch.undo()
    assert status(free(h)) == nt.STATUS_SUCCESS
    assert lpt.fdo.owner is None and not d0.selected
    h.close()
    other.close()


class _Locking(PortOwner):
    """An owner with a lock flag like a device's: set by each grant, cleared when it is told it
    lost the port. The first telling waits for ``go`` (a release in the middle of ending the
    hold)."""

    __slots__ = ("go", "locked", "telling", "told")
    notify_release = True

    def __init__(self) -> None:
        self.locked = False
        self.told = 0
        self.telling = threading.Event()
        self.go = threading.Event()

    def port_released(self) -> None:
        self.told += 1
        if self.told == 1:
            self.telling.set()
            assert self.go.wait(WAIT)
        self.locked = False


def test_a_release_of_a_hold_another_release_is_ending_neither_tells_nor_frees(
    lpt: ParallelBus,
) -> None:
    """Two threads of one owner release its hold at once. The second, arriving while the first
    is telling the owner it lost the port, ends nothing and tells nothing: it waits until the
    hold it saw is over (freed, the next grant made; not for what that grant runs), then
    answers STATUS_INVALID_DEVICE_STATE. The first frees and grants the owner's own waiting
    request, a new hold whose lock flag stays set (a second telling used to land on it)."""
    owner = _Locking()
    assert lpt.fdo.try_claim(owner) == nt.STATUS_SUCCESS
    owner.locked = True
    waiting = nt.Irp(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, LOCK)

    def granted(waiter: object) -> None:
        owner.locked = True
        waiting.complete(nt.STATUS_SUCCESS)

    assert not lpt.fdo.arbiter.allocate(waiting, owner, granted)
    claims = _Claims("second release")
    lpt.fdo._releasing = claims
    answers: dict[str, tuple[int, bool]] = {}
    hold = lpt.fdo.arbiter.holds

    def releasing() -> None:
        answer = lpt.fdo.release(owner)
        answers[threading.current_thread().name] = (answer, lpt.fdo.arbiter.holds > hold)

    first = threading.Thread(target=releasing, name="first release")
    first.start()
    assert owner.telling.wait(WAIT)
    second = threading.Thread(target=releasing, name="second release")
    second.start()
    assert claims.claimed["second release"].wait(WAIT)
    assert owner.told == 1 and lpt.fdo.owner is owner and not waiting.done
    owner.go.set()
    first.join(WAIT)
    second.join(WAIT)
    assert answers["first release"] == (nt.STATUS_SUCCESS, True)
    assert answers["second release"] == (nt.STATUS_INVALID_DEVICE_STATE, True)
    assert waiting.done and lpt.fdo.owner is owner and owner.locked
    assert owner.told == 1
    assert lpt.fdo.release(owner) == nt.STATUS_SUCCESS
    assert lpt.fdo.owner is None and not owner.locked and owner.told == 2


class _Claims(dict):  # type: ignore[type-arg]
    """The seam's claims, telling when each named thread claims a hold (``claimed[name]``: its
    claim is made, or it found the hold claimed); with ``pause``, the thread waits for ``go``
    before it claims."""

    def __init__(self, *names: str, pause: bool = False) -> None:
        super().__init__()
        self.claimed = {name: threading.Event() for name in names}
        self.pause = pause
        self.go = threading.Event()

    def setdefault(self, key: object, default: object = None) -> object:
        told = self.claimed.get(threading.current_thread().name)
        if told is None:
            return super().setdefault(key, default)
        if self.pause:
            told.set()
            assert self.go.wait(WAIT)
            return super().setdefault(key, default)
        try:
            return super().setdefault(key, default)
        finally:
            told.set()


def test_a_release_claiming_a_hold_that_ended_meanwhile_does_nothing(
    lpt: ParallelBus,
) -> None:
    """A release reads the owner's hold, and before it claims it another release of the owner
    ends that hold and the owner is granted the port again: the late release ends nothing
    (STATUS_INVALID_DEVICE_STATE) — the owner is not told, its new hold and lock flag stay."""
    owner = _Locking()
    owner.told = 1  # no telling blocks
    assert lpt.fdo.try_claim(owner) == nt.STATUS_SUCCESS
    owner.locked = True
    claims = _Claims("late release", pause=True)
    lpt.fdo._releasing = claims
    answers: list[int] = []
    late = threading.Thread(
        target=lambda: answers.append(lpt.fdo.release(owner)), name="late release"
    )
    late.start()
    assert claims.claimed["late release"].wait(WAIT)  # it has read the hold's number
    assert lpt.fdo.release(owner) == nt.STATUS_SUCCESS
    assert lpt.fdo.owner is None and not owner.locked and owner.told == 2
    assert lpt.fdo.try_claim(owner) == nt.STATUS_SUCCESS  # a new hold
    owner.locked = True
    claims.go.set()
    late.join(WAIT)
    assert answers == [nt.STATUS_INVALID_DEVICE_STATE]
    assert lpt.fdo.owner is owner and owner.locked and owner.told == 2
    assert lpt.fdo.release(owner) == nt.STATUS_SUCCESS
    assert lpt.fdo.owner is None and owner.told == 3


def test_a_close_racing_its_handles_freeport_returns_once_the_port_is_free(
    lpt: ParallelBus,
) -> None:
    """A port handle's FreePort callback runs in one thread (it is not under the handle's
    rundown) and the handle is closed in another while the callback's release deselects: the
    close's own release of that hold ends nothing, and the close returns only once the port is
    free and nothing is selected (it used to return with the port still the closed handle's)."""
    d0, _ = _daisies(lpt)
    h = lpt.create_file(PORT)
    info = nt.PARALLEL_PORT_INFORMATION.unpack(
        h.internal_device_control(
            nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO,
            output_length=nt.PARALLEL_PORT_INFORMATION.SIZE,
        ).output
    )
    free_port = h.callbacks.callable(info.FreePort)
    assert status(h.internal_device_control(SELECT, command(0))) == nt.STATUS_SUCCESS
    assert d0.selected
    claims = _Claims("FreePort", "close")
    lpt.fdo._releasing = claims
    seen: dict[str, object] = {}

    def close() -> None:
        h.close()
        seen["at close"] = (lpt.fdo.owner, d0.selected)

    with lpt.fdo.wire_lock:  # the FreePort's release waits here to deselect
        freeing = threading.Thread(
            target=lambda: seen.setdefault("FreePort", free_port(info.Context)), name="FreePort"
        )
        freeing.start()
        assert claims.claimed["FreePort"].wait(WAIT)
        closing = threading.Thread(target=close, name="close")
        closing.start()
        assert claims.claimed["close"].wait(WAIT)
        assert "at close" not in seen
    freeing.join(WAIT)
    closing.join(WAIT)
    assert seen["at close"] == (None, False)
    assert lpt.fdo.owner is None and not d0.selected and lpt.check() == []


def _end_of_chain_with_callbacks(
    lpt: ParallelBus,
) -> tuple[Handle, ParallelDevice, Callable[..., int], Callable[..., int], bytes]:
    """A handle on the end-of-chain device LPT1.4 with its PARCLASS callbacks: (the handle, the
    device, ParallelTryselect, ParallelDeSelect, the device's PARALLEL_1284_COMMAND)."""
    h = lpt.create_file("LPT1.4")
    device = lpt.lookup("LPT1.4")
    assert isinstance(device, ParallelDevice)
    info = nt.PARCLASS_INFORMATION.unpack(
        h.internal_device_control(
            nt.IOCTL_INTERNAL_PARCLASS_CONNECT, output_length=nt.PARCLASS_INFORMATION.SIZE
        ).output
    )
    try_select = h.callbacks.callable(info.ParallelTryselect)
    deselect = h.callbacks.callable(info.ParallelDeSelect)
    return h, device, try_select, deselect, device.command().pack()


@pytest.mark.parametrize(
    "code", [LOCK, nt.IOCTL_INTERNAL_LOCK_PORT_NO_SELECT], ids=["LOCK_PORT", "NO_SELECT"]
)
def test_a_lock_overtaken_by_a_release_of_its_devices_hold_leaves_nothing_locked(
    lpt: ParallelBus, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end-of-chain device holds the port through its ParallelTryselect; a LOCK_PORT on its
    handle finds the port the device's, and before it marks the lock the same handle's
    ParallelDeSelect, from another thread, releases the hold. The LOCK answers
    STATUS_UNSUCCESSFUL and leaves the device unlocked on the free port (it used to answer
    success with the device locked while it held nothing)."""
    h, device, try_select, deselect, command_bytes = _end_of_chain_with_callbacks(lpt)
    assert try_select(0, command_bytes) == nt.STATUS_SUCCESS and lpt.fdo.owner is device
    execute = device._execute
    answers: list[int] = []

    def deselect_first(irp: nt.Irp) -> None:
        other = threading.Thread(target=lambda: answers.append(deselect(0, command_bytes)))
        other.start()
        other.join(WAIT)
        execute(irp)

    monkeypatch.setattr(device, "_execute", deselect_first)
    assert status(h.internal_device_control(code)) == nt.STATUS_UNSUCCESSFUL
    monkeypatch.undo()
    assert answers == [nt.STATUS_SUCCESS]
    assert not device.locked and lpt.fdo.owner is None and lpt.check() == []
    assert status(h.internal_device_control(code)) == nt.STATUS_SUCCESS  # a lock as usual
    assert device.locked and lpt.fdo.owner is device
    assert status(h.internal_device_control(UNLOCK)) == nt.STATUS_SUCCESS
    assert not device.locked and lpt.fdo.owner is None
    h.close()


def test_a_callback_closing_the_handle_whose_request_runs_inline_does_not_hang(
    lpt: ParallelBus,
) -> None:
    """An UNLOCK_PORT runs in its caller's thread (the device's worker idle); its release grants
    another handle's waiting ALLOCATE, whose completion callback — in that same thread — closes
    the unlocking handle. The close does not wait for the device's worker to finish the turn
    this thread is taking (it waited for ever): the UNLOCK returns, and the device's cleanup
    runs when the turn ends."""
    d0, _ = _daisies(lpt)
    device_handle, port_handle = lpt.create_file("LPT1.0"), lpt.create_file(PORT)
    device = lpt.lookup("LPT1.0")
    assert isinstance(device, ParallelDevice)
    assert status(device_handle.internal_device_control(LOCK)) == nt.STATUS_SUCCESS
    waiting = allocate(port_handle)
    waiting.add_done_callback(lambda irp: device_handle.close())
    answers: list[int] = []
    unlocking = threading.Thread(
        target=lambda: answers.append(status(device_handle.internal_device_control(UNLOCK)))
    )
    unlocking.start()
    unlocking.join(WAIT)
    assert not unlocking.is_alive(), "the UNLOCK never returned"
    assert answers == [nt.STATUS_SUCCESS] and status(waiting) == nt.STATUS_SUCCESS
    assert device_handle.closed and lpt.fdo.owner is port_handle.file and not d0.selected
    until(lambda: device.work.stopped, "the closed device's worker stopped")
    assert not device.locked and lpt.check() == []
    assert status(free(port_handle)) == nt.STATUS_SUCCESS
    port_handle.close()


def test_a_tryselect_while_a_deselect_ends_the_devices_hold_leaves_nothing_locked(
    lpt: ParallelBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The end-of-chain device holds the port through ParallelTryselect. Its ParallelDeSelect,
    in another thread, has told the device it lost the port and is freeing it (nothing on the
    wire, so not under the wire lock) when another ParallelTryselect comes: that one succeeds —
    the device already holds the port — but leaves no lock flag behind, and the DeSelect frees
    the port (it left the device locked on a port it no longer held)."""
    h, device, try_select, deselect, command_bytes = _end_of_chain_with_callbacks(lpt)
    assert try_select(0, command_bytes) == nt.STATUS_SUCCESS and device.locked
    freeing, go = _free_paused_in("DeSelect", lpt, monkeypatch)
    answers: list[int] = []
    other = threading.Thread(
        target=lambda: answers.append(deselect(0, command_bytes)), name="DeSelect"
    )
    other.start()
    assert freeing.wait(WAIT) and not device.locked
    assert try_select(0, command_bytes) == nt.STATUS_SUCCESS
    assert not device.locked
    go.set()
    other.join(WAIT)
    assert answers == [nt.STATUS_SUCCESS]
    assert lpt.fdo.owner is None and not device.locked and lpt.check() == []
    h.close()
