"""The one polarity table: PC register bits ↔ IEEE 1284 line names and pin levels.

Facts: ieee1284.md §1.2–§1.5.

Registers hold register bits, exactly as the PC (and Linux ppdev) sees them. Pin levels (H = 1)
are what is on the DB-25 connector; the status register inverts only Busy, the control register
inverts nStrobe, nAutoFd and nSelectIn. Everything that needs a pin level or a line name goes
through this module, for every backend.

Pin-level bytes use the same bit positions as the registers they come from:
``status_pins(reg)`` has bit 7 = Busy pin level, bit 6 = nAck, bit 5 = PError, bit 4 = Select,
bit 3 = nFault; ``control_pins(reg)`` has bit 0 = nStrobe, bit 1 = nAutoFd, bit 2 = nInit,
bit 3 = nSelectIn.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

__all__ = [
    "CONTROL_INVERTED",
    "CTR_ACKINTEN",
    "CTR_AUTOFD",
    "CTR_DIRECTION",
    "CTR_INIT",
    "CTR_SELECT",
    "CTR_STROBE",
    "SIGNALS",
    "STATUS_INVERTED",
    "STR_ACK",
    "STR_BUSY",
    "STR_EPP_TIMEOUT",
    "STR_ERROR",
    "STR_PAPEROUT",
    "STR_SELECT",
    "Register",
    "Signal",
    "SignalInfo",
    "asserted",
    "control_pins",
    "control_register",
    "pin_level",
    "signal_info",
    "status_pins",
    "status_register",
]

# Status register bits (Linux PARPORT_STATUS_*; the register value, not the pin).
STR_BUSY: Final = 0x80  # set = Busy pin L
STR_ACK: Final = 0x40
STR_PAPEROUT: Final = 0x20
STR_SELECT: Final = 0x10
STR_ERROR: Final = 0x08  # nFault pin H (no error)
STR_EPP_TIMEOUT: Final = 0x01
# Control register bits (Linux PARPORT_CONTROL_*).
CTR_STROBE: Final = 0x01  # set = nStrobe pin L
CTR_AUTOFD: Final = 0x02  # set = nAutoFd pin L
CTR_INIT: Final = 0x04  # set = nInit pin H (not inverted)
CTR_SELECT: Final = 0x08  # set = nSelectIn pin L
CTR_ACKINTEN: Final = 0x10
CTR_DIRECTION: Final = 0x20  # set = data lines are inputs (reverse)

STATUS_INVERTED: Final = 0x80
CONTROL_INVERTED: Final = 0x0B


def status_pins(reg: int) -> int:
    """Pin levels of Busy, nAck, PError, Select, nFault (bits 7..3) from a status register value."""
    return (reg ^ STATUS_INVERTED) & 0xF8


def status_register(pins: int, low_bits: int = 0) -> int:
    """The status register value for pin levels ``pins`` (bits 7..3) plus the vendor low bits."""
    return ((pins ^ STATUS_INVERTED) & 0xF8) | (low_bits & 0x07)


def control_pins(reg: int) -> int:
    """Pin levels of nStrobe, nAutoFd, nInit, nSelectIn (bits 0..3) from a control value."""
    return (reg ^ CONTROL_INVERTED) & 0x0F


def control_register(pins: int) -> int:
    """The control register bits 0..3 that put ``pins`` on nStrobe, nAutoFd, nInit, nSelectIn."""
    return (pins ^ CONTROL_INVERTED) & 0x0F


class Register(Enum):
    DATA = "data"
    STATUS = "status"
    CONTROL = "control"


class Signal(Enum):
    """The DB-25 signals by their compatibility-mode IEEE 1284 names."""

    nStrobe = "nStrobe"
    D0 = "D0"
    D1 = "D1"
    D2 = "D2"
    D3 = "D3"
    D4 = "D4"
    D5 = "D5"
    D6 = "D6"
    D7 = "D7"
    nAck = "nAck"
    Busy = "Busy"
    PError = "PError"
    Select = "Select"
    nAutoFd = "nAutoFd"
    nFault = "nFault"
    nInit = "nInit"
    nSelectIn = "nSelectIn"


@dataclass(frozen=True, slots=True)
class SignalInfo:
    """Where a signal lives: pin, register, bit mask, hardware inversion, and its other names."""

    signal: Signal
    pin: int
    register: Register
    mask: int
    inverted: bool  # register bit = 1 means pin L
    active_low: bool  # asserted when the pin is L (the ``n`` prefix)
    host_drives: bool
    names: dict[str, str]  # role in other modes: nibble/byte, ECP, EPP


def _data(n: int) -> SignalInfo:
    return SignalInfo(
        Signal[f"D{n}"], 2 + n, Register.DATA, 1 << n, False, False, True, {"epp": f"AD{n}"}
    )


SIGNALS: Final[tuple[SignalInfo, ...]] = (
    SignalInfo(
        Signal.nStrobe,
        1,
        Register.CONTROL,
        CTR_STROBE,
        True,
        True,
        True,
        {"nibble": "HostClk", "ecp": "HostClk", "epp": "nWrite"},
    ),
    *(_data(n) for n in range(8)),
    SignalInfo(
        Signal.nAck,
        10,
        Register.STATUS,
        STR_ACK,
        False,
        True,
        False,
        {"nibble": "PtrClk", "ecp": "PeriphClk", "epp": "nIntr"},
    ),
    SignalInfo(
        Signal.Busy,
        11,
        Register.STATUS,
        STR_BUSY,
        True,
        False,
        False,
        {"nibble": "PtrBusy", "ecp": "PeriphAck", "epp": "nWait"},
    ),
    SignalInfo(
        Signal.PError,
        12,
        Register.STATUS,
        STR_PAPEROUT,
        False,
        False,
        False,
        {"nibble": "AckDataReq", "ecp": "nAckReverse"},
    ),
    SignalInfo(
        Signal.Select,
        13,
        Register.STATUS,
        STR_SELECT,
        False,
        False,
        False,
        {"nibble": "XFlag", "ecp": "XFlag"},
    ),
    SignalInfo(
        Signal.nAutoFd,
        14,
        Register.CONTROL,
        CTR_AUTOFD,
        True,
        True,
        True,
        {"nibble": "HostBusy", "ecp": "HostAck", "epp": "nDStrb"},
    ),
    SignalInfo(
        Signal.nFault,
        15,
        Register.STATUS,
        STR_ERROR,
        False,
        True,
        False,
        {"nibble": "nDataAvail", "ecp": "nPeriphRequest"},
    ),
    SignalInfo(
        Signal.nInit,
        16,
        Register.CONTROL,
        CTR_INIT,
        False,
        True,
        True,
        {"ecp": "nReverseRequest", "epp": "nInit"},
    ),
    SignalInfo(
        Signal.nSelectIn,
        17,
        Register.CONTROL,
        CTR_SELECT,
        True,
        True,
        True,
        {"nibble": "1284 Active", "ecp": "1284 Active", "epp": "nAStrb"},
    ),
)

_BY_SIGNAL: Final = {info.signal: info for info in SIGNALS}


def signal_info(signal: Signal) -> SignalInfo:
    return _BY_SIGNAL[signal]


def pin_level(signal: Signal, register_value: int) -> bool:
    """The pin level (True = H) of ``signal`` given the value of the register that holds it."""
    info = _BY_SIGNAL[signal]
    bit = bool(register_value & info.mask)
    return bit != info.inverted


def asserted(signal: Signal, register_value: int) -> bool:
    """Whether ``signal`` is asserted in IEEE 1284 terms (pin L for ``n`` signals, else H)."""
    return pin_level(signal, register_value) != _BY_SIGNAL[signal].active_low
