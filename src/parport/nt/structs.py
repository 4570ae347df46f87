"""The structures of ``parallel.h`` / ``ntddpar.h`` / ``ntddser.h`` with their byte layouts (§4).

Each structure is a dataclass whose members are ints annotated with their C type; the byte
layout (offsets, padding, size) is computed from those types with the natural alignment of the
target (x64 by default, x86 on request) and packed little-endian with :mod:`struct`. Pointer
fields are plain integers here; the driver puts non-zero tokens in them and hands the real
callables out separately.
"""

from __future__ import annotations

import inspect
import struct
from dataclasses import dataclass
from typing import Annotated, ClassVar, Literal, Self, get_type_hints

__all__ = [
    "FILE_POSITION_INFORMATION",
    "FILE_STANDARD_INFORMATION",
    "MORE_PARALLEL_PORT_INFORMATION",
    "PARALLEL_1284_COMMAND",
    "PARALLEL_CHIP_MODE",
    "PARALLEL_INTERRUPT_INFORMATION",
    "PARALLEL_INTERRUPT_SERVICE_ROUTINE",
    "PARALLEL_PARCHIP_INFO",
    "PARALLEL_PNP_INFORMATION",
    "PARALLEL_PORT_INFORMATION",
    "PARCLASS_INFORMATION",
    "PARCLASS_NEGOTIATION_MASK",
    "PARPORT_REMOVAL_RELATIONS",
    "PAR_DEVICE_ID_SIZE_INFORMATION",
    "PAR_QUERY_INFORMATION",
    "PAR_SET_INFORMATION",
    "POINTER_SIZE",
    "SERIAL_TIMEOUTS",
    "Arch",
    "CType",
    "Layout",
    "NtStruct",
]

Arch = Literal["x64", "x86"]
POINTER_SIZE: dict[Arch, int] = {"x64": 8, "x86": 4}


@dataclass(frozen=True, slots=True)
class CType:
    """A C scalar type: its struct format per architecture (size and alignment follow)."""

    name: str
    fmt_x64: str
    fmt_x86: str

    def fmt(self, arch: Arch) -> str:
        return self.fmt_x64 if arch == "x64" else self.fmt_x86


UCHAR = CType("UCHAR", "B", "B")
BOOLEAN = CType("BOOLEAN", "B", "B")
USHORT = CType("USHORT", "H", "H")
ULONG = CType("ULONG", "I", "I")
ENUM = CType("enum", "i", "i")
PHYSICAL_ADDRESS = CType("PHYSICAL_ADDRESS", "q", "q")
LARGE_INTEGER = CType("LARGE_INTEGER", "q", "q")
POINTER = CType("pointer", "Q", "I")

# Member types: an int annotated with its C type.
Uchar = Annotated[int, UCHAR]
Boolean = Annotated[int, BOOLEAN]
Ushort = Annotated[int, USHORT]
Ulong = Annotated[int, ULONG]
Enum = Annotated[int, ENUM]
PhysicalAddress = Annotated[int, PHYSICAL_ADDRESS]
LargeInteger = Annotated[int, LARGE_INTEGER]
Pointer = Annotated[int, POINTER]


@dataclass(frozen=True, slots=True)
class Layout:
    """Offsets, size and the struct format of one structure on one architecture."""

    offsets: dict[str, int]
    size: int
    format: str
    codec: struct.Struct

    @classmethod
    def build(cls, members: list[tuple[str, CType]], arch: Arch) -> Layout:
        offsets: dict[str, int] = {}
        fmt = "<"
        offset = 0
        max_align = 1
        for name, ctype in members:
            code = ctype.fmt(arch)
            size = struct.calcsize("<" + code)
            pad = -offset % size
            if pad:
                fmt += f"{pad}x"
            offset += pad
            offsets[name] = offset
            fmt += code
            offset += size
            max_align = max(max_align, size)
        tail = -offset % max_align
        if tail:
            fmt += f"{tail}x"
        codec = struct.Struct(fmt)
        return cls(offsets, codec.size, fmt, codec)


