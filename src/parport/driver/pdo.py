"""Device objects for the devices found on a port (PDOs, windows-parport.md §2.2, §5.2, §8, §9,
§10.8, §11.3–§11.8, with Part A).

One per device: the raw port (``LPTn``), each IEEE 1284.3 daisy-chain device (``LPTn.y``), the
end-of-chain device (``LPTn.4``) and a legacy Zip drive (``LPTn.5``). Opened exclusively. Requests
that need the port go through the device's work queue (:mod:`.worker`): the port is allocated
before each one (and a daisy-chain or Zip device selected) unless a lock or an IEEE 1284 session
already holds it, and given back after it; a request that cannot get the port within
``TimerStart`` seconds (of the port's clock) completes STATUS_DEVICE_BUSY without running.

The lock family: LOCK_PORT allocates the port and selects the device, UNLOCK_PORT deselects it and
frees the port (so the next waiter is granted), and the NO_SELECT / NO_DESELECT variants skip the
wire. A lock lasts until UNLOCK or the cleanup of its handle (A7, A8).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, ClassVar

from .. import nt
from ..hw.clock import Cancellable
from ..ieee1284 import DeviceId, Negotiation, fastest_mode, lines, request_byte
from ..ieee1284.session import FORWARD_MODES, REVERSE_MODES
from . import registers
from .iomgr import DeviceObject, FileObject
from .seam import PortOwner, as_command
from .worker import WorkQueue

if TYPE_CHECKING:
    from .fdo import ParallelPort

__all__ = ["DeviceKind", "ParallelDevice"]

log = logging.getLogger(__name__)

Status = int
_INTERNAL = nt.IRP_MJ_INTERNAL_DEVICE_CONTROL
_CONTROLS = (nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, nt.IRP_MJ_DEVICE_CONTROL)
IDLE_RELEASE_NS = 250_000_000  # §11.4: the 250 ms idle tick
STALL_HOLD_NS = 1_000_000_000  # §9.1: a stalled printer keeps the port a second at a time
CLAIM_GRANT_WAIT_S = 10.0  # a claim whose grant is under way completes within this (wall) time

# Internal requests that run on the worker (§8) and device controls that do (§9.2).
QUEUED_INTERNAL = frozenset(
    {
        nt.IOCTL_INTERNAL_DISCONNECT_IDLE,
        nt.IOCTL_INTERNAL_LOCK_PORT,
        nt.IOCTL_INTERNAL_UNLOCK_PORT,
        nt.IOCTL_INTERNAL_LOCK_PORT_NO_SELECT,
        nt.IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT,
        nt.IOCTL_INTERNAL_PARDOT3_CONNECT,
        nt.IOCTL_INTERNAL_PARDOT3_DISCONNECT,
        nt.IOCTL_INTERNAL_PARDOT3_RESET,
        nt.IOCTL_INTERNAL_PARDOT3_SIGNAL,
    }
)
# Requests that never take the port: an unlock of a device that holds no lock touches nothing (A1).
NO_ALLOCATION = frozenset(
    {nt.IOCTL_INTERNAL_UNLOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT}
)
# Queued requests short enough to run in the caller's thread when the port is to be had at once.
INLINE = frozenset(
    {
        nt.IOCTL_INTERNAL_LOCK_PORT,
        nt.IOCTL_INTERNAL_UNLOCK_PORT,
        nt.IOCTL_INTERNAL_LOCK_PORT_NO_SELECT,
        nt.IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT,
        nt.IOCTL_INTERNAL_DISCONNECT_IDLE,
        nt.IOCTL_PAR_QUERY_INFORMATION,
        nt.IOCTL_PAR_PING,
        nt.IOCTL_PAR_SET_READ_ADDRESS,
        nt.IOCTL_SERIAL_SET_TIMEOUTS,
    }
)


class DeviceKind(IntEnum):
    """The sample's PDO types (§2.2)."""

    RAW = nt.PDO_TYPE.PdoTypeRawPort
    END_OF_CHAIN = nt.PDO_TYPE.PdoTypeEndOfChain
    DAISY_CHAIN = nt.PDO_TYPE.PdoTypeDaisyChain
    LEGACY_ZIP = nt.PDO_TYPE.PdoTypeLegacyZip


def _masks(usread: int, uswrite: int) -> bytes:
    return nt.PARCLASS_NEGOTIATION_MASK(usReadMask=usread, usWriteMask=uswrite).pack()


@dataclass(eq=False)
class _Claim:
    """The device's place in the port's FIFO: an ALLOCATE queued for the request next in line
    (A26: when it was submitted, if nothing else waited on the device)."""

    irp: nt.Irp  # the internal ALLOCATE
    request: nt.Irp  # the request it was made for
    select: bool  # whether taking the port selects the device
    timer: Cancellable | None = None  # TimerStart: cancels the ALLOCATE if not granted in time
    waiting: nt.Irp | None = None  # the request the worker waits with (the grant may run it)
    handled: bool = False  # the grant ran the request itself


