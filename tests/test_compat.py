"""``parport.compat``: pyparallel's and PsychoPy's documented usage on the emulator, with the pin
levels checked on the emulated lines and in VCD traces; the port shared, never claimed for life;
the ``python -m parport.compat`` runner."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import parport
from parport import compat
from parport.compat import _shared
from parport.compat import psychopy as pp_module
from parport.compat import pyparallel as ppl
from parport.compat.psychopy import ParallelPort
from parport.compat.pyparallel import Parallel
from test_pins import level_at, vcd_changes

LOOP = "emu:chain=loopback&clock=manual"


@pytest.fixture(autouse=True)
def no_port_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test says which port it means; no shared bus outlives a test."""
    monkeypatch.delenv("PARPORT_PORT", raising=False)
    yield
    assert not _shared._buses, "a test left a shared bus open"


@pytest.fixture
def loop() -> Iterator[Parallel]:
    with Parallel(LOOP) as port:
        yield port


def lines(port: Parallel) -> parport.hw.backend.LineState:
    return port.bus.hardware.line_state()  # type: ignore[no-any-return]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` without $PARPORT_PORT (plus ``env``)."""
    environment = {k: v for k, v in os.environ.items() if k != "PARPORT_PORT"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )


# --- pyparallel: the documented use ---------------------------------------------------------------
def test_pyparallel_short_introduction_runs_unmodified_through_the_runner(tmp_path: Path) -> None:
    """pyparallel's README: ``import parallel; p = parallel.Parallel(); p.setData(0x55)``."""
    script = tmp_path / "trigger.py"
    script.write_text("import parallel\np = parallel.Parallel()  # open LPT1\np.setData(0x55)\n")
    vcd = tmp_path / "run.vcd"
    done = run(
        "-m", "parport.compat", "--port", f"spy:emu:chain=&clock=manual?vcd={vcd}", str(script)
    )
    assert (done.returncode, done.stderr) == (0, "")
    data = vcd_changes(vcd)
    # The constructor turns the data lines to outputs at 0 (as pyparallel's does), then 0x55.
    assert [v for _, v in data["data"]][-2:] == [0x00, 0x55]
    end = data["data"][-1][0]
    assert [level_at(data[f"D{bit}"], end) for bit in range(8)] == [1, 0, 1, 0, 1, 0, 1, 0]
    assert level_at(data["reverse"], end) == 0


def test_pyparallel_setters_take_pin_levels(loop: Parallel) -> None:
    # (method, control pin-level bit, register bit, inverted by the hardware)
    for method, bit, register, inverted in (
        (loop.setDataStrobe, 0, ppl.PARPORT_CONTROL_STROBE, True),
        (loop.setAutoFeed, 1, ppl.PARPORT_CONTROL_AUTOFD, True),
        (loop.setInitOut, 2, ppl.PARPORT_CONTROL_INIT, False),
        (loop.setSelect, 3, ppl.PARPORT_CONTROL_SELECT, True),
    ):
        for level in (0, 1, 0):
            method(level)
            assert (lines(loop).control >> bit & 1) == level, method.__name__
            assert bool(loop.PPRCONTROL() & register) is (bool(level) != inverted)


@pytest.mark.parametrize("byte", [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F, 0x15])
def test_pyparallel_getters_return_pin_levels(loop: Parallel, byte: int) -> None:
    # The loopback plug: D0→nFault, D1→Select, D2→PError, D3→nAck, D4→Busy.
    loop.setData(byte)
    assert loop.getData() == byte
    assert loop.getInError() is bool(byte & 0x01)
    assert loop.getInSelected() is bool(byte & 0x02)
    assert loop.getInPaperOut() is bool(byte & 0x04)
    assert loop.getInAcknowledge() is bool(byte & 0x08)
    assert loop.getInBusy() is bool(byte & 0x10)  # the pin, not the inverted register bit
    assert bool(loop.PPRSTATUS() & ppl.PARPORT_STATUS_BUSY) is not bool(byte & 0x10)


