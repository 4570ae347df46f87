"""Every device request of windows-parport.md §5.2, §8 and §9 with its buffer checks, statuses and
Information, on the emulated default chain (two daisy-chain devices and a printer)."""

from __future__ import annotations

import threading

import pytest

from driver_helpers import PORT, allocate, bus, emu
from parport import nt
from parport.hw.emu import Fault, Ieee1284Peripheral, Printer

PRINTER_ID = Printer.DEFAULT_ID.encode()


@pytest.fixture
def lpt():  # type: ignore[no-untyped-def]
    b = bus("emu:")
    yield b
    b.close()


def dc(h, code: int, data: bytes = b"", out: int = 0) -> nt.IoStatus:  # type: ignore[no-untyped-def]
    return h.device_control(code, data, out, timeout=30)


def idc(h, code: int, data: bytes = b"", out: int = 0) -> nt.IoStatus:  # type: ignore[no-untyped-def]
    return h.internal_device_control(code, data, out, timeout=30)


# --- IRP majors (§5.2) -------------------------------------------------------------------------


def test_exclusive_create_and_reopen(lpt) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file("LPT1.4")
    with pytest.raises(nt.AccessDeniedError):
        lpt.create_file("LPT1.4")
    h.close()
    lpt.create_file("\\\\.\\LPT1.4").close()


def test_query_and_set_information(lpt) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file("LPT1.4")
    short = h.query_information(nt.FileStandardInformation, 23)
    assert (short.status, short.information) == (nt.STATUS_BUFFER_TOO_SMALL, 0)
    info = h.query_information(nt.FileStandardInformation, 24)
    assert (info.status, info.information, info.output) == (nt.STATUS_SUCCESS, 24, bytes(24))
    assert h.query_information(nt.FilePositionInformation, 7).status == nt.STATUS_BUFFER_TOO_SMALL
    position = h.query_information(nt.FilePositionInformation, 8)
    assert (position.status, position.information) == (nt.STATUS_SUCCESS, 8)
    assert h.query_information(99, 64).status == nt.STATUS_INVALID_PARAMETER
    assert h.set_information(nt.FileEndOfFileInformation, bytes(8)).status == nt.STATUS_SUCCESS
    assert h.set_information(nt.FilePositionInformation).status == nt.STATUS_INVALID_PARAMETER


def test_read_and_write_basics(lpt) -> None:  # type: ignore[no-untyped-def]
    printer = emu(lpt).chain[-1]
    assert isinstance(printer, Ieee1284Peripheral)
    h = lpt.create_file("LPT1.4")
    empty = h.write(b"")
    assert (empty.status, empty.information) == (nt.STATUS_SUCCESS, 0)
    assert h.read(0).status == nt.STATUS_SUCCESS
    written = h.write(b"hello printer")
    assert (written.status, written.information, written.output) == (nt.STATUS_SUCCESS, 13, b"")
    assert bytes(printer.received) == b"hello printer"
    printer.queue_reverse(b"back")
    read = h.read(100)
    assert (read.status, read.information, read.output) == (nt.STATUS_SUCCESS, 4, b"back")
    none = h.read(10)  # nothing more: success with fewer (no) bytes
    assert (none.status, none.information) == (nt.STATUS_SUCCESS, 0)
    early = nt.Irp(nt.IRP_MJ_WRITE, input=b"x", handle=h)
    early.cancel()
    h.device.dispatch(early)
    assert early.result == nt.IoStatus(nt.STATUS_CANCELLED, 0)  # A19


