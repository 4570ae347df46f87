"""Helpers for the driver tests: open a bus, pack commands, short names for requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from parport import nt
from parport.driver import Handle, ParallelBus, PortOptions, open_bus
from parport.hw.emu import EmulatedPort

PORT = "\\Device\\ParallelPort0"
ALLOCATE = nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE
FREE = nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE
SELECT = nt.IOCTL_INTERNAL_SELECT_DEVICE
DESELECT = nt.IOCTL_INTERNAL_DESELECT_DEVICE


def manual(spec: str) -> str:
    """``spec`` on a manual clock unless it names one (deterministic: the emulator's time moves
    only through the driver's own accesses and waits)."""
    if spec.startswith("emu:") and "clock=" not in spec and "bench=" not in spec:
        spec += ("&" if spec != "emu:" else "") + "clock=manual"
    return spec


def bus(spec: str | list[str] = "emu:", **options: Any) -> ParallelBus:
    """A bus on ``spec`` (or several ports), each on a manual clock unless it names one."""
    specs = [manual(s) for s in spec] if isinstance(spec, list) else manual(spec)
    return open_bus(specs, options=PortOptions(**options))


def emu(b: ParallelBus) -> EmulatedPort:
    hardware = getattr(b.hardware, "inner", b.hardware)  # through a spy: the emulator inside
    assert isinstance(hardware, EmulatedPort)
    return hardware


def command(id_: int, flags: int = 0) -> bytes:
    return nt.PARALLEL_1284_COMMAND(ID=id_, CommandFlags=flags).pack()


def allocate(h: Handle) -> nt.Irp:
    return h.submit_internal_device_control(ALLOCATE)


def free(h: Handle) -> nt.IoStatus:
    return h.internal_device_control(FREE)


def status(result: nt.IoStatus | nt.Irp) -> int:
    if isinstance(result, nt.Irp):
        assert result.done, f"{result!r} is still pending"
        assert result.result is not None
        return result.result.status
    return result.status


def until(condition: Callable[[], bool], what: str, limit_s: float = 30.0) -> None:
    """Wait until ``condition()`` holds, looking every millisecond; fail naming ``what`` if
    ``limit_s`` wall-clock seconds pass first (for states nothing signals, in other threads)."""
    pause = threading.Event()
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"not {what} within {limit_s} s"
        pause.wait(0.001)


def interrupt_routine(
    handle: Any, isr: Callable[..., Any], check: Callable[..., Any], contexts: tuple[int, int]
) -> bytes:
    """A PARALLEL_INTERRUPT_SERVICE_ROUTINE (CONNECT_INTERRUPT's input) naming ``isr`` and the
    deferred port check ``check`` through ``handle``'s tokens, with their two contexts."""
    return nt.PARALLEL_INTERRUPT_SERVICE_ROUTINE(
        InterruptServiceRoutine=handle.callbacks.token(isr),
        InterruptServiceContext=contexts[0],
        DeferredPortCheckRoutine=handle.callbacks.token(check),
        DeferredPortCheckContext=contexts[1],
    ).pack()
