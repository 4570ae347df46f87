"""Bus enumeration and naming (windows-parport.md §2.2, §2.4; Part A A10), the I/O manager."""

from __future__ import annotations

import pytest

from driver_helpers import PORT, allocate, bus, emu, free
from parport import nt
from parport.driver import DeviceObject, IoManager
from parport.hw.emu import DaisyDevice, Fault, Printer


def test_windows_example_names() -> None:
    b = bus("emu:")
    assert b.names() == [
        "\\Device\\Parallel0",
        "\\Device\\Parallel0.0",
        "\\Device\\Parallel0.1",
        "\\Device\\Parallel0.4",
        "\\Device\\ParallelPort0",
        "LPT1",
        "LPT1.0",
        "LPT1.1",
        "LPT1.4",
    ]
    kinds = {d.location: d.kind.name for d in b.devices}
    assert kinds == {
        "LPT1": "RAW",
        "LPT1.0": "DAISY_CHAIN",
        "LPT1.1": "DAISY_CHAIN",
        "LPT1.4": "END_OF_CHAIN",
    }
    raw = b.lookup("LPT1")
    assert raw is not None and raw.device_id.text == "MFG:Microsoft;MDL:RawPort;"  # type: ignore[attr-defined]
    assert b.fdo.arbiter.owner is None  # the scan gave the port back
    assert emu(b).selected_address is None
    b.close()


@pytest.mark.parametrize(
    ("spec", "locations"),
    [
        ("emu:chain=printer", ["LPT1", "LPT1.4"]),
        ("emu:chain=", ["LPT1"]),
        ("emu:chain=daisy", ["LPT1", "LPT1.0"]),
        ("emu:chain=zip+printer", ["LPT1", "LPT1.4"]),
        ("emu:chain=loopback", ["LPT1"]),
    ],
)
def test_chains(spec: str, locations: list[str]) -> None:
    b = bus(spec)
    assert [d.location for d in b.devices] == locations
    b.close()


def test_legacy_zip_when_enabled() -> None:
    b = bus("emu:chain=zip+printer", legacy_zip=True)
    assert [d.location for d in b.devices] == ["LPT1", "LPT1.4", "LPT1.5"]
    zip_device = b.lookup("LPT1.5")
    assert zip_device is not None and zip_device.name == "\\Device\\Parallel0.5"
    assert zip_device.device_id.text == "MFG:IMG;MDL:VP0;"  # type: ignore[attr-defined]
    assert not emu(b).chain[0].connected  # type: ignore[attr-defined]
    b.close()


@pytest.mark.parametrize(
    ("max_daisy", "expected"), [(0, []), (1, [0]), (2, [0, 1]), (4, [0, 1, 2, 3])]
)
def test_daisy_limit_option(max_daisy: int, expected: list[int]) -> None:
    b = bus("emu:chain=daisy+daisy+daisy+daisy+printer", max_daisy=max_daisy)
    assert [d.daisy_id for d in b.devices if d.daisy_id is not None] == expected
    assert b.fdo.daisy_count == len(expected)
    b.close()
    with pytest.raises(ValueError):
        bus("emu:", max_daisy=5)


def test_devices_need_mfg_and_mdl() -> None:
    b = bus("emu:chain=")
    port = emu(b)
    port.cable.plug(DaisyDevice("x", "MFG:OnlyMaker;"), Printer("p", "MDL:OnlyModel;"))
    result = b.rescan()
    assert result.scanned and not result.changed
    assert [d.location for d in b.devices] == ["LPT1"]
    b.close()


def test_a_rescan_with_a_bad_timeout_scans_nothing() -> None:
    """A rescan's timeout is checked before the scan starts: a string or NaN raises and the
    unplugged printer stays listed; infinity waits without limit and the scan sees it gone."""
    b = bus("emu:chain=daisy+printer")
    port = emu(b)
    port.inject(Fault.UNPLUG, port.chain[1])
    with pytest.raises(TypeError, match="timeout"):
        b.rescan(timeout="1")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout"):
        b.rescan(timeout=float("nan"))
    assert "LPT1.4" in b.names()
    result = b.rescan(timeout=float("inf"))
    assert (result.scanned, result.removed) == (True, ["LPT1.4"])
    b.close()


