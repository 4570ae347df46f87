"""Build an emulated port from an ``emu:`` spec or a TOML bench file (``design.md`` §5).

``emu:`` is one port with the chain daisy, daisy, printer. Options follow the colon, separated by
``&``: ``chain=`` (``+``-separated kinds: ``daisy``, ``printer``, ``zip``, ``loopback``,
``ieee1284``; empty for nothing attached), ``hw=`` (``spp``, ``ps2``, ``epp``, ``ecp``,
``ecp+epp``), ``access_ns=`` (register access cost), ``latency_us=`` (1284.3 select feedback
latency), ``irq=`` (``none`` or an IRQ cnfgB can report), ``fifo=`` (ECP FIFO depth),
``clock=`` (``paced`` or ``manual``) and ``bench=FILE`` (a TOML bench, see :func:`load_bench`).

Every option and every bench key is checked for its type and for the range the hardware allows
before anything is built; a bad one raises :class:`~parport.nt.SpecError` (a ``ValueError``)
whose one line names the option, the value given and what is allowed. The ranges are in
``docs/emulator.md`` ("Opening a port").
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from ...nt.errors import SpecError
from ..backend import PORT_KINDS
from ..clock import VirtualClock
from ..spec import shown
from .daisy import DaisyDevice
from .ieee1284dev import MODES, Ieee1284Peripheral, Printer
from .loopback import LoopbackPlug
from .peripheral import Peripheral
from .port import IMPID, IRQ_CODES, EmulatedPort
from .zip import ZipDrive

__all__ = [
    "ACCESS_NS_RANGE",
    "CLOCKS",
    "DEFAULT_CHAIN",
    "DEFAULT_CLOCK",
    "DEVICE_TIME_US_RANGE",
    "FIFO_DEPTHS",
    "FIFO_WIDTHS",
    "IRQS",
    "MAX_DAISY",
    "SELECT_LATENCY_US_RANGE",
    "build_chain",
    "daisy_device_id",
    "load_bench",
    "open_emulator",
]

DEFAULT_CHAIN = ("daisy", "daisy", "printer")
KINDS = ("daisy", "printer", "zip", "loopback", "ieee1284")
SPEC_OPTIONS = ("chain", "hw", "access_ns", "latency_us", "irq", "fifo", "clock", "bench")

# What the hardware allows (docs/emulator.md, "Opening a port", says why).
IRQS: Final = tuple(sorted(IRQ_CODES))  # the ISA IRQs the ECP cnfgB register can report
FIFO_DEPTHS: Final = (16, 32, 64, 128, 256, 512)  # words; detection gives up at 1024
FIFO_WIDTHS: Final = tuple(sorted(IMPID))  # bits per FIFO word, the cnfgA PWord codes
ACCESS_NS_RANGE: Final = (1, 100_000)
SELECT_LATENCY_US_RANGE: Final = (0.0, 1000.0)
DEVICE_TIME_US_RANGE: Final = (0.0, 600_000_000.0)  # 10 minutes: beyond the 300 s TimerStart
BASE_RANGE: Final = (0x100, 0xFBFC)  # base+0x402 (the ECR) stays in the 64 KiB I/O space
MAX_DAISY: Final = 4  # IEEE 1284.3 addresses 0-3 (ieee1284.md §4.1)
MAX_DEVICE_ID: Final = 0xFFFF - 2  # the 2-byte length prefix counts itself
CLOCKS: Final = ("paced", "manual")
DEFAULT_CLOCK: Final = "paced"  # design.md §3: the emulator's clock is paced unless asked
ECP_KINDS: Final = ("ecp", "ecp+epp")
PASS_THROUGH: Final = ("daisy", "zip")  # kinds with a pass-through port for the next device
EPP_CLEARS: Final = ("read", "write0", "write1")
ID_LENGTH_FORMATS: Final = ("be", "le", "be-2")

PORT_KEYS = {
    "kind",
    "access_ns",
    "fifo_depth",
    "fifo_width",
    "irq",
    "base",
    "epp_timeout_clear",
    "epp_in_ecr_mode_only",
    "clock",
}
_FUNCTION_KEYS = (
    "kind",
    "name",
    "device_id",
    "modes",
    "busy_us",
    "ack_us",
    "response_us",
    "id_length_format",
    "reverse_data",
)
KIND_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "daisy": (*_FUNCTION_KEYS, "select_latency_us"),
    "printer": _FUNCTION_KEYS,
    "ieee1284": _FUNCTION_KEYS,
    "zip": ("kind", "name", "device_id"),
    "loopback": ("kind", "name"),
}
DEVICE_KEYS = {key for keys in KIND_KEYS.values() for key in keys}


def _one_of(values: Sequence[object]) -> str:
    return ", ".join(str(v) for v in values)


def _range(low: float, high: float) -> str:
    return f"from {low:.15g} to {high:.15g}"


# What each setting is and what it may be, for the messages; {key} is the name it was given by.
_ALLOWED: Final = {
    "chain": (
        "{key} is peripheral kinds in cable order joined by '+', from "
        f"{_one_of(KINDS)}, or empty for nothing attached"
    ),
    "hw": f"{{key}} is the port kind, one of {_one_of(PORT_KINDS)}",
    "access_ns": (
        "{key} is the time one register access takes, in whole nanoseconds "
        f"{_range(*ACCESS_NS_RANGE)}"
    ),
    "latency_us": (
        "{key} is the IEEE 1284.3 select answer latency in microseconds, a number "
        f"{_range(*SELECT_LATENCY_US_RANGE)}"
    ),
    "irq": f"{{key}} is none or an ISA IRQ the ECP cnfgB register can report: {_one_of(IRQS)}",
    "fifo": f"{{key}} is the ECP FIFO depth in words, one of {_one_of(FIFO_DEPTHS)}",
    "fifo_width": f"{{key}} is the bits per ECP FIFO word, one of {_one_of(FIFO_WIDTHS)}",
    "clock": (
        "{key} is paced (virtual time keeps up with wall time while the port is idle) or manual "
        "(time moves only with register accesses and sleeps)"
    ),
    "bench": "{key} is the path of a TOML bench file",
    "base": (
        "{key} is the I/O base address, a multiple of 4 "
        f"from 0x{BASE_RANGE[0]:X} to 0x{BASE_RANGE[1]:X} (0x378, 0x278 or 0x3BC on ISA)"
    ),
    "epp_timeout_clear": f"{{key}} is how the EPP timeout bit clears, one of {_one_of(EPP_CLEARS)}",
    "epp_in_ecr_mode_only": "{key} is true or false",
    "time": f"{{key}} is a time in microseconds, a number {_range(*DEVICE_TIME_US_RANGE)}",
    "name": "{key} is a non-empty name of printable characters",
    "device_id": (
        "{key} is an IEEE 1284 device ID, printable ASCII of at most "
        f"{MAX_DEVICE_ID} characters (like 'MFG:Acme;MDL:Laser;')"
    ),
    "modes": f"{{key}} is a list of IEEE 1284 modes from {_one_of(sorted(MODES))}",
    "id_length_format": (
        f"{{key}} is how the device ID length prefix is sent, one of {_one_of(ID_LENGTH_FORMATS)}"
    ),
    "reverse_data": "{key} is a string or a list of byte values from 0 to 255",
}

_INTEGER = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")  # no sign, exponent, nan or inf


def _toml(value: object) -> str:
    """``value`` as TOML would write it, for the messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, str):
        return f"'{shown(value)}'"
    if isinstance(value, list | tuple):
        return shown("[" + ", ".join(_toml(v) for v in value) + "]")
    if isinstance(value, dict):
        return shown("{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}")
    return shown(str(value))