def test_write_to_a_daisy_device_selects_it_around_the_request(lpt) -> None:  # type: ignore[no-untyped-def]
    d0, _, printer = emu(lpt).chain
    h = lpt.create_file("LPT1.0")
    assert h.write(b"to d0").information == 5
    assert bytes(d0.received) == b"to d0" and bytes(printer.received) == b""
    assert not d0.selected and lpt.fdo.arbiter.owner is None


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        (Fault.PAPER_OUT, nt.STATUS_DEVICE_PAPER_EMPTY),
        (Fault.OFF_LINE, nt.STATUS_DEVICE_OFF_LINE),
        (Fault.POWER_OFF, nt.STATUS_DEVICE_POWERED_OFF),
        (Fault.UNPLUG, nt.STATUS_DEVICE_NOT_CONNECTED),
    ],
)
def test_write_line_errors_with_partial_count(fault: Fault, status: int) -> None:
    b = bus("emu:chain=printer", timer_start_s=2)
    printer = emu(b).chain[0]
    emu(b).inject(fault, printer, after_bytes=7)
    h = b.create_file("LPT1.4")
    result = h.write(bytes(50))
    assert (result.status, result.information) == (status, 7)
    assert b.fdo.arbiter.owner is None
    b.close()


# --- internal device controls (§8) -------------------------------------------------------------


def test_parclass_connect_and_callbacks(lpt) -> None:  # type: ignore[no-untyped-def]
    printer = emu(lpt).chain[-1]
    h = lpt.create_file("LPT1.4")
    code = nt.IOCTL_INTERNAL_PARCLASS_CONNECT
    assert idc(h, code, out=119).status == nt.STATUS_BUFFER_TOO_SMALL
    result = idc(h, code, out=120)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 120)
    info = nt.PARCLASS_INFORMATION.unpack(result.output)
    assert (info.Controller, info.EcrController, info.SpanOfController) == (0x378, 0x778, 8)
    assert info.HardwareCapabilities & nt.PPT_ECP_PRESENT and info.FifoDepth == 16
    cb = h.callbacks.callable
    write = cb(info.ParallelWrite)
    assert write(info.ParclassContext, b"x") == (nt.STATUS_INVALID_DEVICE_STATE, 0)  # not locked
    assert idc(h, nt.IOCTL_INTERNAL_LOCK_PORT).status == nt.STATUS_SUCCESS
    assert cb(info.DetermineIeeeModes)(info.ParclassContext) == 0x077F
    status = cb(info.NegotiateIeeeMode)(
        info.ParclassContext, nt.ECP_SW, nt.ECP_SW, nt.SAFE_MODE, True
    )
    assert status == nt.STATUS_SUCCESS
    again = cb(info.NegotiateIeeeMode)(
        info.ParclassContext, nt.ECP_SW, nt.ECP_SW, nt.SAFE_MODE, True
    )
    assert again == nt.STATUS_DEVICE_PROTOCOL_ERROR  # a mode is already set
    assert write(info.ParclassContext, b"ecp data") == (nt.STATUS_SUCCESS, 8)
    printer.queue_reverse(b"reply")
    assert cb(info.IeeeFwdToRevMode)(info.ParclassContext) == nt.STATUS_SUCCESS
    assert cb(info.ParallelRead)(info.ParclassContext, 5) == (nt.STATUS_SUCCESS, b"reply")
    assert cb(info.IeeeRevToFwdMode)(info.ParclassContext) == nt.STATUS_SUCCESS
    assert cb(info.TerminateIeeeMode)(info.ParclassContext) == nt.STATUS_SUCCESS
    assert printer.phase == "compatibility"
    assert idc(h, nt.IOCTL_INTERNAL_UNLOCK_PORT).status == nt.STATUS_SUCCESS
    assert bytes(printer.received) == b"ecp data"
    assert idc(h, nt.IOCTL_INTERNAL_PARCLASS_DISCONNECT).status == nt.STATUS_SUCCESS


def test_get_parport_fdo(lpt) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file("LPT1.4")
    code = nt.IOCTL_INTERNAL_GET_PARPORT_FDO
    assert idc(h, code, out=7).status == nt.STATUS_BUFFER_TOO_SMALL
    result = idc(h, code, out=8)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 8)
    assert h.callbacks.resolve(int.from_bytes(result.output, "little")) is lpt.fdo


def test_disconnect_idle_ends_a_session(lpt) -> None:  # type: ignore[no-untyped-def]
    printer = emu(lpt).chain[-1]
    h = lpt.create_file("LPT1.4")
    printer.queue_reverse(b"abcdef")
    assert h.read(2).output == b"ab"
    assert lpt.session.connected
    result = idc(h, nt.IOCTL_INTERNAL_DISCONNECT_IDLE)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 0)
    assert not lpt.session.connected and lpt.fdo.arbiter.owner is None


