"""``spy:<spec>?vcd=FILE``: wrap any backend and record every line change as a VCD trace.

The trace has one 1-bit wire per DB-25 signal named by its IEEE 1284 name (``nStrobe``, ``D0`` …
``D7``, ``nAck``, ``Busy``, ``PError``, ``Select``, ``nAutoFd``, ``nFault``, ``nInit``,
``nSelectIn``) holding the pin level, an 8-bit ``data`` vector, ``reverse`` (host data drivers
off), the ECR mode, the IEEE 1284 mode the layers above announce (the mode bits of
windows-parport.md §3.4) and the 1284.3 address of the selected device (255: none). There are no
``event`` variables, so the file opens in GTKWave, Surfer and PulseView (sigrok's VCD input).
Timestamps are the backend's clock in nanoseconds: virtual time on the emulator, real time on
hardware. On the emulator every change is recorded at its exact time; on other backends the
lines are sampled at each register access.

Whole transfers (``compat_write_data`` … ``cpp_command``) go to the wrapped backend only when it
reports every line change itself (a line observer, as the emulator has; it then runs them line
by line); otherwise the spy runs the software handshakes on its own register calls, so that
each access is sampled.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Mapping
from typing import IO, Any

from vcd import VCDWriter

from .._version import __version__
from .backend import Block, LineState, PortBackend
from .handshake import Cancelled, never
from .signals import SIGNALS, Register, Signal, control_pins, status_pins
from .spec import open_backend

__all__ = ["SpyBackend", "VcdTrace", "open_spy"]

log = logging.getLogger(__name__)

NO_SELECTION = 0xFF


def levels(state: LineState) -> dict[Signal, int]:
    """The pin level of every DB-25 signal in ``state``. Pin-level bytes keep the bit positions
    of the registers they come from, so the polarity table's masks find each signal."""
    source = {
        Register.DATA: state.data,
        Register.STATUS: state.status,
        Register.CONTROL: state.control,
    }
    return {info.signal: 1 if source[info.register] & info.mask else 0 for info in SIGNALS}


class VcdTrace:
    """A VCD file being written: every variable registered before time 0 (pyvcd's phases)."""

    def __init__(self, file: IO[str], initial: LineState, mode: int = 0) -> None:
        self._file = file
        self._writer = VCDWriter(
            file,
            timescale="1 ns",
            date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            comment="parallel port lines recorded by parport",
            version=f"parport {__version__}",
        )
        writer = self._writer
        pins = levels(initial)
        self._wires: dict[Signal, Any] = {
            info.signal: writer.register_var(
                "parport", info.signal.value, "wire", 1, pins[info.signal]
            )
            for info in SIGNALS
        }
        self._data = writer.register_var("parport", "data", "wire", 8, initial.data)
        self._reverse = writer.register_var("parport", "reverse", "wire", 1, int(initial.reverse))
        self._ecr = writer.register_var("parport", "ecr_mode", "reg", 3, initial.ecr_mode)
        self._mode = writer.register_var("parport", "ieee1284_mode", "reg", 16, mode)
        selected = NO_SELECTION if initial.selected is None else initial.selected
        self._selected = writer.register_var("parport", "selected", "reg", 8, selected)
        self._last: dict[int, int] = {}
        self._time = initial.time_ns
        self._start = initial.time_ns
        self._values(initial, mode)
        self.changes = 0

    def _values(self, state: LineState, mode: int) -> dict[int, tuple[Any, int]]:
        pins = levels(state)
        values: dict[int, tuple[Any, int]] = {
            id(var): (var, pins[signal]) for signal, var in self._wires.items()
        }
        selected = NO_SELECTION if state.selected is None else state.selected
        for var, value in (
            (self._data, state.data),
            (self._reverse, int(state.reverse)),
            (self._ecr, state.ecr_mode),
            (self._mode, mode),
            (self._selected, selected),
        ):
            values[id(var)] = (var, value)
        if not self._last:
            self._last = {key: value for key, (_, value) in values.items()}
        return values

    @property
    def start_ns(self) -> int:
        """The backend time at timestamp 0 of the trace."""
        return self._start

    def record(self, state: LineState, mode: int) -> None:
        """Write whatever changed since the last record, at ``state.time_ns``."""
        time = max(self._time, state.time_ns)
        self._time = time
        timestamp = time - self._start
        last = self._last
        for key, (var, value) in self._values(state, mode).items():
            if last.get(key) != value:
                last[key] = value
                self._writer.change(var, timestamp, value)
                self.changes += 1

    def close(self) -> None:
        self._writer.close(self._time - self._start)
        self._file.close()


