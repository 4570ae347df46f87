"""The register-access interface every backend implements (``design.md`` §2, layer 2).

Everything above this layer (the IEEE 1284 engine, the arbiter, the devices) talks to a port
only through :class:`PortBackend`, so the same code drives the emulator, Linux ppdev and raw I/O
ports. Register values cross the interface as raw PC register bits (:mod:`parport.hw.signals`
converts to pin levels and line names). Time comes from the backend's clock (microseconds): on
the emulator it is virtual, on hardware it is real.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from .. import nt
from . import handshake
from .clock import Clock
from .handshake import Block, Cancelled, never
from .lifetime import Closing

__all__ = [
    "PORT_KINDS",
    "Block",
    "Capabilities",
    "InterruptHandler",
    "LineObserver",
    "LineState",
    "PortBackend",
    "UnsupportedRegisterError",
]

log = logging.getLogger(__name__)

# ECP block offsets from the base (ieee1284.md §1.7).
ECP_FIFO_OFFSET: Final = 0x400
ECP_CNFGB_OFFSET: Final = 0x401
ECP_ECR_OFFSET: Final = 0x402

PORT_KINDS: Final = ("spp", "ps2", "epp", "ecp", "ecp+epp")

InterruptHandler = Callable[[], None]


class UnsupportedRegisterError(OSError):
    """The backend cannot reach that register (e.g. no ECR on this port, or ppdev has no ECR)."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a port's hardware offers (ieee1284.md §1; Windows PPT_* bits in ``ppt_bits``)."""

    kind: str = "ecp+epp"
    ps2: bool = True  # data lines can be tri-stated (byte mode)
    epp: bool = True
    ecr: bool = True  # extended control register present
    ecp: bool = True  # ECR with a working FIFO
    fifo_depth: int = 16  # FIFO words
    fifo_width: int = 8  # bits per FIFO word
    epp_32: bool = False
    irq: int | None = 7
    dma: int | None = None
    base: int = 0x378
    base_hi: int | None = 0x778

    @property
    def ppt_bits(self) -> int:
        """The Windows ``HardwareCapabilities`` bits (windows-parport.md §3.6)."""
        bits = 0
        if self.ecp:
            bits |= nt.PPT_ECP_PRESENT
        if self.epp:
            bits |= nt.PPT_EPP_PRESENT
        if self.epp and self.epp_32:
            bits |= nt.PPT_EPP_32_PRESENT
        if self.ps2:
            bits |= nt.PPT_BYTE_PRESENT
        return bits

    @classmethod
    def of_kind(cls, kind: str, **overrides: object) -> Capabilities:
        """The capabilities of one of the standard port kinds of ``PORT_KINDS``."""
        table: dict[str, dict[str, object]] = {
            "spp": {"ps2": False, "epp": False, "ecr": False, "ecp": False, "fifo_depth": 0},
            "ps2": {"ps2": True, "epp": False, "ecr": False, "ecp": False, "fifo_depth": 0},
            "epp": {"ps2": True, "epp": True, "ecr": False, "ecp": False, "fifo_depth": 0},
            "ecp": {"ps2": True, "epp": False, "ecr": True, "ecp": True},
            "ecp+epp": {"ps2": True, "epp": True, "ecr": True, "ecp": True},
        }
        if kind not in table:
            raise ValueError(f"unknown port kind {kind!r}; one of {', '.join(PORT_KINDS)}")
        values: dict[str, object] = {"kind": kind, **table[kind], **overrides}
        if not values["ecr"]:
            values["base_hi"] = None
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class LineState:
    """Every DB-25 line at one instant, as pin levels (see :mod:`parport.hw.signals`)."""

    time_ns: int
    data: int  # the levels on D0..D7 (whoever drives them)
    control: int  # nStrobe, nAutoFd, nInit, nSelectIn pin levels in bits 0..3
    status: int  # Busy, nAck, PError, Select, nFault pin levels in bits 7..3
    reverse: bool  # host data drivers off
    ecr_mode: int = 0  # ECR bits 7..5 (0 without an ECR)
    selected: int | None = None  # 1284.3 address of the selected device, if known


LineObserver = Callable[[LineState], None]