def test_pardot3_requests(lpt) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file("LPT1.4")
    for code in (
        nt.IOCTL_INTERNAL_PARDOT3_CONNECT,
        nt.IOCTL_INTERNAL_PARDOT3_RESET,
        nt.IOCTL_INTERNAL_PARDOT3_DISCONNECT,
    ):
        assert idc(h, code).status == nt.STATUS_SUCCESS
    signal = nt.IOCTL_INTERNAL_PARDOT3_SIGNAL
    assert idc(h, signal, bytes(7)).status == nt.STATUS_INVALID_PARAMETER
    event = h.callbacks.token(threading.Event())
    assert idc(h, signal, event.to_bytes(8, "little")).status == nt.STATUS_UNSUCCESSFUL  # NIBBLE


@pytest.mark.parametrize(
    "code",
    [nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE, nt.IOCTL_INTERNAL_SELECT_DEVICE, 0x00160200],
)
def test_unknown_and_port_only_internal_codes(lpt, code: int) -> None:  # type: ignore[no-untyped-def]
    result = idc(lpt.create_file("LPT1.4"), code)
    assert (result.status, result.information) == (nt.STATUS_INVALID_PARAMETER, 0)


def test_internal_codes_sent_as_device_control(lpt) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file("LPT1.4")
    result = dc(h, nt.IOCTL_INTERNAL_LOCK_PORT)  # A13
    assert (result.status, result.information) == (nt.STATUS_INVALID_PARAMETER, 0)
    assert lpt.fdo.arbiter.owner is None
    ping = dc(h, nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)  # the same value is PAR_PING
    assert (ping.status, ping.information) == (nt.STATUS_SUCCESS, 0)
    assert lpt.fdo.arbiter.owner is None


# --- device controls (§9.2) --------------------------------------------------------------------


def test_query_information_and_set_information(lpt) -> None:  # type: ignore[no-untyped-def]
    printer = emu(lpt).chain[-1]
    h = lpt.create_file("LPT1.4")
    assert dc(h, nt.IOCTL_PAR_QUERY_INFORMATION, out=0).status == nt.STATUS_BUFFER_TOO_SMALL
    result = dc(h, nt.IOCTL_PAR_QUERY_INFORMATION, out=1)
    assert (result.status, result.information, result.output) == (
        nt.STATUS_SUCCESS,
        1,
        bytes((nt.PARALLEL_SELECTED,)),
    )
    printer.inject(Fault.PAPER_OUT)
    assert dc(h, nt.IOCTL_PAR_QUERY_INFORMATION, out=1).output[0] == (
        nt.PARALLEL_PAPER_EMPTY | nt.PARALLEL_SELECTED
    )
    set_ = nt.IOCTL_PAR_SET_INFORMATION
    assert dc(h, set_, b"").status == nt.STATUS_BUFFER_TOO_SMALL
    assert dc(h, set_, b"\x02").status == nt.STATUS_INVALID_PARAMETER
    assert dc(h, set_, b"\x01").status == nt.STATUS_DEVICE_PAPER_EMPTY
    printer.clear(Fault.PAPER_OUT)
    result = dc(h, set_, b"\x01")
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 0)
    # The reset (nInit low) also reset the daisy-chain devices; their addresses were given back.
    assert [d.address for d in emu(lpt).chain[:2]] == [0, 1]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("location", "text"),
    [("LPT1.4", PRINTER_ID), ("LPT1.0", None), ("LPT1.1", None)],
)
def test_device_id_requests(lpt, location: str, text: bytes | None) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file(location)
    expected = text or lpt.lookup(location).device_id.text.encode()
    size = len(expected)
    assert dc(h, nt.IOCTL_PAR_QUERY_DEVICE_ID, out=0).status == nt.STATUS_BUFFER_TOO_SMALL
    short = dc(h, nt.IOCTL_PAR_QUERY_DEVICE_ID, out=size)  # one byte short of ID + NUL
    assert (short.status, short.information) == (nt.STATUS_BUFFER_TOO_SMALL, 0)
    full = dc(h, nt.IOCTL_PAR_QUERY_DEVICE_ID, out=size + 1)  # A15: ID + NUL is enough
    assert (full.status, full.information, full.output) == (
        nt.STATUS_SUCCESS,
        size + 1,
        expected + b"\0",
    )
    assert dc(h, nt.IOCTL_PAR_QUERY_DEVICE_ID_SIZE, out=3).status == nt.STATUS_BUFFER_TOO_SMALL
    result = dc(h, nt.IOCTL_PAR_QUERY_DEVICE_ID_SIZE, out=4)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 4)
    assert nt.PAR_DEVICE_ID_SIZE_INFORMATION.unpack(result.output).DeviceIdSize == size + 1
    raw = dc(h, nt.IOCTL_PAR_QUERY_RAW_DEVICE_ID, out=size + 3)
    assert (raw.status, raw.information) == (nt.STATUS_SUCCESS, size + 3)
    assert raw.output == (size + 2).to_bytes(2, "big") + expected + b"\0"
    assert (
        dc(h, nt.IOCTL_PAR_QUERY_RAW_DEVICE_ID, out=size + 2).status == nt.STATUS_BUFFER_TOO_SMALL
    )
    assert dc(h, nt.IOCTL_PAR_QUERY_RAW_DEVICE_ID, out=0).status == nt.STATUS_BUFFER_TOO_SMALL


