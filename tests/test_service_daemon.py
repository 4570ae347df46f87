"""The daemon as a program: it starts in under a second, refuses a bad configuration in one
line, replaces a stale socket but not a live one, takes its socket from systemd, and
``parport.connect()`` with no daemon says how to start one; the protocol's framing rules."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import parport
from driver_helpers import until
from parport import nt
from parport.service import ConfigError, DaemonUnavailableError, config, protocol
from parport.service import client as client_module
from service_helpers import DaemonProcess, _env, config_text, daemon

START_WITHIN_S = 1.0
PORT = "\\Device\\ParallelPort0"


def test_starts_in_under_a_second_and_serves(tmp_path: Path) -> None:
    start = time.monotonic()
    served = DaemonProcess(tmp_path, config_text(["emu:", "emu:chain=printer"]))
    elapsed = time.monotonic() - start
    try:
        with parport.connect(f"parportd:{served.socket}") as bus:
            assert "LPT2.4" in bus.names() and "\\Device\\ParallelPort1" in bus.names()
            assert bus.spec == f"parportd:{served.socket}"
            info = bus.driver.info
            assert [p["name"] for p in info["ports"]] == ["LPT1", "LPT2"]
            assert info["peer"]["pid"] == os.getpid() and info["limits"]["max_frame"] == 4 << 20
    finally:
        assert served.stop() == 0
    assert elapsed < START_WITHIN_S * 3  # a loaded CI machine; typically 0.3-0.5 s
    assert not Path(served.socket).exists()


def test_connect_without_a_daemon_says_how_to_start_one(tmp_path: Path) -> None:
    path = str(tmp_path / "none.sock")
    with pytest.raises(DaemonUnavailableError) as missing:
        parport.connect(path)
    text = str(missing.value)
    assert "\n" not in text and path in text and f"parportd --socket {path}" in text
    assert isinstance(missing.value, ConnectionError)
    assert isinstance(missing.value, parport.ParportError)


def test_bad_configurations_are_refused_in_one_line(tmp_path: Path) -> None:
    for text, expected in [
        ("sockt = 'x'\n", "unknown key 'sockt'"),
        ("[[port]]\nspec = 3\n", "port[0].spec"),
        ("max_daisy = 9\n", "max_daisy is 0..4"),
        ("trusted_groups = ['no-such-group-here']\n", "no group named"),
        ("[[port]]\n[port.device.'LPT1.0']\nallow = 1\n", "unknown key 'allow'"),
        ("socket_mode = 'rw'\n", "octal mode"),
    ]:
        path = tmp_path / "bad.toml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(expected)):
            config.load(path)
    path.write_text("max_daisy = 9\n")
    result = subprocess.run(
        [sys.executable, "-m", "parport.service", "--config", str(path)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "max_daisy" in result.stderr


def test_a_stale_socket_is_replaced_a_live_one_is_not(tmp_path: Path) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "parportd.sock"))
    stale.close()  # the file stays, nobody listens: what a killed daemon leaves
    with daemon(tmp_path) as served:
        result = subprocess.run(
            [sys.executable, "-m", "parport.service", "--socket", served.socket],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=60,
            check=False,
        )
        assert result.returncode == 1
        assert "another parportd is serving" in result.stderr
        with parport.connect(served.socket) as bus:
            assert bus.devices == ["LPT1", "LPT1.0", "LPT1.1", "LPT1.4"]


def test_socket_activation(tmp_path: Path) -> None:
    path = str(tmp_path / "activated.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    fd = listener.fileno()

    # What systemd does: the socket as fd 3, LISTEN_FDS=1, LISTEN_PID=the daemon's pid.
    launcher = (
        "import os, sys; os.dup2(int(sys.argv[1]), 3); "
        "os.environ['LISTEN_PID'] = str(os.getpid()); os.environ['LISTEN_FDS'] = '1'; "
        "os.execv(sys.executable, [sys.executable, '-m', 'parport.service', "
        "'--socket', '/nonexistent/ignored.sock'])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", launcher, str(fd)],
        env=_env(),
        pass_fds=(fd,),
        stderr=subprocess.PIPE,
        text=True,
    )
    listener.close()
    try:
        with parport.connect(path) as bus:  # connects before the daemon accepts: the backlog
            assert "LPT1.0" in bus.names()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "the socket systemd passed" in err
    assert Path(path).exists()  # systemd's socket: the daemon leaves it alone


def test_framing_reads_until_whole_and_tells_clean_from_cut() -> None:
    a, b = socket.socketpair()
    payload = protocol.encode([protocol.OP_PING, 7])
    whole = struct.pack(">I", len(payload)) + payload
    reader = protocol.FrameReader(b)
    for byte in whole:  # one byte at a time: still one frame
        a.send(bytes([byte]))
    a.sendall(whole * 3)
    assert [reader.read() for _ in range(4)] == [payload] * 4
    assert not reader.buffered()
    a.sendall(whole[:6])
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(protocol.ProtocolError, match="inside a frame"):
        reader.read()
    a.close()
    b.close()
    c, d = socket.socketpair()
    c.close()
    assert protocol.FrameReader(d).read() is None  # a clean end between frames
    d.close()
    e, f = socket.socketpair()
    e.sendall(struct.pack(">I", protocol.MAX_FRAME + 1))
    with pytest.raises(protocol.ProtocolError, match="outside"):
        protocol.FrameReader(f).read()
    e.close()
    f.close()


def test_a_client_that_stops_reading_is_disconnected_and_others_go_on(tmp_path: Path) -> None:
    with daemon(tmp_path) as served, parport.connect(served.socket) as bus:
        with bus.device("LPT1.4") as printer:
            assert printer.write(bytes(1 << 20)) == 1 << 20  # 1 MiB in the printer's view
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.connect(served.socket)
        stuck.sendall(protocol.handshake_request())
        assert protocol.read_exact(stuck, 12, at_boundary=False)  # accepted and counted
        # Ask for the 1 MiB view 40 times and never read: 40 MiB for a 16 MiB outbox.
        request = protocol.frame([protocol.OP_HARDWARE, 1, 0, 2, "received"])
        with contextlib.suppress(OSError):  # the daemon may hang up while we still send
            for _ in range(40):
                stuck.sendall(request)
        deadline = time.monotonic() + 60  # bounded: until the daemon has let it go
        while bus.driver._request(protocol.OP_INFO)["connections"] > 1:
            assert time.monotonic() < deadline, "the stuck client was not disconnected"
        stuck.settimeout(60)
        with contextlib.suppress(OSError):
            while stuck.recv(1 << 20):  # what was in flight, then the end of the stream
                pass
        stuck.close()
        assert "does not read its completions" in served.text()
        with bus.device("LPT1.4") as printer:  # everybody else goes on
            assert printer.write(b"after") == 5
        assert bus.driver.check() == []


def test_callbacks_with_arguments_they_cannot_take(tmp_path: Path) -> None:
    with daemon(tmp_path) as served, parport.connect(served.socket) as bus:
        port = bus.create_file("\\Device\\ParallelPort0")
        pnp = port.internal_device_control(nt.IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO, b"", 112)
        fields = nt.PARALLEL_PNP_INFORMATION.unpack(pnp.output)
        select = port.callbacks.callable(fields.TrySelectDevice)
        with pytest.raises(parport.InvalidParameterError):
            select(fields.Context, b"\x01")  # not a PARALLEL_1284_COMMAND
        with pytest.raises(parport.InvalidParameterError):
            select()  # too few arguments
        with pytest.raises(TypeError):
            select(fields.Context, object())  # not sendable at all
        assert bus.driver.check() == []
        port.close()
    assert "Traceback" not in served.text()


@contextlib.contextmanager
def _behind_a_lock(tmp_path: Path) -> Iterator[tuple[Any, parport.Bus, Any]]:
    """A daemon; another client's handle holding LPT1.1's lock; a second client and its LPT1.0
    handle, whose LOCK_PORT will wait behind that lock."""
    with (
        daemon(tmp_path) as served,
        parport.connect(served.socket) as holder,
        parport.connect(served.socket) as second,
    ):
        held = holder.create_file("LPT1.1")
        assert held.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT).status == 0
        yield held, second, second.create_file("LPT1.0")


def test_a_long_wait_parks_the_clients_pump_and_completions_still_arrive_after(
    tmp_path: Path,
) -> None:
    """A thread waiting longer than the pump's grace period (a LOCK_PORT behind another
    client's lock) lets the client's pump sleep until the wait ends instead of waking every few
    milliseconds; once it ends, the pump reads again: a completion nobody waits for still runs
    its callback."""

    with _behind_a_lock(tmp_path) as (held, waiter, h):
        results: list[int] = []
        blocked = threading.Thread(
            target=lambda: results.append(
                h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT, timeout=60).status
            )
        )
        blocked.start()
        client = waiter.driver
        # The pump parks after one grace period (it does not keep waking during the wait).
        until(lambda: client._pump_parked, "the pump parked")
        assert held.internal_device_control(nt.IOCTL_INTERNAL_UNLOCK_PORT).status == 0
        blocked.join(30)
        assert results == [nt.STATUS_SUCCESS]
        arrived = threading.Event()
        irp = h.submit_internal_device_control(nt.IOCTL_INTERNAL_UNLOCK_PORT)
        irp.add_done_callback(lambda _: arrived.set())
        assert arrived.wait(30), "no thread waits: the pump must read the completion"
        assert irp.result == nt.IoStatus(nt.STATUS_SUCCESS, 0)
        h.close()
        held.close()


class _PausingLock:
    """A lock that holds one thread back at one of its acquisitions until told to go on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.thread: int | None = None
        self.at = 0  # which acquisition by ``thread`` waits (1 = its first)
        self.reached = threading.Event()
        self.go_on = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if threading.get_ident() == self.thread:
            self.at -= 1
            if self.at == 0:
                self.reached.set()
                assert self.go_on.wait(30)
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc: object) -> None:
        self.release()


