"""The driver's timers end on the default (paced) emulator: TimerStart, the 250 ms idle rule and
the 2 s bus-scan wait run on the port's clock, which never falls behind wall time while the
hardware is idle (windows-parport.md A25); a transfer stalled for as long as TimerStart allows
waits without burning a core."""

from __future__ import annotations

import time

from driver_helpers import PORT, bus
from parport import nt
from parport.hw.emu import Fault

WAIT = 30.0


def test_timer_start_ends_a_blocked_write_in_device_busy() -> None:
    b = bus("emu:clock=paced")
    pr, d0 = b.create_file("LPT1.4"), b.create_file("LPT1.0")
    timeouts = nt.SERIAL_TIMEOUTS(0, 0, 0, 0, 2000).pack()  # TimerStart 2 s
    assert pr.device_control(nt.IOCTL_SERIAL_SET_TIMEOUTS, timeouts).status == 0
    assert d0.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT).status == 0
    start, virtual = time.monotonic(), b.hardware.now()
    write = pr.submit_write(b"page")
    result = write.wait(WAIT)
    assert result is not None and (result.status, result.information) == (
        nt.STATUS_DEVICE_BUSY,
        0,
    )
    assert b.hardware.now() - virtual >= 2_000_000  # two seconds of the port's clock
    assert time.monotonic() - start < 10
    b.close()


def test_the_idle_rule_releases_a_session_on_the_paced_clock() -> None:
    b = bus("emu:clock=paced")
    pr = b.create_file("LPT1.4")
    masks = nt.PARCLASS_NEGOTIATION_MASK(usReadMask=nt.ECP_ANY, usWriteMask=nt.ECP_ANY).pack()
    assert pr.device_control(nt.IOCTL_IEEE1284_NEGOTIATE, masks, 4).status == 0
    assert pr.write(b"ecp data").status == nt.STATUS_SUCCESS  # the session holds the port
    p = b.create_file(PORT)
    result = p.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE, timeout=WAIT)
    assert result.status == nt.STATUS_SUCCESS
    b.close()


def test_the_bus_scan_gives_up_after_two_seconds_on_the_paced_clock() -> None:
    b = bus("emu:clock=paced")
    p = b.create_file(PORT)
    assert p.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE).status == 0
    scan = b.rescan(timeout=WAIT)
    assert scan.done.is_set() and not scan.scanned
    b.close()


def test_a_stall_with_the_longest_timer_start_does_not_burn_a_core() -> None:
    b = bus("emu:clock=paced")
    pr = b.create_file("LPT1.4")
    longest = nt.SERIAL_TIMEOUTS(0, 0, 0, 0, 0xFFFFFFFF).pack()
    assert pr.device_control(nt.IOCTL_SERIAL_SET_TIMEOUTS, longest).status == 0
    b.hardware.inject(Fault.PAPER_OUT, "printer")
    write = pr.submit_write(b"x" * 10)
    wall, cpu = time.monotonic(), time.process_time()
    assert write.wait(0.5) is None  # still waiting for paper
    wall, cpu = time.monotonic() - wall, time.process_time() - cpu
    assert cpu < wall / 2
    write.cancel()
    result = write.wait(WAIT)
    assert result is not None and result.status == nt.STATUS_CANCELLED
    b.close()
