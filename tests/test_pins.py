"""``parport.pins``: pin levels on the emulator's lines and in its VCD trace, pulses held on the
port's clock, automatic allocation against holders, raw registers refused outside a hold, and
threads sharing one port."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vcd.reader import TokenKind, tokenize

import parport
from parport import nt
from parport.hw.backend import LineState
from parport.pins import (
    CONTROL_PINS,
    DATA_PINS,
    PIN_NAMES,
    STATUS_PINS,
    ControlLines,
    PinLevels,
    Pins,
    StatusLines,
    parse_level,
)

MANUAL = "clock=manual"
PORT = "\\Device\\ParallelPort0"
ALLOCATE = nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE
FREE = nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE
WAIT = 30.0


def vcd_changes(path: Path | str) -> dict[str, list[tuple[int, int]]]:
    """Every variable of a VCD file by name: [(time ns, value)], the initial value at time 0."""
    by_id: dict[str, str] = {}
    changes: dict[str, list[tuple[int, int]]] = {}
    time = 0
    with open(path, "rb") as file:
        for token in tokenize(file):
            if token.kind is TokenKind.VAR:
                by_id[token.var.id_code] = token.var.reference
                changes[token.var.reference] = []
            elif token.kind is TokenKind.CHANGE_TIME:
                time = token.time_change
            elif token.kind is TokenKind.CHANGE_SCALAR:
                value = token.scalar_change.value
                changes[by_id[token.scalar_change.id_code]].append((time, int(value == "1")))
            elif token.kind is TokenKind.CHANGE_VECTOR:
                vector = token.vector_change
                value = vector.value if isinstance(vector.value, int) else 0
                changes[by_id[vector.id_code]].append((time, value))
    return changes


def level_at(changes: list[tuple[int, int]], time: int) -> int:
    """The value a VCD variable had at ``time``."""
    value = changes[0][1]
    for at, new in changes:
        if at > time:
            break
        value = new
    return value


class Recorder:
    """Every line change of an emulated port, in order (the emulator's line observer)."""

    def __init__(self, bus: parport.Bus) -> None:
        self.states: list[LineState] = []
        bus.hardware.add_line_observer(self.states.append)

    def data(self) -> list[tuple[int, int]]:
        """(time ns, data byte) at each change of the data lines."""
        out: list[tuple[int, int]] = []
        for state in self.states:
            if not out or out[-1][1] != state.data:
                out.append((state.time_ns, state.data))
        return out


@pytest.fixture
def loop() -> Iterator[parport.Bus]:
    """The loopback plug (D0→nFault, D1→Select, D2→PError, D3→nAck, D4→Busy), manual clock,
    data lines at 0 (detection leaves 0xFF in the latch)."""
    with parport.open(f"emu:chain=loopback&{MANUAL}") as bus:
        bus.pins.set_data(0)
        yield bus


# --- levels on the lines --------------------------------------------------------------------------
@given(st.integers(0, 255))
def test_set_data_puts_the_byte_on_d0_d7(value: int) -> None:
    with parport.open(f"emu:chain=&{MANUAL}") as bus:
        bus.pins.set_data(value)
        assert bus.hardware.line_state().data == value
        assert bus.pins.read_data() == value == bus.pins.data
        levels = bus.pins.read_pins()
        assert [levels[pin] for pin in DATA_PINS] == [bool(value >> b & 1) for b in range(8)]


def test_data_property_and_numpy_like_ints(loop: parport.Bus) -> None:
    class Index:
        def __index__(self) -> int:
            return 0x42

    loop.pins.data = 0x81
    assert loop.hardware.line_state().data == 0x81
    loop.pins.set_data(Index())  # type: ignore[arg-type]
    assert loop.pins.data == 0x42


@pytest.mark.parametrize(
    ("byte", "expected"),
    [
        (0x00, {"nAck": False, "Busy": False, "PError": False, "Select": False, "nFault": False}),
        (0x1F, {"nAck": True, "Busy": True, "PError": True, "Select": True, "nFault": True}),
        (0x01, {"nAck": False, "Busy": False, "PError": False, "Select": False, "nFault": True}),
        (0x10, {"nAck": False, "Busy": True, "PError": False, "Select": False, "nFault": False}),
        (0x0A, {"nAck": True, "Busy": False, "PError": False, "Select": True, "nFault": False}),
    ],
)
def test_status_pins_read_as_levels_busy_included(
    loop: parport.Bus, byte: int, expected: dict[str, bool]
) -> None:
    loop.pins.set_data(byte)
    status = loop.pins.status
    assert dict(status) == expected
    assert status == expected  # a Mapping compares with a dict
    pins = {10: "nAck", 11: "Busy", 12: "PError", 13: "Select", 15: "nFault"}
    for pin, name in pins.items():
        assert loop.pins.read_pin(pin) is expected[name]
    # Busy is the one inverted status line: its register bit is the opposite of its level.
    assert bool(status.register & 0x80) is not expected["Busy"]
    assert status.by_pin() == {pin: expected[name] for pin, name in pins.items()}


def test_status_prints_by_name(loop: parport.Bus) -> None:
    loop.pins.set_data(0x19)  # nFault H, nAck H, Busy H
    status = loop.pins.status
    assert str(status) == "nAck=H Busy=H PError=L Select=L nFault=H"
    assert repr(status).startswith("<StatusLines nAck=H Busy=H")
    assert status.Busy is True and status["Select"] is False
    # Asserted in IEEE 1284 terms: Busy (high), PError/Select are low so not asserted, the
    # n-lines nAck and nFault are high so not asserted.
    assert status.asserted == ("Busy",)
    with pytest.raises(AttributeError):
        _ = status.Nope


@pytest.mark.parametrize(
    ("pin", "bit"), [(1, 0), (14, 1), (16, 2), (17, 3)], ids=["nStrobe", "nAutoFd", "nInit", "nSel"]
)
def test_control_pins_by_level_on_the_lines(loop: parport.Bus, pin: int, bit: int) -> None:
    for level in (False, True, False):
        loop.pins.set_pin(pin, level)
        assert bool(loop.hardware.line_state().control >> bit & 1) is level
        assert loop.pins.read_pin(pin) is level
        assert loop.pins.control[PIN_NAMES[pin]] is level


def test_control_prints_by_name_and_reports_direction(loop: parport.Bus) -> None:
    control = loop.pins.control
    assert isinstance(control, ControlLines)
    assert str(control) == "nStrobe=H nAutoFd=H nInit=H nSelectIn=L"  # the idle 0x0C
    assert control.register & 0x0F == 0x0C
    assert control.asserted == ("nSelectIn",)
    loop.pins.set_direction(True)
    assert loop.pins.reverse and loop.pins.control.reverse
    assert str(loop.pins.control).endswith("(data lines are inputs)")
    loop.pins.set_direction(False)
    assert not loop.pins.reverse


def test_set_pins_in_one_request(loop: parport.Bus) -> None:
    loop.pins.set_data(0xF0)
    recorder = Recorder(loop)
    loop.pins.set_pins({2: 1, 3: "H", 9: 0, 1: "L", 17: "high"})
    assert loop.hardware.line_state().data == 0x73
    assert loop.pins.control == {
        "nStrobe": False,
        "nAutoFd": True,
        "nInit": True,
        "nSelectIn": True,
    }
    # The data pins changed together (one write), not one by one.
    assert [d for _, d in recorder.data()] == [0xF0, 0x73]
    loop.pins.set_pins({})


def test_set_pin_is_a_read_modify_write_of_one_line(loop: parport.Bus) -> None:
    loop.pins.set_data(0b1010_1010)
    loop.pins.set_pin(2, True)
    loop.pins.set_pin(9, False)
    assert loop.pins.data == 0b0010_1011


def test_read_pins_is_every_pin_and_prints_a_table(loop: parport.Bus) -> None:
    loop.pins.set_data(0x01)
    levels = loop.pins.read_pins()
    assert isinstance(levels, PinLevels)
    assert list(levels) == list(range(1, 18)) and len(levels) == 17
    assert levels[2] is True and levels[15] is True and levels[17] is False
    assert isinstance(levels.status, StatusLines) and levels.data == 0x01
    text = str(levels).splitlines()
    assert text[0] == "data 0x01"
    assert text[1].split() == ["1", "nStrobe", "out", "H"]
    assert text[11].split() == ["11", "Busy", "in", "L"]
    assert "status: nAck=L" in repr(levels)
    rows = levels.table()
    assert {row[0] for row in rows if row[2] == "in"} == set(STATUS_PINS)
    loop.pins.set_direction(True)
    rows = loop.pins.read_pins().table()
    assert {row[0] for row in rows if row[2] == "in"} == set(STATUS_PINS) | set(DATA_PINS)
    assert str(loop.pins.read_pins()).startswith("data 0xFF (inputs)")


def test_reverse_reads_what_the_peripheral_drives() -> None:
    with parport.open(f"emu:chain=printer&hw=ps2&{MANUAL}") as bus:
        bus.pins.set_data(0x12)
        bus.pins.set_direction(True)
        state = bus.hardware.line_state()
        assert state.reverse and state.data == 0xFF  # nobody drives: pull-ups
        assert bus.pins.read_data() == 0xFF
        bus.pins.set_direction(False)
        assert bus.hardware.line_state().data == 0x12  # the latch drives again


# --- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("pin", [0, 18, 25, 26, -1])
def test_pins_without_a_signal_are_refused(loop: parport.Bus, pin: int) -> None:
    with pytest.raises(ValueError, match=f"pin {pin} carries no signal"):
        loop.pins.read_pin(pin)
    with pytest.raises(ValueError, match="carries no signal"):
        loop.pins.set_pin(pin, 1)


@pytest.mark.parametrize("pin", STATUS_PINS)
def test_status_pins_cannot_be_driven(loop: parport.Bus, pin: int) -> None:
    with pytest.raises(ValueError, match="is a status input: read it"):
        loop.pins.set_pin(pin, 1)
    with pytest.raises(ValueError, match="is a status input"):
        loop.pins.pulse_pin(pin, 0.001)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda p: p.set_data(256), ValueError, "the data byte must be 0..255, not 256"),
        (lambda p: p.set_data(-1), ValueError, "0..255"),
        (lambda p: p.set_data(1.0), TypeError, "must be an int, not float"),
        (lambda p: p.set_data(True), TypeError, "not a bool"),
        (lambda p: p.set_data("1"), TypeError, "not str"),
        (lambda p: p.read_pin("2"), TypeError, "pin"),
        (lambda p: p.set_pin(2, 2), ValueError, "a pin level is 0 or 1, not 2"),
        (lambda p: p.set_pin(2, "maybe"), ValueError, "1/0, H/L or high/low"),
        (lambda p: p.pulse(1, -0.001), ValueError, "width_s must be 0..10 s"),
        (lambda p: p.pulse(1, 11), ValueError, "width_s must be 0..10 s"),
        (lambda p: p.pulse(1, "5ms"), TypeError, "number of seconds"),
        (lambda p: p.pulse(300, 0.001), ValueError, "the code must be 0..255"),
        (lambda p: p.pulse(1, 0.001, idle=-1), ValueError, "the idle byte"),
    ],
)
def test_bad_values_are_refused_before_anything_is_sent(
    loop: parport.Bus, call: object, error: type[Exception], match: str
) -> None:
    loop.pins.set_data(0x33)
    accesses = loop.hardware.accesses
    with pytest.raises(error, match=match):
        call(loop.pins)  # type: ignore[operator]
    assert loop.hardware.accesses == accesses
    assert loop.hardware.line_state().data == 0x33


