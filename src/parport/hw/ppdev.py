"""Linux ppdev: a real parallel port through ``/dev/parportN`` (``ppdev:N``, design.md §6).

ppdev (``drivers/char/ppdev.c``) gives user space one registered device on a port driven by the
kernel's ``parport`` layer (ieee1284.md §6). This backend maps :class:`PortBackend` onto it:

* registers through its ioctls (§6.4): PPRDATA/PPWDATA, PPRSTATUS, PPRCONTROL/PPWCONTROL.
  PPWCONTROL only takes control bits 0–3; the data direction (bit 5) goes through PPDATADIR,
  and bits 4–5 are kept in a soft copy so :meth:`read_control` returns them (the kernel's own
  PPRCONTROL is a soft copy of bits 0–3, §1.5). The EPP registers are reached through the
  kernel's EPP mode (PPSETMODE(EPP[|ADDR]) then ``read()``/``write()``); the ECP block is not
  reachable through ppdev at all.
* whole transfers through the kernel (§6.5): the mode set with PPSETMODE (the IEEE 1284
  negotiation itself is the engine's, on the registers), then ``write()`` for compatibility,
  EPP and ECP forward bytes (IEEE1284_ADDR for addresses and ECP commands) and ``read()`` for
  nibble, byte, EPP and ECP reverse bytes, so the kernel uses the chip's FIFO or EPP cycles when
  it has them. PPSETTIME makes the kernel give a stalled printer back to the engine after
  :data:`KERNEL_TIMEOUT_S` (the engine then waits with its own budget, cancellation and
  stall callbacks). Reads run with O_NONBLOCK, because ppdev's ``read()`` otherwise loops until
  a byte comes. The 1284.3 command frame stays on the engine's register loop.
* capabilities from PPGETMODES and procfs (base, IRQ, DMA). The engine's own detection (§1.9)
  runs on the registers too; so that it agrees with the kernel, status bit 0 (the EPP timeout,
  meaningless on a port without EPP) reads 1 when the kernel found no EPP, as on SPP chips (§1.4).
* sharing (§6.2): :attr:`shared` is True; :meth:`claim` is PPCLAIM and :meth:`release` PPRELEASE,
  called by the driver's seam exactly while parport's arbiter has granted the port, so ``lp``,
  ``ppa`` or other ppdev users get the port in between. PPEXCL only with ``exclusive=1``: then
  no other driver may even register on the port, so there is nobody to release it for, and the
  backend keeps the claim it took at open until it closes (:attr:`shared` is False; each
  request is its register accesses alone, as a trigger port needs).
  Opening claims once, so that the bus's detection and first scan run claimed; the scan's
  release ends that claim. A register access made while unclaimed claims first (and keeps the
  claim until the next release).
* the ppdev deadlock (docs/hil.md): while another process sleeps in PPCLAIM on the same port,
  it holds ppdev's global mutex, and our PPRELEASE (any ioctl) waits for it forever, in
  uninterruptible sleep. The release therefore runs on a helper thread; if it has not returned
  within ``release_timeout`` seconds the port counts as *hung*: one error line is logged, the
  port is listed as hung by :func:`parport.list_ports`, and every later wire access raises
  :class:`~parport.nt.errors.PortHungError` at once, while the arbiter, the queues and
  everything that needs no wire go on. Should the kernel let the release through later, the
  port is usable again (logged).

Every failure a user meets is one line saying what to do (:mod:`parport.nt.errors`, the
``Port*Error`` classes): no node, permission, no port behind the node, another driver holding
the port exclusively (named from procfs), and a node that is not ppdev (``/dev/usb/lp0``).
Nothing here touches hardware at import.
"""

from __future__ import annotations

import errno as errno_codes
import fcntl
import logging
import os
import queue
import stat
import struct
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from .. import nt
from ..nt.errors import (
    NotAPortError,
    PortAccessError,
    PortHungError,
    PortInUseError,
    PortNotFoundError,
    PortPermissionError,
)
from . import discover
from .backend import Capabilities, PortBackend, UnsupportedRegisterError
from .clock import MonotonicClock
from .handshake import Block, Cancelled, never
from .spec import ppdev_options, ppdev_path

__all__ = [
    "IEEE1284_ADDR",
    "IEEE1284_MODE_BYTE",
    "IEEE1284_MODE_COMPAT",
    "IEEE1284_MODE_ECP",
    "IEEE1284_MODE_EPP",
    "IEEE1284_MODE_NIBBLE",
    "KERNEL_TIMEOUT_S",
    "PARPORT_MODES",
    "PpdevPort",
    "SystemCalls",
    "ioctl_number",
    "open_ppdev",
]

log = logging.getLogger(__name__)