def test_a_reply_read_by_another_thread_just_before_its_waiter_sleeps_wakes_it(
    tmp_path: Path,
) -> None:
    """Two threads share a connection: R reads (it waits for a LOCK_PORT queued behind another
    client's lock); W waits for its own reply. W has seen no result and is about to sleep when
    R reads W's reply and looks whether anybody sleeps — nobody yet. W must still see its
    reply (the lost wake-up kept it asleep until R's own request ended)."""
    with _behind_a_lock(tmp_path) as (held, shared, h):
        client: Any = shared.driver
        lock = _PausingLock()
        client._state_lock = lock
        client._state = threading.Condition(lock)  # type: ignore[arg-type]
        read_one = client._read_one
        first = [True]

        def read_when_w_is_about_to_sleep(deadline: float | None) -> bool:
            if first[0]:  # R's first frame is W's reply: read it once W has looked for it
                first[0] = False
                assert lock.reached.wait(30)
                done = read_one(deadline)  # W's reply dispatched; nobody counted asleep
                lock.go_on.set()
                return done
            return read_one(deadline)

        client._read_one = read_when_w_is_about_to_sleep
        r_results: list[int] = []
        reader = threading.Thread(
            target=lambda: r_results.append(
                h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT, timeout=60).status
            )
        )
        reader.start()
        until(lambda: client._reading == reader.ident, "R reads")
        w_results: list[list[str]] = []

        def w() -> None:
            lock.thread, lock.at = threading.get_ident(), 2  # its take before sleeping
            w_results.append(shared.names())

        writer = threading.Thread(target=w)
        writer.start()
        writer.join(10)
        try:
            assert not writer.is_alive(), "W slept through its reply"
            assert w_results and "LPT1.0" in w_results[0]
            assert r_results == []  # R still waits: nothing else could have woken W
        finally:
            lock.go_on.set()
            assert held.internal_device_control(nt.IOCTL_INTERNAL_UNLOCK_PORT).status == 0
            reader.join(30)
            writer.join(30)
        assert r_results == [nt.STATUS_SUCCESS]
        h.internal_device_control(nt.IOCTL_INTERNAL_UNLOCK_PORT)
        h.close()
        held.close()