def test_parse_level() -> None:
    assert [parse_level(v) for v in (1, 0, True, "H", "l", "High", "low", " 1 ")] == [
        True, False, True, True, False, True, False, True,
    ]  # fmt: skip


# --- pulses on the port's clock -------------------------------------------------------------------
def test_pulse_holds_the_code_for_its_width_on_the_ports_clock(loop: parport.Bus) -> None:
    recorder = Recorder(loop)
    port = loop.hardware
    start = port.clock.now_ns()
    loop.pins.pulse(0x05, 0.005)
    changes = recorder.data()
    assert [d for _, d in changes] == [0x00, 0x05, 0x00]
    (_, _), (t_set, _), (t_reset, _) = changes
    # One register access (1 µs on the emulated ISA port) each side of the 5 ms hold.
    assert t_reset - t_set == 5_000_000 + 1_000
    assert port.clock.now_ns() - start == 5_000_000 + 2_000
    loop.pins.pulse(0x07, 0, idle=0x80)
    assert [d for _, d in recorder.data()][-2:] == [0x07, 0x80]


def test_pulse_in_the_vcd_trace(tmp_path: Path) -> None:
    vcd = tmp_path / "pulse.vcd"
    with parport.open(f"spy:emu:chain=&{MANUAL}?vcd={vcd}") as bus:
        bus.pins.set_data(0)
        bus.pins.pulse(0x05, 0.002)
        bus.pins.pulse_pin(1, 0.000_5, "L")
    changes = vcd_changes(vcd)
    data = changes["data"]
    assert [v for _, v in data][-3:] == [0x00, 0x05, 0x00]
    data = data[-3:]
    t_set, t_reset = data[1][0], data[2][0]
    assert t_reset - t_set == 2_001_000
    # D0 and D2 (pins 2 and 4) high during the pulse, D1 low throughout.
    middle = (t_set + t_reset) // 2
    assert level_at(changes["D0"], middle) == 1 and level_at(changes["D2"], middle) == 1
    assert level_at(changes["D1"], middle) == 0
    assert level_at(changes["D0"], t_reset) == 0
    strobe = changes["nStrobe"]
    assert [v for _, v in strobe] == [1, 0, 1]
    assert strobe[2][0] - strobe[1][0] == 502_000  # the hold, a read and a write (1 µs each)


