"""list_ports() and the /proc, /sys readers, on fixture trees (nothing opens a port)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import parport
from parport.hw import discover

IOPORTS = """\
0000-0cf7 : PCI Bus 0000:00
  0000-001f : dma1
  0278-027a : parport1
  0378-037a : parport0
  037b-037f : parport0
  03c0-03df : vga+
  0778-077a : parport0
0cf8-0cff : PCI conf1
0d00-ffff : PCI Bus 0000:00
"""


def make_tree(root: Path) -> Path:
    """Two ports as Linux shows them: parport0 an ECP/EPP chip with a printer and lp on it,
    parport1 a plain SPP polled port."""
    proc = root / "proc/sys/dev/parport"
    p0 = proc / "parport0"
    (p0 / "devices/lp0").mkdir(parents=True)
    (p0 / "devices/ppdev0").mkdir()
    (p0 / "devices/active").write_text("lp0\n")
    (p0 / "base-addr").write_text("888\t1912\n")
    (p0 / "irq").write_text("7\n")
    (p0 / "dma").write_text("3\n")
    (p0 / "modes").write_text("PCSPP,TRISTATE,COMPAT,EPP,ECP,DMA\n")
    (p0 / "autoprobe").write_text(
        "CLASS:PRINTER;\nMODEL:LaserJet 4;\nMANUFACTURER:Hewlett-Packard;\n"
        "DESCRIPTION:HP LaserJet 4;\nCOMMAND SET:PCL,PJL;\n"
    )
    (p0 / "autoprobe0").write_text("CLASS:MEDIA;\nMODEL:ZIP 250;\nMANUFACTURER:IOMEGA;\n")
    p1 = proc / "parport1"
    (p1 / "devices").mkdir(parents=True)
    (p1 / "devices/active").write_text("none\n")
    (p1 / "base-addr").write_text("632\t0\n")
    (p1 / "irq").write_text("-1\n")
    (p1 / "dma").write_text("-1\n")
    (p1 / "modes").write_text("PCSPP\n")
    (proc / "default").mkdir()
    drivers = root / "sys/bus/platform/drivers/parport_pc"
    drivers.mkdir(parents=True)
    for n in (0, 1):
        device = root / f"sys/devices/platform/parport_pc.{n}"
        device.mkdir(parents=True)
        (device / "driver").symlink_to(drivers)
        cls = root / f"sys/class/parport/parport{n}"
        cls.mkdir(parents=True)
        (cls / "device").symlink_to(device)
    (root / "sys/module/ppdev").mkdir(parents=True)
    (root / "proc/ioports").write_text(IOPORTS)
    (root / "dev").mkdir()
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path)


def test_ports_from_proc_and_sys(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARPORT_PORT", raising=False)
    ports = discover.list_ports(tree)
    assert [p.spec for p in ports] == ["/dev/parport0", "/dev/parport1", "emu:"]
    p0, p1, emu = ports
    assert (p0.base, p0.base_hi, p0.irq, p0.dma) == (0x378, 0x778, 7, 3)
    assert p0.modes == ("PCSPP", "TRISTATE", "COMPAT", "EPP", "ECP", "DMA")
    assert (p0.driver, p0.devices, p0.active) == ("parport_pc", ("lp0", "ppdev0"), "lp0")
    assert p0.device_ids["eoc"]["MODEL"] == "LaserJet 4"
    assert p0.device_ids["0"] == {"CLASS": "MEDIA", "MODEL": "ZIP 250", "MANUFACTURER": "IOMEGA"}
    assert p0.raw_spec == "portio:0x378"
    assert (p1.base, p1.base_hi, p1.irq, p1.dma, p1.active) == (0x278, None, None, None, None)
    assert not p0.accessible
    assert (
        p0.problem
        == "no /dev/parport0: ppdev is loaded but made no node (is devtmpfs or udev running?)"
    )
    assert emu.default and not p0.default and emu.backend == "emu"
    assert p0.description() == (
        "parport0 at 0x378 irq 7 dma 3 PCSPP,TRISTATE,COMPAT,EPP,ECP,DMA (parport_pc); "
        "device: Hewlett-Packard LaserJet 4; registered: lp0, ppdev0; held by lp0; cannot open: "
        "no /dev/parport0: ppdev is loaded but made no node (is devtmpfs or udev running?)"
    )
    assert p1.description().startswith("parport1 at 0x278 polled PCSPP (parport_pc)")


def test_json(tree: Path) -> None:
    data = [p.as_dict() for p in discover.list_ports(tree)]
    assert json.loads(json.dumps(data)) == data
    assert data[0]["device_ids"]["eoc"]["MANUFACTURER"] == "Hewlett-Packard"
    assert data[0]["description"].startswith("parport0 at 0x378")
    assert set(data[0]) >= {"spec", "node", "base", "irq", "dma", "modes", "accessible", "hung"}


def test_default_follows_the_environment(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARPORT_PORT", "/dev/parport1")
    assert [p.spec for p in discover.list_ports(tree) if p.default] == ["/dev/parport1"]


def test_node_problems(tree: Path) -> None:
    assert discover.node_problem("/dev/parport0", root=tree).startswith(
        "no /dev/parport0: ppdev is"
    )
    os.rmdir(tree / "sys/module/ppdev")
    assert discover.node_problem("/dev/parport0", root=tree) == (
        "no /dev/parport0: the ppdev module is not loaded ('sudo modprobe ppdev')"
    )
    (tree / "dev/parport0").write_text("")
    assert discover.node_problem("/dev/parport0", root=tree) == (
        "/dev/parport0 is not a ppdev node (char major 99)"
    )


def test_ioport_claims(tree: Path) -> None:
    claims = discover.ioport_claims(0x378, 0x37F, tree)
    assert [(c.start, c.end, c.name) for c in claims] == [
        (0x378, 0x37A, "parport0"),
        (0x37B, 0x37F, "parport0"),
    ]
    assert claims[0].parents == ("PCI Bus 0000:00",)
    assert discover.ioport_claims(0x3BC, 0x3BE, tree) == []  # only the bus window there


def test_empty_machine(tmp_path: Path) -> None:
    assert [p.spec for p in discover.list_ports(tmp_path)] == ["emu:"]
    assert discover.list_ports(tmp_path, emulated=False) == []


def test_hung_ports_are_listed(tree: Path) -> None:
    discover.report_hung("/dev/parport1", "stuck")
    discover.report_hung("/dev/parport7", "gone")
    try:
        ports = {p.spec: p for p in discover.list_ports(tree)}
        assert ports["/dev/parport1"].hung == "stuck"
        assert ports["/dev/parport7"].hung == "gone"
        assert ports["/dev/parport1"].description().endswith("; HUNG: stuck")
    finally:
        discover.report_hung("/dev/parport1", None)
        discover.report_hung("/dev/parport7", None)
    assert discover.hung_ports() == {}


def test_exported_from_the_package() -> None:
    assert parport.list_ports is discover.list_ports
    assert "list_ports" in parport.__all__
