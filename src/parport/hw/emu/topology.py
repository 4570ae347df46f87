"""Build an emulated port from an ``emu:`` spec or a TOML bench file (``design.md`` §5).

``emu:`` is one port with the chain daisy, daisy, printer. Options follow the colon, separated by
``&``: ``chain=`` (``+``-separated kinds: ``daisy``, ``printer``, ``zip``, ``loopback``,
``ieee1284``; empty for nothing attached), ``hw=`` (``spp``, ``ps2``, ``epp``, ``ecp``,
``ecp+epp``), ``access_ns=`` (register access cost), ``latency_us=`` (1284.3 select feedback
latency), ``irq=`` (``none`` or a number), ``fifo=`` (FIFO depth) and ``bench=FILE`` (a TOML bench,
see :func:`load_bench`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .daisy import DaisyDevice
from .ieee1284dev import Ieee1284Peripheral, Printer
from .loopback import LoopbackPlug
from .peripheral import Peripheral
from .port import EmulatedPort
from .zip import ZipDrive

__all__ = ["DEFAULT_CHAIN", "build_chain", "daisy_device_id", "load_bench", "open_emulator"]

DEFAULT_CHAIN = ("daisy", "daisy", "printer")
KINDS = ("daisy", "printer", "zip", "loopback", "ieee1284")
SPEC_OPTIONS = ("chain", "hw", "access_ns", "latency_us", "irq", "fifo", "bench")

PORT_KEYS = {
    "kind",
    "access_ns",
    "fifo_depth",
    "fifo_width",
    "irq",
    "base",
    "epp_timeout_clear",
    "epp_in_ecr_mode_only",
}
DEVICE_KEYS = {
    "kind",
    "name",
    "device_id",
    "modes",
    "busy_us",
    "ack_us",
    "response_us",
    "id_length_format",
    "select_latency_us",
    "reverse_data",
}


def daisy_device_id(index: int) -> str:
    """The default IEEE 1284 device ID of the emulated daisy-chain device at ``index``."""
    return (
        f"MFG:Parport;MDL:Daisy Device {index};CMD:RAW;CLS:MEDIA;"
        f"DES:Emulated IEEE 1284.3 daisy-chain device {index};"
    )


def _us(value: Any, what: str) -> int:
    if not isinstance(value, int | float) or value < 0:
        raise ValueError(f"{what} must be a non-negative number of microseconds, not {value!r}")
    return round(value * 1000)


def _make(kind: str, index: int, daisy_index: int, spec: Mapping[str, Any]) -> Peripheral:
    unknown = set(spec) - DEVICE_KEYS
    if unknown:
        raise ValueError(
            f"device {index}: unknown keys {sorted(unknown)}; known: {sorted(DEVICE_KEYS)}"
        )
    name = spec.get("name")
    device_id = spec.get("device_id")
    timing: dict[str, Any] = {}
    for key, option in (
        ("busy_us", "busy_ns"),
        ("ack_us", "ack_ns"),
        ("response_us", "response_ns"),
    ):
        if key in spec:
            timing[option] = _us(spec[key], key)
    if "modes" in spec:
        timing["modes"] = tuple(spec["modes"])
    if "id_length_format" in spec:
        timing["id_length_format"] = spec["id_length_format"]
    device: Peripheral
    if kind == "daisy":
        function = Ieee1284Peripheral(
            f"{name or f'daisy{daisy_index}'} function",
            daisy_device_id(daisy_index) if device_id is None else device_id,
            **{"modes": ("byte", "ecp", "epp", "device_id"), **timing},
        )
        latency = _us(spec.get("select_latency_us", 3), "select_latency_us")
        device = DaisyDevice(
            name or f"daisy{daisy_index}", select_latency_ns=latency, function=function
        )
        target: Peripheral = function
    elif kind == "printer":
        device = target = Printer(name or "printer", device_id, **timing)
    elif kind == "ieee1284":
        device = target = Ieee1284Peripheral(name or "peripheral", device_id or "", **timing)
    elif kind == "zip":
        device = target = ZipDrive(name or "zip", device_id or "")
    elif kind == "loopback":
        device = target = LoopbackPlug(name or "loopback")
    else:
        raise ValueError(f"device {index}: unknown kind {kind!r}; one of {', '.join(KINDS)}")
    reverse = spec.get("reverse_data")
    if reverse is not None:
        if not isinstance(target, Ieee1284Peripheral):
            raise ValueError(f"device {index}: a {kind} has no reverse data")
        target.queue_reverse(reverse.encode() if isinstance(reverse, str) else bytes(reverse))
    return device


def build_chain(specs: Sequence[Mapping[str, Any]]) -> list[Peripheral]:
    """Peripherals from a list of device tables (``kind`` plus that kind's options)."""
    devices: list[Peripheral] = []
    daisy = 0
    for index, spec in enumerate(specs):
        kind = spec.get("kind")
        if not isinstance(kind, str):
            raise ValueError(f"device {index}: needs a kind (one of {', '.join(KINDS)})")
        devices.append(_make(kind, index, daisy, spec))
        if kind == "daisy":
            daisy += 1
    return devices


def load_bench(path: str | Path) -> EmulatedPort:
    """An emulated port from a TOML bench file::

    [port]
    kind = "ecp+epp"          # spp, ps2, epp, ecp, ecp+epp
    access_ns = 1000
    irq = 7                   # or omit for none

    [[device]]
    kind = "daisy"
    device_id = "MFG:Acme;MDL:Scanner;CLS:SCANNER;"
    select_latency_us = 3

    [[device]]
    kind = "printer"
    modes = ["byte", "ecp", "epp", "device_id"]
    busy_us = 1
    """
    try:
        with open(path, "rb") as file:
            bench = tomllib.load(file)
    except OSError as exc:
        raise ValueError(f"cannot read bench file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"bench file {path} is not valid TOML: {exc}") from exc
    unknown = set(bench) - {"port", "device"}
    if unknown:
        raise ValueError(f"bench file {path}: unknown tables {sorted(unknown)}")
    port = dict(bench.get("port", {}))
    bad = set(port) - PORT_KEYS
    if bad:
        raise ValueError(f"bench file {path}: unknown [port] keys {sorted(bad)}")
    devices = build_chain(list(bench.get("device", [])))
    return EmulatedPort(devices, **port)


def open_emulator(target: str, options: Mapping[str, str] | None = None) -> EmulatedPort:
    """The emulated port an ``emu:`` spec describes (the options are those after the colon)."""
    opts = dict(options or {})
    unknown = set(opts) - set(SPEC_OPTIONS)
    if unknown:
        raise ValueError(
            f"emu: unknown options {sorted(unknown)}; known: {', '.join(SPEC_OPTIONS)}"
        )
    if "bench" in opts:
        if set(opts) != {"bench"}:
            raise ValueError("emu: bench= describes the whole port; give no other options")
        return load_bench(opts["bench"])
    chain_text = opts.get("chain")
    kinds = list(DEFAULT_CHAIN) if chain_text is None else [k for k in chain_text.split("+") if k]
    latency = opts.get("latency_us")
    specs: list[dict[str, Any]] = []
    for kind in kinds:
        spec: dict[str, Any] = {"kind": kind}
        if latency is not None and kind == "daisy":
            spec["select_latency_us"] = float(latency)
        specs.append(spec)
    port_options: dict[str, Any] = {}
    if "hw" in opts:
        port_options["kind"] = opts["hw"]
    if "access_ns" in opts:
        port_options["access_ns"] = int(opts["access_ns"])
    if "irq" in opts:
        port_options["irq"] = None if opts["irq"] in ("none", "") else int(opts["irq"])
    if "fifo" in opts:
        port_options["fifo_depth"] = int(opts["fifo"])
    return EmulatedPort(build_chain(specs), **port_options)
