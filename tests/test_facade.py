"""The Pythonic facade (design.md §5), the exception tree, and the demo."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest

import parport
from parport import nt
from parport.hw.emu import Fault


def test_contract_names() -> None:
    with parport.open("emu:") as bus:
        assert "LPT1.0" in bus.names() and "\\Device\\ParallelPort0" in bus.names()
        h = bus.create_file("LPT1.0")
        r = h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT)
        assert (r.status, r.information, r.output) == (nt.STATUS_SUCCESS, 0, b"")
        irp = h.submit_internal_device_control(nt.IOCTL_INTERNAL_UNLOCK_PORT)
        result = irp.wait(timeout=30)
        assert result is not None and result.status == nt.STATUS_SUCCESS and irp.done
        assert not irp.cancel()
        h.close()
        chain = bus.hardware.chain  # type: ignore[attr-defined]
        assert [d.kind for d in chain] == ["daisy", "daisy", "printer"]
        assert (chain[0].selected, chain[0].address) == (False, 0)
        assert isinstance(chain[2].received, bytearray) and "MFG:" in chain[2].device_id


def test_device_facade_lock_write_read_id() -> None:
    with parport.open("emu:") as bus:
        d0 = bus.hardware.chain[0]  # type: ignore[attr-defined]
        with bus.device("LPT1.0") as dev:
            with dev.locked():
                assert d0.selected
                assert dev.write(b"job") == 3
            assert not d0.selected
            assert dev.device_id.startswith("MFG:Parport;MDL:Daisy Device 0;")
            assert dev.location == "LPT1.0"
            assert dev.status == nt.PARALLEL_SELECTED
        printer = bus.hardware.chain[2]  # type: ignore[attr-defined]
        printer.queue_reverse(b"pong")
        with bus.device("\\\\.\\LPT1.4") as dev:
            assert dev.read(10) == b"pong"
            assert dev.negotiate(parport.Mode.ECP) == (nt.ECP_HW_NOIRQ, nt.ECP_HW_NOIRQ)
            assert dev.modes == (nt.ECP_HW_NOIRQ, nt.ECP_HW_NOIRQ)
            assert dev.write(b"fast") == 4
            dev.negotiate(parport.Mode.COMPATIBILITY, parport.Mode.NIBBLE)
            assert dev.modes == (nt.IEEE_COMPATIBILITY, nt.NIBBLE)
            dev.reset()


def test_port_facade() -> None:
    with parport.open("emu:chain=printer") as bus:
        port = bus.port
        assert port is bus.port
        with port.allocated(timeout=10):
            assert port.owned
            assert port.waiters == 0
            other = bus.create_file("\\Device\\ParallelPort0")
            queued = other.submit_internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
            assert port.waiters == 1
        assert not port.owned
        assert queued.wait(10).status == nt.STATUS_SUCCESS  # type: ignore[union-attr]
        assert not port.try_allocate()
        other.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE)
        assert port.try_allocate()
        port.free()
        with pytest.raises(parport.InvalidDeviceStateError) as error:
            port.free()
        assert error.value.status == nt.STATUS_INVALID_DEVICE_STATE


def test_exceptions_carry_the_status_and_the_builtin() -> None:
    with parport.open("emu:chain=printer", timer_start_s=2) as bus:
        dev = bus.device("LPT1.4")
        with pytest.raises(parport.AccessDeniedError) as denied:
            bus.device("LPT1.4")
        assert isinstance(denied.value, PermissionError)
        assert isinstance(denied.value, parport.ParportError)
        assert denied.value.status == nt.STATUS_ACCESS_DENIED
        bus.hardware.inject(Fault.PAPER_OUT, 0, after_bytes=3)  # type: ignore[attr-defined]
        with pytest.raises(parport.PrinterError) as paper:
            dev.write(b"abcdef")
        assert paper.value.status == nt.STATUS_DEVICE_PAPER_EMPTY
        assert paper.value.information == 3  # the partial count
        assert isinstance(paper.value, OSError)
        port = bus.port
        port.allocate()
        busy = threading.Thread(target=lambda: None)
        busy.start()
        write = dev.handle.submit_write(b"x")
        bus.driver.fdo.arbiter.wait_for(lambda a: a.query_num_waiters() == 1, 30)
        bus.hardware.sleep(2_000_001)
        result = write.wait(30)
        assert result is not None
        error = nt.NtStatusError.from_status(result.status)
        assert isinstance(error, parport.DeviceBusyError) and isinstance(error, BlockingIOError)
        busy.join()
        with pytest.raises(parport.DeviceRemovedError):
            bus.device("LPT7")
        dev.close()
    assert issubclass(parport.IoTimeoutError, TimeoutError)
    assert issubclass(parport.InvalidParameterError, ValueError)
    assert issubclass(parport.NotSupportedError, NotImplementedError)
    assert isinstance(nt.NtStatusError.from_status(0xC0001234), parport.NtStatusError)
    with pytest.raises(parport.ParportError, match="start one with: parportd"):
        parport.connect("/nonexistent/parportd.sock")  # no daemon there: one line, what to do


def test_open_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARPORT_PORT", "emu:chain=zip+printer")
    with parport.open(legacy_zip=True) as bus:
        assert bus.devices == ["LPT1", "LPT1.4", "LPT1.5"]


def test_demo_shows_the_story_and_writes_a_trace(tmp_path: Path) -> None:
    from parport.demo import run

    out = io.StringIO()
    vcd = tmp_path / "demo.vcd"
    assert run(out, vcd=str(vcd)) == 0
    text = out.getvalue()
    assert "LPT1.0" in text and "MFG:Acme;MDL:EmuPrinter 1;" in text
    assert "QueryNumWaiters = 2" in text
    held = [line.split()[0] for line in text.splitlines() if "(held " in line]
    assert held == ["A", "B", "C"]  # in arrival order
    assert "b'[label job]'" in text and "b'[printer page]\\x0c'" in text
    assert vcd.stat().st_size > 1000
