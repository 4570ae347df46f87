"""``CTL_CODE`` and every IOCTL of ``parallel.h`` / ``ntddpar.h`` (Part B §3.1, §3.2).

The codes are plain ints with the header names. Internal (kernel) and user-mode codes reuse the
same function numbers, so one 32-bit value can name two requests (0x0016002C is both PAR_PING and
PARALLEL_PORT_ALLOCATE). :func:`ioctl_info` and :func:`ioctl_name` therefore take the major
function as well as the code, and dispatch elsewhere is always by (major function, code).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .major import IRP_MJ

__all__ = [
    "CTL_CODE",
    "DEVICE_IOCTLS",
    "FILE_ANY_ACCESS",
    "FILE_DEVICE_PARALLEL_PORT",
    "FILE_DEVICE_SERIAL_PORT",
    "FILE_READ_ACCESS",
    "FILE_WRITE_ACCESS",
    "INTERNAL_IOCTLS",
    "IOCTL_IEEE1284_GET_MODE",
    "IOCTL_IEEE1284_NEGOTIATE",
    "IOCTL_INTERNAL_DESELECT_DEVICE",
    "IOCTL_INTERNAL_DISABLE_END_OF_CHAIN_BUS_RESCAN",
    "IOCTL_INTERNAL_DISCONNECT_IDLE",
    "IOCTL_INTERNAL_ENABLE_END_OF_CHAIN_BUS_RESCAN",
    "IOCTL_INTERNAL_GET_MORE_PARALLEL_PORT_INFO",
    "IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO",
    "IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO",
    "IOCTL_INTERNAL_GET_PARPORT_FDO",
    "IOCTL_INTERNAL_INIT_1284_3_BUS",
    "IOCTL_INTERNAL_LOCK_PORT",
    "IOCTL_INTERNAL_LOCK_PORT_NO_SELECT",
    "IOCTL_INTERNAL_PARALLEL_CLEAR_CHIP_MODE",
    "IOCTL_INTERNAL_PARALLEL_CONNECT_INTERRUPT",
    "IOCTL_INTERNAL_PARALLEL_DISCONNECT_INTERRUPT",
    "IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE",
    "IOCTL_INTERNAL_PARALLEL_PORT_FREE",
    "IOCTL_INTERNAL_PARALLEL_SET_CHIP_MODE",
    "IOCTL_INTERNAL_PARCHIP_CONNECT",
    "IOCTL_INTERNAL_PARCLASS_CONNECT",
    "IOCTL_INTERNAL_PARCLASS_DISCONNECT",
    "IOCTL_INTERNAL_PARDOT3_CONNECT",
    "IOCTL_INTERNAL_PARDOT3_DISCONNECT",
    "IOCTL_INTERNAL_PARDOT3_RESET",
    "IOCTL_INTERNAL_PARDOT3_SIGNAL",
    "IOCTL_INTERNAL_REGISTER_FOR_REMOVAL_RELATIONS",
    "IOCTL_INTERNAL_RELEASE_PARALLEL_PORT_INFO",
    "IOCTL_INTERNAL_SELECT_DEVICE",
    "IOCTL_INTERNAL_UNLOCK_PORT",
    "IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT",
    "IOCTL_INTERNAL_UNREGISTER_FOR_REMOVAL_RELATIONS",
    "IOCTL_PAR_ECP_HOST_RECOVERY",
    "IOCTL_PAR_GET_DEFAULT_MODES",
    "IOCTL_PAR_GET_DEVICE_CAPS",
    "IOCTL_PAR_GET_READ_ADDRESS",
    "IOCTL_PAR_GET_WRITE_ADDRESS",
    "IOCTL_PAR_IS_PORT_FREE",
    "IOCTL_PAR_PING",
    "IOCTL_PAR_QUERY_DEVICE_ID",
    "IOCTL_PAR_QUERY_DEVICE_ID_SIZE",
    "IOCTL_PAR_QUERY_INFORMATION",
    "IOCTL_PAR_QUERY_LOCATION",
    "IOCTL_PAR_QUERY_RAW_DEVICE_ID",
    "IOCTL_PAR_SET_INFORMATION",
    "IOCTL_PAR_SET_READ_ADDRESS",
    "IOCTL_PAR_SET_WRITE_ADDRESS",
    "IOCTL_PAR_TEST",
    "IOCTL_SERIAL_GET_TIMEOUTS",
    "IOCTL_SERIAL_SET_TIMEOUTS",
    "METHOD_BUFFERED",
    "METHOD_IN_DIRECT",
    "METHOD_NEITHER",
    "METHOD_OUT_DIRECT",
    "IoctlInfo",
    "ioctl_info",
    "ioctl_name",
]

FILE_DEVICE_PARALLEL_PORT: Final = 0x00000016
FILE_DEVICE_SERIAL_PORT: Final = 0x0000001B
METHOD_BUFFERED: Final = 0
METHOD_IN_DIRECT: Final = 1
METHOD_OUT_DIRECT: Final = 2
METHOD_NEITHER: Final = 3
FILE_ANY_ACCESS: Final = 0
FILE_READ_ACCESS: Final = 1
FILE_WRITE_ACCESS: Final = 2


def CTL_CODE(DeviceType: int, Function: int, Method: int, Access: int) -> int:
    """``(DeviceType << 16) | (Access << 14) | (Function << 2) | Method`` (§3.1)."""
    if not (0 <= DeviceType <= 0xFFFF and 0 <= Function <= 0xFFF):
        raise ValueError("DeviceType must fit 16 bits and Function 12 bits")
    if not (0 <= Method <= 3 and 0 <= Access <= 3):
        raise ValueError("Method and Access must fit 2 bits")
    return (DeviceType << 16) | (Access << 14) | (Function << 2) | Method


def _par(function: int) -> int:
    return CTL_CODE(FILE_DEVICE_PARALLEL_PORT, function, METHOD_BUFFERED, FILE_ANY_ACCESS)


def _ser(function: int) -> int:
    return CTL_CODE(FILE_DEVICE_SERIAL_PORT, function, METHOD_BUFFERED, FILE_ANY_ACCESS)


# --- ntddpar.h: IRP_MJ_DEVICE_CONTROL to a device (user mode) ----------------------------------
IOCTL_PAR_QUERY_INFORMATION: Final = _par(1)
IOCTL_PAR_SET_INFORMATION: Final = _par(2)
IOCTL_PAR_QUERY_DEVICE_ID: Final = _par(3)
IOCTL_PAR_QUERY_DEVICE_ID_SIZE: Final = _par(4)
IOCTL_IEEE1284_GET_MODE: Final = _par(5)
IOCTL_IEEE1284_NEGOTIATE: Final = _par(6)
IOCTL_PAR_SET_WRITE_ADDRESS: Final = _par(7)
IOCTL_PAR_SET_READ_ADDRESS: Final = _par(8)
IOCTL_PAR_GET_DEVICE_CAPS: Final = _par(9)
IOCTL_PAR_GET_DEFAULT_MODES: Final = _par(10)
IOCTL_PAR_PING: Final = _par(11)
IOCTL_PAR_QUERY_RAW_DEVICE_ID: Final = _par(12)
IOCTL_PAR_ECP_HOST_RECOVERY: Final = _par(13)
IOCTL_PAR_GET_READ_ADDRESS: Final = _par(14)
IOCTL_PAR_GET_WRITE_ADDRESS: Final = _par(15)
IOCTL_PAR_TEST: Final = _par(20)
IOCTL_PAR_IS_PORT_FREE: Final = _par(21)
IOCTL_PAR_QUERY_LOCATION: Final = _par(22)
# ntddser.h, accepted by parallel devices
IOCTL_SERIAL_SET_TIMEOUTS: Final = _ser(7)
IOCTL_SERIAL_GET_TIMEOUTS: Final = _ser(8)

# --- parallel.h: IRP_MJ_INTERNAL_DEVICE_CONTROL (kernel clients) --------------------------------
IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE: Final = _par(11)
IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO: Final = _par(12)
IOCTL_INTERNAL_PARALLEL_CONNECT_INTERRUPT: Final = _par(13)
IOCTL_INTERNAL_PARALLEL_DISCONNECT_INTERRUPT: Final = _par(14)
IOCTL_INTERNAL_RELEASE_PARALLEL_PORT_INFO: Final = _par(15)
IOCTL_INTERNAL_GET_MORE_PARALLEL_PORT_INFO: Final = _par(17)
IOCTL_INTERNAL_PARCHIP_CONNECT: Final = _par(18)
IOCTL_INTERNAL_PARALLEL_SET_CHIP_MODE: Final = _par(19)
IOCTL_INTERNAL_PARALLEL_CLEAR_CHIP_MODE: Final = _par(20)
IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO: Final = _par(21)
IOCTL_INTERNAL_INIT_1284_3_BUS: Final = _par(22)
IOCTL_INTERNAL_SELECT_DEVICE: Final = _par(23)
IOCTL_INTERNAL_DESELECT_DEVICE: Final = _par(24)
IOCTL_INTERNAL_GET_PARPORT_FDO: Final = _par(29)
IOCTL_INTERNAL_PARCLASS_CONNECT: Final = _par(30)
IOCTL_INTERNAL_PARCLASS_DISCONNECT: Final = _par(31)
IOCTL_INTERNAL_DISCONNECT_IDLE: Final = _par(32)
IOCTL_INTERNAL_LOCK_PORT: Final = _par(37)
IOCTL_INTERNAL_UNLOCK_PORT: Final = _par(38)
IOCTL_INTERNAL_PARALLEL_PORT_FREE: Final = _par(40)
IOCTL_INTERNAL_PARDOT3_CONNECT: Final = _par(41)
IOCTL_INTERNAL_PARDOT3_DISCONNECT: Final = _par(42)
IOCTL_INTERNAL_PARDOT3_RESET: Final = _par(43)
IOCTL_INTERNAL_PARDOT3_SIGNAL: Final = _par(44)
IOCTL_INTERNAL_REGISTER_FOR_REMOVAL_RELATIONS: Final = _par(50)
IOCTL_INTERNAL_UNREGISTER_FOR_REMOVAL_RELATIONS: Final = _par(51)
IOCTL_INTERNAL_LOCK_PORT_NO_SELECT: Final = _par(52)
IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT: Final = _par(53)
IOCTL_INTERNAL_DISABLE_END_OF_CHAIN_BUS_RESCAN: Final = _par(54)
IOCTL_INTERNAL_ENABLE_END_OF_CHAIN_BUS_RESCAN: Final = _par(55)


@dataclass(frozen=True, slots=True)
class IoctlInfo:
    """What one (major function, code) pair means."""

    name: str
    major: IRP_MJ
    code: int
    target: str  # "port" (the FDO) or "device" (a PDO), or "parchip" for the chipset filter

    @property
    def device_type(self) -> int:
        return self.code >> 16

    @property
    def function(self) -> int:
        return (self.code >> 2) & 0xFFF

    @property
    def method(self) -> int:
        return self.code & 3

    @property
    def access(self) -> int:
        return (self.code >> 14) & 3


def _table(major: IRP_MJ, entries: list[tuple[str, str]]) -> dict[int, IoctlInfo]:
    values = globals()
    table = {values[name]: IoctlInfo(name, major, values[name], target) for name, target in entries}
    if len(table) != len(entries):
        raise AssertionError(f"duplicate code among {major.name} IOCTLs")
    return table


DEVICE_IOCTLS: Final[dict[int, IoctlInfo]] = _table(
    IRP_MJ.IRP_MJ_DEVICE_CONTROL,
    [
        ("IOCTL_PAR_QUERY_INFORMATION", "device"),
        ("IOCTL_PAR_SET_INFORMATION", "device"),
        ("IOCTL_PAR_QUERY_DEVICE_ID", "device"),
        ("IOCTL_PAR_QUERY_DEVICE_ID_SIZE", "device"),
        ("IOCTL_IEEE1284_GET_MODE", "device"),
        ("IOCTL_IEEE1284_NEGOTIATE", "device"),
        ("IOCTL_PAR_SET_WRITE_ADDRESS", "device"),
        ("IOCTL_PAR_SET_READ_ADDRESS", "device"),
        ("IOCTL_PAR_GET_DEVICE_CAPS", "device"),
        ("IOCTL_PAR_GET_DEFAULT_MODES", "device"),
        ("IOCTL_PAR_PING", "device"),
        ("IOCTL_PAR_QUERY_RAW_DEVICE_ID", "device"),
        ("IOCTL_PAR_ECP_HOST_RECOVERY", "device"),
        ("IOCTL_PAR_GET_READ_ADDRESS", "device"),
        ("IOCTL_PAR_GET_WRITE_ADDRESS", "device"),
        ("IOCTL_PAR_TEST", "device"),
        ("IOCTL_PAR_IS_PORT_FREE", "device"),
        ("IOCTL_PAR_QUERY_LOCATION", "device"),
        ("IOCTL_SERIAL_SET_TIMEOUTS", "device"),
        ("IOCTL_SERIAL_GET_TIMEOUTS", "device"),
    ],
)
"""Every user-mode code, by value (sent as IRP_MJ_DEVICE_CONTROL)."""

INTERNAL_IOCTLS: Final[dict[int, IoctlInfo]] = _table(
    IRP_MJ.IRP_MJ_INTERNAL_DEVICE_CONTROL,
    [
        ("IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE", "port"),
        ("IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO", "port"),
        ("IOCTL_INTERNAL_PARALLEL_CONNECT_INTERRUPT", "port"),
        ("IOCTL_INTERNAL_PARALLEL_DISCONNECT_INTERRUPT", "port"),
        ("IOCTL_INTERNAL_RELEASE_PARALLEL_PORT_INFO", "port"),
        ("IOCTL_INTERNAL_GET_MORE_PARALLEL_PORT_INFO", "port"),
        ("IOCTL_INTERNAL_PARCHIP_CONNECT", "parchip"),
        ("IOCTL_INTERNAL_PARALLEL_SET_CHIP_MODE", "port"),
        ("IOCTL_INTERNAL_PARALLEL_CLEAR_CHIP_MODE", "port"),
        ("IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO", "port"),
        ("IOCTL_INTERNAL_INIT_1284_3_BUS", "port"),
        ("IOCTL_INTERNAL_SELECT_DEVICE", "port"),
        ("IOCTL_INTERNAL_DESELECT_DEVICE", "port"),
        ("IOCTL_INTERNAL_GET_PARPORT_FDO", "device"),
        ("IOCTL_INTERNAL_PARCLASS_CONNECT", "device"),
        ("IOCTL_INTERNAL_PARCLASS_DISCONNECT", "device"),
        ("IOCTL_INTERNAL_DISCONNECT_IDLE", "device"),
        ("IOCTL_INTERNAL_LOCK_PORT", "device"),
        ("IOCTL_INTERNAL_UNLOCK_PORT", "device"),
        ("IOCTL_INTERNAL_PARALLEL_PORT_FREE", "port"),
        ("IOCTL_INTERNAL_PARDOT3_CONNECT", "device"),
        ("IOCTL_INTERNAL_PARDOT3_DISCONNECT", "device"),
        ("IOCTL_INTERNAL_PARDOT3_RESET", "device"),
        ("IOCTL_INTERNAL_PARDOT3_SIGNAL", "device"),
        ("IOCTL_INTERNAL_REGISTER_FOR_REMOVAL_RELATIONS", "port"),
        ("IOCTL_INTERNAL_UNREGISTER_FOR_REMOVAL_RELATIONS", "port"),
        ("IOCTL_INTERNAL_LOCK_PORT_NO_SELECT", "device"),
        ("IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT", "device"),
        ("IOCTL_INTERNAL_DISABLE_END_OF_CHAIN_BUS_RESCAN", "port"),
        ("IOCTL_INTERNAL_ENABLE_END_OF_CHAIN_BUS_RESCAN", "port"),
    ],
)
"""Every kernel-mode code, by value (sent as IRP_MJ_INTERNAL_DEVICE_CONTROL)."""


def ioctl_info(major: int, code: int) -> IoctlInfo | None:
    """The request that ``code`` names under ``major``, or None if it names none."""
    if major == IRP_MJ.IRP_MJ_DEVICE_CONTROL:
        return DEVICE_IOCTLS.get(code)
    if major == IRP_MJ.IRP_MJ_INTERNAL_DEVICE_CONTROL:
        return INTERNAL_IOCTLS.get(code)
    return None


def ioctl_name(major: int, code: int) -> str:
    """The header name of (major, code), or a readable description of an unknown code."""
    info = ioctl_info(major, code)
    if info is not None:
        return info.name
    return (
        f"IOCTL(0x{code & 0xFFFFFFFF:08X}: type 0x{(code >> 16) & 0xFFFF:X}, "
        f"function {(code >> 2) & 0xFFF}, method {code & 3}, access {(code >> 14) & 3})"
    )
