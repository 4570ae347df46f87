"""The facade's answers to waits that end and to bad input: a ``timeout=`` that passes raises
IoTimeoutError naming the operation and the time waited; wrong argument types and values name
the argument; the values it returns print by name."""

from __future__ import annotations

import gc

import pytest

import parport
from parport import nt

WAIT = 30.0


@pytest.fixture
def bus() -> parport.Bus:
    with parport.open("emu:clock=manual") as opened:
        yield opened


def test_a_write_that_times_out_raises_io_timeout_error(bus: parport.Bus) -> None:
    holder = bus.device("LPT1.0")
    holder.lock()
    printer = bus.device("LPT1.4")
    with pytest.raises(
        parport.IoTimeoutError, match=r"write to LPT1\.4: not done after 0\.2 s"
    ) as err:
        printer.write(b"x", timeout=0.2)
    assert isinstance(err.value, TimeoutError) and err.value.information == 0
    assert err.value.status == nt.STATUS_IO_TIMEOUT
    holder.unlock()
    assert printer.write(b"x", timeout=WAIT) == 1


def test_allocated_times_out_with_io_timeout_error(bus: parport.Bus) -> None:
    device = bus.device("LPT1.0")
    with (
        device.locked(),
        pytest.raises(TimeoutError, match=r"allocate .*0\.1 s"),
        bus.port.allocated(timeout=0.1),
    ):
        pass
    assert not bus.port.owned


def test_a_lock_that_times_out(bus: parport.Bus) -> None:
    with bus.port.allocated(), pytest.raises(parport.IoTimeoutError, match=r"lock LPT1\.1"):
        bus.device("LPT1.1").lock(timeout=0.1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: parport.open(0), "spec must be a str"),
        (lambda b: b.create_file(None), "a device name must be a str"),
        (lambda b: b.device(4), "a device name must be a str"),
        (lambda b: b.create_file(r"\Device\ParallelPort0").device_control("x"), "IOCTL code"),
        (
            lambda b: b.create_file(r"\Device\ParallelPort0").device_control(0, b"", "4"),
            "output_length must be an int",
        ),
        (lambda b: b.device("LPT1.4").negotiate("ECP"), "forward must be a mode"),
        (lambda b: b.device("LPT1.4").read("8"), "length must be an int"),
        (lambda b: b.device("LPT1.4").write("text"), "data must be bytes"),
        (lambda b: b.device("LPT1.4").write(b"x", timeout="1"), "timeout must be a number"),
        (lambda b: parport.open("emu:", max_daisies=1), "unknown bus option 'max_daisies'"),
    ],
)
def test_wrong_argument_types_name_the_argument(
    bus: parport.Bus, call: object, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        call(bus)  # type: ignore[operator]


def test_a_negative_timeout_is_refused(bus: parport.Bus) -> None:
    with pytest.raises(ValueError, match="timeout must be >= 0"):
        bus.device("LPT1.4").write(b"x", timeout=-1)


def test_spec_errors_are_parport_errors_and_value_errors() -> None:
    for spec in ("", "emu:fifo=abc", "emu:access_ns=-1", "nosuch:"):
        with pytest.raises(parport.SpecError) as err:
            parport.open(spec)
        assert isinstance(err.value, parport.ParportError) and isinstance(err.value, ValueError)
    with pytest.raises(parport.SpecError, match="fifo"):
        parport.open("emu:fifo=abc")


def test_values_print_by_name(bus: parport.Bus) -> None:
    modes = {mode.name for mode in parport.Mode}
    assert {
        "CENTRONICS",
        "NIBBLE",
        "BYTE_BIDIR",
        "EPP_HW",
        "EPP_SW",
        "ECP_HW_NOIRQ",
        "ECP_SW",
    } <= modes
    printer = bus.device("LPT1.4")
    forward, reverse = printer.modes
    assert (forward.name, reverse.name) == ("CENTRONICS", "NIBBLE")
    chosen = printer.negotiate(parport.Mode.ECP)
    assert all(isinstance(m, parport.Mode) for m in chosen)
    assert "ECP" in repr(chosen[0])
    status = printer.status
    assert isinstance(status, parport.DeviceStatus) and "SELECTED" in repr(status)


def test_a_closed_bus_and_handle_say_so(bus: parport.Bus) -> None:
    device = bus.device("LPT1.4")
    device.close()
    with pytest.raises(parport.ParportError, match="closed"):
        device.write(b"x")
    bus.close()
    with pytest.raises(parport.ParportError, match="closed"):
        bus.device("LPT1.4")


def test_status_after_an_ecp_session_is_the_printers(bus: parport.Bus) -> None:
    printer = bus.device("LPT1.4")
    printer.negotiate(parport.Mode.ECP)
    printer.write(b"in ECP")
    status = printer.status
    assert parport.DeviceStatus.PAPER_EMPTY not in status
    assert str(status) == "SELECTED"


def test_a_parportd_spec_goes_through_the_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(parport.ParportError, match="start one with: parportd"):
        parport.open("parportd:/nonexistent/parportd.sock")
    monkeypatch.setenv("PARPORT_PORT", "parportd:/nonexistent/parportd.sock")
    with pytest.raises(ConnectionError, match="no parportd is running"):
        parport.open()
    with pytest.raises(TypeError, match="stands alone"):
        parport.open("parportd:", max_daisy=1)


def test_a_locked_device_dropped_unclosed_gives_the_port_back() -> None:
    """The bus remembers which device a thread locked (for pin calls inside the lock) without
    keeping it alive: a locked Device the program drops is closed as garbage, lock and all."""
    with parport.open("emu:clock=manual") as bus:

        def lock_and_forget() -> None:
            bus.device("LPT1.0").lock()

        with pytest.warns(ResourceWarning, match="unclosed parport handle LPT1.0"):
            lock_and_forget()
            gc.collect()
        with bus.port.allocated(timeout=30):
            assert bus.holder() is None
            assert not bus.hardware.chain[0].selected
        assert bus.driver.check() == []
