"""NTSTATUS values of windows-parport.md §3.3 and the severity helpers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parport import nt

STATUSES = {
    "STATUS_SUCCESS": 0x00000000,
    "STATUS_TIMEOUT": 0x00000102,
    "STATUS_PENDING": 0x00000103,
    "STATUS_DEVICE_PAPER_EMPTY": 0x8000000E,
    "STATUS_DEVICE_POWERED_OFF": 0x8000000F,
    "STATUS_DEVICE_OFF_LINE": 0x80000010,
    "STATUS_DEVICE_BUSY": 0x80000011,
    "STATUS_UNSUCCESSFUL": 0xC0000001,
    "STATUS_NOT_IMPLEMENTED": 0xC0000002,
    "STATUS_INVALID_PARAMETER": 0xC000000D,
    "STATUS_NO_SUCH_DEVICE": 0xC000000E,
    "STATUS_INVALID_DEVICE_REQUEST": 0xC0000010,
    "STATUS_ACCESS_DENIED": 0xC0000022,
    "STATUS_BUFFER_TOO_SMALL": 0xC0000023,
    "STATUS_DELETE_PENDING": 0xC0000056,
    "STATUS_DEVICE_NOT_CONNECTED": 0xC000009D,
    "STATUS_DEVICE_POWER_FAILURE": 0xC000009E,
    "STATUS_DEVICE_NOT_READY": 0xC00000A3,
    "STATUS_IO_TIMEOUT": 0xC00000B5,
    "STATUS_NOT_SUPPORTED": 0xC00000BB,
    "STATUS_NOT_A_DIRECTORY": 0xC0000103,
    "STATUS_CANCELLED": 0xC0000120,
    "STATUS_INVALID_DEVICE_STATE": 0xC0000184,
    "STATUS_IO_DEVICE_ERROR": 0xC0000185,
    "STATUS_DEVICE_PROTOCOL_ERROR": 0xC0000186,
    "STATUS_DEVICE_REMOVED": 0xC00002B6,
    "STATUS_MORE_PROCESSING_REQUIRED": 0xC0000016,
    "STATUS_OBJECT_NAME_COLLISION": 0xC0000035,
    "STATUS_REVISION_MISMATCH": 0xC0000059,
    "STATUS_INSUFFICIENT_RESOURCES": 0xC000009A,
}


@pytest.mark.parametrize(("name", "value"), sorted(STATUSES.items()))
def test_status_values(name: str, value: int) -> None:
    assert getattr(nt, name) == value
    assert nt.NTSTATUS[name] == value
    assert nt.status_name(value) == name


def test_enum_holds_exactly_the_spec_values() -> None:
    assert {m.name: m.value for m in nt.NTSTATUS} == STATUSES


def test_severity_of_the_documented_groups() -> None:
    # Warnings: neither success nor error (spec §3.3 note).
    for name in ("STATUS_DEVICE_BUSY", "STATUS_DEVICE_PAPER_EMPTY", "STATUS_DEVICE_OFF_LINE"):
        value = STATUSES[name]
        assert nt.NT_WARNING(value)
        assert not nt.NT_SUCCESS(value)
        assert not nt.NT_ERROR(value)
    # STATUS_TIMEOUT and STATUS_PENDING are success codes.
    assert nt.NT_SUCCESS(nt.STATUS_TIMEOUT)
    assert nt.NT_SUCCESS(nt.STATUS_PENDING)
    assert nt.NT_ERROR(nt.STATUS_CANCELLED)
    assert not nt.NT_SUCCESS(nt.STATUS_CANCELLED)


def test_signed_form_is_accepted() -> None:
    assert nt.NT_ERROR(-0x3FFFFFFF)  # 0xC0000001 as a C LONG
    assert nt.status_name(-0x3FFFFFFF) == "STATUS_UNSUCCESSFUL"
    with pytest.raises(ValueError):
        nt.NT_SUCCESS(0x1_0000_0000)


@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_exactly_one_severity_and_a_name_for_any_value(value: int) -> None:
    severities = [nt.NT_INFORMATION(value), nt.NT_WARNING(value), nt.NT_ERROR(value)]
    assert sum(severities) <= 1
    assert nt.NT_SUCCESS(value) == (not nt.NT_WARNING(value) and not nt.NT_ERROR(value))
    name = nt.status_name(value)
    assert name
    if value not in STATUSES.values():
        assert f"0x{value:08X}" in name
