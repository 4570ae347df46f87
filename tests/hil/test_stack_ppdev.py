"""The whole parport stack on Linux's own drivers: ``parport.open("/dev/parport0")`` and
``portio:0x378`` in the QEMU guest (docs/hil.md, docs/hardware.md).

Arbiter, seam, devices, IEEE 1284 engine and the ppdev/portio backends run against the kernel's
``parport``, ``parport_pc`` and ``ppdev`` on QEMU's ISA port (an SPP at 0x378, irq 7, with an
idle printer model whose output lands in the host's capture). Everything each test saw is
recorded with ``observe``. ``/dev/port`` is the independent witness of what the registers hold:
it reads the chip without taking the kernel's claim.
"""

from __future__ import annotations

import errno
import hashlib
import os
import queue
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from guest import host_check, share_dir

import parport
from parport.hw import ppdev as ppdev_backend
from parport.ieee1284.detect import detect
from parport.nt.errors import (
    NotAPortError,
    PortInUseError,
    PortNotFoundError,
    PortPermissionError,
)

pytestmark = [pytest.mark.hil, pytest.mark.usefixtures("in_guest")]

Observe = Callable[[str, object], None]

DEVICE = "/dev/parport0"
PROC = Path("/proc/sys/dev/parport/parport0")
BASE = 0x378
PAYLOAD = 64 * 1024 + 4321


def active() -> str:
    return (PROC / "devices" / "active").read_text().strip()


def registered() -> list[str]:
    return sorted(p.name for p in (PROC / "devices").iterdir() if p.name != "active")


def inb(port: int) -> int:
    fd = os.open("/dev/port", os.O_RDONLY)
    try:
        return os.pread(fd, 1, port)[0]
    finally:
        os.close(fd)


def capture_path() -> Path:
    return share_dir() / "lpt.out"


def payload() -> bytes:
    return hashlib.shake_128(b"parport HIL: through the whole stack").digest(PAYLOAD)


@pytest.fixture
def bus() -> Iterator[parport.Bus]:
    with parport.open(DEVICE) as opened:
        yield opened


# --- the kernel's claim follows parport's arbiter -------------------------------------------------


def test_claim_follows_the_arbiter(observe: Observe) -> None:
    before = active()
    start = time.monotonic()
    with parport.open(DEVICE) as bus:
        opened_s = time.monotonic() - start
        ours = [d for d in registered() if d.startswith("ppdev")]
        after_open = active()
        with bus.port.allocated(timeout=10):
            while_allocated = active()
        after_free = active()
        with bus.device("LPT1") as dev, dev.locked(timeout=10):
            while_locked = active()
        after_unlock = active()
        bus.pins.set_data(0x00)  # one register script: claimed and released around it
        after_pins = active()
    after_close = registered()
    observe("devices/active before open", before)
    observe("parport.open(/dev/parport0) took (s, guest)", round(opened_s, 3))
    observe("ppdev devices registered while open", ours)
    observe("devices/active after open (detection and scan done)", after_open)
    observe("devices/active inside bus.port.allocated()", while_allocated)
    observe("devices/active after it", after_free)
    observe("devices/active inside LPT1 locked()", while_locked)
    observe("devices/active after unlock", after_unlock)
    observe("devices/active after a pins call", after_pins)
    observe("devices/ after close", after_close)
    assert len(ours) == 1
    assert before == after_open == after_free == after_unlock == after_pins == "none"
    assert while_allocated == while_locked == ours[0]
    assert ours[0] not in after_close


# --- registers through the stack ------------------------------------------------------------------


