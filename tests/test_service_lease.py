"""Leases: an uncontended LOCK_PORT / UNLOCK_PORT of a device with nothing on the wire, through
parportd, without a round trip — and nobody can tell: every other request, from any connection,
finds the port exactly as the in-process driver would have it.

The daemon runs in a subprocess; the clients here are connections of this process (each with
its own lease file, as separate processes have) or child processes where a kill is the point."""

from __future__ import annotations

import fcntl
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import parport
from driver_helpers import interrupt_routine
from parport import nt
from parport.service import lease
from service_helpers import Child, DaemonProcess, config_text, daemon, daemon_here

pytestmark = pytest.mark.skipif(
    not lease.supported(), reason="leases need Linux memfd and OFD record locks"
)

LOCK, UNLOCK = nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT
ALLOCATE = nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE
FREE = nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE
PORT = "\\Device\\ParallelPort0"
WAIT = 30.0
GRANT_WITHIN_S = 0.100


@pytest.fixture
def served(tmp_path: Path) -> Iterator[DaemonProcess]:
    """A daemon of the test's own: no other test's connections, still being cleaned up, can
    keep it from granting a lease or end one."""
    with daemon(tmp_path) as process:
        yield process


class Sends:
    """Counts the messages a connection sends."""

    def __init__(self, bus: parport.Bus) -> None:
        self.count = 0
        driver: Any = bus.driver
        send = driver._send

        def counted(message: list[Any]) -> None:
            self.count += 1
            send(message)

        driver._send = counted


def _paired(bus: parport.Bus, name: str = "LPT1.4") -> Any:
    """A handle of ``name`` after one LOCK_PORT and UNLOCK_PORT through the daemon."""
    handle = bus.create_file(name)
    for code in (LOCK, UNLOCK):
        assert handle.internal_device_control(code).status == nt.STATUS_SUCCESS
    return handle


def _leased(bus: parport.Bus, name: str = "LPT1.4") -> Any:
    """A handle of ``name`` whose lock is leased (see :func:`_lease`)."""
    handle = bus.create_file(name)
    _lease(handle)
    return handle


def _lease(handle: Any) -> None:
    """LOCK_PORT and UNLOCK_PORT until the handle is leased: a pair with a lease still good
    stays local; one with a lease found revoked, or none, goes to the daemon, whose answer to
    the UNLOCK_PORT is a lease unless something else is going on there — such as the cleanup of
    another test's connection that has just closed (bounded)."""
    deadline = time.monotonic() + WAIT
    while True:
        for code in (LOCK, UNLOCK):
            assert handle.internal_device_control(code).status == nt.STATUS_SUCCESS
        if handle.file.lease is not None:
            return
        assert time.monotonic() < deadline, "the daemon granted no lease"


def test_uncontended_pairs_send_nothing(served: DaemonProcess) -> None:
    with parport.connect(served.socket) as bus:
        handle = _leased(bus)
        assert handle.file.lease is not None
        sends = Sends(bus)
        for _ in range(200):
            assert handle.internal_device_control(LOCK) == nt.IoStatus(nt.STATUS_SUCCESS, 0, b"")
            assert handle.internal_device_control(UNLOCK) == nt.IoStatus(nt.STATUS_SUCCESS, 0, b"")
        irp = handle.submit_internal_device_control(LOCK)
        assert irp.done and irp.wait(0) == nt.IoStatus(nt.STATUS_SUCCESS, 0, b"")
        seen: list[nt.IoStatus | None] = []
        irp = handle.submit_internal_device_control(UNLOCK)
        irp.add_done_callback(lambda done: seen.append(done.wait(0)))
        assert seen == [nt.IoStatus(nt.STATUS_SUCCESS, 0, b"")]
        assert sends.count == 0
        # The first message of any kind ends the lease: the port is free, as UNLOCK left it.
        assert bus.port.waiters == 0
        assert bus.driver.check() == []
        assert handle.file.lease is not None  # the client learns it at its next lock
        sends.count = 0
        assert handle.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
        assert handle.file.lease is None and sends.count == 1  # that lock went to the daemon
        handle.internal_device_control(UNLOCK)
        handle.close()