@dataclass
class _Annotations:
    mode: int = 0  # the IEEE 1284 mode bits of windows-parport.md §3.4 (0 = compatibility)
    selected: int | None = None
    extra: dict[str, object] = field(default_factory=dict)


class PortBackend(Closing, ABC):
    """Register access to one parallel port, plus its clock and its capabilities.

    Shaped like Linux's ``struct parport_operations``: register operations, which subclasses
    implement, then operations built on them that a backend may override where it can do better
    — ``wait_status`` (the emulator jumps virtual time to the next peripheral event), the string
    I/O of the EPP registers and the ECP FIFO, and the whole-transfer operations of the IEEE 1284
    modes (``compat_write_data``, ``nibble_read_data``, ``byte_read_data``, ``epp_*``, ``ecp_*``)
    and of a 1284.3 command frame (``cpp_command``), whose defaults are the software handshakes
    of :mod:`parport.hw.handshake`. A new backend is one file with the register operations (and
    whatever whole transfers it can do natively) plus one row in ``spec.BACKENDS``.
    """

    name: str = "port"
    capabilities: Capabilities
    clock: Clock
    # Whether the port is shared with other users outside parport (the kernel's other drivers,
    # other processes), so that :meth:`claim` and :meth:`release` must be called around each
    # period in which parport's arbiter has granted the port.
    shared: bool = False

    def __init__(self) -> None:
        self.accesses = 0  # register accesses made so far (benchmarks compare per byte)
        self._closed = False
        # Held for every wire sequence (one at a time on the port). Nobody waits for the port
        # while holding it; a paced emulator clock moves time on its own only while it is free.
        self.lock = threading.RLock()
        self._irq_handler: InterruptHandler | None = None
        self.annotations = _Annotations()

    # --- registers (base+0..2) ------------------------------------------------------------------
    @abstractmethod
    def read_data(self) -> int: ...

    @abstractmethod
    def write_data(self, value: int) -> None: ...

    @abstractmethod
    def read_status(self) -> int: ...

    def write_status(self, value: int) -> None:
        """Status writes only matter for clearing the EPP timeout bit on some chips."""

    @abstractmethod
    def read_control(self) -> int: ...

    @abstractmethod
    def write_control(self, value: int) -> None: ...

    # --- EPP (base+3, base+4) -------------------------------------------------------------------
    def read_epp_address(self) -> int:
        raise UnsupportedRegisterError(f"{self.name}: no EPP address register")

    def write_epp_address(self, value: int) -> None:
        raise UnsupportedRegisterError(f"{self.name}: no EPP address register")

    def read_epp_data(self) -> int:
        raise UnsupportedRegisterError(f"{self.name}: no EPP data register")

    def write_epp_data(self, value: int) -> None:
        raise UnsupportedRegisterError(f"{self.name}: no EPP data register")

    # --- ECP block (base_hi+0..2) ---------------------------------------------------------------
    def read_ecr(self) -> int:
        raise UnsupportedRegisterError(f"{self.name}: no extended control register")

    def write_ecr(self, value: int) -> None:
        raise UnsupportedRegisterError(f"{self.name}: no extended control register")

    def read_fifo(self) -> int:
        """base_hi+0: ecpDFifo / tFifo, or cnfgA in configuration mode."""
        raise UnsupportedRegisterError(f"{self.name}: no ECP FIFO")

    def write_fifo(self, value: int) -> None:
        raise UnsupportedRegisterError(f"{self.name}: no ECP FIFO")

    def read_cnfgb(self) -> int:
        raise UnsupportedRegisterError(f"{self.name}: no ECP configuration register B")

    # --- by offset, as raw port I/O would see them ----------------------------------------------
    def inb(self, offset: int) -> int:
        """Read the register at ``offset`` from the base (0..7, 0x400..0x402)."""
        readers: dict[int, Callable[[], int]] = {
            0: self.read_data,
            1: self.read_status,
            2: self.read_control,
            3: self.read_epp_address,
            4: self.read_epp_data,
            ECP_FIFO_OFFSET: self.read_fifo,
            ECP_CNFGB_OFFSET: self.read_cnfgb,
            ECP_ECR_OFFSET: self.read_ecr,
        }
        reader = readers.get(offset)
        if reader is None:
            raise UnsupportedRegisterError(f"{self.name}: no register at offset {offset:#x}")
        return reader()

    def outb(self, offset: int, value: int) -> None:
        """Write ``value`` to the register at ``offset`` from the base."""
        writers: dict[int, Callable[[int], None]] = {
            0: self.write_data,
            1: self.write_status,
            2: self.write_control,
            3: self.write_epp_address,
            4: self.write_epp_data,
            ECP_FIFO_OFFSET: self.write_fifo,
            ECP_ECR_OFFSET: self.write_ecr,
        }
        writer = writers.get(offset)
        if writer is None:
            raise UnsupportedRegisterError(f"{self.name}: no writable register at {offset:#x}")
        if not 0 <= value <= 0xFF:
            raise ValueError(f"a register takes a byte, not {value!r}")
        writer(value)

    # --- helpers --------------------------------------------------------------------------------
    def now(self) -> float:
        """The backend's time in microseconds."""
        return self.clock.now()

    def sleep(self, us: float) -> None:
        """Let ``us`` microseconds pass on the backend's clock."""
        self.clock.sleep(us)

    def wait_status(self, mask: int, value: int, timeout_us: float) -> int | None:
        """Poll the status register until ``status & mask == value``.

        Returns the matching status value, or None when ``timeout_us`` passed first. Protocol
        code uses this for every handshake wait.
        """
        deadline = self.clock.now() + timeout_us
        while True:
            status = self.read_status()
            if status & mask == value:
                return status
            if self.clock.now() >= deadline:
                return None
            self.clock.sleep(1.0)

    def write_epp_block(self, data: bytes, address: bool = False) -> int:
        """String output to the EPP data (or address) register, like ``rep outsb``: the number
        of cycles that completed before one timed out (the timeout bit is then left set).

        This default checks the timeout bit after every cycle; a backend may do better."""
        write = self.write_epp_address if address else self.write_epp_data
        read_status = self.read_status
        for count, byte in enumerate(data):
            write(byte)
            if read_status() & 0x01:
                return count
        return len(data)

    def read_epp_block(self, length: int, address: bool = False) -> bytes:
        """String input from the EPP data (or address) register; stops at a timed-out cycle."""
        read = self.read_epp_address if address else self.read_epp_data
        read_status = self.read_status
        out = bytearray()
        for _ in range(length):
            byte = read()
            if read_status() & 0x01:
                break
            out.append(byte)
        return bytes(out)

    def read_fifo_block(self, length: int, timeout_us: float = 35_000) -> bytes:
        """Read up to ``length`` bytes from the ECP FIFO (ECR mode 011, reverse), waiting up to
        ``timeout_us`` for each; fewer when the peripheral sends no more."""
        out = bytearray()
        deadline = self.now() + timeout_us
        while len(out) < length:
            if self.read_ecr() & 0x01:  # empty
                if self.now() > deadline:
                    break
                self.sleep(1)
                continue
            out.append(self.read_fifo())
            deadline = self.now() + timeout_us
        return bytes(out)

    def write_fifo_block(
        self, data: bytes, command: bool = False, timeout_us: float = 35_000
    ) -> int:
        """Push bytes into the ECP FIFO (commands through ecpAFifo in ECR mode 011), waiting for
        room; the number pushed before ``timeout_us`` passed without room."""
        push = self.write_data if command else self.write_fifo
        for count, byte in enumerate(data):
            deadline = self.now() + timeout_us
            while self.read_ecr() & 0x02:  # full
                if self.now() > deadline:
                    return count
                self.sleep(1)
            push(byte)
        return len(data)

    # --- whole transfers (the block operations of Linux's struct parport_operations) ------------
    # Each runs one IEEE 1284 transfer in software by default (parport.hw.handshake, register by
    # register); a backend overrides one only with an outcome equal to that loop's: the same
    # bytes and Block, and, where it counts them, the same register accesses and time on its
    # clock. ``cancelled()`` is checked at least between every CHUNK bytes (the loops: between
    # bytes). The IEEE 1284 engine picks the operation from the mode and owns the phases around
    # it (negotiation, turnarounds, termination, waiting for a stalled printer).
    def compat_write_data(self, data: bytes, cancelled: Cancelled = never) -> Block:
        """Compatibility-mode bytes (ieee1284.md §2.2) from forward idle, CTR 0x0C; stops with
        STATUS_DEVICE_BUSY at a byte the printer is not ready for (nFault low or Busy high)."""
        return handshake.compat_write(self, data, cancelled)

    def nibble_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        """Nibble-mode bytes (§2.4) from reverse idle, CTR 0x04: up to ``length``, fewer when the
        peripheral has no more (nDataAvail high); STATUS_IO_TIMEOUT if it stops mid-byte."""
        return handshake.nibble_read(self, length, cancelled)

    def byte_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        """Byte-mode bytes (§2.5) from reverse idle, data lines turned around (CTR 0x24)."""
        return handshake.byte_read(self, length, cancelled)

    def epp_write_data(self, data: bytes, cancelled: Cancelled = never) -> Block:
        """EPP data write cycles made in software (§2.7), from and back to CTR 0x04."""
        return handshake.epp_write(self, data, False, cancelled)

    def epp_write_addr(self, data: bytes, cancelled: Cancelled = never) -> Block:
        """EPP address write cycles made in software (§2.7)."""
        return handshake.epp_write(self, data, True, cancelled)

    def epp_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        """EPP data read cycles made in software (§2.7): ``length`` of them unless one times out
        (EPP has no end-of-data signal)."""
        return handshake.epp_read(self, length, False, cancelled)

    def epp_read_addr(self, length: int, cancelled: Cancelled = never) -> Block:
        """EPP address read cycles made in software (§2.7)."""
        return handshake.epp_read(self, length, True, cancelled)

    def ecp_write_data(self, data: bytes, cancelled: Cancelled = never) -> Block:
        """ECP forward data bytes without the FIFO (§2.6, events 34–37), HostAck high."""
        return handshake.ecp_write(self, data, False, cancelled)

    def ecp_write_addr(self, data: bytes, cancelled: Cancelled = never) -> Block:
        """ECP forward command bytes without the FIFO (channel addresses, run-length counts),
        HostAck low."""
        return handshake.ecp_write(self, data, True, cancelled)

    def ecp_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        """ECP reverse bytes without the FIFO (§2.6, events 43–46) on a bus already turned
        around, run-length counts expanded; stops at a channel address or when nothing comes."""
        return handshake.ecp_read(self, length, cancelled)

    def cpp_command(self, command: int) -> list[int | None]:
        """One IEEE 1284.3 command frame, the Windows way (§4.2; windows-parport.md §10.4): the
        status each of its waits ended with — S1, S2, S3, then the SELECT or DESELECT answer on
        nFault — ending at a qualifier check that timed out (None). Always ends the frame."""
        return handshake.cpp_command(self, command)

    # --- interrupts and annotations -------------------------------------------------------------
    def set_interrupt_handler(self, handler: InterruptHandler | None) -> None:
        """Call ``handler()`` on each port interrupt (nAck, with control bit 4 set)."""
        self._irq_handler = handler

    def _interrupt(self) -> None:
        handler = self._irq_handler
        if handler is not None:
            try:
                handler()
            except Exception:
                log.exception("%s: interrupt handler raised", self.name)

    def annotate(self, *, mode: int | None = None, selected: int | bool | None = False) -> None:
        """Tell traces what the layers above know: the IEEE 1284 mode and the selected device.

        ``selected=False`` leaves the selection as it was; None means nothing is selected.
        """
        if mode is not None:
            self.annotations.mode = mode
        if selected is not False:
            self.annotations.selected = None if selected is None else int(selected)

    def line_state(self) -> LineState | None:
        """Every line's level now, when the backend can tell without a register access."""
        return None

    def add_line_observer(self, observer: LineObserver) -> bool:
        """Ask to be told of every line change with its exact time; False if not supported."""
        return False

    # --- sharing the port outside parport -------------------------------------------------------
    def claim(self) -> None:
        """Take the port from the system (ppdev's PPCLAIM) when parport's arbiter goes from free
        to granted; only called when :attr:`shared` is true. The default does nothing."""

    def release(self) -> None:
        """Give the port back to the system (ppdev's PPRELEASE) when parport's arbiter goes from
        granted to free; only called when :attr:`shared` is true. The default does nothing."""

    # --- lifetime -------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release the port and stop its clock's timers; idempotent."""
        self._closed = True
        clock = getattr(self, "clock", None)
        if clock is not None:
            clock.close()