def test_pyparallel_register_methods(loop: Parallel) -> None:
    loop.PPWDATA(0xA5)
    assert loop.PPRDATA() == 0xA5 == lines(loop).data
    loop.PPWCONTROL(ppl.PARPORT_CONTROL_STROBE | ppl.PARPORT_CONTROL_INIT)
    assert loop.PPRCONTROL() == 0x05
    assert lines(loop).control == 0b1110  # nStrobe L, nAutoFd H, nInit H, nSelectIn H
    loop.PPFCONTROL(ppl.PARPORT_CONTROL_STROBE, 0)
    assert loop.PPRCONTROL() == 0x04
    loop.PPDATADIR(0)
    assert lines(loop).reverse and lines(loop).data == 0xFF
    loop.setDataDir(1)
    assert loop.dataDir() is True and not lines(loop).reverse and lines(loop).data == 0xA5
    loop.setDataDir(0)
    assert loop.dataDir() is False and lines(loop).reverse


def test_pyparallel_modes_times_and_what_it_does_not_offer(loop: Parallel) -> None:
    assert loop.PPGETMODE() == ppl.IEEE1284_MODE_COMPAT
    loop.PPSETMODE(ppl.IEEE1284_MODE_BYTE)
    assert loop.PPGETMODE() == ppl.IEEE1284_MODE_BYTE
    assert loop.PPGETTIME() == 5.0
    loop.PPSETTIME(0.25)
    assert loop.PPGETTIME() == 0.25 and loop.pins.timeout == 0.25
    loop.PPSETTIME(0)
    assert loop.PPGETTIME() == 0.0 and loop.pins.timeout is None
    with pytest.raises(ValueError, match="PPSETTIME"):
        loop.PPSETTIME(-1)
    for call in (loop.PPGETMODES, loop.PPSETFLAGS, loop.PPCLRIRQ, lambda: loop.PPWCTLONIRQ(1)):
        with pytest.raises(NotImplementedError):
            call()
    with pytest.raises(parport.NotSupportedError, match="poll the status lines"):
        loop.PPCLRIRQ()
    loop.PPEXCL()  # accepted: the port is never shared while held anyway
    assert Parallel.timevalToFloat(Parallel.floatToTimeval(1.25)) == 1.25


def test_ppnegot_negotiates_with_the_peripheral() -> None:
    with Parallel("emu:chain=printer&clock=manual") as port:
        port.PPNEGOT(ppl.IEEE1284_MODE_ECP)
        assert port.PPGETMODE() == ppl.IEEE1284_MODE_ECP
        assert port._device is not None
        forward, reverse = port._device.modes
        assert forward & parport.Mode.ECP and reverse & parport.Mode.ECP
        port.PPNEGOT(ppl.IEEE1284_MODE_COMPAT)
        assert port._device.modes[0] & parport.Mode.COMPATIBILITY
        with pytest.raises(ValueError, match="unknown IEEE 1284 mode 0x8000"):
            port.PPNEGOT(0x8000)


def test_ioctl_numbers_are_linuxs() -> None:
    assert ppl.PPWDATA == 0x40017086 and ppl.PPCLAIM == 0x708B and ppl.PPRELEASE == 0x708C
    assert ppl.PPRSTATUS == 0x80017081 and ppl.PPFCONTROL == 0x4002708E
    assert ppl.PPDATADIR == 0x40047090 and ppl.PPGETTIME == 0x80107095  # 64-bit timeval


# --- sharing instead of claiming ------------------------------------------------------------------
def test_two_parallels_in_one_process_share_one_port() -> None:
    first = Parallel(LOOP)
    second = Parallel(LOOP, reset=False)
    assert first.bus is second.bus
    first.setData(0x03)
    assert second.getData() == 0x03  # reset=False left the lines alone
    first.close()
    second.setData(0x04)
    assert second.getData() == 0x04
    assert not second.bus.closed
    second.close()
    assert second.bus.closed


