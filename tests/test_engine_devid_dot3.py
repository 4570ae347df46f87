"""Device IDs (read and parsed), line predicates, mode discovery, IEEE 1284.3 and Zip commands."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parport import nt
from parport.hw import open_backend
from parport.hw.emu import DaisyDevice, EmulatedPort, Printer, ZipDrive, daisy_device_id
from parport.ieee1284 import Session, dot3, fastest_mode, lines, parse_device_id
from parport.ieee1284.devid import read_device_id
from parport.ieee1284.session import request_byte


def _port(spec: str) -> EmulatedPort:
    """The port on a manual clock: these tests move its time themselves."""
    port = open_backend(spec + ("&" if spec != "emu:" else "") + "clock=manual")
    assert isinstance(port, EmulatedPort)
    return port


def test_device_ids_of_every_emulated_peripheral() -> None:
    port = _port("emu:")
    session = Session(port)
    assert dot3.assign_addresses(port) == 2
    for address in (0, 1):
        assert dot3.select(port, address)
        found = session.device_id()
        assert found is not None and found.text == daisy_device_id(address)
        assert found.complete
        assert dot3.deselect_all(port)
    printer_id = session.device_id()
    assert printer_id is not None and printer_id.text == Printer.DEFAULT_ID
    assert printer_id.manufacturer == "Acme"
    assert printer_id.model == "EmuPrinter 1"
    assert printer_id.command_set == ["PCL", "PJL"]
    assert printer_id.device_class == "PRINTER"
    assert printer_id.description == "Acme EmuPrinter 1"


@pytest.mark.parametrize("fmt", ["be", "le", "be-2"])
def test_odd_length_prefixes(fmt: str) -> None:
    port = _port("emu:chain=")
    text = "MFG:Odd;MDL:Prefix " + "x" * 300 + ";"
    port.cable.plug(Printer("odd", text, id_length_format=fmt))
    found = Session(port).device_id()
    assert found is not None and found.text == text


def test_a_device_without_an_id() -> None:
    port = _port("emu:chain=")
    port.cable.plug(Printer("anonymous", ""))
    session = Session(port)
    assert session.device_id() is None
    assert _port("emu:chain=zip").chain[0].device_id == ""


def test_parser_long_names_and_classes() -> None:
    parsed = parse_device_id(
        "MANUFACTURER:Big Co  ;MODEL:Scan 9;COMMAND SET:ESC;CLASS:scanner;DESCRIPTION:A scanner;X:1"
    )
    assert (parsed.manufacturer, parsed.model, parsed.description) == (
        "Big Co",
        "Scan 9",
        "A scanner",
    )
    assert parsed.device_class == "SCANNER"
    assert parsed.fields["X"] == "1"
    assert parse_device_id("MFG:A;MDL:B;CLS:TOASTER;").device_class == "OTHER"
    assert parse_device_id("MFG:A;MDL:B;CMD:PJL;").device_class == "PRINTER"
    assert parse_device_id("MFG:A;").device_class == "Unspecified"
    assert not parse_device_id("MFG:A;").complete


def _reader(stream: bytes) -> tuple[object, object]:
    position = [0]

    def read(count: int) -> bytes:
        chunk = stream[position[0] : position[0] + count]
        position[0] += len(chunk)
        return chunk

    return read, lambda: position[0] < len(stream)


@pytest.mark.parametrize(
    ("stream", "expected"),
    [
        (b"\x00\x07ABCDE;", b"\x00\x07ABCDE;"),
        (b"\x07\x00ABCDE;", b"\x07\x00ABCDE;"),  # little-endian
        (b"\x00\x05ABCDE;", b"\x00\x05ABCDE;"),  # two short: read on to the ';'
        (b"\x01\x00" + b"A" * 254, b"\x01\x00" + b"A" * 254),  # 0x0100 is not "1"
        (b"\x00\x00ABC", None),  # a zero length
        (b"\xff\xffABC", None),  # a constant nibble forever
        (b"\x00", None),
    ],
)
def test_tolerant_reading_rules(stream: bytes, expected: bytes | None) -> None:
    read, more = _reader(stream)
    assert read_device_id(read, more) == expected  # type: ignore[arg-type]


@given(st.integers(0, 0xFF))
def test_query_information_bits(dsr: int) -> None:
    bits = lines.query_information(dsr)
    assert not bits & (nt.PARALLEL_INIT | nt.PARALLEL_AUTOFEED)
    assert bool(bits & nt.PARALLEL_SELECTED) == bool(dsr & nt.DSR_SELECT)
    assert bool(bits & nt.PARALLEL_BUSY) == lines.busy(dsr)
    exclusive = bits & (
        nt.PARALLEL_POWER_OFF
        | nt.PARALLEL_PAPER_EMPTY
        | nt.PARALLEL_OFF_LINE
        | nt.PARALLEL_NOT_CONNECTED
    )
    assert exclusive & (exclusive - 1) == 0  # at most one condition


@pytest.mark.parametrize(
    ("dsr", "status", "bits"),
    [
        (0xDF, None, nt.PARALLEL_SELECTED),  # healthy, on-line
        (  # no cable: every line floats high
            0x7F,
            nt.STATUS_DEVICE_NOT_CONNECTED,
            nt.PARALLEL_POWER_OFF | nt.PARALLEL_BUSY | nt.PARALLEL_SELECTED,
        ),
        (0x87, nt.STATUS_DEVICE_POWERED_OFF, nt.PARALLEL_POWER_OFF),
        (0x77, nt.STATUS_DEVICE_PAPER_EMPTY, nt.PARALLEL_PAPER_EMPTY | nt.PARALLEL_SELECTED),
        (0x4F, nt.STATUS_DEVICE_OFF_LINE, nt.PARALLEL_OFF_LINE | nt.PARALLEL_BUSY),
        (0xCF, nt.STATUS_DEVICE_NOT_CONNECTED, nt.PARALLEL_NOT_CONNECTED),
        (0x5F, None, nt.PARALLEL_BUSY | nt.PARALLEL_SELECTED),  # merely busy
    ],
)
def test_line_predicates(dsr: int, status: int | None, bits: int) -> None:
    assert lines.line_error(dsr) == status
    assert lines.query_information(dsr) == bits


@pytest.mark.parametrize(
    ("kind", "modes"),
    [
        ("spp", nt.CENTRONICS | nt.NIBBLE | nt.CHANNEL_NIBBLE),
        (
            "ps2",
            nt.CENTRONICS | nt.NIBBLE | nt.CHANNEL_NIBBLE | nt.BYTE_BIDIR | nt.ECP_SW | nt.EPP_SW,
        ),
        ("ecp+epp", 0x077F),
    ],
)
def test_determine_modes_per_hardware(kind: str, modes: int) -> None:
    session = Session(_port(f"emu:chain=printer&hw={kind}"))
    assert session.determine_modes() == modes
    assert session.host_modes() & modes == modes


def test_mode_choice_and_request_bytes() -> None:
    supported = 0x077F
    assert fastest_mode(nt.ECP_ANY | nt.EPP_ANY, supported, forward=True) == nt.ECP_HW_NOIRQ
    assert fastest_mode(nt.EPP_ANY | nt.CENTRONICS, supported, True) == nt.EPP_HW
    assert fastest_mode(nt.NIBBLE | nt.BYTE_BIDIR, supported, forward=False) == nt.BYTE_BIDIR
    assert fastest_mode(nt.NIBBLE | nt.BYTE_BIDIR, supported, forward=True) == nt.NONE
    assert request_byte(nt.NIBBLE, device_id=True) == 0x04
    assert request_byte(nt.BYTE_BIDIR) == 0x01
    assert request_byte(nt.ECP_SW) == 0x10
    assert request_byte(nt.EPP_HW) == 0x40
    assert request_byte(nt.CENTRONICS) is None
    with pytest.raises(ValueError):
        request_byte(nt.NIBBLE | nt.BYTE_BIDIR)


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4])
def test_address_assignment_counts(count: int) -> None:
    port = _port("emu:chain=" + "+".join(["daisy"] * count + ["printer"]))
    assert dot3.assign_addresses(port) == count
    assert [d.address for d in port.chain if isinstance(d, DaisyDevice)] == list(range(count))
    assert bytes(port.chain[-1].received) == b""


def test_select_deselect_and_errors() -> None:
    port = _port("emu:")
    dot3.assign_addresses(port)
    assert dot3.select(port, 0, "ecp")
    assert port.chain[0].select_mode == "ecp"  # type: ignore[attr-defined]
    assert dot3.deselect_all(port)
    assert not dot3.select(port, 3)  # nobody has address 3: five tries, then no
    assert port.selected_address is None
    with pytest.raises(ValueError):
        dot3.select(port, 4)
    with pytest.raises(ValueError):
        dot3.select(port, 0, "fast")
    answer = dot3.send_command(port, nt.CPP_QUERY_INT)
    assert answer.qualified and answer.accepted and not answer.last_device
    plain = _port("emu:chain=printer")
    assert not dot3.send_command(plain, 0x30).qualified  # a plain printer never answers S1
    assert dot3.assign_addresses(plain) == 0
    assert dot3.mux_ports(_port("emu:")) == 0


def test_zip_connect_and_disconnect() -> None:
    port = _port("emu:chain=zip+printer")
    drive = port.chain[0]
    assert isinstance(drive, ZipDrive)
    assert not dot3.zip_present(port)
    assert dot3.zip_connect(port)
    assert drive.connected
    assert dot3.zip_disconnect(port)
    assert not drive.connected
    assert not dot3.zip_connect(_port("emu:chain=printer"))  # no drive: no mirror
