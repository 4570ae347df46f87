"""Every IEEE 1284 mode moves data both ways through the emulator, across daisy-chain devices
and a Zip drive to the end-of-chain printer, and to a selected daisy-chain device."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parport import nt
from parport.hw import open_backend
from parport.hw.emu import EmulatedPort, Ieee1284Peripheral
from parport.ieee1284 import Session, dot3

FORWARD = [
    nt.CENTRONICS,
    nt.IEEE_COMPATIBILITY,
    nt.EPP_HW,
    nt.EPP_SW,
    nt.ECP_HW_NOIRQ,
    nt.ECP_SW,
]
REVERSE = [
    nt.NIBBLE,
    nt.BYTE_BIDIR,
    nt.EPP_HW,
    nt.EPP_SW,
    nt.ECP_HW_NOIRQ,
    nt.ECP_SW,
]
CHAINS = ["printer", "daisy+printer", "daisy+daisy+printer", "zip+printer"]
PAYLOADS = st.one_of(
    st.just(b""),
    st.binary(min_size=1, max_size=1),
    st.binary(max_size=200),
    st.builds(
        lambda byte, run, tail: bytes([byte]) * run + tail,
        st.integers(0, 255),
        st.integers(2, 300),
        st.binary(max_size=20),
    ),
)


def _session(chain: str) -> tuple[EmulatedPort, Session, Ieee1284Peripheral]:
    port = open_backend(f"emu:chain={chain}&clock=manual")
    assert isinstance(port, EmulatedPort)
    session = Session(port)
    if "daisy" in chain:
        dot3.assign_addresses(port)
        assert dot3.deselect_all(port)
    target = port.chain[-1]
    assert isinstance(target, Ieee1284Peripheral)
    return port, session, target


@pytest.mark.parametrize("chain", CHAINS)
@pytest.mark.parametrize("mode", FORWARD)
@settings(max_examples=8, deadline=None)
@given(payload=PAYLOADS)
def test_forward(chain: str, mode: int, payload: bytes) -> None:
    port, session, printer = _session(chain)
    result = session.write(payload, mode)
    assert result.status == nt.STATUS_SUCCESS
    assert result.count == len(payload)
    assert bytes(printer.received) == payload
    session.terminate()
    assert printer.phase == "compatibility"


@pytest.mark.parametrize("chain", CHAINS)
@pytest.mark.parametrize("mode", REVERSE)
@settings(max_examples=8, deadline=None)
@given(payload=PAYLOADS)
def test_reverse(chain: str, mode: int, payload: bytes) -> None:
    port, session, printer = _session(chain)
    printer.queue_reverse(payload)
    result = session.read(len(payload) + 10, mode)
    assert result.status == nt.STATUS_SUCCESS
    if mode & nt.EPP_ANY:
        # EPP has no end-of-data signal: the reads go on with the bus's idle value.
        assert result.data[: len(payload)] == payload
    else:
        assert result.data == payload
    session.terminate()
    assert printer.phase == "compatibility"


def test_ecp_rle_run_is_expanded_on_reverse() -> None:
    port, session, printer = _session("printer")
    payload = b"\x00" * 5000 + b"end"
    printer.queue_reverse(payload)
    result = session.read(len(payload), nt.ECP_SW)
    assert printer.negotiations == [0x30]  # ECP with RLE asked for first
    assert result.data == payload
    # 5000 equal bytes went as 40 count/byte pairs, not 5000 cycles.
    assert result.accesses < 1000


def test_a_run_left_in_the_chips_fifo_waits_for_the_host_without_a_timer() -> None:
    """The chip expands a run-length count as the host makes room in its FIFO: while the FIFO
    is full nothing ticks on the port's clock (a forgotten port costs no CPU), and each byte the
    host reads lets the chip go on with the run."""
    port, session, printer = _session("printer")
    printer.queue_reverse(b"\x07" * 300)
    assert session.read(1, nt.ECP_HW_NOIRQ).data == b"\x07"  # negotiated: ECP reverse phase
    port.write_ecr(0x74)  # mode 011 with the data lines reversed: the chip reads by itself
    assert port.read_fifo_block(20, 35_000) == b"\x07" * 20
    assert port.clock.pending == 0  # the FIFO is full again and the chip waits for the host
    rest = port.read_fifo_block(400, 35_000)
    assert rest and set(rest) == {0x07}
    port.write_ecr(0x34)


def test_ecp_channel_address() -> None:
    port, session, printer = _session("printer")
    assert session.write(bytes([0x80 | 5]), nt.ECP_SW, address=True).ok
    assert session.write(b"to channel 5", nt.ECP_SW).ok
    assert bytes(printer.ecp_channels[5]) == b"to channel 5"


def test_epp_address_cycles() -> None:
    port, session, printer = _session("printer")
    for mode in (nt.EPP_HW, nt.EPP_SW):
        assert session.write(b"\x42", mode, address=True).ok
        assert printer.epp_address == 0x42
        read = session.read(1, mode, address=True)
        assert read.data == b"\x42"


@pytest.mark.parametrize("mode", [nt.CENTRONICS, nt.ECP_SW, nt.EPP_HW, nt.NIBBLE, nt.BYTE_BIDIR])
def test_selected_daisy_device_is_the_target(mode: int) -> None:
    port, session, printer = _session("daisy+daisy+printer")
    daisy = port.chain[1]
    function = daisy.function  # type: ignore[attr-defined]
    assert dot3.select(port, 1)
    if mode & nt.REVERSE_ONLY_MODES:
        function.queue_reverse(b"from daisy 1")
        assert session.read(100, mode).data == b"from daisy 1"
    else:
        assert session.write(b"to daisy 1", mode).ok
        assert bytes(daisy.received) == b"to daisy 1"
    session.terminate()
    assert dot3.deselect_all(port)
    assert bytes(printer.received) == b""


def test_64_kib_each_way() -> None:
    payload = bytes(range(256)) * 256
    for mode in (nt.CENTRONICS, nt.ECP_HW_NOIRQ, nt.EPP_HW):
        port, session, printer = _session("daisy+printer")
        assert session.write(payload, mode).count == len(payload)
        assert bytes(printer.received) == payload
    for mode in (nt.NIBBLE, nt.ECP_SW):
        port, session, printer = _session("printer")
        printer.queue_reverse(payload)
        assert session.read(len(payload), mode).data == payload


def test_access_counts_per_byte_match_the_hardware_table() -> None:
    """ieee1284.md §7.2: I/O accesses per byte of Linux's routines."""
    limits = {
        (nt.CENTRONICS, True): 4,  # 1 status + 1 data + 2 control
        (nt.EPP_HW, True): 2,  # a cycle + the timeout check
        (nt.ECP_SW, True): 5,  # data, control x2, 2 polls
        (nt.NIBBLE, False): 11,
        (nt.BYTE_BIDIR, False): 9,  # status, control x5, 2 polls, data
        (nt.EPP_HW, False): 2,
    }
    payload = bytes(1000)
    for (mode, forward), limit in limits.items():
        port, session, printer = _session("printer")
        session._enter(mode, forward)  # the negotiation is not part of the per-byte cost
        if forward:
            result = session.write(payload, mode)
        else:
            printer.queue_reverse(payload)
            result = session.read(len(payload), mode)
        assert result.count == len(payload)
        assert result.accesses / len(payload) <= limit + 0.05, (mode, forward, result.accesses)