def test_a_claim_holds_the_port_until_release() -> None:
    with Parallel(LOOP) as holder, Parallel(LOOP) as other:
        holder.PPCLAIM()
        with pytest.raises(parport.InvalidDeviceStateError, match="holds the port already"):
            holder.PPCLAIM()
        holder.setData(0x11)  # runs in the claim
        other.PPSETTIME(0.05)
        with pytest.raises(parport.IoTimeoutError):
            other.setData(0x22)
        assert holder.getData() == 0x11
        holder.PPRELEASE()
        other.setData(0x22)
        assert lines(other).data == 0x22
        with pytest.raises(parport.InvalidDeviceStateError, match="does not hold the port"):
            holder.PPRELEASE()


def test_ppyield_lets_a_waiting_program_in() -> None:
    with Parallel(LOOP) as holder, Parallel(LOOP) as other:
        holder.PPCLAIM()
        arbiter = holder.bus.driver.fdo.arbiter  # type: ignore[attr-defined]
        thread = threading.Thread(target=other.setData, args=(0x66,))
        thread.start()
        assert arbiter.wait_for(lambda a: a.query_num_waiters() == 1, 30)
        holder.PPYIELD()  # the waiter runs, then the holder has the port again
        thread.join(30)
        assert not thread.is_alive() and lines(holder).data == 0x66
        assert holder._port.owned
        holder.setData(0x01)
        holder.PPRELEASE()


def test_close_gives_back_a_claim_and_refuses_calls(loop: Parallel) -> None:
    with Parallel(LOOP) as other:
        loop.PPCLAIM()
        loop.close()
        loop.close()
        assert loop.closed and "closed" in repr(loop)
        other.PPSETTIME(1)
        other.setData(0x09)  # the claim went with the close
        with pytest.raises(parport.InvalidDeviceStateError):
            loop.setData(1)


def test_an_open_bus_can_be_given(tmp_path: Path) -> None:
    with parport.open(LOOP) as bus:
        port = Parallel(bus=bus)
        assert port.device == LOOP
        port.setData(0x42)
        assert bus.pins.read_data() == 0x42
        port.close()
        assert not bus.closed


# --- which port -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("argument", "spec"),
    [
        (0, "/dev/parport0"),
        (1, "/dev/parport1"),
        ("/dev/parport2", "/dev/parport2"),
        (0x378, "portio:0x378"),
        ("0x0278", "portio:0x278"),
        ("emu:chain=printer", "emu:chain=printer"),
        ("parportd:", "parportd:"),
    ],
)
def test_legacy_arguments_become_specs(argument: int | str, spec: str) -> None:
    assert _shared.resolve(argument) == spec


def test_parport_port_replaces_legacy_arguments_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARPORT_PORT", "emu:chain=printer")
    assert _shared.resolve(0) == _shared.resolve("/dev/parport0") == "emu:chain=printer"
    assert _shared.resolve(0x378) == "emu:chain=printer"
    assert _shared.resolve("emu:chain=") == "emu:chain="


