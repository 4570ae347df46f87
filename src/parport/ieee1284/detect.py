"""Capability detection from the registers, with the sequences Linux ``parport_pc`` uses
(ieee1284.md §1.9), giving the Windows capability bits (windows-parport.md §3.6).

Runs on any :class:`~parport.hw.PortBackend`; on the emulator each hardware kind is detected as
what it is. Leaves the port as Linux does: ECR 0x34 (PS/2 mode) when there is an ECR, data 0,
forward direction, CTR 0x0C.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .. import nt
from ..hw.backend import PortBackend, UnsupportedRegisterError

__all__ = ["DetectedHardware", "clear_epp_timeout", "detect"]

log = logging.getLogger(__name__)

_PWORD_BITS = {0: 16, 1: 8, 2: 32}
_IRQ_BY_CODE = {1: 7, 2: 9, 3: 10, 4: 11, 5: 14, 6: 15, 7: 5}


@dataclass(frozen=True, slots=True)
class DetectedHardware:
    """What the detection sequences found."""

    present: bool
    ecr: bool = False
    epp: bool = False
    epp_needs_ecr_mode: bool = False  # SMC-style: EPP only in ECR mode 100
    ps2: bool = False
    fifo_depth: int = 0
    fifo_width: int = 8  # bits per FIFO word
    write_threshold: int = 0
    read_threshold: int = 0
    irq: int | None = None

    @property
    def ecp(self) -> bool:
        """An ECR with a working FIFO."""
        return self.ecr and self.fifo_depth > 0

    @property
    def kind(self) -> str:
        """The port kind, in the names of :data:`parport.hw.backend.PORT_KINDS`."""
        if self.ecp:
            return "ecp+epp" if self.epp else "ecp"
        if self.epp:
            return "epp"
        return "ps2" if self.ps2 else "spp"

    @property
    def ppt_bits(self) -> int:
        """Windows ``HardwareCapabilities`` (PPT_ECP_PRESENT, PPT_EPP_PRESENT, PPT_BYTE_PRESENT)."""
        bits = nt.PPT_NO_HARDWARE_PRESENT
        if self.ecp:
            bits |= nt.PPT_ECP_PRESENT
        if self.epp:
            bits |= nt.PPT_EPP_PRESENT
        if self.ps2:
            bits |= nt.PPT_BYTE_PRESENT
        return bits


def clear_epp_timeout(port: PortBackend) -> bool:
    """Clear the EPP timeout bit by every chip's method (§1.4); True if it reads clear after."""
    if not port.read_status() & 0x01:
        return True
    port.read_status()
    status = port.read_status()  # some chips clear on read
    port.write_status(status | 0x01)  # others by writing 1
    port.write_status(status & 0xFE)  # the rest by writing 0
    return not port.read_status() & 0x01


def _spp_present(port: PortBackend) -> bool:
    clear_epp_timeout(port)
    port.write_control(0x0C)
    if port.read_control() & 0x0F == 0x0C:
        port.write_control(0x0E)
        value = port.read_control()
        port.write_control(0x0C)
        if value & 0x0F == 0x0E:
            return True
    port.write_data(0xAA)
    if port.read_data() != 0xAA:
        return False
    port.write_data(0x55)
    return port.read_data() == 0x55


def _ecr_present(port: PortBackend) -> bool:
    try:
        port.write_control(0x0C)
        ecr = port.read_ecr()
    except UnsupportedRegisterError:
        return False
    if ecr & 0x03 == 0x0C & 0x03:
        port.write_control(0x0E)
        aliased = port.read_ecr() & 0x02 == 0x0E & 0x02
        port.write_control(0x0C)
        if aliased:
            return False  # the "ECR" is the control register seen again
    if port.read_ecr() & 0x03 != 0x01:
        return False
    port.write_ecr(0x34)
    if port.read_ecr() != 0x35:
        return False
    port.write_control(0x0C)
    port.write_ecr(0x14)  # mode 000
    return True


def _ps2_present(port: PortBackend) -> bool:
    clear_epp_timeout(port)
    port.write_control(0x2C)  # direction reverse
    port.write_data(0x55)
    first = port.read_data()
    port.write_data(0xAA)
    second = port.read_data()
    port.write_control(0x0C)
    return first != 0x55 or second != 0xAA


def _fifo(port: PortBackend) -> tuple[int, int, int, int]:
    """(depth, write threshold, read threshold, width bits) of the ECP FIFO; depth 0: none."""
    port.write_ecr(0x14)  # mode 000: resets the FIFO
    port.write_ecr(0xD4)  # mode 110: test FIFO
    depth = 0
    while depth < 1024 and not port.read_ecr() & 0x02:
        port.write_fifo(0xAA)
        depth += 1
    if depth >= 1024:
        port.write_ecr(0x14)
        return 0, 0, 0, 8
    port.write_ecr(0xD4)
    port.write_ecr(0xD0)  # arm serviceIntr
    write_threshold = 0
    for _ in range(depth):
        port.read_fifo()
        port.sleep(50)
        write_threshold += 1
        if port.read_ecr() & 0x04:
            break
    else:
        write_threshold = 0
    port.write_ecr(0x34)  # mode 001
    port.write_control(0x2C)  # reverse
    port.write_ecr(0xD4)
    port.write_ecr(0xD0)
    read_threshold = 0
    for _ in range(depth):
        port.write_fifo(0xAA)
        read_threshold += 1
        if port.read_ecr() & 0x04:
            break
    else:
        read_threshold = 0
    port.write_control(0x0C)
    port.write_ecr(0x14)
    port.write_ecr(0xF4)  # configuration mode
    pword = (port.read_fifo() >> 4) & 0x07
    port.write_ecr(0x14)
    return depth, write_threshold, read_threshold, _PWORD_BITS.get(pword, 8)


def _irq(port: PortBackend) -> int | None:
    port.write_ecr(0xF4)
    code = (port.read_cnfgb() >> 3) & 0x07
    port.write_ecr(0x14)
    return _IRQ_BY_CODE.get(code)


def detect(port: PortBackend) -> DetectedHardware:
    """Run the detection sequences of ieee1284.md §1.9 on ``port``."""
    ecr = _ecr_present(port)
    epp = clear_epp_timeout(port)
    epp_needs_ecr = False
    if not epp and ecr:
        port.write_ecr(0x80)  # mode 100
        port.write_control(0x04)
        epp = epp_needs_ecr = clear_epp_timeout(port)
        port.write_ecr(0x14)
    if not _spp_present(port):
        return DetectedHardware(present=False)
    if ecr:
        port.write_ecr(0x34)  # the PS/2 test runs in ECR mode 001
    ps2 = _ps2_present(port)
    depth = write_threshold = read_threshold = 0
    width = 8
    irq = None
    if ecr:
        depth, write_threshold, read_threshold, width = _fifo(port)
        irq = _irq(port)
        port.write_ecr(0x34)
    port.write_data(0x00)
    port.write_control(0x0C)
    found = DetectedHardware(
        present=True,
        ecr=ecr,
        epp=epp,
        epp_needs_ecr_mode=epp_needs_ecr,
        ps2=ps2,
        fifo_depth=depth,
        fifo_width=width,
        write_threshold=write_threshold,
        read_threshold=read_threshold,
        irq=irq,
    )
    log.debug("detected %s on %s", found, port.name)
    return found
