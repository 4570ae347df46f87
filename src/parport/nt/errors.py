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
    "NotSupportedError",
    "NtStatusError",
    "ParportError",
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
