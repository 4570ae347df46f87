"""parport: the Windows parallel-port driver stack (``parallel.h`` / ``ntddpar.h``) in Python.

Layers, each importing only those below it: ``parport.nt`` (the Windows vocabulary and the
request object), ``parport.hw`` (register access, the emulator and hardware backends),
``parport.ieee1284`` (the protocol engine), ``parport.driver`` (port arbiter, devices,
lock/unlock) and, on top, this facade, the pins, the daemon and its client, the drop-ins and the
``parport`` command.

Importing this package touches no hardware, starts no thread and loads nothing else: each name
below is loaded when it is first used, so ``import parport`` stays fast::

    import parport
    with parport.open("emu:") as bus:
        with bus.device("LPT1.0") as dev, dev.locked():
            dev.write(b"an uninterrupted job")
"""

from __future__ import annotations

import importlib

from ._version import __version__

TYPE_CHECKING = False  # not typing's: importing typing alone would double the import time
if TYPE_CHECKING:
    from typing import Any

    from . import compat, driver, hw, ieee1284, nt, pins, service  # noqa: F401
    from .facade import Bus, Device, DeviceStatus, Mode, Port, connect, open
    from .hw.discover import list_ports
    from .nt.errors import (
        AccessDeniedError,
        BufferTooSmallError,
        CancelledError,
        DeviceBusyError,
        DeviceError,
        DeviceRemovedError,
        InvalidDeviceStateError,
        InvalidParameterError,
        IoTimeoutError,
        NotSupportedError,
        NtStatusError,
        ParportError,
        PrinterError,
        SpecError,
    )

_ERRORS = (
    "AccessDeniedError",
    "BufferTooSmallError",
    "CancelledError",
    "DeviceBusyError",
    "DeviceError",
    "DeviceRemovedError",
    "InvalidDeviceStateError",
    "InvalidParameterError",
    "IoTimeoutError",
    "NotSupportedError",
    "NtStatusError",
    "ParportError",
    "PrinterError",
    "SpecError",
)
# name -> the module that defines it (loaded on first use)
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        ("Bus", "Device", "DeviceStatus", "Mode", "Port", "connect", "open"), ".facade"
    ),
    "list_ports": ".hw.discover",
    **dict.fromkeys(_ERRORS, ".nt.errors"),
}
_SUBMODULES = ("compat", "driver", "hw", "ieee1284", "nt", "pins", "service")

__all__ = [
    "AccessDeniedError",
    "BufferTooSmallError",
    "Bus",
    "CancelledError",
    "Device",
    "DeviceBusyError",
    "DeviceError",
    "DeviceRemovedError",
    "DeviceStatus",
    "InvalidDeviceStateError",
    "InvalidParameterError",
    "IoTimeoutError",
    "Mode",
    "NotSupportedError",
    "NtStatusError",
    "ParportError",
    "Port",
    "PrinterError",
    "SpecError",
    "__version__",
    "connect",
    "list_ports",
    "open",
]


def __getattr__(name: str) -> Any:
    """Load a public name (or a subpackage) the first time it is asked for."""
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(module, __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'parport' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBMODULES})
