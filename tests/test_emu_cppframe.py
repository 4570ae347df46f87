"""A whole CPP frame at once (parport.hw.emu.cppframe): the same status reads, accesses, virtual
time, lines, 1284.3 device state and peripheral state as the frame emulated line by line (forced
by a line observer), from every state a chain can reach; and the lock/unlock path takes it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from parport import nt
from parport.driver import open_bus
from parport.hw.emu import (
    DaisyDevice,
    EmulatedPort,
    Fault,
    Ieee1284Peripheral,
    Peripheral,
    Printer,
    ZipDrive,
)
from parport.hw.handshake import SLEEP, WAIT, WRITE_CONTROL, WRITE_DATA, cpp_frame
from parport.ieee1284 import Session, dot3

# The answer is polled 4 µs after the strobe: up to 4000 the frame can run at once.
LATENCIES_NS = st.integers(0, 9).flatmap(
    lambda n: st.sampled_from([0, 1000, 3000, 4000] if n else [4001, 9000])
)


def _chain(latencies: list[int], tail: str) -> list[Peripheral]:
    devices: list[Peripheral] = [
        DaisyDevice(f"d{i}", f"MFG:A;MDL:D{i};", select_latency_ns=latency)
        for i, latency in enumerate(latencies)
    ]
    if tail == "printer":
        devices.append(Printer("printer"))
    elif tail == "zip":
        devices.append(ZipDrive("zip"))
    return devices


def _state(device: Peripheral) -> tuple[object, ...]:
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
            device.select_mode,
            device.address,
            tuple(device.frames),
            _state(device.function),
        )
    if isinstance(device, Ieee1284Peripheral):
        return (
            device._ctl,
            device._data,
            device.phase,
            bytes(device.received),
            device._busy,
            device._ready_at,
            device.overruns,
            tuple(device.negotiations),
        )
    return (type(device).__name__, getattr(device, "connected", None))


# Actions on the port: a 1284.3 command, any register script, a fault, a printer byte, an IEEE
# 1284 negotiation of whatever is selected — all of it moves the chain to some state.
_COMMANDS = st.sampled_from(
    [0xE0, 0xE1, 0xE2, 0xD1, 0x20, 0x29] + [0x30] * 5 + [0x3F, 0xE3, 0xE5, 0x08]
)
_STEPS = st.one_of(
    st.tuples(st.just(WRITE_DATA), st.sampled_from([0x00, 0x30, 0x55, 0x78, 0xAA, 0xFF])),
    st.tuples(st.just(WRITE_CONTROL), st.sampled_from([0x04, 0x05, 0x0C, 0x0D, 0x08, 0x06])),
    st.tuples(st.just(SLEEP), st.sampled_from([0.0, 1.0, 3.0])),
    st.tuples(
        st.just(WAIT), st.just(0x08), st.sampled_from([0x00, 0x08]), st.just(5.0), st.just(False)
    ),
)
_FRAME = st.tuples(st.just("frame"), _COMMANDS)
_OTHER = st.one_of(
    st.tuples(st.just("script"), st.lists(_STEPS, max_size=12)),
    st.tuples(st.just("partial"), _COMMANDS, st.integers(1, 20)),  # a frame cut short
    st.tuples(
        st.just("fault"), st.integers(0, 3), st.sampled_from([Fault.SILENT, Fault.POWER_OFF])
    ),
    st.tuples(st.just("clear"), st.integers(0, 3)),
    st.tuples(st.just("print"), st.binary(min_size=1, max_size=3)),
    st.tuples(st.just("negotiate"), st.sampled_from([nt.NIBBLE, nt.BYTE_BIDIR]), st.booleans()),
    st.tuples(st.just("address"), st.integers(0, 2), st.integers(0, 3)),
    st.tuples(st.just("timer"), st.integers(0, 60)),
    st.tuples(st.just("epp")),  # an EPP read cycle: nobody answers, the timeout bit is set
)
# Mostly frames, so that chains reach the states a whole frame starts from.
_ACTIONS = st.integers(0, 9).flatmap(lambda n: _FRAME if n < 6 else _OTHER)


def _act(port: EmulatedPort, action: tuple[object, ...]) -> object:
    kind = action[0]
    chain = port.chain
    if kind == "frame":
        command = action[1]
        assert isinstance(command, int)
        return port.run_script(cpp_frame(command))
    if kind == "script":
        steps = action[1]
        assert isinstance(steps, list)
        return port.run_script(steps)
    if kind == "partial":
        command, length = action[1], action[2]
        assert isinstance(command, int) and isinstance(length, int)
        return port.run_script(cpp_frame(command)[:length])
    if kind in ("fault", "clear"):
        index = action[1]
        assert isinstance(index, int)
        if index < len(chain):
            device = chain[index]
            if kind == "clear":
                for fault in list(device.faults):
                    device.clear(fault)
            else:
                fault = action[2]
                assert isinstance(fault, Fault)
                device.inject(fault)
        return None
    if kind == "print":
        data = action[1]
        assert isinstance(data, bytes)
        return Session(port).write(data, nt.CENTRONICS).count
    if kind == "negotiate":  # whatever is on the lines; left in the mode or terminated
        mode, terminate = action[1], action[2]
        assert isinstance(mode, int)
        session = Session(port)
        outcome = session.negotiate(mode)
        if terminate:
            session.terminate()
        return outcome
    if kind == "address":  # a device that kept an address: two may hold the same one
        index, address = action[1], action[2]
        assert isinstance(index, int) and isinstance(address, int)
        if index < len(chain) and isinstance(chain[index], DaisyDevice):
            chain[index].address = address  # type: ignore[attr-defined]
        return None
    if kind == "epp":
        return port.read_epp_data()
    delay = action[1]  # something due a little later: a frame must not run across it
    assert isinstance(delay, int)
    port.clock.call_later(delay * 1000, lambda: None)
    return None


def _run(  # noqa: PLR0917 - one per axis
    latencies: list[int],
    tail: str,
    assign: bool,
    clear: str,
    actions: list[tuple[object, ...]],
    slow: bool,
) -> list[tuple[object, ...]]:
    port = EmulatedPort(_chain(latencies, tail), epp_timeout_clear=clear)
    if slow:
        port.add_line_observer(lambda state: None)  # every line change watched: line by line
    if assign:
        dot3.assign_addresses(port)
    seen = []
    for action in actions:
        start, accesses = port.now(), port.accesses
        result = _act(port, action)
        seen.append(
            (
                action,
                repr(result),
                port.accesses - accesses,
                port.now() - start,
                port.cable.head.status(),
                port._lines,
                port.read_control(),
                port._epp_timeout,
                [_state(device) for device in port.chain],
                port.clock.next_event_ns(),
            )
        )
    return seen


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(LATENCIES_NS, min_size=1, max_size=3),
    st.integers(0, 5).map(lambda n: ["zip", "none"][n] if n < 2 else "printer"),
    st.booleans(),
    st.sampled_from(["read", "write0", "write1"]),  # how the chip clears the EPP timeout bit
    st.lists(_ACTIONS, min_size=1, max_size=20),
)
def test_a_frame_at_once_equals_the_frame_line_by_line(
    latencies: list[int], tail: str, assign: bool, clear: str, actions: list[tuple[object, ...]]
) -> None:
    fast = _run(latencies, tail, assign, clear, actions, slow=False)
    slow = _run(latencies, tail, assign, clear, actions, slow=True)
    for step_fast, step_slow in zip(fast, slow, strict=True):
        assert step_fast == step_slow


def _count_line_changes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A counter of the line changes the 1284.3 devices hear one by one (none in a whole frame)."""
    heard = [0]
    real = DaisyDevice.drive

    def drive(self: DaisyDevice, data: int | None, control: int) -> None:
        heard[0] += 1
        real(self, data, control)

    monkeypatch.setattr(DaisyDevice, "drive", drive)
    return heard


