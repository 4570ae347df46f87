"""The ``parport`` command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from parport import __version__
from parport.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"parport {__version__}"


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "demo" in out
    assert "decode" in out


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "usage: parport" in capsys.readouterr().out


def test_decode_names_both_meanings_of_a_colliding_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["decode", "0x0016002C", "0x80000011"]) == 0
    out = capsys.readouterr().out
    assert "IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE" in out
    assert "IOCTL_PAR_PING" in out
    assert "STATUS_DEVICE_BUSY" in out


def test_decode_rejects_garbage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["decode", "zz"])
    assert exc.value.code == 2
    assert "not a number" in capsys.readouterr().err


def test_structs_prints_sizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["structs"]) == 0
    assert "PARALLEL_PNP_INFORMATION (112 bytes" in capsys.readouterr().out
    assert main(["structs", "--arch", "x86"]) == 0
    assert "PARALLEL_PNP_INFORMATION (80 bytes" in capsys.readouterr().out


def test_console_script_runs_as_a_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "parport", "--version"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert __version__ in out


def test_import_starts_no_thread() -> None:
    code = "import threading, parport, parport.nt, parport.cli; print(threading.active_count())"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert out.strip() == "1"


def test_scan_lists_devices_and_ids(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "emu:chain=daisy+printer"]) == 0
    out = capsys.readouterr().out
    assert "emu:chain=daisy+printer — ecp+epp port, HardwareCapabilities 0x1b" in out
    assert "LPT1.0" in out and "MFG:Parport;MDL:Daisy Device 0;" in out
    assert "LPT1.4" in out and "MFG:Acme;MDL:EmuPrinter 1;" in out


def test_scan_of_an_unknown_spec_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "warp:1"]) == 2
    assert "no backend for 'warp'" in capsys.readouterr().err


def test_demo_command_without_trace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--no-vcd"]) == 0
    out = capsys.readouterr().out
    assert "Who held the port" in out and "VCD trace" not in out