@pytest.mark.parametrize(
    ("argument", "error", "match"),
    [
        (-1, parport.SpecError, "not a port number"),
        ("0xZZ", parport.SpecError, "not an I/O address"),
        ("", parport.SpecError, "an empty port"),
        (1.5, TypeError, "not float"),
        (True, TypeError, "not bool"),
    ],
)
def test_bad_port_arguments(argument: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        _shared.resolve(argument)


def test_a_spec_that_cannot_open_says_why() -> None:
    with pytest.raises(parport.SpecError, match="no backend for 'warp'"):
        Parallel("warp:1")
    assert not _shared._buses


# --- PsychoPy -------------------------------------------------------------------------------------
def test_psychopy_documented_usage_on_the_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PsychoPy's documented example: ParallelPort(address=0x0378), setData(4), readPin(2),
    setPin(2, 1) — the address replaced by $PARPORT_PORT, the lines in the trace."""
    vcd = tmp_path / "psychopy.vcd"
    monkeypatch.setenv("PARPORT_PORT", f"spy:emu:chain=&clock=manual?vcd={vcd}")
    port = ParallelPort(address=0x0378)
    port.setData(4)  # pin 4 high
    assert port.readPin(2) == 0 and port.readPin(4) == 1
    port.setPin(2, 1)
    assert port.readData() == 5
    port.setData(2)  # "sets just pin 3 high (remember that pin2=bit0)"
    assert [port.readPin(p) for p in range(2, 10)] == [0, 1, 0, 0, 0, 0, 0, 0]
    port.setData(int("00000101", 2))  # pins 2 and 4 high
    port.setPin(3, 1)
    port.setPin(3, 0)
    port.close()
    data = vcd_changes(vcd)
    # From the constructor's 0: 4, 5 (pin 2 set), 2, 5, 7 (pin 3 set), 5 (pin 3 cleared).
    assert [v for _, v in data["data"]][-7:] == [0x00, 0x04, 0x05, 0x02, 0x05, 0x07, 0x05]
    end = data["data"][-1][0]
    assert [level_at(data[f"D{bit}"], end) for bit in range(8)] == [1, 0, 1, 0, 0, 0, 0, 0]


def test_psychopy_reads_status_pins_as_levels() -> None:
    with ParallelPort(LOOP) as port:
        port.setData(0x10)  # D4 → Busy high
        assert [port.readPin(p) for p in (10, 11, 12, 13, 15)] == [0, 1, 0, 0, 0]
        port.setData(0x0F)
        assert [port.readPin(p) for p in (10, 11, 12, 13, 15)] == [1, 0, 1, 1, 1]
        assert port.readPin(1) == 1 and port.readPin(17) == 0  # the idle control lines
        port.setPin(17, 1)
        assert port.readPin(17) == 1


def test_psychopy_bad_pins(loop: Parallel) -> None:
    with ParallelPort(LOOP) as port:
        with pytest.raises(ValueError, match="pin 11 is a status input"):
            port.setPin(11, 1)
        for pin in (0, 18, 25):
            with pytest.raises(ValueError, match=f"pin {pin} cannot be read"):
                port.readPin(pin)
        with pytest.raises(ValueError, match="carries no signal"):
            port.setPin(20, 1)
    assert port.closed


def test_psychopy_legacy_module_functions(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(pp_module, "PORT", None)
    with pytest.raises(RuntimeError, match="setPortAddress"):
        pp_module.setData(1)
    with caplog.at_level(logging.WARNING, logger="parport.compat.psychopy"):
        pp_module.setPortAddress("warp:1")
    assert "could not open the parallel port 'warp:1'" in caplog.text
    with pytest.raises(RuntimeError, match="the last try failed: SpecError: no backend"):
        pp_module.setData(1)
    pp_module.setPortAddress(LOOP)
    pp_module.setData(0x10)
    assert pp_module.readPin(11) == 1
    pp_module.setPin(2, 1)
    assert pp_module.readPin(15) == 1  # D0 → nFault on the loopback plug
    pp_module.setPortAddress(LOOP)  # the old port is closed, a new one opened
    assert pp_module.PORT is not None
    pp_module.PORT.close()


# --- installing `parallel` and the runner ---------------------------------------------------------
def test_install_is_opt_in_and_never_replaces_a_real_pyparallel_by_surprise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "parallel", raising=False)
    monkeypatch.delitem(sys.modules, "parallel.parallelppdev", raising=False)
    assert not compat.installed()
    real = types.ModuleType("parallel")
    real.__file__ = "/site-packages/parallel/__init__.py"
    monkeypatch.setitem(sys.modules, "parallel", real)
    with pytest.raises(RuntimeError, match="a module 'parallel' is imported already"):
        compat.install()
    assert sys.modules["parallel"] is real
    compat.install(replace=True)
    import parallel  # type: ignore[import-not-found]

    assert parallel is ppl and compat.installed()
    from parallel.parallelppdev import PARPORT_CONTROL_STROBE  # type: ignore[import-not-found]

    assert PARPORT_CONTROL_STROBE == 1
    compat.uninstall()
    assert "parallel" not in sys.modules and not compat.installed()
    assert compat.Parallel is Parallel and compat.ParallelPort is ParallelPort
    with pytest.raises(AttributeError):
        _ = compat.Nope  # type: ignore[attr-defined]


def test_runner_passes_arguments_and_exit_status(tmp_path: Path) -> None:
    script = tmp_path / "prog.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, parallel
            with parallel.Parallel() as p:
                p.setData(int(sys.argv[1]))
                print(sys.argv[1:], p.getData(), p.device, __name__)
            sys.exit(3)
            """
        )
    )
    done = run("-m", "parport.compat", "--port", LOOP, str(script), "7", "x")
    assert done.returncode == 3
    assert done.stdout.strip() == f"['7', 'x'] 7 {LOOP} __main__"


