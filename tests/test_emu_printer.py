"""The end-of-chain printer driven with the exact host sequences of ieee1284.md §2–§3."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emu_helpers import make_port, status_low
from hostseq import (
    compat_write,
    negotiate,
    read_byte_mode,
    read_nibble,
    terminate,
    terminate_epp,
)
from parport.hw.emu import Fault, Ieee1284Peripheral, Printer, device_id_stream

PRINTER_ID = Printer.DEFAULT_ID


def test_idle_status_of_a_healthy_printer() -> None:
    port = make_port("printer")
    assert status_low(port) == 0xD8
    assert port.read_status() == 0xDE  # vendor bits 2:1 read 1, EPP timeout clear


def test_compat_strobe_step_by_step() -> None:
    port = make_port("printer", access_ns=0)
    printer = port.chain[0]
    port.write_control(0x0C)
    port.write_data(0x41)
    assert status_low(port) == 0xD8  # ready: Busy L, nFault H
    port.write_control(0x0D)  # nStrobe L: the byte is latched, Busy goes high at once
    assert status_low(port) == 0x58
    port.write_control(0x0C)
    port.sleep(1)  # after busy_ns: nAck pulse low
    assert status_low(port) == 0x18
    port.sleep(0.5)  # after the pulse: nAck H, Busy L
    assert status_low(port) == 0xD8
    assert bytes(printer.received) == b"A"


def test_compat_write_linux_sequence_and_virtual_time() -> None:
    port = make_port("printer")
    payload = bytes(range(256))
    start = port.now()
    assert compat_write(port, payload) == 256
    assert bytes(port.chain[0].received) == payload
    elapsed = port.now() - start
    # 3 register writes + 3 µs of delays + the status poll per byte, never instant, never stuck.
    assert 256 * 6 <= elapsed <= 256 * 12


@pytest.mark.parametrize(
    ("fault", "register"),
    [
        (Fault.PAPER_OUT, 0x30),  # PError H, Select H, Busy H, nFault L
        (Fault.OFF_LINE, 0x48),  # Busy H, nFault H, Select L
        (Fault.ERROR, 0x50),  # Busy H, Select H, nFault L
        (Fault.POWER_OFF, 0x80),  # everything low
        (Fault.STUCK_BUSY, 0x58),
    ],
)
def test_fault_status(fault: Fault, register: int) -> None:
    port = make_port("printer")
    port.inject(fault)
    assert status_low(port) == register | 0x40 * (fault is not Fault.POWER_OFF)
    # A compatibility write stops at once: the short count is 0.
    assert compat_write(port, b"x", timeout_us=1000) == 0
    port.chain[0].clear(fault)
    assert status_low(port) == 0xD8
    assert compat_write(port, b"x") == 1


def test_no_cable_reads_floating_lines() -> None:
    port = make_port()
    assert status_low(port) == 0x78  # Busy pin H, nAck, PError, Select, nFault H
    assert port.read_data() == 0x00  # forward: the latch


@pytest.mark.parametrize(
    ("request_byte", "accepted", "xflag"),
    [
        (0x00, True, False),  # nibble: mandatory, XFlag low
        (0x01, True, True),  # byte
        (0x04, True, True),  # device ID, nibble
        (0x05, True, True),  # device ID, byte
        (0x10, True, True),  # ECP
        (0x14, True, True),
        (0x30, True, True),  # ECP + RLE
        (0x34, True, True),
        (0x40, True, True),  # EPP
        (0x80, True, True),  # extensibility link
        (0x02, False, False),  # reserved
        (0x08, False, False),
        (0x41, False, False),  # contradictory
    ],
)
def test_negotiation_request_table(request_byte: int, accepted: bool, xflag: bool) -> None:
    port = make_port("printer")
    printer = port.chain[0]
    result = negotiate(port, request_byte)
    assert result.event2 is not None
    assert result.event2 & 0x78 == 0x38  # event 2: PError, Select, nFault H; nAck L
    assert result.event6 is not None and result.event6 & 0x40  # event 6: nAck H
    assert result.xflag is xflag
    assert (result.result == 0) is accepted
    assert printer.negotiations == [request_byte]
    if accepted and request_byte == 0x40:
        terminate_epp(port)
    elif accepted:
        terminate(port)
    assert printer.phase == "compatibility"
    assert status_low(port) == 0xD8


def test_termination_events() -> None:
    port = make_port("printer")
    assert negotiate(port, 0x04).result == 0
    at24, at27 = terminate(port)
    assert at24 is not None and not at24 & 0x40  # event 24: nAck L
    assert at24 & 0x10 == 0  # XFlag inverted (it was H for the device-ID request)
    assert at24 & 0x80 == 0  # event 23: Busy H
    assert at27 is not None and at27 & 0xF8 == 0xD8  # events 26, 27: compatibility lines


def test_device_id_in_nibble_mode() -> None:
    port = make_port("printer")
    assert negotiate(port, 0x04).result == 0
    stream = read_nibble(port, 1000)
    assert stream == device_id_stream(PRINTER_ID)
    assert stream[:2] == b"\x00\x4a"  # 74: the spec's synthetic example
    assert port.read_status() & 0x08  # nDataAvail H: no more data
    terminate(port)
    # The next request starts at the prefix again (§3.4).
    assert negotiate(port, 0x04).result == 0
    assert read_nibble(port, 2) == b"\x00\x4a"


def test_nibble_status_values_per_nibble() -> None:
    port = make_port("printer", access_ns=0)
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    printer.queue_reverse(bytes([0x80, 0x7F]))
    assert negotiate(port, 0x00).result == 0
    assert not port.read_status() & 0x08  # nDataAvail L: data
    seen = []
    for _ in range(4):
        port.write_control(0x06)  # event 7
        seen.append(port.read_status() & 0xF8)
        port.write_control(0x04)  # event 10
    # 0x80 = nibbles 0 then 8; 0x7F = nibbles F then 7 (§2.4 register table).
    assert seen == [0x80, 0x00, 0x38, 0xB8]
    assert port.read_status() & 0x08  # nDataAvail H after the last byte
    assert not port.read_status() & 0x10  # Select is XFlag again (low for nibble), not data


def test_xflag_between_nibble_bytes() -> None:
    """Nibble data borrows Select (bit 1 of each nibble); between bytes it is XFlag again."""
    port = make_port("printer", access_ns=0)
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    printer.queue_reverse(bytes([0x22, 0x00]))  # Select high in both nibbles of the first
    assert negotiate(port, 0x00).result == 0
    for _ in range(2):
        port.write_control(0x06)
        port.write_control(0x04)
    assert port.read_status() & 0x18 == 0x00  # data available (nFault L), XFlag L


def test_byte_mode_reverse() -> None:
    port = make_port("printer")
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    printer.queue_reverse(b"scan data")
    assert negotiate(port, 0x01).result == 0
    assert read_byte_mode(port, 100) == b"scan data"
    terminate(port)


def test_reverse_idle_interrupt_then_read() -> None:
    port = make_port("printer", access_ns=0)
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    assert negotiate(port, 0x00).result == 0
    port.write_control(0x06)  # host idles in REV_IDLE with HostBusy low
    assert port.read_status() & 0x08  # nothing yet
    printer.queue_reverse(b"Z")
    status = port.read_status()
    assert not status & 0x08  # event 18: nDataAvail low
    assert not status & 0x40  # nAck pulse: the interrupt
    port.sleep(1)
    port.write_control(0x04)  # event 20
    assert not port.read_status() & 0x20  # event 21: AckDataReq low
    assert read_nibble(port, 1) == b"Z"


def test_ecp_forward_data_commands_and_rle() -> None:
    port = make_port("printer", access_ns=0)
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    assert negotiate(port, 0x30).result == 0
    assert port.read_status() & 0x20  # event 31: nAckReverse H

    def send(byte: int, command: bool) -> None:
        ctr = 0x06 if command else 0x04
        port.write_control(ctr)
        port.write_data(byte)
        port.write_control(ctr | 0x01)  # event 34
        assert port.wait_status(0x80, 0x00, 35_000) is not None  # event 35: PeriphAck H
        port.write_control(ctr)  # event 36
        assert port.wait_status(0x80, 0x80, 35_000) is not None  # event 37

    send(0x81, True)  # channel 1
    send(ord("a"), False)
    send(4, True)  # RLE: the next byte 5 times
    send(ord("b"), False)
    assert bytes(printer.received) == b"abbbbb"
    assert printer.ecp_channel == 1
    assert bytes(printer.ecp_channels[1]) == b"abbbbb"
    port.write_control(0x04)
    terminate(port)
    assert printer.phase == "compatibility"


def _ecp_reverse_read(port, count: int) -> tuple[bytes, list[tuple[int, bool]]]:  # type: ignore[no-untyped-def]
    """Software ECP reverse (events 38–46, 47/49), expanding RLE like Linux."""
    port.write_control(0x26)  # event 38: HostAck L, drivers off
    port.write_control(0x22)  # event 39: nReverseRequest L
    assert port.wait_status(0x20, 0x00, 35_000) is not None  # event 40
    out = bytearray()
    raw: list[tuple[int, bool]] = []
    repeat = 1
    while len(out) < count:
        status = port.wait_status(0x40, 0x00, 35_000)  # event 43
        if status is None:
            break
        byte = port.read_data()
        command = bool(status & 0x80)  # PeriphAck (Busy pin) low: a command
        raw.append((byte, command))
        port.write_control(0x20)  # event 44: HostAck H
        port.wait_status(0x40, 0x40, 35_000)  # event 45
        port.write_control(0x22)  # event 46
        if command:
            repeat = byte + 1 if not byte & 0x80 else 1
        else:
            out += bytes([byte]) * repeat
            repeat = 1
    port.write_control(0x26)  # event 47: nReverseRequest H
    assert port.wait_status(0x20, 0x20, 35_000) is not None  # event 49
    port.write_control(0x06)
    return bytes(out), raw


def test_ecp_reverse_with_rle_encoding() -> None:
    port = make_port("printer")
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    payload = b"x" + b"\x00" * 40 + b"yz"
    printer.queue_reverse(payload)
    assert negotiate(port, 0x30).result == 0
    data, raw = _ecp_reverse_read(port, len(payload))
    assert data == payload
    assert (39, True) in raw  # a run of 40 sent as count 39 + the byte
    assert len(raw) < len(payload)
    port.write_control(0x04)
    terminate(port)
    assert printer.phase == "compatibility"


def test_ecp_reverse_without_rle_sends_every_byte() -> None:
    port = make_port("printer")
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    printer.queue_reverse(b"\x00" * 10)
    assert negotiate(port, 0x10).result == 0
    data, raw = _ecp_reverse_read(port, 10)
    assert data == b"\x00" * 10
    assert all(not command for _, command in raw)


def test_epp_software_cycles() -> None:
    port = make_port("printer", access_ns=0)
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    printer.queue_reverse(b"RD")
    assert negotiate(port, 0x40).result == 0
    # Address write (events 56, 58, 59, 60, 61), then data writes (62, 58, 63, 60).
    port.write_control(0x05)
    port.write_data(0x12)
    port.write_control(0x0D)  # nAStrb L
    assert port.wait_status(0x80, 0x00, 10) is not None  # nWait H
    port.write_control(0x05)
    assert port.wait_status(0x80, 0x80, 10) is not None
    for byte in b"hi":
        port.write_data(byte)
        port.write_control(0x07)  # nDStrb L
        assert port.wait_status(0x80, 0x00, 10) is not None
        port.write_control(0x05)
        assert port.wait_status(0x80, 0x80, 10) is not None
    port.write_control(0x04)  # event 61
    # Data read (event 67).
    port.write_control(0x24)
    port.write_control(0x26)
    assert port.wait_status(0x80, 0x00, 35_000) is not None
    assert port.read_data() == ord("R")
    port.write_control(0x24)
    assert printer.epp_address == 0x12
    assert bytes(printer.received) == b"hi"
    # Termination: nInit pulse (events 68, 69).
    port.write_control(0x00)
    port.sleep(50)
    port.write_control(0x0C)
    assert printer.phase == "compatibility"


def test_epp_hardware_cycles_and_timeout_bit() -> None:
    port = make_port("printer")
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    printer.queue_reverse(b"\x99")
    # Powered off, nothing raises nWait: the timeout bit sets after 10 µs.
    port.inject(Fault.POWER_OFF)
    before = port.now()
    port.write_epp_data(0x55)
    assert port.now() - before >= 10
    assert port.read_status() & 0x01
    port.write_status(0x00)  # this chip clears by writing 1, not 0
    assert port.read_status() & 0x01
    port.write_status(0x01)
    assert not port.read_status() & 0x01
    printer.clear(Fault.POWER_OFF)
    assert negotiate(port, 0x40).result == 0
    port.write_control(0x04)
    port.write_epp_address(0x07)
    assert port.write_epp_block(b"EPP!") == 4
    port.write_control(0x24)
    assert port.read_epp_data() == 0x99
    assert port.read_epp_address() == 0x07
    assert not port.read_status() & 0x01
    assert bytes(printer.received) == b"EPP!"
    assert bytes(printer.epp_addresses) == b"\x07"


def test_extensibility_link() -> None:
    port = make_port("printer", access_ns=0)
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    assert negotiate(port, 0x80).result == 0
    port.write_data(0x10)  # the real request: ECP
    port.write_control(0x05)  # event 51
    assert not port.read_status() & 0x40  # event 52
    port.write_control(0x04)  # event 53
    status = port.read_status()
    assert status & 0x40 and status & 0x10  # events 55 and 54: accepted
    assert printer.phase == "ecp-forward"


def test_refused_negotiation_never_answers_event_1() -> None:
    port = make_port("printer")
    port.inject(Fault.REFUSE_NEGOTIATION)
    start = port.now()
    assert negotiate(port, 0x04).result == -1
    assert port.now() - start >= 35_000  # the host waited its full TL
    assert status_low(port) == 0xD8
    assert compat_write(port, b"ok") == 2


def test_reject_modes_rejects_everything_but_nibble() -> None:
    port = make_port("printer")
    port.inject(Fault.REJECT_MODES)
    assert negotiate(port, 0x10).result == 1
    assert negotiate(port, 0x00).result == 0
    terminate(port)


def test_silent_peripheral_freezes_mid_handshake() -> None:
    port = make_port("printer")
    printer = port.chain[0]
    assert negotiate(port, 0x04).result == 0
    assert read_nibble(port, 3) == device_id_stream(PRINTER_ID)[:3]
    port.inject(Fault.SILENT)
    frozen = port.read_status()
    start = port.now()
    assert read_nibble(port, 1) == b""  # event 9 never comes
    assert port.now() - start >= 35_000
    assert port.read_status() == frozen
    printer.clear(Fault.SILENT)


def test_after_n_bytes_paper_out() -> None:
    port = make_port("printer")
    port.inject(Fault.PAPER_OUT, after_bytes=10)
    assert compat_write(port, bytes(64), timeout_us=10_000) == 10
    assert status_low(port) & 0x20


def test_fault_at_virtual_time_and_unplug() -> None:
    port = make_port("printer")
    port.inject(Fault.UNPLUG, at_us=port.now() + 100)
    assert compat_write(port, bytes(200), timeout_us=1000) < 200
    assert port.chain == []
    assert status_low(port) == 0x78  # nothing attached


def test_power_off_and_on_again_resets() -> None:
    port = make_port("printer")
    printer = port.chain[0]
    assert negotiate(port, 0x04).result == 0
    port.inject(Fault.POWER_OFF)
    assert status_low(port) == 0x80
    printer.clear(Fault.POWER_OFF)
    port.write_control(0x0C)
    assert printer.phase == "compatibility"
    assert status_low(port) == 0xD8


@pytest.mark.parametrize("fmt", ["be", "le", "be-2"])
def test_device_id_length_formats(fmt: str) -> None:
    port = make_port()
    printer = Printer("odd", "MFG:Odd;MDL:Prefix;", id_length_format=fmt)
    port.cable.plug(printer)
    assert negotiate(port, 0x04).result == 0
    stream = read_nibble(port, 1000)
    assert stream[2:] == b"MFG:Odd;MDL:Prefix;"
    expected = {"be": b"\x00\x15", "le": b"\x15\x00", "be-2": b"\x00\x13"}[fmt]
    assert stream[:2] == expected


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=300))
def test_any_payload_round_trips_in_nibble_mode(payload: bytes) -> None:
    port = make_port("printer")
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    printer.queue_reverse(payload)
    assert negotiate(port, 0x00).result == 0
    assert read_nibble(port, len(payload) + 5) == payload
    terminate(port)
