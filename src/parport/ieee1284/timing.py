"""IEEE 1284 time limits and the host delays the engine uses (ieee1284.md §2.9, §4.2).

The delays inside a handshake loop live with the loops in layer 2 (:mod:`parport.hw.handshake`)
and are named here again for the engine's own sequences (negotiation, turnarounds, termination).
"""

from __future__ import annotations

from typing import Final

from ..hw.handshake import (
    COMPAT_SETUP_US,
    CPP_BYTE_US,
    CPP_RESPONSE_US,
    CPP_STATUS_POLL_US,
    EPP_TIMEOUT_US,
    STROBE_US,
    TL_US,
)

__all__ = [
    "COMPAT_SETUP_US",
    "CPP_BYTE_US",
    "CPP_RESPONSE_US",
    "CPP_STATUS_POLL_US",
    "DEVICE_ID_DELAY_US",
    "DOT3_RETRIES",
    "EPP_TIMEOUT_US",
    "NEGOTIATION_SETTLE_US",
    "STROBE_US",
    "TL_US",
]

NEGOTIATION_SETTLE_US: Final = 400.0  # event 0 -> event 1 (Linux)
DOT3_RETRIES: Final = 5  # PptDot3Retries
DEVICE_ID_DELAY_US: Final = 40_000.0  # Windows: 40 ms before a device ID query