def test_a_device_selected_on_the_wire_gets_no_lease(served: DaemonProcess) -> None:
    with parport.connect(served.socket) as bus:
        chain = bus.hardware.chain
        handle = _paired(bus, "LPT1.0")
        assert handle.file.lease is None
        assert handle.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
        assert chain[0].selected
        assert handle.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
        assert not chain[0].selected
        handle.close()


def test_no_lease_while_somebody_waits(served: DaemonProcess) -> None:
    with parport.connect(served.socket) as bus, parport.connect(served.socket) as other:
        holder = other.create_file("LPT1.0")
        assert holder.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
        waiting = other.create_file("LPT1.1")
        queued = waiting.submit_internal_device_control(LOCK)  # pending in another connection
        handle = bus.create_file("LPT1.4")
        lock = handle.submit_internal_device_control(LOCK)
        assert holder.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
        assert (queued.wait(WAIT) or nt.IoStatus(0)).status == nt.STATUS_SUCCESS
        assert waiting.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
        assert (lock.wait(WAIT) or nt.IoStatus(-1)).status == nt.STATUS_SUCCESS
        stuck = waiting.submit_internal_device_control(LOCK)  # waits for the LPT1.4 lock
        assert other.port.waiters == 1
        assert handle.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
        assert handle.file.lease is None  # somebody waited: the unlock ran
        assert (stuck.wait(WAIT) or nt.IoStatus(-1)).status == nt.STATUS_SUCCESS
        assert waiting.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
        for each in (holder, waiting, handle):
            each.close()


def test_other_connections_see_every_step(served: DaemonProcess) -> None:
    with parport.connect(served.socket) as bus, parport.connect(served.socket) as other:
        sends = Sends(bus)
        handle = bus.create_file("LPT1.4")
        port = other.create_file(PORT)
        for _ in range(3):
            _lease(handle)  # LOCK_PORT and UNLOCK_PORT through the daemon: leased
            # Unlocked through the lease: another connection allocates at once.
            assert port.internal_device_control(ALLOCATE, timeout=WAIT).status == 0
            assert port.internal_device_control(FREE).status == nt.STATUS_SUCCESS
            _lease(handle)
            # Locked through the lease: another connection's ALLOCATE waits until the unlock.
            sends.count = 0
            assert handle.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
            assert sends.count == 0
            allocate = port.submit_internal_device_control(ALLOCATE)
            assert other.port.waiters == 1
            assert not allocate.done
            # The lease ended while the client was locked: its unlock goes to the daemon.
            assert handle.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
            assert sends.count == 1
            assert (allocate.wait(WAIT) or nt.IoStatus(-1)).status == nt.STATUS_SUCCESS
            assert port.internal_device_control(FREE).status == nt.STATUS_SUCCESS
        assert other.driver.check() == []
        port.close()
        handle.close()


def test_closing_a_handle_locked_through_its_lease_frees_the_port(served: DaemonProcess) -> None:
    with parport.connect(served.socket) as bus, parport.connect(served.socket) as other:
        handle = _leased(bus)
        assert handle.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
        port = other.create_file(PORT)
        allocate = port.submit_internal_device_control(ALLOCATE)
        assert other.port.waiters == 1
        handle.close()
        assert (allocate.wait(WAIT) or nt.IoStatus(-1)).status == nt.STATUS_SUCCESS
        assert port.internal_device_control(FREE).status == nt.STATUS_SUCCESS
        # A new handle on the same device starts with no lease of its own.
        again = bus.create_file("LPT1.4")
        assert again.file.lease is None
        again.close()
        port.close()


HOLDER = """
    import sys, parport
    from parport import nt
    bus = parport.connect(sys.argv[1])
    h = bus.create_file("LPT1.4")
    for _ in range(10000):  # until leased (another connection's cleanup may be under way)
        assert h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT).status == 0
        assert h.internal_device_control(nt.IOCTL_INTERNAL_UNLOCK_PORT).status == 0
        if h.file.lease is not None:
            break
    assert h.file.lease is not None
    if sys.argv[2] == "locked":
        assert h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT).status == 0
    print(sys.argv[2], flush=True)
    sys.stdin.readline()  # held until killed
"""


