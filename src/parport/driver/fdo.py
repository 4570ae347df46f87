"""The port's device object (the FDO, ``\\Device\\ParallelPortN``): every IRP major function of
windows-parport.md §5.1 and every internal request of §7, with Part A's decisions.

The port is opened shared. Its owner is tracked (A3): an ALLOCATE or SELECT through a handle
makes that handle the owner; PARALLEL_PORT_FREE, DESELECT and chip-mode changes from a handle
that does not own the port change nothing and complete STATUS_INVALID_DEVICE_STATE (A4). Closing
a handle cancels what it queued and frees the port if it owns it (A9). The callbacks handed out
in PARALLEL_PORT_INFORMATION / PARALLEL_PNP_INFORMATION / PARALLEL_INTERRUPT_INFORMATION are real
callables bound to the handle that fetched them (``handle.callbacks.callable(pointer)``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from .. import nt
from ..hw.backend import PortBackend
from ..ieee1284 import Session, dot3
from .arbiter import PortArbiter, Waiter
from .iomgr import DeviceObject, Handle

__all__ = ["ParallelPort", "PortOptions", "as_command"]

log = logging.getLogger(__name__)

Status = int


@dataclass
class PortOptions:
    """The registry values of windows-parport.md §2.5, and Part A's bus options."""

    enable_connect_interrupt: bool = False  # EnableConnectInterruptIoctl (default 0)
    legacy_zip: bool = False  # ParEnableLegacyZip
    max_daisy: int = 2  # Part A, A10: 0..4 daisy-chain device objects (XP and later: 2)
    timer_start_s: int = nt.PAR_WRITE_TIMEOUT_VALUE  # TimerStart for new devices (A22)

    def __post_init__(self) -> None:
        if not 0 <= self.max_daisy <= 4:
            raise ValueError(f"max_daisy is 0..4, not {self.max_daisy}")
        if self.timer_start_s < 2:
            raise ValueError("timer_start_s is at least 2 seconds")


@dataclass(eq=False)
class _Isr:
    routine: Callable[..., Any]
    context: int
    deferred: Callable[..., Any] | None
    deferred_context: int
    isr_token: int
    owner: Handle | None


