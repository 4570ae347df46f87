"""The ``parport`` command: look at ports, drive pins, print and read, lock, trace, decode.

Every verb that opens a port takes ``--spec SPEC`` (default ``$PARPORT_PORT``, else ``emu:``),
handled by one helper. Every failure is one line on stderr, never a traceback: exit status 2
for bad usage or input (a bad spec, an unknown device, a malformed value), 1 for an operation
that failed (the port busy, a timeout, an I/O error). Nothing heavy is imported before a verb
needs it, so ``parport --help`` and ``parport decode`` start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn

from ._version import __version__

if TYPE_CHECKING:
    from .facade import Bus, Device

__all__ = ["OperationError", "UsageError", "build_parser", "main"]


class UsageError(Exception):
    """Bad usage or input: exit status 2."""


class OperationError(Exception):
    """An operation that failed: exit status 1."""


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line (``parport VERB: error: … (see --help)``)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --- the port every verb opens: one helper --------------------------------------------------------
def _add_spec(parser: argparse.ArgumentParser, *, nested: bool = False) -> None:
    """``--spec``, the same on every verb (``nested``: on a verb's action too, where it must not
    reset what the verb's own ``--spec`` gave)."""
    parser.add_argument(
        "--spec",
        metavar="SPEC",
        default=argparse.SUPPRESS if nested else None,
        help="the port: emu:…, /dev/parportN, parportd:[SOCKET], spy:SPEC?vcd=FILE "
        "(default: $PARPORT_PORT, else emu:)",
    )


def _spec(args: argparse.Namespace) -> str:
    from .hw.spec import default_spec, parse_spec  # noqa: PLC0415
    from .nt.errors import SpecError  # noqa: PLC0415

    spec: str = args.spec or default_spec()
    where = "--spec" if args.spec else "$PARPORT_PORT" if os.environ.get("PARPORT_PORT") else ""
    try:
        parse_spec(spec)
    except SpecError as exc:
        raise UsageError(f"{where}: {exc}" if where else str(exc)) from None
    return spec


def _open(args: argparse.Namespace) -> Bus:
    """Open the port of ``--spec`` (in this process, or through the daemon for ``parportd:``)."""
    from .compat._shared import check_not_locked_by_parent  # noqa: PLC0415
    from .facade import connect  # noqa: PLC0415
    from .facade import open as open_bus  # noqa: PLC0415
    from .hw.spec import parse_spec  # noqa: PLC0415
    from .nt.errors import SpecError  # noqa: PLC0415

    spec = _spec(args)
    check_not_locked_by_parent(spec)
    parsed = parse_spec(spec)
    try:
        if parsed.scheme == "parportd":
            return connect(parsed.target or None)
        return open_bus(spec)
    except SpecError as exc:
        raise UsageError(str(exc)) from None


def _device(bus: Bus, name: str, timeout: float | None = None) -> Device:
    """Open a device by name, or say which devices there are."""
    bare = name.removeprefix("\\\\.\\")
    if bare not in bus.names():
        raise UsageError(
            f"no device {name} on {bus.spec}: its devices are {', '.join(bus.devices)}"
        )
    return bus.device(name, timeout=timeout)


def _flags(value: int, kind: Any) -> str:
    """An IntFlag value by name (``ECP_HW_NOIRQ``, ``PAPER_EMPTY|SELECTED``, ``none``)."""
    number = int(value)
    if number == 0:
        return "none"
    return str(kind(number).name or f"{number:#x}")


def _seconds(text: str) -> float:
    """A duration: ``5ms``, ``500us``, ``2s``, ``0.005`` (seconds)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(s|ms|us|µs|ns)?\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (like 5ms, 500us, 0.01)")
    scale = {None: 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}[match.group(2)]
    return float(match.group(1)) * scale


def _byte(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (use 0x... for hex)") from None
    if not 0 <= value <= 0xFF:
        raise argparse.ArgumentTypeError(f"{text} is not a byte (0..255)")
    return value


def _count(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a byte count is >= 0, not {value}")
    return value


def _command(args: argparse.Namespace, verb: str) -> list[str]:
    command: list[str] = list(args.command)
    if not command:
        raise UsageError(f"give the command to run after --: parport {verb} … -- CMD [ARGS]")
    return command


def _run_child(command: list[str], env: dict[str, str] | None = None) -> int:
    try:
        return subprocess.run(command, env=env, check=False).returncode
    except FileNotFoundError:
        raise UsageError(f"no such command: {command[0]}") from None
    except PermissionError:
        raise UsageError(f"cannot run {command[0]}: permission denied") from None


# --- list, info, id, scan -------------------------------------------------------------------------
def _cmd_list(args: argparse.Namespace) -> int:
    """Ports on this machine and the emulated default."""
    chosen = _spec(args)
    try:
        from . import list_ports  # noqa: PLC0415
    except ImportError:
        print(
            "parport list: this build cannot look for real ports (no parport.list_ports); "
            "showing the emulated default only",
            file=sys.stderr,
        )
        rows: list[dict[str, Any]] = [
            {"spec": "emu:", "backend": "emu", "description": "emulated LPT1", "default": False}
        ]
    else:
        rows = [port.as_dict() for port in list_ports()]
    for row in rows:
        row["default"] = row["spec"] == chosen
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(str(row["spec"])) for row in rows)
    for row in rows:
        mark = "*" if row["default"] else " "
        print(f"{mark} {row['spec']:<{width}}  {row['description']}")
    if not any(row["default"] for row in rows):
        print(f"* {chosen} (the default, not found among these)")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    """A device's location, ID, status and modes; or the port's devices."""
    from .facade import DeviceStatus, Mode  # noqa: PLC0415

    with _open(args) as bus:
        if args.device is None:
            print(f"{bus.spec}")
            describe = getattr(bus.hardware, "describe", None)
            if callable(describe):
                print(f"  hardware  {describe()}")
            print(f"  devices   {', '.join(bus.devices)}")
            return 0
        with _device(bus, args.device, args.timeout) as dev:
            forward, reverse = dev.modes
            status = dev.status
            print(f"{args.device} on {bus.spec}")
            print(f"  location   {dev.location}")
            print(f"  device ID  {dev.device_id or '(none)'}")
            print(f"  status     {_flags(status, DeviceStatus)} ({int(status):#04x})")
            print(f"  modes      forward {_flags(forward, Mode)}, reverse {_flags(reverse, Mode)}")
    return 0


_ID_FIELDS = {
    "MFG": "manufacturer",
    "MDL": "model",
    "CMD": "command set",
    "CLS": "class",
    "DES": "description",
    "CID": "compatible ID",
}


def _cmd_id(args: argparse.Namespace) -> int:
    """The IEEE 1284 device ID, parsed into its fields."""
    from .ieee1284.devid import parse_device_id  # noqa: PLC0415

    with _open(args) as bus, _device(bus, args.device, args.timeout) as dev:
        text = dev.device_id
    if not text:
        raise OperationError(f"{args.device} gave no IEEE 1284 device ID")
    parsed = parse_device_id(text)
    if args.json:
        print(json.dumps({"text": text, "fields": parsed.fields}, indent=2))
        return 0
    print(text)
    width = max(len(f"{_ID_FIELDS.get(key, key)} ({key})") for key in parsed.fields)
    for key, value in parsed.fields.items():
        label = f"{_ID_FIELDS.get(key, key.lower())} ({key})"
        shown = ", ".join(parsed.command_set) if key == "CMD" else value
        print(f"  {label:<{width}}  {shown}")
    return 0


def _cmd_scan(args: argparse.Namespace) -> int:
    """Detect a port's hardware and list the devices on the cable with their IDs."""
    if args.port_spec is not None:
        if args.spec is not None and args.spec != args.port_spec:
            raise UsageError(f"two specs given: {args.port_spec} and --spec {args.spec}")
        args.spec = args.port_spec
    with _open(args) as bus:
        driver = bus.driver
        session = getattr(driver, "session", None)
        fdo = getattr(driver, "fdo", None)
        if session is not None and fdo is not None:
            hw = session.hardware
            print(
                f"{bus.spec} — {hw.kind} port, HardwareCapabilities "
                f"{fdo.hardware_capabilities():#04x}, FIFO {hw.fifo_depth}, IRQ {hw.irq}"
            )
        else:
            print(bus.spec)
        for name in bus.devices:
            try:
                with bus.device(name, timeout=args.timeout) as dev:
                    location, text = dev.location, dev.device_id
            except Exception as exc:  # one device we cannot open does not end the scan
                location, text = name, f"(cannot open: {exc})"
            print(f"  {location:<8} {name:<8} {text or '(no device ID)'}")
    return 0


# --- lock, write, read ----------------------------------------------------------------------------
def _cmd_lock(args: argparse.Namespace) -> int:
    """Hold DEVICE's lock while CMD runs; CMD's exit status passes through."""
    from .compat._shared import LOCKED_BY_PARENT  # noqa: PLC0415

    command = _command(args, "lock")
    spec = _spec(args)
    with (
        _open(args) as bus,
        _device(bus, args.device, args.timeout) as dev,
        dev.locked(args.timeout, select=not args.no_select),
    ):
        if args.python:
            return _run_python(command, spec, bus)
        env = dict(os.environ, PARPORT_PORT=spec)
        env[LOCKED_BY_PARENT] = f"{spec} {args.device}"
        return _run_child(command, env)


def _run_python(command: list[str], spec: str, bus: Bus) -> int:
    """Run a Python program in this process, inside the lock: its ``parport.compat`` ports
    (and ``import parallel``) use this bus, so their calls run in the lock."""
    import runpy  # noqa: PLC0415

    from . import compat  # noqa: PLC0415
    from .compat._shared import lend  # noqa: PLC0415

    saved_argv, saved_env = list(sys.argv), os.environ.get("PARPORT_PORT")
    os.environ["PARPORT_PORT"] = spec
    compat.install(replace=True)
    try:
        with lend(spec, bus):
            if command[0] == "-m":
                if len(command) < 2:
                    raise UsageError("-m needs a module name")
                sys.argv = command[1:]
                runpy.run_module(command[1], run_name="__main__", alter_sys=True)
            else:
                if not os.path.exists(command[0]):
                    raise UsageError(f"no such script: {command[0]}")
                sys.argv = list(command)
                runpy.run_path(command[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = saved_argv
        compat.uninstall()
        if saved_env is None:
            os.environ.pop("PARPORT_PORT", None)
        else:
            os.environ["PARPORT_PORT"] = saved_env
    return 0


_MODES = ("compat", "nibble", "byte", "epp", "ecp")


def _mode(name: str | None) -> tuple[int, int] | None:
    from .facade import Mode  # noqa: PLC0415

    if name is None:
        return None
    modes = {
        "compat": (Mode.COMPATIBILITY, Mode.NIBBLE),
        "nibble": (Mode.COMPATIBILITY, Mode.NIBBLE),
        "byte": (Mode.COMPATIBILITY, Mode.BYTE),
        "epp": (Mode.EPP, Mode.EPP),
        "ecp": (Mode.ECP, Mode.ECP),
    }
    return modes[name]


@contextlib.contextmanager
def _progress(total: int | None, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal (rich, imported only then)."""
    if not sys.stderr.isatty():
        yield lambda _done: None
        return
    from rich.console import Console  # noqa: PLC0415
    from rich.progress import (  # noqa: PLC0415
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    columns = (TextColumn(label), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda done: bar.update(task, advance=done)


def _rate(count: int, seconds: float) -> str:
    if seconds <= 0:
        return "instant"
    rate = count / seconds
    return f"{rate / 1e6:.2f} MB/s" if rate >= 1e6 else f"{rate / 1e3:.1f} kB/s"


def _cmd_write(args: argparse.Namespace) -> int:
    """Send FILE (or stdin) to DEVICE, holding its lock for the whole job."""
    from .nt.errors import ParportError  # noqa: PLC0415

    source: IO[bytes]
    if args.file in (None, "-"):
        source, total = sys.stdin.buffer, None
    else:
        try:
            source = open(args.file, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise UsageError(f"cannot read {args.file}: {exc.strerror}") from None
        total = os.fstat(source.fileno()).st_size
    written = 0
    with contextlib.ExitStack() as stack:
        if source is not sys.stdin.buffer:
            stack.enter_context(source)
        bus = stack.enter_context(_open(args))
        dev = stack.enter_context(_device(bus, args.device, args.timeout))
        modes = _mode(args.mode)
        if modes is not None:
            dev.negotiate(*modes)
        if not args.no_lock:
            stack.enter_context(dev.locked(args.timeout))
        advance = stack.enter_context(_progress(total, f"{args.device}"))
        start = time.perf_counter()
        while chunk := source.read(args.chunk):
            try:
                count = dev.write(chunk, timeout=args.timeout)
            except ParportError as exc:
                sent = written + int(getattr(exc, "information", 0) or 0)
                raise OperationError(f"{exc} (after {sent} bytes)") from None
            written += count
            advance(count)
        seconds = time.perf_counter() - start
    print(f"wrote {written} bytes to {args.device} in {seconds:.3f} s ({_rate(written, seconds)})")
    return 0


def _cmd_read(args: argparse.Namespace) -> int:
    """Read up to N bytes from DEVICE to stdout (a hex dump on a terminal)."""
    with _open(args) as bus, _device(bus, args.device, args.timeout) as dev:
        modes = _mode(args.mode)
        if modes is not None:
            dev.negotiate(*modes)
        start = time.perf_counter()
        data = dev.read(args.count, timeout=args.timeout)
        seconds = time.perf_counter() - start
    if sys.stdout.isatty() or args.hex:
        for offset in range(0, len(data), 16):
            row = data[offset : offset + 16]
            text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
            print(f"{offset:08x}  {row.hex(' '):<47}  {text}")
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    rate = _rate(len(data), seconds)
    print(f"read {len(data)} bytes from {args.device} in {seconds:.3f} s ({rate})", file=sys.stderr)
    return 0


# --- pins -----------------------------------------------------------------------------------------
def _pin_number(text: str) -> int:
    from .pins import PIN_NAMES  # noqa: PLC0415

    by_name = {name.lower(): pin for pin, name in PIN_NAMES.items()}
    key = text.strip().lower()
    if key in by_name:
        return by_name[key]
    try:
        return int(key, 0)
    except ValueError:
        raise UsageError(
            f"not a pin: {text!r} (a DB-25 number 1–17 or a name like nStrobe, D0, Busy)"
        ) from None


def _assignments(items: Sequence[str]) -> dict[int, bool]:
    from .pins import parse_level  # noqa: PLC0415

    levels: dict[int, bool] = {}
    for item in items:
        pin, sep, level = item.partition("=")
        if not sep:
            raise UsageError(f"not PIN=LEVEL: {item!r} (like 2=1, nStrobe=L)")
        try:
            levels[_pin_number(pin)] = parse_level(level)
        except ValueError as exc:
            raise UsageError(f"{item}: {exc}") from None
    return levels


def _cmd_pins(args: argparse.Namespace) -> int:
    """Show every pin; set pins; send a pulse."""
    action = args.action or "show"
    with _open(args) as bus:
        pins = bus.pins
        pins.timeout = args.timeout
        try:
            if action == "set":
                levels = _assignments(args.assignments)
                pins.set_pins(levels)
                from .pins import PIN_NAMES  # noqa: PLC0415

                changed = ", ".join(
                    f"{pin} {PIN_NAMES[pin]}={'H' if high else 'L'}" for pin, high in levels.items()
                )
                print(f"set {changed}")
            elif action == "pulse":
                pins.pulse(args.code, args.width, idle=args.idle)
                print(
                    f"pulsed 0x{args.code:02X} for {args.width * 1e3:g} ms on the port's clock, "
                    f"then 0x{args.idle:02X}"
                )
            else:
                levels_now = pins.read_pins()
                print(f"{bus.spec}")
                print(levels_now)
        except (ValueError, TypeError) as exc:
            raise UsageError(str(exc)) from None
    return 0


# --- trace, demo ----------------------------------------------------------------------------------
def _check_vcd_path(path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write the trace {path}: no such folder {folder}")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"cannot write the trace {path}: {folder} is not writable")
    if os.path.isdir(path):
        raise UsageError(f"cannot write the trace {path}: it is a folder")


def _emulated(spec: str, verb: str) -> None:
    from .compat._shared import shared_spec  # noqa: PLC0415

    if shared_spec(spec):
        raise UsageError(f"{verb} runs on an emulated port (emu:…), not {spec}")


def _cmd_trace(args: argparse.Namespace) -> int:
    """Run CMD with $PARPORT_PORT on an emulated port that records a VCD trace."""
    from urllib.parse import quote  # noqa: PLC0415

    command = _command(args, "trace")
    spec = _spec(args)
    _emulated(spec, "trace")
    _check_vcd_path(args.vcd)
    path = os.path.abspath(args.vcd)
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
    env = dict(os.environ, PARPORT_PORT=f"spy:{spec}?vcd={quote(path, safe='/')}")
    status = _run_child(command, env)
    if not os.path.exists(path):
        print(
            f"parport trace: {command[0]} never opened the port ($PARPORT_PORT): no trace written",
            file=sys.stderr,
        )
    return status


def _cmd_demo(args: argparse.Namespace) -> int:
    """The main job: several clients sharing one emulated port (see :mod:`parport.demo`)."""
    from .demo import DemoError, run  # noqa: PLC0415

    spec = _spec(args)
    _emulated(spec, "the demo")
    vcd = None if args.no_vcd else args.vcd
    if vcd is not None:
        _check_vcd_path(vcd)
    try:
        return run(sys.stdout, spec=spec, vcd=vcd)
    except DemoError as exc:
        raise UsageError(str(exc)) from None


# --- decode, structs, serve -----------------------------------------------------------------------
def _value(text: str) -> int:
    """A number (decimal, 0x…) or a header name (STATUS_DEVICE_BUSY, IOCTL_PAR_PING)."""
    import difflib  # noqa: PLC0415

    try:
        value = int(text, 0)
    except ValueError:
        pass
    else:
        if value < 0:
            raise UsageError(
                f"{text}: negative numbers are neither IOCTL codes nor NTSTATUS values"
            )
        if value > 0xFFFFFFFF:
            raise UsageError(f"{text}: more than 32 bits; IOCTL codes and NTSTATUS are 32-bit")
        return value
    names = _names()
    name = text.strip().upper()
    if name in names:
        return names[name]
    close = difflib.get_close_matches(name, list(names), n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise UsageError(f"not a number nor a known name: {text!r}{hint}")


def _names() -> dict[str, int]:
    from . import nt  # noqa: PLC0415
    from .driver.registers import IOCTL_PARPORT_REGISTERS  # noqa: PLC0415

    names = {info.name: code for code, info in nt.DEVICE_IOCTLS.items()}
    names.update({info.name: code for code, info in nt.INTERNAL_IOCTLS.items()})
    names.update({member.name: int(member) for member in nt.NTSTATUS})
    names["IOCTL_PARPORT_REGISTERS"] = IOCTL_PARPORT_REGISTERS
    return names


def _decode(value: int) -> list[str]:
    """Every meaning of a 32-bit value: IOCTL under each major function, and NTSTATUS."""
    from . import nt  # noqa: PLC0415
    from .driver.registers import IOCTL_PARPORT_REGISTERS  # noqa: PLC0415

    lines: list[str] = []
    for major in (nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, nt.IRP_MJ_DEVICE_CONTROL):
        info = nt.ioctl_info(major, value)
        if info is not None:
            lines.append(
                f"0x{value:08X} as {major.name}: {info.name} "
                f"(function {info.function}, handled by the {info.target})"
            )
    if value == IOCTL_PARPORT_REGISTERS:
        lines.append(
            f"0x{value:08X} as IRP_MJ_DEVICE_CONTROL: IOCTL_PARPORT_REGISTERS "
            "(function 2048, parport's register scripts: pin access through the arbiter)"
        )
    name = nt.status_name(value)
    if not name.startswith("NTSTATUS("):
        severity = ("success", "information", "warning", "error")[value >> 30]
        lines.append(f"0x{value:08X} as NTSTATUS: {name} ({severity})")
    if not lines:
        lines.append(
            f"0x{value:08X}: no IOCTL or NTSTATUS parport knows; as a CTL_CODE: device type "
            f"0x{value >> 16:X}, function {(value >> 2) & 0xFFF}, method {value & 3}, "
            f"access {(value >> 14) & 3}"
        )
    return lines


def _cmd_decode(args: argparse.Namespace) -> int:
    values = [_value(text) for text in args.values]
    for value in values:
        for line in _decode(value):
            print(line)
    return 0


def _cmd_structs(args: argparse.Namespace) -> int:
    from . import nt  # noqa: PLC0415

    wanted = {name.upper() for name in args.names}
    known = [
        name
        for name in sorted(nt.structs.__all__)
        if isinstance(getattr(nt.structs, name), type)
        and issubclass(getattr(nt.structs, name), nt.NtStruct)
        and getattr(nt.structs, name) is not nt.NtStruct
    ]
    unknown = sorted(wanted - set(known))
    if unknown:
        raise UsageError(f"no structure {unknown[0]}; the structures are {', '.join(known)}")
    for name in known:
        if wanted and name not in wanted:
            continue
        layout = getattr(nt.structs, name).layout(args.arch)
        members = ", ".join(f"{m}@{o}" for m, o in layout.offsets.items())
        print(f"{name} ({layout.size} bytes, {layout.format}): {members}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    """Run the daemon (``parportd``) in the foreground."""
    try:
        from .service import serve_main  # noqa: PLC0415
    except ImportError:
        raise OperationError("the daemon is not in this build (no parport.service)") from None
    result: int = serve_main(list(args.daemon_args), prog="parport serve")
    return result


# --- the parser -----------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="parport",
        description="Parallel ports from Python: look, drive pins, print, lock, trace, decode.",
        epilog="The port: --spec SPEC, else $PARPORT_PORT, else emu: (the emulator).",
    )
    parser.add_argument("--version", action="version", version=f"parport {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=_Parser)

    def verb(name: str, help: str, func: Callable[[argparse.Namespace], int]) -> _Parser:
        command: _Parser = sub.add_parser(name, help=help, description=help)
        command.set_defaults(func=func)
        return command

    def timeout(command: argparse.ArgumentParser, nested: bool = False) -> None:
        command.add_argument(
            "--timeout",
            type=_seconds,
            metavar="T",
            default=argparse.SUPPRESS if nested else None,
            help="give up waiting for the port after T (like 5s, 200ms)",
        )

    listing = verb("list", "ports on this machine and the emulated default", _cmd_list)
    listing.add_argument("--json", action="store_true", help="as JSON")
    _add_spec(listing)

    info = verb("info", "a device's ID, status and modes (or the port's devices)", _cmd_info)
    info.add_argument("device", nargs="?", metavar="DEVICE", help="like LPT1.4")
    _add_spec(info)
    timeout(info)

    ident = verb("id", "a device's IEEE 1284 device ID, parsed into its fields", _cmd_id)
    ident.add_argument("device", metavar="DEVICE")
    ident.add_argument("--json", action="store_true", help="as JSON")
    _add_spec(ident)
    timeout(ident)

    scan = verb("scan", "detect a port and list the devices on its cable with their IDs", _cmd_scan)
    scan.add_argument("port_spec", nargs="?", metavar="SPEC", help="the port (as --spec)")
    _add_spec(scan)
    timeout(scan)

    lock = verb("lock", "run a command while holding a device's lock", _cmd_lock)
    lock.add_argument("device", metavar="DEVICE")
    lock.add_argument(
        "--python",
        action="store_true",
        help="CMD is script.py or -m module, run in this process inside the lock (its "
        "parport.compat ports and import parallel use the locked port)",
    )
    lock.add_argument("--no-select", action="store_true", help="LOCK_PORT_NO_SELECT")
    lock.add_argument("command", nargs="*", metavar="-- CMD [ARGS]")
    _add_spec(lock)
    timeout(lock)

    write = verb("write", "send a file (or stdin) to a device, with progress", _cmd_write)
    write.add_argument("device", metavar="DEVICE")
    write.add_argument("file", nargs="?", metavar="FILE", help="default: stdin (also -)")
    write.add_argument("--mode", choices=_MODES, help="negotiate this mode first")
    write.add_argument("--chunk", type=_count, default=4096, help="bytes a request (4096)")
    write.add_argument(
        "--no-lock", action="store_true", help="let others in between chunks (default: locked)"
    )
    _add_spec(write)
    timeout(write)

    read = verb("read", "read up to N bytes from a device to stdout", _cmd_read)
    read.add_argument("device", metavar="DEVICE")
    read.add_argument("count", type=_count, metavar="N")
    read.add_argument("--mode", choices=_MODES, help="negotiate this reverse mode first")
    read.add_argument("--hex", action="store_true", help="a hex dump (the default on a terminal)")
    _add_spec(read)
    timeout(read)

    pins = verb("pins", "show every pin; set pins; send a pulse", _cmd_pins)
    _add_spec(pins)
    timeout(pins)
    actions = pins.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    show = actions.add_parser("show", help="every pin's level (the default)")
    _add_spec(show, nested=True)
    timeout(show, nested=True)
    setting = actions.add_parser("set", help="drive pins: set 2=1 3=0 nStrobe=L")
    setting.add_argument("assignments", nargs="+", metavar="PIN=LEVEL")
    _add_spec(setting, nested=True)
    timeout(setting, nested=True)
    pulse = actions.add_parser("pulse", help="put CODE on D0–D7 for --width, then --idle")
    pulse.add_argument("code", type=_byte, metavar="CODE")
    pulse.add_argument("--width", type=_seconds, default=0.005, help="like 5ms (default)")
    pulse.add_argument("--idle", type=_byte, default=0, help="the byte after the pulse (0)")
    _add_spec(pulse, nested=True)
    timeout(pulse, nested=True)

    trace = verb("trace", "record what a command does on an emulated port (VCD)", _cmd_trace)
    trace.add_argument("--vcd", required=True, metavar="FILE", help="the VCD file to write")
    trace.add_argument("command", nargs="*", metavar="-- CMD [ARGS]")
    _add_spec(trace)

    demo = verb("demo", "several clients sharing one emulated port, with a trace", _cmd_demo)
    demo.add_argument("--vcd", default="parport-demo.vcd", help="where to write the VCD trace")
    demo.add_argument("--no-vcd", action="store_true", help="write no trace")
    _add_spec(demo)

    decode = verb("decode", "every meaning of a value or name (IOCTL codes, NTSTATUS)", _cmd_decode)
    decode.add_argument("values", nargs="+", metavar="VALUE", help="0x16002C, STATUS_DEVICE_BUSY")

    structs = verb("structs", "every structure's size and member offsets", _cmd_structs)
    structs.add_argument("names", nargs="*", metavar="NAME", help="only these")
    structs.add_argument("--arch", choices=("x64", "x86"), default="x64")

    serve = verb("serve", "run the parportd daemon in the foreground", _cmd_serve)
    serve.add_argument("daemon_args", nargs=argparse.REMAINDER, metavar="ARGS")
    return parser


def _fail(verb: str, message: str, status: int) -> int:
    text = " ".join(str(message).split())
    print(f"parport{' ' + verb if verb else ''}: {text}", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``parport`` command; its exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if arguments[:1] == ["serve"]:  # everything after it is the daemon's (its --help too)
        args = argparse.Namespace(verb="serve", func=_cmd_serve, daemon_args=arguments[1:])
    elif arguments[:1] in (["lock"], ["trace"]) and "--" in arguments:
        cut = arguments.index("--")  # what follows -- is the command, options and all
        args = parser.parse_args(arguments[:cut])
        args.command = [*args.command, *arguments[cut + 1 :]]
    else:
        args = parser.parse_args(arguments)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    verb = str(args.verb)
    try:
        from .nt.errors import ParportError, SpecError  # noqa: PLC0415

        try:
            status: int = func(args)
            sys.stdout.flush()
        except (UsageError, SpecError) as exc:
            return _fail(verb, str(exc), 2)
        except (OperationError, ParportError, OSError) as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            return _fail(verb, str(exc) or type(exc).__name__, 1)
        except KeyboardInterrupt:
            return _fail(verb, "interrupted", 130)
        return status
    except BrokenPipeError:
        # The reader went away (``parport decode … | head -1``): say so once, quietly exit.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return _fail(verb, "the output was closed before the end (broken pipe)", 1)