def test_closing_the_bus_from_a_completion_callback_does_not_wait_for_the_pump(
    tmp_path: Path,
) -> None:
    """A completion callback run by a thread that reads the socket for its own wait closes the
    bus: the close returns at once (the pump cannot end while that thread still reads, so it is
    not waited for), the waiting thread's call fails cleanly, and the pump ends after."""

    lock, unlock = nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT
    with (
        daemon(tmp_path) as served,
        parport.connect(served.socket) as holder,
    ):
        bus = parport.connect(served.socket)
        held = holder.create_file("LPT1.1")
        assert held.internal_device_control(lock).status == 0
        waiting, ahead = bus.create_file("LPT1.0"), bus.create_file("LPT1.4")
        closed = threading.Event()
        reader: list[str] = []

        def close_in_callback(_: nt.Irp) -> None:
            reader.append(threading.current_thread().name)
            bus.close()
            closed.set()

        ahead.submit_write(b"x").add_done_callback(close_in_callback)  # first in the FIFO
        answers: list[object] = []

        def wait_for_lock() -> None:
            try:
                answers.append(waiting.internal_device_control(lock).status)
            except parport.ParportError as exc:
                answers.append(exc)

        thread = threading.Thread(target=wait_for_lock, name="waiting thread")
        thread.start()
        until(lambda: holder.port.waiters == 2, "the write and the LOCK queued")
        assert held.internal_device_control(unlock).status == 0
        assert closed.wait(2.5), "the close in the callback waited for the pump"
        thread.join(30)
        assert reader == ["waiting thread"] and not thread.is_alive()
        assert len(answers) == 1  # an answer (granted, or ended with the bus), not a hang
        bus.driver._pump.join(30)
        assert not bus.driver._pump.is_alive()
        held.close()


