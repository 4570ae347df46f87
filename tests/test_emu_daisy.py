"""IEEE 1284.3 daisy-chain devices driven with the Linux and Windows CPP sequences (§4.2–§4.5)."""

from __future__ import annotations

import pytest

from emu_helpers import make_port, status_low
from hostseq import (
    assign_addresses_linux,
    compat_write,
    cpp_linux,
    cpp_windows,
    negotiate,
    read_nibble,
    terminate,
)
from parport.hw.emu import DaisyDevice, EmulatedPort, daisy_device_id, device_id_stream
from parport.hw.handshake import WAIT, cpp_frame
from parport.ieee1284 import dot3


def _daisies(port: EmulatedPort) -> list[DaisyDevice]:
    return [d for d in port.chain if isinstance(d, DaisyDevice)]


@pytest.mark.parametrize("count", [1, 2, 4])
def test_frame_statuses_and_assignment(count: int) -> None:
    port = make_port(*(["daisy"] * count), "printer")
    assert assign_addresses_linux(port) == count
    assert [d.address for d in _daisies(port)] == list(range(count))
    printer = port.chain[-1]
    assert bytes(printer.received) == b""  # the address strobes never reach the printer


@pytest.mark.parametrize("cpp", [cpp_linux, cpp_windows])
def test_s1_s2_s3_through_the_frame(cpp) -> None:  # type: ignore[no-untyped-def]
    port = make_port("daisy", "daisy", "printer")
    assign_addresses_linux(port)
    result = cpp(port, 0x30)
    s = [x & 0xF8 for x in result.statuses]
    idle = 0xD8  # AA 55 00 go by transparently: the printer's own status
    assert s[:3] == [idle, idle, idle]
    assert s[3] & 0xB8 == 0xB8  # S1 after FF
    assert s[4] & 0xB8 == 0x18  # S2 after 87
    assert s[5] & 0xB8 == 0xB0  # S3 after 78: not the last device (Busy pin L), deselected
    assert result.ok
    assert status_low(port) == idle  # after FF: transparent again


def test_s3_busy_pin_high_at_the_last_device() -> None:
    port = make_port("daisy", "printer")
    assign_addresses_linux(port)
    result = cpp_linux(port, 0x30)
    assert result.statuses[5] & 0xB8 == 0x30  # last device: Busy pin H


def test_windows_select_polls_until_nfault_high_and_deselect_until_low() -> None:
    port = make_port("daisy", "daisy", "printer")
    d0, d1 = _daisies(port)
    assign_addresses_linux(port)
    result = cpp_windows(port, 0xE1)
    assert result.ok
    assert result.response is not None and result.response & 0x08
    assert d1.selected and not d0.selected
    assert port.selected_address == 1
    result = cpp_windows(port, 0x30)
    assert result.ok
    assert result.response is not None and not result.response & 0x08
    assert not d1.selected


def test_linux_select_reads_the_old_level_one_microsecond_into_the_strobe() -> None:
    port = make_port("daisy", "daisy", "printer")
    d0, _ = _daisies(port)
    assign_addresses_linux(port)
    cpp_linux(port, 0x30)
    result = cpp_linux(port, 0xE0)
    assert result.response is not None
    assert not result.response & 0x08  # nFault still L: Linux counts this as success
    assert d0.selected  # after the latency the device did select
    assert status_low(port) == 0xD8  # now its own function answers (a compat peripheral)


@pytest.mark.parametrize("latency_us", [0, 3, 20])
def test_select_latency_is_configurable(latency_us: float) -> None:
    port = EmulatedPort(
        [DaisyDevice("d", "MFG:A;MDL:B;", select_latency_ns=round(latency_us * 1000))]
    )
    port.write_ecr(0x34)
    assign_addresses_linux(port)
    result = cpp_linux(port, 0xE0)
    # Linux sees the new level only when the device answers within its 1 µs window.
    assert result.response is not None
    assert bool(result.response & 0x08) is (latency_us == 0)
    windows = cpp_windows(port, 0x30)
    assert windows.ok


def test_selected_device_is_the_target_and_the_rest_is_cut_off() -> None:
    port = make_port("daisy", "daisy", "printer")
    d0, d1 = _daisies(port)
    printer = port.chain[-1]
    assign_addresses_linux(port)
    assert cpp_windows(port, 0xE1).ok
    assert compat_write(port, b"to d1") == 5
    assert bytes(d1.received) == b"to d1"
    assert bytes(d0.received) == b""
    assert bytes(printer.received) == b""
    assert cpp_windows(port, 0x30).ok
    assert compat_write(port, b"to printer") == 10
    assert bytes(printer.received) == b"to printer"
    assert bytes(d1.received) == b"to d1"


