"""``spy:`` traces read back with pyvcd's reader and compared with the accesses made."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from vcd.reader import TokenKind, tokenize

from hostseq import assign_addresses_linux, compat_write, cpp_windows
from parport import nt
from parport.hw import VirtualClock, open_backend
from parport.hw.backend import Capabilities, PortBackend
from parport.hw.spy import SpyBackend
from parport.ieee1284 import Session

SIGNAL_NAMES = {
    "nStrobe", "D0", "D1", "D2", "D3", "D4", "D5", "D6", "D7", "nAck", "Busy", "PError",
    "Select", "nAutoFd", "nFault", "nInit", "nSelectIn",
}  # fmt: skip


def read_vcd(path: Path) -> tuple[dict[str, tuple[str, int]], dict[str, list[tuple[int, int]]]]:
    """(name -> (type, size)), (name -> [(time, value)]) from a VCD file."""
    declared: dict[str, tuple[str, int]] = {}
    by_id: dict[str, str] = {}
    changes: dict[str, list[tuple[int, int]]] = {}
    time = 0
    with open(path, "rb") as file:
        for token in tokenize(file):
            if token.kind is TokenKind.VAR:
                var = token.var
                declared[var.reference] = (var.type_.value, var.size)
                by_id[var.id_code] = var.reference
                changes[var.reference] = []
            elif token.kind is TokenKind.CHANGE_TIME:
                time = token.time_change
            elif token.kind is TokenKind.CHANGE_SCALAR:
                name = by_id[token.scalar_change.id_code]
                changes[name].append((time, int(token.scalar_change.value)))
            elif token.kind is TokenKind.CHANGE_VECTOR:
                name = by_id[token.vector_change.id_code]
                changes[name].append((time, int(token.vector_change.value)))
    return declared, changes


def value_at(series: list[tuple[int, int]], time: int) -> int:
    value = series[0][1]
    for when, new in series:
        if when > time:
            break
        value = new
    return value


def test_declarations_one_wire_per_signal_no_events(tmp_path: Path) -> None:
    path = tmp_path / "t.vcd"
    port = open_backend(f"spy:emu:chain=printer?vcd={path}")
    port.close()
    declared, _ = read_vcd(path)
    for name in SIGNAL_NAMES:
        assert declared[name] == ("wire", 1)
    assert declared["data"] == ("wire", 8)
    assert declared["reverse"] == ("wire", 1)
    assert declared["ecr_mode"] == ("reg", 3)
    assert declared["ieee1284_mode"] == ("reg", 16)
    assert declared["selected"] == ("reg", 8)
    assert all(kind != "event" for kind, _ in declared.values())
    text = path.read_text()
    assert "$timescale 1 ns $end" in text
    assert "parport" in text


def test_trace_matches_the_writes_at_their_virtual_times(tmp_path: Path) -> None:
    path = tmp_path / "compat.vcd"
    port = open_backend(f"spy:emu:chain=printer?vcd={path}")
    start = port.clock.now_ns()
    writes: list[tuple[int, int]] = []
    strobes: list[int] = []
    port.write_control(0x0C)
    for byte in b"VCD!":
        port.wait_status(0x88, 0x88, 1000)
        port.write_data(byte)
        writes.append((port.clock.now_ns() - start, byte))
        port.write_control(0x0D)
        strobes.append(port.clock.now_ns() - start)
        port.write_control(0x0C)
        port.sleep(2)
    port.close()
    _, changes = read_vcd(path)
    data = changes["data"]
    for when, byte in writes:
        assert value_at(data, when) == byte
        assert (when, byte) in data
    falling = [t for t, v in changes["nStrobe"] if v == 0]
    assert falling == strobes
    # Busy rises at each strobe (the printer latched the byte), nAck pulses after it.
    busy_rises = [t for t, v in changes["Busy"] if v == 1]
    assert busy_rises == strobes
    assert len([t for t, v in changes["nAck"] if v == 0]) == 4
    for name in SIGNAL_NAMES - {"nStrobe", "Busy", "nAck"} - {f"D{i}" for i in range(8)}:
        assert len(changes[name]) == 1, name  # only the initial value


def test_selection_and_mode_are_traced(tmp_path: Path) -> None:
    path = tmp_path / "select.vcd"
    port = open_backend(f"spy:emu:?vcd={path}")
    port.write_ecr(0x34)
    assign_addresses_linux(port)
    cpp_windows(port, 0xE1)
    selected_at = port.clock.now_ns()
    port.annotate(mode=0x0004)
    compat_write(port, b"x")
    cpp_windows(port, 0x30)
    port.close()
    _, changes = read_vcd(path)
    assert [v for _, v in changes["selected"]] == [0xFF, 1, 0xFF]
    assert changes["selected"][1][0] <= selected_at
    assert [v for _, v in changes["ieee1284_mode"]] == [0, 4]
    assert [v for _, v in changes["ecr_mode"]] == [0, 1]


class SoftPort(PortBackend):
    """A backend with no line observer (like ppdev): the spy samples at each access."""

    name = "soft"

    def __init__(self) -> None:
        super().__init__()
        self.capabilities = Capabilities.of_kind("spp")
        self.clock = VirtualClock()
        self.data = 0
        self.control = 0x0C

    def read_data(self) -> int:
        self.clock.advance(1000)
        return self.data

    def write_data(self, value: int) -> None:
        self.clock.advance(1000)
        self.data = value

    def read_status(self) -> int:
        self.clock.advance(1000)
        return 0xDF

    def read_control(self) -> int:
        return self.control

    def write_control(self, value: int) -> None:
        self.clock.advance(1000)
        self.control = value


def test_sampling_backend(tmp_path: Path) -> None:
    path = tmp_path / "soft.vcd"
    spy = SpyBackend(SoftPort(), str(path))
    spy.write_data(0x12)
    spy.write_control(0x0D)
    spy.read_status()
    spy.close()
    spy.close()
    _, changes = read_vcd(path)
    assert changes["data"][-1] == (1000, 0x12)
    assert changes["nStrobe"][-1] == (2000, 0)
    # The status is known only once read: floating (Busy pin H) until the read at 3 µs.
    assert changes["Busy"] == [(0, 1), (3000, 0)]


def test_whole_transfers_are_traced_line_by_line(tmp_path: Path) -> None:
    """The engine's software modes go to the emulator's whole-transfer operations; with the
    spy's observer on, those run line by line, so every strobe is in the trace."""
    path = tmp_path / "modes.vcd"
    port = open_backend(f"spy:emu:chain=printer?vcd={path}")
    session = Session(port)
    start = port.trace.start_ns  # type: ignore[attr-defined]
    compat_at = port.clock.now_ns() - start
    assert session.write(b"VCD!", nt.CENTRONICS).count == 4
    assert session.negotiate(0x40).value == "accepted"
    epp_at = port.clock.now_ns() - start
    assert session.write(b"epp", nt.EPP_SW).count == 3
    epp_end = port.clock.now_ns() - start
    printer = port.chain[0]  # type: ignore[attr-defined]
    assert bytes(printer.received) == b"VCD!epp"
    port.close()
    _, changes = read_vcd(path)
    strobes = [t for t, v in changes["nStrobe"] if v == 0 and compat_at <= t]
    assert len([t for t in strobes if t < epp_at]) == 4 + 1  # a strobe a byte, then event 3
    # EPP: nWrite (nStrobe) low once, each byte strobed by nDStrb (nAutoFd).
    assert len([t for t in strobes if epp_at <= t]) == 1
    data_strobes = [t for t, v in changes["nAutoFd"] if v == 0 and epp_at <= t <= epp_end]
    assert len(data_strobes) == 3
    assert {byte for _, byte in changes["data"]} >= set(b"VCD!epp")


