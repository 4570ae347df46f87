"""The ``parport`` command: decode Windows parallel-port numbers and run the demo."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import nt
from ._version import __version__
from .demo import run as run_demo
from .facade import open as open_bus
from .hw.spec import default_spec


def _int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r} (use 0x... for hex)") from None


def _decode(value: int) -> list[str]:
    """Every meaning of a 32-bit value: IOCTL under each major function, and NTSTATUS."""
    lines: list[str] = []
    for major in (nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, nt.IRP_MJ_DEVICE_CONTROL):
        info = nt.ioctl_info(major, value)
        if info is not None:
            lines.append(
                f"0x{value:08X} as {major.name}: {info.name} "
                f"(function {info.function}, handled by the {info.target})"
            )
    if 0 <= value <= 0xFFFFFFFF:
        name = nt.status_name(value)
        if not name.startswith("NTSTATUS("):
            lines.append(f"0x{value:08X} as NTSTATUS: {name}")
    if not lines:
        lines.append(f"0x{value:08X}: {nt.ioctl_name(nt.IRP_MJ_DEVICE_CONTROL, value)}")
    return lines


def _cmd_decode(args: argparse.Namespace) -> int:
    for value in args.values:
        for line in _decode(value):
            print(line)
    return 0


def _cmd_structs(args: argparse.Namespace) -> int:
    for name in sorted(nt.structs.__all__):
        cls = getattr(nt.structs, name)
        if isinstance(cls, type) and issubclass(cls, nt.NtStruct) and cls is not nt.NtStruct:
            layout = cls.layout(args.arch)
            members = ", ".join(f"{m}@{o}" for m, o in layout.offsets.items())
            print(f"{name} ({layout.size} bytes, {layout.format}): {members}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    """The main job: several clients sharing one emulated port (see :mod:`parport.demo`)."""
    return run_demo(sys.stdout, spec=args.spec, vcd=None if args.no_vcd else args.vcd)


def _cmd_scan(args: argparse.Namespace) -> int:
    """Open a port, detect its hardware and list the devices on the cable with their IDs."""
    try:
        bus = open_bus(args.spec)
    except (ValueError, OSError, nt.ParportError) as exc:
        print(f"parport scan: {exc}", file=sys.stderr)
        return 2
    with bus:
        hw = bus.driver.session.hardware
        print(
            f"{args.spec or default_spec()} — {hw.kind} port, HardwareCapabilities "
            f"{bus.driver.fdo.hardware_capabilities():#04x}, FIFO {hw.fifo_depth}, IRQ {hw.irq}"
        )
        for device in bus.driver.devices:
            text = device.device_id.text if device.device_id else "(no device ID)"
            print(f"  {device.location:<8} {device.name:<22} {text}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parport",
        description="The Windows parallel-port driver stack in Python.",
    )
    parser.add_argument("--version", action="version", version=f"parport {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="several clients sharing one emulated port, with a trace")
    demo.add_argument("--spec", default="emu:", help="the port spec (default: emu:)")
    demo.add_argument("--vcd", default="parport-demo.vcd", help="where to write the VCD trace")
    demo.add_argument("--no-vcd", action="store_true", help="write no trace")
    demo.set_defaults(func=_cmd_demo)
    scan = sub.add_parser("scan", help="list the devices on a port with their IEEE 1284 IDs")
    scan.add_argument(
        "spec", nargs="?", default=None, help="port spec (default: $PARPORT_PORT or emu:)"
    )
    scan.set_defaults(func=_cmd_scan)
    decode = sub.add_parser("decode", help="name an IOCTL code or NTSTATUS value (all meanings)")
    decode.add_argument("values", nargs="+", type=_int, metavar="VALUE")
    decode.set_defaults(func=_cmd_decode)
    structs = sub.add_parser("structs", help="print every structure's size and member offsets")
    structs.add_argument("--arch", choices=("x64", "x86"), default="x64")
    structs.set_defaults(func=_cmd_structs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    result: int = args.func(args)
    sys.stdout.flush()
    return result