class ParallelDevice(DeviceObject, PortOwner):
    """A device on the port (see the module docstring)."""

    exclusive = True
    notify_release = True

    def __init__(
        self,
        port: ParallelPort,
        kind: DeviceKind,
        daisy_id: int | None = None,
        device_id: DeviceId | None = None,
    ) -> None:
        index = port.index
        suffix = {
            DeviceKind.RAW: "",
            DeviceKind.END_OF_CHAIN: f".{nt.DOT3_END_OF_CHAIN_ID}",
            DeviceKind.DAISY_CHAIN: f".{daisy_id}",
            DeviceKind.LEGACY_ZIP: f".{nt.DOT3_LEGACY_ZIP_ID}",
        }[kind]
        super().__init__(f"\\Device\\Parallel{index}{suffix}")
        self.port = port
        self.kind = kind
        self.daisy_id = daisy_id
        self.location = f"{port.port_name}{suffix}"
        if device_id is None and kind == DeviceKind.RAW:
            device_id = DeviceId(
                "MFG:Microsoft;MDL:RawPort;", {"MFG": "Microsoft", "MDL": "RawPort"}
            )
        elif device_id is None and kind == DeviceKind.LEGACY_ZIP:
            device_id = DeviceId("MFG:IMG;MDL:VP0;", {"MFG": "IMG", "MDL": "VP0"})
        self.device_id = device_id
        self.timer_start_s = port.options.timer_start_s  # not reset by a reopen (§9.2)
        self.work = WorkQueue(self.location, self._run, on_cancel=self._request_cancelled)
        self.locked = False  # AllocatedByLockPort (a device marked locked owns the port)
        self._claim: _Claim | None = None
        self._claim_lock = threading.Lock()
        self._closing = False  # cleanup or removal under way: a grant is given straight back
        self._stall_since: int | None = None  # port clock (ns) when the current stall began
        self._yield_port = False  # a stalled write asked to give the port to the waiters
        self.forward_mode = nt.CENTRONICS
        self.reverse_mode = nt.NIBBLE
        self.bad_modes = 0
        self._supported: int | None = None
        self.forward_channel = 0
        self.reverse_channel = 0
        self.host_recovery = False
        self.dot3_event: Any = None
        self.connected_class = False  # PARCLASS_CONNECT done
        self._idle_timer: Any = None

    # --- addressing -----------------------------------------------------------------------------
    def command(self, flags: int = 0) -> nt.PARALLEL_1284_COMMAND:
        """The PARALLEL_1284_COMMAND that addresses this device."""
        if self.kind == DeviceKind.DAISY_CHAIN:
            assert self.daisy_id is not None
            return nt.PARALLEL_1284_COMMAND(ID=self.daisy_id, CommandFlags=flags)
        if self.kind == DeviceKind.LEGACY_ZIP:
            return nt.PARALLEL_1284_COMMAND(
                ID=nt.DOT3_LEGACY_ZIP_ID, CommandFlags=flags | nt.PAR_LEGACY_ZIP_DRIVE
            )
        return nt.PARALLEL_1284_COMMAND(
            ID=nt.DOT3_END_OF_CHAIN_ID, CommandFlags=flags | nt.PAR_END_OF_CHAIN_DEVICE
        )

    @property
    def needs_select(self) -> bool:
        """Daisy-chain and Zip devices must be selected on the wire; the others need nothing."""
        return self.kind in (DeviceKind.DAISY_CHAIN, DeviceKind.LEGACY_ZIP)

    # --- ownership (kept by the port's seam) ----------------------------------------------------
    @property
    def owns_port(self) -> bool:
        """The port is this device's (an automatic allocation, a lock or a session holds it)."""
        return self.port.arbiter._owner is self

    @property
    def selected(self) -> bool:
        """This device's selection is the one on the wire (daisy-chain, Zip)."""
        return self.port.selected_by(self)

    def port_released(self) -> None:
        """The seam took the port from this device (by whatever path): no lock holds any more."""
        self.locked = False
        self._stall_since = None
        self._cancel_idle_timer()

    # --- IRP majors (§5.2) ----------------------------------------------------------------------
    def create(self, file: FileObject, options: int) -> int:
        if self.removed:
            return nt.STATUS_DEVICE_REMOVED
        if options & nt.FILE_DIRECTORY_FILE:
            return nt.STATUS_NOT_A_DIRECTORY
        status = super().create(file, options)
        if status != nt.STATUS_SUCCESS:
            return status
        # Reset the IEEE 1284 settings to their defaults at every open (§5.2).
        self.forward_mode = nt.CENTRONICS
        self.reverse_mode = nt.NIBBLE
        self.forward_channel = self.reverse_channel = 0
        self._supported = None
        self.bad_modes = 0
        self.locked = False
        self._closing = False
        self.work.start()
        return nt.STATUS_SUCCESS

    def cleanup(self, file: FileObject) -> None:
        """A8: cancel what waits, flag what runs, then (once it is over) end any session,
        deselect and free the port, and stop the worker."""
        self._closing = True
        self.work.shutdown(self._release_everything)

    def cleanup_waits_for_this_thread(self) -> bool:
        return self.work.turn_here

    def _release_everything(self) -> None:
        """Give back all the device holds: its place in the port's FIFO, the lock, the port."""
        self.locked = False
        self.dot3_event = None
        self._drop_claim()
        if self.owns_port:
            self._give_back()
        self._cancel_idle_timer()

    def dispatch(self, irp: nt.Irp) -> None:
        if self.removed:
            irp.complete(nt.STATUS_DEVICE_REMOVED)
            return
        if self.port.removed:
            irp.complete(nt.STATUS_DELETE_PENDING)
            return
        major = irp.major_function
        if major is _INTERNAL:
            self._internal(irp)
        elif major == nt.IRP_MJ_DEVICE_CONTROL:
            self._device_control(irp)
        elif major in (nt.IRP_MJ_READ, nt.IRP_MJ_WRITE):
            if irp.cancelled:
                irp.complete(nt.STATUS_CANCELLED)  # A19
            elif (irp.output_length if major == nt.IRP_MJ_READ else len(irp.input)) == 0:
                irp.complete(nt.STATUS_SUCCESS)
            else:
                self._queue(irp)  # A26: its place in the port's FIFO is taken now
        elif major == nt.IRP_MJ_QUERY_INFORMATION:
            self._query_information(irp)
        elif major == nt.IRP_MJ_SET_INFORMATION:
            info_class = int.from_bytes(irp.input[:4], "little")
            ok = info_class == nt.FileEndOfFileInformation
            irp.complete(nt.STATUS_SUCCESS if ok else nt.STATUS_INVALID_PARAMETER)
        else:
            irp.complete(nt.STATUS_INVALID_DEVICE_REQUEST)

    def _query_information(self, irp: nt.Irp) -> None:
        info_class = int.from_bytes(irp.input[:4], "little")
        struct: nt.NtStruct
        if info_class == nt.FileStandardInformation:
            struct = nt.FILE_STANDARD_INFORMATION()
        elif info_class == nt.FilePositionInformation:
            struct = nt.FILE_POSITION_INFORMATION()
        else:
            irp.complete(nt.STATUS_INVALID_PARAMETER)
            return
        irp.complete_struct(struct)

    # --- internal device controls (§8) ----------------------------------------------------------
    def _internal(self, irp: nt.Irp) -> None:
        code = irp.code
        if code in QUEUED_INTERNAL:
            if code == nt.IOCTL_INTERNAL_PARDOT3_SIGNAL and len(irp.input) < 8:
                irp.complete(nt.STATUS_INVALID_PARAMETER)
                return
            if code == nt.IOCTL_INTERNAL_PARDOT3_DISCONNECT:
                self.dot3_event = None  # event signalling stops at dispatch
            if irp._cancelled:
                irp.complete(nt.STATUS_CANCELLED)
                return
            self._queue(irp)
        elif code == nt.IOCTL_INTERNAL_PARCLASS_CONNECT:
            self._parclass_connect(irp)
        elif code == nt.IOCTL_INTERNAL_PARCLASS_DISCONNECT:
            self.connected_class = False
            irp.complete(nt.STATUS_SUCCESS)
        elif code == nt.IOCTL_INTERNAL_GET_PARPORT_FDO:
            if irp.output_length < 8:
                irp.complete(nt.STATUS_BUFFER_TOO_SMALL)
                return
            file = irp.handle
            assert isinstance(file, FileObject)
            data = file.callbacks.token(self.port).to_bytes(8, "little")
            irp.complete(nt.STATUS_SUCCESS, 8, data)
        else:
            irp.complete(nt.STATUS_INVALID_PARAMETER)

    # --- device controls (§9.2) -----------------------------------------------------------------
    _OUT_MIN: ClassVar[dict[int, int]] = {
        nt.IOCTL_PAR_QUERY_INFORMATION: 1,
        nt.IOCTL_PAR_QUERY_DEVICE_ID: 1,
        nt.IOCTL_PAR_QUERY_DEVICE_ID_SIZE: 4,
        nt.IOCTL_PAR_QUERY_RAW_DEVICE_ID: 1,
        nt.IOCTL_IEEE1284_GET_MODE: 4,
        nt.IOCTL_PAR_GET_DEFAULT_MODES: 4,
        nt.IOCTL_PAR_GET_READ_ADDRESS: 1,
        nt.IOCTL_PAR_GET_WRITE_ADDRESS: 1,
        nt.IOCTL_PAR_IS_PORT_FREE: 1,
        nt.IOCTL_SERIAL_GET_TIMEOUTS: 20,
    }
    _QUEUED_DEVICE: ClassVar[frozenset[int]] = frozenset(
        {
            nt.IOCTL_PAR_QUERY_INFORMATION,
            nt.IOCTL_PAR_SET_INFORMATION,
            nt.IOCTL_PAR_QUERY_DEVICE_ID,
            nt.IOCTL_PAR_QUERY_DEVICE_ID_SIZE,
            nt.IOCTL_PAR_QUERY_RAW_DEVICE_ID,
            nt.IOCTL_IEEE1284_NEGOTIATE,
            nt.IOCTL_PAR_GET_DEVICE_CAPS,
            nt.IOCTL_PAR_SET_WRITE_ADDRESS,
            nt.IOCTL_PAR_SET_READ_ADDRESS,
            nt.IOCTL_PAR_PING,
            nt.IOCTL_SERIAL_SET_TIMEOUTS,
            registers.IOCTL_PARPORT_REGISTERS,
        }
    )

    def _device_control(self, irp: nt.Irp) -> None:
        code = irp.code
        known = code in nt.DEVICE_IOCTLS or code == registers.IOCTL_PARPORT_REGISTERS
        if not known or code == nt.IOCTL_PAR_TEST:
            irp.complete(nt.STATUS_INVALID_PARAMETER)  # A13 and unknown codes
            return
        check = self._check_buffers(irp)
        if check is not None:
            irp.complete(check)
            return
        if code in self._QUEUED_DEVICE:
            if code == nt.IOCTL_IEEE1284_NEGOTIATE and self._negotiation_unchanged(irp):
                return
            if irp.cancelled:
                irp.complete(nt.STATUS_CANCELLED)
                return
            self._queue(irp)
            return
        self._immediate(irp)

    def _check_buffers(self, irp: nt.Irp) -> Status | None:
        code, inp, out = irp.code, len(irp.input), irp.output_length
        minimum = self._OUT_MIN.get(code)
        if minimum is not None and out < minimum:
            return nt.STATUS_BUFFER_TOO_SMALL
        if code == nt.IOCTL_PAR_SET_INFORMATION:
            if inp < 1:
                return nt.STATUS_BUFFER_TOO_SMALL
            if irp.input[0] != nt.PARALLEL_INIT:
                return nt.STATUS_INVALID_PARAMETER
        elif code == nt.IOCTL_IEEE1284_NEGOTIATE:
            if inp < 4 or out < 4:
                return nt.STATUS_INVALID_PARAMETER  # A16
        elif code == nt.IOCTL_PAR_GET_DEVICE_CAPS:
            if inp < 2 or out < 2:
                return nt.STATUS_BUFFER_TOO_SMALL
        elif code in (
            nt.IOCTL_PAR_SET_WRITE_ADDRESS,
            nt.IOCTL_PAR_SET_READ_ADDRESS,
            nt.IOCTL_PAR_ECP_HOST_RECOVERY,
        ):
            if inp < 1:
                return nt.STATUS_INVALID_PARAMETER
        elif code == nt.IOCTL_PAR_QUERY_LOCATION:
            if out < len(self.location) + 1:
                return nt.STATUS_BUFFER_TOO_SMALL
        elif code == registers.IOCTL_PARPORT_REGISTERS:
            steps = registers.decode(irp.input)
            if steps is None:
                return nt.STATUS_INVALID_PARAMETER
            if out < registers.reads(steps):
                return nt.STATUS_BUFFER_TOO_SMALL
        elif code == nt.IOCTL_SERIAL_SET_TIMEOUTS:
            if inp < nt.SERIAL_TIMEOUTS.SIZE:
                return nt.STATUS_BUFFER_TOO_SMALL
            if nt.SERIAL_TIMEOUTS.unpack(irp.input).WriteTotalTimeoutConstant < 2000:
                return nt.STATUS_INVALID_PARAMETER
        return None

    def _negotiation_unchanged(self, irp: nt.Irp) -> bool:
        wanted = nt.PARCLASS_NEGOTIATION_MASK.unpack(irp.input)
        if (wanted.usReadMask, wanted.usWriteMask) == (self.reverse_mode, self.forward_mode):
            irp.complete(nt.STATUS_SUCCESS, 4, _masks(self.reverse_mode, self.forward_mode))
            return True
        return False

    def _immediate(self, irp: nt.Irp) -> None:
        code = irp.code
        if code == nt.IOCTL_IEEE1284_GET_MODE:
            irp.complete(nt.STATUS_SUCCESS, 4, _masks(self.reverse_mode, self.forward_mode))
        elif code == nt.IOCTL_PAR_GET_DEFAULT_MODES:
            irp.complete(nt.STATUS_SUCCESS, 4, _masks(nt.NIBBLE, nt.CENTRONICS))  # A14
        elif code == nt.IOCTL_PAR_GET_READ_ADDRESS:
            irp.complete(nt.STATUS_SUCCESS, 1, bytes((self.reverse_channel,)))
        elif code == nt.IOCTL_PAR_GET_WRITE_ADDRESS:
            irp.complete(nt.STATUS_SUCCESS, 1, bytes((self.forward_channel,)))
        elif code == nt.IOCTL_PAR_ECP_HOST_RECOVERY:
            self.host_recovery = bool(irp.input[0])
            irp.complete(nt.STATUS_SUCCESS)
        elif code == nt.IOCTL_PAR_IS_PORT_FREE:
            irp.complete(nt.STATUS_SUCCESS, 1, b"\x01" if self._port_is_free() else b"\x00")
        elif code == nt.IOCTL_PAR_QUERY_LOCATION:
            text = self.location.encode("ascii") + b"\0"
            irp.complete(nt.STATUS_SUCCESS, len(text), text)
        elif code == nt.IOCTL_SERIAL_GET_TIMEOUTS:
            data = nt.SERIAL_TIMEOUTS(WriteTotalTimeoutConstant=1000 * self.timer_start_s).pack()
            irp.complete(nt.STATUS_SUCCESS, len(data), data)
        else:
            irp.complete(nt.STATUS_INVALID_PARAMETER)

    def _port_is_free(self) -> bool:
        return not self.owns_port and self.port.arbiter.is_free()

    # --- queueing (A26: a request's place in the port's FIFO is fixed when it is submitted) -----
    def _queue(self, irp: nt.Irp) -> None:
        """Run ``irp`` at once in this thread when that changes nothing a client can see (nothing
        waits or runs on this device, the request moves no data, and the port is this device's
        already or free right now); otherwise queue it for the worker — and when it is next in
        line and needs the port, queue the device's claim in the port's FIFO now, so that
        requests to the port and to its devices are granted in the order they were submitted."""
        if irp.code in INLINE and irp.major_function in _CONTROLS and self._run_inline(irp):
            return
        needs_port, select = _port_needs(irp)
        claim = needs_port and self.port.arbiter._owner is not self
        # A request that will wait for the port leaves the idle worker asleep: the grant runs a
        # short request itself, or wakes the worker (so does the claim's end, by any path).
        if (
            self.work.queue(irp, wake=not claim)
            and claim
            and self._start_claim(irp, select) is None
        ):
            self.work.kick()  # the port became the device's meanwhile: nothing to wait for

    def _run_inline(self, irp: nt.Irp) -> bool:
        if not self.work.begin_inline():
            return False
        try:
            if self._idle_timer is not None:
                self._cancel_idle_timer()
            needs_port, select = _port_needs(irp)
            if needs_port and self.port.arbiter._owner is not self:
                if not self.port.arbiter.try_allocate(self):
                    return False  # somebody holds or waits for the port: queue behind them
                status = self._taken(select)
                if status != nt.STATUS_SUCCESS:
                    irp.complete(status)
                    return True
            self._execute_and_release(irp)
            return True
        finally:
            self.work.end_inline()

    def _request_cancelled(self, irp: nt.Irp) -> None:
        """A request cancelled while it waited in the device's queue: its claim goes too."""
        with self._claim_lock:
            claim = self._claim
            if claim is None or claim.request is not irp or claim.waiting is not None:
                return
        claim.irp.cancel()

    # --- the worker -----------------------------------------------------------------------------
    def _run(self, irp: nt.Irp) -> None:
        """One queued request: get the port, run it, give the port back (§11.4)."""
        self._cancel_idle_timer()
        needs_port, select = _port_needs(irp)
        if needs_port and not self.owns_port:
            status = self._acquire(irp, select)
            if status == _HANDLED:
                return  # the grant ran it (a lock handed over in the releasing thread)
            if status != nt.STATUS_SUCCESS:
                irp.complete(status)
                return
        self._execute_and_release(irp)

    def _execute_and_release(self, irp: nt.Irp) -> None:
        try:
            self._execute(irp)
        finally:
            if not irp.done:
                irp.complete(nt.STATUS_UNSUCCESSFUL)
            self._after_request()

    def _taken(self, select: bool) -> Status:
        """The port was just granted to this device: bring the session's modes in and select
        the device; a select that fails gives the port back (A6)."""
        self._sync_session()
        self._stall_since = None
        if select and self.needs_select:
            status = self.port.select(self, self.command())
            if status != nt.STATUS_SUCCESS:
                self._give_back()
                return status
        return nt.STATUS_SUCCESS

    def _start_claim(
        self, request: nt.Irp, select: bool, timeout_ns: int | None = None
    ) -> _Claim | None:
        """The device's claim for ``request`` (queued now unless one is queued already); None
        when the device holds the port. TimerStart (or ``timeout_ns``) runs from here (§11.2)."""
        with self._claim_lock:
            claim = self._claim
            if claim is not None:
                if claim.request is request:
                    return claim  # made for this request (over already when TimerStart passed)
                if not claim.irp.done:
                    # Still queued for an earlier request, since cancelled: the next one in line
                    # keeps the device's place.
                    claim.request = request
                    claim.select = claim.select or select
                    return claim
            if self.owns_port:
                return None
            allocate = nt.Irp(
                nt.IRP_MJ_INTERNAL_DEVICE_CONTROL, nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE
            )
            claim = self._claim = _Claim(allocate, request, select)
        # The timer starts before the request is queued, so the wait is never longer.
        claim.irp.add_done_callback(lambda _: self.work.kick())
        if timeout_ns is None:
            timeout_ns = self.timer_start_s * 1_000_000_000
        claim.timer = self.port.backend.clock.call_later(timeout_ns, lambda: _cancel(claim.irp))
        if self.port.claim(claim.irp, self, lambda _waiter: self._granted(claim)):
            self._granted(claim)
        return claim

    def _granted(self, claim: _Claim) -> None:
        """The port is this device's for ``claim`` (in whatever thread freed it): take it, and
        when the worker waits with a short request that moves no data (a LOCK_PORT waiting
        behind another client's lock), run that request here — its client wakes one thread
        hop sooner."""
        timer = claim.timer
        if timer is not None:
            timer.cancel()
        with self._claim_lock:
            if self._claim is claim:
                self._claim = None
        if self._closing or self.removed:
            self._give_back()
            claim.irp.complete(nt.STATUS_CANCELLED)
            return
        status = self._taken(claim.select)
        if status == nt.STATUS_SUCCESS and not self.work.on_worker:
            self._run_granted(claim)
        claim.irp.complete(status)

    def _run_granted(self, claim: _Claim) -> None:
        """Run the request the claim was made for here, in the granting thread, when it is
        short and moves no data — whether the worker already waits with it or has not picked it
        up yet."""
        request = claim.waiting or claim.request
        if (
            request.major_function != nt.IRP_MJ_INTERNAL_DEVICE_CONTROL
            or request.code not in INLINE
        ):
            return
        if claim.waiting is not None:
            if request.disarm_cancel():
                claim.handled = True
                self._execute_and_release(request)
            return
        if not self.work.take(request):
            return  # the worker has it (or is busy): it runs it when the claim completes
        try:
            if request.disarm_cancel():
                self._execute_and_release(request)
            # else: a cancel is completing it
        finally:
            self.work.end_inline()

    def _acquire(self, irp: nt.Irp, select: bool, timeout_ns: int | None = None) -> Status:
        """Wait for the device's claim (queued at submission, or now), up to TimerStart on the
        port's clock: STATUS_SUCCESS once the port is the device's (selected when ``select``),
        STATUS_DEVICE_BUSY when TimerStart passed, STATUS_CANCELLED when ``irp`` was cancelled
        meanwhile (a deviation: the reference driver cannot cancel a dequeued request), or
        ``_HANDLED`` when the grant ran ``irp`` itself."""
        claim = self._start_claim(irp, select, timeout_ns)
        if claim is None:
            return self._ensure_selected(select)
        self.port.waiting_for_port()
        if irp.arm_cancel(lambda _: _cancel(claim.irp)):
            claim.waiting = irp
        else:
            claim.irp.cancel()
        result = claim.irp.wait()
        assert result is not None
        if claim.handled:
            return _HANDLED
        irp.disarm_cancel()
        status = result.status
        if status == nt.STATUS_SUCCESS:
            return self._ensure_selected(select)
        if irp.cancelled:
            return nt.STATUS_CANCELLED
        if status == nt.STATUS_CANCELLED:
            return nt.STATUS_DEVICE_BUSY  # TimerStart passed (§11.4 step 1)
        return status

    def _ensure_selected(self, select: bool) -> Status:
        """A claim made for an earlier request (since cancelled) may not have selected."""
        if not select or not self.needs_select or self.selected:
            return nt.STATUS_SUCCESS
        status = self.port.select(self, self.command())
        if status != nt.STATUS_SUCCESS:
            self._give_back()
        return status

    def _drop_claim(self) -> None:
        """Give up the device's place in the port's FIFO; a grant under way is waited for."""
        with self._claim_lock:
            claim, self._claim = self._claim, None
        if claim is None:
            return
        if claim.timer is not None:
            claim.timer.cancel()
        if not claim.irp.cancel() and not claim.irp.done:
            claim.irp.wait(CLAIM_GRANT_WAIT_S)  # granted right now: the grant completes it

    def _sync_session(self) -> None:
        session = self.port.session
        session.forward_mode = self.forward_mode
        session.reverse_mode = self.reverse_mode

    def _give_back(self) -> Status:
        """End any session, deselect, free the port (through the seam). The deselect's status
        (A2: freed anyway); nothing happens when the port is not this device's."""
        status = self.port.release(self)
        return nt.STATUS_SUCCESS if status == nt.STATUS_INVALID_DEVICE_STATE else status

    def _after_request(self) -> None:
        """Step 3: free the port unless a lock or a session keeps it; signal PARDOT3 events.

        A session (a negotiated IEEE 1284 mode) keeps the port after the request only while
        nobody waits for it; when somebody does, the session ends and the port goes to them now,
        as Microsoft's documentation of ``parallel.h`` describes. (The reference driver waits
        for 250 ms of idleness, so a client sending requests back to back starves the rest.)"""
        if self.dot3_event is not None and self.port.session.data_available():
            _signal(self.dot3_event)
        if not self.owns_port or self.locked:
            return
        if self.port.session.connected and self.port.arbiter.query_num_waiters() == 0:
            self._arm_idle_timer()
            return
        self._give_back()

    def _arm_idle_timer(self) -> None:
        self._cancel_idle_timer()
        self._idle_timer = self.port.backend.clock.call_later(IDLE_RELEASE_NS, self._idle_tick)

    def _cancel_idle_timer(self) -> None:
        timer, self._idle_timer = self._idle_timer, None
        if timer is not None:
            timer.cancel()

    def _idle_tick(self) -> None:
        """The 250 ms idle rule (A7): a session held without a lock ends when others wait. Runs
        on the clock's thread, so it only posts the release to the worker."""
        self._idle_timer = None
        if self.locked or not self.owns_port:
            return
        if self.port.arbiter.query_num_waiters() == 0:
            self._arm_idle_timer()
            return
        self.work.call(self._idle_release, wait=False)

    def _idle_release(self) -> None:
        if self.owns_port and not self.locked and not len(self.work):
            self._give_back()

    # --- executing one request ------------------------------------------------------------------
    def _execute(self, irp: nt.Irp) -> None:
        major = irp.major_function
        if major is _INTERNAL:
            self._INTERNAL_WORK[irp.code](self, irp)
        elif major == nt.IRP_MJ_WRITE:
            self._write(irp)
        elif major == nt.IRP_MJ_READ:
            self._read(irp)
        else:
            self._DEVICE_WORK[irp.code](self, irp)

    def _stall(self, status: int) -> bool:
        """A stalled printer (§9.1): keep waiting (True), or — after holding the port for a
        second of the port's clock while others wait, and without a lock — end the transfer
        here (False) so that :meth:`_write` gives the port to them outside the wire lock."""
        if self.locked or self.port.arbiter.query_num_waiters() == 0:
            return True
        now = self.port.backend.clock.now_ns()
        if self._stall_since is None:
            self._stall_since = now
        if now - self._stall_since < STALL_HOLD_NS:
            return True
        self._yield_port = True
        return False

    def _write(self, irp: nt.Irp) -> None:
        """Write in the forward mode; a stalled printer gives the port to the waiting clients a
        second at a time and queues for it again, until TimerStart runs out (§9.1)."""
        clock = self.port.backend.clock
        deadline = clock.now_ns() + self.timer_start_s * 1_000_000_000
        data = memoryview(irp.input)
        done = 0
        while True:
            self._sync_session()
            self._yield_port = False
            with self.port.wire_lock:
                result = self.port.session.write(
                    data[done:],
                    self.forward_mode,
                    budget_us=max(0, deadline - clock.now_ns()) / 1000,
                    cancelled=lambda: irp.cancelled,
                    on_stall=self._stall,
                )
            done += result.count
            if not self._yield_port:
                irp.complete(result.status, done)
                return
            # Outside the wire lock: nobody waits for the port holding it.
            self._give_back()
            status = self._reacquire(irp, deadline)
            if status != nt.STATUS_SUCCESS:
                irp.complete(status, done)
                return

    def _reacquire(self, irp: nt.Irp, deadline: int) -> Status:
        """Queue for the port again (behind the waiters it was given to) within ``deadline``."""
        remaining = deadline - self.port.backend.clock.now_ns()
        if remaining <= 0:
            return nt.STATUS_DEVICE_BUSY
        status = self._acquire(irp, select=True, timeout_ns=remaining)
        return nt.STATUS_UNSUCCESSFUL if status == _HANDLED else status

    def _read(self, irp: nt.Irp) -> None:
        self._sync_session()
        with self.port.wire_lock:
            result = self.port.session.read(
                irp.output_length, self.reverse_mode, cancelled=lambda: irp.cancelled
            )
        irp.complete(result.status, result.count, result.data)

    # --- the lock family (§11.6, A1, A2, A7, A8, A27) -------------------------------------------
    def _do_lock(self, irp: nt.Irp) -> None:
        if self.needs_select and not self.selected:
            status = self.port.select(self, self.command())
            if status != nt.STATUS_SUCCESS:
                irp.complete(nt.STATUS_UNSUCCESSFUL)  # step 3 gives the port back
                return
        irp.complete(nt.STATUS_SUCCESS if self._lock_hold() else nt.STATUS_UNSUCCESSFUL)

    def _lock_no_select(self, irp: nt.Irp) -> None:
        irp.complete(nt.STATUS_SUCCESS if self._lock_hold() else nt.STATUS_UNSUCCESSFUL)

    def _lock_hold(self) -> bool:
        """Mark the device's hold locked; False, with the flag cleared again, when that hold is
        ending or over — a release from another thread (the handle's ParallelDeSelect or
        FreePort) took the port after this request found it the device's. The flag is set
        first and the release looked for after, the mark before the owner: a release that
        began before the look is seen, one that begins after clears the flag itself."""
        self.locked = True
        if not self.port._ending(self) and self.owns_port:
            return True
        self.locked = False
        return False

    def _unlock(self, irp: nt.Irp) -> None:
        if not self.locked:
            irp.complete(nt.STATUS_SUCCESS)  # A1: nothing held, nothing touched
            return
        self.locked = False
        status = self._give_back()  # deselects, then frees even if the deselect failed (A2)
        irp.complete(nt.STATUS_SUCCESS if status == nt.STATUS_SUCCESS else nt.STATUS_UNSUCCESSFUL)

    def _unlock_no_deselect(self, irp: nt.Irp) -> None:
        if not self.locked:
            irp.complete(nt.STATUS_SUCCESS)  # A1
            return
        self.locked = False
        # Step 3 frees the port unless a session holds it. What the client selected by its own
        # means stays as it left it; a selection the driver made (a LOCK_PORT) is undone before
        # the port is freed (A27).
        irp.complete(nt.STATUS_SUCCESS)

    def _disconnect_idle(self, irp: nt.Irp) -> None:
        with self.port.wire_lock:
            if self.port.session.connected:
                self.port.session.terminate()
        irp.complete(nt.STATUS_SUCCESS)

    def _dot3(self, irp: nt.Irp) -> None:
        code = irp.code
        if code == nt.IOCTL_INTERNAL_PARDOT3_SIGNAL:
            if self.reverse_mode in (nt.NIBBLE, nt.CHANNEL_NIBBLE):
                irp.complete(nt.STATUS_UNSUCCESSFUL)
                return
            handle = irp.handle
            token = int.from_bytes(irp.input[:8], "little")
            try:
                self.dot3_event = (
                    handle.callbacks.resolve(token) if isinstance(handle, FileObject) else None
                )
            except KeyError:
                irp.complete(nt.STATUS_INVALID_PARAMETER)
                return
        irp.complete(nt.STATUS_SUCCESS)  # no 1284.3 data link advertised: nothing to frame

    # --- device-control work (§9.2–§9.5) --------------------------------------------------------
    def _query_info(self, irp: nt.Irp) -> None:
        """PAR_QUERY_INFORMATION: the printer's status lines, read in compatibility mode (in an
        IEEE 1284 session the same lines mean other things: ECP's nAckReverse is PError)."""
        with self.port.wire_lock:
            if self.port.session.connected:
                self.port.session.terminate()
            dsr = self.port.backend.read_status()
        irp.complete(nt.STATUS_SUCCESS, 1, bytes((lines.query_information(dsr),)))

    def _set_info(self, irp: nt.Irp) -> None:
        """Printer reset (§9.4): nInit low ≥ 60 µs, then wait up to 1 s for the printer."""
        port = self.port.backend
        with self.port.wire_lock:
            self.port.session.terminate()
            control = port.read_control() & 0x0F
            if control & 0x04:
                port.write_control(0x08)  # nInit low, nSelectIn asserted
                port.sleep(60)
            port.write_control(0x0C)
            dsr = port.wait_status(0xA8, 0x88, 1_000_000)  # no fault, no paper-end, not busy
            if self.port.daisy_count:
                # nInit low with nSelectIn low also reset the 1284.3 devices: give their
                # addresses back, and select this one again if it was.
                was_selected = self.selected
                self.port.reassign_addresses(self)
                if was_selected:
                    self.port.select(self, self.command())
        if dsr is not None:
            irp.complete(nt.STATUS_SUCCESS)
            return
        last = port.read_status()
        status: int
        if lines.off_line(last):
            status = nt.STATUS_DEVICE_OFF_LINE
        elif lines.no_cable(last):
            status = nt.STATUS_DEVICE_NOT_CONNECTED
        elif lines.paper_empty(last):
            status = nt.STATUS_DEVICE_PAPER_EMPTY
        elif lines.powered_off(last):
            status = nt.STATUS_DEVICE_POWERED_OFF
        else:
            status = nt.STATUS_DEVICE_NOT_CONNECTED
        irp.complete(status)

    def _read_device_id(self) -> bytes | None:
        with self.port.wire_lock:
            return self.port.session.device_id_bytes()

    def _device_id(self, irp: nt.Irp) -> None:
        raw = self._read_device_id()
        if raw is None or len(raw) <= 2:
            irp.complete(nt.STATUS_IO_DEVICE_ERROR)  # A15
            return
        text = raw[2:]
        code = irp.code
        if code == nt.IOCTL_PAR_QUERY_DEVICE_ID_SIZE:
            data = nt.PAR_DEVICE_ID_SIZE_INFORMATION(DeviceIdSize=len(text) + 1).pack()
            irp.complete(nt.STATUS_SUCCESS, 4, data)
            return
        payload = (raw if code == nt.IOCTL_PAR_QUERY_RAW_DEVICE_ID else text) + b"\0"
        if irp.output_length < len(payload):
            irp.complete(nt.STATUS_BUFFER_TOO_SMALL)  # A15: ID + NUL is enough
            return
        irp.complete(nt.STATUS_SUCCESS, len(payload), payload)

    def supported_modes(self) -> int:
        """DetermineIeeeModes: what the port and this device both do, without the bad modes."""
        if self._supported is None:
            with self.port.wire_lock:
                self._supported = self.port.session.determine_modes()
        return self._supported & ~self.bad_modes

    def negotiate_modes(self, forward_mask: int, reverse_mask: int) -> tuple[Status, int, int]:
        """Pick the fastest supported mode from each mask, make them the defaults, connect."""
        supported = self.supported_modes()
        forward = fastest_mode(forward_mask, supported, forward=True)
        reverse = fastest_mode(reverse_mask, supported, forward=False)
        if forward == nt.NONE and reverse == nt.NONE:
            return nt.STATUS_INVALID_PARAMETER, self.forward_mode, self.reverse_mode
        with self.port.wire_lock:
            self.port.session.terminate()
            if forward != nt.NONE:
                self.forward_mode = forward
            if reverse != nt.NONE:
                self.reverse_mode = reverse
            self._sync_session()
            status: int = nt.STATUS_SUCCESS
            connect = self.forward_mode if request_byte(self.forward_mode) is not None else None
            if connect is None and request_byte(self.reverse_mode) not in (None, 0x00):
                connect = self.reverse_mode
            if connect is not None:
                result = self.port.session.negotiate(request_byte(connect) or 0)
                if result is not Negotiation.ACCEPTED:
                    status = nt.STATUS_UNSUCCESSFUL
        return status, self.forward_mode, self.reverse_mode

    def _negotiate(self, irp: nt.Irp) -> None:
        wanted = nt.PARCLASS_NEGOTIATION_MASK.unpack(irp.input)
        status, forward, reverse = self.negotiate_modes(wanted.usWriteMask, wanted.usReadMask)
        if status == nt.STATUS_SUCCESS:
            irp.complete(status, 4, _masks(reverse, forward))
        else:
            irp.complete(status)  # A16: Information 0 on failure

    def _device_caps(self, irp: nt.Irp) -> None:
        self.bad_modes = int.from_bytes(irp.input[:2], "little")
        supported = self.supported_modes() & (FORWARD_MODES | REVERSE_MODES)
        irp.complete(nt.STATUS_SUCCESS, 2, supported.to_bytes(2, "little"))

    def _set_address(self, irp: nt.Irp) -> None:
        channel = irp.input[0]
        if irp.code == nt.IOCTL_PAR_SET_READ_ADDRESS:
            self.reverse_channel = channel
            irp.complete(nt.STATUS_SUCCESS)
            return
        self.forward_channel = channel
        session = self.port.session
        status: int = nt.STATUS_SUCCESS
        if session.connected:
            mode = self.forward_mode
            with self.port.wire_lock:
                if mode & nt.ECP_ANY:
                    status = session.write(bytes((0x80 | channel,)), mode, address=True).status
                elif mode & nt.EPP_ANY:
                    status = session.write(bytes((channel,)), mode, address=True).status
                else:
                    status = nt.STATUS_UNSUCCESSFUL  # the active protocol cannot address
        irp.complete(status)

    def _ping(self, irp: nt.Irp) -> None:
        irp.complete(nt.STATUS_SUCCESS)

    def _registers(self, irp: nt.Irp) -> None:
        steps = registers.decode(irp.input)
        assert steps is not None  # checked at dispatch
        try:
            with self.port.wire_lock:
                data, cut = registers.run(self.port.backend, steps, lambda: irp.cancelled)
        except OSError as exc:
            log.info("%s: a register script failed: %s", self.location, exc)
            irp.complete(nt.STATUS_IO_DEVICE_ERROR)
            return
        if cut:
            irp.complete(nt.STATUS_CANCELLED)
        else:
            irp.complete(nt.STATUS_SUCCESS, len(data), data)

    def _set_timeouts(self, irp: nt.Irp) -> None:
        timeouts = nt.SERIAL_TIMEOUTS.unpack(irp.input)
        self.timer_start_s = timeouts.WriteTotalTimeoutConstant // 1000
        irp.complete(nt.STATUS_SUCCESS)

    _INTERNAL_WORK: ClassVar[dict[int, Callable[[ParallelDevice, nt.Irp], None]]] = {
        nt.IOCTL_INTERNAL_LOCK_PORT: _do_lock,
        nt.IOCTL_INTERNAL_UNLOCK_PORT: _unlock,
        nt.IOCTL_INTERNAL_LOCK_PORT_NO_SELECT: _lock_no_select,
        nt.IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT: _unlock_no_deselect,
        nt.IOCTL_INTERNAL_DISCONNECT_IDLE: _disconnect_idle,
        nt.IOCTL_INTERNAL_PARDOT3_CONNECT: _dot3,
        nt.IOCTL_INTERNAL_PARDOT3_DISCONNECT: _dot3,
        nt.IOCTL_INTERNAL_PARDOT3_RESET: _dot3,
        nt.IOCTL_INTERNAL_PARDOT3_SIGNAL: _dot3,
    }
    _DEVICE_WORK: ClassVar[dict[int, Callable[[ParallelDevice, nt.Irp], None]]] = {
        nt.IOCTL_PAR_QUERY_INFORMATION: _query_info,
        nt.IOCTL_PAR_SET_INFORMATION: _set_info,
        nt.IOCTL_PAR_QUERY_DEVICE_ID: _device_id,
        nt.IOCTL_PAR_QUERY_DEVICE_ID_SIZE: _device_id,
        nt.IOCTL_PAR_QUERY_RAW_DEVICE_ID: _device_id,
        nt.IOCTL_IEEE1284_NEGOTIATE: _negotiate,
        nt.IOCTL_PAR_GET_DEVICE_CAPS: _device_caps,
        nt.IOCTL_PAR_SET_WRITE_ADDRESS: _set_address,
        nt.IOCTL_PAR_SET_READ_ADDRESS: _set_address,
        nt.IOCTL_PAR_PING: _ping,
        nt.IOCTL_SERIAL_SET_TIMEOUTS: _set_timeouts,
        registers.IOCTL_PARPORT_REGISTERS: _registers,
    }

    # --- PARCLASS_CONNECT and its callbacks (§10.8) ---------------------------------------------
    def _parclass_connect(self, irp: nt.Irp) -> None:
        if irp.output_length < nt.PARCLASS_INFORMATION.SIZE:
            irp.complete(nt.STATUS_BUFFER_TOO_SMALL)
            return
        file = irp.handle
        assert isinstance(file, FileObject)
        tokens = file.callbacks
        caps = self.port.backend.capabilities
        hw = self.port.session.hardware
        cb = self._parclass_callbacks(file)
        info = nt.PARCLASS_INFORMATION(
            Controller=caps.base,
            EcrController=(caps.base_hi or 0) if hw.ecr else 0,
            SpanOfController=self.port._span(),
            DetermineIeeeModes=tokens.token(cb["determine"]),
            NegotiateIeeeMode=tokens.token(cb["negotiate"]),
            TerminateIeeeMode=tokens.token(cb["terminate"]),
            IeeeFwdToRevMode=tokens.token(cb["fwd_to_rev"]),
            IeeeRevToFwdMode=tokens.token(cb["rev_to_fwd"]),
            ParallelRead=tokens.token(cb["read"]),
            ParallelWrite=tokens.token(cb["write"]),
            ParclassContext=tokens.token(self),
            HardwareCapabilities=self.port.hardware_capabilities(),
            FifoDepth=hw.fifo_depth,
            FifoWidth=hw.fifo_width if hw.fifo_depth else 0,
            ParallelTryselect=tokens.token(cb["tryselect"]),
            ParallelDeSelect=tokens.token(cb["deselect"]),
        )
        self.connected_class = True
        data = info.pack()
        irp.complete(nt.STATUS_SUCCESS, len(data), data)

    def _parclass_callbacks(self, file: FileObject) -> dict[str, Callable[..., Any]]:
        """The PARCLASS callbacks for ``file``, made once per handle (a second PARCLASS_CONNECT
        hands out the same pointers). Each runs under the handle's rundown
        (:meth:`FileObject.guarded`): one racing the close ends before the cleanup gives back
        what it took, and after the close it does nothing."""
        made: dict[str, Callable[..., Any]] | None = file.context.get("parclass callbacks")
        if made is None:
            refused: Status = nt.STATUS_INVALID_DEVICE_STATE
            guarded = file.guarded
            made = file.context["parclass callbacks"] = {
                "determine": guarded(self._cb_determine, nt.NONE),
                "negotiate": guarded(self._cb_negotiate, refused),
                "terminate": guarded(self._cb_terminate, refused),
                "fwd_to_rev": guarded(self._cb_fwd_to_rev, refused),
                "rev_to_fwd": guarded(self._cb_rev_to_fwd, refused),
                "read": guarded(self._cb_read, (refused, b"")),
                "write": guarded(self._cb_write, (refused, 0)),
                "tryselect": guarded(self._cb_tryselect, refused),
                "deselect": guarded(self._cb_deselect, refused),
            }
        return made

    def _holding(self) -> bool:
        return self.owns_port

    def _cb_determine(self, context: int = 0) -> int:
        if not self._holding():
            return nt.NONE
        return self.supported_modes()

    def _cb_negotiate(
        self,
        context: int,
        forward_mask: int,
        reverse_mask: int,
        safety: int = nt.SAFE_MODE,
        is_forward: bool = True,
    ) -> Status:
        if not self._holding():
            return nt.STATUS_INVALID_DEVICE_STATE
        if safety != nt.SAFE_MODE:
            return nt.STATUS_INVALID_PARAMETER
        if self.port.session.connected:
            return nt.STATUS_DEVICE_PROTOCOL_ERROR  # a mode is already set
        supported = self.supported_modes()
        forward = fastest_mode(forward_mask, supported, forward=True)
        reverse = fastest_mode(reverse_mask, supported, forward=False)
        if forward != nt.NONE:
            self.forward_mode = forward
        if reverse != nt.NONE:
            self.reverse_mode = reverse
        self._sync_session()
        with self.port.wire_lock:
            if is_forward:
                return self.port.session.rev_to_fwd()
            return self.port.session.fwd_to_rev()

    def _cb_terminate(self, context: int = 0) -> Status:
        if not self._holding():
            return nt.STATUS_INVALID_DEVICE_STATE
        with self.port.wire_lock:
            self.port.session.terminate()
        return nt.STATUS_SUCCESS

    def _cb_fwd_to_rev(self, context: int = 0) -> Status:
        if not self._holding():
            return nt.STATUS_INVALID_DEVICE_STATE
        self._sync_session()
        with self.port.wire_lock:
            return self.port.session.fwd_to_rev()

    def _cb_rev_to_fwd(self, context: int = 0) -> Status:
        if not self._holding():
            return nt.STATUS_INVALID_DEVICE_STATE
        self._sync_session()
        with self.port.wire_lock:
            return self.port.session.rev_to_fwd()

    def _cb_read(self, context: int, length: int, channel: int = 0) -> tuple[Status, bytes]:
        """ParallelRead: (status, the bytes read) with the current reverse protocol."""
        if not self._holding():
            return nt.STATUS_INVALID_DEVICE_STATE, b""
        self._sync_session()
        with self.port.wire_lock:
            result = self.port.session.read(length, self.reverse_mode)
        return result.status, result.data

    def _cb_write(self, context: int, data: bytes, channel: int = 0) -> tuple[Status, int]:
        """ParallelWrite: (status, bytes written) with the current forward protocol."""
        if not self._holding():
            return nt.STATUS_INVALID_DEVICE_STATE, 0
        self._sync_session()
        with self.port.wire_lock:
            result = self.port.session.write(bytes(data), self.forward_mode)
        return result.status, result.count

    def _cb_tryselect(self, context: int, command: nt.PARALLEL_1284_COMMAND | bytes) -> Status:
        """ParallelTryselect: take the port (never waiting, A5) and select; with KEEP_PORT, only
        select for a device that holds the port. What it takes holds like a lock — the device's
        own requests run on it — until ParallelDeSelect, UNLOCK_PORT or the handle's cleanup."""
        cmd = as_command(command)
        if self.port.target_of(cmd) is None:
            return nt.STATUS_INVALID_PARAMETER
        # Under the wire lock, as the seam's release is while something is selected or a
        # session is open: a DeSelect, UNLOCK or cleanup racing this in another thread then
        # ends the hold wholly before or wholly after it.
        with self.port.wire_lock:
            if cmd.CommandFlags & nt.PAR_HAVE_PORT_KEEP_PORT or self.owns_port:
                status = self.port.select(self, cmd)
            else:
                status = self.port.try_claim(self, cmd)
                if status == nt.STATUS_SUCCESS:
                    self._sync_session()
            if status == nt.STATUS_SUCCESS:
                # The end-of-chain device has nothing on the wire, and a release with nothing
                # selected does not take the wire lock: a DeSelect from another thread may be
                # ending the hold right now. Then the flag is not left on (it comes after this
                # TrySelect, which succeeded).
                self._lock_hold()
        return status

    def _cb_deselect(self, context: int, command: nt.PARALLEL_1284_COMMAND | bytes) -> Status:
        """ParallelDeSelect: deselect and, unless KEEP_PORT, give the port back — the device's
        lock ends with it (A27: a device marked locked always owns the port)."""
        return self.port.deselect_device(self, as_command(command))

    # --- removal --------------------------------------------------------------------------------
    def remove(self) -> None:
        """The device is gone from the cable: fail what waits, give back what it holds."""
        self.removed = True
        self._closing = True
        self.work.shutdown(self._release_everything)

    def describe(self) -> str:
        what = self.device_id.text if self.device_id else "no device ID"
        return f"{self.location} ({self.kind.name.lower()}): {what}"


_BOTH = (True, True)
_INTERNAL_NEEDS: dict[int, tuple[bool, bool]] = {
    **dict.fromkeys(NO_ALLOCATION, (False, True)),
    nt.IOCTL_INTERNAL_LOCK_PORT_NO_SELECT: (True, False),
}


def _port_needs(irp: nt.Irp) -> tuple[bool, bool]:
    """(whether the request needs the port, whether taking it selects the device)."""
    if irp.major_function is _INTERNAL:
        return _INTERNAL_NEEDS.get(irp.code, _BOTH)
    return _BOTH


_HANDLED = -1  # _acquire: the grant ran the request (not an NTSTATUS)


def _cancel(irp: nt.Irp) -> None:
    irp.cancel()


def _signal(event: Any) -> None:
    try:
        if hasattr(event, "set"):
            event.set()
        elif callable(event):
            event()
    except Exception:
        log.exception("PARDOT3_SIGNAL event raised")
