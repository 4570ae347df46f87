"""IEEE 1284 time limits and the host delays the engine uses (ieee1284.md §2.9, §4.2)."""

from __future__ import annotations

from typing import Final

TL_US: Final = 35_000.0  # peripheral response limit during negotiation, termination, transfers
EPP_TIMEOUT_US: Final = 10.0
NEGOTIATION_SETTLE_US: Final = 400.0  # event 0 -> event 1 (Linux)
STROBE_US: Final = 5.0  # event 3 -> event 4, byte-mode HostClk, ECP HostClk
COMPAT_SETUP_US: Final = 1.0  # data set-up, strobe width, hold (Linux: 1 µs each)
CPP_BYTE_US: Final = 3.0  # Windows: a stall after every CPP byte
CPP_STATUS_POLL_US: Final = 5.0  # Windows: how long each S1/S2/S3 check may poll
CPP_RESPONSE_US: Final = 250.0  # Windows: 25 000 polls for the select/deselect answer
DOT3_RETRIES: Final = 5  # PptDot3Retries
DEVICE_ID_DELAY_US: Final = 40_000.0  # Windows: 40 ms before a device ID query