class _Setting:
    """Where settings come from (an ``emu:`` spec or a table of a bench file), for the messages,
    and the checks of their values: spec values are text, bench values are TOML values."""

    def __init__(self, where: str, *, toml: bool) -> None:
        self.where = where
        self.toml = toml

    def shown(self, key: str, value: object) -> str:
        if self.toml:
            if key == "base" and type(value) is int and value >= 0:
                return f"{key} = 0x{value:X}"  # as a bench writes an I/O address
            return f"{key} = {_toml(value)}"
        return f"{key}={shown(str(value))}"

    def error(self, key: str, value: object, allowed: str) -> SpecError:
        return SpecError(f"{self.where}: {self.shown(key, value)} is not allowed: {allowed}")

    def reject(self, key: str, value: object, what: str) -> SpecError:
        return self.error(key, value, _ALLOWED[what].format(key=key))

    def choice(self, key: str, value: object, choices: Sequence[str], what: str) -> str:
        if not isinstance(value, str) or value not in choices:
            raise self.reject(key, value, what)
        return value

    def integer(self, key: str, value: object, low: int, high: int, what: str) -> int:
        if self.toml:
            number = value if isinstance(value, int) and not isinstance(value, bool) else None
        else:
            number = int(value) if isinstance(value, str) and _INTEGER.fullmatch(value) else None
        if number is None or not low <= number <= high:
            raise self.reject(key, value, what)
        return number

    def number(self, key: str, value: object, low: float, high: float, what: str) -> float:
        number: float | None = None
        if self.toml:
            if isinstance(value, int | float) and not isinstance(value, bool):
                number = float(value)
        elif isinstance(value, str) and _NUMBER.fullmatch(value):
            number = float(value)
        if number is None or not math.isfinite(number) or not low <= number <= high:
            raise self.reject(key, value, what)
        return number

    def irq(self, key: str, value: object) -> int | None:
        if value == "none":
            return None
        if self.toml:
            if isinstance(value, int) and not isinstance(value, bool) and value in IRQ_CODES:
                return value
        elif isinstance(value, str) and _INTEGER.fullmatch(value) and int(value) in IRQ_CODES:
            return int(value)
        raise self.reject(key, value, "irq")

    def unknown(self, items: Mapping[str, object], what: str, allowed: str) -> SpecError:
        given = ", ".join(self.shown(key, value) for key, value in items.items())
        return SpecError(f"{self.where}: unknown {what} [{given}]; {allowed}")