def test_device_id_of_a_selected_daisy_device() -> None:
    port = make_port("daisy", "daisy", "printer")
    assign_addresses_linux(port)
    for address in (0, 1):
        cpp_linux(port, 0x30)
        cpp_linux(port, 0xE0 | address)
        assert negotiate(port, 0x04).result == 0
        assert read_nibble(port, 500) == device_id_stream(daisy_device_id(address))
        terminate(port)
    cpp_linux(port, 0x30)
    assert negotiate(port, 0x04).result == 0  # deselected: the printer answers
    assert read_nibble(port, 500)[2:].startswith(b"MFG:Acme;")
    terminate(port)


def test_global_reset_forgets_addresses_and_selection() -> None:
    port = make_port("daisy", "daisy", "printer")
    d0, d1 = _daisies(port)
    assign_addresses_linux(port)
    cpp_windows(port, 0xE1)
    assert d1.selected
    port.write_control(0x08)  # nInit L, nSelectIn L
    port.sleep(50)
    port.write_control(0x0C)
    assert (d0.address, d1.address, d0.selected, d1.selected) == (None, None, False, False)
    assert port.selected_address is None
    assert cpp_windows(port, 0xE0).ok is False  # nobody has address 0 any more


def test_ninit_low_with_1284_active_is_not_a_reset() -> None:
    port = make_port("daisy", "printer")
    (d0,) = _daisies(port)
    assign_addresses_linux(port)
    port.write_control(0x00)  # nInit L, nSelectIn H (an ECP reverse request, an EPP reset)
    port.write_control(0x04)
    assert d0.address == 0


def test_strobed_printer_data_that_looks_like_a_frame_is_printed() -> None:
    port = make_port("daisy", "printer")
    printer = port.chain[-1]
    data = bytes([0xAA, 0x55, 0x00, 0xFF, 0x87, 0x78, 0xE0, 0xFF])
    assert compat_write(port, data) == len(data)
    assert bytes(printer.received) == data
    assert port.selected_address is None


def test_unknown_commands_change_nothing() -> None:
    port = make_port("daisy", "printer")
    (d0,) = _daisies(port)
    assign_addresses_linux(port)
    for command in (0x08, 0x40, 0x48, 0x50, 0x58):
        assert cpp_windows(port, command).ok
    assert not d0.selected
    assert list(d0.frames)[-5:] == [0x08, 0x40, 0x48, 0x50, 0x58]


def test_incomplete_frame_restarts_the_recogniser() -> None:
    port = make_port("daisy", "printer")
    (d0,) = _daisies(port)
    assign_addresses_linux(port)
    port.write_control(0x0C)
    for byte in (0xAA, 0x55, 0x00, 0x12):  # a wrong byte: back to idle
        port.write_data(byte)
    assert status_low(port) == 0xD8
    assert cpp_linux(port, 0xE0).ok
    assert d0.selected


def test_select_mode_flavours() -> None:
    port = make_port("daisy", "printer")
    (d0,) = _daisies(port)
    assign_addresses_linux(port)
    for command, mode in ((0xD0, "ecp"), (0x20, "epp"), (0x28, "epp"), (0xE0, "compat")):
        cpp_linux(port, 0x30)
        cpp_linux(port, command)
        assert d0.selected
        assert d0.select_mode == mode


def test_deselect_during_a_selects_latency_still_deselects() -> None:
    """A DESELECT that comes while an earlier SELECT is still within its latency wins: the
    device ends deselected (the select lands first, then the deselect)."""
    port = make_port("daisy", "printer")
    dot3.assign_addresses(port)
    daisy = port.chain[0]
    assert isinstance(daisy, DaisyDevice)
    daisy.select_latency_ns = 100_000
    no_answer = tuple(step for step in cpp_frame(0xE0) if step[:3] != (WAIT, 0x08, 0x08))
    port.run_script(no_answer)
    port.run_script(cpp_frame(0x30))
    assert not daisy.selected  # not yet: the select's latency has not passed
    port.sleep(300)
    assert not daisy.selected and list(daisy.frames)[-2:] == [0xE0, 0x30]
