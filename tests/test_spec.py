"""Port spec and emulator option checks: every bad value is refused with one line that names the
option, the value and what is allowed (design.md §6, docs/emulator.md "Opening a port")."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from parport import nt
from parport.hw import open_backend, parse_spec
from parport.hw.emu import DaisyDevice, EmulatedPort, build_chain, load_bench, open_emulator
from parport.hw.spec import available_schemes


def _port(spec: str) -> EmulatedPort:
    port = open_backend(spec)
    assert isinstance(port, EmulatedPort)
    return port


def _refused(spec: str) -> nt.SpecError:
    with pytest.raises(nt.SpecError) as info:
        open_backend(spec)
    return info.value


# --- the exception --------------------------------------------------------------------------------


def test_spec_error_is_in_the_tree() -> None:
    error = _refused("emu:fifo=abc")
    assert isinstance(error, nt.ParportError)
    assert isinstance(error, nt.NtStatusError)
    assert isinstance(error, nt.InvalidParameterError)
    assert isinstance(error, ValueError)
    assert error.status == nt.STATUS_INVALID_PARAMETER
    assert str(error).startswith("emu: fifo=abc is not allowed: ")  # no status name in front
    assert "\n" not in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.status) == (nt.SpecError, str(error), error.status)


def test_from_status_still_gives_the_request_class() -> None:
    error = nt.NtStatusError.from_status(nt.STATUS_INVALID_PARAMETER)
    assert type(error) is nt.InvalidParameterError


# --- every emu: option: bad values ----------------------------------------------------------------

FIFO = "fifo is the ECP FIFO depth in words, one of 16, 32, 64, 128, 256, 512"
IRQ = "irq is none or an ISA IRQ the ECP cnfgB register can report: 5, 7, 9, 10, 11, 14, 15"
ACCESS = "access_ns is the time one register access takes, in whole nanoseconds from 1 to 100000"
LATENCY = "latency_us is the IEEE 1284.3 select answer latency in microseconds, a number from 0"
HW = "hw is the port kind, one of spp, ps2, epp, ecp, ecp+epp"
CLOCK = "clock is paced"


@pytest.mark.parametrize(
    ("option", "value", "allowed"),
    [
        *[("fifo", v, FIFO) for v in ("abc", "0", "-1", "8", "24", "1024", "16.0", "", "0x10")],
        *[("irq", v, IRQ) for v in ("99", "-3", "0", "3", "16", "", "None", "seven", "7.0")],
        *[
            ("access_ns", v, ACCESS)
            for v in ("-1", "0", "100001", "1e3", "1.5", "", "+5", "5_000", "nan", "inf", "٣")
        ],
        *[("latency_us", v, LATENCY) for v in ("-1", "nan", "inf", "1e2", "1001", "", "x")],
        *[("hw", v, HW) for v in ("usb", "", "ECP", "ecp+")],
        *[("clock", v, CLOCK) for v in ("fast", "", "Paced", "real")],
    ],
)
def test_bad_option_values(option: str, value: str, allowed: str) -> None:
    error = _refused(f"emu:{option}={value}")
    assert str(error).startswith(f"emu: {option}={value} is not allowed: {allowed}")


@pytest.mark.parametrize(
    ("chain", "reason"),
    [
        ("floppy", "unknown kind 'floppy'; chain is peripheral kinds in cable order"),
        ("daisy++printer", "an empty kind; chain is"),
        ("printer+", "an empty kind"),
        ("DAISY", "unknown kind 'DAISY'"),
        ("daisy+daisy+daisy+daisy+daisy+printer", "at most 4 daisy devices"),
        ("printer+zip", "a printer has no pass-through port, so it can only be the last device"),
        ("loopback+printer", "a loopback has no pass-through port"),
        ("ieee1284+daisy", "a ieee1284 has no pass-through port"),
    ],
)
def test_bad_chains(chain: str, reason: str) -> None:
    error = _refused(f"emu:chain={chain}")
    assert str(error).startswith(f"emu: chain={chain} is not allowed: ")
    assert reason in str(error)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("emu:hw=spp&fifo=32", "emu: fifo=32 is not allowed: only an ECP port"),
        ("emu:hw=epp&fifo=16", "not hw=epp"),
        ("emu:chain=printer&latency_us=2", "latency_us applies to daisy devices"),
        ("emu:chain=&latency_us=2", "this chain has none"),
        ("emu:colour=blue", "emu: unknown options [colour=blue]; the options are chain, hw,"),
        ("emu:chain", "emu: option 'chain' is not allowed: emu options are key=value pairs"),
        ("emu:=3", "option '=3' is not allowed"),
        ("emu:fifo=16&fifo=32", "emu: fifo= is given twice (fifo=16, fifo=32)"),
        ("emu:bench=", "emu: bench= is not allowed: bench is the path of a TOML bench file"),
        ("emu:bench=x.toml&irq=5", "emu: irq=5 is not allowed: bench= describes the whole port"),
        ("emu:chain=%0Aprinter", "emu: chain=\\nprinter is not allowed"),
    ],
)
def test_option_errors_say_why(spec: str, message: str) -> None:
    error = _refused(spec)
    assert message in str(error)
    assert "\n" not in str(error)


def test_long_values_are_cut_short() -> None:
    error = _refused("emu:hw=" + "x" * 500)
    assert "…" in str(error) and len(str(error)) < 300


# --- good values still work -----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [16, 32, 64, 128, 256, 512])
def test_fifo_depths(depth: int) -> None:
    port = _port(f"emu:fifo={depth}&hw=ecp")
    assert port.capabilities.fifo_depth == depth
    port.close()


@pytest.mark.parametrize("irq", [5, 7, 9, 10, 11, 14, 15])
def test_irqs(irq: int) -> None:
    port = _port(f"emu:irq={irq}")
    assert port.capabilities.irq == irq
    port.close()


@pytest.mark.parametrize(
    ("spec", "attribute", "expected"),
    [
        ("emu:access_ns=1", "access_ns", 1),
        ("emu:access_ns=100000", "access_ns", 100_000),
        ("emu:irq=none", "irq", None),
        ("emu:hw=spp", "kind", "spp"),
        ("emu:hw=ecp%2Bepp", "kind", "ecp+epp"),
        ("emu:chain=daisy&latency_us=0", "latency", 0),
        ("emu:chain=daisy&latency_us=2.5", "latency", 2500),
        ("emu:chain=daisy&latency_us=.5", "latency", 500),
        ("emu:chain=daisy&latency_us=1000", "latency", 1_000_000),
    ],
)
def test_good_values(spec: str, attribute: str, expected: object) -> None:
    port = _port(spec)
    if attribute == "access_ns":
        assert port.access_ns == expected
    elif attribute == "latency":
        daisy = port.chain[0]
        assert isinstance(daisy, DaisyDevice) and daisy.select_latency_ns == expected
    else:
        assert getattr(port.capabilities, attribute) == expected
    port.close()


@pytest.mark.parametrize(
    "chain",
    ["", "printer", "daisy+daisy+daisy+daisy+printer", "zip+printer", "daisy+zip+printer", "zip"],
)
def test_good_chains(chain: str) -> None:
    port = _port(f"emu:chain={chain}")
    assert [d.kind for d in port.chain] == [k for k in chain.split("+") if k]
    port.close()


# --- clock= ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "paced"), [("emu:", True), ("emu:clock=paced", True), ("emu:clock=manual", False)]
)
def test_clock_option_reaches_the_virtual_clock(spec: str, paced: bool) -> None:
    port = _port(spec)
    assert port.clock.paced is paced
    port.close()


@pytest.mark.parametrize(("text", "paced"), [("", True), ("clock = 'manual'\n", False)])
def test_bench_clock(tmp_path: Path, text: str, paced: bool) -> None:
    bench = tmp_path / "bench.toml"
    bench.write_text("[port]\n" + text)
    port = _port(f"emu:bench={bench}")
    assert port.clock.paced is paced
    port.close()


# --- bench files ----------------------------------------------------------------------------------

PORT_CASES: list[tuple[str, str]] = [
    ("kind = 'usb'", "kind = 'usb' is not allowed: kind is the port kind"),
    ("access_ns = -1", "access_ns = -1 is not allowed: access_ns is the time"),
    ("access_ns = 0", "access_ns = 0 is not allowed"),
    ("access_ns = 1.5", "access_ns = 1.5 is not allowed"),
    ("access_ns = true", "access_ns = true is not allowed"),
    ("access_ns = '1000'", "access_ns = '1000' is not allowed"),
    ("irq = 99", "irq = 99 is not allowed: irq is none or an ISA IRQ"),
    ("irq = '7'", "irq = '7' is not allowed"),
    ("fifo_depth = 0", "fifo_depth = 0 is not allowed: fifo_depth is the ECP FIFO depth"),
    ("fifo_depth = 24", "fifo_depth = 24 is not allowed"),
    ("fifo_width = 12", "fifo_width = 12 is not allowed: fifo_width is the bits per ECP FIFO"),
    ("kind = 'spp'\nfifo_depth = 16", "fifo_depth = 16 is not allowed: only an ECP port"),
    ("kind = 'epp'\nfifo_width = 8", "fifo_width = 8 is not allowed: only an ECP port"),
    ("base = 0x37A", "base = 0x37A is not allowed: base is the I/O base address, a multiple"),
    ("base = 0xFFF0", "base = 0xFFF0 is not allowed"),
    ("base = 0x80", "base = 0x80 is not allowed"),
    ("epp_timeout_clear = 'never'", "epp_timeout_clear = 'never' is not allowed"),
    ("epp_in_ecr_mode_only = 1", "epp_in_ecr_mode_only = 1 is not allowed: "),
    (
        "kind = 'epp'\nepp_in_ecr_mode_only = true",
        "epp_in_ecr_mode_only = true is not allowed: EPP in ECR mode 100 needs kind ecp+epp, "
        "not epp",
    ),
    ("clock = 'fast'", "clock = 'fast' is not allowed: clock is paced"),
    ("clock = true", "clock = true is not allowed"),
]


@pytest.mark.parametrize(("text", "message"), PORT_CASES)
def test_bad_port_keys(tmp_path: Path, text: str, message: str) -> None:
    bench = tmp_path / "b.toml"
    bench.write_text(f"[port]\n{text}\n")
    with pytest.raises(nt.SpecError) as info:
        load_bench(bench)
    assert str(info.value).startswith(f"bench file {bench}: [port]: {message}")


DEVICE_CASES: list[tuple[str, str]] = [
    ("kind = 'printer'\nbusy_us = -1", "busy_us = -1 is not allowed: busy_us is a time in"),
    ("kind = 'printer'\nbusy_us = nan", "busy_us = nan is not allowed"),
    ("kind = 'printer'\nack_us = inf", "ack_us = inf is not allowed"),
    ("kind = 'printer'\nresponse_us = 600000001", "response_us = 600000001 is not allowed"),
    ("kind = 'printer'\nbusy_us = '1'", "busy_us = '1' is not allowed"),
    ("kind = 'daisy'\nselect_latency_us = 1001", "select_latency_us = 1001 is not allowed"),
    ("kind = 'daisy'\nselect_latency_us = -0.5", "select_latency_us = -0.5 is not allowed"),
    ("kind = 'printer'\nselect_latency_us = 3", "select_latency_us = 3 is not allowed: a printer"),
    ("kind = 'zip'\nmodes = ['byte']", "modes = ['byte'] is not allowed: a zip takes only kind"),
    ("kind = 'loopback'\ndevice_id = 'x'", "device_id = 'x' is not allowed: a loopback takes"),
    ("kind = 'printer'\nmodes = 'byte'", "modes = 'byte' is not allowed: modes is a list of"),
    ("kind = 'printer'\nmodes = ['warp']", "modes = ['warp'] is not allowed"),
    ("kind = 'printer'\nid_length_format = 'xx'", "id_length_format = 'xx' is not allowed"),
    ("kind = 'printer'\ndevice_id = 5", "device_id = 5 is not allowed: device_id is an IEEE"),
    ("kind = 'printer'\ndevice_id = 'MFG:\u00e9;'", "device_id = 'MFG:\u00e9;' is not allowed"),
    ("kind = 'printer'\ndevice_id = \"a\\nb\"", "device_id = 'a\\nb' is not allowed"),
    ("kind = 'printer'\nreverse_data = [256]", "reverse_data = [256] is not allowed"),
    ("kind = 'printer'\nreverse_data = 5", "reverse_data = 5 is not allowed"),
    ("kind = 'printer'\nreverse_data = [true]", "reverse_data = [true] is not allowed"),
    ("kind = 'printer'\nname = ''", "name = '' is not allowed: name is a non-empty name"),
    ("kind = 'printer'\nname = 3", "name = 3 is not allowed"),
    ("kind = 'printer'\nspeed = 9", "unknown keys [speed = 9]; a printer takes kind, name,"),
]


@pytest.mark.parametrize(
    ("text", "message"), DEVICE_CASES, ids=[text.replace("\n", " ") for text, _ in DEVICE_CASES]
)
def test_bad_device_keys(tmp_path: Path, text: str, message: str) -> None:
    bench = tmp_path / "b.toml"
    bench.write_text(f"[[device]]\n{text}\n")
    kind = text.split("'")[1]
    with pytest.raises(nt.SpecError) as info:
        load_bench(bench)
    assert str(info.value).startswith(f"bench file {bench}: device 0 ({kind}): {message}")
    assert "\n" not in str(info.value)


ZIP_P = "[[device]]\nkind = 'zip'\nname = 'p'\n"
FIVE_DAISIES = "\n".join(["[[device]]\nkind = 'daisy'"] * 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("port = 3", "port = 3 is not allowed: [port] is a table"),
        ("device = 3", "device = 3 is not allowed: devices are an array of tables"),
        ("device = ['printer']", "device 0: 'printer' is not allowed: a device is a table"),
        ("[[device]]\nkind = 3", "device 0: needs a kind, one of daisy, printer, zip"),
        ("[[device]]\nname = 'x'", "device 0: needs a kind"),
        (ZIP_P + "[[device]]\nkind = 'printer'\nname = 'p'", "device 1 is called that too"),
        (ZIP_P.replace("'p'", "'printer'") + "[[device]]\nkind = 'printer'", "device 1 is called"),
        (
            "[[device]]\nkind = 'printer'\n[[device]]\nkind = 'zip'",
            "device 0 (printer) is not allowed there: a printer has no pass-through port",
        ),
        (FIVE_DAISIES, "device 4 (daisy) is not allowed there: IEEE 1284.3 has 4"),
        ("[tables]", "unknown tables [tables = {}]"),
        ("[port]\ncolour = 1", "unknown [port] keys [colour = 1]; [port] takes access_ns, base,"),
    ],
)
def test_bad_bench_structure(tmp_path: Path, text: str, message: str) -> None:
    bench = tmp_path / "b.toml"
    bench.write_text(text + "\n")
    with pytest.raises(nt.SpecError, match=r"^bench file ") as info:
        load_bench(bench)
    assert message in str(info.value)


def test_bench_that_is_not_text(tmp_path: Path) -> None:
    bench = tmp_path / "b.toml"
    bench.write_bytes(b"\xff\xfe[port]")
    with pytest.raises(nt.SpecError, match="is not valid TOML"):
        load_bench(bench)
    with pytest.raises(nt.SpecError, match="cannot read bench file"):
        load_bench(tmp_path)


def test_good_bench_values(tmp_path: Path) -> None:
    bench = tmp_path / "b.toml"
    bench.write_text(
        "[port]\nkind = 'ecp'\nfifo_depth = 512\nfifo_width = 32\nirq = 'none'\nbase = 0x3BC\n"
        "access_ns = 100000\nclock = 'manual'\n"
        "[[device]]\nkind = 'daisy'\nselect_latency_us = 0.25\nbusy_us = 600000000\n"
        "[[device]]\nkind = 'zip'\nname = 'drive'\n"
        "[[device]]\nkind = 'printer'\nreverse_data = [0, 255]\nid_length_format = 'be-2'\n"
    )
    port = load_bench(bench)
    caps = port.capabilities
    assert (caps.kind, caps.fifo_depth, caps.fifo_width, caps.irq, caps.base) == (
        "ecp",
        512,
        32,
        None,
        0x3BC,
    )
    daisy = port.chain[0]
    assert isinstance(daisy, DaisyDevice) and daisy.select_latency_ns == 250
    assert port.peripheral("drive").kind == "zip"
    assert port.clock.paced is False
    port.close()


def test_build_chain_checks_too() -> None:
    with pytest.raises(nt.SpecError, match=r"^device 0 \(printer\): busy_us = -1"):
        build_chain([{"kind": "printer", "busy_us": -1}])
    with pytest.raises(nt.SpecError, match=r"^device 1: needs a kind"):
        build_chain([{"kind": "daisy"}, {}])
    assert [d.kind for d in build_chain([{"kind": "daisy", "modes": ("byte",)}])] == ["daisy"]


# --- spy: and spec-level errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("spy:emu:", "spy: needs '?vcd=FILE' after the spec it wraps"),
        ("spy:emu:?out=x", "spy: unknown options [out=x]; spy: takes only vcd=FILE"),
        ("spy:emu:?vcd=", "spy: vcd= is not allowed: spy: needs vcd=FILE"),
        ("spy:emu:?", "spy: needs vcd=FILE, a path for the VCD trace it writes (none given)"),
        ("spy:emu:?vcd=a&vcd=b", "spy: vcd= is given twice"),
        ("spy:emu:?vcd", "spy: option 'vcd' is not allowed"),
        ("spy:nonsense?vcd=t.vcd", "spy: the spec it wraps: port spec 'nonsense' has no scheme"),
    ],
)
def test_spy_options(spec: str, message: str) -> None:
    assert str(_refused(spec)).startswith(message)


def test_spy_checks_the_inner_options_before_writing(tmp_path: Path) -> None:
    trace = tmp_path / "t.vcd"
    error = _refused(f"spy:emu:fifo=3?vcd={trace}")
    assert str(error).startswith("emu: fifo=3 is not allowed")
    assert not trace.exists()


@pytest.mark.parametrize("spec", ["", "   ", "\t\n"])
def test_empty_spec_suggests_only_what_this_build_has(spec: str) -> None:
    message = str(_refused(spec))
    assert message.startswith("an empty port spec; give one like 'emu:' or '/dev/parport0'")
    assert "schemes on this build: emu, portio, ppdev, spy" in message
    assert "parportd" not in message


def test_empty_spec_through_the_facade() -> None:
    import parport

    with pytest.raises(nt.SpecError, match="empty port spec") as info:
        parport.open("")
    assert "parportd" not in str(info.value)


@pytest.mark.parametrize("spec", ["nonsense", "LPT1", ":emu", "1emu:", "e mu:"])
def test_no_scheme(spec: str) -> None:
    message = str(_refused(spec))
    assert message.startswith(f"port spec '{spec}' has no scheme; give one like 'emu:'")
    assert "parportd" not in message


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "warp:9",
            "no backend for 'warp' in 'warp:9'; schemes on this build: emu, portio, ppdev, spy",
        ),
        ("parportd:", "names a daemon, not a port: give it to parport.open() or connect()"),
    ],
)
def test_unknown_schemes(spec: str, message: str) -> None:
    assert message in str(_refused(spec))


def test_environment_spec_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARPORT_PORT", "emu:irq=99")
    with pytest.raises(nt.SpecError, match=r"\(the spec comes from \$PARPORT_PORT\)$"):
        open_backend()


@pytest.mark.parametrize("spec", [0, b"emu:", ["emu:"], 3.5])
def test_spec_must_be_a_str(spec: Any) -> None:
    name = type(spec).__name__
    with pytest.raises(TypeError, match=f"^spec must be a str like 'emu:', not {name}$"):
        open_backend(spec)
    with pytest.raises(TypeError, match=f"^spec must be a str like 'emu:', not {name}$"):
        parse_spec(spec)


def test_emulator_option_values_must_be_str() -> None:
    with pytest.raises(TypeError, match="emu: option 'fifo' must be given as a str, not int"):
        open_emulator("", {"fifo": 32})  # type: ignore[dict-item]


# --- entry points and the lazy importlib.metadata -------------------------------------------------


class _EntryPoint:
    def __init__(self, name: str, factory: object) -> None:
        self.name = name
        self._factory = factory

    def load(self) -> object:
        return self._factory


def test_entry_point_schemes(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.metadata

    opened: list[tuple[str, dict[str, str]]] = []

    def factory(target: str, options: dict[str, str]) -> EmulatedPort:
        opened.append((target, dict(options)))
        return EmulatedPort()

    def entry_points(group: str) -> list[_EntryPoint]:
        assert group == "parport.backends"
        return [_EntryPoint("warp", factory)]

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
    assert available_schemes() == ["emu", "portio", "ppdev", "spy", "warp"]
    open_backend("warp:9").close()
    assert opened == [("9", {})]
    message = str(_refused(""))
    assert "schemes on this build: emu, portio, ppdev, spy, warp" in message


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return result.stdout.strip()


def test_importlib_metadata_is_not_imported_for_built_in_schemes() -> None:
    out = _run(
        "import sys\n"
        "import parport.hw.spec as spec\n"
        "print('importlib.metadata' in sys.modules)\n"
        "spec.open_backend('emu:chain=printer').close()\n"
        "print('importlib.metadata' in sys.modules)\n"
        "try:\n"
        "    spec.open_backend('warp:1')\n"
        "except spec.SpecError:\n"
        "    pass\n"
        "print('importlib.metadata' in sys.modules)\n"
    )
    assert out.split() == ["False", "False", "True"]


def test_importtime_has_no_importlib_metadata() -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import parport.hw.spec"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "parport.hw.spec" in result.stderr
    assert "importlib.metadata" not in result.stderr
