"""The port's device object (the FDO, ``\\Device\\ParallelPortN``): every IRP major function of
windows-parport.md §5.1 and every internal request of §7, with Part A's decisions.

The port is opened shared. Its owner is tracked (A3): an ALLOCATE or SELECT through a handle
makes that handle's file object the owner; PARALLEL_PORT_FREE, DESELECT and chip-mode changes
from a handle that does not own the port change nothing and complete STATUS_INVALID_DEVICE_STATE
(A4). Closing a handle cancels what it queued and, if it owns the port, deselects what it
selected and frees the port (A9, A27). The callbacks handed out in PARALLEL_PORT_INFORMATION /
PARALLEL_PNP_INFORMATION / PARALLEL_INTERRUPT_INFORMATION are real callables bound to the handle
that fetched them (``handle.callbacks.callable(pointer)``), made once per handle. Every claim and
release goes through the port's seam (:mod:`.seam`), which this object is.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from .. import nt
from ..hw.backend import PortBackend
from ..ieee1284 import Session
from . import registers
from .arbiter import Waiter
from .iomgr import DeviceObject, FileObject
from .seam import PortSeam, as_command
from .worker import WorkQueue

__all__ = ["ParallelPort", "PortOptions", "as_command"]

log = logging.getLogger(__name__)

Status = int
_CALLBACKS = "port callbacks"  # a handle's context key: the port's callbacks made for it (_bound)


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
    owner: FileObject | None


class ParallelPort(DeviceObject, PortSeam):
    """See the module docstring."""

    exclusive = False

    def __init__(
        self,
        index: int,
        backend: PortBackend,
        session: Session,
        options: PortOptions | None = None,
    ) -> None:
        DeviceObject.__init__(self, f"\\Device\\ParallelPort{index}")
        PortSeam.__init__(self, self.name, backend, session)
        self.index = index
        self.port_name = f"LPT{index + 1}"
        self.options = options or PortOptions()
        self.current_mode = nt.INITIAL_MODE
        self._saved_ecr: int | None = None
        self.eoc_rescan_disabled = False
        self._isrs: list[_Isr] = []
        self._isr_lock = threading.Lock()
        # Register scripts granted after a wait run here, not in the thread that freed the port.
        self._scripts = WorkQueue(f"{self.port_name} scripts", _no_requests)

    # --- IRP majors (§5.1) ----------------------------------------------------------------------
    def cleanup(self, file: FileObject) -> None:
        """Part A, A9: cancel what this handle queued; if it owns the port, deselect what it
        selected and free the port (A27)."""
        self.arbiter.cancel_queued_by(file)
        if self.owns(file):
            log.info("%s: %r closed while owning the port; freeing it", self.name, file)
            self.release(file)
        with self._isr_lock:
            gone = [isr for isr in self._isrs if isr.owner is file]
        for isr in gone:
            self._disconnect(isr)

    def dispatch(self, irp: nt.Irp) -> None:
        if self.removed:
            irp.complete(nt.STATUS_DELETE_PENDING)
            return
        if irp.major_function != nt.IRP_MJ_INTERNAL_DEVICE_CONTROL:
            if (
                irp.major_function == nt.IRP_MJ_DEVICE_CONTROL
                and irp.code == registers.IOCTL_PARPORT_REGISTERS
            ):
                self._registers(irp)
                return
            irp.complete(nt.STATUS_NOT_SUPPORTED)  # A13, and READ/WRITE/INFORMATION (§5.1)
            return
        handler = self._HANDLERS.get(irp.code)
        if handler is None:
            irp.complete(nt.STATUS_INVALID_PARAMETER)
            return
        handler(self, irp)

    # --- allocation -----------------------------------------------------------------------------
    def _allocate(self, irp: nt.Irp) -> None:
        if irp._cancelled:
            irp.complete(nt.STATUS_CANCELLED)
        elif self.arbiter.allocate(irp, irp.handle):
            irp.complete(nt.STATUS_SUCCESS)

    def _free(self, irp: nt.Irp) -> None:
        # A27: what the owner selected is deselected before the port is freed; A4: a non-owner
        # changes nothing.
        if self.release(irp.handle) == nt.STATUS_INVALID_DEVICE_STATE:
            irp.complete(nt.STATUS_INVALID_DEVICE_STATE)
        else:
            irp.complete(nt.STATUS_SUCCESS)

    # --- information ----------------------------------------------------------------------------
    def _span(self) -> int:
        return 8 if self.backend.capabilities.epp else nt.OFFSET_PARALLEL_REGISTER_SPAN

    def port_information(self, file: FileObject) -> nt.PARALLEL_PORT_INFORMATION:
        caps = self.backend.capabilities
        tokens = file.callbacks
        return nt.PARALLEL_PORT_INFORMATION(
            OriginalController=caps.base,
            Controller=caps.base,
            SpanOfController=self._span(),
            TryAllocatePort=tokens.token(self._bound(file, "try_allocate")),
            FreePort=tokens.token(self._bound(file, "free")),
            QueryNumWaiters=tokens.token(self._bound(file, "waiters")),
            Context=tokens.token(self),
        )

    def _bound(self, file: FileObject, what: str) -> Callable[..., Any]:
        """The callback ``what`` bound to ``file``: made once per handle, so asking for the
        structures again hands out the same pointers (and keeps nothing more)."""
        cache: dict[str, Callable[..., Any]] = file.context.setdefault(_CALLBACKS, {})
        routine = cache.get(what)
        if routine is None:
            routine = cache[what] = self._make_callback(file, what)
        return routine

    def waits_for_nothing(self, file: FileObject, routine: object) -> bool:
        """Whether ``routine`` is one of the port's own callbacks handed to ``file``
        (TryAllocatePort, FreePort, QueryNumWaiters, the chip-mode and select routines): each
        does its step and returns, as the reference driver's do at DISPATCH_LEVEL — unless the
        port is shared with the system, whose claim may wait for the kernel."""
        if self.backend.shared:
            return False
        made: dict[str, Callable[..., Any]] = file.context.get(_CALLBACKS, {})
        return any(routine is each for each in made.values())

    def _make_callback(self, file: FileObject, what: str) -> Callable[..., Any]:
        """The chip-mode and select callbacks run under the handle's rundown: a call racing the
        handle's close either ends before the cleanup, which then gives back what it took, or
        finds the handle closed and does nothing (STATUS_INVALID_DEVICE_STATE). TryAllocatePort
        checks the handle itself (:meth:`_try_allocate_for`); FreePort from a closed handle is
        a non-owner's free."""
        arbiter = self.arbiter
        refused = nt.STATUS_INVALID_DEVICE_STATE
        if what == "try_allocate":  # called with the context
            return self._try_allocate_for(file)
        if what == "free":  # A4: a no-op from a non-owner, a closed handle included
            return functools.partial(self.release, file)
        if what == "waiters":
            return functools.partial(arbiter.count_waiters)
        if what == "set_chip":
            return file.guarded(lambda context, mode: self.set_chip_mode(file, mode), refused)
        if what == "clear_chip":
            return file.guarded(lambda context, mode: self.clear_chip_mode(file, mode), refused)
        if what == "try_select":
            return file.guarded(
                lambda context, command: self.try_select(file, as_command(command)), refused
            )
        if what == "deselect":
            return file.guarded(
                lambda context, command: self.deselect_device(file, as_command(command)), refused
            )
        raise KeyError(what)

    def _try_allocate_for(self, file: FileObject) -> Callable[..., bool]:
        """TryAllocatePort for ``file``, the hot one of the callbacks, so without the rundown:
        it takes the port, then looks whether the handle was closed meanwhile and, if so, gives
        it back. A close sets ``closed`` before its cleanup frees what the handle holds, so in
        every order one of the two frees the port."""
        try_allocate, release = self.arbiter.try_allocate, self.release

        def callback(context: object = None) -> bool:
            if file._closed or not try_allocate(file):
                return False
            if file._closed:
                release(file)
                return False
            return True

        return callback

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

    def pnp_information(self, file: FileObject) -> nt.PARALLEL_PNP_INFORMATION:
        caps = self.backend.capabilities
        hw = self.session.hardware
        tokens = file.callbacks
        ecp_base = caps.base_hi or 0 if hw.ecr else 0
        return nt.PARALLEL_PNP_INFORMATION(
            OriginalEcpController=ecp_base,
            EcpController=ecp_base,
            SpanOfEcpController=nt.ECP_SPAN if ecp_base else 0,
            PortNumber=0,
            HardwareCapabilities=self.hardware_capabilities(),
            TrySetChipMode=tokens.token(self._bound(file, "set_chip")),
            ClearChipMode=tokens.token(self._bound(file, "clear_chip")),
            FifoDepth=hw.fifo_depth,
            FifoWidth=hw.fifo_width if hw.fifo_depth else 0,  # A18: bits per FIFO word
            EppControllerPhysicalAddress=0,
            SpanOfEppController=0,
            Ieee1284_3DeviceCount=self.daisy_count,
            TrySelectDevice=tokens.token(self._bound(file, "try_select")),
            DeselectDevice=tokens.token(self._bound(file, "deselect")),
            Context=tokens.token(self),
            CurrentMode=self.current_mode,
            PortName=tokens.token(self.port_name),
        )

    def _info(self, irp: nt.Irp) -> None:
        code = irp.code
        if code == nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO:
            struct: nt.NtStruct = self.port_information(_file(irp))
        elif code == nt.IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO:
            struct = self.pnp_information(_file(irp))
        else:
            struct = self.more_information()
        irp.complete_struct(struct)  # A11, A12

    # --- chip modes (§7.7, §7.8; A17) -----------------------------------------------------------
    def set_chip_mode(self, owner: object, mode_flags: int) -> Status:
        if not self.owns(owner):
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
        if not self.owns(owner):
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

    # --- 1284.3 select and deselect (§7.10, §7.11, §10.4, §10.5; A5, A6, A20, A24, A27) ---------
    def try_select(self, owner: object, command: nt.PARALLEL_1284_COMMAND) -> Status:
        """The TrySelectDevice callback: never queues (A5)."""
        if self.target_of(command) is None:
            return nt.STATUS_INVALID_PARAMETER
        if command.CommandFlags & nt.PAR_HAVE_PORT_KEEP_PORT:
            return self.select(owner, command)  # INVALID_DEVICE_STATE from a non-owner (A24)
        return self.try_claim(owner, command)

    def deselect_device(self, owner: object, command: nt.PARALLEL_1284_COMMAND) -> Status:
        """The DeselectDevice callback and the DESELECT request: deselect, then free the port
        unless KEEP_PORT — freed even when the wire failed (A6); A4 for a non-owner."""
        if self.target_of(command) is None:
            return nt.STATUS_INVALID_PARAMETER
        if not self.owns(owner):
            return nt.STATUS_INVALID_DEVICE_STATE
        status = self.deselect(owner, command)
        if not command.CommandFlags & nt.PAR_HAVE_PORT_KEEP_PORT:
            self.release(owner)
        return status

    def _select(self, irp: nt.Irp) -> None:
        if len(irp.input) < nt.PARALLEL_1284_COMMAND.SIZE:
            irp.complete(nt.STATUS_BUFFER_TOO_SMALL)
            return
        command = nt.PARALLEL_1284_COMMAND.unpack(irp.input)
        if irp.code == nt.IOCTL_INTERNAL_DESELECT_DEVICE:
            irp.complete(self.deselect_device(irp.handle, command))
            return
        if irp.cancelled:
            irp.complete(nt.STATUS_CANCELLED)
            return
        if self.target_of(command) is None:
            irp.complete(nt.STATUS_INVALID_PARAMETER)
            return
        if command.CommandFlags & nt.PAR_HAVE_PORT_KEEP_PORT:
            irp.complete(self.select(irp.handle, command))
            return

        def select_when_granted(waiter: Waiter) -> None:
            waiter.irp.complete(self._select_taken(waiter.owner, command))

        if self.claim(irp, irp.handle, select_when_granted):
            irp.complete(self._select_taken(irp.handle, command))

    def _select_taken(self, owner: object, command: nt.PARALLEL_1284_COMMAND) -> Status:
        """The port was just granted to a SELECT: select, or give the port back (A6)."""
        status = self.select(owner, command)
        if status != nt.STATUS_SUCCESS:
            self.release(owner)
        return status

    # --- register scripts (parport's own request, see .registers) ---------------------------------
    def _registers(self, irp: nt.Irp) -> None:
        steps = registers.decode(irp.input)
        if steps is None:
            irp.complete(nt.STATUS_INVALID_PARAMETER)
            return
        if irp.output_length < registers.reads(steps):
            irp.complete(nt.STATUS_BUFFER_TOO_SMALL)
            return
        owner = irp.handle
        if self.owns(owner):
            done = self._script(steps, owner, None, irp)  # inside the handle's own allocation
            if done is not None:
                irp.complete(*done)
                return
        if irp.cancelled:
            irp.complete(nt.STATUS_CANCELLED)
            return

        def granted(waiter: Waiter) -> None:
            if self.removed:
                self.release(owner)
                waiter.irp.complete(nt.STATUS_CANCELLED)
                return
            self._scripts.start()
            self._scripts.call(lambda: self._run_script(waiter.irp, steps, owner), wait=False)

        if self.claim(irp, owner, granted):
            self._run_script(irp, steps, owner)

    def _run_script(self, irp: nt.Irp, steps: Sequence[registers.Step], take: object) -> None:
        """Run a script for its owner; ``take``: the owner whose automatic allocation it was,
        given back afterwards."""
        done = self._script(steps, take, take, irp)
        irp.complete(*(done or (nt.STATUS_CANCELLED,)))  # None: its handle was closed meanwhile

    def _script(
        self,
        steps: Sequence[registers.Step],
        owner: object,
        take: object,
        irp: nt.Irp | None = None,
    ) -> nt.IoStatus | None:
        """Run ``steps`` on the wire for ``owner``, checked to hold the port under the wire lock
        (a FREE racing this from another thread of the same handle cannot let the script land
        in the next owner's turn); None, and nothing run, when it does not hold it any more.
        Gives the port back to ``take``'s automatic allocation afterwards, if any. A cancel of
        ``irp`` cuts its sleeps short (registers.py)."""
        cancelled = None if irp is None else (lambda: irp.cancelled)
        try:
            with self.wire_lock:
                if not self.owns(owner):
                    return None
                data, cut = registers.run(self.backend, steps, cancelled)
        except OSError as exc:
            log.info("%s: a register script failed: %s", self.name, exc)
            return nt.IoStatus(nt.STATUS_IO_DEVICE_ERROR)
        finally:
            if take is not None:
                self.release(take)
        if cut:
            return nt.IoStatus(nt.STATUS_CANCELLED)
        return nt.IoStatus(nt.STATUS_SUCCESS, len(data), data)

    def run_now(
        self, file: FileObject, code: int, data: bytes, output_length: int
    ) -> nt.IoStatus | None:
        """IOCTL_PARPORT_REGISTERS without a request, in the caller's thread, when nothing
        needs waiting for: the port is the handle's already, or free with nobody queued (the
        arbiter's lock-free path, so nobody is overtaken). None when it cannot be done so, or
        the script is not valid: the caller submits the request, which waits or answers."""
        if code != registers.IOCTL_PARPORT_REGISTERS or self.removed:
            return None
        steps = registers.decode(data)
        if steps is None or output_length < registers.reads(steps):
            return None
        if self.owns(file):
            done = self._script(steps, file, None)
            if done is not None:
                return done
        if self.try_claim(file) != nt.STATUS_SUCCESS:
            return None
        return self._script(steps, file, file)

    def shutdown(self) -> None:
        """The bus is closing: end the script worker."""
        self._scripts.shutdown(lambda: None)

    # --- 1284.3 bus -----------------------------------------------------------------------------
    def _init_1284_3_bus(self, irp: nt.Irp) -> None:
        owner = irp.handle
        took = False
        if not self.owns(owner):
            took = self.arbiter.try_allocate(owner)
            if not took:
                irp.complete(nt.STATUS_DEVICE_BUSY)  # A23: never on a wire in use
                return
        try:
            self.daisy_count = self.reassign_addresses(owner)  # not clamped (§7.9)
        finally:
            if took:
                self.release(owner)
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
        handle = _file(irp)
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
            self.on_free = self._run_deferred_checks
            self.arbiter.on_free = self._freed
        tokens = handle.callbacks
        info = nt.PARALLEL_INTERRUPT_INFORMATION(
            InterruptObject=tokens.token(self._port_isr),
            TryAllocatePortAtInterruptLevel=tokens.token(self._bound(handle, "try_allocate")),
            FreePortFromInterruptLevel=tokens.token(self._bound(handle, "free")),
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
            self.on_free = None
            if not self.backend.shared:
                self.arbiter.on_free = None

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


def _no_requests(irp: nt.Irp) -> None:
    irp.complete(nt.STATUS_INVALID_DEVICE_REQUEST)  # the script worker only runs jobs


def _file(irp: nt.Irp) -> FileObject:
    file = irp.handle
    assert isinstance(file, FileObject)
    return file
