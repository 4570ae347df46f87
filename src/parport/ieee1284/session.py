"""The IEEE 1284 session on one port: which mode is negotiated, which way the bus faces, and
the read/write entry points that get there (ieee1284.md §2; windows-parport.md §3.4, §10.8).

A :class:`Session` turns the Windows mode bits (CENTRONICS, NIBBLE, BYTE_BIDIR, EPP_HW, ECP_SW,
…) into negotiation, turnarounds and the transfer routines of :mod:`.transfer`. Every wait is
on the backend's clock with the 35 ms IEEE 1284 limit, so a refused or silent peripheral gives a
result, never a hang; whatever happens, :meth:`Session.terminate` brings the port back to
compatibility mode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from .. import nt
from ..hw.backend import PortBackend
from . import transfer
from .detect import DetectedHardware, detect
from .devid import DeviceId, parse_device_id, read_device_id
from .timing import DEVICE_ID_DELAY_US, NEGOTIATION_SETTLE_US, STROBE_US, TL_US
from .transfer import Transfer

__all__ = [
    "FORWARD_MODES",
    "REVERSE_MODES",
    "Negotiation",
    "Session",
    "fastest_mode",
    "request_byte",
]

log = logging.getLogger(__name__)

Phase = nt.P1284_PHASE
FORWARD_MODES = (
    nt.CENTRONICS
    | nt.IEEE_COMPATIBILITY
    | nt.EPP_HW
    | nt.EPP_SW
    | nt.BOUNDED_ECP
    | nt.ECP_HW_NOIRQ
    | nt.ECP_HW_IRQ
    | nt.ECP_SW
)
REVERSE_MODES = (
    nt.NIBBLE
    | nt.CHANNEL_NIBBLE
    | nt.BYTE_BIDIR
    | nt.EPP_HW
    | nt.EPP_SW
    | nt.BOUNDED_ECP
    | nt.ECP_HW_NOIRQ
    | nt.ECP_HW_IRQ
    | nt.ECP_SW
)
_ECP = nt.ECP_ANY
_EPP = nt.EPP_ANY
_ECP_RLE = 0x30  # ECP with run-length encoding (ieee1284.md §2.3)


class Negotiation(Enum):
    """How a negotiation ended (Linux's 0 / 1 / -1)."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"  # the peripheral answered but refused the mode (XFlag, or no event 6)
    NOT_IEEE1284 = "not IEEE 1284"  # no event 2: nothing IEEE 1284 is there


def request_byte(mode: int, device_id: bool = False) -> int | None:
    """The extensibility request byte for one Windows mode bit (None: compatibility mode)."""
    if mode in (nt.CENTRONICS, nt.IEEE_COMPATIBILITY, nt.NONE):
        return None
    if mode in (nt.NIBBLE, nt.CHANNEL_NIBBLE):
        base = nt.NIBBLE_EXTENSIBILITY
    elif mode == nt.BYTE_BIDIR:
        base = nt.BYTE_EXTENSIBILITY
    elif mode == nt.BOUNDED_ECP:
        base = nt.BECP_EXTENSIBILITY
    elif mode & _ECP:
        base = nt.ECP_EXTENSIBILITY
    elif mode & _EPP:
        base = nt.EPP_EXTENSIBILITY
    else:
        raise ValueError(f"not a single IEEE 1284 mode bit: {mode:#06x}")
    return base | (nt.DEVICE_ID_REQ if device_id else 0)


def fastest_mode(mask: int, supported: int, forward: bool) -> int:
    """The fastest mode in ``mask & supported`` for one direction (the documented order)."""
    usable = mask & supported & (FORWARD_MODES if forward else REVERSE_MODES)
    for mode in nt.MODE_SPEED_ORDER:
        if usable & mode:
            return mode
    return nt.NONE


@dataclass
class _State:
    request: int | None = None  # the negotiated request byte; None in compatibility mode
    phase: Phase = Phase.PHASE_FORWARD_IDLE
    reverse: bool = False  # ECP: the bus is turned around


class Session:
    """IEEE 1284 state and transfers for one port (not thread-safe: the port owner uses it)."""

    def __init__(
        self,
        port: PortBackend,
        hardware: DetectedHardware | None = None,
        *,
        budget_us: float = 300_000_000.0,
        ecp_rle: bool = True,
    ) -> None:
        self.port = port
        self.ecp_rle = ecp_rle  # ask for ECP with RLE first
        self.hardware = hardware if hardware is not None else detect(port)
        self.budget_us = budget_us
        self._set(_State())
        self.forward_mode = nt.CENTRONICS
        self.reverse_mode = nt.NIBBLE
        if self.hardware.ecr:
            port.write_ecr(0x34)  # PS/2 mode: the direction bit works, interrupts masked
        port.write_control(0x0C)

    # --- state ----------------------------------------------------------------------------------
    @property
    def phase(self) -> Phase:
        return self._state.phase

    @property
    def negotiated(self) -> int | None:
        """The request byte of the session in force, or None in compatibility mode."""
        return self._state.request

    def _set(self, state: _State) -> None:
        self._state = state
        # An IEEE 1284 session (anything but compatibility mode) is in force: a plain attribute,
        # since the port's release path reads it on every release.
        self.connected = state.request is not None

    def host_modes(self) -> int:
        """The Windows mode bits this port's hardware can do."""
        hw = self.hardware
        modes = nt.CENTRONICS | nt.NIBBLE | nt.CHANNEL_NIBBLE
        if hw.ecp:
            modes |= nt.IEEE_COMPATIBILITY | nt.ECP_HW_NOIRQ
            if hw.irq is not None:
                modes |= nt.ECP_HW_IRQ
        if hw.ps2:
            modes |= nt.BYTE_BIDIR | nt.ECP_SW | nt.EPP_SW
        if hw.epp:
            modes |= nt.EPP_HW
        return modes

    # --- negotiation and termination ------------------------------------------------------------
    def negotiate(self, request: int) -> Negotiation:
        """Events 0–6 (and 30/31 for ECP) from compatibility mode (ieee1284.md §2.3)."""
        port = self.port
        if self.connected:
            self.terminate()
        port.write_control(0x0C)
        port.sleep(1)
        self._state.phase = Phase.PHASE_NEGOTIATION
        port.write_data(request & 0xFF)  # event 0
        port.sleep(NEGOTIATION_SETTLE_US)
        port.write_control(0x06)  # event 1: nSelectIn high, nAutoFd low
        if port.wait_status(0x78, 0x38, TL_US) is None:  # event 2
            port.write_control(0x0C)
            self._set(_State())
            return Negotiation.NOT_IEEE1284
        port.write_control(0x07)  # event 3: the request byte is latched
        port.sleep(STROBE_US)
        port.write_control(0x04)  # event 4
        dsr = port.wait_status(nt.DSR_NOT_ACK, nt.DSR_NOT_ACK, TL_US)  # event 6
        xflag = dsr is not None and bool(dsr & nt.DSR_SELECT)
        if dsr is None or (request & ~nt.DEVICE_ID_REQ != 0 and not xflag):
            self._set(_State(request, Phase.PHASE_TERMINATE))
            self.terminate()
            return Negotiation.REJECTED
        base = request & ~nt.DEVICE_ID_REQ
        if base in (nt.ECP_EXTENSIBILITY, _ECP_RLE, nt.BECP_EXTENSIBILITY):
            port.write_control(0x06)  # event 30: HostAck low
            port.wait_status(nt.DSR_PERROR, nt.DSR_PERROR, TL_US)  # event 31 (only logged)
            port.write_control(0x04)
            self._set(_State(request, Phase.PHASE_FORWARD_IDLE))
        elif base == nt.EPP_EXTENSIBILITY:
            self._set(_State(request, Phase.PHASE_FORWARD_IDLE))
        else:
            self._set(_State(request, Phase.PHASE_REVERSE_IDLE))
        port.annotate(mode=self._mode_bits(request))
        return Negotiation.ACCEPTED

    def _mode_bits(self, request: int) -> int:
        base = request & ~nt.DEVICE_ID_REQ
        if base == nt.NIBBLE_EXTENSIBILITY:
            return nt.NIBBLE
        if base == nt.BYTE_EXTENSIBILITY:
            return nt.BYTE_BIDIR
        if base == nt.EPP_EXTENSIBILITY:
            return nt.EPP_HW if self.hardware.epp else nt.EPP_SW
        if base == nt.BECP_EXTENSIBILITY:
            return nt.BOUNDED_ECP
        return nt.ECP_HW_NOIRQ if self.hardware.ecp else nt.ECP_SW

    def terminate(self) -> None:
        """Back to compatibility mode from any phase: EPP by the nInit pulse (events 68, 69),
        the others by events 22–28 (ECP turned forward first). Timeouts are only logged."""
        port = self.port
        state = self._state
        if state.request is None:
            port.write_control(0x0C)
            return
        base = state.request & ~nt.DEVICE_ID_REQ
        if base == nt.EPP_EXTENSIBILITY:
            port.write_control(0x00)  # event 68: nInit low
            port.sleep(50)
            port.write_control(0x0C)  # event 69
        else:
            if state.reverse:
                self._ecp_rev_to_fwd()
            port.write_control(0x0C)  # event 22
            if port.wait_status(nt.DSR_NOT_ACK, 0, TL_US) is None:  # event 24
                log.debug("termination: no event 24")
            port.write_control(0x0E)  # event 25
            if port.wait_status(nt.DSR_NOT_ACK, nt.DSR_NOT_ACK, TL_US) is None:  # event 27
                log.debug("termination: no event 27")
            port.write_control(0x0C)  # event 28
        self._set(_State())
        port.annotate(mode=nt.NONE)

    # --- device ID and mode discovery -----------------------------------------------------------
    def device_id_bytes(self) -> bytes | None:
        """The raw device ID (2 length bytes + text) read in nibble mode, or None (§9.5)."""
        self.terminate()
        self.port.sleep(DEVICE_ID_DELAY_US)
        if self.negotiate(nt.NIBBLE_EXTENSIBILITY | nt.DEVICE_ID_REQ) is not Negotiation.ACCEPTED:
            return None
        remaining = [True]

        def read(count: int) -> bytes:
            result = transfer.nibble_read(self.port, count)
            remaining[0] = result.more
            return result.data

        raw = read_device_id(read, lambda: remaining[0])
        self.terminate()
        return raw

    def device_id(self) -> DeviceId | None:
        raw = self.device_id_bytes()
        if raw is None or len(raw) <= 2:
            return None
        return parse_device_id(raw[2:].decode("ascii", "replace"))

    def determine_modes(self) -> int:
        """The Windows mode bits both this port and the peripheral support (DetermineIeeeModes).

        Each extended mode is tried by negotiating it and terminating again.
        """
        host = self.host_modes()
        self.terminate()
        supported = nt.CENTRONICS | (host & nt.IEEE_COMPATIBILITY)
        if self.negotiate(nt.NIBBLE_EXTENSIBILITY) is not Negotiation.ACCEPTED:
            return supported
        self.terminate()
        supported |= nt.NIBBLE | nt.CHANNEL_NIBBLE
        for request, bits in (
            (nt.BYTE_EXTENSIBILITY, nt.BYTE_BIDIR),
            (nt.ECP_EXTENSIBILITY, nt.ECP_SW | nt.ECP_HW_NOIRQ | nt.ECP_HW_IRQ),
            (nt.EPP_EXTENSIBILITY, nt.EPP_SW | nt.EPP_HW),
        ):
            if host & bits and self.negotiate(request) is Negotiation.ACCEPTED:
                supported |= host & bits
            self.terminate()
        return supported

    # --- turnarounds ----------------------------------------------------------------------------
    def _ecp_fwd_to_rev(self) -> bool:
        port = self.port
        port.write_control(0x06)  # event 38: HostAck low
        port.write_control(0x26)  # data drivers off
        port.sleep(STROBE_US)
        port.write_control(0x22)  # event 39: nReverseRequest low
        if port.wait_status(nt.DSR_PERROR, 0, TL_US) is None:  # event 40
            port.write_control(0x06)
            return False
        self._state.reverse = True
        self._state.phase = Phase.PHASE_REVERSE_IDLE
        return True

    def _ecp_rev_to_fwd(self) -> bool:
        port = self.port
        port.write_control(0x26)  # event 47: nReverseRequest high, drivers still off
        ok = port.wait_status(nt.DSR_PERROR, nt.DSR_PERROR, TL_US) is not None  # event 49
        port.write_control(0x06)
        port.write_control(0x04)
        self._state.reverse = False
        self._state.phase = Phase.PHASE_FORWARD_IDLE
        return ok

    def fwd_to_rev(self) -> int:
        """IeeeFwdToRevMode: connect the reverse protocol (no-op if already reverse)."""
        return self._enter(self.reverse_mode, forward=False)

    def rev_to_fwd(self) -> int:
        """IeeeRevToFwdMode: connect the forward protocol (no-op if already forward)."""
        return self._enter(self.forward_mode, forward=True)

    def _enter(self, mode: int, forward: bool) -> int:
        """Get the bus into ``mode`` facing ``forward``; an NTSTATUS."""
        request = request_byte(mode)
        state = self._state
        if request is None:
            if self.connected:
                self.terminate()
            return nt.STATUS_SUCCESS
        wanted = {request}
        if request == nt.ECP_EXTENSIBILITY:
            wanted.add(_ECP_RLE)  # ECP with run-length encoding serves every ECP mode
        if state.request is None or state.request & ~nt.DEVICE_ID_REQ not in wanted:
            result = Negotiation.REJECTED
            if request == nt.ECP_EXTENSIBILITY and self.ecp_rle:
                result = self.negotiate(_ECP_RLE)  # RLE first; plain ECP if it is refused
            if result is not Negotiation.ACCEPTED:
                result = self.negotiate(request)
            if result is not Negotiation.ACCEPTED:
                return nt.STATUS_DEVICE_PROTOCOL_ERROR
        if mode & _ECP:
            turned = True
            if forward and self._state.reverse:
                turned = self._ecp_rev_to_fwd()
            elif not forward and not self._state.reverse:
                turned = self._ecp_fwd_to_rev()
            if not turned:
                return nt.STATUS_IO_TIMEOUT
        return nt.STATUS_SUCCESS

    # --- transfers ------------------------------------------------------------------------------
    def write(
        self,
        data: bytes | bytearray | memoryview,
        mode: int | None = None,
        *,
        budget_us: float | None = None,
        cancelled: Callable[[], bool] = lambda: False,
        on_stall: Callable[[int], bool] | None = None,
        address: bool = False,
    ) -> Transfer:
        """Write with ``mode`` (default: the current forward mode), negotiating as needed.

        ``address`` sends EPP address bytes or ECP commands (channel addresses) instead of data.
        A failure that leaves the peripheral in doubt ends with the port back in compatibility
        mode.
        """
        data = bytes(data)  # any bytes-like object; the routines below take bytes
        mode = self.forward_mode if mode is None else mode
        budget = self.budget_us if budget_us is None else budget_us
        start = self.port.accesses
        status = self._enter(mode, forward=True)
        if status != nt.STATUS_SUCCESS:
            self.terminate()
            return Transfer(status, 0, accesses=self.port.accesses - start)
        port = self.port
        if mode == nt.CENTRONICS or (mode == nt.IEEE_COMPATIBILITY and not self.hardware.ecp):
            result = transfer.compat_write(port, data, budget, cancelled, on_stall)
        elif mode == nt.IEEE_COMPATIBILITY:
            result = transfer.fifo_compat_write(
                port, data, budget, self.hardware.fifo_depth, cancelled
            )
        elif mode == nt.EPP_HW and self.hardware.epp:
            result = transfer.epp_write_hw(port, data, address, cancelled)
        elif mode & _EPP:
            result = transfer.epp_write_sw(port, data, address, cancelled)
        elif mode in (nt.ECP_HW_NOIRQ, nt.ECP_HW_IRQ) and self.hardware.ecp:
            result = transfer.ecp_write_hw(
                port, data, address, cancelled, fifo_depth=self.hardware.fifo_depth
            )
        elif mode & _ECP:
            result = transfer.ecp_write_sw(port, data, address, cancelled)
        else:
            raise ValueError(f"{mode:#06x} is not a forward mode")
        if result.status == nt.STATUS_IO_TIMEOUT:
            self.terminate()
        return Transfer(result.status, result.count, accesses=port.accesses - start)

    def read(
        self,
        length: int,
        mode: int | None = None,
        *,
        cancelled: Callable[[], bool] = lambda: False,
        address: bool = False,
    ) -> Transfer:
        """Read up to ``length`` bytes with ``mode`` (default: the current reverse mode)."""
        mode = self.reverse_mode if mode is None else mode
        start = self.port.accesses
        status = self._enter(mode, forward=False)
        if status != nt.STATUS_SUCCESS:
            self.terminate()
            return Transfer(status, 0, accesses=self.port.accesses - start)
        port = self.port
        if self._state.request is not None and self._state.request & ~nt.DEVICE_ID_REQ in (
            nt.NIBBLE_EXTENSIBILITY,
            nt.BYTE_EXTENSIBILITY,
        ):
            self._data_available_ack()
        if mode in (nt.NIBBLE, nt.CHANNEL_NIBBLE):
            result = transfer.nibble_read(port, length, cancelled)
        elif mode == nt.BYTE_BIDIR:
            result = transfer.byte_read(port, length, cancelled)
        elif mode == nt.EPP_HW and self.hardware.epp:
            result = transfer.epp_read_hw(port, length, address, cancelled)
        elif mode & _EPP:
            result = transfer.epp_read_sw(port, length, address, cancelled)
        elif mode in (nt.ECP_HW_NOIRQ, nt.ECP_HW_IRQ) and self.hardware.ecp:
            result = transfer.ecp_read_hw(port, length, cancelled)
        elif mode & _ECP:
            result = transfer.ecp_read_sw(port, length, cancelled)
        else:
            raise ValueError(f"{mode:#06x} is not a reverse mode")
        if result.status == nt.STATUS_IO_TIMEOUT:
            self.terminate()
        elif self._state.request is not None and not mode & (_ECP | _EPP):
            self._state.phase = (
                Phase.PHASE_DATA_AVAILABLE if result.more else Phase.PHASE_REVERSE_IDLE
            )
        return Transfer(
            result.status, result.count, result.data, port.accesses - start, result.more
        )

    def _data_available_ack(self) -> None:
        """In reverse idle with nDataAvail low: events 20 and 21 before the next event 7."""
        port = self.port
        if self._state.phase != Phase.PHASE_REVERSE_IDLE:
            return
        dsr = port.read_status()
        if dsr & nt.DSR_NOT_FAULT:
            return
        port.write_control(0x04)  # event 20: HostBusy high
        port.wait_status(nt.DSR_PERROR, 0, TL_US)  # event 21: AckDataReq low
        self._state.phase = Phase.PHASE_DATA_AVAILABLE

    def data_available(self) -> bool:
        """Whether the peripheral signals reverse data (nDataAvail / nPeriphRequest low)."""
        if not self.connected:
            return False
        return not self.port.read_status() & nt.DSR_NOT_FAULT
