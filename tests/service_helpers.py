"""Helpers for the daemon's tests: a parportd in a subprocess on a temporary socket, started and
stopped with bounded waits (readiness comes through ``$NOTIFY_SOCKET``, as systemd would see it),
and client processes that report over their standard output."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

READY_TIMEOUT_S = 30.0  # a daemon that is not ready by then fails the test (never reached)
STOP_TIMEOUT_S = 30.0
TESTS = Path(__file__).parent
SRC = TESTS.parent / "src"


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(TESTS), env.get("PYTHONPATH", "")])
    env.pop("PARPORTD_SOCKET", None)
    if extra:
        env.update(extra)
    return env


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def config_text(
    specs: Sequence[str] = ("emu:",),
    *,
    options: dict[str, Any] | None = None,
    ports: Sequence[dict[str, Any]] | None = None,
    devices: dict[str, dict[str, Any]] | None = None,
    **top: Any,
) -> str:
    """A TOML configuration: top-level keys, bus options, one [[port]] per spec (with ``ports``'
    extra keys), and device allow lists for the first port."""
    lines = [f"{key} = {toml_value(value)}" for key, value in {**(options or {}), **top}.items()]
    for index, spec in enumerate(specs):
        lines += ["", "[[port]]", f"spec = {toml_value(spec)}"]
        extra = ports[index] if ports and index < len(ports) else {}
        lines += [f"{key} = {toml_value(value)}" for key, value in extra.items()]
        if index == 0:
            for name, table in (devices or {}).items():
                lines += ["", f'[port.device."{name}"]']
                lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


class DaemonProcess:
    """A parportd subprocess: ``socket`` to connect to, ``log`` its stderr."""

    def __init__(self, directory: Path, config: str, args: Sequence[str] = ()) -> None:
        self.directory = directory
        self.socket = str(directory / "parportd.sock")
        self.log = directory / "parportd.log"
        self.config = directory / "parportd.toml"
        self.config.write_text(config)
        notify_path = str(directory / "notify.sock")
        self._notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._notify.bind(notify_path)
        self._notify.settimeout(READY_TIMEOUT_S)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "parport.service",
                    "--config",
                    str(self.config),
                    "--socket",
                    self.socket,
                    *args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=_env({"NOTIFY_SOCKET": notify_path}),
            )
        try:
            while True:
                message = self._notify.recv(4096).decode()
                if "READY=1" in message:
                    break
        except TimeoutError:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)
            raise AssertionError(f"parportd did not start:\n{self.log.read_text()}") from None
        finally:
            if self.proc.poll() is not None:
                raise AssertionError(f"parportd exited:\n{self.log.read_text()}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/task"))

    def stop(self) -> int:
        """SIGTERM, then the exit status (bounded wait; a daemon still running then is killed,
        and the test fails on the timeout)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(STOP_TIMEOUT_S)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
            self._notify.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT_S)
        self._notify.close()


@contextmanager
def daemon_here(tmp_path: Path, specs: tuple[str, ...] = ("emu:",)) -> Iterator[Any]:
    """parportd in this process, its loop on a thread (its internals within reach of the test)."""
    from parport.service import server
    from parport.service.config import Config, PortConfig

    config = Config(socket=str(tmp_path / "parportd.sock"))
    config.ports = [PortConfig(spec) for spec in specs]
    running = server.Daemon(config)
    running.start()
    serving = threading.Thread(target=running.serve_forever)
    serving.start()
    try:
        yield running
    finally:
        running.request_stop()
        serving.join(STOP_TIMEOUT_S)
        running.close()


@contextmanager
def daemon(directory: Path, config: str | None = None, **kwargs: Any) -> Iterator[DaemonProcess]:
    """A daemon for the block; at the end it must stop cleanly on SIGTERM, without tracebacks."""
    process = DaemonProcess(directory, config if config is not None else config_text(**kwargs))
    try:
        yield process
    except BaseException:
        process.kill()
        raise
    status = process.stop()
    text = process.text()
    assert status == 0, f"parportd exited {status}:\n{text}"
    assert "Traceback" not in text, text


class Child:
    """A Python client process running ``code``; it reports with ``print(..., flush=True)``."""

    def __init__(self, code: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_env(),
            text=True,
            cwd="/",
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def line(self) -> str:
        """The child's next line of output (a child that ends first fails the test)."""
        assert self.proc.stdout is not None
        text = self.proc.stdout.readline()
        if not text:
            self.proc.wait(STOP_TIMEOUT_S)
            assert self.proc.stderr is not None
            raise AssertionError(f"the child ended: {self.proc.stderr.read()}")
        return text.rstrip("\n")

    def say(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=STOP_TIMEOUT_S)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(STOP_TIMEOUT_S)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
