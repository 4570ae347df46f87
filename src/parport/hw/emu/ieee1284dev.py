"""An emulated IEEE 1284 peripheral: the printer at the end of the chain, and the function inside
every emulated daisy-chain device.

It answers, as a real peripheral would, every host sequence of ieee1284.md §2–§3:

* compatibility mode (§2.2): data latched on the falling edge of nStrobe, Busy high while the byte
  is processed, then an nAck pulse; paper-out, off-line, fault and powered-off status (§3.9 of
  windows-parport.md gives the predicates the host applies);
* negotiation (§2.3, events 0–6) with the request-byte table, and the extensibility link;
* nibble and byte reverse transfers (§2.4, §2.5) with nDataAvail, the reverse-idle interrupt
  (events 18–21) and the device ID (§3.4) with its 2-byte length prefix;
* ECP forward (data and command bytes, channel addresses, run-length counts) and reverse (with
  run-length encoding when ECP+RLE was negotiated), with both turnarounds (§2.6);
* EPP data and address cycles, read and write (§2.7);
* termination (§2.8, events 22–28), and reset on nInit low.

Line names in comments are the IEEE 1284 event numbers of ieee1284.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..clock import ScheduledCall
from .lines import BUSY, NACK, NAUTOFD, NFAULT, NINIT, NSELECTIN, NSTROBE, PERROR, SELECT
from .peripheral import Fault, Peripheral

__all__ = ["MODES", "Ieee1284Peripheral", "Printer", "device_id_stream"]

MODES = frozenset({"byte", "ecp", "ecp_rle", "epp", "device_id", "ext_link"})

# Phases of the peripheral's state machine.
COMPAT = 0
NEG_REQUESTED = 1  # event 2 answered, waiting for the request byte's strobe (event 3)
NEG_LATCHED = 2  # request latched, waiting for nStrobe and nAutoFd high (event 4)
REVERSE = 3  # nibble or byte mode
REJECTED = 4  # a refused request: waiting for termination
ECP_FWD = 5
ECP_REV = 6
EPP = 7
TERM_24 = 8  # events 23/24 done, waiting for nAutoFd low (event 25)
TERM_27 = 9  # events 26/27 done, waiting for nAutoFd high (event 28)
EXT_LINK = 10  # extensibility link accepted, waiting for the real request (events 51–55)

PHASE_NAMES = {
    COMPAT: "compatibility",
    NEG_REQUESTED: "negotiation",
    NEG_LATCHED: "negotiation",
    REVERSE: "reverse",
    REJECTED: "rejected",
    ECP_FWD: "ecp-forward",
    ECP_REV: "ecp-reverse",
    EPP: "epp",
    TERM_24: "termination",
    TERM_27: "termination",
    EXT_LINK: "extensibility-link",
}


def device_id_stream(text: str, length_format: str = "be") -> bytes:
    """The bytes a peripheral sends for its device ID: a 2-byte length prefix, then the text.

    ``length_format`` is ``"be"`` (big-endian, counting the two prefix bytes, as IEEE 1284 says),
    or one of the variants real devices send (ieee1284.md §3.3): ``"le"`` (little-endian),
    ``"be-2"`` (big-endian, not counting the prefix).
    """
    body = text.encode("ascii", "replace")
    total = len(body) + 2
    if length_format == "be":
        prefix = total.to_bytes(2, "big")
    elif length_format == "le":
        prefix = total.to_bytes(2, "little")
    elif length_format == "be-2":
        prefix = len(body).to_bytes(2, "big")
    else:
        raise ValueError(f"unknown device ID length format {length_format!r}")
    return prefix + body


def _nibble_pins(value: int) -> int:
    """Status pin levels carrying a nibble: nFault bit 0, Select bit 1, PError bit 2, Busy bit 3."""
    return (
        (NFAULT if value & 1 else 0)
        | (SELECT if value & 2 else 0)
        | (PERROR if value & 4 else 0)
        | (BUSY if value & 8 else 0)
    )


class Ieee1284Peripheral(Peripheral):
    """An IEEE 1284 peripheral (see the module docstring). The end of the line: no pass-through."""

    kind = "ieee1284"

    def __init__(
        self,
        name: str | None = None,
        device_id: str = "",
        *,
        modes: Iterable[str] = ("byte", "ecp", "ecp_rle", "epp", "device_id", "ext_link"),
        busy_ns: int = 1000,
        ack_ns: int = 500,
        response_ns: int = 0,
        id_length_format: str = "be",
    ) -> None:
        super().__init__(name, device_id)
        self.modes = frozenset(modes)
        unknown = self.modes - MODES
        if unknown:
            raise ValueError(f"unknown IEEE 1284 modes {sorted(unknown)}; known: {sorted(MODES)}")
        self.busy_ns = busy_ns
        self.ack_ns = ack_ns
        self.response_ns = response_ns
        self.id_length_format = id_length_format
        self.reverse_data = bytearray()  # what the device has to send the host (not the ID)
        self.epp_address = 0
        self.epp_addresses = bytearray()  # EPP address bytes written by the host
        self.ecp_channel = 0
        self.ecp_channels: dict[int, bytearray] = {}
        self.negotiations: list[int] = []  # every request byte seen at event 3
        self.overruns = 0  # strobes that came while the device was busy
        self.power_on_reset()

    # --- state ----------------------------------------------------------------------------------
    def power_on_reset(self) -> None:
        self._phase = COMPAT
        self._ctl = NSTROBE | NAUTOFD | NINIT  # what the host drove last, as pin levels
        self._data: int | None = 0
        self._st = 0  # status pins while in an IEEE 1284 phase
        self._xflag = 0  # SELECT if the negotiated mode's XFlag is high
        self._busy = False  # compatibility mode: processing a byte
        self._ack_low = False  # compatibility mode: nAck pulse
        self._ready_at = 0  # compatibility mode: when the nAck pulse of the last byte ends
        self._compat_timer: ScheduledCall | None = None  # the Busy/nAck step pending
        self._drive_data: int | None = None
        self._request = 0
        self._mode_byte = False
        self._ecp_setup = False
        self._ecp_rle = False
        self._ecp_latch: tuple[int, bool] | None = None
        self._ecp_repeat = 1
        self._ecp_pending: tuple[int, bool, int] | None = None
        self._rs = 0  # reverse sub-state
        self._src: bytes | bytearray = self.reverse_data
        self._src_pos = 0
        self._rev_pos = 0

    @property
    def phase(self) -> str:
        """The IEEE 1284 phase: ``compatibility``, ``reverse``, ``ecp-forward``, ``epp``…"""
        return PHASE_NAMES[self._phase]

    def queue_reverse(self, data: bytes) -> None:
        """Give the device data to send to the host (nibble, byte, ECP reverse, EPP reads)."""
        had = self._has_data()
        self.reverse_data += data
        if self._phase == REVERSE and self._src is self.reverse_data and not had and data:
            self._data_arrived()
        elif self._phase == ECP_REV and data:
            self._st &= ~NFAULT  # nPeriphRequest: the device has data
            if not self._ctl & NAUTOFD and self._rs == 0:
                self._ecp_send()
            self.notify()

    # --- the host side --------------------------------------------------------------------------
    def drive(self, data: int | None, control: int) -> None:
        prev = self._ctl
        if control == prev or self._inert:
            self._ctl = control
            self._data = data  # data alone changes nothing until a strobe edge
            return
        self._ctl = control
        self._data = data
        fell = prev & ~control
        rose = control & ~prev
        if not (fell or rose):
            return
        phase = self._phase
        if fell & NINIT and phase not in (ECP_FWD, ECP_REV):
            self._reset()  # nInit low: reset (EPP termination, event 68, is the same pulse)
            return
        if phase == COMPAT:
            self._compat_edges(fell, rose, control)
        elif phase == REVERSE:
            self._reverse_edges(fell, rose, control)
        elif phase == ECP_FWD:
            self._ecp_fwd_edges(fell, rose, control)
        elif phase == ECP_REV:
            self._ecp_rev_edges(fell, rose, control)
        elif phase == EPP:
            self._epp_edges(fell, rose, control)
        elif phase == NEG_REQUESTED:
            if fell & NSELECTIN:
                self._abandon()
            elif fell & NSTROBE:  # event 3: the peripheral latches the request byte
                self._request = 0xFF if data is None else data
                self.negotiations.append(self._request)
                self._phase = NEG_LATCHED
        elif phase == NEG_LATCHED:
            if fell & NSELECTIN:
                self._abandon()
            elif control & NSTROBE and control & NAUTOFD:  # event 4
                self.later(self.response_ns, self._event5)
        elif phase == REJECTED:
            if fell & NSELECTIN:
                self._terminate()
        elif phase == TERM_24:
            if fell & NAUTOFD:  # event 25 -> events 26, 27
                self.later(self.response_ns, self._event27)
        elif phase == TERM_27:
            if rose & NAUTOFD:  # event 28: back in compatibility mode
                self._phase = COMPAT
                self.notify()
        elif phase == EXT_LINK:
            self._ext_link_edges(fell, rose, control)

    def status(self) -> int:
        if self._off:
            return 0
        if self._phase in (COMPAT, TERM_27):
            return self._compat_status()
        return self._st

    def data_out(self) -> int | None:
        if self._off:
            return None
        return self._drive_data

    # --- compatibility mode ---------------------------------------------------------------------
    def _compat_status(self) -> int:
        faults = self.faults
        if faults:
            if Fault.PAPER_OUT in faults:
                return NACK | PERROR | SELECT | BUSY  # nFault L
            if Fault.OFF_LINE in faults:
                return NACK | BUSY | NFAULT  # Select L
            if Fault.ERROR in faults:
                return NACK | SELECT | BUSY  # nFault L
        st = SELECT | NFAULT
        if not self._ack_low:
            st |= NACK
        if self._busy or Fault.STUCK_BUSY in faults:
            st |= BUSY
        return st

    def _ready(self) -> bool:
        faults = self.faults
        return not self._busy and not (
            faults and faults & {Fault.PAPER_OUT, Fault.OFF_LINE, Fault.ERROR, Fault.STUCK_BUSY}
        )

    def _compat_edges(self, fell: int, rose: int, control: int) -> None:
        if fell & NSTROBE:
            if self._ready():
                self._ready_at = self.now_ns() + self.busy_ns + self.ack_ns
                self.record(0xFF if self._data is None else self._data)
                self._busy = True  # Busy rises within tbusy of the strobe
                self.notify()
                self._compat_timer = self.later(self.busy_ns, self._ack_start)
            else:
                self.overruns += 1
            return
        # Event 1: nSelectIn high while nAutoFd is low (either order of the two edges).
        if (rose & NSELECTIN and not control & NAUTOFD) or (fell & NAUTOFD and control & NSELECTIN):
            if Fault.REFUSE_NEGOTIATION in self.faults:
                return
            # Event 2: PError, Select, nFault high, nAck low: "I speak IEEE 1284".
            self._st = PERROR | SELECT | NFAULT | (BUSY if self._busy else 0)
            self._phase = NEG_REQUESTED
            self.notify()

    def _ack_start(self) -> None:
        self._ack_low = True
        self._compat_timer = self.later(self.ack_ns, self._ack_end)

    def _ack_end(self) -> None:
        self._ack_low = False
        self._busy = False
        self._compat_timer = None

    def _reset(self) -> None:
        self._phase = COMPAT
        self._busy = False
        self._ack_low = False
        self._drive_data = None
        self._rs = 0
        self._src_pos = 0 if self._src is not self.reverse_data else self._src_pos
        self.notify()

    def _abandon(self) -> None:
        """1284 Active dropped before event 4: back to compatibility mode at once."""
        self._phase = COMPAT
        self._drive_data = None
        self.notify()

    # --- negotiation ----------------------------------------------------------------------------
    def _accepts(self, request: int) -> tuple[bool, bool]:
        """(accepted, XFlag level) for a request byte (ieee1284.md §2.3 table)."""
        if request == 0x00:
            return True, False  # nibble is mandatory and answered with XFlag low
        if Fault.REJECT_MODES in self.faults:
            return False, False
        modes = self.modes
        wanted = {
            0x01: "byte",
            0x10: "ecp",
            0x30: "ecp_rle",
            0x40: "epp",
            0x80: "ext_link",
            0x04: "device_id",
            0x05: "byte",
            0x14: "ecp",
            0x34: "ecp_rle",
        }.get(request)
        if wanted is None or wanted not in modes:
            return False, False
        if request & 0x04 and (not self.device_id or "device_id" not in modes):
            return False, False
        return True, True

    def _event5(self) -> None:
        """Events 5 and 6: XFlag, the mode's status lines, then nAck high."""
        self._enter_mode(self._request, from_ext_link=False)

    def _enter_mode(self, request: int, *, from_ext_link: bool) -> None:
        accepted, xflag = self._accepts(request)
        if from_ext_link:
            xflag = accepted  # event 54: XFlag high means accepted
        st = SELECT if xflag else 0
        self._xflag = st  # the Select line between transfers (nibble data borrows it meanwhile)
        if not accepted:
            self._phase = REJECTED
            self._st = st | PERROR | NFAULT | NACK
            return
        if request == 0x80:
            self._phase = EXT_LINK
            self._xflag = SELECT
            self._st = SELECT | PERROR | NFAULT | NACK
            return
        self._drive_data = None
        if request & 0x04:
            self._src = device_id_stream(self.device_id, self.id_length_format)
            self._src_pos = 0
        else:
            self._src = self.reverse_data
            self._src_pos = self._rev_pos
        base = request & ~0x04
        if base in (0x00, 0x01):
            self._phase = REVERSE
            self._mode_byte = base == 0x01
            self._rs = 0
            self._st = st | NACK | self._avail_lines()
        elif base in (0x10, 0x30):
            self._phase = ECP_FWD
            self._ecp_rle = base == 0x30
            self._ecp_setup = True
            self._ecp_repeat = 1
            self._ecp_pending = None
            self._st = st | NACK | NFAULT  # PError low until event 31
        else:  # EPP
            self._phase = EPP
            self._st = st | NACK | NFAULT | PERROR
        # Event 6 (nAck high) is part of the same atomic change.

    def _ext_link_edges(self, fell: int, rose: int, control: int) -> None:
        if fell & NSELECTIN:
            self._terminate()
        elif fell & NSTROBE:  # event 51 -> event 52: nAck low
            self._request = 0xFF if self._data is None else self._data
            self._st &= ~NACK
            self.notify()
        elif rose & NSTROBE:  # event 53 -> events 54 and 55
            self._enter_mode(self._request & 0x7F, from_ext_link=True)
            self.notify()

    # --- termination ----------------------------------------------------------------------------
    def _terminate(self) -> None:
        """Event 22 seen: events 23 and 24 (Busy high, nFault high, XFlag inverted, nAck low)."""
        xflag = self._xflag
        self._drive_data = None
        self._st = BUSY | NFAULT | (self._st & PERROR) | (0 if xflag else SELECT)
        self._phase = TERM_24
        if self._src is not self.reverse_data:
            self._src_pos = 0  # the next ID request starts at the prefix again (§3.4)
        else:
            self._rev_pos = self._src_pos
        self.notify()

    def _event27(self) -> None:
        self._phase = TERM_27  # events 26 and 27: compatibility-mode lines, nAck high

    # --- nibble and byte reverse ----------------------------------------------------------------
    def _has_data(self) -> bool:
        return self._src_pos < len(self._src)

    def _avail_lines(self) -> int:
        """nDataAvail (nFault) and AckDataReq (PError): both low while data is available."""
        return 0 if self._has_data() else NFAULT | PERROR

    def _idle_lines(self) -> int:
        return self._xflag | NACK | self._avail_lines()

    def _data_arrived(self) -> None:
        """Reverse-idle interrupt (events 18–21) when data arrives while the host waits."""
        if self._rs != 0:
            return
        if self._ctl & NAUTOFD:
            self._st = self._idle_lines()
        else:
            self._st = (self._st & SELECT) | PERROR  # nDataAvail low, nAck pulse next
            self._rs = 5
            self.later(self.ack_ns, self._interrupt_end)
        self.notify()

    def _interrupt_end(self) -> None:
        self._st |= NACK

    def _reverse_edges(self, fell: int, rose: int, control: int) -> None:
        if fell & NSELECTIN:
            self._terminate()
            return
        rs = self._rs
        if self._mode_byte:
            if rs == 0 and fell & NAUTOFD and self._has_data():
                self.later(self.response_ns, self._byte_out)  # events 8, 9
            elif rs == 1 and rose & NAUTOFD:  # event 10 -> event 11
                self._src_pos += 1
                self._st = self._idle_lines()
                self._rs = 4
                self.notify()
            elif rs == 4 and rose & NSTROBE:  # event 17: the host took the byte
                self._drive_data = None
                self._rs = 0
                self.notify()
            elif rs == 5 and rose & NAUTOFD:
                self._interrupt_ack()
            return
        if rs == 0 and fell & NAUTOFD and self._has_data():
            self.later(self.response_ns, self._nibble_low)
        elif rs == 1 and rose & NAUTOFD:  # event 10 -> event 11
            self._st |= NACK
            self._rs = 2
            self.notify()
        elif rs == 2 and fell & NAUTOFD:
            self.later(self.response_ns, self._nibble_high)
        elif rs == 3 and rose & NAUTOFD:  # second event 11 with nDataAvail for the next byte
            self._src_pos += 1
            self._st = self._idle_lines()
            self._rs = 0
            self.notify()
        elif rs == 5 and rose & NAUTOFD:
            self._interrupt_ack()

    def _interrupt_ack(self) -> None:
        """Event 20 (host nAutoFd high) -> event 21: AckDataReq low."""
        self._st = self._idle_lines()
        self._rs = 0
        self.notify()

    def _nibble_low(self) -> None:
        value = self._src[self._src_pos]
        self._st = _nibble_pins(value & 0x0F)  # events 8, 9: nibble on the lines, nAck low
        self._rs = 1

    def _nibble_high(self) -> None:
        value = self._src[self._src_pos]
        self._st = _nibble_pins(value >> 4)
        self._rs = 3

    def _byte_out(self) -> None:
        if self._data is None and self._ctl & NSELECTIN:  # host drivers off, 1284 Active
            self._drive_data = self._src[self._src_pos]
        self._st = (self._st & (SELECT | PERROR | NFAULT)) | BUSY
        self._rs = 1

    # --- ECP ------------------------------------------------------------------------------------
    def _ecp_fwd_edges(self, fell: int, rose: int, control: int) -> None:
        if self._ecp_setup and fell & NAUTOFD:  # event 30 -> event 31: nAckReverse high
            self._ecp_setup = False
            self._st |= PERROR
            self.notify()
            return
        if fell & NSTROBE:  # event 34: byte and HostAck latched
            byte = 0xFF if self._data is None else self._data
            self._ecp_latch = (byte, not control & NAUTOFD)
            self.later(self.response_ns, self._ecp_ack)  # event 35: PeriphAck high
        elif rose & NSTROBE and self._ecp_latch is not None:  # event 36 -> event 37
            byte, command = self._ecp_latch
            self._ecp_latch = None
            self._ecp_receive(byte, command)
            self.later(self.response_ns, self._ecp_ready)
        elif fell & NINIT:  # event 39: reverse request -> event 40: nAckReverse low
            self.later(self.response_ns, self._ecp_to_reverse)
        elif fell & NSELECTIN:
            self._terminate()

    def _ecp_ack(self) -> None:
        self._st |= BUSY

    def _ecp_ready(self) -> None:
        self._st &= ~BUSY

    def _ecp_receive(self, byte: int, command: bool) -> None:
        if command:
            if byte & 0x80:
                self.ecp_channel = byte & 0x7F
            else:
                self._ecp_repeat = byte + 1  # run-length count for the next data byte
            return
        data = bytes((byte,)) * self._ecp_repeat
        self._ecp_repeat = 1
        self.ecp_channels.setdefault(self.ecp_channel, bytearray()).extend(data)
        self.record(data)

    def _ecp_to_reverse(self) -> None:
        self._phase = ECP_REV
        self._rs = 0
        self._st = (self._st & ~(PERROR | NFAULT | BUSY)) | NACK
        if self._has_data():
            if not self._ctl & NAUTOFD:
                self._ecp_send()
        else:
            self._st |= NFAULT

    def _ecp_next(self) -> tuple[int, bool, int]:
        """The next (byte, is_command, source bytes consumed) to send, RLE-encoded if agreed."""
        src = self._src
        pos = self._src_pos
        byte = src[pos]
        if self._ecp_rle:
            run = 1
            end = min(len(src), pos + 128)
            while pos + run < end and src[pos + run] == byte:
                run += 1
            if run >= 3:
                return run - 1, True, 0  # the count, then the byte with ``run`` consumed
        return byte, False, 1

    def _ecp_send(self) -> None:
        """Event 43: data (PeriphAck high) or command (PeriphAck low) with PeriphClk low."""
        if self._data is not None:
            return  # the host still drives the data lines
        if self._ecp_pending is None:
            self._ecp_pending = self._ecp_next()
        byte, command, _ = self._ecp_pending
        self._drive_data = byte
        self._st = (self._st & ~(NACK | BUSY)) | (0 if command else BUSY)
        self._rs = 1

    def _ecp_rev_edges(self, fell: int, rose: int, control: int) -> None:
        if rose & NINIT:  # event 47 -> event 49: nAckReverse high, data lines released
            self._drive_data = None
            self._phase = ECP_FWD
            self._rs = 0
            self._ecp_pending = None
            self._st = (self._st & SELECT) | NACK | PERROR | NFAULT
            self.notify()
            return
        if self._rs == 1 and rose & NAUTOFD:  # event 44 -> event 45: PeriphClk high
            assert self._ecp_pending is not None
            byte, command, consumed = self._ecp_pending
            if command:
                self._ecp_pending = (self._src[self._src_pos], False, byte + 1)
            else:
                self._src_pos += consumed
                self._ecp_pending = None
            self._st |= NACK
            if not self._has_data() and self._ecp_pending is None:
                self._st |= NFAULT  # nPeriphRequest high: nothing more to send
            self._rs = 0
            self.notify()
        elif self._rs == 0 and fell & NAUTOFD and (self._has_data() or self._ecp_pending):
            self.later(self.response_ns, self._ecp_send)  # event 46 -> the next event 43

    # --- EPP ------------------------------------------------------------------------------------
    def _epp_edges(self, fell: int, rose: int, control: int) -> None:
        write = not control & NSTROBE  # nWrite low
        if fell & NAUTOFD:  # nDStrb low: data cycle
            if write:
                self.record(0xFF if self._data is None else self._data)
            else:
                self._drive_data = self._epp_read_byte()
            self.later(self.response_ns, self._epp_wait_high)
        elif fell & NSELECTIN:  # nAStrb low: address cycle
            if write:
                self.epp_address = 0xFF if self._data is None else self._data
                self.epp_addresses.append(self.epp_address)
            else:
                self._drive_data = self.epp_address
            self.later(self.response_ns, self._epp_wait_high)
        elif rose & (NAUTOFD | NSELECTIN):  # strobe released: nWait low, data lines released
            self._drive_data = None
            self.later(self.response_ns, self._epp_wait_low)

    # --- whole cycles at once, for the port's string I/O and FIFO bursts ---
    def epp_ready(self) -> bool:
        """In EPP, idle, answering at once: a whole cycle can be taken in one step."""
        return (
            self._phase == EPP
            and not self.response_ns
            and not self.faults
            and self._drive_data is None
            and not self._st & BUSY
        )

    def epp_cycle_write(self, byte: int, address: bool) -> None:
        """One EPP write cycle (events 62/56 to 61) as the peripheral sees it."""
        if address:
            self.epp_address = byte
            self.epp_addresses.append(byte)
        else:
            self.record(byte)

    def epp_cycle_read(self, address: bool) -> int:
        """One EPP read cycle (events 67/64 to 60): the byte the peripheral drives."""
        return self.epp_address if address else self._epp_read_byte()

    def compat_ready_by(self, when_ns: int) -> bool:
        """In compatibility mode, answering plainly, and done with the last byte by ``when_ns``."""
        return (
            self._phase == COMPAT
            and not self.faults
            and (not self._busy or self._ready_at <= when_ns)
        )

    def compat_timers(self) -> tuple[ScheduledCall, ...]:
        """The Busy/nAck step still pending for the last byte, if any."""
        timer = self._compat_timer
        return () if timer is None else (timer,)

    def compat_burst(self, data: bytes, last_strobe_ns: int) -> None:
        """Many compatibility-mode bytes at once; the last one's strobe fell at
        ``last_strobe_ns`` (not yet reached), so its Busy and nAck pulse run from there."""
        self.record(data)
        self._busy = True
        self._ack_low = False
        self._ready_at = last_strobe_ns + self.busy_ns + self.ack_ns
        self._compat_timer = self.at(last_strobe_ns + self.busy_ns, self._ack_start)

    def reverse_idle(self, *, byte_mode: bool) -> bool:
        """In nibble (or byte) mode between bytes, answering at once: whole bytes can be taken
        in one step."""
        return (
            self._phase == REVERSE
            and self._mode_byte == byte_mode
            and self._rs == 0
            and not self.response_ns
            and not self.faults
            and self._drive_data is None
        )

    def reverse_burst(self, length: int) -> bytes:
        """Up to ``length`` nibble- or byte-mode bytes (events 7–11 twice, or 7–17, each), as
        many as the device has; it is left between bytes, as after the last one."""
        pos = self._src_pos
        data = bytes(self._src[pos : pos + length])
        self._src_pos = pos + len(data)
        self._st = self._idle_lines()
        return data

    def ecp_reverse_sw_ready(self) -> bool:
        """In ECP reverse with a data byte on the lines (event 43 done), answering at once and
        sending without run-length encoding: the host's software loop may take bytes whole."""
        pending = self._ecp_pending
        return (
            self._phase == ECP_REV
            and self._rs == 1
            and not self._ecp_rle
            and not self.response_ns
            and not self.faults
            and pending is not None
            and not pending[1]
        )

    def ecp_reverse_sw_burst(self, length: int) -> bytes:
        """Up to ``length`` bytes (events 43–46 each, the one on the lines first); the next
        byte, if any, is left on the lines with PeriphClk low, as after the last event 46."""
        pos = self._src_pos
        data = bytes(self._src[pos : pos + length])
        self._src_pos = pos + len(data)
        self._ecp_pending = None
        self._rs = 0
        self._st |= NACK
        if self._has_data():
            self._ecp_send()
        else:
            self._drive_data = data[-1]
            self._st |= NFAULT  # nPeriphRequest high: nothing more to send
        return data

    def burst_ok(self) -> bool:
        """No fault is set to strike after some byte: a whole burst may be taken at once."""
        return not self._byte_triggers

    def epp_write_burst(self, data: bytes, address: bool = False) -> None:
        """Many EPP write cycles at once (``epp_ready`` and ``burst_ok`` hold)."""
        if address:
            self.epp_address = data[-1]
            self.epp_addresses += data
        else:
            self.record(data)

    def epp_read_burst(self, length: int, address: bool = False) -> bytes:
        """Many EPP read cycles at once: the bytes it has, then the idle 0xFF (address cycles:
        the address register each time)."""
        if address:
            return bytes((self.epp_address,)) * length
        available = self._src[self._src_pos : self._src_pos + length]
        self._src_pos += len(available)
        if self._src is self.reverse_data:
            self._rev_pos = self._src_pos
        return bytes(available) + b"\xff" * (length - len(available))

    def ecp_take_burst(self, data: bytes) -> None:
        """Many forward ECP data bytes at once (no run-length count pending)."""
        self.ecp_channels.setdefault(self.ecp_channel, bytearray()).extend(data)
        self.record(data)

    def ecp_reverse_ready(self) -> bool:
        """In ECP reverse, between bytes, with the host not ready yet: bytes can be taken whole."""
        return (
            self._phase == ECP_REV
            and self._rs == 0
            and not self.response_ns
            and not self.faults
            and bool(self._ctl & NAUTOFD)
        )

    def ecp_reverse_burst(self, length: int) -> bytes:
        """Up to ``length`` bytes as the host's chip would have them after RLE expansion."""
        out = bytearray()
        while len(out) < length:
            pending = self._ecp_pending
            if pending is not None:
                byte, command, count = pending
                if command or count > length - len(out):
                    break  # a run that does not fit: left to the cycle-by-cycle path
                out += bytes((byte,)) * count
                self._src_pos += count
                self._ecp_pending = None
            elif self._has_data():
                take = min(length - len(out), len(self._src) - self._src_pos)
                out += self._src[self._src_pos : self._src_pos + take]
                self._src_pos += take
            else:
                break
        if not self._has_data() and self._ecp_pending is None:
            self._st |= NFAULT  # nPeriphRequest high: nothing more to send
        return bytes(out)

    def ecp_forward_ready(self) -> bool:
        """In ECP forward idle, answering at once: a byte can be taken in one step."""
        return (
            self._phase == ECP_FWD
            and not self._ecp_setup
            and not self.response_ns
            and not self.faults
            and self._ecp_latch is None
            and not self._st & BUSY
        )

    def ecp_take(self, byte: int, command: bool) -> None:
        """One forward ECP byte (events 34 to 37)."""
        self._ecp_receive(byte, command)

    def _epp_read_byte(self) -> int:
        if self._has_data():
            byte = self._src[self._src_pos]
            self._src_pos += 1
            if self._src is self.reverse_data:
                self._rev_pos = self._src_pos
            return byte
        return 0xFF

    def _epp_wait_high(self) -> None:
        self._st |= BUSY  # nWait high: cycle accepted

    def _epp_wait_low(self) -> None:
        self._st &= ~BUSY

    def fault_changed(self) -> None:
        if Fault.POWER_OFF in self.faults:
            self._drive_data = None


class Printer(Ieee1284Peripheral):
    """The end-of-chain printer: an IEEE 1284 peripheral with a printer's device ID."""

    kind = "printer"

    DEFAULT_ID = "MFG:Acme;MDL:EmuPrinter 1;CMD:PCL,PJL;CLS:PRINTER;DES:Acme EmuPrinter 1;"

    def __init__(self, name: str | None = None, device_id: str | None = None, **options: object):
        super().__init__(
            name,
            self.DEFAULT_ID if device_id is None else device_id,
            **options,  # type: ignore[arg-type]
        )