class SpyBackend(PortBackend):
    """A backend that forwards everything to ``inner`` and traces the lines to a VCD file."""

    name = "spy"

    def __init__(self, inner: PortBackend, vcd_path: str) -> None:
        super().__init__()
        self.inner = inner
        self.shared = inner.shared  # a traced ppdev port is still claimed from the kernel
        self.capabilities = inner.capabilities
        self.clock = inner.clock
        self.vcd_path = vcd_path
        self.annotations = inner.annotations
        self._soft_data = 0
        self._soft_control = 0x0C
        self._soft_status = 0x78
        initial = inner.line_state() or self._sampled()
        file = open(vcd_path, "w", encoding="ascii")  # noqa: SIM115 - closed by close()
        self.trace = VcdTrace(file, initial, self.annotations.mode)
        self._exact = inner.add_line_observer(self._observe)

    def claim(self) -> None:
        self.inner.claim()

    def release(self) -> None:
        self.inner.release()

    # Everything the wrapped backend offers beyond the interface (``chain``, ``inject`` …).
    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def accesses(self) -> int:
        return self.inner.accesses

    @accesses.setter
    def accesses(self, value: int) -> None:
        pass

    def _observe(self, state: LineState) -> None:
        if not self._closed:
            self.trace.record(state, self.annotations.mode)

    def _sampled(self) -> LineState:
        return LineState(
            time_ns=self.clock.now_ns(),
            data=self._soft_data,
            control=control_pins(self._soft_control),
            status=status_pins(self._soft_status),
            reverse=bool(self._soft_control & 0x20),
            selected=self.annotations.selected,
        )

    def _sample(self) -> None:
        if not self._exact and not self._closed:
            self.trace.record(self._sampled(), self.annotations.mode)

    def read_data(self) -> int:
        value = self.inner.read_data()
        if self._soft_control & 0x20:
            self._soft_data = value
        self._sample()
        return value

    def write_data(self, value: int) -> None:
        self.inner.write_data(value)
        self._soft_data = value
        self._sample()

    def read_status(self) -> int:
        value = self.inner.read_status()
        self._soft_status = value
        self._sample()
        return value

    def write_status(self, value: int) -> None:
        self.inner.write_status(value)

    def read_control(self) -> int:
        return self.inner.read_control()

    def write_control(self, value: int) -> None:
        self.inner.write_control(value)
        self._soft_control = value
        self._sample()

    def read_epp_address(self) -> int:
        return self.inner.read_epp_address()

    def write_epp_address(self, value: int) -> None:
        self.inner.write_epp_address(value)

    def read_epp_data(self) -> int:
        return self.inner.read_epp_data()

    def write_epp_data(self, value: int) -> None:
        self.inner.write_epp_data(value)

    def read_ecr(self) -> int:
        return self.inner.read_ecr()

    def write_ecr(self, value: int) -> None:
        self.inner.write_ecr(value)

    def read_fifo(self) -> int:
        return self.inner.read_fifo()

    def write_fifo(self, value: int) -> None:
        self.inner.write_fifo(value)

    def read_cnfgb(self) -> int:
        return self.inner.read_cnfgb()

    def wait_status(self, mask: int, value: int, timeout_us: float) -> int | None:
        result = self.inner.wait_status(mask, value, timeout_us)
        if result is not None:
            self._soft_status = result
        self._sample()
        return result

    # Whole transfers: the wrapped backend's own, while it reports every line change; else the
    # software loops on the spy's register calls (PortBackend's defaults), sampled at each access.
    def compat_write_data(self, data: bytes, cancelled: Cancelled = never) -> Block:
        if self._exact:
            return self.inner.compat_write_data(data, cancelled)
        return super().compat_write_data(data, cancelled)

    def nibble_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        if self._exact:
            return self.inner.nibble_read_data(length, cancelled)
        return super().nibble_read_data(length, cancelled)

    def byte_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        if self._exact:
            return self.inner.byte_read_data(length, cancelled)
        return super().byte_read_data(length, cancelled)

    def epp_write_data(self, data: bytes, cancelled: Cancelled = never) -> Block:
        if self._exact:
            return self.inner.epp_write_data(data, cancelled)
        return super().epp_write_data(data, cancelled)

    def epp_write_addr(self, data: bytes, cancelled: Cancelled = never) -> Block:
        if self._exact:
            return self.inner.epp_write_addr(data, cancelled)
        return super().epp_write_addr(data, cancelled)

    def epp_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        if self._exact:
            return self.inner.epp_read_data(length, cancelled)
        return super().epp_read_data(length, cancelled)

    def epp_read_addr(self, length: int, cancelled: Cancelled = never) -> Block:
        if self._exact:
            return self.inner.epp_read_addr(length, cancelled)
        return super().epp_read_addr(length, cancelled)

    def ecp_write_data(self, data: bytes, cancelled: Cancelled = never) -> Block:
        if self._exact:
            return self.inner.ecp_write_data(data, cancelled)
        return super().ecp_write_data(data, cancelled)

    def ecp_write_addr(self, data: bytes, cancelled: Cancelled = never) -> Block:
        if self._exact:
            return self.inner.ecp_write_addr(data, cancelled)
        return super().ecp_write_addr(data, cancelled)

    def ecp_read_data(self, length: int, cancelled: Cancelled = never) -> Block:
        if self._exact:
            return self.inner.ecp_read_data(length, cancelled)
        return super().ecp_read_data(length, cancelled)

    def cpp_command(self, command: int) -> list[int | None]:
        if self._exact:
            return self.inner.cpp_command(command)
        return super().cpp_command(command)

    def set_interrupt_handler(self, handler: Any) -> None:
        self.inner.set_interrupt_handler(handler)

    def annotate(self, *, mode: int | None = None, selected: int | bool | None = False) -> None:
        self.inner.annotate(mode=mode, selected=selected)
        state = self.inner.line_state() or self._sampled()
        if not self._closed:
            self.trace.record(state, self.annotations.mode)

    def line_state(self) -> LineState | None:
        return self.inner.line_state()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            remove = getattr(self.inner, "remove_line_observer", None)
            if remove is not None:
                remove(self._observe)
            self.trace.close()
            self.inner.close()


def open_spy(target: str, options: Mapping[str, str]) -> SpyBackend:
    """The factory for ``spy:``: open the wrapped spec, then trace it."""
    unknown = set(options) - {"vcd"}
    if unknown:
        raise ValueError(f"spy: unknown options {sorted(unknown)}; known: vcd")
    path = options.get("vcd")
    if not path:
        raise ValueError("spy: needs vcd=FILE")
    inner = open_backend(target or "emu:")
    try:
        return SpyBackend(inner, path)
    except OSError:
        inner.close()
        raise
