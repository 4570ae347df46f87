"""Layer 3: the IEEE 1284 protocol engine, on the register-access interface only.

:class:`Session` negotiates and terminates IEEE 1284 modes and moves data in every mode
(compatibility, nibble, byte, EPP, ECP; hardware-assisted where the port has it);
:mod:`.dot3` holds the IEEE 1284.3 daisy-chain commands and the legacy Zip select;
:func:`detect` finds what the port's hardware can do; :mod:`.devid` reads and parses device IDs.
"""

from . import dot3, lines
from .detect import DetectedHardware, clear_epp_timeout, detect
from .devid import DeviceId, parse_device_id, read_device_id
from .session import FORWARD_MODES, REVERSE_MODES, Negotiation, Session, fastest_mode, request_byte
from .transfer import Transfer

__all__ = [
    "FORWARD_MODES",
    "REVERSE_MODES",
    "DetectedHardware",
    "DeviceId",
    "Negotiation",
    "Session",
    "Transfer",
    "clear_epp_timeout",
    "detect",
    "dot3",
    "fastest_mode",
    "lines",
    "parse_device_id",
    "read_device_id",
    "request_byte",
]