def test_pulse_pin_on_a_data_and_a_control_line(loop: parport.Bus) -> None:
    recorder = Recorder(loop)
    loop.pins.pulse_pin(9, 0.001)  # D7 high for 1 ms
    assert [d for _, d in recorder.data()] == [0x00, 0x80, 0x00]
    loop.pins.pulse_pin(16, 0.001, 0)  # nInit low for 1 ms (reset a peripheral)
    inits = [s.control >> 2 & 1 for s in recorder.states]
    assert inits[-1] == 1 and 0 in inits


# --- automatic allocation, holders and raw registers ----------------------------------------------
def test_each_call_takes_the_port_and_gives_it_back() -> None:
    with parport.open(f"emu:chain=printer&{MANUAL}") as bus:
        arbiter = bus.driver.fdo.arbiter  # type: ignore[attr-defined]
        owners: list[object] = []
        bus.pins.set_data(1)
        arbiter.on_owner_change = owners.append
        bus.pins.set_data(1)
        bus.pins.read_pins()
        assert len(owners) == 4 and owners[1] is None and owners[3] is None
        assert owners[0] is owners[2]  # through the port's handle
        assert arbiter.owner is None


def test_a_call_waits_in_the_fifo_while_another_holds_the_port() -> None:
    with parport.open(f"emu:chain=printer&{MANUAL}") as bus:
        arbiter = bus.driver.fdo.arbiter  # type: ignore[attr-defined]
        bus.pins.set_data(0)
        other = bus.create_file("\\Device\\ParallelPort0")
        other.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
        done = threading.Event()

        def trigger() -> None:
            bus.pins.set_data(0x5A)
            done.set()

        thread = threading.Thread(target=trigger)
        thread.start()
        assert arbiter.wait_for(lambda a: a.query_num_waiters() == 1, 30)
        assert not done.is_set() and bus.hardware.line_state().data == 0
        other.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE)
        thread.join(30)
        assert done.is_set() and bus.hardware.line_state().data == 0x5A
        other.close()


