"""Layer 4: the driver stack — the port's device object and arbiter, the device objects on the
port, enumeration and naming, handles and dispatch by (major function, code)."""

from .arbiter import PortArbiter
from .bus import ParallelBus, Rescan, open_bus
from .fdo import ParallelPort, PortOptions
from .iomgr import DeviceObject, Handle, IoManager, normalize_name
from .pdo import DeviceKind, ParallelDevice

__all__ = [
    "DeviceKind",
    "DeviceObject",
    "Handle",
    "IoManager",
    "ParallelBus",
    "ParallelDevice",
    "ParallelPort",
    "PortArbiter",
    "PortOptions",
    "Rescan",
    "normalize_name",
    "open_bus",
]