def test_registers_through_the_stack(bus: parport.Bus, observe: Observe) -> None:
    pins = bus.pins
    seen = {}
    for value in (0x00, 0x55, 0xAA, 0xFF, 0xA5):
        pins.set_data(value)
        seen[f"{value:#04x}"] = (pins.read_data(), inb(BASE))
    observe("set_data -> (pins.read_data, /dev/port 0x378)", seen)
    assert all(got == (int(k, 16), int(k, 16)) for k, got in seen.items())

    status = pins.status
    levels = {pin: pins.read_pin(pin) for pin in (10, 11, 12, 13, 15)}
    observe("pins.status", str(status))
    observe("status pins 10 11 12 13 15 (levels)", levels)
    observe("/dev/port 0x379", f"{inb(BASE + 1):#04x}")
    # QEMU's idle printer: nAck high, Busy low, PError low, Select high, nFault high
    assert levels == {10: True, 11: False, 12: False, 13: True, 15: True}
    assert inb(BASE + 1) == 0xD8

    # nAutoFd (pin 14) and nSelectIn (pin 17) are inverted by the chip; nInit (16) is not.
    # (nStrobe, pin 1, is left alone: its edge would print a byte on QEMU's printer.)
    controls = {}
    for pin, level, mask, bit in (
        (14, False, 0x02, 0x02),
        (14, True, 0x02, 0),
        (17, True, 0x08, 0),
    ):
        pins.set_pin(pin, level)
        register = inb(BASE + 2)
        controls[f"pin {pin} {'high' if level else 'low'}"] = f"{register:#04x}"
        assert register & mask == bit
    pins.set_pin(17, False)
    observe("control register (/dev/port 0x37a) after each pin", controls)
    observe("pins.control", str(pins.control))
    assert inb(BASE + 2) & 0x0F == 0x0C  # back to idle: nInit high, nSelectIn low

    pins.set_direction(True)
    reverse = (pins.read_data(), inb(BASE + 2) & 0x20)
    pins.set_direction(False)
    forward = (pins.read_data(), inb(BASE + 2) & 0x20)
    observe("reverse: (data read, direction bit)", reverse)
    observe("forward again", forward)
    assert reverse == (0xFF, 0x20) and forward == (0xA5, 0)

    with bus.port.allocated(timeout=10):
        raw = {"status": pins.read_register("status"), "control": pins.read_register("control")}
    observe("raw registers inside allocated()", {k: f"{v:#04x}" for k, v in raw.items()})
    # Bit 0 of status (the EPP timeout) reads 1 through ppdev where the kernel found no EPP
    # (ppdev.py), so the engine's detection agrees with the kernel's.
    assert raw == {"status": 0xD9, "control": 0x0C}


def test_compat_write_through_the_device(bus: parport.Bus, observe: Observe) -> None:
    data = payload()
    offset = capture_path().stat().st_size
    start = time.monotonic()
    written = bus.device("LPT1").write(data, timeout=120)
    seconds = time.monotonic() - start
    got = capture_path().read_bytes()[offset:]
    devices = bus.devices if isinstance(bus.devices, list) else bus.devices()
    observe("devices on the bus", devices)
    observe("LPT1.write returned", written)
    observe("compat write seconds (guest clock)", round(seconds, 3))
    observe("kB/s (guest clock, TCG)", round(len(data) / seconds / 1000, 1))
    observe("capture_offset", offset)
    observe("payload_sha256", hashlib.sha256(data).hexdigest())
    assert written == len(data)
    assert got == data
    eoc = [name for name in devices if name.startswith("LPT1.") and name != "LPT1"]
    observe("end-of-chain device", eoc or "none: QEMU's printer model answers no negotiation")
    assert active() == "none"


@host_check(test_compat_write_through_the_device)
def _compat_on_host(props: dict[str, Any], capture: bytes) -> None:
    data = payload()
    offset = int(props["capture_offset"])
    assert props["payload_sha256"] == hashlib.sha256(data).hexdigest()
    assert capture[offset : offset + len(data)] == data


def test_detection_of_qemus_chip(bus: parport.Bus, observe: Observe) -> None:
    backend = bus.hardware
    caps = backend.capabilities
    with bus.port.allocated(timeout=10):
        found = detect(backend)
    observe("PPGETMODES", f"{backend.kernel_modes:#04x}")
    observe("proc modes", (PROC / "modes").read_text().strip())
    observe("backend capabilities", f"{caps.kind} base {caps.base:#x} irq {caps.irq}")
    observe("engine's detection (§1.9) through ppdev", f"{found.kind} {found}")
    assert backend.kernel_modes & 0x03 == 0x03  # PCSPP, TRISTATE
    assert (caps.kind, caps.base, caps.irq) == ("ps2", BASE, 7)
    assert found.present and found.ps2 and not found.ecr and not found.epp
    listed = {p.spec: p for p in parport.list_ports()}
    observe("list_ports()", [p.description() for p in listed.values()])
    assert listed[DEVICE].base == BASE and listed[DEVICE].accessible
    assert listed["emu:"].backend == "emu"