def test_timeout_cancels_a_call_that_cannot_get_the_port() -> None:
    with parport.open(f"emu:chain=printer&{MANUAL}") as bus:
        bus.pins.set_data(0)
        other = bus.create_file("\\Device\\ParallelPort0")
        other.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
        pins = Pins(bus, timeout=0.05)
        with pytest.raises(parport.IoTimeoutError, match=r"not free within 0\.05 s") as error:
            pins.set_data(0x77)
        assert isinstance(error.value, TimeoutError)
        assert bus.port.waiters == 0  # cancelled: nothing left queued
        other.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE)
        assert bus.hardware.line_state().data == 0
        pins.set_data(0x77)
        assert bus.hardware.line_state().data == 0x77
        other.close()


def test_calls_inside_a_device_lock_run_in_the_lock() -> None:
    with parport.open(f"emu:{MANUAL}") as bus:
        d0 = bus.hardware.chain[0]  # type: ignore[attr-defined]
        with bus.device("LPT1.0") as dev, dev.locked():
            assert d0.selected
            bus.pins.set_data(0x3C)  # would wait forever if it queued behind the lock
            assert bus.pins.read_register("data") == 0x3C
            assert bus.pins.read_pin(2) is False
            assert bus.port.waiters == 0
        assert not d0.selected


