"""Device objects for the devices found on a port (PDOs, windows-parport.md §2.2, §5.2).

One per device: the raw port (``LPTn``), each IEEE 1284.3 daisy-chain device (``LPTn.y``), the
end-of-chain device (``LPTn.4``) and a legacy Zip drive (``LPTn.5``). Opened exclusively.
"""

from __future__ import annotations

import logging
from enum import IntEnum
from typing import TYPE_CHECKING

from .. import nt
from ..ieee1284 import DeviceId
from .iomgr import DeviceObject, Handle

if TYPE_CHECKING:
    from .fdo import ParallelPort

__all__ = ["DeviceKind", "ParallelDevice"]

log = logging.getLogger(__name__)


class DeviceKind(IntEnum):
    """The sample's PDO types (§2.2)."""

    RAW = nt.PDO_TYPE.PdoTypeRawPort
    END_OF_CHAIN = nt.PDO_TYPE.PdoTypeEndOfChain
    DAISY_CHAIN = nt.PDO_TYPE.PdoTypeDaisyChain
    LEGACY_ZIP = nt.PDO_TYPE.PdoTypeLegacyZip


class ParallelDevice(DeviceObject):
    """A device on the port."""

    exclusive = True

    def __init__(
        self,
        port: ParallelPort,
        kind: DeviceKind,
        daisy_id: int | None = None,
        device_id: DeviceId | None = None,
    ) -> None:
        index = port.index
        suffix = {
            DeviceKind.RAW: "",
            DeviceKind.END_OF_CHAIN: f".{nt.DOT3_END_OF_CHAIN_ID}",
            DeviceKind.DAISY_CHAIN: f".{daisy_id}",
            DeviceKind.LEGACY_ZIP: f".{nt.DOT3_LEGACY_ZIP_ID}",
        }[kind]
        super().__init__(f"\\Device\\Parallel{index}{suffix}")
        self.port = port
        self.kind = kind
        self.daisy_id = daisy_id
        self.location = f"{port.port_name}{suffix}"
        if device_id is None and kind == DeviceKind.RAW:
            device_id = DeviceId(
                "MFG:Microsoft;MDL:RawPort;", {"MFG": "Microsoft", "MDL": "RawPort"}
            )
        elif device_id is None and kind == DeviceKind.LEGACY_ZIP:
            device_id = DeviceId("MFG:IMG;MDL:VP0;", {"MFG": "IMG", "MDL": "VP0"})
        self.device_id = device_id

    def command(self, flags: int = 0) -> nt.PARALLEL_1284_COMMAND:
        """The PARALLEL_1284_COMMAND that addresses this device."""
        if self.kind == DeviceKind.DAISY_CHAIN:
            assert self.daisy_id is not None
            return nt.PARALLEL_1284_COMMAND(ID=self.daisy_id, CommandFlags=flags)
        if self.kind == DeviceKind.LEGACY_ZIP:
            return nt.PARALLEL_1284_COMMAND(
                ID=nt.DOT3_LEGACY_ZIP_ID, CommandFlags=flags | nt.PAR_LEGACY_ZIP_DRIVE
            )
        return nt.PARALLEL_1284_COMMAND(
            ID=nt.DOT3_END_OF_CHAIN_ID, CommandFlags=flags | nt.PAR_END_OF_CHAIN_DEVICE
        )

    def create(self, handle: Handle, options: int) -> int:
        if self.removed:
            return nt.STATUS_DEVICE_REMOVED
        if options & nt.FILE_DIRECTORY_FILE:
            return nt.STATUS_NOT_A_DIRECTORY
        return super().create(handle, options)

    def dispatch(self, irp: nt.Irp) -> None:
        if self.removed:
            irp.complete(nt.STATUS_DEVICE_REMOVED)
            return
        irp.complete(nt.STATUS_INVALID_PARAMETER)

    def describe(self) -> str:
        what = self.device_id.text if self.device_id else "no device ID"
        return f"{self.location} ({self.kind.name.lower()}): {what}"