# --- two clients in one process: FIFO, no deadlock ------------------------------------------------


def test_two_threads_share_the_port_in_fifo_order(bus: parport.Bus, observe: Observe) -> None:
    """The raw-ppdev contention recipe (test_ppdev_raw) as threads of one parport process: A
    holds the port 1 s; B asks at 0.3 s and C at 0.5 s; they get it in that order, and the
    kernel's claim is held throughout and given back at the end."""
    events: list[tuple[str, str, float, str]] = []
    lock = threading.Lock()
    t0 = time.monotonic()

    def note(who: str, what: str) -> None:
        with lock:
            events.append((who, what, round(time.monotonic() - t0, 3), active()))

    def client(who: str, delay: float, hold: float) -> None:
        time.sleep(delay)  # the recipe's timing, not a wait for a result
        note(who, "asks")
        with bus.port.allocated(timeout=20):
            note(who, "granted")
            time.sleep(hold)
            note(who, "frees")

    threads = [
        threading.Thread(target=client, args=("A", 0.0, 1.0)),
        threading.Thread(target=client, args=("B", 0.3, 0.2)),
        threading.Thread(target=client, args=("C", 0.5, 0.2)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    stuck = [t.name for t in threads if t.is_alive()]
    observe("events (who, what, s, devices/active)", events)
    observe("threads still running after 30 s", stuck)
    assert not stuck
    grants = [who for who, what, _, _ in events if what == "granted"]
    assert grants == ["A", "B", "C"]
    assert all(kernel.startswith("ppdev") for _, what, _, kernel in events if what == "granted")
    assert active() == "none"


_CLIENT = """
import sys
import threading
import parport
from parport import nt

said = threading.Lock()

def say(text):
    with said:
        print(text, flush=True)

with parport.connect(sys.argv[1]) as bus:
    port = bus.create_file("\\\\Device\\\\ParallelPort0")
    say("ready")
    for line in sys.stdin:
        command = line.strip()
        if command == "ask":  # queue an ALLOCATE; its completion says "granted"
            irp = port.submit_internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
            say("asks")
            irp.add_done_callback(
                lambda done: say("granted" if done.status == 0 else f"status {done.status:#x}")
            )
        elif command == "waiters":
            say(f"waiters {bus.port.waiters}")
        elif command == "free":
            status = port.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE).status
            say("frees" if status == 0 else f"free status {status:#x}")
        elif command == "quit":
            break
    port.close()
"""


class _Client:
    """A client process of parportd, told when to ask for the port and when to let it go; its
    lines arrive on a queue, so that a missing one fails the test instead of hanging it."""

    def __init__(self, who: str, sock: str) -> None:
        self.who = who
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _CLIENT, sock],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def say(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def expect(self, text: str, limit_s: float = 120, log: Sequence[str] = ()) -> None:
        try:
            line = self.lines.get(timeout=limit_s)
        except queue.Empty:
            said = "\n".join(log)
            raise AssertionError(
                f"{self.who}: no {text!r} within {limit_s} s; parportd said:\n{said}"
            ) from None
        assert line == text, f"{self.who}: {line!r} where {text!r} was due"

    def granted_yet(self) -> bool:
        return not self.lines.empty()

    def until_waiters(self, count: int, limit_s: float = 120) -> None:
        """Ask the daemon for the port's waiter count until it is ``count`` (bounded): a client
        having printed "asks" only says its request is on the way, not that it is queued."""
        pause = threading.Event()
        deadline = time.monotonic() + limit_s
        seen = ""
        while time.monotonic() < deadline:
            self.say("waiters")
            seen = self.lines.get(timeout=limit_s)
            if seen == f"waiters {count}":
                return
            pause.wait(0.02)
        raise AssertionError(f"{self.who}: the port never had {count} waiters (last: {seen!r})")


def _serving(daemon: subprocess.Popen[str], limit_s: float) -> list[str]:
    """Wait (bounded) until the daemon says it serves; its output is read on to the end into
    the list returned (a pipe nobody reads would stop it once full)."""
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert daemon.stderr is not None
        for line in daemon.stderr:
            lines.append(line.rstrip())
            if "serving" in line:
                ready.set()

    threading.Thread(target=read, daemon=True).start()
    assert ready.wait(limit_s), f"parportd did not start within {limit_s} s: {lines}"
    return lines


@pytest.mark.timeout(240)  # four Python processes starting under TCG
def test_two_processes_share_the_port_through_parportd(tmp_path: Path, observe: Observe) -> None:
    """The raw-ppdev contention recipe (test_ppdev_raw: processes on one /dev/parport0
    deadlock in the kernel) with the processes as clients of one parportd that owns the port:
    A holds it, B asks, then C; A lets go: B is granted (not C), then C; nothing hangs, and the
    kernel's claim is ppdev's while a client holds the port and given back at the end."""
    sock = str(tmp_path / "parportd.sock")
    # A release may take seconds in a TCG guest on a busy host: not a hung port here.
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "parport",
            "serve",
            "--socket",
            sock,
            DEVICE + "?release_timeout=60",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    events: list[tuple[str, str, str]] = []
    log: list[str] = []
    try:
        log = _serving(daemon, 60)
        a, b, c = (_Client(who, sock) for who in "ABC")
        for client in (a, b, c):
            client.expect("ready")
        a.say("ask")
        a.expect("asks")
        a.expect("granted")
        events.append(("A", "granted", active()))
        for queued, client in enumerate((b, c), start=1):
            client.say("ask")
            client.expect("asks")
            a.until_waiters(queued)  # its ALLOCATE is in the daemon's FIFO before the next asks
            events.append((client.who, "asks", active()))
        a.say("free")
        a.expect("frees")
        b.expect("granted", log=log)
        events.append(("B", "granted", active()))
        assert not c.granted_yet()  # C asked after B: it waits for B
        b.say("free")
        b.expect("frees")
        c.expect("granted")
        events.append(("C", "granted", active()))
        c.say("free")
        c.expect("frees")
        for client in (a, b, c):
            client.say("quit")
        statuses = [client.proc.wait(60) for client in (a, b, c)]
        kernel_after = active()
    finally:
        daemon.terminate()
        daemon.communicate(timeout=60)
    observe("events (who, what, devices/active)", events)
    observe("client exit statuses", statuses)
    observe("devices/active after the clients", kernel_after)
    assert statuses == [0, 0, 0]
    assert all(kernel.startswith("ppdev") for who, what, kernel in events if what == "granted")
    assert kernel_after == "none"
    assert daemon.returncode == 0


# --- errors users meet, with their messages -------------------------------------------------------


def _error(call: Callable[[], object]) -> BaseException:
    with pytest.raises(OSError) as info:
        call()
    return info.value


def test_error_messages(observe: Observe, tmp_path: Path) -> None:
    seen: dict[str, str] = {}
    error = _error(lambda: parport.open("/dev/parport1"))
    seen["/dev/parport1"] = f"{type(error).__name__}: {error}"
    assert isinstance(error, PortNotFoundError)
    assert (
        str(error) == "/dev/parport1 does not exist: the kernel has no parport1 (ports: parport0)"
    )

    node = tmp_path / "parport1"
    os.mknod(node, 0o600 | stat.S_IFCHR, os.makedev(99, 1))
    error = _error(lambda: ppdev_backend.PpdevPort(str(node)))
    seen["char 99:1 (no port behind it)"] = f"{type(error).__name__}: {error}"
    assert isinstance(error, PortNotFoundError) and error.errno in (errno.ENODEV, errno.ENXIO)
    assert str(error) == (
        f"{node} has no port behind it: the kernel has no parport1 (its ports: parport0); load "
        "parport_pc or give another port ('parport list' shows them)"
    )

    error = _error(lambda: parport.open("/dev/null"))
    seen["/dev/null"] = f"{type(error).__name__}: {error}"
    assert isinstance(error, NotAPortError)
    assert str(error) == "/dev/null is not a ppdev port (char major 1, not 99): give /dev/parportN"

    usb = tmp_path / "lp0"
    os.mknod(usb, 0o600 | stat.S_IFCHR, os.makedev(180, 0))  # usblp's major, no driver behind
    error = _error(lambda: ppdev_backend.PpdevPort(str(usb)))
    seen["char 180:0 (a USB printer node)"] = f"{type(error).__name__}: {error}"
    assert isinstance(error, NotAPortError)
    assert str(error) == (
        f"{usb} is a USB printer-class device, not a ppdev port: USB parallel adapters have no "
        "register access; print to it as a file, or use a motherboard, PCI or PCIe port "
        "(/dev/parportN)"
    )

    observe("errors", seen)


def test_permission_denied_as_another_user(observe: Observe) -> None:
    """A user outside the node's group (the guest has no udev: /dev/parport0 is root's)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, try, report
        os.close(read)
        text = "opened"
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            parport.open(DEVICE).close()
        except BaseException as exc:
            text = f"{type(exc).__name__}: {exc}"
        os.write(write, text.encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 4096):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    text = b"".join(chunks).decode()
    mode = stat.S_IMODE(os.stat(DEVICE).st_mode)
    observe("/dev/parport0 mode", f"{mode:04o}")
    observe("parport.open as uid 65534", text)
    assert text.startswith(f"{PortPermissionError.__name__}: cannot open /dev/parport0: permission")
    assert "udev rule" in text


def _modprobe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("modprobe") or "/sbin/modprobe", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_lp_shares_but_refuses_exclusive(observe: Observe) -> None:
    """With ``lp`` loaded (it registers on parport0 without holding it): a shared open works,
    ``exclusive=1`` fails the way pyparallel users meet it, with a message naming lp."""
    loaded = _modprobe("lp")
    if loaded.returncode != 0:
        pytest.skip(f"modprobe lp failed: {loaded.stderr.strip()}")
    try:
        observe("devices/ with lp loaded", registered())
        with parport.open(DEVICE) as bus, bus.port.allocated(timeout=10):
            shared = active()
        observe("shared open with lp loaded: devices/active while allocated", shared)
        assert shared.startswith("ppdev")
        error = _error(lambda: parport.open(DEVICE + "?exclusive=1"))
        observe("exclusive=1 with lp loaded", f"{type(error).__name__}: {error}")
        assert isinstance(error, PortInUseError)
        assert str(error) == (
            "cannot have /dev/parport0 exclusively: lp is also registered on parport0; unload "
            "it ('sudo rmmod lp') or drop '?exclusive=1'"
        )
    finally:
        removed = _modprobe("-r", "lp")
        observe("modprobe -r lp", removed.returncode)
    # without lp: exclusive is granted
    with parport.open(DEVICE + "?exclusive=1") as bus, bus.port.allocated(timeout=10):
        observe("exclusive=1 without lp: devices/active while allocated", active())


# --- raw I/O ports -------------------------------------------------------------------------------


def test_portio_refused_while_parport_pc_holds_it(observe: Observe) -> None:
    error = _error(lambda: parport.open("portio:0x378"))
    observe("portio:0x378 with parport_pc loaded", f"{type(error).__name__}: {error}")
    assert isinstance(error, PortInUseError)
    assert str(error).startswith("portio:0x378: the kernel has claimed this port: ")
    assert "parport0" in str(error)
    assert str(error).endswith(
        "use '/dev/parport0' (ppdev) instead, unload the driver ('sudo rmmod lp ppdev "
        "parport_pc'), or add '?force=1' to write its registers anyway"
    )


def test_portio_forced(observe: Observe) -> None:
    with parport.open("portio:0x378?force=1") as bus:
        backend = bus.hardware
        pins = bus.pins
        pins.set_data(0x3C)
        data = (pins.read_data(), inb(BASE))
        status = f"{backend.read_status():#04x}"
        with bus.port.allocated(timeout=10):
            found = detect(backend)
        offset = capture_path().stat().st_size
        text = b"portio compat write\n" * 50
        written = bus.device("LPT1").write(text, timeout=60)
        got = capture_path().read_bytes()[offset:]
    observe("portio data (pins.read_data, /dev/port)", data)
    observe("portio status", status)
    observe("engine's detection through /dev/port", f"{found.kind} {found}")
    observe("portio compat write through LPT1", (written, got == text))
    assert data == (0x3C, 0x3C) and status == "0xd8"
    assert found.present and found.ps2 and not found.ecr
    assert written == len(text) and got == text