def test_calls_inside_port_allocated_run_in_the_hold() -> None:
    with parport.open(f"emu:chain=printer&{MANUAL}") as bus, bus.port.allocated(timeout=5):
        bus.pins.pulse(0x01, 0.001)
        bus.pins.write_register("control", 0x0D)  # nStrobe asserted (register bit 0 set)
        assert bus.pins.read_register(2) & 0x0F == 0x0D
        assert bus.pins.read_pin(1) is False
        assert bus.pins.read_register("status") == bus.pins.status.register


def test_raw_registers_are_refused_outside_a_hold(loop: parport.Bus) -> None:
    accesses = loop.hardware.accesses
    for call in (
        lambda: loop.pins.read_register("data"),
        lambda: loop.pins.write_register("control", 0x0C),
    ):
        with pytest.raises(parport.InvalidDeviceStateError, match="raw register access needs"):
            call()
    assert loop.hardware.accesses == accesses
    with loop.port.allocated():
        with pytest.raises(ValueError, match="data, status or control"):
            loop.pins.read_register("ecr")
        with pytest.raises(ValueError, match="data, status or control"):
            loop.pins.read_register(3)


def test_a_pins_object_on_its_own_port_handle_keeps_its_hold() -> None:
    with parport.open(f"emu:chain=printer&{MANUAL}") as bus:
        own = parport.Port(bus, bus.port_names[0])
        mine = Pins(bus, port=own)
        with own.allocated():
            mine.set_data(0x11)  # through its own, holding, handle
            assert mine.read_register("data") == 0x11
            others = Pins(bus, timeout=0.05)  # through bus.port: queues behind the hold
            with pytest.raises(parport.IoTimeoutError):
                others.set_data(0x22)
            with pytest.raises(parport.InvalidDeviceStateError):
                others.read_register("data")
        others.set_data(0x22)
        assert bus.hardware.line_state().data == 0x22
        own.close()


