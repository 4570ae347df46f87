"""Every injected fault ends in the documented status with the partial count, within the
protocol's timeouts on the virtual clock, and leaves the port in compatibility mode."""

from __future__ import annotations

import pytest

from parport import nt
from parport.hw import open_backend
from parport.hw.emu import EmulatedPort, Fault, Ieee1284Peripheral
from parport.ieee1284 import Negotiation, Session
from parport.ieee1284.transfer import CHUNK


def _session(
    chain: str = "printer", **kwargs: float
) -> tuple[EmulatedPort, Session, Ieee1284Peripheral]:
    port = open_backend(f"emu:chain={chain}&clock=manual")
    assert isinstance(port, EmulatedPort)
    printer = port.chain[-1]
    assert isinstance(printer, Ieee1284Peripheral)
    return port, Session(port, **kwargs), printer  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (Fault.PAPER_OUT, nt.STATUS_DEVICE_PAPER_EMPTY),
        (Fault.OFF_LINE, nt.STATUS_DEVICE_OFF_LINE),
        (Fault.STUCK_BUSY, nt.STATUS_DEVICE_BUSY),
        (Fault.POWER_OFF, nt.STATUS_DEVICE_POWERED_OFF),
        (Fault.UNPLUG, nt.STATUS_DEVICE_NOT_CONNECTED),
    ],
)
def test_compat_write_faults_mid_transfer(fault: Fault, status: int) -> None:
    port, session, printer = _session(budget_us=2_000_000)
    port.inject(fault, printer, after_bytes=100)
    start = port.now()
    result = session.write(bytes(1000), nt.CENTRONICS)
    assert result.status == status
    assert result.count == 100
    elapsed = port.now() - start
    if status in (nt.STATUS_DEVICE_POWERED_OFF, nt.STATUS_DEVICE_NOT_CONNECTED):
        assert elapsed < 10_000  # at once: waiting would not help (§9.1)
    else:
        assert 2_000_000 <= elapsed <= 2_200_000  # the whole budget, and not much more
    assert not session.connected


def test_stall_callback_gives_the_port_away_and_can_end_the_write() -> None:
    port, session, printer = _session(budget_us=10_000_000)
    printer.inject(Fault.PAPER_OUT)
    stalls: list[int] = []

    def on_stall(status: int) -> bool:
        stalls.append(status)
        if len(stalls) == 3:
            printer.clear(Fault.PAPER_OUT)  # paper loaded while the port was given away
        return True

    result = session.write(b"page", nt.CENTRONICS, on_stall=on_stall)
    assert result.ok and result.count == 4
    assert stalls == [nt.STATUS_DEVICE_PAPER_EMPTY] * 3
    printer.inject(Fault.OFF_LINE)
    result = session.write(b"more", nt.CENTRONICS, on_stall=lambda status: False)
    assert (result.status, result.count) == (nt.STATUS_DEVICE_BUSY, 0)


def test_cancellation_between_bytes() -> None:
    port, session, printer = _session()
    port.add_line_observer(lambda state: None)  # traced: every byte is its own handshake
    result = session.write(bytes(50), nt.CENTRONICS, cancelled=lambda: len(printer.received) >= 20)
    assert result.status == nt.STATUS_CANCELLED
    assert result.count == 20 == len(printer.received)


@pytest.mark.parametrize("mode", [nt.CENTRONICS, nt.ECP_SW])
def test_cancellation_between_handshake_bursts(mode: int) -> None:
    """Where the emulator takes many handshakes at once, cancellation is checked between bursts
    of at most CHUNK bytes, and the count is still exactly what the printer took."""
    port, session, printer = _session(ecp_rle=False)
    result = session.write(
        bytes(3 * CHUNK), mode, cancelled=lambda: len(printer.received) >= CHUNK // 2
    )
    assert result.status == nt.STATUS_CANCELLED
    assert result.count == CHUNK == len(printer.received)


def test_refused_negotiation_is_a_clear_result_not_a_hang() -> None:
    port, session, printer = _session()
    printer.inject(Fault.REFUSE_NEGOTIATION)
    start = port.now()
    assert session.negotiate(0x10) is Negotiation.NOT_IEEE1284
    assert port.now() - start < 40_000  # one 35 ms limit
    result = session.write(b"x", nt.ECP_SW)
    assert (result.status, result.count) == (nt.STATUS_DEVICE_PROTOCOL_ERROR, 0)
    assert session.device_id() is None
    assert session.determine_modes() == nt.CENTRONICS | nt.IEEE_COMPATIBILITY
    assert printer.phase == "compatibility"
    assert session.write(b"still prints", nt.CENTRONICS).ok


def test_rejected_modes() -> None:
    port, session, printer = _session()
    printer.inject(Fault.REJECT_MODES)
    assert session.negotiate(0x40) is Negotiation.REJECTED
    assert printer.phase == "compatibility"
    assert session.determine_modes() == (
        nt.CENTRONICS | nt.IEEE_COMPATIBILITY | nt.NIBBLE | nt.CHANNEL_NIBBLE
    )


@pytest.mark.parametrize("mode", [nt.NIBBLE, nt.BYTE_BIDIR, nt.ECP_SW])
def test_silent_peripheral_mid_read(mode: int) -> None:
    port, session, printer = _session()
    printer.queue_reverse(bytes(range(200)))
    first = session.read(10, mode)
    assert first.data == bytes(range(10))
    printer.inject(Fault.SILENT)
    start = port.now()
    result = session.read(100, mode)
    assert result.count == 0
    assert result.status in (nt.STATUS_IO_TIMEOUT, nt.STATUS_SUCCESS)
    assert port.now() - start <= 4 * 35_000  # a few IEEE 1284 limits, never more
    printer.clear(Fault.SILENT)
    session.terminate()
    assert not session.connected


@pytest.mark.parametrize("mode", [nt.ECP_SW, nt.EPP_SW, nt.EPP_HW])
def test_unplug_mid_forward_transfer(mode: int) -> None:
    port, session, printer = _session()
    port.inject(Fault.POWER_OFF, printer, after_bytes=30)
    result = session.write(bytes(100), mode)
    assert result.status == nt.STATUS_IO_TIMEOUT
    assert 29 <= result.count <= 31
    assert not session.connected


def test_ecp_hardware_write_stall_never_over_counts() -> None:
    port, session, printer = _session()
    port.inject(Fault.SILENT, printer, after_bytes=40)
    result = session.write(bytes(100), nt.ECP_HW_NOIRQ)
    assert result.status == nt.STATUS_IO_TIMEOUT
    assert result.count <= len(printer.received)
    printer.clear(Fault.SILENT)


def test_fifo_compat_write_stall() -> None:
    port, session, printer = _session(budget_us=1_000_000)
    port.inject(Fault.PAPER_OUT, printer, after_bytes=50)
    result = session.write(bytes(200), nt.IEEE_COMPATIBILITY)
    assert result.status == nt.STATUS_DEVICE_PAPER_EMPTY
    assert result.count <= 50 <= result.count + 16
    assert port.read_ecr() == 0x35  # back in PS/2 mode
