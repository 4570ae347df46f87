"""``emu:`` specs, TOML benches and the backend table (design.md §5, §6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from parport.hw import open_backend, parse_spec
from parport.hw.emu import DaisyDevice, EmulatedPort, Printer, ZipDrive, load_bench


def _kinds(port: object) -> list[str]:
    assert isinstance(port, EmulatedPort)
    return [d.kind for d in port.chain]


@pytest.mark.parametrize(
    ("spec", "kinds"),
    [
        ("emu:", ["daisy", "daisy", "printer"]),
        ("emu:chain=printer", ["printer"]),
        ("emu:chain=daisy+printer", ["daisy", "printer"]),
        ("emu:chain=zip+printer", ["zip", "printer"]),
        ("emu:chain=", []),
        ("emu:chain=loopback&hw=spp", ["loopback"]),
    ],
)
def test_design_specs(spec: str, kinds: list[str]) -> None:
    port = open_backend(spec)
    assert _kinds(port) == kinds
    port.close()


def test_default_chain_devices_and_ids() -> None:
    port = open_backend("emu:")
    assert isinstance(port, EmulatedPort)
    d0, d1, printer = port.chain
    assert isinstance(d0, DaisyDevice) and isinstance(d1, DaisyDevice)
    assert isinstance(printer, Printer)
    assert d0.device_id != d1.device_id
    assert "MFG:" in printer.device_id and "MDL:" in printer.device_id
    assert (d0.address, d0.selected) == (None, False)
    assert port.capabilities.kind == "ecp+epp"


def test_options() -> None:
    port = open_backend("emu:chain=daisy&hw=epp&access_ns=250&latency_us=7&irq=none")
    assert isinstance(port, EmulatedPort)
    assert port.capabilities.kind == "epp"
    assert port.capabilities.irq is None
    assert port.access_ns == 250
    daisy = port.chain[0]
    assert isinstance(daisy, DaisyDevice)
    assert daisy.select_latency_ns == 7000


def test_environment_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARPORT_PORT", "emu:chain=zip")
    port = open_backend()
    assert _kinds(port) == ["zip"]
    monkeypatch.delenv("PARPORT_PORT")
    assert _kinds(open_backend()) == ["daisy", "daisy", "printer"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty port spec"),
        ("nonsense", "no scheme"),
        ("emu:chain=floppy", "unknown kind 'floppy'"),
        ("emu:colour=blue", "unknown options"),
        ("emu:chain", "key=value"),
        ("emu:hw=usb", "hw=usb is not allowed: hw is the port kind"),
        ("spy:emu:", "needs '\\?vcd=FILE'"),
        ("ppdev:zero", "names no port"),
        ("warp:9", "no backend for 'warp'"),
    ],
)
def test_bad_specs_say_why(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        open_backend(spec)


def test_parse_spec_forms() -> None:
    assert parse_spec("/dev/parport0").scheme == "ppdev"
    spy = parse_spec("spy:emu:chain=printer&hw=spp?vcd=out.vcd")
    assert (spy.scheme, spy.target, spy.options) == (
        "spy",
        "emu:chain=printer&hw=spp",
        {"vcd": "out.vcd"},
    )
    emu = parse_spec("EMU:chain=zip%2Bprinter")
    assert emu.options == {"chain": "zip+printer"}
    assert str(emu) == "EMU:chain=zip%2Bprinter"


BENCH = """
[port]
kind = "ecp"
access_ns = 500
irq = 5

[[device]]
kind = "daisy"
name = "scanner"
device_id = "MFG:Acme;MDL:Scanner;CLS:SCANNER;"
select_latency_us = 2

[[device]]
kind = "zip"

[[device]]
kind = "printer"
device_id = "MFG:Beta;MDL:Laser;"
modes = ["byte", "device_id"]
busy_us = 3
reverse_data = "status page"
"""


def test_toml_bench(tmp_path: Path) -> None:
    bench = tmp_path / "bench.toml"
    bench.write_text(BENCH)
    port = open_backend(f"emu:bench={bench}")
    assert isinstance(port, EmulatedPort)
    scanner, drive, printer = port.chain
    assert isinstance(scanner, DaisyDevice) and scanner.name == "scanner"
    assert scanner.device_id == "MFG:Acme;MDL:Scanner;CLS:SCANNER;"
    assert scanner.select_latency_ns == 2000
    assert isinstance(drive, ZipDrive)
    assert isinstance(printer, Printer)
    assert printer.modes == {"byte", "device_id"}
    assert printer.busy_ns == 3000
    assert bytes(printer.reverse_data) == b"status page"
    assert port.capabilities.kind == "ecp" and port.capabilities.irq == 5
    assert port.peripheral("scanner") is scanner


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[port]\nkind = 'ecp'\ncolour = 1\n", "unknown \\[port\\] keys"),
        ("[[device]]\nkind = 'printer'\nspeed = 9\n", "unknown keys"),
        ("[[device]]\nname = 'x'\n", "needs a kind"),
        ("[[device]]\nkind = 'printer'\nmodes = ['warp']\n", "a list of IEEE 1284 modes"),
        ("[[device]]\nkind = 'zip'\nreverse_data = 'x'\n", "a zip takes only kind, name"),
        ("[[device]]\nkind = 'printer'\nbusy_us = -1\n", "busy_us = -1 is not allowed"),
        ("[tables]\n", "unknown tables"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_bench_files_say_why(tmp_path: Path, text: str, message: str) -> None:
    bench = tmp_path / "bad.toml"
    bench.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_bench(bench)


def test_missing_bench_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read bench file"):
        open_backend(f"emu:bench={tmp_path / 'nope.toml'}")
    with pytest.raises(ValueError, match="give no other options"):
        open_backend(f"emu:bench={tmp_path / 'x.toml'}&hw=spp")
