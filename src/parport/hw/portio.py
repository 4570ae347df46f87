"""Raw I/O ports through ``/dev/port``: ``portio:0x378`` (design.md §6), for ports ppdev cannot
reach (no kernel driver for the chip, a card at an odd address, an embedded board).

``/dev/port`` maps the x86 I/O space onto file offsets: ``pread(fd, 1, 0x379)`` is an ``inb``
of the status register, ``pwrite(fd, b"\\x0c", 0x37a)`` an ``outb`` to the control register.
The registers (ieee1284.md §1.3–§1.7): data base+0, status +1, control +2, EPP address +3 and
data +4; the ECP block at base+0x400 (FIFO), +0x401 (cnfgB), +0x402 (ECR). What the port can
do is found by the engine's detection sequences (§1.9), which run on these registers when the
bus opens; :attr:`capabilities` carries the addresses (and the kernel's IRQ and DMA, if it
once drove the port).

Opening ``/dev/port`` needs root or CAP_SYS_RAWIO; a denied open says so. A port whose I/O
range a kernel driver has claimed (``/proc/ioports``, or a ``parportN`` in procfs at that base:
usually ``parport_pc``) is refused, naming the driver: two drivers writing one control register
corrupt each other's transfers. ``portio:0x378?force=1`` uses it anyway. There is no claim
to make (:attr:`shared` is False): parport's arbiter is the only one sharing the port.
"""

from __future__ import annotations

import errno as errno_codes
import os
from collections.abc import Callable, Mapping
from typing import Final

from ..nt.errors import PortAccessError, PortInUseError, PortNotFoundError, PortPermissionError
from . import discover
from .backend import (
    ECP_CNFGB_OFFSET,
    ECP_ECR_OFFSET,
    ECP_FIFO_OFFSET,
    Capabilities,
    PortBackend,
    UnsupportedRegisterError,
)
from .clock import MonotonicClock
from .spec import portio_base, portio_options

__all__ = ["DEV_PORT", "PortIo", "PortIoFile", "open_portio", "range_claims"]

DEV_PORT: Final = "/dev/port"
_BYTE: Final = tuple(bytes((value,)) for value in range(256))


class PortIoFile:
    """Byte reads and writes at I/O port numbers (``/dev/port``); tests give a fake."""

    def __init__(self, path: str = DEV_PORT) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)

    def inb(self, port: int) -> int:
        return os.pread(self.fd, 1, port)[0]

    def outb(self, port: int, value: int) -> None:
        os.pwrite(self.fd, _BYTE[value], port)

    def close(self) -> None:
        os.close(self.fd)


def range_claims(base: int, root: str = "/") -> list[str]:
    """Who in the kernel has claimed the port at ``base`` (base..base+7, base+0x400..+0x402):
    one description per claim, e.g. ``"parport_pc (parport0: 0x378-0x37a)"``."""
    found: list[str] = []
    by_base = {}
    for number in discover.kernel_ports(root):
        info = discover.kernel_port(number, root)
        if info.base is not None:
            by_base[info.name] = info
    claims = discover.ioport_claims(base, base + 7, root)
    claims += discover.ioport_claims(base + ECP_FIFO_OFFSET, base + ECP_ECR_OFFSET, root)
    for claim in claims:
        owner = by_base.get(claim.name)
        driver = owner.driver if owner is not None and owner.driver else None
        where = f"{claim.start:#x}-{claim.end:#x}"
        found.append(f"{driver} ({claim.name}: {where})" if driver else f"{claim.name} ({where})")
    if not found:  # /proc/ioports shows no addresses to a reader without CAP_SYS_ADMIN
        for name, info in by_base.items():
            if info.base == base:
                found.append(f"{info.driver or 'a parport driver'} ({name} at {base:#x})")
    return list(dict.fromkeys(found))