def test_runner_runs_a_module_and_notes_a_real_pyparallel(tmp_path: Path) -> None:
    real = tmp_path / "site" / "parallel"
    real.mkdir(parents=True)
    (real / "__init__.py").write_text("raise ImportError('the real pyparallel must not load')\n")
    (tmp_path / "site" / "experiment.py").write_text(
        "import parallel\nparallel.Parallel().setData(9)\nprint('ok', parallel.__name__)\n"
    )
    done = run(
        "-m", "parport.compat", "--port", LOOP, "-m", "experiment",
        env={"PYTHONPATH": str(tmp_path / "site")},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok parport.compat.pyparallel"
    assert done.stderr.startswith("parport.compat: this run uses parport's Parallel in place of")
    assert str(real / "__init__.py") in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "error: give a script to run"),
        (("--port", "spy:emu:", "x.py"), "error: --port: spy: needs '?vcd=FILE'"),
        (("/nonexistent/prog.py",), "error: no such script: /nonexistent/prog.py"),
    ],
)
def test_runner_usage_errors(args: tuple[str, ...], message: str) -> None:
    done = run("-m", "parport.compat", *args)
    assert done.returncode == 2
    assert message in done.stderr.splitlines()[-1]


# --- two processes, one trigger port, through the daemon ------------------------------------------
def _daemon_available() -> bool:
    try:
        from parport.service import serve_main  # noqa: F401
    except ImportError:
        return False
    try:
        parport.connect("/nonexistent/parportd.sock")
    except NotImplementedError:
        return False
    except parport.ParportError:
        return True
    return True


@pytest.mark.skipif(not _daemon_available(), reason="the daemon is not in this build")
def test_two_processes_share_one_trigger_port_through_the_daemon(tmp_path: Path) -> None:
    sock, vcd = tmp_path / "parportd.sock", tmp_path / "daemon.vcd"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "parport", "serve", "--socket", str(sock),
         f"spy:emu:chain=loopback&clock=manual?vcd={vcd}"],
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert daemon.stderr is not None
        for line in daemon.stderr:  # wait for it to listen: it says so
            if "serving" in line:
                break
        else:
            pytest.fail("the daemon ended before serving")
        script = tmp_path / "experiment.py"
        script.write_text(
            textwrap.dedent(
                """
                import sys, parallel
                code = int(sys.argv[1])
                with parallel.Parallel(reset=False) as p:
                    for _ in range(100):
                        p.pins.pulse(code, 0.0002)
                """
            )
        )
        runs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "parport.compat",
                    "--port",
                    f"parportd:{sock}",
                    str(script),
                    str(code),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for code in (0x0A, 0x50)
        ]
        for each in runs:
            _, err = each.communicate(timeout=120)
            assert each.returncode == 0, err
    finally:
        daemon.terminate()
        daemon.communicate(timeout=60)
    values = [v for _, v in vcd_changes(vcd)["data"]]
    first = min(values.index(0x0A), values.index(0x50))
    pulses = values[first:]
    assert sorted(v for v in pulses if v) == [0x0A] * 100 + [0x50] * 100
    # Every pulse went back to 0 before the next began: no access of one program fell inside
    # another's pulse.
    assert pulses[1::2] == [0] * 200
