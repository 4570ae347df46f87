"""Direct handoff (handoff.py, docs/protocol.md "Handoff"): a client's FREE grants the port to the
next client's waiting ALLOCATE with one datagram, and the daemon stays the judge — the new owner's
next message waits until the daemon has granted it too, a grant for a request its client
cancelled is dropped, a forged one is dropped, and a client killed between its grant and its FREE
leaves the port to the one it granted (its cleanup frees it)."""

from __future__ import annotations

import random
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import parport
from driver_helpers import until
from parport import nt
from parport.service import client as client_module
from parport.service import handoff
from parport.service import protocol as p
from service_helpers import Child, daemon_here

WAIT = 30.0
ALLOCATE = nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE
FREE = nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE
PORT = "\\Device\\ParallelPort0"


def _queued_behind(owner: Any, waiter_handle: Any) -> nt.Irp:
    """``waiter_handle`` queues an ALLOCATE; returns once ``owner`` (holding the port) has been
    told who is next (its QueryNumWaiters answer comes after the daemon's MSG_NEXT)."""
    irp = waiter_handle.submit_internal_device_control(ALLOCATE)
    until(lambda: owner.port.waiters == 1, "the ALLOCATE queued")
    return irp


def _arbiter(running: Any) -> Any:
    return running.ports[0].fdo.arbiter


@dataclass
class _Handoff:
    """A daemon in this process; A holds the port, B's ALLOCATE waits behind it (A told)."""

    running: Any
    a: Any
    b: Any
    a_file: Any  # A's file object in the daemon: the owner
    b_port: Any
    waiting: nt.Irp


@contextmanager
def _a_holds_b_waits(tmp_path: Path) -> Iterator[_Handoff]:
    with daemon_here(tmp_path) as running:
        path = running.config.socket
        with parport.connect(path) as a, parport.connect(path) as b:
            a.port.allocate()
            b_port = b.create_file(PORT)
            waiting = _queued_behind(a, b_port)
            yield _Handoff(running, a, b, _arbiter(running).owner, b_port, waiting)
            b_port.close()


