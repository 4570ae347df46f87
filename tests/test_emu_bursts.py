"""String I/O, FIFO bursts and the whole-transfer operations: the fast paths take the same bytes,
the same accesses and the same virtual time, and leave every line and device as the same cycles
emulated one by one (forced by a line observer). Ports run on the manual clock (``clock=manual``),
so that both runs see the same virtual time."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from parport import nt
from parport.hw import VirtualClock, open_backend
from parport.hw.backend import PortBackend
from parport.hw.emu import (
    DaisyDevice,
    EmulatedPort,
    Fault,
    Ieee1284Peripheral,
    ZipDrive,
    build_chain,
)
from parport.hw.handshake import SLEEP, WAIT, WRITE_CONTROL, WRITE_DATA, Step, cpp_frame, run_steps
from parport.ieee1284 import FORWARD_MODES, REVERSE_MODES, Session, dot3
from parport.ieee1284.transfer import Transfer


def _epp_port(observed: bool) -> tuple[EmulatedPort, Ieee1284Peripheral]:
    port = open_backend("emu:chain=daisy+printer&clock=manual")
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
        port = open_backend("emu:chain=printer&clock=manual")
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


@pytest.mark.parametrize("chain", ["printer", "daisy+printer"])
def test_ecp_fifo_burst_takes_the_engines_time(chain: str) -> None:
    """ECR mode 011 forward: the burst costs each byte what the register loop does (a look at
    the FIFO's full bit, then the push), the same accesses and virtual time."""
    results = []
    for observed in (False, True):
        port = open_backend(f"emu:chain={chain}&clock=manual")
        session = Session(port, ecp_rle=False)
        session._enter(nt.ECP_HW_NOIRQ, True)
        if observed:
            port.add_line_observer(lambda state: None)
        start, accesses = port.now(), port.accesses
        result = session.write(b"hello", nt.ECP_HW_NOIRQ)
        results.append((result.count, port.accesses - accesses, port.now() - start))
    assert results[0] == results[1]


@settings(max_examples=15, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 255), st.integers(1, 300)), max_size=12),
    st.integers(1, 5000),
)
def test_ecp_fifo_reverse_matches_cycle_by_cycle(runs: list[tuple[int, int]], want: int) -> None:
    payload = b"".join(bytes((byte,)) * count for byte, count in runs)
    results = []
    for observed in (False, True):
        port = open_backend("emu:chain=printer&clock=manual")
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

# Data that makes the 1284.3 recognisers and the Zip drive's sampler work: CPP qualifiers, Zip
# connect sequences and their pieces, among random bytes.
_WATCHED = st.lists(
    st.sampled_from(
        [
            b"\xaa",
            b"\x55",
            b"\x00",
            b"\xff",
            b"\xaa\x55\x00\xff\x87\x78",
            b"\xaa\x55\x00\xff\x87\x78\xe0\xff",
            b"\x00\x3c\x20\x8f",
            b"\x00\x3c\x20\xcf",
            b"x",
            b"\x11\x22",
        ]
    ),
    max_size=40,
).map(b"".join)
EPP_PAYLOADS = st.one_of(st.binary(max_size=400), _WATCHED)
EPP_CHAINS = [*CHAINS, "daisy+zip+printer"]


def _state(device: object) -> tuple[object, ...]:
    """Everything an emulated device keeps that a burst could get wrong."""
    if isinstance(device, DaisyDevice):
        return (
            device._state,
            device._data,
            device._ctl,
            device._transparent,
            device._gate_strobe,
            device._command,
            device.selected,
            device._nfault_high,
            device.address,
            tuple(device.frames),
            _state(device.function),
        )
    if isinstance(device, Ieee1284Peripheral):
        return (
            device.phase,
            device._ctl,
            device._data,
            device._st,
            device._drive_data,
            device._busy,
            device._ack_low,
            device._ready_at,
            device._rs,
            device._src_pos,
            device._rev_pos,
            bytes(device.received),
            device.epp_address,
            bytes(device.epp_addresses),
            tuple(sorted(f.value for f in device.faults)),
            device.overruns,
            tuple(device.negotiations),
        )
    if isinstance(device, ZipDrive):
        return (device.connected, tuple(device._samples), bytes(device.received), device._ctl)
    return (type(device).__name__,)


def _everything(port: EmulatedPort) -> tuple[object, ...]:
    return (
        port._data,
        port._ctr,
        port._lines,
        port._epp_timeout,
        port.cable.head.status(),
        port.clock.next_event_ns(),
        [_state(device) for device in port.chain],
    )


