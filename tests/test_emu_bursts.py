"""String I/O and FIFO bursts: the fast paths take the same bytes, the same accesses and the
same virtual time as the same cycles emulated one by one (forced by a line observer)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parport import nt
from parport.hw import open_backend
from parport.hw.backend import SLEEP, WAIT, WRITE_CONTROL, WRITE_DATA, Cadence, PortBackend, Step
from parport.hw.emu import DaisyDevice, EmulatedPort, Fault, Ieee1284Peripheral
from parport.ieee1284 import Session, dot3
from parport.ieee1284.transfer import BYTE_CADENCE, COMPAT_CADENCE, Transfer


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


# --- software handshakes (compatibility, byte, ECP without the FIFO) taken many bytes at once ---

CHAINS = ["printer", "daisy+printer", "daisy+daisy+printer", "zip+printer"]


def _software_port(chain: str, observed: bool) -> tuple[EmulatedPort, Ieee1284Peripheral]:
    port = open_backend(f"emu:chain={chain}")
    assert isinstance(port, EmulatedPort)
    if observed:
        port.add_line_observer(lambda state: None)  # every line change watched: cycle by cycle
    printer = port.chain[-1]
    assert isinstance(printer, Ieee1284Peripheral)
    return port, printer


def _outcome(
    port: EmulatedPort, printer: Ieee1284Peripheral, call: Callable[..., object], *args: object
) -> tuple[object, ...]:
    """What ``call(*args)`` did: its result, the bytes taken, accesses, virtual time, and the
    state of the lines and the peripheral after it."""
    start, accesses = port.now(), port.accesses
    result = call(*args)
    return (
        result,
        bytes(printer.received),
        port.accesses - accesses,
        port.now() - start,
        printer.phase,
        port.cable.head.status(),  # the lines right at the end, before anything moves time
        printer._ready_at,  # when the printer's last nAck pulse ended: the strobe's exact time
        port.read_status(),
        port.clock.next_event_ns(),
    )


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(CHAINS),
    st.binary(max_size=400),
    st.integers(0, 500),
    st.sampled_from([nt.NIBBLE, nt.BYTE_BIDIR, nt.ECP_SW]),
    st.one_of(st.none(), st.integers(0, 6000)),
)
def test_reverse_software_reads_match_cycle_by_cycle(
    chain: str, payload: bytes, want: int, mode: int, power_off_us: int | None
) -> None:
    results = []
    for observed in (False, True):
        port, printer = _software_port(chain, observed)
        printer.queue_reverse(payload)
        session = Session(port, ecp_rle=False)
        if power_off_us is not None:
            port.inject(Fault.POWER_OFF, printer, at_us=port.now() + power_off_us + 0.5)
        results.append(_outcome(port, printer, session.read, want, mode))
        results.append(_outcome(port, printer, session.read, want, mode))
    assert results[0] == results[2] and results[1] == results[3]
    if power_off_us is None and want and payload:
        first = results[0][0]
        assert isinstance(first, Transfer)
        assert first.data == payload[: len(first.data)]


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(CHAINS),
    st.binary(max_size=300),
    st.one_of(st.none(), st.integers(0, 300)),
)
def test_ecp_software_write_matches_cycle_by_cycle(
    chain: str, data: bytes, fault_after: int | None
) -> None:
    results = []
    for observed in (False, True):
        port, printer = _software_port(chain, observed)
        session = Session(port, ecp_rle=False)
        if fault_after is not None:
            port.inject(Fault.POWER_OFF, printer, after_bytes=fault_after)
        results.append(_outcome(port, printer, session.write, data, nt.ECP_SW))
        results.append(_outcome(port, printer, session.write, b"\xaa\x55", nt.ECP_SW))
    assert results[0] == results[2] and results[1] == results[3]


def test_when_the_emulator_takes_handshakes_whole() -> None:
    """The fast path is taken only where nothing can tell: checked on what it refuses."""
    port, printer = _software_port("printer", observed=False)
    port.write_control(0x0C)
    assert port.handshake_write("compat", b"hello", COMPAT_CADENCE) == 5
    assert bytes(printer.received) == b"hello"
    port.write_control(0x1C)  # nAck interrupt armed: every pulse must be seen
    assert port.handshake_write("compat", b"x", COMPAT_CADENCE) == 0
    port.write_control(0x0D)  # not between bytes
    assert port.handshake_write("compat", b"x", COMPAT_CADENCE) == 0

    port, printer = _software_port("daisy+printer", observed=False)
    port.write_control(0x0C)
    assert port.handshake_write("compat", b"ab\xaa\x55", COMPAT_CADENCE) == 2  # CPP could start

    port, printer = _software_port("zip+printer", observed=False)
    printer.queue_reverse(b"data")
    assert Session(port).read(4, nt.BYTE_BIDIR).data == b"data"
    printer.queue_reverse(b"more")
    port.write_control(0x24)
    assert port.handshake_read("byte", 4, BYTE_CADENCE) == b""  # the Zip samples nAutoFd

    port, printer = _software_port("printer", observed=True)
    port.write_control(0x0C)
    assert port.handshake_write("compat", b"x", COMPAT_CADENCE) == 0  # traced


def test_software_transfers_take_bursts() -> None:
    port, printer = _software_port("daisy+printer", observed=False)
    calls: list[int] = []
    take = port.handshake_write

    def spy(mode: str, data: bytes, cadence: Cadence) -> int:
        calls.append(count := take(mode, data, cadence))
        return count

    port.handshake_write = spy  # type: ignore[method-assign]
    assert Session(port).write(bytes(10_000), nt.CENTRONICS).count == 10_000
    assert sum(calls) == 10_000 and len([c for c in calls if c]) == 3  # 4096 + 4096 + 1808


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([nt.CENTRONICS, nt.IEEE_COMPATIBILITY]),  # software, the chip's FIFO
    st.sampled_from(CHAINS),
    st.binary(max_size=300),
    st.sampled_from([None, Fault.PAPER_OUT, Fault.OFF_LINE, Fault.POWER_OFF, Fault.STUCK_BUSY]),
    st.integers(0, 320),
    st.one_of(st.none(), st.integers(0, 3000)),
    st.sampled_from([(1000, 500), (3000, 500), (200, 100)]),  # the printer's Busy and nAck
)
def test_compat_writes_match_cycle_by_cycle(  # noqa: PLR0917 - one per axis
    mode: int,
    chain: str,
    data: bytes,
    fault: Fault | None,
    after: int,
    at_us: int | None,
    timing: tuple[int, int],
) -> None:
    results = []
    for observed in (False, True):
        port, printer = _software_port(chain, observed)
        printer.busy_ns, printer.ack_ns = timing
        session = Session(port, budget_us=20_000)
        if fault is not None:
            if at_us is None:
                port.inject(fault, printer, after_bytes=after)
            else:
                port.inject(fault, printer, at_us=port.now() + at_us + 0.5)
        results.append(_outcome(port, printer, session.write, data, mode))
        results.append(_outcome(port, printer, session.write, b"\x1b@\xaa" * 7, mode))
    assert results[0] == results[2] and results[1] == results[3]
    if fault is None:
        assert bytes(results[0][1]).startswith(data)


# --- register scripts: the emulator's inlined run equals the steps made one by one ---

_STEPS = st.one_of(
    st.tuples(st.just(WRITE_DATA), st.integers(0, 255)),
    st.tuples(st.just(WRITE_CONTROL), st.integers(0, 0x3F)),
    st.tuples(st.just(SLEEP), st.sampled_from([0.0, 0.5, 1.0, 3.0, 7.0])),
    st.tuples(
        st.just(WAIT),
        st.sampled_from([0x08, 0x30, 0x40, 0x80, 0xB8]),
        st.sampled_from([0x00, 0x08, 0x18, 0x30, 0xB8]),
        st.sampled_from([0.0, 2.0, 5.0, 50.0]),
        st.booleans(),
    ),
)
_FRAMES = st.sampled_from([0xE0, 0xE1, 0xD0, 0x20, 0x30, 0x08]).map(dot3._frame)


def _script_outcome(chain: str, scripts: list[list[Step]], generic: bool) -> tuple[object, ...]:
    port = open_backend(f"emu:chain={chain}")
    assert isinstance(port, EmulatedPort)
    dot3.assign_addresses(port)
    port.write_ecr(0x34)  # PS/2 mode: control bit 5 turns the data lines around
    interrupts: list[int] = []
    port.set_interrupt_handler(lambda: interrupts.append(port.clock.now_ns()))
    start, accesses = port.now(), port.accesses
    run = (lambda steps: PortBackend.run_script(port, steps)) if generic else port.run_script
    results = [run(steps) for steps in scripts]
    devices = [
        (d.selected, d.address, d.in_frame, list(d.frames))
        if isinstance(d, DaisyDevice)
        else (bytes(d.received), getattr(d, "connected", None))
        for d in port.chain
    ]
    return (
        results,
        port.accesses - accesses,
        port.now() - start,
        port.line_state(),
        devices,
        interrupts,
        port.clock.next_event_ns(),
    )


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["daisy+daisy+printer", "daisy+printer", "zip+printer", "printer"]),
    st.lists(st.one_of(_FRAMES.map(list), st.lists(_STEPS, max_size=30)), max_size=5),
)
def test_scripts_match_the_calls_one_by_one(chain: str, scripts: list[list[Step]]) -> None:
    assert _script_outcome(chain, scripts, generic=False) == _script_outcome(
        chain, scripts, generic=True
    )


def test_a_select_frame_as_one_script() -> None:
    port, _ = _software_port("daisy+daisy+printer", observed=False)
    dot3.assign_addresses(port)
    start, accesses = port.now(), port.accesses
    waits = port.run_script(dot3._frame(0xE1))
    assert (port.accesses - accesses, port.now() - start) == (16, 43.0)
    assert waits[:3] == [waits[0], waits[1], waits[2]] and len(waits) == 4
    assert waits[3] is not None and waits[3] & 0x08  # nFault high: selected
    assert [d.selected for d in port.chain[:2]] == [False, True]


@pytest.mark.parametrize("steps", [[(SLEEP, 0.0)], [(WRITE_DATA, 1), (SLEEP, 0.0)]])
def test_a_zero_sleep_in_a_script_runs_the_events_due_now(steps: list[Step]) -> None:
    fired = []
    for run in ("emulator", "generic"):
        port, _ = _software_port("printer", observed=False)
        delay = 1000 if steps[0][0] == WRITE_DATA else 0  # due when the sleep starts
        port.clock.call_later(delay, functools.partial(fired.append, run))
        if run == "emulator":
            port.run_script(steps)
        else:
            PortBackend.run_script(port, steps)
    assert fired == ["emulator", "generic"]