# --- ioctl numbers (ieee1284.md §6.4) -------------------------------------------------------------
def _layout(machine: str) -> tuple[int, int, int, int, int]:
    """(none, write, read, direction shift, size bits) of ``_IOC`` on this architecture: the
    generic layout (x86, ARM, RISC-V …) or the 3-direction-bit one (alpha, MIPS, PowerPC, SPARC)."""
    if machine.startswith(("alpha", "mips", "ppc", "powerpc", "sparc")):
        return 1, 4, 2, 29, 13
    return 0, 1, 2, 30, 14


_NONE, _WRITE, _READ, _DIR_SHIFT, _SIZE_BITS = _layout(os.uname().machine)


def ioctl_number(direction: str, nr: int, size: int = 0) -> int:
    """``_IO``/``_IOR``/``_IOW('p', nr, size)`` (``direction``: "", "r", "w")."""
    bits = {"": _NONE, "r": _READ, "w": _WRITE}[direction]
    return (bits << _DIR_SHIFT) | (size << 16) | (ord("p") << 8) | nr


PPSETMODE: Final = ioctl_number("w", 0x80, 4)
PPRSTATUS: Final = ioctl_number("r", 0x81, 1)
PPRCONTROL: Final = ioctl_number("r", 0x83, 1)
PPWCONTROL: Final = ioctl_number("w", 0x84, 1)
PPRDATA: Final = ioctl_number("r", 0x85, 1)
PPWDATA: Final = ioctl_number("w", 0x86, 1)
PPCLAIM: Final = ioctl_number("", 0x8B)
PPRELEASE: Final = ioctl_number("", 0x8C)
PPEXCL: Final = ioctl_number("", 0x8F)
PPDATADIR: Final = ioctl_number("w", 0x90, 4)
PPSETTIME: Final = ioctl_number("w", 0x96, struct.calcsize("ll"))  # struct timeval
PPGETMODES: Final = ioctl_number("r", 0x97, 4)
PPGETMODE: Final = ioctl_number("r", 0x98, 4)

# include/uapi/linux/parport.h
IEEE1284_MODE_NIBBLE: Final = 0x0000
IEEE1284_MODE_BYTE: Final = 0x0001
IEEE1284_MODE_ECP: Final = 0x0010
IEEE1284_MODE_EPP: Final = 0x0040
IEEE1284_MODE_COMPAT: Final = 0x0100
IEEE1284_ADDR: Final = 0x2000
PARPORT_MODE_PCSPP: Final = 0x01
PARPORT_MODE_TRISTATE: Final = 0x02
PARPORT_MODE_EPP: Final = 0x04
PARPORT_MODE_ECP: Final = 0x08
PARPORT_MODE_COMPAT: Final = 0x10
PARPORT_MODE_DMA: Final = 0x20
PARPORT_MODE_SAFEININT: Final = 0x40
#: PARPORT_MODE_* bits and the names the kernel gives them in /proc (SAFEININT is not shown).
PARPORT_MODES: Final = {
    PARPORT_MODE_PCSPP: "PCSPP",
    PARPORT_MODE_TRISTATE: "TRISTATE",
    PARPORT_MODE_EPP: "EPP",
    PARPORT_MODE_ECP: "ECP",
    PARPORT_MODE_COMPAT: "COMPAT",
    PARPORT_MODE_DMA: "DMA",
    PARPORT_MODE_SAFEININT: "SAFEININT",
}

#: The kernel's device timeout (PPSETTIME) during transfers: a printer not ready for this long
#: makes ``write()`` return short, and the engine waits for it instead (with its own budget).
KERNEL_TIMEOUT_S: Final = 0.1
#: How long a PPRELEASE may take before the port counts as hung (``?release_timeout=``).
RELEASE_TIMEOUT_S: Final = 2.0
#: A PPCLAIM still blocked after this long is logged once (another driver prints, or the
#: port is held by another process).
CLAIM_WARN_S: Final = 5.0
HELPER_START_S: Final = 30.0  # how long the helper thread may take to start a release
USB_PRINTER_MAJOR: Final = 180  # usblp's /dev/usb/lpN
LP_MAJOR: Final = 6  # lp's /dev/lpN
POLL_SPIN_US: Final = 500.0  # wait_status: fast polling first (Linux's spintime)
POLL_MAX_SLEEP_US: Final = 10_000.0  # then sleeps growing to 10 ms (parport_wait_peripheral)

_BYTE: Final = tuple(bytes((value,)) for value in range(256))
_ONE: Final = b"\0"
_INT: Final = struct.Struct("=i")