class PortIo(PortBackend):
    """One port's registers through ``/dev/port`` (see the module docstring)."""

    def __init__(
        self,
        base: int,
        *,
        force: bool = False,
        root: str = "/",
        io: Callable[[], PortIoFile] | None = None,
        dev_port: str = DEV_PORT,
    ) -> None:
        super().__init__()
        self.base = base
        self.name = f"portio:{base:#x}"
        self.clock = MonotonicClock()
        spec = self.name
        if not force:
            claims = range_claims(base, root)
            if claims:
                numbers = discover.kernel_ports(root)
                node = next(
                    (
                        f"/dev/parport{n}"
                        for n in numbers
                        if discover.kernel_port(n, root).base == base
                    ),
                    None,
                )
                instead = f"use '{node}' (ppdev) instead, " if node else ""
                self.clock.close()
                raise PortInUseError(
                    f"{spec}: the kernel has claimed this port: {'; '.join(claims)}; {instead}"
                    "unload the driver ('sudo rmmod lp ppdev parport_pc'), or add '?force=1' "
                    "to write its registers anyway",
                    path=dev_port,
                )
        try:
            self._io = io() if io is not None else PortIoFile(dev_port)
        except OSError as exc:
            self.clock.close()
            raise _open_error(exc, spec, dev_port) from None
        info = None
        for number in discover.kernel_ports(root):
            candidate = discover.kernel_port(number, root)
            if candidate.base == base:
                info = candidate
        self.capabilities = Capabilities(
            kind="spp",  # the engine's detection (§1.9) finds the rest when the bus opens
            ps2=False,
            epp=False,
            ecr=False,
            ecp=False,
            fifo_depth=0,
            irq=info.irq if info else None,
            dma=info.dma if info else None,
            base=base,
            base_hi=base + ECP_FIFO_OFFSET,
        )
        self._inb = self._io.inb
        self._outb = self._io.outb

    # --- registers --------------------------------------------------------------------------
    def read_data(self) -> int:
        self.accesses += 1
        return self._inb(self.base)

    def write_data(self, value: int) -> None:
        self.accesses += 1
        self._outb(self.base, value)

    def read_status(self) -> int:
        self.accesses += 1
        return self._inb(self.base + 1)

    def write_status(self, value: int) -> None:
        """Status writes clear the EPP timeout bit on some chips (§1.4)."""
        self.accesses += 1
        self._outb(self.base + 1, value)

    def read_control(self) -> int:
        self.accesses += 1
        return self._inb(self.base + 2)

    def write_control(self, value: int) -> None:
        self.accesses += 1
        self._outb(self.base + 2, value)

    def read_epp_address(self) -> int:
        self.accesses += 1
        return self._inb(self.base + 3)

    def write_epp_address(self, value: int) -> None:
        self.accesses += 1
        self._outb(self.base + 3, value)

    def read_epp_data(self) -> int:
        self.accesses += 1
        return self._inb(self.base + 4)

    def write_epp_data(self, value: int) -> None:
        self.accesses += 1
        self._outb(self.base + 4, value)

    def _hi(self, offset: int) -> int:
        port = self.base + offset
        if port > 0xFFFF:
            raise UnsupportedRegisterError(f"{self.name}: no ECP block above 0xffff")
        return port

    def read_ecr(self) -> int:
        self.accesses += 1
        return self._inb(self._hi(ECP_ECR_OFFSET))

    def write_ecr(self, value: int) -> None:
        self.accesses += 1
        self._outb(self._hi(ECP_ECR_OFFSET), value)

    def read_fifo(self) -> int:
        self.accesses += 1
        return self._inb(self._hi(ECP_FIFO_OFFSET))

    def write_fifo(self, value: int) -> None:
        self.accesses += 1
        self._outb(self._hi(ECP_FIFO_OFFSET), value)

    def read_cnfgb(self) -> int:
        self.accesses += 1
        return self._inb(self._hi(ECP_CNFGB_OFFSET))

    def close(self) -> None:
        if not self._closed:
            io = getattr(self, "_io", None)
            if io is not None:
                io.close()
        super().close()


def _open_error(exc: OSError, spec: str, path: str) -> PortAccessError:
    code = exc.errno
    if code in (errno_codes.EACCES, errno_codes.EPERM):
        return PortPermissionError(
            f"{spec} needs root or CAP_SYS_RAWIO to open {path}; run it as root, or use the "
            "port through ppdev ('/dev/parportN'), which needs only the lp group",
            errno=code,
            path=path,
        )
    if code == errno_codes.ENOENT:
        return PortNotFoundError(
            f"{spec}: {path} does not exist (a kernel without CONFIG_DEVPORT, or not x86); "
            "use the port through ppdev ('/dev/parportN')",
            errno=code,
            path=path,
        )
    return PortAccessError(f"{spec}: cannot open {path}: {exc.strerror}", errno=code, path=path)


def open_portio(target: str, options: Mapping[str, str] | None = None) -> PortIo:
    """The factory for ``portio:0x378`` (option ``force=0|1``)."""
    checked = portio_options(options or {})
    return PortIo(portio_base(target), force=bool(checked.get("force", False)))
