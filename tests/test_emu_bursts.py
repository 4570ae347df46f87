"""String I/O and FIFO bursts: the fast paths take the same bytes, the same accesses and the
same virtual time as the same cycles emulated one by one (forced by a line observer)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parport.hw import open_backend
from parport.hw.emu import EmulatedPort, Fault, Ieee1284Peripheral
from parport.ieee1284 import Session


def _epp_port(observed: bool) -> tuple[EmulatedPort, Ieee1284Peripheral]:
    port = open_backend("emu:chain=daisy+printer")
    assert isinstance(port, EmulatedPort)
    session = Session(port)
    assert session.negotiate(0x40).value == "accepted"
    port.write_control(0x04)
    if observed:
        port.add_line_observer(lambda state: None)  # every line change watched: cycle by cycle
    printer = port.chain[-1]
    assert isinstance(printer, Ieee1284Peripheral)
    return port, printer


@settings(max_examples=20, deadline=None)
@given(st.binary(max_size=600), st.one_of(st.none(), st.integers(0, 600)))
def test_epp_string_output_matches_cycle_by_cycle(data: bytes, fault_after: int | None) -> None:
    results = []
    for observed in (False, True):
        port, printer = _epp_port(observed)
        if fault_after is not None:
            port.inject(Fault.POWER_OFF, printer, after_bytes=fault_after)
        start, accesses = port.now(), port.accesses
        count = port.write_epp_block(data)
        results.append(
            (
                count,
                bytes(printer.received),
                port.accesses - accesses,
                port.now() - start,
                bool(port.read_status() & 0x01),
            )
        )
    assert results[0] == results[1]
    count, received, accesses, _, timed_out = results[0]
    if fault_after is None or fault_after > len(data) or not data:
        assert (count, received[: len(data)], timed_out) == (len(data), data, False)
    else:
        # The device takes the byte that switches it off, but that cycle never completes.
        assert (count, received, timed_out) == (max(0, fault_after - 1), data[:fault_after], True)


@pytest.mark.parametrize("observed", [False, True])
def test_epp_string_input(observed: bool) -> None:
    port, printer = _epp_port(observed)
    printer.queue_reverse(b"0123456789")
    port.write_control(0x24)
    assert port.read_epp_block(12) == b"0123456789\xff\xff"
    assert port.accesses > 0


def test_epp_burst_waits_for_a_timed_fault() -> None:
    port, printer = _epp_port(False)
    port.inject(Fault.POWER_OFF, printer, at_us=port.now() + 100.5)
    count = port.write_epp_block(bytes(1000))
    assert count == 100  # cycle 101 was under way at the fault's time: it never completes
    assert port.read_status() & 0x01


def test_ecp_fifo_burst_matches_the_engine() -> None:
    results = []
    for observed in (False, True):
        port = open_backend("emu:chain=printer")
        assert isinstance(port, EmulatedPort)
        session = Session(port, ecp_rle=False)
        assert session.negotiate(0x10).value == "accepted"
        if observed:
            port.add_line_observer(lambda state: None)
        printer = port.chain[0]
        assert isinstance(printer, Ieee1284Peripheral)
        result = session.write(bytes(range(256)) * 4, 0x0100)  # ECP_HW_NOIRQ
        results.append((result.status, result.count, bytes(printer.received), printer.phase))
    assert results[0] == results[1]
    assert results[0][1] == 1024


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 255), st.integers(1, 300)), max_size=12),
    st.integers(1, 5000),
)
def test_ecp_fifo_reverse_matches_cycle_by_cycle(runs: list[tuple[int, int]], want: int) -> None:
    payload = b"".join(bytes((byte,)) * count for byte, count in runs)
    results = []
    for observed in (False, True):
        port = open_backend("emu:chain=printer")
        assert isinstance(port, EmulatedPort)
        printer = port.chain[0]
        assert isinstance(printer, Ieee1284Peripheral)
        printer.queue_reverse(payload)
        session = Session(port)  # ECP with RLE: runs arrive as counts the chip expands
        session._enter(0x0100, forward=False)
        if observed:
            port.add_line_observer(lambda state: None)
        start, accesses = port.now(), port.accesses
        result = session.read(want, 0x0100)
        results.append((result.status, result.data, port.accesses - accesses, port.now() - start))
    assert results[0] == results[1]  # same bytes, same accesses, same virtual time
    assert results[0][1] == payload[:want]