def _software_port(chain: str, observed: bool) -> tuple[EmulatedPort, Ieee1284Peripheral]:
    port = open_backend(f"emu:chain={chain}&clock=manual")
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
        _everything(port),
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
    st.one_of(st.binary(max_size=300), _WATCHED),
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
    assert port._compat_burst(b"hello", 0) == 5
    assert bytes(printer.received) == b"hello"
    port.write_control(0x1C)  # nAck interrupt armed: every pulse must be seen
    assert port._compat_burst(b"x", 0) == 0
    port.write_control(0x0D)  # not between bytes
    assert port._compat_burst(b"x", 0) == 0

    port, printer = _software_port("daisy+printer", observed=False)
    port.write_control(0x0C)
    # Through a 1284.3 device: each strobe ends a frame a byte begins; only a last 0xAA would
    # leave one begun. EPP strobes nDStrb instead: it stops where a qualifier would be seen.
    assert port._compat_burst(b"ab\xaa\x55\x00\xff\x87\x78\xaa", 0) == 8
    assert port._compat_burst(b"\xaa\xaa", 0) == 0
    session = Session(port)
    assert session.negotiate(0x40).value == "accepted"
    port.write_control(0x05)
    assert port._epp_data_write_burst(b"ab\xaa\x55\x00\xff\x87\x78", 0) == 2
    assert port._epp_data_write_burst(b"ab\xaa\x55\x00", 0) == 2
    assert port._epp_data_write_burst(b"ab\xaa\x55\x11\xaa\x11", 0) == 7

    port, printer = _software_port("zip+printer", observed=False)
    printer.queue_reverse(b"data")
    assert Session(port).read(4, nt.BYTE_BIDIR).data == b"data"
    printer.queue_reverse(b"more")
    port.write_control(0x24)
    assert port._byte_burst(4) == b""  # the Zip samples nAutoFd

    port, printer = _software_port("printer", observed=True)
    port.write_control(0x0C)
    assert port._compat_burst(b"x", 0) == 0  # traced


def test_software_transfers_take_bursts() -> None:
    port, printer = _software_port("daisy+printer", observed=False)
    calls: list[int] = []
    take = port._compat_burst

    def spy(data: bytes, start: int) -> int:
        calls.append(count := take(data, start))
        return count

    port._compat_burst = spy  # type: ignore[method-assign]
    assert Session(port).write(bytes(10_000), nt.CENTRONICS).count == 10_000
    assert sum(calls) == 10_000 and len([c for c in calls if c]) == 3  # 4096 + 4096 + 1808


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from([nt.CENTRONICS, nt.IEEE_COMPATIBILITY]),  # software, the chip's FIFO
    st.sampled_from(CHAINS),
    st.one_of(st.binary(max_size=300), _WATCHED),
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


# --- EPP cycles made in software, taken many at once ---


def _epp_run(  # noqa: PLR0917 - one per axis of the property
    chain: str,
    select: bool,
    clear: str,
    response_ns: int,
    timeout_bit: bool,
    fault: tuple[Fault, int | None, int | None] | None,
    observed: bool,
    calls: list[Callable[[Session, Ieee1284Peripheral], object]],
) -> list[tuple[object, ...]]:
    """Run ``calls`` on a fresh port in EPP (software), the way the arguments say: each call's
    result, accesses, virtual time and every piece of state afterwards."""
    port = EmulatedPort(
        build_chain([{"kind": kind} for kind in chain.split("+")]), epp_timeout_clear=clear
    )
    session = Session(port)
    target = port.chain[-1]
    if "daisy" in chain:
        dot3.assign_addresses(port)
        if select:
            assert dot3.select(port, 0)
            target = port.chain[0].function  # type: ignore[attr-defined]
    assert isinstance(target, Ieee1284Peripheral)
    assert session.negotiate(0x40).value == "accepted"
    target.response_ns = response_ns
    port._epp_timeout = timeout_bit  # left set by an earlier hardware EPP cycle
    if fault is not None:
        kind, after, at_us = fault
        if at_us is not None:
            port.inject(kind, target, at_us=port.now() + at_us + 0.5)
        elif after is not None:
            port.inject(kind, target, after_bytes=after)
    if observed:
        port.add_line_observer(lambda state: None)  # every line change watched: cycle by cycle
    out = []
    for call in calls:
        start, accesses = port.now(), port.accesses
        result = call(session, target)
        out.append((result, port.accesses - accesses, port.now() - start, _everything(port)))
    return out


_EPP_FAULTS = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from([Fault.POWER_OFF, Fault.SILENT, Fault.STUCK_BUSY]),
        st.one_of(st.none(), st.integers(0, 400)),
        st.one_of(st.none(), st.integers(0, 3000)),
    ),
)
_EPP_SETUP = {
    "chain": st.sampled_from(EPP_CHAINS),
    "select": st.booleans(),
    "clear": st.sampled_from(["read", "write0", "write1"]),
    "response_ns": st.sampled_from([0, 0, 0, 2000, 15_000]),
    "timeout_bit": st.booleans(),
    "fault": _EPP_FAULTS,
}