def test_switching_modes_terminates_and_renegotiates() -> None:
    port, session, printer = _session("printer")
    printer.queue_reverse(b"abc")
    assert session.read(1, nt.NIBBLE).data == b"a"
    assert session.connected
    assert session.write(b"x", nt.CENTRONICS).ok  # leaves nibble mode first
    assert not session.connected
    assert printer.negotiations == [0x00]
    assert session.read(5, nt.BYTE_BIDIR).data == b"bc"
    assert printer.negotiations == [0x00, 0x01]
    assert session.write(b"y", nt.ECP_SW).ok
    assert printer.negotiations == [0x00, 0x01, 0x30]
    plain = Session(port, ecp_rle=False)
    assert plain.write(b"z", nt.ECP_SW).ok
    assert printer.negotiations[-1] == 0x10


@pytest.mark.parametrize("chain", ["printer", "daisy+printer"])
@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_any_bytes_like_payload(chain: str, kind: type) -> None:
    port = open_backend(f"emu:chain={chain}&clock=manual")
    printer = port.chain[-1]  # type: ignore[attr-defined]
    session = Session(port, ecp_rle=False)
    for mode in (nt.CENTRONICS, nt.IEEE_COMPATIBILITY, nt.ECP_SW, nt.EPP_HW):
        assert session.write(kind(b"ab\xaacd"), mode).count == 5
    assert bytes(printer.received) == b"ab\xaacd" * 4