def test_device_id_failure(lpt) -> None:  # type: ignore[no-untyped-def]
    emu(lpt).chain[-1].inject(Fault.REFUSE_NEGOTIATION)
    h = lpt.create_file("LPT1.4")
    result = dc(h, nt.IOCTL_PAR_QUERY_DEVICE_ID, out=500)
    assert (result.status, result.information) == (nt.STATUS_IO_DEVICE_ERROR, 0)  # A15
    assert dc(h, nt.IOCTL_PAR_QUERY_DEVICE_ID_SIZE, out=4).status == nt.STATUS_IO_DEVICE_ERROR


def test_modes_get_default_negotiate_caps(lpt) -> None:  # type: ignore[no-untyped-def]
    printer = emu(lpt).chain[-1]
    h = lpt.create_file("LPT1.4")
    assert dc(h, nt.IOCTL_IEEE1284_GET_MODE, out=3).status == nt.STATUS_BUFFER_TOO_SMALL
    mode = dc(h, nt.IOCTL_IEEE1284_GET_MODE, out=4)
    assert (mode.status, mode.information) == (nt.STATUS_SUCCESS, 4)
    masks = nt.PARCLASS_NEGOTIATION_MASK.unpack(mode.output)
    assert (masks.usReadMask, masks.usWriteMask) == (nt.NIBBLE, nt.CENTRONICS)
    assert dc(h, nt.IOCTL_PAR_GET_DEFAULT_MODES, out=3).status == nt.STATUS_BUFFER_TOO_SMALL
    defaults = nt.PARCLASS_NEGOTIATION_MASK.unpack(
        dc(h, nt.IOCTL_PAR_GET_DEFAULT_MODES, out=4).output
    )
    assert (defaults.usReadMask, defaults.usWriteMask) == (nt.NIBBLE, nt.CENTRONICS)  # A14
    negotiate = nt.IOCTL_IEEE1284_NEGOTIATE
    ecp = nt.PARCLASS_NEGOTIATION_MASK(usReadMask=nt.ECP_ANY, usWriteMask=nt.ECP_ANY).pack()
    assert dc(h, negotiate, ecp[:3], 4).status == nt.STATUS_INVALID_PARAMETER  # A16
    assert dc(h, negotiate, ecp, 3).status == nt.STATUS_INVALID_PARAMETER
    result = dc(h, negotiate, ecp, 4)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 4)
    chosen = nt.PARCLASS_NEGOTIATION_MASK.unpack(result.output)
    assert (chosen.usReadMask, chosen.usWriteMask) == (nt.ECP_HW_NOIRQ, nt.ECP_HW_NOIRQ)
    assert printer.phase == "ecp-forward"
    same = dc(h, negotiate, chosen.pack(), 4)  # equal to the current modes: at once
    assert (same.status, same.information) == (nt.STATUS_SUCCESS, 4)
    assert h.write(b"in ecp").information == 6
    assert bytes(printer.received) == b"in ecp"
    nothing = nt.PARCLASS_NEGOTIATION_MASK(usReadMask=0, usWriteMask=0).pack()
    failed = dc(h, negotiate, nothing, 4)
    assert (failed.status, failed.information) == (nt.STATUS_INVALID_PARAMETER, 0)
    caps = nt.IOCTL_PAR_GET_DEVICE_CAPS
    assert dc(h, caps, b"\0", 2).status == nt.STATUS_BUFFER_TOO_SMALL
    assert dc(h, caps, b"\0\0", 1).status == nt.STATUS_BUFFER_TOO_SMALL
    result = dc(h, caps, (nt.EPP_HW).to_bytes(2, "little"), 2)
    assert (result.status, result.information) == (nt.STATUS_SUCCESS, 2)
    assert int.from_bytes(result.output, "little") == 0x077F & ~nt.EPP_HW  # the bad mode left out


