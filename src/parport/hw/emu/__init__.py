"""The register-level emulator: a PC parallel port, a cable of peripherals, virtual time."""

from .cable import Cable
from .daisy import DaisyDevice
from .ieee1284dev import Ieee1284Peripheral, Printer, device_id_stream
from .loopback import LoopbackPlug
from .peripheral import EndOfCable, Fault, Peripheral
from .port import EmulatedPort
from .topology import build_chain, daisy_device_id, load_bench, open_emulator
from .zip import ZipDrive

__all__ = [
    "Cable",
    "DaisyDevice",
    "EmulatedPort",
    "EndOfCable",
    "Fault",
    "Ieee1284Peripheral",
    "LoopbackPlug",
    "Peripheral",
    "Printer",
    "ZipDrive",
    "build_chain",
    "daisy_device_id",
    "device_id_stream",
    "load_bench",
    "open_emulator",
]
