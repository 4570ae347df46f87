"""The demonstration ``parport demo`` runs: several clients sharing one emulated port.

Client A locks the first IEEE 1284.3 daisy-chain device (LPT1.0) and sends a job in several
writes; client B's lock on the second one (LPT1.1) waits in the port's FIFO and proceeds when A
unlocks; client C prints to the end-of-chain printer (LPT1.4) with automatic allocation. The
timeline shows who held the port, who waited and for how long, in virtual time (what a real ISA
port would have taken) and wall time; the whole session is recorded as a VCD trace, and the demo
says where in it the clients' activity starts (before it: detection and enumeration).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from .facade import Bus, open
from .hw.emu import DaisyDevice, EmulatedPort
from .hw.spec import default_spec

__all__ = ["NEEDED", "DemoError", "run"]

NEEDED = ("LPT1.0", "LPT1.1", "LPT1.4")  # two IEEE 1284.3 devices and the end-of-chain printer


class DemoError(ValueError):
    """The port given cannot run the demo (one line saying why)."""


@dataclass
class _Timeline:
    bus: Bus
    out: TextIO
    wall0: float = field(default_factory=time.perf_counter)
    virtual0: float = 0.0
    events: list[tuple[float, float, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def log(self, who: str, what: str) -> None:
        virtual = self.bus.hardware.now() - self.virtual0
        wall = (time.perf_counter() - self.wall0) * 1000
        with self.lock:
            self.events.append((virtual, wall, who, what))
            self.out.write(f"  {virtual:10.1f} µs  {wall:8.2f} ms  {who:<9} {what}\n")


def _wait_for(condition: Callable[[], bool], limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo's clients did not reach the expected state")
        time.sleep(0.0005)


def run(out: TextIO, spec: str | None = None, vcd: str | None = "parport-demo.vcd") -> int:
    """Run the demonstration, writing to ``out``; 0 on success. ``spec``: an emulated port
    (default ``$PARPORT_PORT``, else ``emu:``) with two 1284.3 devices and a printer; raises
    :class:`DemoError` for one without them (removing the trace begun)."""
    from urllib.parse import quote  # noqa: PLC0415

    spec = spec or default_spec()
    target = f"spy:{spec}?vcd={quote(vcd, safe='/')}" if vcd else spec
    with open(target) as bus:
        devices = bus.devices
        if any(name not in devices for name in NEEDED):
            bus.close()
            if vcd:
                with contextlib.suppress(OSError):
                    os.remove(vcd)
            raise DemoError(
                f"the demo needs two IEEE 1284.3 daisy-chain devices and a printer "
                f"({', '.join(NEEDED)}, as emu: has); {spec} has {', '.join(devices)}"
            )
        return _run(out, bus, spec, vcd)


def _run(out: TextIO, bus: Bus, spec: str, vcd: str | None) -> int:
    """The demonstration on an open bus that has the devices it needs."""
    driver: Any = bus.driver  # in-process: the port's arbiter and devices are at hand
    port = bus.hardware
    out.write(f"parport demo on {spec}\n\n")
    describe = getattr(port, "describe", None)
    if callable(describe):
        out.write(f"Hardware: {describe()}\n")
    hw = driver.session.hardware
    out.write(
        f"Detected: {hw.kind} port, FIFO {hw.fifo_depth} x {hw.fifo_width} bit, "
        f"IRQ {hw.irq}, HardwareCapabilities {driver.fdo.hardware_capabilities():#04x}\n\n"
    )
    out.write("Devices found on the cable (IEEE 1284 device IDs):\n")
    for device in driver.devices:
        text = device.device_id.text if device.device_id else ""
        out.write(f"  {device.location:<7} {device.name:<22} {text}\n")
    out.write("\nTimeline (virtual time = what a real port would take; wall = this run):\n")
    timeline = _Timeline(bus, out, virtual0=port.now())
    a_locked = threading.Event()
    a_may_finish = threading.Event()
    errors: list[BaseException] = []

    def client_a() -> None:
        with bus.device("LPT1.0") as dev:
            timeline.log("A", "IOCTL_INTERNAL_LOCK_PORT on LPT1.0")
            dev.lock()
            timeline.log("A", "lock granted: port allocated, daisy device 0 selected")
            a_locked.set()
            a_may_finish.wait(10)
            for part in range(3):
                count = dev.write(f"[scan job part {part + 1}/3]".encode())
                timeline.log("A", f"wrote {count} bytes (port still held)")
            timeline.log("A", "IOCTL_INTERNAL_UNLOCK_PORT")
            dev.unlock()
            timeline.log("A", "unlocked: device 0 deselected, port freed")

    def client_b() -> None:
        with bus.device("LPT1.1") as dev:
            timeline.log("B", "IOCTL_INTERNAL_LOCK_PORT on LPT1.1 (port busy: waits in FIFO)")
            dev.lock()
            timeline.log("B", "lock granted: daisy device 1 selected")
            count = dev.write(b"[label job]")
            timeline.log("B", f"wrote {count} bytes")
            dev.unlock()
            timeline.log("B", "unlocked")

    def client_c() -> None:
        with bus.device("LPT1.4") as dev:
            timeline.log("C", "IRP_MJ_WRITE to LPT1.4 (automatic allocation: waits in FIFO)")
            count = dev.write(b"[printer page]\f")
            timeline.log("C", f"printed {count} bytes; the port was allocated and freed around it")

    def guarded(client: Callable[[], None]) -> Callable[[], None]:
        def run_client() -> None:
            try:
                client()
            except BaseException as exc:
                errors.append(exc)
                a_locked.set()
                a_may_finish.set()

        return run_client

    arbiter = driver.fdo.arbiter
    handoffs: list[tuple[float, str]] = []

    def owner_changed(owner: object | None) -> None:
        name = getattr(owner, "location", None) or ("nobody" if owner is None else repr(owner))
        handoffs.append((port.now() - timeline.virtual0, name))

    arbiter.on_owner_change = owner_changed
    threads = [
        threading.Thread(target=guarded(c), name=n)
        for c, n in ((client_a, "A"), (client_b, "B"), (client_c, "C"))
    ]
    threads[0].start()
    a_locked.wait(10)
    threads[1].start()
    _wait_for(lambda: arbiter.query_num_waiters() >= 1 or bool(errors))
    threads[2].start()
    _wait_for(lambda: arbiter.query_num_waiters() >= 2 or bool(errors))
    timeline.log(
        "port", f"QueryNumWaiters = {arbiter.query_num_waiters()} (B's lock, then C's write)"
    )
    a_may_finish.set()
    for thread in threads:
        thread.join(30)
    if errors:
        raise errors[0]
    arbiter.on_owner_change = None
    out.write("\nWho held the port (the arbiter's grants, virtual time):\n")
    _summary(timeline, handoffs, out)
    if isinstance(getattr(port, "inner", port), EmulatedPort) or isinstance(port, EmulatedPort):
        out.write("\nWhat each emulated device received:\n")
        for device in port.chain:
            extra = ""
            if isinstance(device, DaisyDevice):
                extra = f" (address {device.address}, selected now: {device.selected})"
            out.write(f"  {device.name:<8} {bytes(device.received)!r}{extra}\n")
    virtual = port.now() - timeline.virtual0
    wall = (time.perf_counter() - timeline.wall0) * 1000
    out.write(
        f"\nRegister accesses: {port.accesses}; virtual time {virtual:.1f} µs, wall {wall:.1f} ms\n"
    )
    owner = arbiter.owner
    out.write(f"Port owner at the end: {owner!r}; waiters: {arbiter.query_num_waiters()}\n")
    if vcd:
        trace = getattr(port, "trace", None)
        start_ns = trace.start_ns if trace is not None else 0
        offset = round(timeline.virtual0 * 1000) - start_ns
        out.write(
            f"\nVCD trace of the whole session: {vcd} (open it in GTKWave, Surfer or PulseView).\n"
            f"The clients start at {offset / 1e6:.3f} ms in the trace (timestamp {offset} ns); "
            "before that, parport detects the port and enumerates its devices.\n"
        )
    return 0


def _summary(timeline: _Timeline, handoffs: list[tuple[float, str]], out: TextIO) -> None:
    """Per holder: when it asked, when the arbiter granted it the port, when it let go."""
    asked: dict[str, float] = {}
    for virtual, _wall, who, _what in timeline.events:
        asked.setdefault(who, virtual)
    for index, (start, holder) in enumerate(handoffs):
        if holder == "nobody":
            continue
        end = handoffs[index + 1][0] if index + 1 < len(handoffs) else start
        client = next((c for c, dev in _CLIENTS.items() if dev == holder), holder)
        waited = start - asked.get(client, start)
        out.write(
            f"  {client:<2} ({holder:<6}) from {start:8.1f} µs to {end:8.1f} µs "
            f"(held {end - start:7.1f} µs, waited {waited:7.1f} µs for it)\n"
        )


_CLIENTS = {"A": "LPT1.0", "B": "LPT1.1", "C": "LPT1.4"}
