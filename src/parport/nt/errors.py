"""The exception tree: every failure carries its NTSTATUS (``design.md`` §5).

:class:`ParportError` is the root; :class:`NtStatusError` carries ``.status``; its subclasses
also inherit the builtin exception they resemble, so ``except TimeoutError`` or
``except PermissionError`` catch them too. :func:`NtStatusError.from_status` picks the class for
a status.
"""

from __future__ import annotations

from typing import ClassVar

from .status import NTSTATUS, status_name

__all__ = [
    "AccessDeniedError",
    "BufferTooSmallError",
    "CancelledError",
    "DeviceBusyError",
    "DeviceError",
    "DeviceRemovedError",
    "InvalidDeviceStateError",
    "InvalidParameterError",
    "IoTimeoutError",
    "NotAPortError",
    "NotSupportedError",
    "NtStatusError",
    "ParportError",
    "PortAccessError",
    "PortHungError",
    "PortInUseError",
    "PortNotFoundError",
    "PortPermissionError",
    "PrinterError",
    "SpecError",
]


class ParportError(Exception):
    """Root of every parport exception."""


class NtStatusError(ParportError):
    """A request ended with a failure NTSTATUS (``.status``), and ``.information`` if any."""

    statuses: ClassVar[tuple[int, ...]] = ()

    def __init__(self, status: int, message: str = "", information: int = 0) -> None:
        self.status = status
        self.information = information
        text = status_name(status)
        super().__init__(f"{text}: {message}" if message else text)

    @staticmethod
    def from_status(status: int, message: str = "", information: int = 0) -> NtStatusError:
        """The most specific exception for ``status``."""
        for cls in _CLASSES:
            if status in cls.statuses:
                return cls(status, message, information)
        return NtStatusError(status, message, information)


class DeviceBusyError(NtStatusError, BlockingIOError):
    """The port could not be had in time (STATUS_DEVICE_BUSY)."""

    statuses = (NTSTATUS.STATUS_DEVICE_BUSY,)


class IoTimeoutError(NtStatusError, TimeoutError):
    """A peripheral or a wait timed out."""

    statuses = (NTSTATUS.STATUS_IO_TIMEOUT, NTSTATUS.STATUS_TIMEOUT)


class CancelledError(NtStatusError):
    """The request was cancelled (STATUS_CANCELLED)."""

    statuses = (NTSTATUS.STATUS_CANCELLED,)


class DeviceRemovedError(NtStatusError, ConnectionError):
    """The device or its port is gone or going."""

    statuses = (
        NTSTATUS.STATUS_DEVICE_REMOVED,
        NTSTATUS.STATUS_DELETE_PENDING,
        NTSTATUS.STATUS_NO_SUCH_DEVICE,
    )


class InvalidParameterError(NtStatusError, ValueError):
    """A bad request: unknown code, bad input (STATUS_INVALID_PARAMETER …)."""

    statuses = (
        NTSTATUS.STATUS_INVALID_PARAMETER,
        NTSTATUS.STATUS_INVALID_DEVICE_REQUEST,
        NTSTATUS.STATUS_NOT_A_DIRECTORY,
    )


class SpecError(InvalidParameterError):
    """A port spec, an ``emu:`` option or a bench file that cannot describe a port.

    Raised before anything is opened; the message is one line naming the option, the value given
    and what is allowed. ``.status`` is STATUS_INVALID_PARAMETER, and unlike the request failures
    the text carries no status name: it is meant for whoever wrote the spec.
    """

    def __init__(self, message: str) -> None:
        self.status = NTSTATUS.STATUS_INVALID_PARAMETER
        self.information = 0
        Exception.__init__(self, message)


class BufferTooSmallError(NtStatusError, ValueError):
    """An input or output buffer was too small (STATUS_BUFFER_TOO_SMALL)."""

    statuses = (NTSTATUS.STATUS_BUFFER_TOO_SMALL,)


class AccessDeniedError(NtStatusError, PermissionError):
    """Opened already, or not allowed (STATUS_ACCESS_DENIED)."""

    statuses = (NTSTATUS.STATUS_ACCESS_DENIED,)


class NotSupportedError(NtStatusError, NotImplementedError):
    """The target does not do this (STATUS_NOT_SUPPORTED, STATUS_NOT_IMPLEMENTED)."""

    statuses = (NTSTATUS.STATUS_NOT_SUPPORTED, NTSTATUS.STATUS_NOT_IMPLEMENTED)