def _pump_asleep_after_a_long_wait(served: DaemonProcess) -> tuple[parport.Bus, parport.Bus, Any]:
    """A client whose blocking LOCK waited behind another client's lock long enough for its
    pump thread to go to sleep; (the other client, the client, the client's handle)."""
    holder, bus = parport.connect(served.socket), parport.connect(served.socket)
    held, mine = holder.create_file("LPT1.0"), bus.create_file("LPT1.1")
    lock, unlock = nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT
    assert held.internal_device_control(lock).status == nt.STATUS_SUCCESS

    def unlock_once_the_pump_sleeps() -> None:
        until(lambda: bus.driver._pump_parked, "the pump asleep through the wait")
        assert held.internal_device_control(unlock).status == nt.STATUS_SUCCESS

    other = threading.Thread(target=unlock_once_the_pump_sleeps)
    other.start()
    assert mine.internal_device_control(lock).status == nt.STATUS_SUCCESS
    other.join(30)
    assert not other.is_alive()
    return holder, bus, mine


def test_blocking_calls_leave_the_pump_asleep_and_a_request_nobody_waits_for_wakes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread that waits reads its own answer, so a program making blocking calls leaves the
    client's pump thread asleep after a long wait (no wake-up per request); a request submitted
    without a wait, or a callable handed to the daemon, wakes it: their completions and calls
    arrive with no thread waiting."""
    monkeypatch.setattr(client_module, "PUMP_PARK_S", 600.0)  # only a wake-up can end the sleep
    with daemon(tmp_path) as served:
        holder, bus, mine = _pump_asleep_after_a_long_wait(served)
        assert bus.driver._pump_parked  # the wait is over; nothing is outstanding
        assert mine.device_control(nt.IOCTL_IEEE1284_GET_MODE, b"", 4).status == 0
        assert bus.driver._pump_parked
        completed = threading.Event()
        unlock = mine.submit_internal_device_control(nt.IOCTL_INTERNAL_UNLOCK_PORT)
        unlock.add_done_callback(lambda irp: completed.set())
        assert completed.wait(30), "the completion of a request nobody waits for never came"
        assert unlock.status == nt.STATUS_SUCCESS
        bus.close()
        holder.close()


def test_a_sleeping_pump_still_sees_the_daemon_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that waits for nothing learns that the daemon went away within PUMP_PARK_S."""
    monkeypatch.setattr(client_module, "PUMP_PARK_S", 0.05)
    with daemon(tmp_path) as served:
        holder, bus, _ = _pump_asleep_after_a_long_wait(served)
        assert served.stop() == 0
        until(lambda: bus.closed, "the client told that the daemon left")
        holder.close()
        bus.close()


@contextlib.contextmanager
def _goodbye_on_submit(path: str) -> Iterator[None]:
    """A stand-in daemon at ``path``: it opens handles, and answers the first SUBMIT with a
    goodbye and hangs up without running it (as parportd does to requests still unread in a
    connection when it shuts down)."""
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(4)
    framer = protocol.Framer()

    def serve(conn: socket.socket) -> None:
        protocol.read_exact(conn, protocol.HANDSHAKE.size, at_boundary=False)
        conn.sendall(protocol.handshake_reply(protocol.HELLO_OK))
        conn.sendall(framer.frame([protocol.MSG_HELLO, {"ports": [], "peer": {"trusted": True}}]))
        while True:
            payload = protocol.read_frame(conn)
            if payload is None:
                return
            op, seq, *args = protocol.decode(payload)
            if op == protocol.OP_SUBMIT:
                goodbye = [protocol.MSG_GOODBYE, nt.STATUS_DELETE_PENDING, "going away"]
                conn.sendall(framer.frame(goodbye))
                conn.shutdown(socket.SHUT_RDWR)
                return
            conn.sendall(framer.frame([protocol.MSG_REPLY, seq, 0, [1, args[0]] if args else None]))

    def accept() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield
    finally:
        listener.close()


