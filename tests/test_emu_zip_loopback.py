"""The legacy Zip drive (§5.1) and the loopback plug."""

from __future__ import annotations

from emu_helpers import make_port, status_low
from hostseq import (
    compat_write,
    negotiate,
    read_nibble,
    terminate,
    zip_connect,
    zip_disconnect,
    zip_present,
)
from parport.hw.emu import Fault, ZipDrive


def test_connect_mirror_and_disconnect() -> None:
    port = make_port("zip", "printer")
    drive = port.chain[0]
    printer = port.chain[1]
    assert isinstance(drive, ZipDrive)
    assert not zip_present(port)  # disconnected: the printer's nFault does not mirror
    zip_connect(port)
    assert drive.connected and not drive.epp_mode
    assert zip_present(port)
    port.write_control(0x0E)  # nAutoFd L -> nFault H
    assert port.read_status() & 0x08
    port.write_control(0x0C)  # nAutoFd H -> nFault L
    assert not port.read_status() & 0x08
    # Bytes clocked with nAutoFd pulses go to the drive, not to the printer.
    for byte in b"\x12\x34":
        port.write_data(byte)
        port.write_control(0x0E)
        port.write_control(0x0C)
    zip_disconnect(port)
    assert not drive.connected
    # The presence check's two nAutoFd pulses clocked the mode byte in too, as on a real drive.
    assert bytes(drive.received) == b"\x8f\x8f\x12\x34"
    assert bytes(printer.received) == b""
    assert status_low(port) == 0xD8  # pass-through: the printer again
    assert compat_write(port, b"page") == 4
    assert bytes(printer.received) == b"page"


def test_epp_connect_byte() -> None:
    port = make_port("zip", "printer")
    zip_connect(port, 0xCF)
    drive = port.chain[0]
    assert isinstance(drive, ZipDrive)
    assert drive.connected and drive.epp_mode


def test_connect_needs_nselectin_high() -> None:
    port = make_port("zip", "printer")
    for byte in (0x00, 0x3C, 0x20, 0x8F):  # the disconnect pattern with the connect bytes
        port.write_data(byte)
        for ctr in (0x0C, 0x0E, 0x0C):
            port.write_control(ctr)
    drive = port.chain[0]
    assert isinstance(drive, ZipDrive)
    assert not drive.connected


def test_printer_behind_a_disconnected_zip_answers_ieee1284() -> None:
    port = make_port("zip", "printer")
    zip_connect(port)
    zip_disconnect(port)
    assert negotiate(port, 0x04).result == 0
    assert read_nibble(port, 4)[2:] == b"MF"
    terminate(port)


def test_powered_off_zip_cuts_the_printer_off() -> None:
    port = make_port("zip", "printer")
    port.inject(Fault.POWER_OFF, 0)
    assert status_low(port) == 0x80


def test_loopback_plug_reflects_data_on_status() -> None:
    port = make_port("loopback")
    expectations = {
        0x00: 0x80,  # every line L: Busy pin L reads as register bit 7 set
        0x01: 0x88,  # D0 -> nFault
        0x02: 0x90,  # D1 -> Select
        0x04: 0xA0,  # D2 -> PError
        0x08: 0xC0,  # D3 -> nAck
        0x10: 0x00,  # D4 -> Busy (inverted in the register)
        0x1F: 0x78,
    }
    for data, status in expectations.items():
        port.write_data(data)
        assert status_low(port) == status, hex(data)
    port.write_control(0x2C)  # data drivers off: pulled-up lines read high
    assert port.read_data() == 0xFF
    assert status_low(port) == 0x78
    port.write_control(0x0C)
    port.write_data(0x5A)
    port.write_control(0x0D)
    port.write_control(0x0C)
    assert bytes(port.chain[0].received) == b"\x5a"
