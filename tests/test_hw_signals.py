"""The polarity table: register bits to pin levels and IEEE 1284 names (ieee1284.md §1.2–§1.5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parport.hw import signals
from parport.hw.signals import Register, Signal

# (signal, pin, register, mask, inverted by hardware) from the DB-25 table of §1.2.
PINS = [
    (Signal.nStrobe, 1, Register.CONTROL, 0x01, True),
    (Signal.D0, 2, Register.DATA, 0x01, False),
    (Signal.D7, 9, Register.DATA, 0x80, False),
    (Signal.nAck, 10, Register.STATUS, 0x40, False),
    (Signal.Busy, 11, Register.STATUS, 0x80, True),
    (Signal.PError, 12, Register.STATUS, 0x20, False),
    (Signal.Select, 13, Register.STATUS, 0x10, False),
    (Signal.nAutoFd, 14, Register.CONTROL, 0x02, True),
    (Signal.nFault, 15, Register.STATUS, 0x08, False),
    (Signal.nInit, 16, Register.CONTROL, 0x04, False),
    (Signal.nSelectIn, 17, Register.CONTROL, 0x08, True),
]


@pytest.mark.parametrize(("signal", "pin", "register", "mask", "inverted"), PINS)
def test_table_matches_the_connector(
    signal: Signal, pin: int, register: Register, mask: int, inverted: bool
) -> None:
    info = signals.signal_info(signal)
    assert (info.pin, info.register, info.mask, info.inverted) == (pin, register, mask, inverted)
    # A set register bit puts the pin low exactly when the line is inverted.
    assert signals.pin_level(signal, mask) is (not inverted)
    assert signals.pin_level(signal, 0) is inverted


def test_every_db25_signal_once() -> None:
    assert {i.signal for i in signals.SIGNALS} == set(Signal)
    assert sorted(i.pin for i in signals.SIGNALS) == list(range(1, 18))


def test_idle_control_value_0x0c() -> None:
    # 0x0C = nStrobe H, nAutoFd H, nInit H, nSelectIn L (§1.5).
    assert signals.control_pins(0x0C) == 0b0111
    for signal, level in (
        (Signal.nStrobe, True),
        (Signal.nAutoFd, True),
        (Signal.nInit, True),
        (Signal.nSelectIn, False),
    ):
        assert signals.pin_level(signal, 0x0C) is level
    assert signals.asserted(Signal.nSelectIn, 0x0C)  # nSelectIn low: asserted
    assert not signals.asserted(Signal.nStrobe, 0x0C)


def test_healthy_printer_status_0xd8() -> None:
    # Busy L, nAck H, PError L, Select H, nFault H -> register 0xD8 (§2.2).
    pins = signals.status_pins(0xD8)
    assert pins == 0x58
    assert not signals.pin_level(Signal.Busy, 0xD8)
    assert not signals.asserted(Signal.Busy, 0xD8)
    assert not signals.asserted(Signal.nFault, 0xD8)  # no error
    assert signals.status_register(0x58, 0b111) == 0xDF


def test_other_mode_names() -> None:
    assert signals.signal_info(Signal.Busy).names["epp"] == "nWait"
    assert signals.signal_info(Signal.nAutoFd).names["ecp"] == "HostAck"
    assert signals.signal_info(Signal.nFault).names["nibble"] == "nDataAvail"


@given(st.integers(0, 0xFF))
def test_conversions_round_trip(value: int) -> None:
    assert signals.status_register(signals.status_pins(value), value) == value & 0xFF
    assert signals.control_register(signals.control_pins(value)) == value & 0x0F
    for info in signals.SIGNALS:
        assert signals.pin_level(info.signal, value) == (bool(value & info.mask) != info.inverted)