class SystemCalls:
    """The system calls the backend makes, so that tests can give it a fake kernel."""

    def open(self, path: str) -> int:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)

    def fstat(self, fd: int) -> os.stat_result:
        return os.fstat(fd)

    def ioctl(self, fd: int, request: int, arg: Any = 0) -> Any:
        return fcntl.ioctl(fd, request, arg)

    def read(self, fd: int, length: int) -> bytes:
        return os.read(fd, length)

    def write(self, fd: int, data: bytes | memoryview) -> int:
        return os.write(fd, data)

    def set_blocking(self, fd: int, blocking: bool) -> None:
        os.set_blocking(fd, blocking)

    def close(self, fd: int) -> None:
        os.close(fd)


class _Helper:
    """One thread that makes the kernel calls that may never return (PPRELEASE), so that the
    caller can stop waiting after a bounded time."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)

    def stop(self) -> None:
        self._jobs.put(None)


def _errno_name(code: int | None) -> str:
    return errno_codes.errorcode.get(code or 0, str(code))


class PpdevPort(PortBackend):
    """One port through a ppdev node (see the module docstring)."""

    shared = True

    def __init__(
        self,
        path: str = "/dev/parport0",
        *,
        exclusive: bool = False,
        release_timeout: float = RELEASE_TIMEOUT_S,
        system: SystemCalls | None = None,
        root: str = "/",
    ) -> None:
        super().__init__()
        self.path = path
        self.name = f"ppdev:{path}"
        self.exclusive = exclusive
        self.shared = not exclusive  # exclusive: claimed from open to close (module docstring)
        self.release_timeout = release_timeout
        self.clock = MonotonicClock()
        self._sys = system if system is not None else SystemCalls()
        self._root = root
        self._claim_lock = threading.Lock()  # orders claim, release and close
        self._claimed = False
        self._hung: str | None = None
        self._helper: _Helper | None = None
        self._ctr = 0x0C  # soft copy of the control register, bits 0-5
        self._status_or = 0
        self._kernel_mode = IEEE1284_MODE_COMPAT
        self._fd = -1
        self._stuck_fd = -1  # closed while hung: closed once the release returns
        self.number: int | None = None  # the kernel's port number N (parportN)
        self.kernel_modes = 0  # PPGETMODES
        # The register path: the raw ioctl once claimed (fcntl.ioctl itself with the real
        # system calls: one call per access); until then one that claims first; once hung or
        # closed one that refuses.
        self._raw: Callable[..., Any] = (
            fcntl.ioctl if type(self._sys) is SystemCalls else self._sys.ioctl
        )
        self._ioctl: Callable[..., Any] = self._claim_then_ioctl
        pending = discover.hung_ports().get(path)
        if pending is not None:
            # A PPCLAIM of ours now would sleep holding ppdev's lock, which the pending
            # PPRELEASE waits for: the slow release would become a deadlock for good.
            self.clock.close()
            self._closed = True
            raise PortHungError(
                f"{path}: not opened again: this process's earlier release of it has not "
                f"returned yet ({pending})",
                errno=errno_codes.EDEADLK,
                path=path,
            )
        self._fd = self._open()
        try:
            self._setup()
        except BaseException:
            self._sys.close(self._fd)
            self._fd = -1
            self.clock.close()
            self._closed = True
            raise

    # --- opening ----------------------------------------------------------------------------
    def _open(self) -> int:
        path = self.path
        try:
            return self._sys.open(path)
        except OSError as exc:
            raise self._open_error(exc) from None

    def _open_error(self, exc: OSError) -> PortAccessError:
        path = self.path
        code = exc.errno
        if code == errno_codes.ENOENT:
            return PortNotFoundError(self._missing_node(), errno=code, path=path)
        if code in (errno_codes.EACCES, errno_codes.EPERM):
            try:
                hint = discover.permission_hint(path, os.stat(path))
            except OSError:
                hint = "join the group that owns it (usually lp) or add a udev rule"
            return PortPermissionError(
                f"cannot open {path}: permission denied; {hint}", errno=code, path=path
            )
        if code in (errno_codes.ENXIO, errno_codes.ENODEV):
            try:
                info = os.stat(path)
            except OSError:
                info = None
            if info is not None and stat.S_ISCHR(info.st_mode):
                if os.major(info.st_rdev) != discover.PPDEV_MAJOR:
                    # e.g. usblp's node with no adapter behind it
                    return NotAPortError(self._not_ppdev(info), errno=code, path=path)
                self.number = os.minor(info.st_rdev)
            return PortNotFoundError(self._no_port_behind(), errno=code, path=path)
        if code == errno_codes.EBUSY:
            return PortInUseError(self._busy_message(), errno=code, path=path)
        if code in (errno_codes.EISDIR, errno_codes.ENOTDIR):
            return NotAPortError(self._not_ppdev(None), errno=code, path=path)
        return PortAccessError(
            f"cannot open {path}: {exc.strerror} ({_errno_name(code)})", errno=code, path=path
        )

    def _missing_node(self) -> str:
        path = self.path
        numbers = discover.kernel_ports(self._root)
        names = ", ".join(f"parport{n}" for n in numbers)
        wanted = discover.port_number(os.path.basename(path))
        if wanted is None:
            return (
                f"{path} does not exist; ppdev ports are /dev/parportN ('parport list' shows "
                "this machine's)"
            )
        modules = os.path.join(self._root, "sys", "module")
        if not numbers:
            return (
                f"{path} does not exist: the kernel drives no parallel port; load the drivers "
                "('sudo modprobe -a parport_pc ppdev'); a port the BIOS hides may need "
                "'parport_pc io=0x378' (docs/hardware.md)"
            )
        if not os.path.isdir(os.path.join(modules, "ppdev")):
            return f"{path} does not exist: load ppdev ('sudo modprobe ppdev'; ports: {names})"
        if wanted is not None and wanted not in numbers:
            return f"{path} does not exist: the kernel has no parport{wanted} (ports: {names})"
        return f"{path} does not exist (ports: {names}); is devtmpfs or udev making the nodes?"

    def _no_port_behind(self) -> str:
        numbers = discover.kernel_ports(self._root)
        names = ", ".join(f"parport{n}" for n in numbers) or "none"
        which = f"no parport{self.number}" if self.number is not None else "no such port"
        return (
            f"{self.path} has no port behind it: the kernel has {which} (its ports: {names}); "
            "load parport_pc or give another port ('parport list' shows them)"
        )

    def _holders(self) -> str:
        if self.number is None:
            return ""
        devices = discover.registered_devices(self.number, self._root)
        mine = [d for d in devices if not d.startswith("ppdev")]
        return ", ".join(mine or devices)

    def _busy_message(self) -> str:
        holders = self._holders()
        who = f"{holders} holds" if holders else "another driver holds"
        port = f"parport{self.number}" if self.number is not None else self.path
        return (
            f"{self.path} is busy: {who} {port} exclusively; unload it "
            f"({_rmmod(holders)}) or stop the program using it"
        )

    def _not_ppdev(self, info: os.stat_result | None) -> str:
        path = self.path
        if info is not None and stat.S_ISCHR(info.st_mode):
            major = os.major(info.st_rdev)
            if major == USB_PRINTER_MAJOR or "/usb/" in path:
                return (
                    f"{path} is a USB printer-class device, not a ppdev port: USB parallel "
                    "adapters have no register access; print to it as a file, or use a "
                    "motherboard, PCI or PCIe port (/dev/parportN)"
                )
            if major == LP_MAJOR:
                return (
                    f"{path} is the lp printer driver's node, not ppdev's: use the port's "
                    "/dev/parportN (load ppdev: 'sudo modprobe ppdev')"
                )
            return f"{path} is not a ppdev port (char major {major}, not 99): give /dev/parportN"
        return f"{path} is not a ppdev port (not a character device): give /dev/parportN"

    def _setup(self) -> None:
        sys_ = self._sys
        fd = self._fd
        try:
            info = sys_.fstat(fd)
        except OSError as exc:
            raise self._open_error(exc) from None
        if not stat.S_ISCHR(info.st_mode) or os.major(info.st_rdev) != discover.PPDEV_MAJOR:
            raise NotAPortError(self._not_ppdev(info), errno=errno_codes.ENOTTY, path=self.path)
        self.number = os.minor(info.st_rdev)
        try:
            modes = sys_.ioctl(fd, PPGETMODES, bytes(4))  # allowed unclaimed
        except OSError as exc:
            raise self._ioctl_error(exc, "PPGETMODES") from None
        self.kernel_modes = _INT.unpack(modes)[0] & 0xFFFF
        if not self.kernel_modes & PARPORT_MODE_EPP:
            self._status_or = 0x01  # §1.4: without EPP the timeout bit reads 1
        self.capabilities = self._capabilities()
        if self.exclusive:
            try:
                sys_.ioctl(fd, PPEXCL)
            except OSError as exc:
                raise self._ioctl_error(exc, "PPEXCL") from None
        self._kernel_claim()  # detection and the first scan run claimed
        timeout = struct.pack("ll", int(KERNEL_TIMEOUT_S), int(KERNEL_TIMEOUT_S % 1 * 1e6))
        self._ioctl(fd, PPSETTIME, timeout)
        self._ctr = self._ioctl(fd, PPRCONTROL, _ONE)[0] & 0x0F

    def _capabilities(self) -> Capabilities:
        modes = self.kernel_modes
        ps2 = bool(modes & PARPORT_MODE_TRISTATE)
        epp = bool(modes & PARPORT_MODE_EPP)
        ecp = bool(modes & PARPORT_MODE_ECP)
        if ecp:
            kind = "ecp+epp" if epp else "ecp"
        elif epp:
            kind = "epp"
        else:
            kind = "ps2" if ps2 else "spp"
        base = irq = dma = base_hi = None
        if self.number is not None:
            info = discover.kernel_port(self.number, self._root)
            base, base_hi, irq, dma = info.base, info.base_hi, info.irq, info.dma
        return Capabilities(
            kind=kind,
            ps2=ps2,
            epp=epp,
            ecr=False,  # the ECP block is the kernel's; ppdev has no access to it
            ecp=ecp,
            fifo_depth=16 if ecp else 0,
            irq=irq,
            dma=dma,
            base=base or 0,
            base_hi=base_hi,
        )

    def _ioctl_error(self, exc: OSError, what: str) -> PortAccessError:
        code = exc.errno
        path = self.path
        if code == errno_codes.ENOTTY:
            return NotAPortError(self._not_ppdev(None), errno=code, path=path)
        if code in (errno_codes.ENODEV, errno_codes.ENXIO) and what == "PPGETMODES":
            return PortNotFoundError(self._no_port_behind(), errno=code, path=path)
        if code in (errno_codes.ENXIO, errno_codes.EBUSY):
            return PortInUseError(self._claim_refused(), errno=code, path=path)
        if code in (errno_codes.EACCES, errno_codes.EPERM):
            return PortPermissionError(
                f"{path}: {what} not permitted ({_errno_name(code)})", errno=code, path=path
            )
        return PortAccessError(
            f"{path}: {what} failed: {exc.strerror} ({_errno_name(code)})", errno=code, path=path
        )

    def _claim_refused(self) -> str:
        """ppdev's registration failed at the claim (ENXIO): an exclusivity conflict."""
        holders = self._holders()
        port = f"parport{self.number}" if self.number is not None else "the port"
        if self.exclusive:
            others = f"{holders} is" if holders else "other drivers are"
            return (
                f"cannot have {self.path} exclusively: {others} also registered on {port}; "
                f"unload {'them' if not holders else 'it'} ({_rmmod(holders)}) or drop "
                "'?exclusive=1'"
            )
        who = holders or "another driver"
        return (
            f"cannot claim {self.path}: {who} holds {port} exclusively; unload it "
            f"({_rmmod(holders)}) or stop the program using it"
        )

    # --- the kernel claim -------------------------------------------------------------------
    def _kernel_claim(self) -> None:
        """PPCLAIM (the claim lock is held or nobody else runs). It blocks while another driver
        holds the port, as the kernel intends; a wait longer than CLAIM_WARN_S is logged."""
        if self._hung is not None:
            raise self._hung_error()
        if self._claimed:
            return
        warning = self.clock.call_later(int(CLAIM_WARN_S * 1e9), self._claim_is_slow)
        try:
            self._sys.ioctl(self._fd, PPCLAIM)
        except OSError as exc:
            raise self._ioctl_error(exc, "PPCLAIM") from None
        finally:
            warning.cancel()
        self._claimed = True
        self._ioctl = self._raw

    def _claim_is_slow(self) -> None:
        holder = None
        if self.number is not None:
            holder = discover.active_device(self.number, self._root)
        log.warning(
            "%s: still waiting for the port after %.0f s (held by %s); parport waits on",
            self.name,
            CLAIM_WARN_S,
            holder or "another driver or process",
        )

    def _claim_then_ioctl(self, fd: int, request: int, arg: Any = 0) -> Any:
        """The register path while unclaimed: claim, then the access."""
        with self._claim_lock:
            if self._closed:
                raise PortAccessError(f"{self.name} is closed", path=self.path)
            self._kernel_claim()
        return self._ioctl(fd, request, arg)

    def _refuse(self, fd: int, request: int, arg: Any = 0) -> Any:
        """The register path once hung or closed."""
        if self._hung is not None:
            raise self._hung_error()
        raise PortAccessError(f"{self.name} is closed", path=self.path)

    def _hung_error(self) -> PortHungError:
        return PortHungError(self._hung or "", errno=errno_codes.EDEADLK, path=self.path)

    def claim(self) -> None:
        """PPCLAIM, when parport's arbiter goes from free to granted (the driver's seam)."""
        with self._claim_lock:
            if self._closed:
                raise PortAccessError(f"{self.name} is closed", path=self.path)
            self._kernel_claim()

    def release(self) -> None:
        """PPRELEASE, when parport's arbiter goes from granted to free (the driver's seam); at
        most ``release_timeout`` seconds, then the port counts as hung (module docstring)."""
        with self._claim_lock:
            self._release_locked()

    def _release_locked(self) -> None:
        if not self._claimed or self._hung is not None or self._fd < 0:
            return
        self._ioctl = self._claim_then_ioctl
        fd, sys_ = self._fd, self._sys
        mode_back = self._kernel_mode != IEEE1284_MODE_COMPAT
        self._kernel_mode = IEEE1284_MODE_COMPAT
        done = threading.Event()
        begun = threading.Event()
        outcome: list[BaseException] = []
        started = time.monotonic()
        timed_out = [False]
        late_lock = threading.Lock()

        def job() -> None:
            begun.set()
            try:
                if mode_back:  # so that close() does not renegotiate (§6.3)
                    sys_.ioctl(fd, PPSETMODE, _INT.pack(IEEE1284_MODE_COMPAT))
                sys_.ioctl(fd, PPRELEASE)
            except BaseException as exc:
                outcome.append(exc)
            with late_lock:
                done.set()
                late = timed_out[0]
            if late:
                self._released_late(time.monotonic() - started)

        helper = self._helper
        if helper is None:
            helper = self._helper = _Helper(f"parport {self.path} release")
        helper.submit(job)
        # The limit counts from the call into the kernel, not from a helper thread still
        # waiting for a CPU (a loaded machine, a TCG guest).
        begun.wait(HELPER_START_S)
        if not done.wait(self.release_timeout):
            with late_lock:
                if not done.is_set():
                    timed_out[0] = True
            if timed_out[0]:
                self._went_hung()
                return
        self._claimed = False
        if outcome:
            exc = outcome[0]
            log.warning("%s: PPRELEASE failed: %s", self.name, exc)

    def _went_hung(self) -> None:
        others = _other_users(self.path, self._root)
        who = f" (pid {', '.join(others)})" if others else ""
        self._hung = (
            f"{self.path}: PPRELEASE did not return within {self.release_timeout:g} s: another "
            f"process{who} is blocked in PPCLAIM on this port and holds ppdev's global lock "
            "(a Linux ppdev deadlock); parport no longer touches this port: end that process, "
            "then open the port again, and let one process own a shared port (docs/hardware.md)"
        )
        self._ioctl = self._refuse
        discover.report_hung(self.path, self._hung)
        log.error("%s", self._hung)

    def _released_late(self, seconds: float) -> None:
        with self._claim_lock:
            self._claimed = False
            self._hung = None
            if not self._closed:
                self._ioctl = self._claim_then_ioctl
            elif self._stuck_fd >= 0:
                self._sys.close(self._stuck_fd)
                self._stuck_fd = -1
        discover.report_hung(self.path, None)
        log.warning(
            "%s: PPRELEASE returned after %.1f s; the port is usable again", self.name, seconds
        )

    @property
    def hung(self) -> str | None:
        """The report of a hung release, or None."""
        return self._hung

    @property
    def claimed(self) -> bool:
        """Whether this backend holds the kernel's claim now."""
        return self._claimed

    # --- registers --------------------------------------------------------------------------
    def read_data(self) -> int:
        self.accesses += 1
        value: int = self._ioctl(self._fd, PPRDATA, _ONE)[0]
        return value

    def write_data(self, value: int) -> None:
        self.accesses += 1
        self._ioctl(self._fd, PPWDATA, _BYTE[value])

    def read_status(self) -> int:
        self.accesses += 1
        value: int = self._ioctl(self._fd, PPRSTATUS, _ONE)[0] | self._status_or
        return value

    def read_control(self) -> int:
        """The kernel's control bits 0–3 (PPRCONTROL) with bits 4–5 from the soft copy."""
        self.accesses += 1
        low: int = self._ioctl(self._fd, PPRCONTROL, _ONE)[0] & 0x0F
        return low | (self._ctr & 0x30)

    def write_control(self, value: int) -> None:
        """Bits 0–3 by PPWCONTROL; bit 5 (direction) by PPDATADIR when it changes; bits 4–5
        kept in the soft copy (the kernel owns the interrupt enable)."""
        self.accesses += 1
        ioctl = self._ioctl
        if (value ^ self._ctr) & 0x20:
            ioctl(self._fd, PPDATADIR, _INT.pack(1 if value & 0x20 else 0))
        ioctl(self._fd, PPWCONTROL, _BYTE[value & 0x0F])
        self._ctr = value & 0x3F

    # --- EPP registers, through the kernel's EPP mode ---------------------------------------
    def _epp(self, address: bool) -> None:
        if not self.kernel_modes & PARPORT_MODE_EPP:
            what = "address" if address else "data"
            raise UnsupportedRegisterError(f"{self.name}: no EPP {what} register (no EPP here)")
        self._set_mode(IEEE1284_MODE_EPP | (IEEE1284_ADDR if address else 0))

    def read_epp_address(self) -> int:
        return self._epp_read_one(True)

    def read_epp_data(self) -> int:
        return self._epp_read_one(False)

    def write_epp_address(self, value: int) -> None:
        self.write_epp_block(_BYTE[value], True)

    def write_epp_data(self, value: int) -> None:
        self.write_epp_block(_BYTE[value], False)

    def _epp_read_one(self, address: bool) -> int:
        got = self.read_epp_block(1, address)
        return got[0] if got else 0xFF  # a timed-out cycle reads the idle bus

    def write_epp_block(self, data: bytes, address: bool = False) -> int:
        """EPP write cycles by the kernel (PPSETMODE(EPP[|ADDR]) then ``write()``): how many
        completed."""
        self._epp(address)
        self.accesses += len(data)
        return self._write_all(data)

    def read_epp_block(self, length: int, address: bool = False) -> bytes:
        """EPP read cycles by the kernel: up to ``length`` bytes, fewer when a cycle timed out."""
        self._epp(address)
        self.accesses += length
        return self._read_nonblocking(length, never)

    # --- whole transfers through the kernel -------------------------------------------------
    def _set_mode(self, mode: int) -> None:
        """PPSETMODE (no wire activity, §6.4): the mode ``read()``/``write()`` use."""
        if mode != self._kernel_mode:
            self._ioctl(self._fd, PPSETMODE, _INT.pack(mode))
            self._kernel_mode = mode

    def _check_wire(self) -> None:
        if self._ioctl is not self._raw:
            self._ioctl(self._fd, PPGETMODE, bytes(4))  # claims, or raises (hung, closed)

    def _write_all(self, data: bytes) -> int:
        """``write()`` until all went or the kernel returned short (a stall past its timeout,
        an EPP/ECP timeout); the count."""
        self._check_wire()
        fd, write = self._fd, self._sys.write
        sent = 0
        view = memoryview(data)
        while sent < len(data):
            try:
                n = write(fd, view[sent:])
            except BlockingIOError:
                break
            if n <= 0:
                break
            sent += n
        return sent

    def _read_nonblocking(self, length: int, cancelled: Cancelled) -> bytes:
        """``read()`` with O_NONBLOCK (ppdev's blocking read loops until a byte comes): up to
        ``length`` bytes, stopping when the peripheral has no more."""
        self._check_wire()
        fd, sys_ = self._fd, self._sys
        out = bytearray()
        sys_.set_blocking(fd, False)
        try:
            while len(out) < length and not cancelled():
                try:
                    chunk = sys_.read(fd, min(length - len(out), 1024))
                except BlockingIOError:
                    break
                if not chunk:
                    break
                out += chunk
        finally:
            sys_.set_blocking(fd, True)
        return bytes(out)

    def compat_write_data(self, data: bytes, cancelled: Cancelled = never) -> Block:
        """Compatibility mode by the kernel (ppdev ``write()`` in IEEE1284_MODE_COMPAT: the
        same Centronics handshake, or the chip's FIFO). A short count means the printer was not
        ready within the kernel's timeout: STATUS_DEVICE_BUSY, and the engine waits."""
        if cancelled():
            return Block(nt.STATUS_CANCELLED, 0)
        self._set_mode(IEEE1284_MODE_COMPAT)
        self.accesses += 4 * len(data)
        sent = self._write_all(data)
        if sent < len(data):
            return Block(nt.STATUS_DEVICE_BUSY, sent)
        return Block(nt.STATUS_SUCCESS, sent)

    def _reverse(self, mode: int, length: int, cancelled: Cancelled) -> Block:
        self._set_mode(mode)
        data = self._read_nonblocking(length, cancelled)
        more = not self.read_status() & nt.DSR_NOT_FAULT
        status = nt.STATUS_CANCELLED if cancelled() and len(data) < length else nt.STATUS_SUCCESS
        return Block(status, len(data), data, more)

    def nibble_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        """Nibble mode by the kernel (``read()`` in IEEE1284_MODE_NIBBLE)."""
        return self._reverse(IEEE1284_MODE_NIBBLE, length, cancelled)

    def byte_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        """Byte mode by the kernel (``read()`` in IEEE1284_MODE_BYTE)."""
        return self._reverse(IEEE1284_MODE_BYTE, length, cancelled)

    def _forward(self, mode: int, data: bytes, cancelled: Cancelled) -> Block:
        if cancelled():
            return Block(nt.STATUS_CANCELLED, 0)
        self._set_mode(mode)
        sent = self._write_all(data)
        return Block(nt.STATUS_SUCCESS if sent == len(data) else nt.STATUS_IO_TIMEOUT, sent)

    def epp_write_data(self, data: bytes, cancelled: Cancelled = never) -> Block:
        """EPP data write cycles by the kernel (hardware EPP where the chip has it)."""
        return self._forward(IEEE1284_MODE_EPP, data, cancelled)

    def epp_write_addr(self, data: bytes, cancelled: Cancelled = never) -> Block:
        """EPP address write cycles by the kernel."""
        return self._forward(IEEE1284_MODE_EPP | IEEE1284_ADDR, data, cancelled)

    def _epp_reverse(self, address: bool, length: int, cancelled: Cancelled) -> Block:
        self._set_mode(IEEE1284_MODE_EPP | (IEEE1284_ADDR if address else 0))
        data = self._read_nonblocking(length, cancelled)
        status = nt.STATUS_SUCCESS if len(data) == length else nt.STATUS_IO_TIMEOUT
        if cancelled() and len(data) < length:
            status = nt.STATUS_CANCELLED
        return Block(status, len(data), data)

    def epp_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        """EPP data read cycles by the kernel: ``length`` unless one times out."""
        return self._epp_reverse(False, length, cancelled)

    def epp_read_addr(self, length: int, cancelled: Cancelled = never) -> Block:
        """EPP address read cycles by the kernel."""
        return self._epp_reverse(True, length, cancelled)

    def ecp_write_data(self, data: bytes, cancelled: Cancelled = never) -> Block:
        """ECP forward data by the kernel (the chip's FIFO in ECR mode 011 when it has one)."""
        return self._forward(IEEE1284_MODE_ECP, data, cancelled)

    def ecp_write_addr(self, data: bytes, cancelled: Cancelled = never) -> Block:
        """ECP forward commands (channel addresses, run-length counts) by the kernel."""
        return self._forward(IEEE1284_MODE_ECP | IEEE1284_ADDR, data, cancelled)

    def ecp_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        """ECP reverse bytes by the kernel (run-length counts expanded by it)."""
        return self._reverse(IEEE1284_MODE_ECP, length, cancelled)

    # --- waiting ----------------------------------------------------------------------------
    def wait_status(self, mask: int, value: int, timeout_us: float) -> int | None:
        """Poll the status like Linux's ``parport_wait_peripheral``: fast for 500 µs, then with
        sleeps growing to 10 ms, so that waiting for a slow printer does not spin a core."""
        clock = self.clock
        start = clock.now()
        deadline = start + timeout_us
        pause = 50.0
        while True:
            status = self.read_status()
            if status & mask == value:
                return status
            now = clock.now()
            if now >= deadline:
                return None
            if now - start < POLL_SPIN_US:
                continue
            clock.sleep(min(pause, deadline - now))
            pause = min(pause * 2, POLL_MAX_SLEEP_US)

    # --- lifetime ---------------------------------------------------------------------------
    def close(self) -> None:
        """Release the kernel claim (bounded, as in :meth:`release`), close the node, stop the
        clock and the helper; idempotent. A hung port's node is closed without waiting."""
        with self._claim_lock:
            if self._closed:
                return
            self._release_locked()
            self._closed = True
            if self._hung is None:
                self._ioctl = self._refuse
            fd, self._fd = self._fd, -1
            if self._hung is not None:
                self._stuck_fd = fd  # the helper may still use the number: not reused yet
            elif fd >= 0:
                self._sys.close(fd)
            helper, self._helper = self._helper, None
        if helper is not None:
            helper.stop()
        super().close()