def daisy_device_id(index: int) -> str:
    """The default IEEE 1284 device ID of the emulated daisy-chain device at ``index``."""
    return (
        f"MFG:Parport;MDL:Daisy Device {index};CMD:RAW;CLS:MEDIA;"
        f"DES:Emulated IEEE 1284.3 daisy-chain device {index};"
    )


def _chain_problem(kinds: Sequence[str]) -> tuple[int, str] | None:
    """The first device a real cable could not have there, and why; None if all can be."""
    daisies = 0
    for index, kind in enumerate(kinds):
        if kind == "daisy":
            daisies += 1
            if daisies > MAX_DAISY:
                return index, (
                    f"IEEE 1284.3 has {MAX_DAISY} daisy-chain addresses (0-3), so a chain holds "
                    f"at most {MAX_DAISY} daisy devices"
                )
        if kind not in PASS_THROUGH and index < len(kinds) - 1:
            return index, (
                f"a {kind} has no pass-through port, so it can only be the last device "
                f"(only {' and '.join(PASS_THROUGH)} devices pass the cable on)"
            )
    return None


def _us_to_ns(us: float) -> int:
    return round(us * 1000)


def _device(index: int, spec: Mapping[str, Any], daisy_index: int, where: str) -> Peripheral:
    """One peripheral from its (already kind-checked) table."""
    kind: str = spec["kind"]
    check = _Setting(f"{where}device {index} ({kind})", toml=True)
    allowed = KIND_KEYS[kind]
    unknown = {key: value for key, value in spec.items() if key not in DEVICE_KEYS}
    if unknown:
        raise check.unknown(unknown, "keys", f"a {kind} takes {_one_of(allowed)}")
    for key, value in spec.items():
        if key not in allowed:
            raise check.error(key, value, f"a {kind} takes only {_one_of(allowed)}")

    name = spec.get("name")
    if name is not None and (not isinstance(name, str) or not name or not name.isprintable()):
        raise check.reject("name", name, "name")
    device_id = spec.get("device_id")
    if device_id is not None and (
        not isinstance(device_id, str)
        or len(device_id) > MAX_DEVICE_ID
        or not all(" " <= c <= "~" for c in device_id)
    ):
        raise check.reject("device_id", device_id, "device_id")
    options: dict[str, Any] = {}
    for key, option in (
        ("busy_us", "busy_ns"),
        ("ack_us", "ack_ns"),
        ("response_us", "response_ns"),
    ):
        if key in spec:
            options[option] = _us_to_ns(check.number(key, spec[key], *DEVICE_TIME_US_RANGE, "time"))
    if "modes" in spec:
        modes = spec["modes"]
        if not isinstance(modes, list | tuple) or not all(m in MODES for m in modes):
            raise check.reject("modes", modes, "modes")
        options["modes"] = tuple(modes)
    if "id_length_format" in spec:
        options["id_length_format"] = check.choice(
            "id_length_format", spec["id_length_format"], ID_LENGTH_FORMATS, "id_length_format"
        )
    reverse: bytes | None = None
    if "reverse_data" in spec:
        data = spec["reverse_data"]
        if isinstance(data, str):
            reverse = data.encode()
        elif isinstance(data, bytes | bytearray | list | tuple) and all(
            isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 0xFF for b in data
        ):
            reverse = bytes(data)
        else:
            raise check.reject("reverse_data", data, "reverse_data")

    device: Peripheral
    function: Ieee1284Peripheral | None = None
    if kind == "daisy":
        latency = 3.0
        if "select_latency_us" in spec:
            latency = check.number(
                "select_latency_us",
                spec["select_latency_us"],
                *SELECT_LATENCY_US_RANGE,
                "latency_us",
            )
        function = Ieee1284Peripheral(
            f"{name or f'daisy{daisy_index}'} function",
            daisy_device_id(daisy_index) if device_id is None else device_id,
            **{"modes": ("byte", "ecp", "epp", "device_id"), **options},
        )
        device = DaisyDevice(
            name or f"daisy{daisy_index}",
            select_latency_ns=_us_to_ns(latency),
            function=function,
        )
    elif kind == "printer":
        device = function = Printer(name or "printer", device_id, **options)
    elif kind == "ieee1284":
        device = function = Ieee1284Peripheral(name or "peripheral", device_id or "", **options)
    elif kind == "zip":
        device = ZipDrive(name or "zip", device_id or "")
    else:
        device = LoopbackPlug(name or "loopback")
    if reverse is not None and function is not None:
        function.queue_reverse(reverse)
    return device


