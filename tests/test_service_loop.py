"""parportd's loop: one thread runs every connection's messages that wait for nothing, and hands
a message that may wait to a thread of its own (server.py's module docstring, docs/daemon.md "A
slow client cannot hurt the others"). These tests hold what a user would notice: a connection's
slow message holds up nobody else, a connection's messages run in the order sent across the
hand-overs, and the daemon stops on a signal whichever of its threads the kernel gives it to.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import parport
from driver_helpers import until
from parport import nt
from parport.driver import registers as reg
from parport.service import protocol as p
from service_helpers import STOP_TIMEOUT_S, Child, DaemonProcess, daemon, daemon_here

WAIT = 30.0
LOCK, UNLOCK = nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT
ALLOCATE, FREE = nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE, nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE
INTERNAL = int(nt.IRP_MJ_INTERNAL_DEVICE_CONTROL)


def test_a_sleeping_register_script_holds_up_only_its_own_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pulses a line for 2 s inside its own allocation: the register script sleeps in the
    daemon's handling of A's message. Meanwhile B is answered — a ping, a QueryNumWaiters and a
    TryAllocatePort (the port's callbacks run on the loop), a new handle — all before A's pulse
    ends, and B's refused TryAllocatePort shows that A still holds the port."""
    from parport.service import server

    started, ended = threading.Event(), threading.Event()
    submit = server._OPERATIONS[p.OP_SUBMIT]

    def watched(connection: Any, seq: int, args: list[Any]) -> None:
        if len(args) == 5 and args[2] == reg.IOCTL_PARPORT_REGISTERS:
            started.set()
        submit(connection, seq, args)

    monkeypatch.setitem(server._OPERATIONS, p.OP_SUBMIT, watched)
    with daemon_here(tmp_path) as running:
        path = running.config.socket
        with parport.connect(path) as a, parport.connect(path) as b:
            failures: list[BaseException] = []

            def pulse() -> None:
                try:
                    with a.port.allocated():
                        a.pins.pulse(0x10, width_s=2.0)
                except BaseException as exc:  # reported below
                    failures.append(exc)
                ended.set()

            pulsing = threading.Thread(target=pulse)
            pulsing.start()
            assert started.wait(WAIT)
            b.driver.ping()
            assert b.port.waiters == 0
            assert b.port.try_allocate() is False  # A holds the port: its pulse is not over
            handle = b.create_file("LPT1.4")
            assert not ended.is_set(), "B waited for A's pulse"
            pulsing.join(WAIT)
            assert ended.is_set() and failures == []
            assert handle.internal_device_control(LOCK).status == nt.STATUS_SUCCESS
            assert handle.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS
            handle.close()


def _answers(sock: socket.socket, count: int) -> list[Any]:
    reader = p.FrameReader(sock)
    answers = []
    for _ in range(count):
        payload = reader.read()
        assert payload is not None
        answers.append(p.decode(payload))
    return answers


@pytest.mark.parametrize("leases", [False, True])
def test_messages_run_in_the_order_sent_across_the_hand_overs(tmp_path: Path, leases: bool) -> None:
    """One write, nine messages, without waiting for any answer: a CREATE (on a thread apart),
    requests on the handle it makes (on the loop), a CHECK (apart), a CLOSE (apart), a request
    on the closed handle (refused), a PING. Each runs after the one before it: every answer is
    the one the order sent gives, and the answers come back in that order."""
    config = f'leases = {"true" if leases else "false"}\n\n[[port]]\nspec = "emu:"\n'
    with daemon(tmp_path, config) as served:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(WAIT)
        sock.connect(served.socket)
        sock.sendall(p.handshake_request())
        assert p.parse_handshake(p.read_exact(sock, p.HANDSHAKE.size, at_boundary=False) or b"")[
            2
        ] == (p.HELLO_OK)
        assert _answers(sock, 1)[0][0] == p.MSG_HELLO
        handle = 1  # a connection's handles are numbered from 1
        burst = [
            [p.OP_CREATE, 1, "LPT1.1", 0],
            [p.OP_SUBMIT, 2, handle, INTERNAL, LOCK, b"", 0],
            [p.OP_CHECK, 3],
            [p.OP_SUBMIT, 4, handle, INTERNAL, UNLOCK, b"", 0],
            [p.OP_SUBMIT, 5, handle, INTERNAL, LOCK, b"", 0],
            [p.OP_CLOSE, 6, handle],
            [p.OP_SUBMIT, 7, handle, INTERNAL, LOCK, b"", 0],
            [p.OP_NAMES, 8],
            [p.OP_PING, 9],
        ]
        sock.sendall(b"".join(p.frame(message) for message in burst))
        answers = _answers(sock, len(burst))
        sock.close()
        assert [answer[1] for answer in answers] == list(range(1, 10))
        assert answers[0][:3] == [p.MSG_REPLY, 1, nt.STATUS_SUCCESS]
        assert answers[0][3][0] == handle
        for index in (1, 3, 4):
            assert answers[index][:3] == [p.MSG_COMPLETE, index + 1, nt.STATUS_SUCCESS]
        assert answers[2] == [p.MSG_REPLY, 3, nt.STATUS_SUCCESS, []]  # nothing wrong
        assert answers[5] == [p.MSG_REPLY, 6, nt.STATUS_SUCCESS, None]
        assert answers[6] == [p.MSG_COMPLETE, 7, nt.STATUS_INVALID_DEVICE_REQUEST, 0, b""]
        assert answers[7][:3] == [p.MSG_REPLY, 8, nt.STATUS_SUCCESS]
        assert answers[8] == [p.MSG_REPLY, 9, nt.STATUS_SUCCESS, None]
        # The close released the lock taken by request 5: another connection locks at once.
        with parport.connect(served.socket) as other:
            device = other.create_file("LPT1.1")
            assert device.internal_device_control(LOCK, timeout=WAIT).status == nt.STATUS_SUCCESS
            assert other.driver.check() == []
            assert device.internal_device_control(UNLOCK).status == nt.STATUS_SUCCESS


