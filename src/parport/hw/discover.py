"""Finding the parallel ports of this machine: :func:`list_ports` (``parport list``).

Linux describes each port it drives in two places: ``/sys/class/parport/parportN`` (the class
device, whose ``device/driver`` link names the low-level driver, e.g. ``parport_pc``) and
``/proc/sys/dev/parport/parportN`` (ieee1284.md §6.6: ``base-addr`` — the base and the ECP
block's base —, ``irq`` and ``dma`` — −1 when unused —, ``modes`` — the PARPORT_MODE_* names
— , ``devices/`` — every driver registered on the port, and ``active``, the one holding it now —
and ``autoprobe``/``autoprobe0..3``, the IEEE 1284 device IDs the kernel read at boot: the
end-of-chain device, then IEEE 1284.3 daisy-chain addresses 0–3, ieee1284.md §3.3). Its ppdev
node is ``/dev/parportN`` (char major 99, minor N). ``/proc/ioports`` tells who has claimed an
I/O range, which the raw I/O backend checks before it touches one.

Everything here only reads files (under ``root``, so tests use a fixture directory); nothing
opens a port. The module also keeps the list of ports whose kernel claim hung (the ppdev
PPRELEASE deadlock, docs/hardware.md), which :func:`list_ports` reports.
"""

from __future__ import annotations

import grp
import os
import re
import stat
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

__all__ = [
    "PPDEV_MAJOR",
    "IoRange",
    "PortInfo",
    "active_device",
    "autoprobe",
    "driver_name",
    "hung_ports",
    "ioport_claims",
    "kernel_port",
    "kernel_ports",
    "list_ports",
    "node_problem",
    "permission_hint",
    "port_number",
    "registered_devices",
    "report_hung",
]

PPDEV_MAJOR: Final = 99  # char major of /dev/parportN (PP_MAJOR)
PROC_PARPORT: Final = "proc/sys/dev/parport"
SYS_PARPORT: Final = "sys/class/parport"
_PORT_DIR = re.compile(r"parport(\d+)")
_IOPORT_LINE = re.compile(r"^(\s*)([0-9a-fA-F]+)-([0-9a-fA-F]+)\s*:\s*(.*?)\s*$")

# Address windows and reservations of buses, not drivers: never "a driver has claimed it".
_WINDOW = re.compile(r"PCI (Bus|conf)|PCI-?e? ?Bus|ACPI|pnp |reserved", re.IGNORECASE)

_hung_lock = threading.Lock()
_hung: dict[str, str] = {}  # device node -> the one-line report of its hung kernel claim


# --- the hung-claim registry (filled by the ppdev backend) ----------------------------------------
def report_hung(node: str, message: str | None) -> None:
    """Record (``message``) or clear (None) that ``node``'s kernel claim hung in this process."""
    with _hung_lock:
        if message is None:
            _hung.pop(node, None)
        else:
            _hung[node] = message


def hung_ports() -> dict[str, str]:
    """Every device node whose PPRELEASE hung in this process, with its report."""
    with _hung_lock:
        return dict(_hung)


# --- reading /proc and /sys -----------------------------------------------------------------------
def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None


def _root(root: str | os.PathLike[str]) -> Path:
    return Path(root)


def kernel_ports(root: str | os.PathLike[str] = "/") -> list[int]:
    """The numbers N of every ``parportN`` the kernel drives (sysfs and procfs together)."""
    base = _root(root)
    found: set[int] = set()
    for where in (base / SYS_PARPORT, base / PROC_PARPORT):
        try:
            names = os.listdir(where)
        except OSError:
            continue
        for name in names:
            match = _PORT_DIR.fullmatch(name)
            if match:
                found.add(int(match.group(1)))
    return sorted(found)


def registered_devices(number: int, root: str | os.PathLike[str] = "/") -> list[str]:
    """The drivers registered on ``parportN`` (``lp0``, ``ppdev0`` …), from procfs."""
    where = _root(root) / PROC_PARPORT / f"parport{number}" / "devices"
    try:
        return sorted(name for name in os.listdir(where) if name != "active")
    except OSError:
        return []


def active_device(number: int, root: str | os.PathLike[str] = "/") -> str | None:
    """The driver holding ``parportN`` now (``devices/active``), None when nobody does or
    procfs does not say."""
    text = _read(_root(root) / PROC_PARPORT / f"parport{number}" / "devices" / "active")
    if text is None:
        return None
    name = text.strip()
    return None if name in ("", "none") else name


def driver_name(number: int, root: str | os.PathLike[str] = "/") -> str | None:
    """The low-level driver of ``parportN`` (``parport_pc``, ``parport_serial`` …) from sysfs."""
    link = _root(root) / SYS_PARPORT / f"parport{number}" / "device" / "driver"
    try:
        return os.path.basename(os.readlink(link))
    except OSError:
        return None