class NtStruct:
    """Base of every structure: pack, unpack, size and offsets.

    A subclass declares its members in order as ``Name: Ulong = 0`` (an int annotated with its C
    type); the layouts are computed once, when the subclass is created.
    """

    SIZE: ClassVar[int]
    SIZE_X86: ClassVar[int]
    _layouts: ClassVar[dict[Arch, Layout]]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        hints = get_type_hints(cls, include_extras=True)
        members: list[tuple[str, CType]] = []
        for name in inspect.get_annotations(cls):
            ctypes = [m for m in getattr(hints[name], "__metadata__", ()) if isinstance(m, CType)]
            if ctypes:
                members.append((name, ctypes[0]))
        cls._layouts = {arch: Layout.build(members, arch) for arch in ("x64", "x86")}
        cls.SIZE = cls._layouts["x64"].size
        cls.SIZE_X86 = cls._layouts["x86"].size

    @classmethod
    def layout(cls, arch: Arch = "x64") -> Layout:
        return cls._layouts[arch]

    @classmethod
    def offsetof(cls, name: str, arch: Arch = "x64") -> int:
        try:
            return cls._layouts[arch].offsets[name]
        except KeyError:
            raise AttributeError(f"{cls.__name__} has no member {name!r}") from None

    def values(self) -> tuple[int, ...]:
        return tuple(int(getattr(self, name)) for name in self._layouts["x64"].offsets)

    def pack(self, arch: Arch = "x64") -> bytes:
        """The structure's bytes, exactly ``SIZE`` long (little-endian)."""
        try:
            return self._layouts[arch].codec.pack(*self.values())
        except struct.error as exc:
            raise ValueError(f"{type(self).__name__}: a member is out of range: {exc}") from None

    def __bytes__(self) -> bytes:
        return self.pack()

    @classmethod
    def unpack(cls, data: bytes | bytearray | memoryview, arch: Arch = "x64") -> Self:
        """Read the structure from the start of ``data`` (which may be longer, never shorter)."""
        layout = cls._layouts[arch]
        if len(data) < layout.size:
            raise ValueError(
                f"{cls.__name__} needs {layout.size} bytes, the buffer has {len(data)}"
            )
        return cls(*layout.codec.unpack_from(data))


# --- parallel.h --------------------------------------------------------------------------------


@dataclass
class PARALLEL_PORT_INFORMATION(NtStruct):
    """Output of GET_PARALLEL_PORT_INFO (§4.1): 56 bytes on x64."""

    OriginalController: PhysicalAddress = 0
    Controller: Pointer = 0
    SpanOfController: Ulong = 0
    TryAllocatePort: Pointer = 0
    FreePort: Pointer = 0
    QueryNumWaiters: Pointer = 0
    Context: Pointer = 0


@dataclass
class MORE_PARALLEL_PORT_INFORMATION(NtStruct):
    """Output of GET_MORE_PARALLEL_PORT_INFO (§4.2): 32 bytes on x64."""

    InterfaceType: Enum = 0
    BusNumber: Ulong = 0
    InterruptLevel: Ulong = 0
    InterruptVector: Ulong = 0
    InterruptAffinity: Pointer = 0  # KAFFINITY is pointer-sized
    InterruptMode: Enum = 0


@dataclass
class PARALLEL_PNP_INFORMATION(NtStruct):
    """Output of GET_PARALLEL_PNP_INFO (§4.3): 112 bytes on x64."""

    OriginalEcpController: PhysicalAddress = 0
    EcpController: Pointer = 0
    SpanOfEcpController: Ulong = 0
    PortNumber: Ulong = 0
    HardwareCapabilities: Ulong = 0
    TrySetChipMode: Pointer = 0
    ClearChipMode: Pointer = 0
    FifoDepth: Ulong = 0
    FifoWidth: Ulong = 0
    EppControllerPhysicalAddress: PhysicalAddress = 0
    SpanOfEppController: Ulong = 0
    Ieee1284_3DeviceCount: Ulong = 0
    TrySelectDevice: Pointer = 0
    DeselectDevice: Pointer = 0
    Context: Pointer = 0
    CurrentMode: Ulong = 0
    PortName: Pointer = 0  # PWSTR


@dataclass
class PARALLEL_1284_COMMAND(NtStruct):
    """SELECT/DESELECT input and TrySelect/Deselect argument (§4.4): 8 bytes."""

    ID: Uchar = 0
    Port: Uchar = 0
    CommandFlags: Ulong = 0


@dataclass
class PARALLEL_CHIP_MODE(NtStruct):
    """SET/CLEAR_CHIP_MODE input (§4.5): 2 bytes."""

    ModeFlags: Uchar = 0
    success: Boolean = 0


