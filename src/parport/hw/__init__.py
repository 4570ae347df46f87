"""Layer 2: register access to a parallel port, and its backends (``design.md`` §2, §6).

:class:`PortBackend` is the one interface the layers above use; :func:`open_backend` opens one
from a port spec (``emu:`` — the register-level emulator, the default —, ``spy:<spec>?vcd=FILE``).
:mod:`parport.hw.signals` is the one table between register bits and IEEE 1284 lines.
"""

from .backend import Capabilities, LineState, PortBackend, UnsupportedRegisterError
from .clock import Clock, MonotonicClock, VirtualClock
from .spec import PortSpec, default_spec, open_backend, parse_spec

__all__ = [
    "Capabilities",
    "Clock",
    "LineState",
    "MonotonicClock",
    "PortBackend",
    "PortSpec",
    "UnsupportedRegisterError",
    "VirtualClock",
    "default_spec",
    "open_backend",
    "parse_spec",
]