def autoprobe(number: int, root: str | os.PathLike[str] = "/") -> dict[str, dict[str, str]]:
    """The IEEE 1284 device IDs the kernel read on ``parportN``: ``"eoc"`` for the end-of-chain
    device (``autoprobe``), ``"0"``–``"3"`` for daisy-chain addresses (``autoprobe0..3``); each
    as its ``KEY: value`` lines (CLASS, MODEL, MANUFACTURER, DESCRIPTION, COMMAND SET)."""
    where = _root(root) / PROC_PARPORT / f"parport{number}"
    found: dict[str, dict[str, str]] = {}
    for name, key in (("autoprobe", "eoc"), *((f"autoprobe{i}", str(i)) for i in range(4))):
        text = _read(where / name)
        if not text:
            continue
        fields: dict[str, str] = {}
        for line in text.splitlines():
            item, sep, value = line.strip().rstrip(";").partition(":")
            if sep and item.strip():
                fields[item.strip().upper()] = value.strip()
        if fields:
            found[key] = fields
    return found


def _ints(text: str | None) -> list[int]:
    out = []
    for word in (text or "").split():
        try:
            out.append(int(word, 0))
        except ValueError:
            continue
    return out


@dataclass(frozen=True, slots=True)
class IoRange:
    """One claim in ``/proc/ioports``: ``start``–``end`` (inclusive) by ``name``, and the
    claims it is nested in (outermost first)."""

    start: int
    end: int
    name: str
    parents: tuple[str, ...] = ()


def ioport_claims(start: int, end: int, root: str | os.PathLike[str] = "/") -> list[IoRange]:
    """The innermost claims in ``/proc/ioports`` that overlap ``start``–``end``. (The file
    shows zero addresses to a reader without CAP_SYS_ADMIN; then nothing overlaps and the
    names are still listed by :func:`kernel_ports`.)"""
    text = _read(_root(root) / "proc" / "ioports") or ""
    stack: list[tuple[int, str]] = []  # (indent, name) of the claims enclosing this line
    found: list[IoRange] = []
    for line in text.splitlines():
        match = _IOPORT_LINE.match(line)
        if match is None:
            continue
        indent = len(match.group(1))
        lo, hi = int(match.group(2), 16), int(match.group(3), 16)
        name = match.group(4)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parents = tuple(n for _, n in stack)
        stack.append((indent, name))
        if (lo, hi) != (0, 0) and lo <= end and hi >= start and not _WINDOW.match(name):
            found.append(IoRange(lo, hi, name, parents))
    enclosing = {parent for claim in found for parent in claim.parents}
    return [claim for claim in found if claim.name not in enclosing]


def port_number(name: str) -> int | None:
    """N for ``parportN``, else None."""
    match = _PORT_DIR.fullmatch(name)
    return int(match.group(1)) if match else None


def node_problem(node: str, *, root: str | os.PathLike[str] = "/") -> str | None:
    """Why this user cannot open the ppdev node ``node`` for reading and writing (one line
    saying what to do), or None when it can."""
    path = _root(root) / node.lstrip("/")
    try:
        info = os.stat(path)
    except FileNotFoundError:
        module = _root(root) / "sys" / "module" / "ppdev"
        if not module.exists():
            return f"no {node}: the ppdev module is not loaded ('sudo modprobe ppdev')"
        return f"no {node}: ppdev is loaded but made no node (is devtmpfs or udev running?)"
    except OSError as exc:
        return f"cannot look at {node}: {exc.strerror}"
    if not stat.S_ISCHR(info.st_mode) or os.major(info.st_rdev) != PPDEV_MAJOR:
        return f"{node} is not a ppdev node (char major {PPDEV_MAJOR})"
    if os.access(path, os.R_OK | os.W_OK):
        return None
    return permission_hint(node, info)


def permission_hint(node: str, info: os.stat_result) -> str:
    """The one line for a ppdev node this user may not open: its owner, group and mode, and
    how to get in (the group, a udev rule)."""
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    mode = stat.S_IMODE(info.st_mode)
    if group != "root" and mode & 0o060 == 0o060:
        return (
            f"{node} is {mode:04o}, group {group}: join the group ('sudo usermod -aG {group} "
            f"$USER', then log in again) or add a udev rule (docs/hardware.md)"
        )
    return (
        f"{node} is {mode:04o}, group {group}: add a udev rule giving a group read and write "
        'access, e.g. KERNEL=="parport[0-9]*", GROUP="lp", MODE="0660" (docs/hardware.md)'
    )