def _build_chain(specs: Sequence[Mapping[str, Any]], where: str = "") -> list[Peripheral]:
    kinds: list[str] = []
    for index, spec in enumerate(specs):
        if not isinstance(spec, Mapping):
            raise SpecError(
                f"{where}device {index}: {_toml(spec)} is not allowed: a device is a table "
                "([[device]]) with a kind and that kind's keys"
            )
        kind = spec.get("kind")
        if kind not in KINDS:
            shown_kind = "no kind" if kind is None else f"kind = {_toml(kind)}"
            raise SpecError(
                f"{where}device {index}: needs a kind, one of {_one_of(KINDS)} "
                f"(this one has {shown_kind})"
            )
        kinds.append(kind)
    problem = _chain_problem(kinds)
    if problem is not None:
        index, reason = problem
        raise SpecError(f"{where}device {index} ({kinds[index]}) is not allowed there: {reason}")
    devices: list[Peripheral] = []
    daisy = 0
    for index, spec in enumerate(specs):
        devices.append(_device(index, spec, daisy, where))
        if kinds[index] == "daisy":
            daisy += 1
    _check_names(devices, specs, where)
    return devices


def _check_names(
    devices: Sequence[Peripheral], specs: Sequence[Mapping[str, Any]], where: str
) -> None:
    """A name given in a table must find its device (``port.peripheral(name)``)."""
    for index, spec in enumerate(specs):
        name = spec.get("name")
        if name is None:
            continue
        for other, device in enumerate(devices):
            if other != index and device.name == name:
                raise SpecError(
                    f"{where}device {index} ({spec['kind']}): name = {_toml(name)} is not "
                    f"allowed: device {other} is called that too; names must differ"
                )


