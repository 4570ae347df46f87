"""The emulated port's registers: detection, ECR and FIFO, EPP, interrupts, virtual time."""

from __future__ import annotations

import pytest

from emu_helpers import make_port
from hostseq import negotiate
from parport import nt
from parport.hw import Capabilities, open_backend
from parport.hw.emu import EmulatedPort, Fault, Ieee1284Peripheral, Printer
from parport.ieee1284 import detect


@pytest.mark.parametrize(
    ("kind", "ppt"),
    [
        ("spp", 0),
        ("ps2", nt.PPT_BYTE_PRESENT),
        ("epp", nt.PPT_EPP_PRESENT | nt.PPT_BYTE_PRESENT),
        ("ecp", nt.PPT_ECP_PRESENT | nt.PPT_BYTE_PRESENT),
        ("ecp+epp", nt.PPT_ECP_PRESENT | nt.PPT_EPP_PRESENT | nt.PPT_BYTE_PRESENT),
    ],
)
def test_detection_finds_each_kind(kind: str, ppt: int) -> None:
    port = EmulatedPort([Printer()], kind=kind)
    found = detect(port)
    assert found.present
    assert found.kind == kind
    assert found.ppt_bits == ppt == port.capabilities.ppt_bits
    if found.ecp:
        assert (found.fifo_depth, found.fifo_width, found.irq) == (16, 8, 7)
        assert found.write_threshold == found.read_threshold == 8
        assert port.read_ecr() == 0x35  # left in PS/2 mode like Linux
    assert port.read_control() & 0x3F == 0x0C


def test_smc_style_epp_only_in_ecr_mode_100() -> None:
    port = EmulatedPort([], kind="ecp+epp", epp_in_ecr_mode_only=True)
    assert port.read_status() & 0x01  # stuck in mode 000
    found = detect(port)
    assert found.epp and found.epp_needs_ecr_mode


def test_fifo_width_and_irq_options() -> None:
    found = detect(EmulatedPort([], kind="ecp", fifo_width=16, irq=None, fifo_depth=32))
    assert (found.fifo_width, found.irq, found.fifo_depth) == (16, None, 32)


def test_ecr_presence_sequence() -> None:
    port = EmulatedPort([])
    port.write_control(0x0C)
    assert port.read_ecr() & 0x03 == 0x01  # empty, not full
    port.write_ecr(0x34)
    assert port.read_ecr() == 0x35
    no_ecr = EmulatedPort([], kind="epp")
    assert no_ecr.read_ecr() == 0xFF  # a missing register reads all ones


def test_test_fifo_full_empty_and_reset_on_mode_000() -> None:
    port = EmulatedPort([])
    port.write_ecr(0xD4)  # mode 110
    for n in range(16):
        assert not port.read_ecr() & 0x02
        port.write_fifo(n)
    assert port.read_ecr() & 0x03 == 0x02  # full
    port.write_fifo(0xEE)
    assert port.overruns == 1
    assert [port.read_fifo() for _ in range(3)] == [0, 1, 2]
    port.write_ecr(0x14)  # mode 000 resets the FIFO
    assert port.read_ecr() & 0x01
    port.write_ecr(0xF4)
    assert port.read_fifo() == 0x10  # cnfgA: 8-bit implementation
    assert port.read_cnfgb() >> 3 & 0x07 == 1  # IRQ 7


def test_compat_fifo_mode_sends_to_the_printer() -> None:
    port = make_port("printer")
    printer = port.chain[0]
    port.write_ecr(0x54)  # mode 010
    for byte in b"FIFO":
        port.write_fifo(byte)
    port.sleep(100)
    assert bytes(printer.received) == b"FIFO"
    assert port.read_ecr() & 0x01  # drained


def test_hardware_ecp_forward_and_reverse() -> None:
    port = make_port("printer")
    printer = port.chain[0]
    assert isinstance(printer, Ieee1284Peripheral)
    assert negotiate(port, 0x30).result == 0
    port.write_control(0x04)
    port.write_ecr(0x74)  # mode 011
    port.write_data(0x82)  # ecpAFifo: channel 2
    for byte in b"ecp":
        port.write_fifo(byte)
    port.sleep(50)
    assert bytes(printer.ecp_channels[2]) == b"ecp"
    # Reverse: the turnaround in software, then the chip reads into the FIFO.
    printer.queue_reverse(b"A" * 10 + b"B")
    port.write_ecr(0x34)
    port.write_control(0x26)  # event 38
    port.write_control(0x22)  # event 39
    assert port.wait_status(0x20, 0x00, 35_000) is not None  # event 40
    port.write_ecr(0x74)
    port.sleep(100)
    got = bytearray()
    while not port.read_ecr() & 0x01:
        got.append(port.read_fifo())
    assert bytes(got) == b"A" * 10 + b"B"  # RLE expanded by the chip


def test_ack_interrupt_on_the_trailing_edge() -> None:
    port = make_port("printer", access_ns=0)
    hits: list[float] = []
    port.set_interrupt_handler(lambda: hits.append(port.now()))
    port.write_control(0x1C)  # ackIntEn
    port.write_data(0x55)
    port.write_control(0x1D)
    port.write_control(0x1C)
    assert hits == []
    port.sleep(1.2)  # nAck low from 1 µs
    assert hits == []
    port.sleep(1)  # nAck back high at 1.5 µs
    assert hits == [1.5]
    port.write_control(0x0C)  # interrupts off
    port.write_control(0x0D)
    port.write_control(0x0C)
    port.sleep(5)
    assert len(hits) == 1


def test_every_access_costs_virtual_time_and_waits_jump() -> None:
    port = EmulatedPort([Printer()], access_ns=750)
    start = port.now()
    for _ in range(4):
        port.read_status()
    assert port.now() - start == 3.0
    assert port.accesses >= 4
    port.inject(Fault.STUCK_BUSY)
    before = port.now()
    assert port.wait_status(0x80, 0x80, 1_000_000) is None
    assert port.now() - before >= 1_000_000
    assert port.accesses < 100  # no microsecond polling loop


def test_runs_are_deterministic() -> None:
    def run() -> tuple[float, bytes, int]:
        port = make_port("daisy", "daisy", "printer")
        negotiate(port, 0x04)
        return port.now(), bytes(port.chain[-1].received), port.accesses

    assert run() == run()


def test_capabilities_of_kinds_and_errors() -> None:
    assert Capabilities.of_kind("spp").ppt_bits == 0
    assert Capabilities.of_kind("ecp").base_hi == 0x778
    assert Capabilities.of_kind("epp").base_hi is None
    with pytest.raises(ValueError, match="unknown port kind"):
        Capabilities.of_kind("usb")
    with pytest.raises(ValueError):
        EmulatedPort([], fifo_width=12)


def test_inb_outb_by_offset() -> None:
    port = open_backend("emu:chain=loopback")
    port.outb(0, 0x01)
    assert port.inb(1) & 0xF8 == 0x88
    port.outb(0x402, 0x34)
    assert port.inb(0x402) == 0x35
    with pytest.raises(ValueError):
        port.outb(0, 0x100)
    with pytest.raises(OSError):
        port.inb(5)
    port.close()
    port.close()
    assert port.closed