# --- the list -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortInfo:
    """One port ``parport.open()`` can be given, as ``parport list`` shows it."""

    spec: str  # what to pass to parport.open(): "/dev/parport0", "emu:"
    name: str  # "parport0" (the kernel's name) or "emu"
    backend: str  # "ppdev" or "emu"
    node: str | None = None  # the ppdev node
    base: int | None = None  # I/O base address
    base_hi: int | None = None  # the ECP block's base (base+0x400 on ISA ports)
    irq: int | None = None  # None: the port runs polled
    dma: int | None = None
    modes: tuple[str, ...] = ()  # the kernel's PARPORT_MODE_* names (PCSPP, TRISTATE, EPP …)
    driver: str | None = None  # the low-level driver (parport_pc …)
    devices: tuple[str, ...] = ()  # drivers registered on the port (lp0, ppdev0 …)
    active: str | None = None  # the one holding it now
    device_ids: dict[str, dict[str, str]] = field(default_factory=dict)  # autoprobe
    accessible: bool = True  # this user can open the node
    problem: str | None = None  # why not: one line saying what to do
    hung: str | None = None  # this process's claim of it hung (the ppdev deadlock)
    raw_spec: str | None = None  # "portio:0x378": the same registers through /dev/port
    default: bool = False  # what parport.open() opens without a spec
    description_text: str = ""  # the emulated port's own description

    def as_dict(self) -> dict[str, object]:
        """Everything, JSON-able (addresses as numbers; ``parport list --json``)."""
        return {
            "spec": self.spec,
            "name": self.name,
            "backend": self.backend,
            "node": self.node,
            "base": self.base,
            "base_hi": self.base_hi,
            "irq": self.irq,
            "dma": self.dma,
            "modes": list(self.modes),
            "driver": self.driver,
            "devices": list(self.devices),
            "active": self.active,
            "device_ids": {k: dict(v) for k, v in self.device_ids.items()},
            "accessible": self.accessible,
            "problem": self.problem,
            "hung": self.hung,
            "raw_spec": self.raw_spec,
            "default": self.default,
            "description": self.description(),
        }

    def description(self) -> str:
        """One line: where the port is, what it offers, who holds it, what is on it."""
        if self.backend == "emu":
            return self.description_text or "emulated port"
        parts = [self.name]
        if self.base is not None:
            parts.append(f"at {self.base:#x}")
        parts.append(f"irq {self.irq}" if self.irq is not None else "polled")
        if self.dma is not None:
            parts.append(f"dma {self.dma}")
        if self.modes:
            parts.append(",".join(self.modes))
        if self.driver:
            parts.append(f"({self.driver})")
        line = " ".join(parts)
        eoc = self.device_ids.get("eoc")
        if eoc:
            who = " ".join(v for k in ("MANUFACTURER", "MODEL") if (v := eoc.get(k)))
            if who:
                line += f"; device: {who}"
        if self.devices:
            line += f"; registered: {', '.join(self.devices)}"
        if self.active:
            line += f"; held by {self.active}"
        if self.hung:
            line += f"; HUNG: {self.hung}"
        elif self.problem:
            line += f"; cannot open: {self.problem}"
        return line


def kernel_port(number: int, root: str | os.PathLike[str] = "/") -> PortInfo:
    """What sysfs and procfs say about ``parportN`` (read-only; no port is opened)."""
    proc = _root(root) / PROC_PARPORT / f"parport{number}"
    addresses = _ints(_read(proc / "base-addr"))
    base = addresses[0] if addresses else None
    base_hi = addresses[1] if len(addresses) > 1 and addresses[1] else None
    irq_values = _ints(_read(proc / "irq"))
    dma_values = _ints(_read(proc / "dma"))
    irq = irq_values[0] if irq_values and irq_values[0] >= 0 else None
    dma = dma_values[0] if dma_values and dma_values[0] >= 0 else None
    modes_text = (_read(proc / "modes") or "").strip()
    modes = tuple(m for m in modes_text.split(",") if m)
    node = f"/dev/parport{number}"
    problem = node_problem(node, root=root)
    return PortInfo(
        spec=node,
        name=f"parport{number}",
        backend="ppdev",
        node=node,
        base=base,
        base_hi=base_hi,
        irq=irq,
        dma=dma,
        modes=modes,
        driver=driver_name(number, root),
        devices=tuple(registered_devices(number, root)),
        active=active_device(number, root),
        device_ids=autoprobe(number, root),
        accessible=problem is None,
        problem=problem,
        hung=hung_ports().get(node),
        raw_spec=f"portio:{base:#x}" if base else None,
    )


def list_ports(root: str | os.PathLike[str] = "/", *, emulated: bool = True) -> list[PortInfo]:
    """Every port on this machine that the kernel drives (from sysfs and procfs), each with
    its ppdev node and whether this user can open it, then the emulated default ``emu:``.

    Reads files only; ``root`` lets tests point it at a fixture tree. A port whose PPRELEASE
    hung in this process carries the report in ``hung``.
    """
    from .spec import default_spec  # noqa: PLC0415 (spec imports the backend table)

    ports = [kernel_port(n, root) for n in kernel_ports(root)]
    known = {p.node for p in ports}
    for node, message in hung_ports().items():
        if node not in known:  # a node the kernel no longer lists
            ports.append(PortInfo(node, os.path.basename(node), "ppdev", node=node, hung=message))
    if emulated:
        ports.append(
            PortInfo(
                spec="emu:",
                name="emu",
                backend="emu",
                base=0x378,
                base_hi=0x778,
                irq=7,
                modes=("PCSPP", "TRISTATE", "EPP", "ECP"),
                description_text=(
                    "emulated LPT1 at 0x378 (ECP+EPP); on the cable: two IEEE 1284.3 "
                    "daisy-chain devices, then a printer"
                ),
            )
        )
    chosen = default_spec()
    return [replace(p, default=True) if p.spec == chosen else p for p in ports]