def test_addresses_and_host_recovery(lpt) -> None:  # type: ignore[no-untyped-def]
    printer = emu(lpt).chain[-1]
    h = lpt.create_file("LPT1.4")
    for code in (
        nt.IOCTL_PAR_SET_WRITE_ADDRESS,
        nt.IOCTL_PAR_SET_READ_ADDRESS,
        nt.IOCTL_PAR_ECP_HOST_RECOVERY,
    ):
        assert dc(h, code, b"").status == nt.STATUS_INVALID_PARAMETER
    for code in (nt.IOCTL_PAR_GET_WRITE_ADDRESS, nt.IOCTL_PAR_GET_READ_ADDRESS):
        assert dc(h, code, out=0).status == nt.STATUS_BUFFER_TOO_SMALL
    assert dc(h, nt.IOCTL_PAR_SET_READ_ADDRESS, b"\x05").status == nt.STATUS_SUCCESS
    assert dc(h, nt.IOCTL_PAR_GET_READ_ADDRESS, out=1).output == b"\x05"
    assert dc(h, nt.IOCTL_PAR_SET_WRITE_ADDRESS, b"\x03").status == nt.STATUS_SUCCESS  # no session
    get = dc(h, nt.IOCTL_PAR_GET_WRITE_ADDRESS, out=1)
    assert (get.status, get.information, get.output) == (nt.STATUS_SUCCESS, 1, b"\x03")
    ecp = nt.PARCLASS_NEGOTIATION_MASK(usReadMask=nt.ECP_SW, usWriteMask=nt.ECP_SW).pack()
    assert dc(h, nt.IOCTL_IEEE1284_NEGOTIATE, ecp, 4).status == nt.STATUS_SUCCESS
    assert dc(h, nt.IOCTL_PAR_SET_WRITE_ADDRESS, b"\x07").status == nt.STATUS_SUCCESS
    assert printer.ecp_channel == 7  # applied now: a channel address on the wire
    assert dc(h, nt.IOCTL_PAR_ECP_HOST_RECOVERY, b"\x01").status == nt.STATUS_SUCCESS


def test_ping_is_port_free_location(lpt) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file("LPT1.4")
    ping = dc(h, nt.IOCTL_PAR_PING)
    assert (ping.status, ping.information) == (nt.STATUS_SUCCESS, 0)
    code = nt.IOCTL_PAR_IS_PORT_FREE
    assert dc(h, code, out=0).status == nt.STATUS_BUFFER_TOO_SMALL
    free_now = dc(h, code, out=1)
    assert (free_now.status, free_now.information, free_now.output) == (
        nt.STATUS_SUCCESS,
        1,
        b"\x01",
    )
    assert lpt.fdo.arbiter.owner is None
    port = lpt.create_file(PORT)
    allocate(port)
    assert dc(h, code, out=1).output == b"\x00"
    assert dc(h, nt.IOCTL_PAR_QUERY_LOCATION, out=6).status == nt.STATUS_BUFFER_TOO_SMALL
    location = dc(h, nt.IOCTL_PAR_QUERY_LOCATION, out=7)
    assert (location.status, location.information, location.output) == (
        nt.STATUS_SUCCESS,
        7,
        b"LPT1.4\0",
    )
    raw = lpt.create_file("LPT1")
    assert dc(raw, nt.IOCTL_PAR_QUERY_LOCATION, out=5).output == b"LPT1\0"


