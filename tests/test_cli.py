"""The ``parport`` command: the output and exit status of every verb, and every bad input as one
line on stderr (exit 2 for bad usage or input, 1 for a failed operation), never a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import parport
from parport import __version__, facade
from parport.cli import main
from test_pins import vcd_changes

LOOP = "emu:chain=loopback&clock=manual"
Completed = subprocess.CompletedProcess[str]


@pytest.fixture(autouse=True)
def no_port_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARPORT_PORT", raising=False)
    monkeypatch.delenv("PARPORT_LOCKED", raising=False)


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``parport ARGV`` in this process: (exit status, stdout, stderr)."""
    try:
        status = main(list(argv))
    except SystemExit as exc:
        status = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return status, out, err


def run(*argv: str, env: dict[str, str] | None = None, **kwargs: Any) -> Completed:
    """``parport ARGV`` in a new process (its PATH has this Python first)."""
    unset = ("PARPORT_PORT", "PARPORT_LOCKED")
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment["PATH"] = os.path.dirname(sys.executable) + os.pathsep + environment.get("PATH", "")
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "parport", *argv],
        capture_output=True, text=True, timeout=120, env=environment, check=False, **kwargs,
    )  # fmt: skip


@pytest.fixture
def buses(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[parport.Bus]]:
    """Every bus the command opens in this process, to look at the emulator afterwards."""
    opened: list[parport.Bus] = []
    real = facade.open

    def spy(*args: Any, **kwargs: Any) -> parport.Bus:
        bus = real(*args, **kwargs)
        opened.append(bus)
        return bus

    monkeypatch.setattr(facade, "open", spy)
    yield opened


def one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --- the command itself ---------------------------------------------------------------------------
def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "--version") == (0, f"parport {__version__}\n", "")


