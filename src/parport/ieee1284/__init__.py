"""Layer 3: the IEEE 1284 protocol engine, on the register-access interface only."""

from .detect import DetectedHardware, clear_epp_timeout, detect

__all__ = ["DetectedHardware", "clear_epp_timeout", "detect"]
