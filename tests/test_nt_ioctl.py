"""Every IOCTL value of windows-parport.md §3.2, and dispatch by (major function, code)."""

from __future__ import annotations

import pytest

from parport import nt

# (name, function number, code) exactly as the spec's tables give them.
DEVICE = [
    ("IOCTL_PAR_QUERY_INFORMATION", 1, 0x00160004),
    ("IOCTL_PAR_SET_INFORMATION", 2, 0x00160008),
    ("IOCTL_PAR_QUERY_DEVICE_ID", 3, 0x0016000C),
    ("IOCTL_PAR_QUERY_DEVICE_ID_SIZE", 4, 0x00160010),
    ("IOCTL_IEEE1284_GET_MODE", 5, 0x00160014),
    ("IOCTL_IEEE1284_NEGOTIATE", 6, 0x00160018),
    ("IOCTL_PAR_SET_WRITE_ADDRESS", 7, 0x0016001C),
    ("IOCTL_PAR_SET_READ_ADDRESS", 8, 0x00160020),
    ("IOCTL_PAR_GET_DEVICE_CAPS", 9, 0x00160024),
    ("IOCTL_PAR_GET_DEFAULT_MODES", 10, 0x00160028),
    ("IOCTL_PAR_PING", 11, 0x0016002C),
    ("IOCTL_PAR_QUERY_RAW_DEVICE_ID", 12, 0x00160030),
    ("IOCTL_PAR_ECP_HOST_RECOVERY", 13, 0x00160034),
    ("IOCTL_PAR_GET_READ_ADDRESS", 14, 0x00160038),
    ("IOCTL_PAR_GET_WRITE_ADDRESS", 15, 0x0016003C),
    ("IOCTL_PAR_TEST", 20, 0x00160050),
    ("IOCTL_PAR_IS_PORT_FREE", 21, 0x00160054),
    ("IOCTL_PAR_QUERY_LOCATION", 22, 0x00160058),
    ("IOCTL_SERIAL_SET_TIMEOUTS", 7, 0x001B001C),
    ("IOCTL_SERIAL_GET_TIMEOUTS", 8, 0x001B0020),
]

INTERNAL = [
    ("IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE", 11, 0x0016002C, "port"),
    ("IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO", 12, 0x00160030, "port"),
    ("IOCTL_INTERNAL_PARALLEL_CONNECT_INTERRUPT", 13, 0x00160034, "port"),
    ("IOCTL_INTERNAL_PARALLEL_DISCONNECT_INTERRUPT", 14, 0x00160038, "port"),
    ("IOCTL_INTERNAL_RELEASE_PARALLEL_PORT_INFO", 15, 0x0016003C, "port"),
    ("IOCTL_INTERNAL_GET_MORE_PARALLEL_PORT_INFO", 17, 0x00160044, "port"),
    ("IOCTL_INTERNAL_PARCHIP_CONNECT", 18, 0x00160048, "parchip"),
    ("IOCTL_INTERNAL_PARALLEL_SET_CHIP_MODE", 19, 0x0016004C, "port"),
    ("IOCTL_INTERNAL_PARALLEL_CLEAR_CHIP_MODE", 20, 0x00160050, "port"),
    ("IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO", 21, 0x00160054, "port"),
    ("IOCTL_INTERNAL_INIT_1284_3_BUS", 22, 0x00160058, "port"),
    ("IOCTL_INTERNAL_SELECT_DEVICE", 23, 0x0016005C, "port"),
    ("IOCTL_INTERNAL_DESELECT_DEVICE", 24, 0x00160060, "port"),
    ("IOCTL_INTERNAL_GET_PARPORT_FDO", 29, 0x00160074, "device"),
    ("IOCTL_INTERNAL_PARCLASS_CONNECT", 30, 0x00160078, "device"),
    ("IOCTL_INTERNAL_PARCLASS_DISCONNECT", 31, 0x0016007C, "device"),
    ("IOCTL_INTERNAL_DISCONNECT_IDLE", 32, 0x00160080, "device"),
    ("IOCTL_INTERNAL_LOCK_PORT", 37, 0x00160094, "device"),
    ("IOCTL_INTERNAL_UNLOCK_PORT", 38, 0x00160098, "device"),
    ("IOCTL_INTERNAL_PARALLEL_PORT_FREE", 40, 0x001600A0, "port"),
    ("IOCTL_INTERNAL_PARDOT3_CONNECT", 41, 0x001600A4, "device"),
    ("IOCTL_INTERNAL_PARDOT3_DISCONNECT", 42, 0x001600A8, "device"),
    ("IOCTL_INTERNAL_PARDOT3_RESET", 43, 0x001600AC, "device"),
    ("IOCTL_INTERNAL_PARDOT3_SIGNAL", 44, 0x001600B0, "device"),
    ("IOCTL_INTERNAL_REGISTER_FOR_REMOVAL_RELATIONS", 50, 0x001600C8, "port"),
    ("IOCTL_INTERNAL_UNREGISTER_FOR_REMOVAL_RELATIONS", 51, 0x001600CC, "port"),
    ("IOCTL_INTERNAL_LOCK_PORT_NO_SELECT", 52, 0x001600D0, "device"),
    ("IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT", 53, 0x001600D4, "device"),
    ("IOCTL_INTERNAL_DISABLE_END_OF_CHAIN_BUS_RESCAN", 54, 0x001600D8, "port"),
    ("IOCTL_INTERNAL_ENABLE_END_OF_CHAIN_BUS_RESCAN", 55, 0x001600DC, "port"),
]