@pytest.mark.parametrize("state", ["locked", "unlocked"])
def test_killed_lease_holder(served: DaemonProcess, state: str) -> None:
    holder = Child(HOLDER, served.socket, state)
    try:
        assert holder.line() == state
        with parport.connect(served.socket) as bus:
            port = bus.create_file(PORT)
            allocate = port.submit_internal_device_control(ALLOCATE)
            if state == "locked":
                assert bus.port.waiters == 1
                killed = time.monotonic()
                os.kill(holder.pid, signal.SIGKILL)
                result = allocate.wait(WAIT)
                elapsed = time.monotonic() - killed
                assert elapsed < GRANT_WITHIN_S, f"granted {elapsed * 1000:.1f} ms after the kill"
            else:
                result = allocate.wait(WAIT)  # unlocked: nothing holds the port
            assert result is not None and result.status == nt.STATUS_SUCCESS
            assert port.internal_device_control(FREE).status == nt.STATUS_SUCCESS
            assert bus.driver.check() == []
            port.close()
    finally:
        holder.kill()


@pytest.mark.parametrize("name", ["LPT1", "LPT1.4"])
def test_a_port_without_a_daisy_chain_leases_its_devices(tmp_path: Path, name: str) -> None:
    with (
        daemon(tmp_path, config_text(["emu:chain=printer"])) as process,
        parport.connect(process.socket) as bus,
    ):
        handle = _leased(bus, name)
        assert handle.file.lease is not None
        sends = Sends(bus)
        for code in (LOCK, UNLOCK, LOCK, UNLOCK):
            assert handle.internal_device_control(code).status == nt.STATUS_SUCCESS
        assert sends.count == 0
        handle.close()


def test_leases_can_be_turned_off(tmp_path: Path) -> None:
    with (
        daemon(tmp_path, config_text(leases=False)) as process,
        parport.connect(process.socket) as bus,
    ):
        handle = _paired(bus)
        assert handle.file.lease is None
        handle.close()