@settings(max_examples=80, deadline=None)
@given(data=EPP_PAYLOADS, address=st.booleans(), **_EPP_SETUP)
def test_epp_software_writes_match_cycle_by_cycle(  # noqa: PLR0917 - one per axis
    data: bytes,
    address: bool,
    chain: str,
    select: bool,
    clear: str,
    response_ns: int,
    timeout_bit: bool,
    fault: tuple[Fault, int | None, int | None] | None,
) -> None:
    def write(session: Session, target: Ieee1284Peripheral) -> object:
        return session.write(data, nt.EPP_SW, address=address)

    def again(session: Session, target: Ieee1284Peripheral) -> object:
        return session.write(b"\xaa\x55\x00\xffok", nt.EPP_SW)

    setup = (chain, select, clear, response_ns, timeout_bit, fault)
    fast = _epp_run(*setup, False, [write, again])
    exact = _epp_run(*setup, True, [write, again])
    assert fast == exact
    first = fast[0][0]
    assert isinstance(first, Transfer)
    if fault is None and response_ns == 0 and chain == "printer":  # (a 1284.3 device or a Zip
        # drive on the way may take a CPP qualifier or a connect sequence in the data)
        assert (first.status, first.count) == (nt.STATUS_SUCCESS, len(data))


@settings(max_examples=80, deadline=None)
@given(
    payload=st.binary(max_size=400), want=st.integers(0, 500), address=st.booleans(), **_EPP_SETUP
)
def test_epp_software_reads_match_cycle_by_cycle(  # noqa: PLR0917 - one per axis
    payload: bytes,
    want: int,
    address: bool,
    chain: str,
    select: bool,
    clear: str,
    response_ns: int,
    timeout_bit: bool,
    fault: tuple[Fault, int | None, int | None] | None,
) -> None:
    def read(session: Session, target: Ieee1284Peripheral) -> object:
        target.queue_reverse(payload)
        return session.read(want, nt.EPP_SW, address=address)

    def again(session: Session, target: Ieee1284Peripheral) -> object:
        return session.read(7, nt.EPP_SW)

    setup = (chain, select, clear, response_ns, timeout_bit, fault)
    fast = _epp_run(*setup, False, [read, again])
    exact = _epp_run(*setup, True, [read, again])
    assert fast == exact
    first = fast[0][0]
    assert isinstance(first, Transfer)
    if fault is None and response_ns == 0 and not address and chain == "printer":
        assert first.data == (payload + b"\xff" * want)[:want]


def _set_data_lines(port: PortBackend, value: int, strobe: bool) -> None:
    """The data register at ``value``, then (``strobe``) an nStrobe pulse, which an EPP
    peripheral ignores (nWrite alone) and which ends a 1284.3 frame the value began."""
    port.write_data(value)
    if strobe:
        port.write_control(0x05)
        port.write_control(0x04)


@settings(max_examples=80, deadline=None)
@given(
    data=EPP_PAYLOADS,
    address=st.booleans(),
    register=st.sampled_from([0x00, 0x55, 0xAA, 0xFF, 0x3C]),
    strobe=st.booleans(),
    **_EPP_SETUP,
)
@example(b"xy", False, 0xAA, True, "daisy+printer", False, "write1", 0, False, None)
@example(b"x\x00\x3c\x20\xcfy", False, 0, False, "zip+printer", False, "write1", 0, False, None)
def test_epp_hardware_writes_match_cycle_by_cycle(  # noqa: PLR0917 - one per axis
    data: bytes,
    address: bool,
    register: int,
    strobe: bool,
    chain: str,
    select: bool,
    clear: str,
    response_ns: int,
    timeout_bit: bool,
    fault: tuple[Fault, int | None, int | None] | None,
) -> None:
    """String output to the EPP registers: between cycles the data lines carry the data
    register (``register``; a strobe after it ends the frame a 0xAA there began), which the
    1284.3 recognisers see too."""

    def write(session: Session, target: Ieee1284Peripheral) -> object:
        _set_data_lines(session.port, register, strobe)
        return session.write(data, nt.EPP_HW, address=address)

    def again(session: Session, target: Ieee1284Peripheral) -> object:
        return session.write(b"\xaa\x55\x00\xffok", nt.EPP_HW)

    setup = (chain, select, clear, response_ns, timeout_bit, fault)
    assert _epp_run(*setup, False, [write, again]) == _epp_run(*setup, True, [write, again])


