"""Flag, mode and wire constants of ``parallel.h`` / ``ntddpar.h`` (Part B §2, §3.4–§3.10, §4.10).

Names are the header names. Values that form a family are also grouped in an ``IntFlag`` or
``IntEnum`` for readable printing; the module-level names are the same values.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag
from typing import Final

__all__ = [
    "BECP_EXTENSIBILITY",
    "BIDIRECTIONAL_MODES",
    "BOUNDED_ECP",
    "BYTE_BIDIR",
    "BYTE_EXTENSIBILITY",
    "CENTRONICS",
    "CHANNELIZED_EXTENSIBILITY",
    "CHANNEL_NIBBLE",
    "CNFGA_IMPID_8BIT",
    "CNFGA_IMPID_16BIT",
    "CNFGA_IMPID_32BIT",
    "CNFGA_IMPID_MASK",
    "CNFGA_IMPID_SHIFT",
    "CNFGB_OFFSET",
    "CPP_ASSIGN_ADDR",
    "CPP_CLEAR_INT_LAT",
    "CPP_COMMAND_FILTER",
    "CPP_DESELECT",
    "CPP_DISABLE_INT",
    "CPP_ENABLE_INT",
    "CPP_QUERY_INT",
    "CPP_SELECT",
    "CPP_SET_INT_LAT",
    "DATA_OFFSET",
    "DCR_ACKINT_ENABLED",
    "DCR_AUTOFEED",
    "DCR_DIRECTION",
    "DCR_NOT_INIT",
    "DCR_OFFSET",
    "DCR_RESERVED",
    "DCR_SELECT_IN",
    "DCR_STROBE",
    "DEFAULT_ECR_COMPATIBILITY",
    "DEFAULT_ECR_CONFIGURATION",
    "DEFAULT_ECR_TEST",
    "DEVICE_ID_REQ",
    "DOT3_END_OF_CHAIN_ID",
    "DOT3_LEGACY_ZIP_ID",
    "DSR_NOT_ACK",
    "DSR_NOT_BUSY",
    "DSR_NOT_FAULT",
    "DSR_OFFSET",
    "DSR_PERROR",
    "DSR_SELECT",
    "ECP_ANY",
    "ECP_EXTENSIBILITY",
    "ECP_HW_IRQ",
    "ECP_HW_NOIRQ",
    "ECP_MAX_FIFO_DEPTH",
    "ECP_OFFSET",
    "ECP_SPAN",
    "ECP_SW",
    "ECR_BYTE_MODE",
    "ECR_BYTE_PIO_MODE",
    "ECR_CONFIG_MODE",
    "ECR_DMA_ENABLED",
    "ECR_ECP_MODE",
    "ECR_ECP_PIO_MODE",
    "ECR_EPP_MODE",
    "ECR_EPP_PIO_MODE",
    "ECR_ERRINT_DISABLED",
    "ECR_FASTCENT_MODE",
    "ECR_FIFO_EMPTY",
    "ECR_FIFO_FULL",
    "ECR_FIFO_MASK",
    "ECR_FIFO_SOME_DATA",
    "ECR_MODE_MASK",
    "ECR_OFFSET",
    "ECR_RESERVED_MODE",
    "ECR_SPP_MODE",
    "ECR_SVC_INT_DISABLED",
    "ECR_TEST_MODE",
    "EPP_ANY",
    "EPP_EXTENSIBILITY",
    "EPP_HW",
    "EPP_OFFSET",
    "EPP_SPAN",
    "EPP_SW",
    "FILE_DIRECTORY_FILE",
    "FORWARD_ONLY_MODES",
    "GUID_DEVINTERFACE_PARALLEL",
    "GUID_DEVINTERFACE_PARCLASS",
    "GUID_PARALLEL_DEVICE",
    "IEEE1284_MODE",
    "IEEE_1284_3_DAISY_CHAIN_MAX_ID",
    "IEEE_COMPATIBILITY",
    "INITIAL_MODE",
    "INTERFACE_TYPE",
    "KINTERRUPT_MODE",
    "LEGACY_ZIP_MODE_QUALIFIER",
    "MODE_QUALIFIER",
    "MODE_SPEED_ORDER",
    "NIBBLE",
    "NIBBLE_EXTENSIBILITY",
    "NONE",
    "OFFSET_PARALLEL_REGISTER_SPAN",
    "P1284_HW_MODE",
    "P1284_PHASE",
    "P12843_DL_MODES",
    "PARALLEL_AUTOFEED",
    "PARALLEL_BUSY",
    "PARALLEL_INIT",
    "PARALLEL_NOT_CONNECTED",
    "PARALLEL_OFF_LINE",
    "PARALLEL_PAPER_EMPTY",
    "PARALLEL_POWER_OFF",
    "PARALLEL_SAFETY",
    "PARALLEL_SELECTED",
    "PARCHIP_ECR_ARBITRATOR",
    "PAR_END_OF_CHAIN_DEVICE",
    "PAR_HAVE_PORT_KEEP_PORT",
    "PAR_LEGACY_ZIP_DRIVE",
    "PAR_LEGACY_ZIP_DRIVE_EPP_MODE",
    "PAR_LEGACY_ZIP_DRIVE_STD_MODE",
    "PAR_WRITE_TIMEOUT_VALUE",
    "PDO_TYPE",
    "PPT_1284_3_PRESENT",
    "PPT_BIDI_PRESENT",
    "PPT_BYTE_PRESENT",
    "PPT_DOT3_RETRIES",
    "PPT_ECP_PRESENT",
    "PPT_EPP_32_PRESENT",
    "PPT_EPP_PRESENT",
    "PPT_NO_HARDWARE_PRESENT",
    "REVERSE_ONLY_MODES",
    "SAFE_MODE",
    "UNSAFE_MODE",
    "FileEndOfFileInformation",
    "FilePositionInformation",
    "FileStandardInformation",
]

# --- §3.4 IEEE 1284 protocol (mode) bits, ntddpar.h ---------------------------------------------
NONE: Final = 0x0000
CENTRONICS: Final = 0x0001
IEEE_COMPATIBILITY: Final = 0x0002
NIBBLE: Final = 0x0004
CHANNEL_NIBBLE: Final = 0x0008
BYTE_BIDIR: Final = 0x0010
EPP_HW: Final = 0x0020
EPP_SW: Final = 0x0040
EPP_ANY: Final = 0x0060
BOUNDED_ECP: Final = 0x0080
ECP_HW_NOIRQ: Final = 0x0100
ECP_HW_IRQ: Final = 0x0200
ECP_SW: Final = 0x0400
ECP_ANY: Final = 0x0780


class IEEE1284_MODE(IntFlag):
    """The mode bits as a flag type (same values as the constants above)."""

    NONE = 0x0000
    CENTRONICS = 0x0001
    IEEE_COMPATIBILITY = 0x0002
    NIBBLE = 0x0004
    CHANNEL_NIBBLE = 0x0008
    BYTE_BIDIR = 0x0010
    EPP_HW = 0x0020
    EPP_SW = 0x0040
    BOUNDED_ECP = 0x0080
    ECP_HW_NOIRQ = 0x0100
    ECP_HW_IRQ = 0x0200
    ECP_SW = 0x0400
    EPP_ANY = 0x0060
    ECP_ANY = 0x0780


FORWARD_ONLY_MODES: Final = CENTRONICS | IEEE_COMPATIBILITY
REVERSE_ONLY_MODES: Final = NIBBLE | CHANNEL_NIBBLE | BYTE_BIDIR
BIDIRECTIONAL_MODES: Final = EPP_ANY | ECP_ANY

# Fastest first, as documented ([D] §3.4); reverse-only modes are not in the documented list and
# come after it in the order nibble is slowest.
MODE_SPEED_ORDER: Final[tuple[int, ...]] = (
    BOUNDED_ECP,
    ECP_HW_NOIRQ,
    ECP_HW_IRQ,
    EPP_HW,
    EPP_SW,
    ECP_SW,
    BYTE_BIDIR,
    CHANNEL_NIBBLE,
    NIBBLE,
    IEEE_COMPATIBILITY,
    CENTRONICS,
)

# IEEE 1284 extensibility request bytes used by the reference driver (§3.4).
NIBBLE_EXTENSIBILITY: Final = 0x00
BYTE_EXTENSIBILITY: Final = 0x01
DEVICE_ID_REQ: Final = 0x04
CHANNELIZED_EXTENSIBILITY: Final = 0x08
ECP_EXTENSIBILITY: Final = 0x10
BECP_EXTENSIBILITY: Final = 0x18
EPP_EXTENSIBILITY: Final = 0x40

# --- §3.5 PAR_QUERY_INFORMATION / PAR_SET_INFORMATION status bits -------------------------------
PARALLEL_INIT: Final = 0x01
PARALLEL_AUTOFEED: Final = 0x02
PARALLEL_PAPER_EMPTY: Final = 0x04
PARALLEL_OFF_LINE: Final = 0x08
PARALLEL_POWER_OFF: Final = 0x10
PARALLEL_NOT_CONNECTED: Final = 0x20
PARALLEL_BUSY: Final = 0x40
PARALLEL_SELECTED: Final = 0x80

# --- §3.6 HardwareCapabilities ------------------------------------------------------------------
PPT_NO_HARDWARE_PRESENT: Final = 0x00000000
PPT_ECP_PRESENT: Final = 0x00000001
PPT_EPP_PRESENT: Final = 0x00000002
PPT_EPP_32_PRESENT: Final = 0x00000004
PPT_BYTE_PRESENT: Final = 0x00000008
PPT_BIDI_PRESENT: Final = 0x00000008
PPT_1284_3_PRESENT: Final = 0x00000010

# --- §3.7 PARALLEL_1284_COMMAND.CommandFlags ----------------------------------------------------
PAR_END_OF_CHAIN_DEVICE: Final = 0x00000001
PAR_HAVE_PORT_KEEP_PORT: Final = 0x00000002
PAR_LEGACY_ZIP_DRIVE: Final = 0x00000004
PAR_LEGACY_ZIP_DRIVE_STD_MODE: Final = 0x00000010
PAR_LEGACY_ZIP_DRIVE_EPP_MODE: Final = 0x00000020

# --- §2.3 / PARALLEL_1284_COMMAND.ID ------------------------------------------------------------
IEEE_1284_3_DAISY_CHAIN_MAX_ID: Final = 3
DOT3_END_OF_CHAIN_ID: Final = 4
DOT3_LEGACY_ZIP_ID: Final = 5

# --- §3.8 chip (ECR) modes ----------------------------------------------------------------------
INITIAL_MODE: Final = 0x00
ECR_SPP_MODE: Final = 0x00
ECR_BYTE_MODE: Final = 0x20
ECR_BYTE_PIO_MODE: Final = 0x34
ECR_FASTCENT_MODE: Final = 0x40
ECR_ECP_MODE: Final = 0x60
ECR_ECP_PIO_MODE: Final = 0x74
ECR_EPP_MODE: Final = 0x80
ECR_EPP_PIO_MODE: Final = 0x94
ECR_RESERVED_MODE: Final = 0x10
ECR_TEST_MODE: Final = 0xC0
ECR_CONFIG_MODE: Final = 0xE0
ECR_ERRINT_DISABLED: Final = 0x10
ECR_DMA_ENABLED: Final = 0x08
ECR_SVC_INT_DISABLED: Final = 0x04
DEFAULT_ECR_COMPATIBILITY: Final = 0x14
DEFAULT_ECR_TEST: Final = 0xD4
DEFAULT_ECR_CONFIGURATION: Final = 0xF4
ECR_MODE_MASK: Final = 0x1F  # the mask of the non-mode bits: mode = value & ~ECR_MODE_MASK
PARCHIP_ECR_ARBITRATOR: Final = 1
ECR_FIFO_MASK: Final = 0x03
ECR_FIFO_FULL: Final = 0x02
ECR_FIFO_EMPTY: Final = 0x01
ECR_FIFO_SOME_DATA: Final = 0x00
ECP_MAX_FIFO_DEPTH: Final = 4098
CNFGA_IMPID_MASK: Final = 0x70
CNFGA_IMPID_SHIFT: Final = 4
CNFGA_IMPID_16BIT: Final = 0
CNFGA_IMPID_8BIT: Final = 1
CNFGA_IMPID_32BIT: Final = 2

# --- §3.9 register map and status/control bits --------------------------------------------------
DATA_OFFSET: Final = 0
DSR_OFFSET: Final = 1
DCR_OFFSET: Final = 2
EPP_OFFSET: Final = 4
ECP_OFFSET: Final = 0x400
CNFGB_OFFSET: Final = 0x401
ECR_OFFSET: Final = 0x402
OFFSET_PARALLEL_REGISTER_SPAN: Final = 3
ECP_SPAN: Final = 3
EPP_SPAN: Final = 4

DSR_NOT_BUSY: Final = 0x80
DSR_NOT_ACK: Final = 0x40
DSR_PERROR: Final = 0x20
DSR_SELECT: Final = 0x10
DSR_NOT_FAULT: Final = 0x08
DCR_DIRECTION: Final = 0x20
DCR_ACKINT_ENABLED: Final = 0x10
DCR_SELECT_IN: Final = 0x08
DCR_NOT_INIT: Final = 0x04
DCR_AUTOFEED: Final = 0x02
DCR_STROBE: Final = 0x01
DCR_RESERVED: Final = 0xC0

# --- §3.10 IEEE 1284.3 daisy-chain wire constants -----------------------------------------------
MODE_QUALIFIER: Final = bytes((0xAA, 0x55, 0x00, 0xFF, 0x87, 0x78, 0xFF))
LEGACY_ZIP_MODE_QUALIFIER: Final = bytes((0x00, 0x3C, 0x20))
CPP_ASSIGN_ADDR: Final = 0x00
CPP_SELECT: Final = 0xE0
CPP_DESELECT: Final = 0x30
CPP_QUERY_INT: Final = 0x08
CPP_DISABLE_INT: Final = 0x40
CPP_ENABLE_INT: Final = 0x48
CPP_CLEAR_INT_LAT: Final = 0x50
CPP_SET_INT_LAT: Final = 0x58
CPP_COMMAND_FILTER: Final = 0xF8
PPT_DOT3_RETRIES: Final = 5


class P12843_DL_MODES(IntEnum):
    P12843DL_OFF = 0
    DOT3_DL = 1
    MLC_DL = 2
    DOT4_DL = 3


class PARALLEL_SAFETY(IntEnum):
    SAFE_MODE = 0
    UNSAFE_MODE = 1


SAFE_MODE: Final = PARALLEL_SAFETY.SAFE_MODE
UNSAFE_MODE: Final = PARALLEL_SAFETY.UNSAFE_MODE


class P1284_PHASE(IntEnum):
    PHASE_UNKNOWN = 0
    PHASE_NEGOTIATION = 1
    PHASE_SETUP = 2
    PHASE_FORWARD_IDLE = 3
    PHASE_FORWARD_XFER = 4
    PHASE_FWD_TO_REV = 5
    PHASE_REVERSE_IDLE = 6
    PHASE_REVERSE_XFER = 7
    PHASE_REV_TO_FWD = 8
    PHASE_TERMINATE = 9
    PHASE_DATA_AVAILABLE = 10
    PHASE_DATA_NOT_AVAIL = 11
    PHASE_INTERRUPT_HOST = 12


class P1284_HW_MODE(IntEnum):
    HW_MODE_COMPATIBILITY = 0
    HW_MODE_PS2 = 1
    HW_MODE_FAST_CENTRONICS = 2
    HW_MODE_ECP = 3
    HW_MODE_EPP = 4
    HW_MODE_RESERVED = 5
    HW_MODE_TEST = 6
    HW_MODE_CONFIGURATION = 7


class PDO_TYPE(IntEnum):
    """Kinds of device object the bus role creates (Part B §2.2, the sample's enum values)."""

    PdoTypeRawPort = 1
    PdoTypeEndOfChain = 2
    PdoTypeDaisyChain = 4
    PdoTypeLegacyZip = 8


class INTERFACE_TYPE(IntEnum):
    """``wdm.h`` bus types used in MORE_PARALLEL_PORT_INFORMATION (§4.2)."""

    Internal = 0
    Isa = 1
    Eisa = 2
    MicroChannel = 3
    TurboChannel = 4
    PCIBus = 5
    PCMCIABus = 8
    PNPISABus = 14
    ACPIBus = 17


class KINTERRUPT_MODE(IntEnum):
    LevelSensitive = 0
    Latched = 1


# --- device interfaces (§2.1, §2.2) ------------------------------------------------------------
GUID_DEVINTERFACE_PARALLEL: Final = "{97F76EF0-F883-11D0-AF1F-0000F800845C}"
GUID_PARALLEL_DEVICE: Final = GUID_DEVINTERFACE_PARALLEL
GUID_DEVINTERFACE_PARCLASS: Final = "{811FC6A5-F728-11D0-A537-0000F8753ED1}"

# --- create options and file information classes (§4.10, §5.2) ----------------------------------
FILE_DIRECTORY_FILE: Final = 0x00000001
FileStandardInformation: Final = 5
FilePositionInformation: Final = 14
FileEndOfFileInformation: Final = 20

# --- driver defaults (§11.2) --------------------------------------------------------------------
PAR_WRITE_TIMEOUT_VALUE: Final = 300  # TimerStart default, seconds