def test_help_lists_every_verb(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "--help")
    assert status == 0
    for verb in (
        "list", "info", "id", "scan", "lock", "write", "read", "pins", "trace", "demo",
        "decode", "structs", "serve",
    ):  # fmt: skip
        assert f"    {verb} " in out, verb


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys)
    assert status == 0 and "usage: parport" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("nope",), "invalid choice: 'nope'"),
        (("pins", "pulse", "0x100"), "0x100 is not a byte"),
        (("pins", "pulse", "5", "--width", "soon"), "not a duration: 'soon'"),
        (("read", "LPT1.4", "-3"), "a byte count is >= 0"),
        (("write", "LPT1.4", "--mode", "warp"), "invalid choice: 'warp'"),
        (("structs", "--arch", "arm"), "invalid choice: 'arm'"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    status, _, err = cli(capsys, *argv)
    assert status == 2
    line = one_line(err)
    assert message in line and line.startswith("parport") and "--help" in line


def test_import_starts_no_thread_and_loads_nothing_heavy() -> None:
    code = (
        "import sys, threading, parport.cli; "
        "print(threading.active_count(), 'rich' in sys.modules, 'parport.hw.emu' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert out.split() == ["1", "False", "False"]


def test_console_script_runs_as_a_module() -> None:
    assert run("--version").stdout.strip() == f"parport {__version__}"


# --- --spec and $PARPORT_PORT, the same for every verb --------------------------------------------
@pytest.mark.parametrize("verb", [("info",), ("scan",), ("pins",), ("list",), ("id", "LPT1.4")])
def test_every_verb_takes_the_spec_the_same_way(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, verb: tuple[str, ...]
) -> None:
    status, _, err = cli(capsys, *verb, "--spec", "nonsense")
    assert status == 2
    assert one_line(err).startswith(
        f"parport {verb[0]}: --spec: port spec 'nonsense' has no scheme"
    )
    monkeypatch.setenv("PARPORT_PORT", "nonsense")
    status, _, err = cli(capsys, *verb)
    assert status == 2 and "$PARPORT_PORT: port spec 'nonsense'" in one_line(err)


def test_a_spec_whose_backend_is_missing_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cli(capsys, "info", "--spec", "warp:1")
    assert status == 2 and "no backend for 'warp'" in one_line(err)


# --- list, info, id, scan -------------------------------------------------------------------------
def test_list_shows_the_emulated_default(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = cli(capsys, "list")
    assert status == 0 and err == ""
    line = next(line for line in out.splitlines() if "emu:" in line)
    assert line.startswith("* emu:") and "emulated LPT1" in line


def test_list_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARPORT_PORT", "emu:chain=printer")
    status, out, _ = cli(capsys, "list", "--json")
    rows = json.loads(out)
    assert status == 0 and any(row["spec"] == "emu:" for row in rows)
    assert not any(row["default"] for row in rows if row["spec"] == "emu:")
    status, out, _ = cli(capsys, "list")
    assert "* emu:chain=printer (the default, not found among these)" in out


def test_info_of_a_device_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = cli(capsys, "info", "LPT1.4")
    assert (status, err) == (0, "")
    assert out.splitlines() == [
        "LPT1.4 on emu:",
        "  location   LPT1.4",
        "  device ID  MFG:Acme;MDL:EmuPrinter 1;CMD:PCL,PJL;CLS:PRINTER;DES:Acme EmuPrinter 1;",
        "  status     SELECTED (0x80)",
        "  modes      forward CENTRONICS, reverse NIBBLE",
    ]


def test_info_of_the_port(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "info", "--spec", "emu:chain=printer")
    assert status == 0
    assert out.splitlines()[0] == "emu:chain=printer"
    assert "emulated" in out and "devices   LPT1, LPT1.4" in out


@pytest.mark.parametrize("verb", ["info", "id", "read", "write", "lock"])
def test_an_unknown_device_is_bad_input(capsys: pytest.CaptureFixture[str], verb: str) -> None:
    argv = {"read": ("4",), "lock": ("--", "true")}.get(verb, ())
    status, _, err = cli(capsys, verb, "LPT1.9", *argv)
    assert status == 2
    assert one_line(err) == (
        f"parport {verb}: no device LPT1.9 on emu:: its devices are LPT1, LPT1.0, LPT1.1, LPT1.4"
    )


def test_id_is_parsed_into_fields(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "id", "LPT1.0")
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith("MFG:Parport;MDL:Daisy Device 0;")
    assert lines[1].split(None, 2) == ["manufacturer", "(MFG)", "Parport"]
    assert any(line.split()[:3] == ["command", "set", "(CMD)"] for line in lines)
    status, out, _ = cli(capsys, "id", "LPT1.4", "--json")
    parsed = json.loads(out)
    assert parsed["fields"]["MDL"] == "EmuPrinter 1" and parsed["text"].startswith("MFG:Acme")


def test_scan(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "scan", "emu:chain=daisy+printer")
    assert status == 0
    assert "emu:chain=daisy+printer — ecp+epp port, HardwareCapabilities 0x1b" in out
    assert "LPT1.0" in out and "MFG:Parport;MDL:Daisy Device 0;" in out
    assert "LPT1.4" in out and "MFG:Acme;MDL:EmuPrinter 1;" in out


def test_scan_takes_spec_as_option_too(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "scan", "--spec", "emu:chain=printer")
    assert status == 0 and out.startswith("emu:chain=printer — ")
    status, _, err = cli(capsys, "scan", "emu:", "--spec", "emu:chain=printer")
    assert status == 2 and "two specs given" in one_line(err)


def test_scan_of_an_unknown_spec_says_why(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cli(capsys, "scan", "warp:1")
    assert status == 2 and "no backend for 'warp'" in one_line(err)


# --- write, read, lock ----------------------------------------------------------------------------
def test_write_a_file_and_the_throughput(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, buses: list[parport.Bus]
) -> None:
    page = tmp_path / "page.txt"
    page.write_bytes(b"x" * 10_000 + b"\f")
    status, out, err = cli(capsys, "write", "LPT1.4", str(page), "--spec", "emu:chain=printer")
    assert (status, err) == (0, "")
    assert out.startswith("wrote 10001 bytes to LPT1.4 in ") and out.rstrip().endswith("/s)")
    printer = buses[0].hardware.chain[-1]  # type: ignore[attr-defined]
    assert bytes(printer.received) == page.read_bytes()


def test_write_in_ecp_from_stdin(tmp_path: Path) -> None:
    done = run("write", "LPT1.4", "-", "--mode", "ecp", "--chunk", "100", input="hello" * 100)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("wrote 500 bytes to LPT1.4")
    assert "Traceback" not in done.stderr and "\x1b" not in done.stderr  # no bar off a terminal


def test_write_of_a_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cli(capsys, "write", "LPT1.4", "/nonexistent/page.txt")
    assert status == 2
    assert (
        one_line(err)
        == "parport write: cannot read /nonexistent/page.txt: No such file or directory"
    )


def test_write_that_fails_is_status_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    page = tmp_path / "page.txt"
    page.write_bytes(b"x" * 100)
    # A printer that stays busy for 10 minutes: the write times out.
    bench = tmp_path / "bench.toml"
    bench.write_text('[[device]]\nkind = "printer"\nbusy_us = 600000000\n')
    status, _, err = cli(
        capsys, "write", "LPT1.4", str(page), "--spec", f"emu:bench={bench}", "--timeout", "50ms"
    )
    assert status == 1
    line = one_line(err)
    assert "STATUS_IO_TIMEOUT: write to LPT1.4: not done after 0.05 s (cancelled)" in line
    assert line.endswith("bytes)")  # how far it got


def test_read_raw_and_hex(tmp_path: Path) -> None:
    bench = tmp_path / "bench.toml"
    bench.write_text('[[device]]\nkind = "printer"\nreverse_data = "pong!"\n')
    done = run("read", "LPT1.4", "16", "--spec", f"emu:bench={bench}")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "pong!"
    assert done.stderr.startswith("read 5 bytes from LPT1.4 in ")
    done = run("read", "LPT1.4", "16", "--hex", "--spec", f"emu:bench={bench}")
    assert done.stdout.startswith("00000000  70 6f 6e 67 21") and done.stdout.rstrip().endswith(
        "pong!"
    )


def test_lock_passes_the_exit_status_and_tells_the_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = (
        "import os, sys; print(os.environ['PARPORT_LOCKED'], os.environ['PARPORT_PORT']); exit(3)"
    )
    done = run("lock", "LPT1.0", "--", sys.executable, "-c", code)
    assert done.returncode == 3, done.stderr
    assert done.stdout.strip() == "emu: LPT1.0 emu:"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("lock", "LPT1.0"), "give the command to run after --"),
        (("lock", "LPT1.0", "--", "/nonexistent/cmd"), "no such command: /nonexistent/cmd"),
        (("trace", "--vcd", "t.vcd"), "give the command to run after --"),
        (("trace", "--vcd", "/nonexistent/t.vcd", "--", "true"), "no such folder /nonexistent"),
        (("trace", "--vcd", "t.vcd", "--spec", "parportd:", "--", "true"), "an emulated port"),
    ],
)  # fmt: skip
def test_lock_and_trace_bad_input(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    status, _, err = cli(capsys, *argv)
    assert status == 2 and message in one_line(err)


def test_lock_runs_a_python_program_inside_the_lock(tmp_path: Path) -> None:
    script = tmp_path / "inside.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, parallel
            p = parallel.Parallel(reset=False)
            p.setData(0x42)            # through the locked device: no wait behind the lock
            print(p.bus.holder() is not None, p.getData(), sys.argv[1:])
            raise SystemExit(4)
            """
        )
    )
    done = run("lock", "LPT1.0", "--python", "--", str(script), "a")
    assert done.returncode == 4, done.stderr
    assert done.stdout.strip() == "True 66 ['a']"


def test_a_child_of_lock_on_a_shared_port_is_refused_rather_than_left_waiting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARPORT_LOCKED", "parportd:/run/x.sock LPT1.0")
    status, _, err = cli(capsys, "pins", "--spec", "parportd:/run/x.sock")
    assert status == 1
    assert "runs under 'parport lock LPT1.0'" in one_line(err)
    from parport.compat import Parallel

    with pytest.raises(parport.InvalidDeviceStateError, match="would wait for it forever"):
        Parallel("parportd:/run/x.sock")
    monkeypatch.setenv("PARPORT_LOCKED", f"{LOOP} LPT1")  # an emulator: the child has its own
    Parallel(LOOP).close()


# --- pins -----------------------------------------------------------------------------------------
def test_pins_shows_every_pin(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "pins", "--spec", LOOP)
    lines = out.splitlines()
    assert status == 0 and lines[0] == LOOP
    assert lines[1].startswith("data 0x")
    assert [line.split()[0] for line in lines[2:]] == [str(p) for p in range(1, 18)]
    assert lines[2].split() == ["1", "nStrobe", "out", "H"]
    assert lines[12].split()[:3] == ["11", "Busy", "in"]
    assert cli(capsys, "pins", "show", "--spec", LOOP)[1] == out


def test_pins_set_and_pulse(capsys: pytest.CaptureFixture[str], buses: list[parport.Bus]) -> None:
    status, out, _ = cli(capsys, "pins", "--spec", LOOP, "set", "2=1", "3=0", "nStrobe=L", "D7=H")
    assert status == 0 and out == "set 2 D0=H, 3 D1=L, 1 nStrobe=L, 9 D7=H\n"
    state = buses[-1].hardware.line_state()
    assert state.data & 0x83 == 0x81 and state.control & 1 == 0
    status, out, _ = cli(capsys, "pins", "pulse", "0x05", "--width", "5ms", "--spec", LOOP)
    assert status == 0 and out == "pulsed 0x05 for 5 ms on the port's clock, then 0x00\n"
    assert buses[-1].hardware.line_state().data == 0


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("20=1", "pin 20 carries no signal"),
        ("11=1", "pin 11 (Busy) is a status input"),
        ("2", "not PIN=LEVEL: '2'"),
        ("2=maybe", "2=maybe: a pin level is 1/0, H/L or high/low"),
        ("strobe=1", "not a pin: 'strobe'"),
    ],
)
def test_pins_set_bad_input(
    capsys: pytest.CaptureFixture[str], assignment: str, message: str
) -> None:
    status, _, err = cli(capsys, "pins", "set", assignment)
    assert status == 2 and message in one_line(err)


def test_pins_through_a_holder_times_out_with_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    # The wait limit applies when someone else holds the port; here nobody does: it succeeds.
    status, _, _ = cli(capsys, "pins", "--timeout", "1s", "--spec", LOOP)
    assert status == 0


# --- trace, demo ----------------------------------------------------------------------------------
def test_trace_records_what_a_command_does(tmp_path: Path) -> None:
    script = tmp_path / "experiment.py"
    script.write_text("import parallel\np = parallel.Parallel()\np.setData(0x5A)\n")
    vcd = tmp_path / "run.vcd"
    done = run(
        "trace", "--vcd", str(vcd), "--spec", "emu:chain=&clock=manual", "--",
        "python", "-m", "parport.compat", str(script),
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert vcd_changes(vcd)["data"][-1][1] == 0x5A


def test_trace_of_a_command_that_never_opens_the_port(tmp_path: Path) -> None:
    done = run("trace", "--vcd", str(tmp_path / "t.vcd"), "--", sys.executable, "-c", "exit(5)")
    assert done.returncode == 5
    assert one_line(done.stderr).endswith("never opened the port ($PARPORT_PORT): no trace written")


def test_demo_without_trace(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "demo", "--no-vcd")
    assert status == 0 and "Who held the port" in out and "VCD trace" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--spec", "emux:"), "the demo runs on an emulated port (emu:…), not emux:"),
        (("--spec", "emu:chain=printer"), "the demo needs two IEEE 1284.3 daisy-chain devices"),
        (("--vcd", "/nonexistent/x.vcd"), "cannot write the trace /nonexistent/x.vcd"),
        (("--spec", "emu:chain=daisy+printer", "--vcd", "d.vcd"), "has LPT1, LPT1.0, LPT1.4"),
        (("--spec", "emu:hw=warp"), "hw=warp"),
    ],
)  # fmt: skip
def test_demo_bad_input_is_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    argv: tuple[str, ...],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = cli(capsys, "demo", *argv)
    assert status == 2 and message in one_line(err)
    assert not (tmp_path / "d.vcd").exists()  # no half trace left behind


def test_demo_follows_parport_port(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARPORT_PORT", "emu:chain=printer")
    status, _, err = cli(capsys, "demo", "--no-vcd")
    assert status == 2 and "emu:chain=printer has LPT1, LPT1.4" in one_line(err)


def test_demo_says_where_its_activity_starts_in_the_trace(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    vcd = tmp_path / "demo.vcd"
    status, out, _ = cli(capsys, "demo", "--vcd", str(vcd))
    assert status == 0
    line = next(line for line in out.splitlines() if line.startswith("The clients start at"))
    offset = int(line.split("(timestamp ")[1].split(" ns")[0])
    assert offset > 0
    selected = vcd_changes(vcd)["selected"]
    # Client A's lock selects daisy device 0: the first selection at or after that point.
    after = [(t, v) for t, v in selected if t >= offset]
    assert after and after[0][1] == 0
    assert all(t >= offset for t, _ in after)


# --- decode, structs, serve -----------------------------------------------------------------------
def test_decode_names_both_meanings_of_a_colliding_code(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "decode", "0x0016002C", "0x80000011")
    assert status == 0
    assert out.splitlines() == [
        "0x0016002C as IRP_MJ_INTERNAL_DEVICE_CONTROL: IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE "
        "(function 11, handled by the port)",
        "0x0016002C as IRP_MJ_DEVICE_CONTROL: IOCTL_PAR_PING (function 11, handled by the device)",
        "0x80000011 as NTSTATUS: STATUS_DEVICE_BUSY (warning)",
    ]


def test_decode_takes_names(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "decode", "STATUS_DEVICE_BUSY", "ioctl_par_ping")
    assert status == 0
    assert out.splitlines()[0] == "0x80000011 as NTSTATUS: STATUS_DEVICE_BUSY (warning)"
    assert "IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE" in out  # every meaning of the name's value
    status, out, _ = cli(capsys, "decode", "IOCTL_PARPORT_REGISTERS")
    assert status == 0 and "parport's register scripts" in out


def test_decode_a_value_with_no_meaning(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "decode", "0x00220000")
    assert status == 0
    assert out.strip() == (
        "0x00220000: no IOCTL or NTSTATUS parport knows; as a CTL_CODE: device type 0x22, "
        "function 0, method 0, access 0"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "-1: negative numbers are neither IOCTL codes nor NTSTATUS values"),
        ("0x1FFFFFFFF", "more than 32 bits"),
        ("zz", "not a number nor a known name: 'zz'"),
        ("STATUS_DEVICE_BUZY", "did you mean STATUS_DEVICE_BUSY"),
    ],
)
def test_decode_bad_input(capsys: pytest.CaptureFixture[str], value: str, message: str) -> None:
    status, out, err = cli(capsys, "decode", "0x80000011", value)
    assert (status, out) == (2, "")  # nothing printed when one value is bad
    assert message in one_line(err)


def test_structs(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(capsys, "structs")
    assert status == 0 and "PARALLEL_PNP_INFORMATION (112 bytes" in out
    status, out, _ = cli(capsys, "structs", "--arch", "x86", "PARALLEL_PNP_INFORMATION")
    assert (
        status == 0
        and out.startswith("PARALLEL_PNP_INFORMATION (80 bytes")
        and out.count("\n") == 1
    )
    status, _, err = cli(capsys, "structs", "NOPE")
    assert status == 2 and "no structure NOPE" in one_line(err)


def test_serve_hands_its_arguments_to_the_daemon() -> None:
    done = run("serve", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: parport serve")


def test_serve_without_the_daemon(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "parport.service", None)
    status, _, err = cli(capsys, "serve")
    assert status == 1
    assert one_line(err) == "parport serve: the daemon is not in this build (no parport.service)"


# --- the output closed early ----------------------------------------------------------------------
def test_a_closed_pipe_is_one_line_not_a_traceback() -> None:
    values = ["0x0016002C"] * 20_000  # far more than a pipe holds
    process = subprocess.Popen(
        [sys.executable, "-m", "parport", "decode", *values],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    err = process.stderr.read()
    process.wait(60)
    process.stderr.close()
    assert process.returncode == 1
    assert one_line(err) == "parport decode: the output was closed before the end (broken pipe)"


def test_write_shows_a_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    import pty

    page = tmp_path / "page.bin"
    page.write_bytes(b"y" * 50_000)
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "PARPORT_PORT"}
    env.update(COLUMNS="100", TERM="xterm")
    done = subprocess.run(
        [sys.executable, "-m", "parport", "write", "LPT1.4", str(page), "--chunk", "1000",
         "--spec", "emu:chain=printer"],
        stdout=subprocess.PIPE, stderr=terminal, text=True, timeout=120, env=env, check=False,
    )  # fmt: skip
    os.close(terminal)
    shown = b""
    with contextlib.suppress(OSError):
        while chunk := os.read(controller, 65536):
            shown += chunk
    os.close(controller)
    assert done.returncode == 0
    assert done.stdout.startswith("wrote 50000 bytes to LPT1.4")
    assert b"LPT1.4" in shown and b"\x1b[" in shown  # rich drew (and cleared) its bar
