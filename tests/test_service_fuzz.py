"""Fuzzing the daemon: 10^5 random and mutated frames from several connections at once —
truncated, oversized, wrong version or magic, unknown operations, wrong types, requests on
handles the connection does not have — while an honest client holds a lock. The daemon never
crashes, the honest client sees no change, and the daemon's memory stays flat."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import parport
from parport import nt
from parport.driver import IOCTL_PARPORT_REGISTERS
from parport.service import protocol as p
from service_helpers import config_text, daemon

FRAMES = int(os.environ.get("PARPORT_FUZZ_FRAMES", "100000"))
FUZZERS = 4
WARM_UP = 0.2  # memory is measured from when this share of the frames has been sent
RSS_GROWTH_LIMIT_KIB = 24 * 1024
WAIT = 60.0

NAMES = [
    "LPT1.0",
    "LPT1.1",
    "LPT1.4",
    "LPT1",
    "\\Device\\ParallelPort0",
    "LPT9",
    "",
    "\\\\.\\LPT1.4",
]
MAJORS = [
    nt.IRP_MJ_INTERNAL_DEVICE_CONTROL,
    nt.IRP_MJ_DEVICE_CONTROL,
    nt.IRP_MJ_READ,
    nt.IRP_MJ_WRITE,
    nt.IRP_MJ_QUERY_INFORMATION,
    nt.IRP_MJ_SET_INFORMATION,
    nt.IRP_MJ_CREATE,
    nt.IRP_MJ_CLEANUP,
    255,
]
# Every code but the two that legitimately change a port-wide flag for everyone.
CODES = sorted(
    {
        code
        for code in (*nt.INTERNAL_IOCTLS, *nt.DEVICE_IOCTLS, IOCTL_PARPORT_REGISTERS)
        if code
        not in (
            nt.IOCTL_INTERNAL_DISABLE_END_OF_CHAIN_BUS_RESCAN,
            nt.IOCTL_INTERNAL_ENABLE_END_OF_CHAIN_BUS_RESCAN,
        )
    }
)
OPS = [op for op in p.OP_NAMES_BY_CODE if op != p.OP_RESCAN]


def _junk(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(11 if depth < 3 else 8)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([-1, 0, 1, 2**31, 2**32, 2**63 - 1, -(2**63), 2**64 - 1])
    if kind == 3:
        return rng.random() * 1e9
    if kind == 4:
        return "x" * rng.randrange(40)
    if kind == 5:
        return rng.randbytes(rng.randrange(64))
    if kind == 6:
        return rng.randrange(2**32)
    if kind == 7:
        return rng.choice(NAMES)
    if kind == 8:
        return [_junk(rng, depth + 1) for _ in range(rng.randrange(6))]
    if kind == 9:
        return {str(rng.randrange(9)): _junk(rng, depth + 1) for _ in range(rng.randrange(4))}
    nested: Any = []
    for _ in range(rng.randrange(100)):
        nested = [nested]
    return nested


def _message(rng: random.Random, seq: int) -> list[Any]:
    """A well-formed message of a random operation, with plausible arguments."""
    op = rng.choice(OPS)
    hid = rng.randrange(1, 8)
    token = rng.choice([0, rng.randrange(2**64), 0xFFFF_A000_0000_0010 | rng.randrange(4096) << 4])
    if op == p.OP_CREATE:
        return [op, seq, rng.choice(NAMES), rng.choice([0, 0, nt.FILE_DIRECTORY_FILE, 7])]
    if op == p.OP_SUBMIT:
        data = rng.randbytes(rng.randrange(0, 48))
        if rng.random() < 0.3:
            data = nt.PARALLEL_1284_COMMAND(
                ID=rng.randrange(6), CommandFlags=rng.randrange(16)
            ).pack()
        code = rng.choice(CODES) if rng.random() < 0.9 else rng.randrange(2**32)
        return [op, seq, hid, rng.choice(MAJORS), code, data, rng.randrange(0, 200)]
    if op in (p.OP_CLOSE, p.OP_TOKEN):
        return [op, seq, hid]
    if op == p.OP_CANCEL:
        return [op, seq, rng.randrange(seq + 1)]
    if op == p.OP_RESOLVE:
        return [op, seq, hid, token]
    if op == p.OP_CALL:
        return [op, seq, hid, token, [_junk(rng) for _ in range(rng.randrange(4))]]
    if op == p.OP_HARDWARE:
        return [op, seq, rng.randrange(-1, 3), rng.randrange(-2, 5), rng.choice(["kind", "x", 3])]
    return [op, seq]


def _mutate(rng: random.Random, message: list[Any]) -> bytes:
    """The payload of a message, broken in one of several ways (or left whole)."""
    choice = rng.randrange(8)
    if choice == 0:  # a wrong type somewhere
        message = list(message)
        message[rng.randrange(len(message))] = _junk(rng)
    elif choice == 1:  # an unknown operation
        message = [rng.choice([0, 15, 63, 64, 65, 200, 2**32 - 1]), *message[1:]]
    elif choice == 2:  # too few or too many arguments
        message = message[: rng.randrange(len(message))] if rng.random() < 0.5 else [*message, 1]
    payload = p.encode(message)
    if choice == 3:  # flipped bytes
        data = bytearray(payload)
        for _ in range(rng.randrange(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        payload = bytes(data)
    elif choice == 4:  # cut short, or followed by garbage
        payload = payload[: rng.randrange(1, len(payload) + 1)] if len(payload) > 1 else payload
        if rng.random() < 0.5:
            payload += rng.randbytes(rng.randrange(1, 8))
    elif choice == 5:  # not msgpack at all
        payload = rng.randbytes(rng.randrange(1, 64))
    return payload


class Fuzzer(threading.Thread):
    """One attacker: its own connections, one after another; counts the frames it sent."""

    def __init__(self, path: str, seed: int, frames: int, progress: list[int]) -> None:
        super().__init__(name=f"fuzzer {seed}", daemon=True)
        self.path = path
        self.rng = random.Random(seed)
        self.frames = frames
        self.progress = progress
        self.index = seed
        self.sock: socket.socket | None = None
        self.reconnects = 0
        self.error: BaseException | None = None

    def _connect(self, handshake: bytes | None = None) -> None:
        self._drop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(self.path)  # blocking: waits while the daemon's backlog is full
        sock.sendall(handshake or p.handshake_request())  # blocking: MSG_DONTWAIT reads
        self.sock = sock
        self.reconnects += 1

    def _drop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _drain(self) -> bool:
        """Read what the daemon sent, without waiting; False when it hung up."""
        assert self.sock is not None
        while True:
            try:
                data = self.sock.recv(1 << 16, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False

    def _send(self, data: bytes) -> None:
        if self.sock is None:
            self._connect()
        assert self.sock is not None
        try:
            self.sock.sendall(data)
        except OSError:
            self._connect()
            return
        if not self._drain():
            self._connect()

    def run(self) -> None:
        try:
            self._connect()
            for seq in range(1, self.frames + 1):
                self._one(seq)
                self.progress[self.index] = seq
            if self.sock is not None:  # a proper goodbye on the last connection
                self._drop()
        except BaseException as exc:
            self.error = exc

    def _one(self, seq: int) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.005:  # a frame cut short, then the connection closed
            payload = p.encode(_message(rng, seq))
            assert self.sock is not None
            with contextlib.suppress(OSError):
                self.sock.sendall(struct.pack(">I", len(payload) + 10) + payload)
            self._connect()
        elif roll < 0.010:  # an oversized or empty frame
            length = rng.choice([0, p.MAX_FRAME + 1, 2**32 - 1])
            self._send(struct.pack(">I", length) + b"\x90")
            self._connect()
        elif roll < 0.013:  # a wrong version, a wrong magic, a cut handshake
            bad = rng.choice(
                [
                    p.handshake_request(version=rng.choice([0, 2, 65535])),
                    b"NOTPARPD" + b"\x00\x01\x00\x00",
                    p.handshake_request()[: rng.randrange(1, 11)],
                ]
            )
            self._connect(bad)
            if self.sock is not None:
                self.sock.shutdown(socket.SHUT_WR)
                self._drain()
            self._connect()
        else:
            message = _message(rng, seq)
            payload = p.encode(message) if roll < 0.5 else _mutate(rng, message)
            self._send(struct.pack(">I", len(payload)) + payload)


def _snapshot(bus: parport.Bus) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for peripheral in bus.hardware.chain:
        selected = getattr(peripheral, "selected", None) if peripheral.kind == "daisy" else None
        address = getattr(peripheral, "address", None) if peripheral.kind == "daisy" else None
        out.append(
            (peripheral.kind, selected, address, bytes(peripheral.received), peripheral.device_id)
        )
    return out


@pytest.mark.timeout(900)
def test_random_and_mutated_frames_change_nothing(tmp_path: Path) -> None:
    config = config_text(log_level="warning")
    with daemon(tmp_path, config) as served, parport.connect(served.socket) as honest:
        dev = honest.device("LPT1.0")
        dev.lock()
        assert dev.write(b"honest") == 6
        names = honest.names()
        before = _snapshot(honest)
        progress = [0] * FUZZERS
        fuzzers = [Fuzzer(served.socket, i, FRAMES // FUZZERS, progress) for i in range(FUZZERS)]
        for fuzzer in fuzzers:
            fuzzer.start()
        deadline = time.monotonic() + 600
        warm_rss = None
        while any(f.is_alive() for f in fuzzers) and time.monotonic() < deadline:
            fuzzers[0].join(0.05)
            if warm_rss is None and sum(progress) >= FRAMES * WARM_UP:
                warm_rss = served.rss_kib()
        for fuzzer in fuzzers:
            fuzzer.join(WAIT)
            assert not fuzzer.is_alive(), "a fuzzer did not finish"
            assert fuzzer.error is None, repr(fuzzer.error)
        assert sum(progress) == FUZZERS * (FRAMES // FUZZERS)
        assert served.proc.poll() is None, served.text()
        # Wait (bounded) until the daemon has cleaned up every fuzzing connection.
        deadline = time.monotonic() + WAIT
        while honest.driver._request(p.OP_INFO)["connections"] > 1:
            assert time.monotonic() < deadline, "fuzzing connections were not cleaned up"
        end_rss = served.rss_kib()
        assert warm_rss is not None
        assert end_rss - warm_rss < RSS_GROWTH_LIMIT_KIB, (warm_rss, end_rss)
        assert honest.names() == names
        assert _snapshot(honest) == before
        assert honest.port.waiters == 0
        assert honest.driver.check() == []
        assert dev.write(b" still mine") == 11
        dev.unlock()
        assert not honest.hardware.chain[0].selected
        assert bytes(honest.hardware.chain[0].received) == b"honest still mine"
        dev.close()
        reconnects = sum(f.reconnects for f in fuzzers)
        assert reconnects > FRAMES // 200  # the framing attacks really cut connections
    log = served.text()
    assert "unexpected failure" not in log and " failed" not in log, log[-5000:]
