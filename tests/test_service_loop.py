"""parportd's loop: one thread runs every connection's messages that wait for nothing, and hands
a message that may wait to a thread of its own (server.py's module docstring, docs/daemon.md "A
slow client cannot hurt the others"). These tests hold what a user would notice: a connection's
slow message holds up nobody else, a connection's messages run in the order sent across the
hand-overs, and the daemon stops on a signal whichever of its threads the kernel gives it to.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import threading
from pathlib import Path
from typing import Any

import pytest

import parport
from parport import nt
from parport.driver import registers as reg
from parport.service import protocol as p
from service_helpers import STOP_TIMEOUT_S, DaemonProcess, daemon, daemon_here

WAIT = 30.0
LOCK, UNLOCK = nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT
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
