"""The raw I/O backend (``portio:``) on a fake ``/dev/port``: registers at their offsets, the
refusal of a port a kernel driver holds (and ``force``), the root/CAP_SYS_RAWIO message, and the
engine's detection through it."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from parport import nt
from parport.hw import portio
from parport.hw.portio import PortIo, PortIoFile
from parport.hw.spec import parse_spec
from parport.ieee1284.detect import detect
from parport.nt.errors import PortInUseError, PortNotFoundError, PortPermissionError
from test_hw_discover import make_tree


class FakePorts(PortIoFile):
    """I/O space with QEMU's SPP at one base: data latch, control (bits 6-7 read 1), status
    0xD8, nothing at the ECP block (reads 0xFF)."""

    def __init__(self, base: int = 0x378) -> None:
        self.base = base
        self.space: dict[int, int] = {base: 0, base + 1: 0xD8, base + 2: 0xCC}
        self.log: list[tuple[str, int, int]] = []
        self.closed = False

    def inb(self, port: int) -> int:
        value = self.space.get(port, 0xFF)
        if port == self.base and self.space[self.base + 2] & 0x20:
            value = 0xFF  # reverse: the lines float
        self.log.append(("in", port, value))
        return value

    def outb(self, port: int, value: int) -> None:
        self.log.append(("out", port, value))
        if port == self.base + 2:
            value |= 0xC0
        if port in (self.base, self.base + 2):
            self.space[port] = value

    def close(self) -> None:
        self.closed = True


def test_specs() -> None:
    assert parse_spec("portio:0x278").target == "0x278"
    assert parse_spec("portio:888").target == "0x378"
    assert parse_spec("portio:0x378?force=1").options == {"force": "1"}
    for bad, message in (
        ("portio:", "portio: is not a port address: give the base I/O address, like"),
        ("portio:0x10000", "portio:0x10000 is not a port address"),
        ("portio:0x378?force=maybe", "portio: force=maybe is not allowed: force is 0 or 1"),
        ("portio:0x378?irq=7", "portio: unknown options [irq=7]; portio takes force=0|1"),
    ):
        with pytest.raises(nt.SpecError) as info:
            parse_spec(bad)
        assert str(info.value).startswith(message)


def test_registers_at_their_offsets(tmp_path: Path) -> None:
    fake = FakePorts()
    with PortIo(0x378, root=str(tmp_path), io=lambda: fake) as port:
        port.write_data(0x5A)
        assert port.read_data() == 0x5A
        assert port.read_status() == 0xD8
        port.write_control(0x0C)
        assert port.read_control() == 0xCC
        port.write_ecr(0x34)
        port.read_fifo()
        port.write_epp_address(1)
        port.read_epp_data()
        assert port.capabilities.base == 0x378 and port.capabilities.base_hi == 0x778
    touched = [(op, hex(p)) for op, p, _ in fake.log]
    assert ("out", "0x77a") in touched and ("in", "0x778") in touched  # ECR, FIFO
    assert ("out", "0x37b") in touched and ("in", "0x37c") in touched  # EPP address, data
    assert fake.closed


def test_engine_detects_the_chip(tmp_path: Path) -> None:
    with PortIo(0x378, root=str(tmp_path), io=FakePorts) as port:
        found = detect(port)
    assert found.present and found.ps2 and not found.ecr and not found.ecp


def test_refuses_a_port_a_driver_holds(tmp_path: Path) -> None:
    root = str(make_tree(tmp_path))
    with pytest.raises(PortInUseError) as info:
        PortIo(0x378, root=root, io=FakePorts)
    assert str(info.value) == (
        "portio:0x378: the kernel has claimed this port: parport_pc (parport0: 0x378-0x37a); "
        "parport_pc (parport0: 0x37b-0x37f); parport_pc (parport0: 0x778-0x77a); use "
        "'/dev/parport0' (ppdev) instead, unload the driver ('sudo rmmod lp ppdev parport_pc'), "
        "or add '?force=1' to write its registers anyway"
    )
    assert isinstance(info.value, BlockingIOError)
    with PortIo(0x378, root=root, io=FakePorts, force=True) as port:
        assert port.read_status() == 0xD8
        assert port.capabilities.irq == 7  # the kernel's, for the record


def test_refusal_without_ioport_addresses(tmp_path: Path) -> None:
    root = make_tree(tmp_path)
    (root / "proc/ioports").write_text("0000-0000 : parport0\n")  # what a non-root user sees
    with pytest.raises(
        PortInUseError, match=r"claimed this port: parport_pc \(parport0 at 0x378\)"
    ):
        PortIo(0x378, root=str(root), io=FakePorts)
    assert portio.range_claims(0x3BC, str(root)) == []


@pytest.mark.parametrize(
    ("code", "cls", "message"),
    [
        (
            errno.EACCES,
            PortPermissionError,
            "portio:0x378 needs root or CAP_SYS_RAWIO to open /dev/port; run it as root, or use "
            "the port through ppdev ('/dev/parportN'), which needs only the lp group",
        ),
        (
            errno.ENOENT,
            PortNotFoundError,
            "portio:0x378: /dev/port does not exist (a kernel without CONFIG_DEVPORT, or not "
            "x86); use the port through ppdev ('/dev/parportN')",
        ),
    ],
)
def test_open_errors(tmp_path: Path, code: int, cls: type, message: str) -> None:
    def denied() -> PortIoFile:
        raise OSError(code, "no")

    with pytest.raises(cls) as info:
        PortIo(0x378, root=str(tmp_path), io=denied)
    assert str(info.value) == message and info.value.errno == code