class InvalidDeviceStateError(NtStatusError, RuntimeError):
    """Not now: e.g. freeing a port this handle does not own (STATUS_INVALID_DEVICE_STATE)."""

    statuses = (NTSTATUS.STATUS_INVALID_DEVICE_STATE,)


class PrinterError(NtStatusError, OSError):
    """The printer's lines say it cannot take data."""

    statuses = (
        NTSTATUS.STATUS_DEVICE_PAPER_EMPTY,
        NTSTATUS.STATUS_DEVICE_OFF_LINE,
        NTSTATUS.STATUS_DEVICE_POWERED_OFF,
        NTSTATUS.STATUS_DEVICE_NOT_CONNECTED,
        NTSTATUS.STATUS_DEVICE_NOT_READY,
        NTSTATUS.STATUS_DEVICE_POWER_FAILURE,
    )


class DeviceError(NtStatusError, OSError):
    """The device misbehaved (protocol or I/O error, STATUS_UNSUCCESSFUL)."""

    statuses = (
        NTSTATUS.STATUS_DEVICE_PROTOCOL_ERROR,
        NTSTATUS.STATUS_IO_DEVICE_ERROR,
        NTSTATUS.STATUS_UNSUCCESSFUL,
        NTSTATUS.STATUS_INSUFFICIENT_RESOURCES,
    )


class PortAccessError(NtStatusError, OSError):
    """A real port (ppdev's ``/dev/parportN``, raw I/O through ``/dev/port``) that the operating
    system will not let parport open or use.

    The message is one line: what happened and what to do about it (load a module, join a
    group, unload a driver …), with no status name in front; ``.errno`` is the errno the system
    gave (None when parport refused by itself), ``.path`` the file involved, ``.status`` the
    NTSTATUS a request failing for this reason would carry. Subclasses also inherit the builtin
    that fits (``except PermissionError`` catches a denied ``/dev/parport0``). They are raised
    directly by the hardware backends, never made by :meth:`NtStatusError.from_status`.
    """

    default_status: ClassVar[int] = NTSTATUS.STATUS_UNSUCCESSFUL

    def __init__(
        self,
        message: str,
        *,
        errno: int | None = None,
        path: str | None = None,
        status: int | None = None,
    ) -> None:
        self.status = self.default_status if status is None else status
        self.information = 0
        self.path = path
        OSError.__init__(self, message)
        self.errno = errno  # not through OSError's (errno, strerror) form: str() stays the message


class PortNotFoundError(PortAccessError, FileNotFoundError):
    """No such port: no ``/dev/parportN`` node, or no port behind it (ENOENT, ENXIO, ENODEV)."""

    default_status = NTSTATUS.STATUS_NO_SUCH_DEVICE


class PortPermissionError(PortAccessError, PermissionError):
    """Not allowed: ``/dev/parportN`` without the ``lp`` group, ``/dev/port`` without root or
    CAP_SYS_RAWIO (EACCES, EPERM)."""

    default_status = NTSTATUS.STATUS_ACCESS_DENIED


class PortInUseError(PortAccessError, BlockingIOError):
    """Another driver holds the port: exclusively through the kernel's parport sharing (EBUSY,
    ENXIO from ppdev's claim), or as the owner of the I/O range that raw I/O would write to."""

    default_status = NTSTATUS.STATUS_DEVICE_BUSY


class NotAPortError(PortAccessError, ValueError):
    """The path names something that is not a ppdev port (e.g. ``/dev/usb/lp0``, a USB
    printer-class adapter, which has no register access: ENOTTY)."""

    default_status = NTSTATUS.STATUS_INVALID_DEVICE_REQUEST


class PortHungError(PortAccessError):
    """The kernel stopped answering for this port (ppdev's PPRELEASE did not return: another
    process blocked in PPCLAIM holds ppdev's global lock); parport no longer touches its wire."""

    default_status = NTSTATUS.STATUS_DEVICE_NOT_READY


_CLASSES: tuple[type[NtStatusError], ...] = (
    DeviceBusyError,
    IoTimeoutError,
    CancelledError,
    DeviceRemovedError,
    InvalidParameterError,
    BufferTooSmallError,
    AccessDeniedError,
    NotSupportedError,
    InvalidDeviceStateError,
    PrinterError,
    DeviceError,
)
