"""parport: the Windows parallel-port driver stack (``parallel.h`` / ``ntddpar.h``) in Python.

Layers (``design.md`` §2), each importing only those below it: ``parport.nt`` (the Windows
vocabulary and the request object), ``parport.hw`` (register access, the emulator and hardware
backends), ``parport.ieee1284`` (the protocol engine), ``parport.driver`` (port arbiter, devices,
lock/unlock) and, on top, this facade and the ``parport`` command.

Importing this package touches no hardware and starts no thread::

    import parport
    with parport.open("emu:") as bus:
        with bus.device("LPT1.0") as dev, dev.locked():
            dev.write(b"an uninterrupted job")
"""

from ._version import __version__
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