def test_lock_unlock_and_handoff_take_whole_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    bus = open_bus("emu:")
    first, second = bus.create_file("LPT1.0"), bus.create_file("LPT1.1")
    port = bus.hardware
    assert isinstance(port, EmulatedPort)
    lock, unlock = nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT
    for handle in (first, second):  # the first frames on a fresh chain may run line by line
        assert handle.internal_device_control(lock).status == nt.STATUS_SUCCESS
        assert handle.internal_device_control(unlock).status == nt.STATUS_SUCCESS
    heard = _count_line_changes(monkeypatch)
    daisy0, daisy1 = port.chain[:2]
    assert isinstance(daisy0, DaisyDevice) and isinstance(daisy1, DaisyDevice)
    for handle, daisy in ((first, daisy0), (second, daisy1), (first, daisy0)):
        start = port.now()
        assert handle.internal_device_control(lock).status == nt.STATUS_SUCCESS
        assert daisy.selected and port.selected_address == daisy.address
        assert port.now() - start >= 43.0  # a whole frame's hardware time was charged
        assert handle.internal_device_control(unlock).status == nt.STATUS_SUCCESS
        assert not daisy.selected and port.selected_address is None
    assert heard == [0]
    bus.close()


def _aa_after_a_reset(port: EmulatedPort) -> None:
    port.write_control(0x08)  # nInit and nSelectIn low: a 1284.3 reset, the recognisers deaf
    port.write_data(0xAA)
    port.write_control(0x0C)


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda port: port.add_line_observer(lambda state: None), "a trace watches every line"),
        (lambda port: port.clock.call_later(20_000, lambda: None), "an event due in the frame"),
        (lambda port: port.chain[0].inject(Fault.SILENT), "a device that stopped answering"),
        (lambda port: setattr(port.chain[0], "select_latency_ns", 5000), "a slow answer"),
        (_aa_after_a_reset, "data lines already at AA: the frame never starts"),
    ],
)
def test_frames_run_line_by_line_when_something_could_tell(
    monkeypatch: pytest.MonkeyPatch, make: Callable[[EmulatedPort], object], why: str
) -> None:
    port = EmulatedPort(_chain([3000, 3000], "printer"))
    dot3.assign_addresses(port)
    dot3.deselect_all(port)
    heard = _count_line_changes(monkeypatch)
    assert dot3.deselect_all(port)
    assert heard == [0], "the common case runs at once"
    make(port)
    heard[0] = 0
    dot3.deselect_all(port)
    assert heard[0] > 0, why  # the devices heard the frame line by line


def _select_inside_an_event(slow: bool) -> tuple[object, ...]:
    port = EmulatedPort(_chain([3000, 3000], "printer"))
    if slow:
        port.add_line_observer(lambda state: None)
    dot3.assign_addresses(port)
    dot3.deselect_all(port)
    answers: list[dot3.CppAnswer] = []

    def event() -> None:
        answers.append(dot3.send_command(port, 0xE0))

    port.clock.call_later(1000, event)
    port.sleep(2)
    daisy = port.chain[0]
    assert isinstance(daisy, DaisyDevice)
    return answers[0], daisy.selected, port.now(), port.accesses, port.clock.next_event_ns()


def test_a_frame_sent_from_inside_an_event_runs_line_by_line() -> None:
    """Inside a clock event time only moves: the frame's select timer is left pending, so the
    answer is not seen in the frame, as line by line."""
    outcome = _select_inside_an_event(slow=False)
    assert outcome == _select_inside_an_event(slow=True)
    answer, selected, _, _, pending = outcome
    assert isinstance(answer, dot3.CppAnswer)
    assert (answer.qualified, answer.accepted, selected) == (True, False, False)
    assert pending is not None  # the select timer, still to fire