def test_two_threads_pulsing_never_interleave(loop: parport.Bus) -> None:
    recorder = Recorder(loop)
    start = threading.Barrier(2)

    def pulses(code: int) -> None:
        start.wait()
        for _ in range(150):
            loop.pins.pulse(code, 0.0001)

    threads = [threading.Thread(target=pulses, args=(code,)) for code in (0x0A, 0x50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    values = [d for _, d in recorder.data()][1:]
    assert values == [x for pair in zip(values[::2], [0] * 300, strict=False) for x in pair]
    assert sorted(values[::2]) == [0x0A] * 150 + [0x50] * 150
    # Each pulse held its full width: nobody's access fell inside another's hold.
    times = [t for t, _ in recorder.data()][1:]
    assert all(b - a == 101_000 for a, b in zip(times[::2], times[1::2], strict=True))


# --- lifetime -------------------------------------------------------------------------------------
def test_closed_pins_refuse_and_the_bus_gives_new_ones(loop: parport.Bus) -> None:
    pins = loop.pins
    assert loop.pins is pins
    pins.close()
    pins.close()
    assert pins.closed and "closed" in repr(pins)
    with pytest.raises(parport.InvalidDeviceStateError, match="these pins are closed"):
        pins.set_data(1)
    assert loop.pins is not pins
    loop.pins.set_data(1)
    with Pins(loop) as own:
        own.set_data(2)
    assert own.closed


def test_pin_tables_are_the_connectors() -> None:
    assert DATA_PINS == (2, 3, 4, 5, 6, 7, 8, 9)
    assert CONTROL_PINS == (1, 14, 16, 17) and STATUS_PINS == (10, 11, 12, 13, 15)
    assert PIN_NAMES[1] == "nStrobe" and PIN_NAMES[11] == "Busy" and PIN_NAMES[17] == "nSelectIn"


def test_modes_and_device_status_name_themselves() -> None:
    """``parport.Mode`` lists every mode; modes and status flags carry their names."""
    assert {m.name for m in parport.Mode} >= {
        "CENTRONICS", "IEEE_COMPATIBILITY", "NIBBLE", "CHANNEL_NIBBLE", "BYTE_BIDIR", "EPP_HW",
        "EPP_SW", "BOUNDED_ECP", "ECP_HW_NOIRQ", "ECP_HW_IRQ", "ECP_SW",
    }  # fmt: skip
    with parport.open(f"emu:chain=printer&{MANUAL}") as bus, bus.device("LPT1.4") as dev:
        forward, reverse = dev.modes
        assert (forward.name, reverse.name) == ("CENTRONICS", "NIBBLE")
        assert repr(dev.status) == "<DeviceStatus.SELECTED: 128>"
        chosen = dev.negotiate(parport.Mode.ECP)
        assert [m.name for m in chosen] == ["ECP_HW_NOIRQ", "ECP_HW_NOIRQ"]
        assert "ECP_HW_NOIRQ" in repr(chosen)


def test_modes_and_device_status_print_by_name() -> None:
    with parport.open(f"emu:chain=printer&{MANUAL}") as bus, bus.device("LPT1.4") as dev:
        assert str(dev.status) == "SELECTED"
        assert str(dev.modes[0]) == "CENTRONICS"


def test_a_pin_write_takes_its_turn_when_somebody_waits_for_the_port() -> None:
    """The short way (no request) is only taken on a free port with nobody queued: with the
    port held and a request waiting, a pin write waits behind that request (FIFO)."""
    with parport.open(f"emu:chain=printer&{MANUAL}") as bus:
        holder = bus.create_file(PORT)
        queued = bus.create_file(PORT)
        assert holder.internal_device_control(ALLOCATE).status == nt.STATUS_SUCCESS
        waiting = queued.submit_internal_device_control(ALLOCATE)
        order: list[str] = []
        waiting.add_done_callback(lambda _: order.append("queued request"))

        def pin_write() -> None:
            bus.pins.set_data(0x5A)
            order.append("pin write")

        writer = threading.Thread(target=pin_write, daemon=True)
        writer.start()
        arbiter = bus.driver.fdo.arbiter  # the pin write's request queues behind the ALLOCATE
        assert arbiter.wait_for(lambda a: a.query_num_waiters() == 2, WAIT)
        assert holder.internal_device_control(FREE).status == nt.STATUS_SUCCESS
        assert waiting.wait(WAIT) is not None and order == ["queued request"]
        assert queued.internal_device_control(FREE).status == nt.STATUS_SUCCESS
        writer.join(WAIT)
        assert order == ["queued request", "pin write"]
        assert bus.pins.read_data() == 0x5A
        holder.close()
        queued.close()