@settings(max_examples=40, deadline=None)
@given(
    payload=st.binary(max_size=400),
    want=st.integers(0, 500),
    address=st.booleans(),
    register=st.sampled_from([0x00, 0x55, 0xAA, 0xFF]),
    strobe=st.booleans(),
    turned=st.booleans(),
    **_EPP_SETUP,
)
@example(b"ab", 3, False, 0xAA, True, False, "daisy+printer", False, "write1", 0, False, None)
@example(b"ab", 3, False, 0, False, False, "zip+printer", False, "write1", 0, False, None)
def test_epp_hardware_reads_match_cycle_by_cycle(  # noqa: PLR0917 - one per axis
    payload: bytes,
    want: int,
    address: bool,
    register: int,
    strobe: bool,
    turned: bool,
    chain: str,
    select: bool,
    clear: str,
    response_ns: int,
    timeout_bit: bool,
    fault: tuple[Fault, int | None, int | None] | None,
) -> None:
    """String input from the EPP registers, with the data lines turned around or not."""

    def read(session: Session, target: Ieee1284Peripheral) -> object:
        target.queue_reverse(payload)
        port = session.port
        _set_data_lines(port, register, strobe)
        port.write_control(0x24 if turned else 0x04)
        return port.read_epp_block(want, address), bool(port.read_status() & 0x01)

    setup = (chain, select, clear, response_ns, timeout_bit, fault)
    assert _epp_run(*setup, False, [read]) == _epp_run(*setup, True, [read])


def test_epp_software_transfers_take_bursts() -> None:
    """Whole chunks at once, five accesses and 5 µs a byte, as the loop makes them."""
    port, printer = _software_port("printer", observed=False)
    session = Session(port)
    calls: list[int] = []
    take = port._epp_data_write_burst

    def spy(data: bytes, start: int) -> int:
        calls.append(count := take(data, start))
        return count

    port._epp_data_write_burst = spy  # type: ignore[method-assign]
    assert session.negotiate(0x40).value == "accepted"
    start, accesses = port.now(), port.accesses
    assert session.write(bytes(10_000), nt.EPP_SW).count == 10_000
    assert calls == [4096, 4096, 1808]
    assert (port.accesses - accesses, port.now() - start) == (2 + 50_000, 2 + 50_000.0)
    printer.queue_reverse(b"r" * 5000)
    result = session.read(5000, nt.EPP_SW)
    assert result.data == b"r" * 5000 and result.accesses == 2 + 25_000


@pytest.mark.parametrize(
    "mode", [nt.CENTRONICS, nt.NIBBLE, nt.BYTE_BIDIR, nt.EPP_SW, nt.ECP_SW, nt.EPP_HW]
)
def test_bursts_are_busy_time_on_a_paced_clock(mode: int) -> None:
    """A burst stands for register accesses, not for waiting: on a paced clock (the default)
    it never becomes the long idle wait that passes at wall-clock pace, however much virtual
    time its chunk takes (a byte-mode chunk: 57 ms)."""
    clock = VirtualClock(paced=True)
    port = EmulatedPort(build_chain([{"kind": "printer"}]), clock=clock)
    idle_waits: list[int] = []

    def idle_wait(when_ns: int) -> None:
        idle_waits.append(when_ns)
        clock._now = when_ns

    clock._wait_at_wall_pace = idle_wait  # type: ignore[method-assign]
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    session = Session(port, ecp_rle=False)
    payload = bytes(range(256)) * 80
    if mode & FORWARD_MODES:
        assert session.write(payload, mode).count == len(payload)
    if mode & REVERSE_MODES:
        printer.queue_reverse(payload)
        assert session.read(len(payload), mode).data == payload
    port.close()
    assert idle_waits == []


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
_FRAMES = st.sampled_from([0xE0, 0xE1, 0xD0, 0x20, 0x30, 0x08]).map(cpp_frame)


def _script_outcome(chain: str, scripts: list[list[Step]], generic: bool) -> tuple[object, ...]:
    port = open_backend(f"emu:chain={chain}&clock=manual")
    assert isinstance(port, EmulatedPort)
    dot3.assign_addresses(port)
    port.write_ecr(0x34)  # PS/2 mode: control bit 5 turns the data lines around
    interrupts: list[int] = []
    port.set_interrupt_handler(lambda: interrupts.append(port.clock.now_ns()))
    start, accesses = port.now(), port.accesses
    run = (lambda steps: run_steps(port, steps)) if generic else port.run_script
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
    waits = port.run_script(cpp_frame(0xE1))
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
            run_steps(port, steps)
    assert fired == ["emulator", "generic"]