def build_chain(specs: Sequence[Mapping[str, Any]]) -> list[Peripheral]:
    """Peripherals from a list of device tables (``kind`` plus that kind's options)."""
    return _build_chain(specs)


def _port_options(setting: _Setting, table: Mapping[str, Any]) -> dict[str, Any]:
    """EmulatedPort keyword arguments from a checked ``[port]`` table (bench key names)."""
    kw: dict[str, Any] = {}
    kind = "ecp+epp"
    if "kind" in table:
        kind = kw["kind"] = setting.choice("kind", table["kind"], PORT_KINDS, "hw")
    if "access_ns" in table:
        kw["access_ns"] = setting.integer(
            "access_ns", table["access_ns"], *ACCESS_NS_RANGE, "access_ns"
        )
    if "irq" in table:
        kw["irq"] = setting.irq("irq", table["irq"])
    for key, what, choices in (
        ("fifo_depth", "fifo", FIFO_DEPTHS),
        ("fifo_width", "fifo_width", FIFO_WIDTHS),
    ):
        if key not in table:
            continue
        value = table[key]
        if kind not in ECP_KINDS:
            raise setting.error(
                key, value, f"only an ECP port (kind ecp or ecp+epp) has a FIFO, not {kind}"
            )
        kw[key] = setting.integer(key, value, min(choices), max(choices), what)
        if kw[key] not in choices:
            raise setting.reject(key, value, what)
    if "base" in table:
        base = setting.integer("base", table["base"], *BASE_RANGE, "base")
        if base % 4:
            raise setting.reject("base", table["base"], "base")
        kw["base"] = base
    if "epp_timeout_clear" in table:
        kw["epp_timeout_clear"] = setting.choice(
            "epp_timeout_clear", table["epp_timeout_clear"], EPP_CLEARS, "epp_timeout_clear"
        )
    if "epp_in_ecr_mode_only" in table:
        value = table["epp_in_ecr_mode_only"]
        if not isinstance(value, bool):
            raise setting.reject("epp_in_ecr_mode_only", value, "epp_in_ecr_mode_only")
        if value and kind != "ecp+epp":
            raise setting.error(
                "epp_in_ecr_mode_only", value, f"EPP in ECR mode 100 needs kind ecp+epp, not {kind}"
            )
        kw["epp_in_ecr_mode_only"] = value
    paced = setting.choice("clock", table.get("clock", DEFAULT_CLOCK), CLOCKS, "clock") == "paced"
    kw["clock"] = VirtualClock(paced=paced)
    return kw


def load_bench(path: str | Path) -> EmulatedPort:
    """An emulated port from a TOML bench file::

    [port]
    kind = "ecp+epp"          # spp, ps2, epp, ecp, ecp+epp
    access_ns = 1000
    irq = 7                   # or "none"; omitted: 7
    clock = "paced"           # or "manual"

    [[device]]
    kind = "daisy"
    device_id = "MFG:Acme;MDL:Scanner;CLS:SCANNER;"
    select_latency_us = 3

    [[device]]
    kind = "printer"
    modes = ["byte", "ecp", "epp", "device_id"]
    busy_us = 1

    Every key is checked (docs/emulator.md has the ranges); a bad one raises SpecError.
    """
    where = f"bench file {shown(str(path))}"
    try:
        with open(path, "rb") as file:
            bench = tomllib.load(file)
    except OSError as exc:
        raise SpecError(f"cannot read {where}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{where} is not valid TOML: {shown(str(exc))}") from exc
    unknown = {key: value for key, value in bench.items() if key not in ("port", "device")}
    if unknown:
        raise _Setting(where, toml=True).unknown(
            unknown, "tables", "a bench has a [port] table and [[device]] tables"
        )
    port = bench.get("port", {})
    if not isinstance(port, dict):
        raise _Setting(where, toml=True).error("port", port, "[port] is a table")
    devices = bench.get("device", [])
    if not isinstance(devices, list):
        raise _Setting(where, toml=True).error(
            "device", devices, "devices are an array of tables, [[device]]"
        )
    setting = _Setting(f"{where}: [port]", toml=True)
    bad = {key: value for key, value in port.items() if key not in PORT_KEYS}
    if bad:
        raise _Setting(where, toml=True).unknown(
            bad, "[port] keys", f"[port] takes {_one_of(sorted(PORT_KEYS))}"
        )
    options = _port_options(setting, port)
    return EmulatedPort(_build_chain(devices, f"{where}: "), **options)