@dataclass
class PARALLEL_INTERRUPT_SERVICE_ROUTINE(NtStruct):
    """CONNECT/DISCONNECT_INTERRUPT input (§4.6): 32 bytes on x64."""

    InterruptServiceRoutine: Pointer = 0
    InterruptServiceContext: Pointer = 0
    DeferredPortCheckRoutine: Pointer = 0
    DeferredPortCheckContext: Pointer = 0


@dataclass
class PARALLEL_INTERRUPT_INFORMATION(NtStruct):
    """CONNECT_INTERRUPT output (§4.7): 32 bytes on x64."""

    InterruptObject: Pointer = 0
    TryAllocatePortAtInterruptLevel: Pointer = 0
    FreePortFromInterruptLevel: Pointer = 0
    Context: Pointer = 0


@dataclass
class PARCLASS_INFORMATION(NtStruct):
    """PARCLASS_CONNECT output, WDK header layout (§4.8): 120 bytes on x64."""

    Controller: Pointer = 0
    EcrController: Pointer = 0
    SpanOfController: Ulong = 0
    DetermineIeeeModes: Pointer = 0
    NegotiateIeeeMode: Pointer = 0
    TerminateIeeeMode: Pointer = 0
    IeeeFwdToRevMode: Pointer = 0
    IeeeRevToFwdMode: Pointer = 0
    ParallelRead: Pointer = 0
    ParallelWrite: Pointer = 0
    ParclassContext: Pointer = 0
    HardwareCapabilities: Ulong = 0
    FifoDepth: Ulong = 0
    FifoWidth: Ulong = 0
    ParallelTryselect: Pointer = 0
    ParallelDeSelect: Pointer = 0


@dataclass
class PARPORT_REMOVAL_RELATIONS(NtStruct):
    """(UN)REGISTER_FOR_REMOVAL_RELATIONS input (§4.10): 24 bytes on x64."""

    DeviceObject: Pointer = 0
    Flags: Ulong = 0
    DeviceName: Pointer = 0


@dataclass
class PARALLEL_PARCHIP_INFO(NtStruct):
    """Chipset filter connection (§4.10): 56 bytes on x64."""

    Controller: Pointer = 0
    EcrController: Pointer = 0
    HardwareModes: Ulong = 0
    ParChipSetMode: Pointer = 0
    ParChipClearMode: Pointer = 0
    Context: Pointer = 0
    success: Boolean = 0


# --- ntddpar.h / ntddser.h ---------------------------------------------------------------------


@dataclass
class PAR_QUERY_INFORMATION(NtStruct):
    """PAR_QUERY_INFORMATION output (§4.9): the PARALLEL_* status bits."""

    Status: Uchar = 0


@dataclass
class PAR_SET_INFORMATION(NtStruct):
    """PAR_SET_INFORMATION input (§4.9): Init must be PARALLEL_INIT."""

    Init: Uchar = 0


@dataclass
class PAR_DEVICE_ID_SIZE_INFORMATION(NtStruct):
    """QUERY_DEVICE_ID_SIZE output (§4.9): bytes needed for the ID and its NUL."""

    DeviceIdSize: Ulong = 0


@dataclass
class PARCLASS_NEGOTIATION_MASK(NtStruct):
    """IEEE1284_GET_MODE / NEGOTIATE / GET_DEFAULT_MODES buffer (§4.9)."""

    usReadMask: Ushort = 0
    usWriteMask: Ushort = 0


@dataclass
class SERIAL_TIMEOUTS(NtStruct):
    """SERIAL_SET/GET_TIMEOUTS buffer (§4.9): five ULONGs, milliseconds."""

    ReadIntervalTimeout: Ulong = 0
    ReadTotalTimeoutMultiplier: Ulong = 0
    ReadTotalTimeoutConstant: Ulong = 0
    WriteTotalTimeoutMultiplier: Ulong = 0
    WriteTotalTimeoutConstant: Ulong = 0


@dataclass
class FILE_STANDARD_INFORMATION(NtStruct):
    """QUERY_INFORMATION FileStandardInformation output (§4.10): 24 bytes."""

    AllocationSize: LargeInteger = 0
    EndOfFile: LargeInteger = 0
    NumberOfLinks: Ulong = 0
    DeletePending: Boolean = 0
    Directory: Boolean = 0


@dataclass
class FILE_POSITION_INFORMATION(NtStruct):
    """QUERY_INFORMATION FilePositionInformation output (§4.10): 8 bytes."""

    CurrentByteOffset: LargeInteger = 0