def _threads(pid: int) -> list[int]:
    return sorted(int(task) for task in os.listdir(f"/proc/{pid}/task"))


def test_a_signal_the_kernel_gives_to_another_thread_still_stops_the_daemon(
    tmp_path: Path,
) -> None:
    """SIGTERM sent to one of the daemon's helper threads (tgkill), not to its loop: Python
    runs the handler on the loop's thread, which the signal's wake-up byte gets out of its wait.
    The daemon ends, exit status 0, no traceback."""
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "tgkill"):
        pytest.skip("this C library has no tgkill (glibc 2.30 or later has)")
    served = DaemonProcess(tmp_path, '[[port]]\nspec = "emu:"\n')
    try:
        with parport.connect(served.socket) as bus:
            bus.create_file("LPT1.4").close()  # a CREATE and a CLOSE: helper threads exist
        others = [tid for tid in _threads(served.pid) if tid != served.pid]
        assert others, "no helper thread to send the signal to"
        assert libc.tgkill(served.pid, others[0], signal.SIGTERM) == 0, ctypes.get_errno()
        assert served.proc.wait(STOP_TIMEOUT_S) == 0
    finally:
        served.kill()
    assert "Traceback" not in served.text(), served.text()
    assert "SIGTERM received; shutting down" in served.text()