def test_the_client_can_do_without(served: DaemonProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARPORT_LEASES", "0")
    with parport.connect(served.socket) as bus:
        handle = _paired(bus)
        assert handle.file.lease is None
        handle.close()


def test_a_bad_lease_file_is_refused_and_nothing_else(tmp_path: Path) -> None:
    """A descriptor that is not a sealed memfd of the right size the daemon can write (here a
    pipe, an unsealed file, a file sealed against writing) gets no leases; the connection
    works."""
    import socket

    from parport.service import protocol as p

    with daemon(tmp_path) as process:
        for make in ("pipe", "unsealed", "write-sealed"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(process.socket)
            if make == "pipe":
                read, write = os.pipe()
                offered = [read, write]
            else:
                fd = os.memfd_create("x", os.MFD_ALLOW_SEALING if make == "write-sealed" else 0)
                os.ftruncate(fd, lease.LEASE_BYTES)
                if make == "write-sealed":  # the daemon could not write its byte
                    seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
                    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals | fcntl.F_SEAL_SEAL)
                offered = [fd]
            socket.send_fds(sock, [p.handshake_request()], offered)
            for fd in offered:
                os.close(fd)
            reply = p.read_exact(sock, p.HANDSHAKE.size, at_boundary=False)
            assert reply is not None and p.parse_handshake(reply)[2] == p.HELLO_OK
            assert p.decode(p.read_frame(sock) or b"")[0] == p.MSG_HELLO
            sock.sendall(p.frame([p.OP_CREATE, 1, "LPT1.4", 0]))
            handle = p.decode(p.read_frame(sock) or b"")[3][0]
            for seq, code in ((2, LOCK), (3, UNLOCK)):
                sock.sendall(p.frame([p.OP_SUBMIT, seq, handle, 0x0F, code, b"", 0]))
                assert p.decode(p.read_frame(sock) or b"") == [p.MSG_COMPLETE, seq, 0, 0, b""]
            sock.close()
        text = process.text()
        assert "not a 4096-byte file" in text and "is not sealed;" in text, text
        assert "sealed against writing" in text, text


def test_threads_of_many_connections_never_share_the_port(served: DaemonProcess) -> None:
    """Three connections, a thread each: one locks LPT1.4 (mostly through its lease), one
    allocates the port, one locks LPT1.0. Each marks the port its own while it holds it; no
    two ever hold it together, and every request completes."""
    rounds = 300
    inside: list[str] = []
    lock = threading.Lock()
    errors: list[str] = []

    def hold(who: str) -> None:
        with lock:
            if inside:
                errors.append(f"{who} granted while {inside} held the port")
            inside.append(who)

    def give(who: str) -> None:
        with lock:
            inside.remove(who)

    def run(name: str, take: int, give_back: int) -> None:
        try:
            with parport.connect(served.socket) as bus:
                handle = bus.create_file(name)
                for i in range(rounds):
                    result = handle.internal_device_control(take, timeout=WAIT)
                    if result.status != nt.STATUS_SUCCESS:
                        errors.append(f"{name} {i}: {result}")
                        continue
                    hold(name)
                    if i % 7 == 0:
                        os.sched_yield()  # let the others ask meanwhile
                    give(name)
                    result = handle.internal_device_control(give_back)
                    if result.status != nt.STATUS_SUCCESS:
                        errors.append(f"{name} give {i}: {result}")
                handle.close()
        except Exception as exc:  # a failure in a thread fails the test
            errors.append(f"{name}: {exc!r}")

    threads = [
        threading.Thread(target=run, args=("LPT1.4", LOCK, UNLOCK)),
        threading.Thread(target=run, args=(PORT, ALLOCATE, FREE)),
        threading.Thread(target=run, args=("LPT1.0", LOCK, UNLOCK)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    with parport.connect(served.socket) as bus:
        assert bus.port.waiters == 0 and bus.driver.check() == []
        port = bus.create_file(PORT)
        assert port.internal_device_control(ALLOCATE, timeout=WAIT).status == 0
        port.internal_device_control(FREE)
        port.close()


class LeaseMachine(RuleBasedStateMachine):
    """A lease holder (LPT1.4 on connection A) against a port handle on connection B, in random
    order; the model is the port's owner and FIFO. After every step B's view of the port (its
    waiters, the daemon's invariants) is the model's, whether A's step used the lease or not."""

    socket_path = ""

    def __init__(self) -> None:
        super().__init__()
        self.a = parport.connect(self.socket_path)
        self.b = parport.connect(self.socket_path)
        self.device = self.a.create_file("LPT1.4")
        self.port = self.b.create_file(PORT)
        self.owner: str | None = None
        self.queue: list[tuple[str, nt.Irp]] = []

    def _grant_next(self) -> None:
        self.owner = None
        if self.queue:
            who, irp = self.queue.pop(0)
            result = irp.wait(WAIT)
            assert result is not None and result.status == nt.STATUS_SUCCESS, (who, result)
            self.owner = who

    def _take(self, who: str, irp: nt.Irp) -> None:
        if self.owner is None and not self.queue:
            result = irp.wait(WAIT)
            assert result is not None and result.status == nt.STATUS_SUCCESS
            self.owner = who
        else:
            self.queue.append((who, irp))

    def _busy(self, who: str) -> bool:
        return self.owner == who or any(w == who for w, _ in self.queue)

    @precondition(lambda self: not self._busy("a"))
    @rule()
    def a_lock(self) -> None:
        self._take("a", self.device.submit_internal_device_control(LOCK))
        self.a.driver.ping()  # A's request is in the daemon before B looks

    @precondition(lambda self: self.owner is None and not self.queue)
    @rule(pairs=st.integers(1, 5))
    def a_pairs(self, pairs: int) -> None:
        """Lock and unlock in a row: after the first pair, through the lease."""
        for _ in range(pairs):
            assert self.device.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
            assert self.device.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS

    @precondition(lambda self: self.owner == "a")
    @rule()
    def a_unlock(self) -> None:
        assert self.device.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
        self._grant_next()

    @precondition(lambda self: not self._busy("b"))
    @rule()
    def b_allocate(self) -> None:
        self._take("b", self.port.submit_internal_device_control(ALLOCATE))
        self.b.driver.ping()

    @precondition(lambda self: self.owner == "b")
    @rule()
    def b_free(self) -> None:
        assert self.port.internal_device_control(FREE).status == nt.STATUS_SUCCESS
        self._grant_next()

    @rule(twice=st.booleans())
    def a_asks_something(self, twice: bool) -> None:
        """Any other message from the lease holder's own connection."""
        for _ in range(1 + twice):
            assert "LPT1.4" in self.a.names()

    @invariant()
    def the_port_is_as_the_model_says(self) -> None:
        assert self.b.port.waiters == len(self.queue)
        assert self.b.driver.check() == []

    def teardown(self) -> None:
        for handle in (self.device, self.port):
            handle.close()
        self.a.close()
        self.b.close()


@pytest.mark.timeout(900)  # 10,000 steps: about 15 s here, longer on a loaded machine
def test_lease_state_machine(served: DaemonProcess) -> None:
    LeaseMachine.socket_path = served.socket
    machine = LeaseMachine.TestCase()
    # At least 10,000 steps, as the other machines; a mutation run (docs/mutation.md) sets
    # PARPORT_MACHINE_EXAMPLES to run fewer.
    machine.settings = settings(
        max_examples=int(os.environ.get("PARPORT_MACHINE_EXAMPLES", "250")),
        stateful_step_count=40,
        deadline=None,
    )
    machine.runTest()


class _View:
    """A lease file's daemon side, for the bookkeeping alone: whether the client holds it."""

    def __init__(self, locked: bool) -> None:
        self.locked = locked
        self.bytes: dict[int, int] = {}

    def grant(self, slot: int) -> None:
        self.bytes[slot] = 0

    def revoke(self, slot: int) -> bool:
        self.bytes[slot] = 1
        return self.locked


@pytest.mark.parametrize("locked", [False, True])
def test_a_lease_is_recorded_before_the_look_and_ends_at_the_next_message(locked: bool) -> None:
    leases = lease.Leases()
    view: Any = _View(locked)
    unlocks: list[int] = []
    owner = object()
    seen: list[int] = []

    def grant(slot: int, quiet: bool = True) -> bool:
        def look() -> bool:
            # A thread that begins to handle something now finds the lease and ends it.
            seen.append(len(leases))
            return quiet

        return leases.grant(owner, view, slot, lambda: unlocks.append(slot), look)

    assert not grant(1, quiet=False)
    assert seen == [1] and len(leases) == 0 and view.bytes == {}  # withdrawn, never written
    assert grant(1) and view.bytes == {1: 0} and len(leases) == 1
    assert not grant(1)  # granted already
    assert unlocks == []
    leases.end()  # the next message, whatever it is, ends the lease first
    assert view.bytes == {1: 1} and len(leases) == 0
    assert unlocks == ([] if locked else [1])  # an unlocked client's UNLOCK_PORT runs now
    assert grant(2)
    leases.close()  # the daemon shuts down: every lease ends, none begins
    assert len(leases) == 0 and not grant(3)


def test_a_lease_the_file_cannot_take_is_not_granted() -> None:
    leases = lease.Leases()
    view: Any = _View(False)

    def refuse(slot: int) -> None:
        raise PermissionError("sealed")

    view.grant = refuse
    assert not leases.grant(object(), view, 1, lambda: None, lambda: True)
    assert len(leases) == 0  # the UNLOCK_PORT runs as if there were no lease file


def test_no_lease_while_another_connection_is_inside_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A grant withdraws its lease when another connection is handling a message at that
    moment (here a CHECK, which runs on a thread of its own, held inside the daemon, which runs
    in this process for the test)."""
    from parport.service import server

    inside, go_on = threading.Event(), threading.Event()
    check = server._OPERATIONS[server.p.OP_CHECK]

    def held_check(connection: Any, seq: int, args: list[Any]) -> None:
        inside.set()
        assert go_on.wait(WAIT)
        check(connection, seq, args)

    monkeypatch.setitem(server._OPERATIONS, server.p.OP_CHECK, held_check)
    with daemon_here(tmp_path) as running:
        path = running.config.socket
        with parport.connect(path) as bus, parport.connect(path) as other:
            handle = bus.create_file("LPT1.4")
            checking = threading.Thread(target=other.driver.check)
            checking.start()
            try:
                assert inside.wait(WAIT)
                for code in (LOCK, UNLOCK):
                    assert handle.internal_device_control(code).status == nt.STATUS_SUCCESS
                assert handle.file.lease is None  # the other connection was busy
            finally:
                go_on.set()
                checking.join(WAIT)
            _lease(handle)  # once the CHECK is over (its reply may overtake its end)
            handle.close()


def test_a_message_waits_for_the_lease_it_finds_ending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """X's lease is ending (Y's message, a CHECK on a thread of its own, began it) and its
    deferred UNLOCK_PORT has not run yet: Z's TryAllocatePort waits for it and finds the port
    free, as it is for everybody once X's UNLOCK_PORT returned."""
    revoking, go_on = threading.Event(), threading.Event()
    revoke = lease.LeaseView.revoke

    def slow_revoke(view: lease.LeaseView, slot: int) -> bool:
        locked = revoke(view, slot)
        revoking.set()
        assert go_on.wait(WAIT)
        return locked

    monkeypatch.setattr(lease.LeaseView, "revoke", slow_revoke)
    with daemon_here(tmp_path) as running:
        path = running.config.socket
        with parport.connect(path) as x, parport.connect(path) as y, parport.connect(path) as z:
            port = z.port
            assert port.try_allocate()  # the callbacks fetched before the lease
            port.free()
            handle = _leased(x)
            assert handle.file.lease is not None
            checking = threading.Thread(target=y.driver.check)
            checking.start()
            assert revoking.wait(WAIT)
            tried: list[bool] = []
            trying = threading.Thread(target=lambda: tried.append(port.try_allocate()))
            trying.start()
            # Z's call is in the daemon (two connections busy: Y's and Z's), and waits there.
            deadline = time.monotonic() + WAIT
            while sum(c.inside for c in list(running._connections)) < 2:
                assert time.monotonic() < deadline, "Z's call never reached the daemon"
            assert tried == []
            go_on.set()
            checking.join(WAIT)
            trying.join(WAIT)
            assert tried == [True]
            port.free()
            handle.close()


def test_no_lease_when_freeing_the_port_calls_somebody(tmp_path: Path) -> None:
    """With an interrupt routine connected, the port's release runs its deferred port check:
    an UNLOCK_PORT must free the port at once, so that the check runs."""
    config = config_text(["emu:chain=printer"], options={"enable_connect_interrupt": True})
    with daemon(tmp_path, config) as process, parport.connect(process.socket) as bus:
        port = bus.create_file(PORT)
        checked = threading.Event()
        request = interrupt_routine(
            port, lambda interrupt, context: False, lambda context: checked.set(), (1, 2)
        )
        code = nt.IOCTL_INTERNAL_PARALLEL_CONNECT_INTERRUPT
        assert port.internal_device_control(code, request, 32).status == nt.STATUS_SUCCESS
        handle = _paired(bus)
        assert handle.file.lease is None
        assert checked.wait(WAIT)  # the UNLOCK_PORT freed the port, with nobody waiting
        checked.clear()
        assert handle.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
        assert handle.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
        assert checked.wait(WAIT)
        disconnect = nt.IOCTL_INTERNAL_PARALLEL_DISCONNECT_INTERRUPT
        assert port.internal_device_control(disconnect, request).status == nt.STATUS_SUCCESS
        handle.close()
        port.close()