def test_unlock_port_is_the_documented_value() -> None:
    assert nt.IOCTL_INTERNAL_UNLOCK_PORT == 0x00160098


@pytest.mark.parametrize(("name", "function", "code"), DEVICE)
def test_device_control_codes(name: str, function: int, code: int) -> None:
    assert getattr(nt, name) == code
    info = nt.ioctl_info(nt.IRP_MJ_DEVICE_CONTROL, code)
    assert info is not None
    assert info.name == name
    assert info.function == function
    assert info.method == nt.METHOD_BUFFERED
    assert info.access == nt.FILE_ANY_ACCESS
    assert info.target == "device"


@pytest.mark.parametrize(("name", "function", "code", "target"), INTERNAL)
def test_internal_codes(name: str, function: int, code: int, target: str) -> None:
    assert getattr(nt, name) == code
    info = nt.ioctl_info(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, code)
    assert info is not None
    assert (info.name, info.function, info.target) == (name, function, target)
    assert info.device_type == nt.FILE_DEVICE_PARALLEL_PORT


def test_tables_are_complete() -> None:
    assert {i.name for i in nt.DEVICE_IOCTLS.values()} == {n for n, _, _ in DEVICE}
    assert {i.name for i in nt.INTERNAL_IOCTLS.values()} == {n for n, _, _, _ in INTERNAL}


@pytest.mark.parametrize(
    ("code", "internal", "external"),
    [
        (0x0016002C, "IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE", "IOCTL_PAR_PING"),
        (0x00160030, "IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO", "IOCTL_PAR_QUERY_RAW_DEVICE_ID"),
        (0x00160034, "IOCTL_INTERNAL_PARALLEL_CONNECT_INTERRUPT", "IOCTL_PAR_ECP_HOST_RECOVERY"),
        (0x00160038, "IOCTL_INTERNAL_PARALLEL_DISCONNECT_INTERRUPT", "IOCTL_PAR_GET_READ_ADDRESS"),
        (0x0016003C, "IOCTL_INTERNAL_RELEASE_PARALLEL_PORT_INFO", "IOCTL_PAR_GET_WRITE_ADDRESS"),
        (0x00160050, "IOCTL_INTERNAL_PARALLEL_CLEAR_CHIP_MODE", "IOCTL_PAR_TEST"),
        (0x00160054, "IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO", "IOCTL_PAR_IS_PORT_FREE"),
        (0x00160058, "IOCTL_INTERNAL_INIT_1284_3_BUS", "IOCTL_PAR_QUERY_LOCATION"),
    ],
)
def test_colliding_codes_are_told_apart_by_major_function(
    code: int, internal: str, external: str
) -> None:
    assert nt.ioctl_name(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, code) == internal
    assert nt.ioctl_name(nt.IRP_MJ_DEVICE_CONTROL, code) == external


def test_ctl_code_formula_and_bounds() -> None:
    assert nt.CTL_CODE(0x16, 38, 0, 0) == 0x00160098
    assert nt.CTL_CODE(0x1B, 7, 0, 0) == 0x001B001C
    assert nt.CTL_CODE(0x22, 1, 3, 3) == (0x22 << 16) | (3 << 14) | (1 << 2) | 3
    with pytest.raises(ValueError):
        nt.CTL_CODE(0x16, 0x1000, 0, 0)
    with pytest.raises(ValueError):
        nt.CTL_CODE(0x16, 1, 4, 0)


def test_unknown_codes_and_majors_have_readable_names() -> None:
    assert nt.ioctl_info(nt.IRP_MJ_READ, nt.IOCTL_PAR_PING) is None
    name = nt.ioctl_name(nt.IRP_MJ_DEVICE_CONTROL, 0x00160040)
    assert "0x00160040" in name
    assert "function 16" in name


def test_irp_major_codes() -> None:
    expected = {
        "IRP_MJ_CREATE": 0x00,
        "IRP_MJ_CLOSE": 0x02,
        "IRP_MJ_READ": 0x03,
        "IRP_MJ_WRITE": 0x04,
        "IRP_MJ_QUERY_INFORMATION": 0x05,
        "IRP_MJ_SET_INFORMATION": 0x06,
        "IRP_MJ_DEVICE_CONTROL": 0x0E,
        "IRP_MJ_INTERNAL_DEVICE_CONTROL": 0x0F,
        "IRP_MJ_CLEANUP": 0x12,
        "IRP_MJ_POWER": 0x16,
        "IRP_MJ_SYSTEM_CONTROL": 0x17,
        "IRP_MJ_PNP": 0x1B,
    }
    for name, value in expected.items():
        assert getattr(nt, name) == value
    assert {m.name: m.value for m in nt.IRP_MJ} == expected