def test_the_next_client_holds_the_port_before_the_daemon_has_the_free(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A's grant goes out and its FREE is held back: B's ALLOCATE returns STATUS_SUCCESS while
    the daemon still has A as the owner; B's FREE, sent at once, waits in the daemon (HANDED) and
    succeeds once A's FREE has arrived — without HANDED it would find B not the owner."""
    with _a_holds_b_waits(tmp_path) as h:
        running, a, b, b_port, waiting = h.running, h.a, h.b, h.b_port, h.waiting
        granted, release = threading.Event(), threading.Event()
        real_grant = client_module.DaemonBus._grant

        def grant_then_hold(bus: Any, successor: Any) -> None:
            real_grant(bus, successor)
            if bus is a.driver:
                granted.set()
                assert release.wait(WAIT)

        monkeypatch.setattr(client_module.DaemonBus, "_grant", grant_then_hold)
        freeing = threading.Thread(target=a.port.free)
        freeing.start()
        assert granted.wait(WAIT)
        result = waiting.wait(WAIT)
        assert result is not None and result.status == nt.STATUS_SUCCESS
        assert _arbiter(running).owner is h.a_file  # the daemon has not seen A's FREE
        assert b.driver.direct_grants == 1

        b_free = b_port.submit_internal_device_control(FREE)
        assert b_free.wait(0.3) is None  # held: the daemon has not granted B yet
        release.set()
        freeing.join(WAIT)
        result = b_free.wait(WAIT)
        assert result is not None and result.status == nt.STATUS_SUCCESS
        assert _arbiter(running).owner is None
        assert b.driver.check() == []


def test_a_client_killed_between_its_grant_and_its_free(tmp_path: Path) -> None:
    """A (another process) sends its grant and is SIGKILLed before its FREE goes out: B holds
    the port at once, and B's next request runs once A's cleanup has freed the port to B."""
    with daemon_here(tmp_path) as running:
        path = running.config.socket
        holder = Child(
            """
            import os, signal, sys, parport
            from parport.service import client
            real = client.DaemonBus._grant
            def grant_and_die(bus, successor):
                real(bus, successor)
                os.kill(os.getpid(), signal.SIGKILL)
            client.DaemonBus._grant = grant_and_die
            bus = parport.connect(sys.argv[1])
            bus.port.allocate()
            print("held", flush=True)
            sys.stdin.readline()
            bus.driver.ping()  # NEXT, sent before this answer, has been read
            bus.port.free()
            """,
            path,
        )
        try:
            assert holder.line() == "held"
            with parport.connect(path) as b:
                b_port = b.create_file(PORT)
                waiting = _queued_behind(b, b_port)
                holder.say("go")
                result = waiting.wait(WAIT)
                assert result is not None and result.status == nt.STATUS_SUCCESS
                assert holder.proc.wait(WAIT) == -signal.SIGKILL
                assert b.driver.direct_grants == 1
                # B's FREE waits in the daemon until A's cleanup has freed the port to B.
                assert b_port.internal_device_control(FREE).status == nt.STATUS_SUCCESS
                assert _arbiter(running).owner is None
                assert b.driver.check() == []
                b_port.close()
        finally:
            holder.kill()


def test_a_grant_for_a_cancelled_allocate_is_dropped(tmp_path: Path) -> None:
    """B cancels its queued ALLOCATE; A, told earlier that B was next, frees the port and
    sends its grant: B's request stays cancelled and the port is free."""
    with _a_holds_b_waits(tmp_path) as h:
        running, a, b, waiting = h.running, h.a, h.b, h.waiting
        assert waiting.cancel()
        result = waiting.wait(WAIT)
        assert result is not None and result.status == nt.STATUS_CANCELLED
        assert a.driver._successors  # A still thinks B is next
        a.port.free()
        assert b.driver.ping() is None  # whatever arrived in B's inbox has been looked at
        assert waiting.result is not None and waiting.result.status == nt.STATUS_CANCELLED
        assert b.driver.direct_grants == 0
        assert _arbiter(running).owner is None
        assert a.driver.check() == []


def test_forged_grants_are_dropped(tmp_path: Path) -> None:
    """Datagrams in B's inbox with a wrong nonce, the wrong size, or for a request that is not
    waiting do not complete B's ALLOCATE; the daemon's grant still does."""
    with _a_holds_b_waits(tmp_path) as h:
        running, a, b, b_port, waiting = h.running, h.a, h.b, h.b_port, h.waiting
        address = b.driver.info["handoff"][0]
        (request,) = b.driver._grantable
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            for data in (
                handoff.GRANT.pack(request, b"\0" * 8),  # the wrong nonce
                handoff.GRANT.pack(request + 1, b"\0" * 8),  # not waiting
                b"short",
                handoff.GRANT.pack(request, b"\0" * 8) + b"x",
            ):
                sender.sendto(data, address)
        assert waiting.wait(0.3) is None  # B looked at them (it polls its inbox) and waits on
        assert b.driver.direct_grants == 0
        a.port.free()
        result = waiting.wait(WAIT)
        assert result is not None and result.status == nt.STATUS_SUCCESS
        assert _arbiter(running).owner is not None
        b_port.internal_device_control(FREE)
        assert _arbiter(running).owner is None


def test_a_free_behind_a_slow_request_grants_nothing_directly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A frees the port while another request of its own runs in the daemon (a 1.5 s pulse):
    the daemon reads A's FREE only after it, so A grants nothing directly — B's ALLOCATE is
    answered by the daemon when the pulse is over, not B's ALLOCATE by A at once."""
    with _a_holds_b_waits(tmp_path) as h:
        running, a, b, b_port, waiting = h.running, h.a, h.b, h.b_port, h.waiting
        pulsing = threading.Thread(target=a.pins.pulse, args=(0x10,), kwargs={"width_s": 1.5})
        pulsing.start()
        until(lambda: len(a.driver._irps) == 1, "the pulse in flight")
        a.port.free()
        pulsing.join(WAIT)
        result = waiting.wait(WAIT)
        assert result is not None and result.status == nt.STATUS_SUCCESS
        assert b.driver.direct_grants == 0
        assert b_port.internal_device_control(FREE).status == nt.STATUS_SUCCESS
        assert _arbiter(running).owner is None


def test_an_owner_that_grants_and_frees_much_later(tmp_path: Path) -> None:
    """A grant sent long before the FREE (an owner stopped by a debugger, or one that sends the
    grant and goes on using the port): B's ALLOCATE returns, and B's next message waits in the
    daemon for as long as A keeps the port — B's FREE is neither refused nor run early — and
    succeeds once A frees."""
    with _a_holds_b_waits(tmp_path) as h:
        running, a, b_port, waiting = h.running, h.a, h.b_port, h.waiting
        (successor,) = a.driver._successors.values()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            assert handoff.send_grant(sender, *successor)  # A's promise, A's FREE not sent
        result = waiting.wait(WAIT)
        assert result is not None and result.status == nt.STATUS_SUCCESS
        b_free = b_port.submit_internal_device_control(FREE)
        assert b_free.wait(1.0) is None  # held past many looks of the daemon's watch
        assert _arbiter(running).owner is h.a_file
        a.port.free()
        result = b_free.wait(WAIT)
        assert result is not None and result.status == nt.STATUS_SUCCESS
        assert _arbiter(running).owner is None


def test_a_client_killed_while_its_next_message_waits(tmp_path: Path) -> None:
    """B (another process) takes a grant whose FREE has not come and sends its FREE, held in
    the daemon; B is SIGKILLed: its cleanup runs at once (its ALLOCATE leaves the queue), and
    A's FREE then leaves the port free."""
    with daemon_here(tmp_path) as running:
        path = running.config.socket
        with parport.connect(path) as a:
            a.port.allocate()
            taker = Child(
                """
                import sys, parport
                from parport import nt
                bus = parport.connect(sys.argv[1])
                port = bus.create_file(r"\\Device\\ParallelPort0")
                irp = port.submit_internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
                print("queued", flush=True)
                print(irp.wait().status, flush=True)
                port.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE)
                print("freed", flush=True)
                """,
                path,
            )
            try:
                assert taker.line() == "queued"
                until(lambda: a.port.waiters == 1, "B's ALLOCATE queued")
                (successor,) = a.driver._successors.values()
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
                    assert handoff.send_grant(sender, *successor)
                assert taker.line() == "0"  # STATUS_SUCCESS, by the grant
                (b,) = [c for c in running._connections if c.peer and c.peer.pid == taker.pid]
                until(lambda: not b._settled.is_set(), "B's FREE held (its HANDED waits)")
                taker.proc.kill()
                until(lambda: a.port.waiters == 0, "B cleaned up", limit_s=5.0)
                assert _arbiter(running).owner is not None  # still A's
                a.port.free()
                assert _arbiter(running).owner is None
                assert a.driver.check() == []
            finally:
                taker.kill()


def test_waiters_that_come_and_go_send_the_owner_a_bounded_number_of_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """C queues and cancels ALLOCATEs over and over while A holds the port: A is told who is
    next at most NEXT_PER_HOLD times in that hold (an owner that does not read would otherwise
    be cut off at the backlog limit); an owner that takes no part is told nothing."""
    told: dict[Any, int] = {}
    real_next = client_module.DaemonBus._next

    def counted(bus: Any, message: list[Any]) -> None:
        told[bus] = told.get(bus, 0) + 1
        real_next(bus, message)

    monkeypatch.setattr(client_module.DaemonBus, "_next", counted)
    with daemon_here(tmp_path) as running:
        path = running.config.socket
        monkeypatch.setenv("PARPORT_HANDOFF", "0")
        plain = parport.connect(path)
        monkeypatch.delenv("PARPORT_HANDOFF")
        with parport.connect(path) as a, parport.connect(path) as c, plain:
            churn = c.create_file(PORT)
            for owner in (a, plain):
                owner.port.allocate()
                for _ in range(50):
                    irp = churn.submit_internal_device_control(ALLOCATE)
                    irp.cancel()
                    result = irp.wait(WAIT)
                    assert result is not None and result.status == nt.STATUS_CANCELLED
                assert owner.driver.ping() is None  # every NEXT sent has been read
                owner.port.free()
            assert told.get(a.driver) == handoff.NEXT_PER_HOLD
            assert told.get(plain.driver, 0) == 0
            assert _arbiter(running).owner is None
            churn.close()


def test_a_bus_closed_as_a_grant_arrives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """B's bus closes while A's grant for B's waiting ALLOCATE arrives, and the daemon handles
    B's goodbye before A's FREE: B drops the grant, so its ALLOCATE ends as the daemon decided
    (STATUS_CANCELLED), not STATUS_SUCCESS with the daemon saying otherwise."""
    with _a_holds_b_waits(tmp_path) as h:
        a, b, waiting = h.a, h.b, h.waiting
        inbox = b.driver._inbox._sock
        release = threading.Event()
        real_grant, real_request = client_module.DaemonBus._grant, client_module.DaemonBus._request

        def grant_then_hold(bus: Any, successor: Any) -> None:
            real_grant(bus, successor)
            if bus is a.driver:
                assert release.wait(WAIT)

        def unread() -> bool:
            try:
                return bool(inbox.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
            except BlockingIOError:
                return False

        def goodbye(bus: Any, op: int, *args: Any, closing: bool = False) -> Any:
            if bus is b.driver and op == p.OP_BYE:  # B's bus is marked closed: A grants now
                freeing.start()
                until(unread, "A's grant in B's inbox")
                until(lambda: not unread(), "B's grant looked at")
            return real_request(bus, op, *args, closing=closing)

        monkeypatch.setattr(client_module.DaemonBus, "_grant", grant_then_hold)
        monkeypatch.setattr(client_module.DaemonBus, "_request", goodbye)
        freeing = threading.Thread(target=a.port.free)
        b.close()
        release.set()
        freeing.join(WAIT)
        result = waiting.wait(WAIT)
        assert result is not None and result.status == nt.STATUS_CANCELLED
        assert b.driver.direct_grants == 0
        assert _arbiter(h.running).owner is None


def test_handoff_turned_off_in_a_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PARPORT_HANDOFF=0: the client binds no inbox and sends no grants; handoffs to and from it
    go through the daemon, with the same results."""
    with daemon_here(tmp_path) as running:
        path = running.config.socket
        monkeypatch.setenv("PARPORT_HANDOFF", "0")
        plain = parport.connect(path)
        monkeypatch.delenv("PARPORT_HANDOFF")
        with parport.connect(path) as direct, plain:
            assert plain.driver._inbox is None and direct.driver._inbox is not None
            for owner, waiter in ((direct, plain), (plain, direct), (direct, plain)):
                owner.port.allocate()
                waiting = _queued_behind(owner, waiter.port.handle)
                owner.port.free()
                result = waiting.wait(WAIT)
                assert result is not None and result.status == nt.STATUS_SUCCESS
                assert waiter.port.handle.internal_device_control(FREE).status == 0
            assert plain.driver.direct_grants == direct.driver.direct_grants == 0
            assert _arbiter(running).owner is None


@pytest.mark.parametrize("seed", range(3))
def test_many_clients_allocating_cancelling_and_closing(tmp_path: Path, seed: int) -> None:
    """Four clients in threads, 150 rounds each: ALLOCATE (some with a timeout that cancels it),
    hold, FREE — or close the handle instead. Never two holders; every FREE of a held port
    succeeds (a direct grant the daemon did not make would fail it); at the end the port is
    free, nobody waits, and the daemon's ownership checks hold."""
    rounds, clients = 150, 4
    with daemon_here(tmp_path) as running:
        path = running.config.socket
        buses = [parport.connect(path) for _ in range(clients)]
        holders = 0
        count = threading.Lock()
        failures: list[str] = []

        def work(index: int) -> None:
            nonlocal holders
            rng = random.Random(seed * 100 + index)
            bus = buses[index]
            handle = bus.create_file(PORT)
            try:
                for _ in range(rounds):
                    timeout = rng.choice([None, None, 0.0005, 0.002])
                    irp = handle.submit_internal_device_control(ALLOCATE)
                    result = irp.wait(timeout)
                    if result is None:
                        irp.cancel()
                        result = irp.wait(WAIT)
                    assert result is not None
                    if result.status != nt.STATUS_SUCCESS:
                        if result.status != nt.STATUS_CANCELLED:
                            failures.append(f"ALLOCATE: {result}")
                        continue
                    with count:
                        holders += 1
                        if holders != 1:
                            failures.append(f"{holders} holders")
                    for _ in range(rng.randrange(3)):
                        bus.driver.ping()
                    with count:
                        holders -= 1
                    if rng.random() < 0.1:
                        handle.close()
                        handle = bus.create_file(PORT)
                    else:
                        status = handle.internal_device_control(FREE).status
                        if status != nt.STATUS_SUCCESS:
                            failures.append(f"FREE of a held port: {nt.status_name(status)}")
            except BaseException as exc:  # reported below
                failures.append(repr(exc))
            finally:
                handle.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not any(thread.is_alive() for thread in threads)
        assert failures == []
        assert sum(bus.driver.direct_grants for bus in buses) > 0  # the path was taken
        assert _arbiter(running).owner is None
        assert _arbiter(running).query_num_waiters() == 0
        assert buses[0].driver.check() == []
        for bus in buses:
            bus.close()


def test_the_daemon_says_who_is_next_only_to_a_client_port_handle(tmp_path: Path) -> None:
    """MSG_NEXT goes to the owner's connection only when the next waiter is another client's
    ALLOCATE: not when the owner waits behind itself, not when the next waiter is a device's
    LOCK_PORT (its grant selects on the wire: only the daemon can make it)."""
    with daemon_here(tmp_path) as running:
        path = running.config.socket
        with parport.connect(path) as a, parport.connect(path) as b:
            a.port.allocate()
            second = a.create_file(PORT)
            mine = second.submit_internal_device_control(ALLOCATE)
            until(lambda: a.port.waiters == 1, "the ALLOCATE queued")
            assert a.driver._successors == {}  # its own request: no MSG_NEXT
            a.port.free()
            result = mine.wait(WAIT)
            assert result is not None and result.status == nt.STATUS_SUCCESS

            device = b.create_file("LPT1.0")
            lock = device.submit_internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT)
            until(lambda: a.port.waiters == 1, "the LOCK_PORT queued")
            assert a.driver._successors == {}  # a device's request: no MSG_NEXT
            second.internal_device_control(FREE)
            result = lock.wait(WAIT)
            assert result is not None and result.status == nt.STATUS_SUCCESS
            assert b.driver.direct_grants == 0
            device.internal_device_control(nt.IOCTL_INTERNAL_UNLOCK_PORT)
            device.close()
            second.close()
        assert _arbiter(running).owner is None