def _rmmod(holders: str) -> str:
    modules = sorted({_module_of(name) for name in holders.split(", ") if name})
    return "'sudo rmmod " + " ".join(modules) + "'" if modules else "'lsmod' shows the drivers"


def _module_of(device: str) -> str:
    """The module behind a parport device name: ``lp0`` → lp, ``ppa`` → ppa."""
    return device.rstrip("0123456789.") or device


def _other_users(node: str, root: str) -> list[str]:
    """The other processes that have ``node`` open (their pids), from /proc/*/fd."""
    me = str(os.getpid())
    proc = os.path.join(root, "proc")
    found = []
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit() and p != me]
    except OSError:
        return []
    for pid in pids:
        fds = os.path.join(proc, pid, "fd")
        try:
            for fd in os.listdir(fds):
                if os.readlink(os.path.join(fds, fd)) == node:
                    found.append(pid)
                    break
        except OSError:
            continue
    return found[:5]


def open_ppdev(target: str, options: Mapping[str, str] | None = None) -> PpdevPort:
    """The factory for ``ppdev:N`` and ``/dev/parportN`` (options: ``exclusive=0|1``,
    ``release_timeout=SECONDS``)."""
    checked = ppdev_options(options or {})
    exclusive = bool(checked.get("exclusive", False))
    release_timeout = float(checked.get("release_timeout", RELEASE_TIMEOUT_S))  # type: ignore[arg-type]
    return PpdevPort(ppdev_path(target), exclusive=exclusive, release_timeout=release_timeout)