class ParallelPort(DeviceObject):
    """See the module docstring."""

    exclusive = False

    def __init__(
        self,
        index: int,
        backend: PortBackend,
        session: Session,
        options: PortOptions | None = None,
    ) -> None:
        super().__init__(f"\\Device\\ParallelPort{index}")
        self.index = index
        self.port_name = f"LPT{index + 1}"
        self.backend = backend
        self.session = session
        self.options = options or PortOptions()
        self.arbiter = PortArbiter(self.name)
        self.arbiter.on_idle = self._run_deferred_checks
        self.daisy_count = 0  # Ieee1284_3DeviceCount: 1284.3 devices currently known
        self.current_mode = nt.INITIAL_MODE
        self._saved_ecr: int | None = None
        self.eoc_rescan_disabled = False
        self._isrs: list[_Isr] = []
        self._isr_lock = threading.Lock()
        self.wire_lock = threading.RLock()  # one wire sequence at a time on the backend
        self._selections: dict[int, nt.PARALLEL_1284_COMMAND] = {}  # port handle → its select

    # --- IRP majors (§5.1) ----------------------------------------------------------------------
    def cleanup(self, handle: Handle) -> None:
        """Part A, A9: cancel what this handle queued; free the port if it owns it."""
        self.arbiter.cancel_queued_by(handle)
        selection = self._selections.pop(id(handle), None)
        if self.arbiter.owned_by(handle):
            log.info("%s: %r closed while owning the port; freeing it", self.name, handle)
            if selection is not None:
                self.wire_deselect(selection)  # design §4: deselect first, then free
            self.arbiter.free(handle)
        with self._isr_lock:
            gone = [isr for isr in self._isrs if isr.owner is handle]
        for isr in gone:
            self._disconnect(isr)

    def dispatch(self, irp: nt.Irp) -> None:
        if self.removed:
            irp.complete(nt.STATUS_DELETE_PENDING)
            return
        if irp.major_function != nt.IRP_MJ_INTERNAL_DEVICE_CONTROL:
            irp.complete(nt.STATUS_NOT_SUPPORTED)  # A13, and READ/WRITE/INFORMATION (§5.1)
            return
        handler = self._HANDLERS.get(irp.code)
        if handler is None:
            irp.complete(nt.STATUS_INVALID_PARAMETER)
            return
        handler(self, irp)

    # --- allocation -----------------------------------------------------------------------------
    def _allocate(self, irp: nt.Irp) -> None:
        if irp.cancelled:
            irp.complete(nt.STATUS_CANCELLED)
        elif self.arbiter.allocate(irp, irp.handle):
            irp.complete(nt.STATUS_SUCCESS)

    def _free(self, irp: nt.Irp) -> None:
        if self.arbiter.free(irp.handle):
            irp.complete(nt.STATUS_SUCCESS)
        else:
            irp.complete(nt.STATUS_INVALID_DEVICE_STATE)  # A4

    # --- information ----------------------------------------------------------------------------
    def _span(self) -> int:
        return 8 if self.backend.capabilities.epp else nt.OFFSET_PARALLEL_REGISTER_SPAN

    def port_information(self, handle: Handle) -> nt.PARALLEL_PORT_INFORMATION:
        caps = self.backend.capabilities
        arbiter = self.arbiter
        tokens = handle.callbacks
        return nt.PARALLEL_PORT_INFORMATION(
            OriginalController=caps.base,
            Controller=caps.base,
            SpanOfController=self._span(),
            TryAllocatePort=tokens.token(lambda context=0: arbiter.try_allocate(handle)),
            FreePort=tokens.token(lambda context=0: self._free_callback(handle)),
            QueryNumWaiters=tokens.token(lambda context=0: arbiter.query_num_waiters()),
            Context=tokens.token(self),
        )

    def _free_callback(self, owner: object) -> None:
        if not self.arbiter.free(owner):
            log.warning("%s: FreePort callback from a non-owner ignored (A4)", self.name)

    def more_information(self) -> nt.MORE_PARALLEL_PORT_INFORMATION:
        irq = self.backend.capabilities.irq or 0
        return nt.MORE_PARALLEL_PORT_INFORMATION(
            InterfaceType=nt.INTERFACE_TYPE.Isa,
            BusNumber=0,
            InterruptLevel=irq,
            InterruptVector=irq,
            InterruptAffinity=1 if irq else 0,
            InterruptMode=nt.KINTERRUPT_MODE.Latched,
        )

    def hardware_capabilities(self) -> int:
        bits = self.session.hardware.ppt_bits
        if self.daisy_count:
            bits |= nt.PPT_1284_3_PRESENT
        return bits

    def pnp_information(self, handle: Handle) -> nt.PARALLEL_PNP_INFORMATION:
        caps = self.backend.capabilities
        hw = self.session.hardware
        tokens = handle.callbacks
        ecp_base = caps.base_hi or 0 if hw.ecr else 0
        return nt.PARALLEL_PNP_INFORMATION(
            OriginalEcpController=ecp_base,
            EcpController=ecp_base,
            SpanOfEcpController=nt.ECP_SPAN if ecp_base else 0,
            PortNumber=0,
            HardwareCapabilities=self.hardware_capabilities(),
            TrySetChipMode=tokens.token(lambda context, mode: self.set_chip_mode(handle, mode)),
            ClearChipMode=tokens.token(lambda context, mode: self.clear_chip_mode(handle, mode)),
            FifoDepth=hw.fifo_depth,
            FifoWidth=hw.fifo_width if hw.fifo_depth else 0,  # A18: bits per FIFO word
            EppControllerPhysicalAddress=0,
            SpanOfEppController=0,
            Ieee1284_3DeviceCount=self.daisy_count,
            TrySelectDevice=tokens.token(
                lambda context, command: self.try_select(handle, as_command(command))
            ),
            DeselectDevice=tokens.token(
                lambda context, command: self.deselect(handle, as_command(command))
            ),
            Context=tokens.token(self),
            CurrentMode=self.current_mode,
            PortName=tokens.token(self.port_name),
        )

    def _info(self, irp: nt.Irp) -> None:
        code = irp.code
        if code == nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO:
            struct: nt.NtStruct = self.port_information(_handle(irp))
        elif code == nt.IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO:
            struct = self.pnp_information(_handle(irp))
        else:
            struct = self.more_information()
        irp.complete_struct(struct)  # A11, A12

    # --- chip modes (§7.7, §7.8; A17) -----------------------------------------------------------
    def set_chip_mode(self, owner: object, mode_flags: int) -> Status:
        if not self.arbiter.owned_by(owner):
            return nt.STATUS_INVALID_DEVICE_STATE  # A4
        mode = mode_flags & 0xE0
        if self.current_mode not in (nt.INITIAL_MODE, nt.ECR_BYTE_MODE):
            return nt.STATUS_INVALID_DEVICE_STATE
        hw = self.session.hardware
        present = {
            nt.ECR_ECP_MODE: hw.ecp,
            nt.ECR_EPP_MODE: hw.epp,
            nt.ECR_BYTE_MODE: hw.ps2,
        }.get(mode)
        if not present:
            return nt.STATUS_NO_SUCH_DEVICE  # A17: not BYTE, ECP or EPP, or not in the hardware
        port = self.backend
        with self.wire_lock:
            if hw.ecr:
                if self._saved_ecr is None:
                    self._saved_ecr = port.read_ecr()
                port.write_ecr(0x34)  # through mode 001 (PS/2)
                if mode != nt.ECR_BYTE_MODE:
                    port.write_ecr(mode_flags)
            if mode == nt.ECR_BYTE_MODE:
                control = port.read_control() & 0x0F
                port.write_control(control | 0x20)
                port.write_data(0x55)
                first = port.read_data()
                port.write_data(0xAA)
                second = port.read_data()
                port.write_control(control)
                if first == 0x55 and second == 0xAA:
                    return nt.STATUS_UNSUCCESSFUL  # the data lines did not turn around
        self.current_mode = mode
        self.backend.annotate()
        return nt.STATUS_SUCCESS

    def clear_chip_mode(self, owner: object, mode_flags: int) -> Status:
        if not self.arbiter.owned_by(owner):
            return nt.STATUS_INVALID_DEVICE_STATE  # A4
        mode = mode_flags & 0xE0
        if mode != self.current_mode or mode == nt.INITIAL_MODE:
            return nt.STATUS_INVALID_DEVICE_STATE  # A17
        if self.session.hardware.ecr and self._saved_ecr is not None:
            with self.wire_lock:
                self.backend.write_ecr(0x34)
                self.backend.write_ecr(self._saved_ecr & 0xFC)
            self._saved_ecr = None
        self.current_mode = nt.INITIAL_MODE
        return nt.STATUS_SUCCESS

    def _chip_mode(self, irp: nt.Irp) -> None:
        if len(irp.input) < nt.PARALLEL_CHIP_MODE.SIZE:
            irp.complete(nt.STATUS_BUFFER_TOO_SMALL)
            return
        flags = nt.PARALLEL_CHIP_MODE.unpack(irp.input).ModeFlags
        if irp.code == nt.IOCTL_INTERNAL_PARALLEL_SET_CHIP_MODE:
            irp.complete(self.set_chip_mode(irp.handle, flags))
        else:
            irp.complete(self.clear_chip_mode(irp.handle, flags))

    # --- 1284.3 select and deselect (§7.10, §7.11, §10.4, §10.5; A5, A6, A20) -------------------
    def target_of(self, command: nt.PARALLEL_1284_COMMAND) -> str | None:
        """``"zip"``, ``"eoc"``, ``"daisy"``, or None for an invalid ID."""
        flags = command.CommandFlags
        if flags & nt.PAR_LEGACY_ZIP_DRIVE or command.ID == nt.DOT3_LEGACY_ZIP_ID:
            return "zip"
        if flags & nt.PAR_END_OF_CHAIN_DEVICE or command.ID in (
            nt.DOT3_END_OF_CHAIN_ID,
            self.daisy_count,
        ):
            return "eoc"
        if command.ID < self.daisy_count:
            return "daisy"
        return None

    def wire_select(self, command: nt.PARALLEL_1284_COMMAND) -> Status:
        """Select on the wire (the caller owns the port)."""
        target = self.target_of(command)
        with self.wire_lock:
            if target == "daisy":
                ok = dot3.select(self.backend, command.ID)
            elif target == "zip":
                epp = bool(command.CommandFlags & nt.PAR_LEGACY_ZIP_DRIVE_EPP_MODE)
                ok = dot3.zip_connect(self.backend, epp)
            else:
                ok = True  # the end-of-chain device needs nothing on the wire
        return nt.STATUS_SUCCESS if ok else nt.STATUS_UNSUCCESSFUL

    def wire_deselect(self, command: nt.PARALLEL_1284_COMMAND) -> Status:
        target = self.target_of(command)
        with self.wire_lock:
            if target == "daisy":
                ok = dot3.deselect_all(self.backend)
            elif target == "zip":
                ok = dot3.zip_disconnect(self.backend)
            else:
                ok = True
        return nt.STATUS_SUCCESS if ok else nt.STATUS_UNSUCCESSFUL

    def try_select(self, owner: object, command: nt.PARALLEL_1284_COMMAND) -> Status:
        """The TrySelectDevice callback: never queues (A5)."""
        if self.target_of(command) is None:
            return nt.STATUS_INVALID_PARAMETER
        if command.CommandFlags & nt.PAR_HAVE_PORT_KEEP_PORT:
            if not self.arbiter.owned_by(owner):
                return nt.STATUS_INVALID_DEVICE_STATE
            return self._select_for(owner, command)
        if not self.arbiter.try_allocate(owner):
            return nt.STATUS_PENDING  # A5: nothing queued, no waiter counted
        status = self._select_for(owner, command)
        if status != nt.STATUS_SUCCESS:
            self.arbiter.free(owner)  # A6
        return status

    def deselect(self, owner: object, command: nt.PARALLEL_1284_COMMAND) -> Status:
        """The DeselectDevice callback and the DESELECT request (A4, A6)."""
        if self.target_of(command) is None:
            return nt.STATUS_INVALID_PARAMETER
        if not self.arbiter.owned_by(owner):
            return nt.STATUS_INVALID_DEVICE_STATE
        status = self.wire_deselect(command)
        self._selections.pop(id(owner), None)
        if not command.CommandFlags & nt.PAR_HAVE_PORT_KEEP_PORT:
            self.arbiter.free(owner)  # freed even if the wire failed (A6)
        return status

    def _select_for(self, owner: object, command: nt.PARALLEL_1284_COMMAND) -> Status:
        """Select on the wire for a port handle, remembering it so a close can deselect."""
        status = self.wire_select(command)
        if status == nt.STATUS_SUCCESS and self.target_of(command) in ("daisy", "zip"):
            self._selections[id(owner)] = command
        return status

    def _select(self, irp: nt.Irp) -> None:
        if len(irp.input) < nt.PARALLEL_1284_COMMAND.SIZE:
            irp.complete(nt.STATUS_BUFFER_TOO_SMALL)
            return
        command = nt.PARALLEL_1284_COMMAND.unpack(irp.input)
        if irp.code == nt.IOCTL_INTERNAL_DESELECT_DEVICE:
            irp.complete(self.deselect(irp.handle, command))
            return
        if irp.cancelled:
            irp.complete(nt.STATUS_CANCELLED)
            return
        if self.target_of(command) is None:
            irp.complete(nt.STATUS_INVALID_PARAMETER)
            return
        if command.CommandFlags & nt.PAR_HAVE_PORT_KEEP_PORT:
            irp.complete(self.try_select(irp.handle, command))
            return

        def select_when_granted(waiter: Waiter) -> Status:
            return self._select_for(waiter.owner, command)

        if self.arbiter.allocate(irp, irp.handle, select_when_granted):
            status = self._select_for(irp.handle, command)
            if status != nt.STATUS_SUCCESS:
                self.arbiter.free(irp.handle)  # A6
            irp.complete(status)

    # --- 1284.3 bus -----------------------------------------------------------------------------
    def _init_1284_3_bus(self, irp: nt.Irp) -> None:
        owner = irp.handle
        took = False
        if not self.arbiter.owned_by(owner):
            took = self.arbiter.try_allocate(owner)
            if not took:
                irp.complete(nt.STATUS_DEVICE_BUSY)  # deviation: never on a wire in use
                return
        try:
            with self.wire_lock:
                self.daisy_count = dot3.assign_addresses(self.backend)  # not clamped (§7.9)
        finally:
            if took:
                self.arbiter.free(owner)
        irp.complete(nt.STATUS_SUCCESS)

    def _rescan_flag(self, irp: nt.Irp) -> None:
        self.eoc_rescan_disabled = irp.code == nt.IOCTL_INTERNAL_DISABLE_END_OF_CHAIN_BUS_RESCAN
        irp.complete(nt.STATUS_SUCCESS)

    # --- interrupts (§7.12, §7.13, §10.7) -------------------------------------------------------
    def _connect_interrupt(self, irp: nt.Irp) -> None:
        if not self.options.enable_connect_interrupt:
            irp.complete(nt.STATUS_UNSUCCESSFUL)  # checked before anything else (§7.12)
            return
        size = nt.PARALLEL_INTERRUPT_SERVICE_ROUTINE.SIZE
        if len(irp.input) < size or irp.output_length < nt.PARALLEL_INTERRUPT_INFORMATION.SIZE:
            irp.complete(nt.STATUS_BUFFER_TOO_SMALL)
            return
        if self.backend.capabilities.irq is None:
            irp.complete(nt.STATUS_NOT_SUPPORTED)
            return
        handle = _handle(irp)
        request = nt.PARALLEL_INTERRUPT_SERVICE_ROUTINE.unpack(irp.input)
        try:
            routine = handle.callbacks.callable(request.InterruptServiceRoutine)
            deferred = (
                handle.callbacks.callable(request.DeferredPortCheckRoutine)
                if request.DeferredPortCheckRoutine
                else None
            )
        except (KeyError, TypeError):
            irp.complete(nt.STATUS_INVALID_PARAMETER)
            return
        isr = _Isr(
            routine,
            request.InterruptServiceContext,
            deferred,
            request.DeferredPortCheckContext,
            request.InterruptServiceRoutine,
            handle,
        )
        with self._isr_lock:
            first = not self._isrs
            self._isrs.append(isr)
        if first:
            self.backend.set_interrupt_handler(self._port_isr)
        tokens = handle.callbacks
        info = nt.PARALLEL_INTERRUPT_INFORMATION(
            InterruptObject=tokens.token(self._port_isr),
            TryAllocatePortAtInterruptLevel=tokens.token(
                lambda context=0: self.arbiter.try_allocate(handle)
            ),
            FreePortFromInterruptLevel=tokens.token(lambda context=0: self._free_callback(handle)),
            Context=tokens.token(self),
        )
        data = info.pack()
        irp.complete(nt.STATUS_SUCCESS, len(data), data)

    def _disconnect_interrupt(self, irp: nt.Irp) -> None:
        if len(irp.input) < nt.PARALLEL_INTERRUPT_SERVICE_ROUTINE.SIZE:
            irp.complete(nt.STATUS_BUFFER_TOO_SMALL)
            return
        request = nt.PARALLEL_INTERRUPT_SERVICE_ROUTINE.unpack(irp.input)
        with self._isr_lock:
            found = next(
                (
                    isr
                    for isr in self._isrs
                    if isr.isr_token == request.InterruptServiceRoutine
                    and isr.context == request.InterruptServiceContext
                ),
                None,
            )
        if found is None:
            irp.complete(nt.STATUS_INVALID_PARAMETER)
            return
        self._disconnect(found)
        irp.complete(nt.STATUS_SUCCESS)

    def _disconnect(self, isr: _Isr) -> None:
        with self._isr_lock:
            if isr in self._isrs:
                self._isrs.remove(isr)
            last = not self._isrs
        if last:
            self.backend.set_interrupt_handler(None)

    def _port_isr(self) -> None:
        """Call each connected ISR in connect order until one claims the interrupt."""
        with self._isr_lock:
            isrs = list(self._isrs)
        for isr in isrs:
            try:
                if isr.routine(isr.isr_token, isr.context):
                    return
            except Exception:
                log.exception("%s: a client ISR raised", self.name)

    def _run_deferred_checks(self) -> None:
        if not self._isrs:
            return
        with self._isr_lock:
            checks = [isr for isr in self._isrs if isr.deferred is not None]
        for isr in checks:
            try:
                assert isr.deferred is not None
                isr.deferred(isr.deferred_context)
            except Exception:
                log.exception("%s: a deferred port check raised", self.name)

    # --- simple requests ------------------------------------------------------------------------
    def _success(self, irp: nt.Irp) -> None:
        irp.complete(nt.STATUS_SUCCESS)

    def _invalid(self, irp: nt.Irp) -> None:
        irp.complete(nt.STATUS_INVALID_PARAMETER)  # A21

    _HANDLERS: ClassVar[dict[int, Callable[[ParallelPort, nt.Irp], None]]] = {
        nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE: _allocate,
        nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE: _free,
        nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO: _info,
        nt.IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO: _info,
        nt.IOCTL_INTERNAL_GET_MORE_PARALLEL_PORT_INFO: _info,
        nt.IOCTL_INTERNAL_RELEASE_PARALLEL_PORT_INFO: _success,
        nt.IOCTL_INTERNAL_PARALLEL_SET_CHIP_MODE: _chip_mode,
        nt.IOCTL_INTERNAL_PARALLEL_CLEAR_CHIP_MODE: _chip_mode,
        nt.IOCTL_INTERNAL_INIT_1284_3_BUS: _init_1284_3_bus,
        nt.IOCTL_INTERNAL_SELECT_DEVICE: _select,
        nt.IOCTL_INTERNAL_DESELECT_DEVICE: _select,
        nt.IOCTL_INTERNAL_PARALLEL_CONNECT_INTERRUPT: _connect_interrupt,
        nt.IOCTL_INTERNAL_PARALLEL_DISCONNECT_INTERRUPT: _disconnect_interrupt,
        nt.IOCTL_INTERNAL_DISABLE_END_OF_CHAIN_BUS_RESCAN: _rescan_flag,
        nt.IOCTL_INTERNAL_ENABLE_END_OF_CHAIN_BUS_RESCAN: _rescan_flag,
        nt.IOCTL_INTERNAL_PARCHIP_CONNECT: _invalid,
        nt.IOCTL_INTERNAL_REGISTER_FOR_REMOVAL_RELATIONS: _invalid,
        nt.IOCTL_INTERNAL_UNREGISTER_FOR_REMOVAL_RELATIONS: _invalid,
    }


def _handle(irp: nt.Irp) -> Handle:
    handle = irp.handle
    assert isinstance(handle, Handle)
    return handle


def as_command(command: nt.PARALLEL_1284_COMMAND | bytes) -> nt.PARALLEL_1284_COMMAND:
    """A PARALLEL_1284_COMMAND from the structure or its 8 bytes (callbacks take either)."""
    if isinstance(command, nt.PARALLEL_1284_COMMAND):
        return command
    return nt.PARALLEL_1284_COMMAND.unpack(bytes(command))