def _connected(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(WAIT)
    sock.connect(path)
    sock.sendall(p.handshake_request())
    reply = p.read_exact(sock, p.HANDSHAKE.size, at_boundary=False)
    assert reply is not None and p.parse_handshake(reply)[2] == p.HELLO_OK
    return sock


def test_a_message_too_costly_to_read_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A PING carrying an array of 1,000 empty arrays, and one nesting 17 arrays: refused
    with the bound it breaks (reading such frames whole would hold the daemon for seconds
    at 4 MiB), and the connection goes on."""
    with daemon(tmp_path) as served:
        sock = _connected(served.socket)
        assert _answers(sock, 1)[0][0] == p.MSG_HELLO
        wide = [p.OP_PING, 1, [[] for _ in range(1000)]]
        deep: list[Any] = []
        for _ in range(16):
            deep = [deep]
        sock.sendall(p.frame(wide) + p.frame([p.OP_PING, 2, deep]) + p.frame([p.OP_PING, 3]))
        first, second, third = _answers(sock, 3)
        assert first[:3] == [p.MSG_ERROR, None, nt.STATUS_INVALID_PARAMETER]
        assert "exceeds max_array_len(64)" in first[3]
        assert second[:3] == [p.MSG_ERROR, None, nt.STATUS_INVALID_PARAMETER]
        assert "more than 16 arrays in one message" in second[3]
        assert third == [p.MSG_REPLY, 3, nt.STATUS_SUCCESS, None]
        sock.close()


def test_a_flood_is_held_up_at_its_source_not_buffered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client writes 200,000 PINGs at once (1.6 MB) while reading its answers. The daemon
    reads no more while whole messages wait to run, so what it holds unread stays within one
    read (64 KiB, and the start of a PING it cut) however far the client is ahead; every PING
    is answered, in order."""
    held: list[int] = []
    receive = p.FrameReader.receive

    def watched(reader: p.FrameReader) -> bytes | bool:
        got = receive(reader)
        held.append(len(reader.unread) - reader._start)
        return got

    monkeypatch.setattr(p.FrameReader, "receive", watched)
    count = 200_000
    with daemon_here(tmp_path) as running:
        sock = _connected(running.config.socket)
        answers: list[int] = []

        def read() -> None:
            reader = p.FrameReader(sock)
            assert p.decode(reader.read() or b"")[0] == p.MSG_HELLO
            while len(answers) < count:
                message = p.decode(reader.read() or b"")
                answers.append(message[1])

        reading = threading.Thread(target=read)
        reading.start()
        sock.sendall(b"".join(p.frame([p.OP_PING, seq]) for seq in range(count)))
        reading.join(WAIT * 4)
        sock.close()
    assert answers == list(range(count))
    assert max(held) < p.FrameReader.CHUNK + 16  # a PING's frame is 8 bytes


def test_whole_messages_sent_before_a_half_close_are_all_answered(tmp_path: Path) -> None:
    """200 PINGs in one write, then the client shuts its side down: the end of the stream
    comes between frames, so it is a clean end — after all 200 have run and been answered."""
    with daemon(tmp_path) as served:
        sock = _connected(served.socket)
        assert _answers(sock, 1)[0][0] == p.MSG_HELLO
        sock.sendall(b"".join(p.frame([p.OP_PING, seq]) for seq in range(200)))
        sock.shutdown(socket.SHUT_WR)
        answers = _answers(sock, 200)
        assert [answer[:3] for answer in answers] == [
            [p.MSG_REPLY, seq, nt.STATUS_SUCCESS] for seq in range(200)
        ]
        assert sock.recv(1) == b""  # and then the daemon hangs up, without an error
        sock.close()


def test_an_ended_connection_is_not_kept_alive(tmp_path: Path) -> None:
    """Once a client has gone and its cleanup has run, nothing in the daemon keeps its
    connection (with what it had read) alive — not the helper threads that served it."""
    import gc
    import weakref

    with daemon_here(tmp_path) as running:
        with parport.connect(running.config.socket) as bus:
            bus.create_file("LPT1.4").close()  # a handshake, a CREATE and a CLOSE on helpers
            (connection,) = list(running._connections)
            gone = weakref.ref(connection)
            del connection
        until(lambda: running.connections == 0, "the connection cleaned up")
        assert running.helpers.idle >= 1  # the threads are still there, idle
        gc.collect()
        assert gone() is None, gc.get_referrers(gone())


def test_a_callback_token_of_the_wrong_type_is_refused_and_the_connection_goes_on(
    tmp_path: Path,
) -> None:
    """CALL with a token that is a string or a float: an answer saying what a token is,
    nothing logged as a failure, and the connection still works."""
    with daemon(tmp_path) as served:
        sock = _connected(served.socket)
        assert _answers(sock, 1)[0][0] == p.MSG_HELLO
        sock.sendall(p.frame([p.OP_CREATE, 1, "\\Device\\ParallelPort0", 0]))
        (created,) = _answers(sock, 1)
        handle = created[3][0]
        for seq, token in ((2, "abc"), (3, 1.5)):
            sock.sendall(p.frame([p.OP_CALL, seq, handle, token, []]))
            (answer,) = _answers(sock, 1)
            assert answer[:3] == [p.MSG_REPLY, seq, nt.STATUS_INVALID_PARAMETER]
            assert "a token must be an int" in answer[3]
        sock.sendall(p.frame([p.OP_PING, 4]))
        assert _answers(sock, 1) == [[p.MSG_REPLY, 4, nt.STATUS_SUCCESS, None]]
        sock.close()
        assert "unexpected failure" not in served.text()


def test_clients_that_do_not_read_delay_a_shutdown_once_not_once_each(tmp_path: Path) -> None:
    """Eight clients have answers waiting that they never read. SIGTERM gives them all one
    second together to read what is left (not a second each, one after another): the daemon
    is gone well within four seconds, exit status 0."""
    import time

    served = DaemonProcess(tmp_path, '[[port]]\nspec = "emu:"\n')
    socks = []
    try:
        for _ in range(8):
            sock = _connected(served.socket)
            sock.sendall(b"".join(p.frame([p.OP_PING, seq]) for seq in range(40_000)))
            socks.append(sock)
        with parport.connect(served.socket) as bus:
            bus.driver.ping()  # the flood is in: this came after it on the same loop
        start = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(STOP_TIMEOUT_S) == 0
        assert time.monotonic() - start < 4.0
    finally:
        served.kill()
        for sock in socks:
            sock.close()
    assert "Traceback" not in served.text(), served.text()


def test_answers_on_their_way_at_a_half_close_are_all_delivered(tmp_path: Path) -> None:
    """100,000 PINGs written without reading, then the client shuts its sending side and only
    then reads: far more answers than the sockets hold wait in the daemon's outbox when the
    end of the stream arrives, and every one of them is delivered before the daemon hangs
    up."""
    count = 100_000
    with daemon(tmp_path) as served:
        sock = _connected(served.socket)
        writing = threading.Thread(
            target=lambda: (
                sock.sendall(b"".join(p.frame([p.OP_PING, seq]) for seq in range(count))),
                sock.shutdown(socket.SHUT_WR),
            )
        )
        writing.start()
        reader = p.FrameReader(sock)
        assert p.decode(reader.read() or b"")[0] == p.MSG_HELLO
        seqs = []
        while (payload := reader.read()) is not None:
            seqs.append(p.decode(payload)[1])
        writing.join(WAIT)
        sock.close()
    assert seqs == list(range(count))


def test_a_map_is_refused(tmp_path: Path) -> None:
    """No client message has a map, not even an empty one."""
    with daemon(tmp_path) as served:
        sock = _connected(served.socket)
        assert _answers(sock, 1)[0][0] == p.MSG_HELLO
        sock.sendall(p.frame([p.OP_PING, 1, {}]) + p.frame([p.OP_PING, 2]))
        refused, answered = _answers(sock, 2)
        assert refused[:3] == [p.MSG_ERROR, None, nt.STATUS_INVALID_PARAMETER]
        assert "a map in a client's message" in refused[3]
        assert answered == [p.MSG_REPLY, 2, nt.STATUS_SUCCESS, None]
        sock.close()


def test_small_answers_waiting_for_a_client_share_buffers(tmp_path: Path) -> None:
    """A client that does not read: its PINGs' answers wait in the outbox joined into buffers
    of up to 64 KiB, not one object each (which cost six times the answers' bytes)."""
    with daemon_here(tmp_path) as running:
        sock = _connected(running.config.socket)
        sock.sendall(b"".join(p.frame([p.OP_PING, seq]) for seq in range(200_000)))
        (connection,) = list(running._connections)
        until(lambda: connection._backlog > 1_000_000, "a megabyte of answers waiting")
        with connection._out_lock:
            backlog, pieces = connection._backlog, len(connection._out)
        assert pieces <= backlog // (32 * 1024) + 2
        sock.close()


def test_what_a_gone_client_left_unread_is_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """100 PINGs in one write; while the first runs, the connection is found gone (as when the
    loop sees the socket closed both ways, or the client is cut off for not reading): the 99
    others are dropped with the connection, not run — a killed lock holder's unread requests
    would otherwise keep its lock for as long as they take."""
    from parport.service import server

    ran: list[int] = []
    ping = server._OPERATIONS[p.OP_PING]

    def gone_at_first(connection: Any, seq: int, args: list[Any]) -> None:
        ran.append(seq)
        if seq == 0:
            connection.hung_up()
        ping(connection, seq, args)

    monkeypatch.setitem(server._OPERATIONS, p.OP_PING, gone_at_first)
    with daemon_here(tmp_path) as running:
        sock = _connected(running.config.socket)
        assert _answers(sock, 1)[0][0] == p.MSG_HELLO
        sock.sendall(b"".join(p.frame([p.OP_PING, seq]) for seq in range(100)))
        assert sock.recv(1) == b""  # the daemon hung up, without an answer
        until(lambda: running.connections == 0, "the connection cleaned up")
        sock.close()
    assert ran == [0]


def test_a_client_killed_during_a_long_register_script_frees_the_port_at_once(
    tmp_path: Path,
) -> None:
    """A holds the port and pulses the data lines for 10 s (one script: set, sleep, reset). A
    is SIGKILLed during the sleep: the daemon sees the client gone although its message runs
    apart from the loop, the script's sleep is cut short and its last write still runs (the
    lines end at the idle byte), and B's waiting ALLOCATE is granted within a second, not when
    the 10 s are over."""
    with daemon_here(tmp_path) as running:
        path = running.config.socket
        pulser = Child(
            """
            import sys, parport
            bus = parport.connect(sys.argv[1])
            bus.port.allocate()
            print("held", flush=True)
            bus.pins.pulse(0xA5, width_s=10.0, idle=0x00)
            print("pulsed", flush=True)
            """,
            path,
        )
        try:
            assert pulser.line() == "held"
            with parport.connect(path) as b:
                (a,) = [c for c in running._connections if c.peer and c.peer.pid == pulser.pid]
                until(lambda: not a._settled.is_set(), "A's pulse running apart")
                waiting = b.port.handle.submit_internal_device_control(ALLOCATE)
                until(lambda: b.port.waiters == 1, "B's ALLOCATE queued")
                killed = time.monotonic()
                pulser.proc.kill()
                result = waiting.wait(WAIT)
                granted = time.monotonic() - killed
                assert result is not None and result.status == nt.STATUS_SUCCESS
                assert granted < 1.0, f"granted {granted:.2f} s after the kill"
                assert b.pins.read_data() == 0x00  # the pulse's last write ran
                b.port.handle.internal_device_control(FREE)
                assert b.driver.check() == []
        finally:
            pulser.kill()


def test_sigterm_during_a_long_register_script(tmp_path: Path) -> None:
    """A client pulses for 10 s; SIGTERM stops the daemon within a few seconds (the script's
    sleep is cut short: every request is cancelled as the daemon goes), exit 0."""
    with daemon(tmp_path) as served, parport.connect(served.socket) as a:
        a.port.allocate()
        pulsing = threading.Thread(target=_pulse_quietly, args=(a,))
        pulsing.start()
        until(lambda: _busy(a), "the pulse under way")
        stopped = time.monotonic()
        status = served.stop()
        took = time.monotonic() - stopped
        pulsing.join(WAIT)
        assert status == 0
        assert took < 5.0, f"the daemon took {took:.1f} s to stop"


def _pulse_quietly(bus: Any) -> None:
    with contextlib.suppress(nt.ParportError):
        bus.pins.pulse(0xA5, width_s=10.0)


def _busy(bus: Any) -> bool:
    return bool(bus.driver._irps)


def test_shutdown_grants_no_waiter_the_port(tmp_path: Path) -> None:
    """At shutdown every connection's pending requests are cancelled before any connection's
    handles close: the port its owner's close frees is not granted, on the way out, to another
    connection's queued ALLOCATE. Each of ten gets STATUS_CANCELLED (then the goodbye); before,
    only when the owner's connection happened to close last."""
    with daemon_here(tmp_path) as running:
        path = running.config.socket
        owner = parport.connect(path)
        owner.port.allocate()
        waiters = [parport.connect(path) for _ in range(10)]
        irps = [bus.port.handle.submit_internal_device_control(ALLOCATE) for bus in waiters]
        until(lambda: owner.port.waiters == 10, "ten ALLOCATEs queued")
    results = [irp.wait(WAIT) for irp in irps]
    assert [None if r is None else r.status for r in results] == [nt.STATUS_CANCELLED] * 10
    for bus in (owner, *waiters):
        bus.close()


def _voluntary_switches() -> int:
    """This thread's voluntary context switches so far (Linux's per-thread counter)."""
    with open(f"/proc/self/task/{threading.get_native_id()}/status") as status:
        for line in status:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError("no voluntary_ctxt_switches in /proc")


def test_a_request_wakes_its_client_once(tmp_path: Path) -> None:
    """A thread waiting for an answer sleeps once a request: it waits in poll() for bytes to
    read, which the daemon reading the request does not wake. Asleep in a blocking recv(), it
    was also woken each time the daemon read a frame it had sent (the kernel wakes a Unix stream
    socket's sleepers when its peer frees room), and went back to sleep: two wake-ups a
    request."""
    cmd = nt.PARALLEL_1284_COMMAND(ID=0, CommandFlags=0).pack()
    select_device, deselect = nt.IOCTL_INTERNAL_SELECT_DEVICE, nt.IOCTL_INTERNAL_DESELECT_DEVICE
    with daemon(tmp_path) as served, parport.connect(served.socket) as bus:
        port = bus.create_file("\\Device\\ParallelPort0")
        for _ in range(50):  # warm: the client's pump has parked, the daemon's code is loaded
            port.internal_device_control(select_device, cmd)
            port.internal_device_control(deselect, cmd)
        pairs = 300
        before = _voluntary_switches()
        for _ in range(pairs):
            assert port.internal_device_control(select_device, cmd).status == nt.STATUS_SUCCESS
            assert port.internal_device_control(deselect, cmd).status == nt.STATUS_SUCCESS
        per_request = (_voluntary_switches() - before) / (2 * pairs)
        port.close()
    assert per_request <= 1.3, f"{per_request:.2f} sleeps a request"
