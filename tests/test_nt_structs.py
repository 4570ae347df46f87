"""Every structure of windows-parport.md §4: size, member offsets (x64 and x86), pack/unpack."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from parport import nt

# name -> (x64 size, x86 size, [(member, x64 offset, x86 offset)]) — the spec's tables.
LAYOUTS: dict[str, tuple[int, int, list[tuple[str, int, int]]]] = {
    "PARALLEL_PORT_INFORMATION": (
        56,
        32,
        [
            ("OriginalController", 0, 0),
            ("Controller", 8, 8),
            ("SpanOfController", 16, 12),
            ("TryAllocatePort", 24, 16),
            ("FreePort", 32, 20),
            ("QueryNumWaiters", 40, 24),
            ("Context", 48, 28),
        ],
    ),
    "MORE_PARALLEL_PORT_INFORMATION": (
        32,
        24,
        [
            ("InterfaceType", 0, 0),
            ("BusNumber", 4, 4),
            ("InterruptLevel", 8, 8),
            ("InterruptVector", 12, 12),
            ("InterruptAffinity", 16, 16),
            ("InterruptMode", 24, 20),
        ],
    ),
    "PARALLEL_PNP_INFORMATION": (
        112,
        80,
        [
            ("OriginalEcpController", 0, 0),
            ("EcpController", 8, 8),
            ("SpanOfEcpController", 16, 12),
            ("PortNumber", 20, 16),
            ("HardwareCapabilities", 24, 20),
            ("TrySetChipMode", 32, 24),
            ("ClearChipMode", 40, 28),
            ("FifoDepth", 48, 32),
            ("FifoWidth", 52, 36),
            ("EppControllerPhysicalAddress", 56, 40),
            ("SpanOfEppController", 64, 48),
            ("Ieee1284_3DeviceCount", 68, 52),
            ("TrySelectDevice", 72, 56),
            ("DeselectDevice", 80, 60),
            ("Context", 88, 64),
            ("CurrentMode", 96, 68),
            ("PortName", 104, 72),
        ],
    ),
    "PARALLEL_1284_COMMAND": (8, 8, [("ID", 0, 0), ("Port", 1, 1), ("CommandFlags", 4, 4)]),
    "PARALLEL_CHIP_MODE": (2, 2, [("ModeFlags", 0, 0), ("success", 1, 1)]),
    "PARALLEL_INTERRUPT_SERVICE_ROUTINE": (
        32,
        16,
        [
            ("InterruptServiceRoutine", 0, 0),
            ("InterruptServiceContext", 8, 4),
            ("DeferredPortCheckRoutine", 16, 8),
            ("DeferredPortCheckContext", 24, 12),
        ],
    ),
    "PARALLEL_INTERRUPT_INFORMATION": (
        32,
        16,
        [
            ("InterruptObject", 0, 0),
            ("TryAllocatePortAtInterruptLevel", 8, 4),
            ("FreePortFromInterruptLevel", 16, 8),
            ("Context", 24, 12),
        ],
    ),
    "PARCLASS_INFORMATION": (
        120,
        64,
        [
            ("Controller", 0, 0),
            ("EcrController", 8, 4),
            ("SpanOfController", 16, 8),
            ("DetermineIeeeModes", 24, 12),
            ("NegotiateIeeeMode", 32, 16),
            ("TerminateIeeeMode", 40, 20),
            ("IeeeFwdToRevMode", 48, 24),
            ("IeeeRevToFwdMode", 56, 28),
            ("ParallelRead", 64, 32),
            ("ParallelWrite", 72, 36),
            ("ParclassContext", 80, 40),
            ("HardwareCapabilities", 88, 44),
            ("FifoDepth", 92, 48),
            ("FifoWidth", 96, 52),
            ("ParallelTryselect", 104, 56),
            ("ParallelDeSelect", 112, 60),
        ],
    ),
    "PARPORT_REMOVAL_RELATIONS": (
        24,
        12,
        [("DeviceObject", 0, 0), ("Flags", 8, 4), ("DeviceName", 16, 8)],
    ),
    "PARALLEL_PARCHIP_INFO": (
        56,
        28,
        [
            ("Controller", 0, 0),
            ("EcrController", 8, 4),
            ("HardwareModes", 16, 8),
            ("ParChipSetMode", 24, 12),
            ("ParChipClearMode", 32, 16),
            ("Context", 40, 20),
            ("success", 48, 24),
        ],
    ),
    "PAR_QUERY_INFORMATION": (1, 1, [("Status", 0, 0)]),
    "PAR_SET_INFORMATION": (1, 1, [("Init", 0, 0)]),
    "PAR_DEVICE_ID_SIZE_INFORMATION": (4, 4, [("DeviceIdSize", 0, 0)]),
    "PARCLASS_NEGOTIATION_MASK": (4, 4, [("usReadMask", 0, 0), ("usWriteMask", 2, 2)]),
    "SERIAL_TIMEOUTS": (
        20,
        20,
        [
            ("ReadIntervalTimeout", 0, 0),
            ("ReadTotalTimeoutMultiplier", 4, 4),
            ("ReadTotalTimeoutConstant", 8, 8),
            ("WriteTotalTimeoutMultiplier", 12, 12),
            ("WriteTotalTimeoutConstant", 16, 16),
        ],
    ),
    "FILE_STANDARD_INFORMATION": (
        24,
        24,
        [
            ("AllocationSize", 0, 0),
            ("EndOfFile", 8, 8),
            ("NumberOfLinks", 16, 16),
            ("DeletePending", 20, 20),
            ("Directory", 21, 21),
        ],
    ),
    "FILE_POSITION_INFORMATION": (8, 8, [("CurrentByteOffset", 0, 0)]),
}

# The struct formats the spec writes out (§4.1–§4.4), compared by their effect.
SPEC_FORMATS = {
    "PARALLEL_PORT_INFORMATION": "<qQI4xQQQQ",
    "MORE_PARALLEL_PORT_INFORMATION": "<iIIIQi4x",
    "PARALLEL_PNP_INFORMATION": "<qQIIIxxxxQQIIqIIQQQI4xQ",
    "PARALLEL_1284_COMMAND": "<BBxxI",
    "PARALLEL_CHIP_MODE": "<BB",
}


def _cls(name: str) -> type[nt.NtStruct]:
    cls = getattr(nt, name)
    assert issubclass(cls, nt.NtStruct)
    return cls  # type: ignore[no-any-return]


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_size_and_offsets(name: str) -> None:
    size64, size86, members = LAYOUTS[name]
    cls = _cls(name)
    assert cls.SIZE == size64
    assert cls.SIZE_X86 == size86
    assert len(cls().pack()) == size64
    assert len(cls().pack("x86")) == size86
    assert list(cls.layout().offsets) == [m for m, _, _ in members]
    for member, off64, off86 in members:
        assert cls.offsetof(member) == off64, member
        assert cls.offsetof(member, "x86") == off86, member


@pytest.mark.parametrize(("name", "fmt"), sorted(SPEC_FORMATS.items()))
def test_spec_struct_formats(name: str, fmt: str) -> None:
    cls = _cls(name)
    assert struct.calcsize(fmt) == cls.SIZE
    values = tuple(range(1, len(cls.layout().offsets) + 1))
    assert cls(*values).pack() == struct.pack(fmt, *values)


def test_documented_sizes_from_the_issue() -> None:
    assert len(nt.PARALLEL_PNP_INFORMATION().pack()) == 112
    assert len(bytes(nt.PARALLEL_PORT_INFORMATION())) == 56
    assert len(bytes(nt.PARCLASS_INFORMATION())) == 120


def test_1284_command_bytes_on_the_wire() -> None:
    cmd = nt.PARALLEL_1284_COMMAND(
        ID=1, CommandFlags=nt.PAR_HAVE_PORT_KEEP_PORT | nt.PAR_END_OF_CHAIN_DEVICE
    )
    assert cmd.pack() == bytes([1, 0, 0, 0, 3, 0, 0, 0])
    assert nt.PARALLEL_1284_COMMAND.unpack(cmd.pack() + b"extra") == cmd


def test_unpack_short_buffer_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="needs 8 bytes, the buffer has 7"):
        nt.PARALLEL_1284_COMMAND.unpack(b"\0" * 7)


def test_out_of_range_member_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="PARALLEL_CHIP_MODE"):
        nt.PARALLEL_CHIP_MODE(ModeFlags=0x100).pack()
    with pytest.raises(AttributeError):
        nt.PARALLEL_CHIP_MODE.offsetof("ChipMode")


@given(
    st.integers(-(2**63), 2**63 - 1),
    st.lists(st.integers(0, 2**64 - 1), min_size=4, max_size=4),
    st.lists(st.integers(0, 2**32 - 1), min_size=7, max_size=7),
)
def test_pnp_information_round_trip(phys: int, ptrs: list[int], ulongs: list[int]) -> None:
    info = nt.PARALLEL_PNP_INFORMATION(
        OriginalEcpController=phys,
        EcpController=ptrs[0],
        SpanOfEcpController=ulongs[0],
        PortNumber=ulongs[1],
        HardwareCapabilities=ulongs[2],
        TrySetChipMode=ptrs[1],
        ClearChipMode=ptrs[2],
        FifoDepth=ulongs[3],
        FifoWidth=ulongs[4],
        EppControllerPhysicalAddress=phys,
        SpanOfEppController=ulongs[5],
        Ieee1284_3DeviceCount=ulongs[6],
        TrySelectDevice=ptrs[3],
        PortName=ptrs[0],
    )
    data = info.pack()
    assert nt.PARALLEL_PNP_INFORMATION.unpack(data) == info
    # Members land at their documented offsets.
    assert int.from_bytes(data[24:28], "little") == ulongs[2]
    assert int.from_bytes(data[104:112], "little") == ptrs[0]


def test_mode_and_flag_constants() -> None:
    assert (nt.NONE, nt.CENTRONICS, nt.IEEE_COMPATIBILITY, nt.NIBBLE) == (0, 1, 2, 4)
    assert (nt.CHANNEL_NIBBLE, nt.BYTE_BIDIR, nt.EPP_HW, nt.EPP_SW) == (8, 0x10, 0x20, 0x40)
    assert (nt.BOUNDED_ECP, nt.ECP_HW_NOIRQ, nt.ECP_HW_IRQ, nt.ECP_SW) == (
        0x80,
        0x100,
        0x200,
        0x400,
    )
    assert nt.EPP_ANY == nt.EPP_HW | nt.EPP_SW == 0x60
    assert nt.ECP_ANY == nt.BOUNDED_ECP | nt.ECP_HW_NOIRQ | nt.ECP_HW_IRQ | nt.ECP_SW == 0x780
    bits = [
        nt.PARALLEL_INIT,
        nt.PARALLEL_AUTOFEED,
        nt.PARALLEL_PAPER_EMPTY,
        nt.PARALLEL_OFF_LINE,
        nt.PARALLEL_POWER_OFF,
        nt.PARALLEL_NOT_CONNECTED,
        nt.PARALLEL_BUSY,
        nt.PARALLEL_SELECTED,
    ]
    assert bits == [1 << i for i in range(8)]
    assert (nt.PPT_ECP_PRESENT, nt.PPT_EPP_PRESENT, nt.PPT_EPP_32_PRESENT) == (1, 2, 4)
    assert nt.PPT_BYTE_PRESENT == nt.PPT_BIDI_PRESENT == 8
    assert nt.PPT_1284_3_PRESENT == 0x10
    assert (nt.PAR_END_OF_CHAIN_DEVICE, nt.PAR_HAVE_PORT_KEEP_PORT, nt.PAR_LEGACY_ZIP_DRIVE) == (
        1,
        2,
        4,
    )
    assert (nt.PAR_LEGACY_ZIP_DRIVE_STD_MODE, nt.PAR_LEGACY_ZIP_DRIVE_EPP_MODE) == (0x10, 0x20)
    ecr = {
        "ECR_SPP_MODE": 0x00,
        "ECR_BYTE_MODE": 0x20,
        "ECR_BYTE_PIO_MODE": 0x34,
        "ECR_FASTCENT_MODE": 0x40,
        "ECR_ECP_MODE": 0x60,
        "ECR_ECP_PIO_MODE": 0x74,
        "ECR_EPP_MODE": 0x80,
        "ECR_EPP_PIO_MODE": 0x94,
        "ECR_RESERVED_MODE": 0x10,
        "ECR_TEST_MODE": 0xC0,
        "ECR_CONFIG_MODE": 0xE0,
        "DEFAULT_ECR_COMPATIBILITY": 0x14,
        "DEFAULT_ECR_TEST": 0xD4,
        "DEFAULT_ECR_CONFIGURATION": 0xF4,
        "ECR_MODE_MASK": 0x1F,
    }
    assert {k: getattr(nt, k) for k in ecr} == ecr
    assert nt.MODE_QUALIFIER == bytes.fromhex("AA5500FF8778FF")
    assert nt.LEGACY_ZIP_MODE_QUALIFIER == bytes.fromhex("003C20")
    assert (nt.CPP_SELECT, nt.CPP_DESELECT, nt.CPP_COMMAND_FILTER) == (0xE0, 0x30, 0xF8)
    assert (nt.DOT3_END_OF_CHAIN_ID, nt.DOT3_LEGACY_ZIP_ID) == (4, 5)
    assert nt.P1284_HW_MODE.HW_MODE_CONFIGURATION == 7
    assert nt.P1284_PHASE.PHASE_INTERRUPT_HOST == 12
    assert nt.PDO_TYPE.PdoTypeLegacyZip == 8