def test_whole_transfers_on_a_sampling_backend(tmp_path: Path) -> None:
    """A backend that reports no line changes: the spy runs the software loops itself, so each
    access of them is sampled."""
    path = tmp_path / "soft.vcd"
    spy = SpyBackend(SoftPort(), str(path))
    block = spy.compat_write_data(b"\x12\x34")
    assert (block.status, block.count) == (nt.STATUS_SUCCESS, 2)
    spy.close()
    _, changes = read_vcd(path)
    assert [v for _, v in changes["data"]][-2:] == [0x12, 0x34]
    assert len([t for t, v in changes["nStrobe"] if v == 0]) == 2


def test_spy_passes_emulator_extras_through(tmp_path: Path) -> None:
    port = open_backend(f"spy:emu:chain=printer?vcd={tmp_path / 'x.vcd'}")
    assert [d.kind for d in port.chain] == ["printer"]  # type: ignore[attr-defined]
    assert port.accesses == 0
    port.read_status()
    assert port.accesses == 1
    port.close()


def test_spy_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown options"):
        open_backend("spy:emu:?out=x")
    with pytest.raises(ValueError, match="needs vcd=FILE"):
        open_backend("spy:emu:?vcd=")
    with pytest.raises(OSError):
        open_backend(f"spy:emu:?vcd={tmp_path / 'missing' / 'x.vcd'}")


@pytest.mark.skipif(shutil.which("sigrok-cli") is None, reason="sigrok-cli is not installed")
def test_sigrok_reads_the_trace(tmp_path: Path) -> None:
    """PulseView opens VCD files through sigrok's VCD input: it must see every wire."""
    path = tmp_path / "sigrok.vcd"
    port = open_backend(f"spy:emu:chain=printer?vcd={path}")
    compat_write(port, b"sigrok")
    port.close()
    shown = subprocess.run(
        ["sigrok-cli", "-I", "vcd", "-i", str(path), "--show"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    channels = {line[2:].split(":")[0] for line in shown.splitlines() if line.startswith("- ")}
    assert SIGNAL_NAMES <= channels