def test_rescan_reports_added_and_removed() -> None:
    b = bus("emu:chain=daisy+printer")
    port = emu(b)
    assert b.rescan().changed is False
    port.inject(Fault.UNPLUG, port.chain[1])
    result = b.rescan()
    assert (result.scanned, result.removed, result.added) == (True, ["LPT1.4"], [])
    assert "LPT1.4" not in b.names()
    port.cable.plug(Printer("new", "MFG:New;MDL:One;"))
    result = b.rescan()
    assert result.added == ["LPT1.4"]
    assert b.lookup("LPT1.4").device_id.model == "One"  # type: ignore[union-attr]
    b.close()


def test_disabled_end_of_chain_rescan_keeps_the_device() -> None:
    b = bus("emu:chain=printer")
    h = b.create_file(PORT)
    h.internal_device_control(nt.IOCTL_INTERNAL_DISABLE_END_OF_CHAIN_BUS_RESCAN)
    emu(b).inject(Fault.UNPLUG, 0)
    assert not b.rescan().changed
    h.internal_device_control(nt.IOCTL_INTERNAL_ENABLE_END_OF_CHAIN_BUS_RESCAN)
    assert b.rescan().removed == ["LPT1.4"]
    b.close()


def test_rescan_waits_for_the_port_and_gives_up_after_two_seconds() -> None:
    b = bus("emu:chain=printer")
    h = b.create_file(PORT)
    allocate(h)
    pending = b.rescan(timeout=0)
    assert not pending.done.is_set()
    assert b.fdo.arbiter.query_num_waiters() == 1  # the scan's request is a waiter
    free(h)  # granted: the scan runs in the freeing thread
    assert pending.done.is_set() and pending.scanned
    allocate(h)
    late = b.rescan(timeout=0)
    emu(b).sleep(2_000_001)  # two seconds of the port's clock
    assert late.done.is_set() and not late.scanned
    assert b.fdo.arbiter.owner is h.file
    b.close()


def test_create_file_rules() -> None:
    b = bus("emu:")
    first = b.create_file("LPT1.0")
    for name in ("\\\\.\\LPT1.0", "\\Device\\Parallel0.0", "lpt1.0", "\\DosDevices\\LPT1.0:"):
        with pytest.raises(nt.AccessDeniedError) as denied:
            b.create_file(name)
        assert denied.value.status == nt.STATUS_ACCESS_DENIED
    first.close()
    again = b.create_file("\\\\.\\LPT1.0")
    again.close()
    with pytest.raises(nt.NtStatusError) as error:
        b.create_file("LPT1.0", nt.FILE_DIRECTORY_FILE)
    assert error.value.status == nt.STATUS_NOT_A_DIRECTORY
    with pytest.raises(nt.DeviceRemovedError) as missing:
        b.create_file("LPT9")
    assert missing.value.status == nt.STATUS_NO_SUCH_DEVICE
    b.close()
    with pytest.raises(nt.NtStatusError):
        b.create_file("LPT1")


def test_name_collisions_get_a_suffix() -> None:
    iomgr = IoManager()
    first = iomgr.register(DeviceObject("\\Device\\Parallel0.4"), ["LPT1.4"])
    second = iomgr.register(DeviceObject("\\Device\\Parallel0.4"), ["LPT1.4"])
    assert (first.name, first.symlinks) == ("\\Device\\Parallel0.4", ["LPT1.4"])
    assert (second.name, second.symlinks) == ("\\Device\\Parallel0.4-1", ["LPT1.4-1"])
    for _ in range(8):
        iomgr.register(DeviceObject("\\Device\\Parallel0.4"), ["LPT1.4"])
    with pytest.raises(nt.NtStatusError) as error:
        iomgr.register(DeviceObject("\\Device\\Parallel0.4"), [])
    assert error.value.status == nt.STATUS_OBJECT_NAME_COLLISION


def test_removed_device_answers_device_removed() -> None:
    b = bus("emu:chain=printer")
    h = b.create_file("LPT1.4")
    emu(b).inject(Fault.UNPLUG, 0)
    b.rescan()
    result = h.device_control(nt.IOCTL_PAR_QUERY_LOCATION, output_length=16)
    assert (result.status, result.information) == (nt.STATUS_DEVICE_REMOVED, 0)
    h.close()
    b.close()


def test_bus_close_releases_everything() -> None:
    b = bus("emu:")
    h = b.create_file(PORT)
    allocate(h)
    b.close()
    b.close()
    assert h.closed
    assert b.fdo.arbiter.owner is None
    assert emu(b).closed