def _spec_chain(setting: _Setting, text: str | None, latency: str | None) -> list[dict[str, Any]]:
    if text is None:
        kinds = list(DEFAULT_CHAIN)
    else:
        kinds = text.split("+") if text else []
        for kind in kinds:
            if kind not in KINDS:
                raise setting.error(
                    "chain",
                    text,
                    (f"unknown kind '{shown(kind)}'; " if kind else "an empty kind; ")
                    + _ALLOWED["chain"].format(key="chain"),
                )
    problem = _chain_problem(kinds)
    if problem is not None:
        raise setting.error("chain", text, problem[1])
    specs: list[dict[str, Any]] = [{"kind": kind} for kind in kinds]
    if latency is not None:
        value = setting.number("latency_us", latency, *SELECT_LATENCY_US_RANGE, "latency_us")
        if "daisy" not in kinds:
            raise setting.error(
                "latency_us", latency, "latency_us applies to daisy devices and this chain has none"
            )
        for spec in specs:
            if spec["kind"] == "daisy":
                spec["select_latency_us"] = value
    return specs


def open_emulator(target: str, options: Mapping[str, str] | None = None) -> EmulatedPort:
    """The emulated port an ``emu:`` spec describes (the options are those after the colon)."""
    opts = dict(options or {})
    for key, value in opts.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"emu: option {key!r} must be given as a str, not {type(value).__name__}"
            )
    setting = _Setting("emu", toml=False)
    unknown = {key: value for key, value in opts.items() if key not in SPEC_OPTIONS}
    if unknown:
        raise setting.unknown(unknown, "options", f"the options are {_one_of(SPEC_OPTIONS)}")
    if "bench" in opts:
        others = [key for key in opts if key != "bench"]
        if others:
            raise setting.error(
                others[0],
                opts[others[0]],
                "bench= describes the whole port; give no other options (put them in the file)",
            )
        if not opts["bench"]:
            raise setting.reject("bench", "", "bench")
        return load_bench(opts["bench"])
    specs = _spec_chain(setting, opts.get("chain"), opts.get("latency_us"))
    port: dict[str, Any] = {}
    if "hw" in opts:
        port["kind"] = setting.choice("hw", opts["hw"], PORT_KINDS, "hw")
    if "access_ns" in opts:
        port["access_ns"] = setting.integer(
            "access_ns", opts["access_ns"], *ACCESS_NS_RANGE, "access_ns"
        )
    if "irq" in opts:
        port["irq"] = setting.irq("irq", opts["irq"])
    if "fifo" in opts:
        value = opts["fifo"]
        depth = setting.integer("fifo", value, min(FIFO_DEPTHS), max(FIFO_DEPTHS), "fifo")
        if depth not in FIFO_DEPTHS:
            raise setting.reject("fifo", value, "fifo")
        kind = port.get("kind", "ecp+epp")
        if kind not in ECP_KINDS:
            raise setting.error(
                "fifo", value, f"only an ECP port (hw=ecp or hw=ecp+epp) has a FIFO, not hw={kind}"
            )
        port["fifo_depth"] = depth
    paced = setting.choice("clock", opts.get("clock", DEFAULT_CLOCK), CLOCKS, "clock") == "paced"
    port["clock"] = VirtualClock(paced=paced)
    return EmulatedPort(build_chain(specs), **port)