def test_serial_timeout_checks(lpt) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file("LPT1.4")
    set_ = nt.IOCTL_SERIAL_SET_TIMEOUTS
    assert dc(h, set_, bytes(19)).status == nt.STATUS_BUFFER_TOO_SMALL
    low = nt.SERIAL_TIMEOUTS(WriteTotalTimeoutConstant=1999).pack()
    assert dc(h, set_, low).status == nt.STATUS_INVALID_PARAMETER
    assert dc(h, nt.IOCTL_SERIAL_GET_TIMEOUTS, out=19).status == nt.STATUS_BUFFER_TOO_SMALL
    get = dc(h, nt.IOCTL_SERIAL_GET_TIMEOUTS, out=20)
    assert (get.status, get.information) == (nt.STATUS_SUCCESS, 20)
    assert nt.SERIAL_TIMEOUTS.unpack(get.output) == nt.SERIAL_TIMEOUTS(
        WriteTotalTimeoutConstant=300_000
    )


@pytest.mark.parametrize("code", [nt.IOCTL_PAR_TEST, 0x00160400, nt.IOCTL_INTERNAL_UNLOCK_PORT])
def test_unknown_device_controls(lpt, code: int) -> None:  # type: ignore[no-untyped-def]
    result = dc(lpt.create_file("LPT1.4"), code)
    assert (result.status, result.information) == (nt.STATUS_INVALID_PARAMETER, 0)


def test_requests_to_a_vanished_device(lpt) -> None:  # type: ignore[no-untyped-def]
    h = lpt.create_file("LPT1.4")
    emu(lpt).inject(Fault.UNPLUG, -1)
    assert lpt.rescan().removed == ["LPT1.4"]
    for result in (
        h.write(b"x"),
        h.read(4),
        dc(h, nt.IOCTL_PAR_QUERY_INFORMATION, out=1),
        idc(h, nt.IOCTL_INTERNAL_LOCK_PORT),
    ):
        assert (result.status, result.information) == (nt.STATUS_DEVICE_REMOVED, 0)
    with pytest.raises(nt.NtStatusError):
        lpt.create_file("LPT1.4")


def test_a_session_held_between_requests_gives_way_to_a_waiter_at_the_next_request() -> None:
    """After a request in a negotiated mode (ECP here) the device keeps the port and its session
    while nobody waits; a client that asks for the port meanwhile gets it when the device's next
    request ends, not after 250 ms of the device being idle (a client writing back to back
    would otherwise keep everybody out)."""
    b = bus("emu:")
    h = b.create_file("LPT1.4")
    masks = nt.PARCLASS_NEGOTIATION_MASK(usReadMask=nt.ECP_ANY, usWriteMask=nt.ECP_ANY).pack()
    assert h.device_control(nt.IOCTL_IEEE1284_NEGOTIATE, masks, 4).status == nt.STATUS_SUCCESS
    assert h.write(b"first").information == 5
    assert b.fdo.owner is b.lookup("LPT1.4") and b.fdo.session.connected  # kept: nobody waits
    p = b.create_file(PORT)
    waiting = allocate(p)
    assert not waiting.done  # the clock stands still: the 250 ms idle rule cannot end it
    assert h.write(b"second").information == 6
    assert waiting.wait(30) is not None and waiting.status == nt.STATUS_SUCCESS
    assert b.fdo.owner is p.file and not b.fdo.session.connected
    assert p.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE).status == 0
    h.close()
    p.close()
    b.close()
