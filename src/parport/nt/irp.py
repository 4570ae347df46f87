"""The request object every layer passes around: :class:`Irp`, and its result :class:`IoStatus`.

An :class:`Irp` is created with its major function, IOCTL code, input bytes, output length and the
handle it came through. It completes exactly once; completing it again raises
:class:`IrpAlreadyCompletedError` instead of overwriting the first result. While a driver holds a
request in a queue it arms a cancel routine; :meth:`Irp.cancel` sets the cancel flag and, if a
routine is armed, takes it and calls it (outside every lock) — the routine then completes the
request, normally with STATUS_CANCELLED. A driver that dequeues a request to work on it disarms the
routine first: if :meth:`Irp.disarm_cancel` returns False a cancel is already running and will
complete the request, so the driver must leave it alone. This is the ``IoSetCancelRoutine``
protocol, and it is what makes "exactly one of complete and cancel wins" hold under threads.

Completion wakes every :meth:`Irp.wait` and then runs the completion callbacks in the completing
thread, after the request's lock is released.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Self

from .ioctl import ioctl_name
from .major import IRP_MJ
from .status import NT_SUCCESS, NTSTATUS, status_name

if TYPE_CHECKING:
    from .structs import NtStruct

__all__ = ["CancelRoutine", "IoStatus", "Irp", "IrpAlreadyCompletedError", "IrpCallback"]

log = logging.getLogger(__name__)

_MAJORS = {int(m): m for m in IRP_MJ}
_PENDING = int(NTSTATUS.STATUS_PENDING)
_WRITE = IRP_MJ.IRP_MJ_WRITE
_allocate_lock = threading.Lock
CancelRoutine = Callable[["Irp"], None]
IrpCallback = Callable[["Irp"], None]


_new = object.__new__
_FOREVER = threading.TIMEOUT_MAX


def wait_seconds(timeout: float | None) -> float | None:
    """``timeout`` as a wait takes it: None (no limit) for None, for infinity and for more
    seconds than the system can wait (``threading.TIMEOUT_MAX``, about 292 years); zero or less
    means: look now. TypeError for what is not a number of seconds, ValueError for NaN. The
    blocking calls check it before they send their request, so a bad timeout leaves no request
    behind to be granted to nobody."""
    if timeout is None:
        return None
    if type(timeout) is not float and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float)
    ):
        raise TypeError(f"timeout must be a number of seconds, not {type(timeout).__name__}")
    if math.isnan(timeout):
        raise ValueError("timeout must be a number of seconds, not NaN")
    return None if timeout >= _FOREVER else timeout


def wait_or_cancel(irp: Irp, timeout: float | None) -> IoStatus | None:
    """``irp.wait(timeout)`` for a blocking call; when the wait is interrupted (Ctrl-C's
    KeyboardInterrupt, or any exception raised in the waiting thread), the request is cancelled
    before the exception goes on, as a timeout would: a queued request ends STATUS_CANCELLED at
    once and one being worked on stops at its next check, so an interrupted ALLOCATE or LOCK is
    not granted later to a caller that never saw it succeed. (One already granted when the
    cancel reaches it stands: the facade takes that back, knowing what undoes it.)"""
    try:
        return irp.wait(timeout)
    except BaseException:
        irp.cancel()
        raise


class IrpAlreadyCompletedError(RuntimeError):
    """A request was completed a second time (a driver bug, never silently ignored)."""


class IoStatus(NamedTuple):
    """The final result of a request: ``IoStatus.Status``, ``IoStatus.Information`` and the bytes
    returned in the output buffer (``len(output) == information`` except for writes, where
    Information counts the bytes written and nothing is returned). Immutable."""

    status: int
    information: int = 0
    output: bytes = b""

    @property
    def ok(self) -> bool:
        """NT_SUCCESS(status)."""
        return NT_SUCCESS(self.status)

    def __str__(self) -> str:
        return f"{status_name(self.status)}, Information {self.information}"


_SUCCESS = IoStatus(0, 0, b"")


class Irp:
    """One I/O request (see the module docstring for the completion and cancel protocol)."""

    __slots__ = (
        "_callbacks",
        "_cancel_routine",
        "_cancelled",
        "_event",
        "_lock",
        "_result",
        "code",
        "handle",
        "input",
        "major_function",
        "output_length",
    )

    def __init__(
        self,
        major_function: int,
        code: int = 0,
        input: bytes | bytearray | memoryview = b"",
        output_length: int = 0,
        handle: object | None = None,
    ) -> None:
        if output_length < 0:
            raise ValueError(f"output_length must be >= 0, not {output_length}")
        if not 0 <= code <= 0xFFFFFFFF:
            raise ValueError(f"an IOCTL code is a 32-bit value, not {code!r}")
        major = _MAJORS.get(major_function)
        if major is None:
            raise ValueError(f"{major_function!r} is not an IRP major function code")
        self.major_function = major
        self.code = code
        self.input = input if type(input) is bytes else bytes(input)
        self.output_length = output_length
        self.handle = handle
        self._lock = _allocate_lock()
        self._result: IoStatus | None = None
        self._cancelled = False
        self._cancel_routine: CancelRoutine | None = None
        self._event: threading.Event | None = None
        self._callbacks: list[IrpCallback] | None = None

    # --- state ----------------------------------------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the request has completed."""
        return self._result is not None

    @property
    def result(self) -> IoStatus | None:
        """The final IoStatus, or None while the request is pending."""
        return self._result

    @property
    def status(self) -> int:
        """The final status, or STATUS_PENDING while the request is pending."""
        result = self._result
        return NTSTATUS.STATUS_PENDING if result is None else result.status

    @property
    def cancelled(self) -> bool:
        """The cancel flag (``Irp->Cancel``): set by :meth:`cancel`, even after completion began."""
        return self._cancelled

    # --- completion -----------------------------------------------------------------------------

    def complete(self, status: int, information: int = 0, output: bytes = b"") -> None:
        """Complete the request once; wake waiters, then run callbacks outside the lock."""
        if not status and not information and not output:
            result = _SUCCESS  # the common case, valid as it stands
        else:
            result = self._checked_result(status, information, output)
        with self._lock:
            if self._result is not None:
                raise IrpAlreadyCompletedError(
                    f"{self!r} completed again with {status_name(status)}"
                )
            self._result = result
            self._cancel_routine = None
            event = self._event
            callbacks = self._callbacks
            self._callbacks = None
        if event is not None:
            event.set()
        if callbacks:
            for callback in callbacks:
                self._run_callback(callback)

    def _checked_result(self, status: int, information: int, output: bytes) -> IoStatus:
        if not 0 <= status <= 0xFFFFFFFF or status == _PENDING:
            raise ValueError(f"a request cannot be completed with {status!r}")
        if output:
            if type(output) is not bytes:
                output = bytes(output)
            if self.major_function is _WRITE:
                raise ValueError("a write returns no output bytes")
            if information != len(output):
                raise ValueError(f"Information {information} != {len(output)} output bytes")
            if information > self.output_length:
                raise ValueError(
                    f"{len(output)} output bytes exceed the buffer of {self.output_length}"
                )
        elif information and self.major_function is not _WRITE:
            raise ValueError(f"Information {information} != 0 output bytes")
        elif information < 0:
            raise ValueError(f"Information must be >= 0, not {information}")
        return IoStatus(status if type(status) is int else int(status), information, output or b"")

    @classmethod
    def _trusted(
        cls, major_function: IRP_MJ, code: int, input: bytes, output_length: int, handle: object
    ) -> Self:
        """A request from arguments its caller has checked already (the I/O manager's path:
        ``major_function`` a member of IRP_MJ, ``code`` a 32-bit int, ``input`` bytes,
        ``output_length`` >= 0)."""
        irp = _new(cls)
        irp.major_function = major_function
        irp.code = code
        irp.input = input
        irp.output_length = output_length
        irp.handle = handle
        irp._lock = _allocate_lock()
        irp._result = None
        irp._cancelled = False
        irp._cancel_routine = None
        irp._event = None
        irp._callbacks = None
        return irp

    def complete_struct(self, struct: NtStruct) -> None:
        """Complete with ``struct`` as the output, or STATUS_BUFFER_TOO_SMALL (nothing written)
        when the output buffer is shorter than the structure."""
        if self.output_length < struct.SIZE:
            self.complete(NTSTATUS.STATUS_BUFFER_TOO_SMALL)
            return
        data = struct.pack()
        self.complete(NTSTATUS.STATUS_SUCCESS, len(data), data)

    def add_done_callback(self, callback: IrpCallback) -> None:
        """Call ``callback(irp)`` after completion (at once, in this thread, if already done)."""
        with self._lock:
            if self._result is None:
                if self._callbacks is None:
                    self._callbacks = [callback]
                else:
                    self._callbacks.append(callback)
                return
        self._run_callback(callback)

    def _run_callback(self, callback: IrpCallback) -> None:
        try:
            callback(self)
        except Exception:
            log.exception("completion callback %r of %r raised", callback, self)

    def wait(self, timeout: float | None = None) -> IoStatus | None:
        """Block until the request completes; its IoStatus, or None if ``timeout`` (s) passed."""
        result = self._result
        if result is not None:
            return result
        timeout = wait_seconds(timeout)
        with self._lock:
            if self._result is not None:
                return self._result
            if self._event is None:
                self._event = threading.Event()
            event = self._event
        event.wait(timeout)
        return self._result

    # --- cancellation ---------------------------------------------------------------------------

    def set_cancel_routine(self, routine: CancelRoutine | None) -> CancelRoutine | None:
        """Set or clear the cancel routine (``IoSetCancelRoutine``); returns the previous one."""
        with self._lock:
            previous = self._cancel_routine
            if routine is not None and self._result is not None:
                raise IrpAlreadyCompletedError(f"{self!r} is complete; no cancel routine to arm")
            self._cancel_routine = routine
            return previous

    def arm_cancel(self, routine: CancelRoutine) -> bool:
        """Arm ``routine`` unless the request is already cancelled.

        Returns False (and arms nothing) when the cancel flag is set: the caller then completes
        the request with STATUS_CANCELLED itself.
        """
        with self._lock:
            if self._result is not None:
                raise IrpAlreadyCompletedError(f"{self!r} is complete; no cancel routine to arm")
            if self._cancelled:
                return False
            self._cancel_routine = routine
            return True

    def disarm_cancel(self) -> bool:
        """Take the armed cancel routine away before working on the request.

        True: the caller now owns the request and must complete it. False: no routine was armed
        because a cancel already took it; that cancel completes the request.
        """
        with self._lock:
            routine = self._cancel_routine
            self._cancel_routine = None
        return routine is not None

    def cancel(self) -> bool:
        """Request cancellation (``IoCancelIrp``).

        Sets the cancel flag. If a cancel routine is armed it is removed and called with this
        request, outside every lock, and True is returned; otherwise (already complete, or being
        worked on) False is returned and the flag alone remains for the worker to notice.
        """
        with self._lock:
            if self._result is not None:
                return False
            self._cancelled = True
            routine = self._cancel_routine
            self._cancel_routine = None
        if routine is None:
            return False
        routine(self)
        return True

    def __repr__(self) -> str:
        if self.major_function in (
            IRP_MJ.IRP_MJ_DEVICE_CONTROL,
            IRP_MJ.IRP_MJ_INTERNAL_DEVICE_CONTROL,
        ):
            what = ioctl_name(self.major_function, self.code)
        else:
            what = self.major_function.name
        result = self._result
        state = "pending" if result is None else str(result)
        return f"<Irp {what} {state}>"
