"""Layer 4: the driver stack — the port's device object and arbiter, the device objects on the
port, enumeration and naming, handles and dispatch by (major function, code)."""

from .arbiter import PortArbiter
from .bus import ParallelBus, Rescan, open_bus
from .fdo import ParallelPort, PortOptions
from .iomgr import DeviceObject, FileObject, Handle, IoManager, normalize_name
from .pdo import DeviceKind, ParallelDevice
from .registers import IOCTL_PARPORT_REGISTERS
from .seam import PortOwner, PortSeam

__all__ = [
    "IOCTL_PARPORT_REGISTERS",
    "DeviceKind",
    "DeviceObject",
    "FileObject",
    "Handle",
    "IoManager",
    "ParallelBus",
    "ParallelDevice",
    "ParallelPort",
    "PortArbiter",
    "PortOptions",
    "PortOwner",
    "PortSeam",
    "Rescan",
    "normalize_name",
    "open_bus",
]