def test_a_goodbye_fails_what_waits_for_the_daemon(tmp_path: Path) -> None:
    """Requests the daemon will never answer (it said goodbye with them still unread) complete
    with STATUS_DEVICE_REMOVED, their callbacks run, and the calls after say the daemon is
    gone (a blocking call raised a bare AssertionError, a submitted request never completed)."""
    path = str(tmp_path / "standin.sock")
    with _goodbye_on_submit(path):
        bus = parport.connect(path)
        h = bus.create_file("LPT1.0")
        result = h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT)
        assert result.status == nt.STATUS_DEVICE_REMOVED
        assert bus.closed
        with pytest.raises(parport.DeviceRemovedError, match="going away"):
            h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT)
        bus.close()
        other = parport.connect(path)
        h = other.create_file("LPT1.0")
        ran: list[nt.Irp] = []
        irp = h.submit_internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT)
        irp.add_done_callback(ran.append)
        result = irp.wait(30)
        assert result is not None and result.status == nt.STATUS_DEVICE_REMOVED
        assert ran == [irp]
        other.driver._pump.join(30)
        assert not other.driver._pump.is_alive()
        other.close()


def test_a_bus_closed_by_a_callback_of_the_reading_thread_ends_its_pump(tmp_path: Path) -> None:
    """The thread waiting for a request reads its completion and runs its callback, which
    closes the bus: when that thread stops reading, the pump ends too, and the connection's
    socket with it (the pump waited for ever, a thread and three descriptors per bus)."""
    with daemon(tmp_path) as served:
        holder, bus = parport.connect(served.socket), parport.connect(served.socket)
        held = holder.create_file(PORT)
        port = bus.create_file(PORT)
        allocate = nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE
        free = nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE
        assert held.internal_device_control(allocate).status == nt.STATUS_SUCCESS
        pump = bus.driver._pump
        state = bus.driver._state
        wait = state.wait
        pump_waits_to_end = threading.Event()

        def watched_wait(timeout: float | None = None) -> bool:
            if threading.current_thread() is pump and timeout is None and bus.driver._lost:
                pump_waits_to_end.set()  # in its last step: until nobody reads
            return wait(timeout)

        state.wait = watched_wait  # type: ignore[method-assign]

        def close_in_callback(_: nt.Irp) -> None:
            bus.close()
            assert pump_waits_to_end.wait(30)  # this thread still reads

        queued = port.submit_internal_device_control(allocate)
        queued.add_done_callback(close_in_callback)
        me = threading.get_ident()

        def free_once_the_main_thread_reads() -> None:
            until(lambda: bus.driver._reading == me, "the main thread reading")
            assert held.internal_device_control(free).status == nt.STATUS_SUCCESS

        other = threading.Thread(target=free_once_the_main_thread_reads)
        other.start()
        result = queued.wait(30)
        other.join(30)
        assert result is not None and result.status == nt.STATUS_SUCCESS
        assert bus.closed
        pump.join(30)
        assert not pump.is_alive()
        assert bus.driver._sock.fileno() == -1
        holder.close()


def test_a_refusal_quoting_a_huge_argument_still_answers(tmp_path: Path) -> None:
    """create_file with a 1.5 MB name: the refusal quotes at most the first characters (its
    whole repr would exceed the frame limit, and the client waited for ever for an answer
    that was never sent); the connection goes on."""
    with daemon(tmp_path) as served:
        bus = parport.connect(served.socket)
        with pytest.raises(parport.NtStatusError) as refused:
            bus.create_file("\x01" * 1_500_000)
        assert refused.value.status == nt.STATUS_NO_SUCH_DEVICE
        assert len(str(refused.value)) < 2000
        with pytest.raises(UnicodeEncodeError):
            bus.create_file("\udc80")  # msgpack cannot carry it: nothing is left waiting
        assert bus.driver._replies == {}
        assert "LPT1.0" in bus.names()
        bus.close()
    assert "Traceback" not in served.text()
