"""Access through the daemon: a second user (a forked child that drops to ``nobody`` with
``os.setuid``) gets the user-mode requests and STATUS_ACCESS_DENIED for the kernel-level ones;
allow lists and the socket's mode keep users out; a configured group makes a user trusted.
Every refusal is in the daemon's log with the peer's pid and uid. Needs root (CI runs as root)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import parport
from parport import nt
from service_helpers import config_text, daemon

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to run a client as a second user (os.setuid)"
)

NOBODY = 65534
TRUSTED_GID = 4242  # a group no user has: the child is given it as a supplementary group


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="parportd-access-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_user(
    work: Callable[[], dict[str, Any]], uid: int = NOBODY, groups: tuple[int, ...] = ()
) -> tuple[int, dict[str, Any]]:
    """Run ``work`` in a forked child that has dropped to ``uid``; (its pid, what it returned)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 0
        try:
            os.close(read_end)
            os.setgroups(list(groups))
            os.setgid(NOBODY)
            os.setuid(uid)
            result = work()
        except BaseException as exc:
            result = {"child error": repr(exc)}
            status = 1
        with os.fdopen(write_end, "w") as out:
            json.dump(result, out)
        os._exit(status)
    os.close(write_end)
    with os.fdopen(read_end) as source:
        text = source.read()
    _, status = os.waitpid(pid, 0)
    result = json.loads(text)
    assert status == 0, result
    return pid, result


def _outcome(call: Callable[[], Any]) -> str:
    try:
        value = call()
    except parport.ParportError as exc:
        return type(exc).__name__
    if isinstance(value, nt.IoStatus):
        return nt.status_name(value.status)
    return "ok"


def user_session(socket_path: str) -> Callable[[], dict[str, Any]]:
    def work() -> dict[str, Any]:
        out: dict[str, Any] = {}
        with parport.connect(socket_path) as bus:
            out["trusted"] = bus.driver.trusted
            out["names"] = len(bus.names())
            h = bus.create_file("LPT1.4")
            port = bus.create_file("\\Device\\ParallelPort0")
            out["write"] = _outcome(lambda: h.write(b"user data"))
            out["read"] = _outcome(lambda: h.read(8))
            out["get_mode"] = _outcome(lambda: h.device_control(nt.IOCTL_IEEE1284_GET_MODE, b"", 4))
            out["query_info"] = _outcome(
                lambda: h.query_information(nt.FileStandardInformation, 24)
            )
            out["pins"] = _outcome(bus.pins.read_pins)
            out["lock"] = _outcome(lambda: h.internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT))
            out["allocate"] = _outcome(
                lambda: port.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
            )
            out["port_info"] = _outcome(
                lambda: port.internal_device_control(
                    nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO, b"", 56
                )
            )
            out["facade_lock"] = _outcome(lambda: bus.device("LPT1.1").lock())
            out["allocated"] = _outcome(lambda: bus.port.allocate(timeout=5))
            out["restricted_device"] = _outcome(lambda: bus.create_file("LPT1.0"))
            out["rescan"] = _outcome(lambda: bus.rescan(1))
            out["check"] = _outcome(bus.driver.check)
            out["view"] = bus.hardware.chain[2].kind
        return out

    return work


def test_a_second_user_gets_user_mode_requests_only(shared_dir: Path) -> None:
    config = config_text(
        socket_mode="0666", devices={"LPT1.0": {"allow_users": ["root"]}}, log_level="info"
    )
    with daemon(shared_dir, config) as served, parport.connect(served.socket) as root_bus:
        pid, out = as_user(user_session(served.socket))
        assert out == {
            "trusted": False,
            "names": len(root_bus.names()),
            "write": "STATUS_SUCCESS",
            "read": "STATUS_SUCCESS",
            "get_mode": "STATUS_SUCCESS",
            "query_info": "STATUS_SUCCESS",
            "pins": "ok",  # IOCTL_PARPORT_REGISTERS on the port: a device control
            "lock": "STATUS_ACCESS_DENIED",
            "allocate": "STATUS_ACCESS_DENIED",
            "port_info": "STATUS_ACCESS_DENIED",
            "facade_lock": "AccessDeniedError",
            "allocated": "AccessDeniedError",
            "restricted_device": "AccessDeniedError",
            "rescan": "AccessDeniedError",
            "check": "AccessDeniedError",
            "view": "printer",
        }
        assert bytes(root_bus.hardware.chain[2].received) == b"user data"
        assert root_bus.driver.check() == []
        root_bus.create_file("LPT1.1").close()  # the user's handles were closed with it
    log = served.text()
    refusals = [line for line in log.splitlines() if "refused" in line]
    assert len(refusals) == 8, log
    assert all(f"pid {pid} uid {NOBODY}" in line for line in refusals), refusals
    assert any("IOCTL_INTERNAL_LOCK_PORT" in line for line in refusals)
    assert any("LPT1.0" in line and "allow list" in line for line in refusals)


def test_a_trusted_group_may_send_kernel_level_requests(shared_dir: Path) -> None:
    config = config_text(socket_mode="0666", trusted_groups=[TRUSTED_GID])
    with daemon(shared_dir, config) as served:

        def work() -> dict[str, Any]:
            with parport.connect(served.socket) as bus:
                dev = bus.device("LPT1.0")
                with dev.locked():
                    selected = bus.hardware.chain[0].selected
                return {"trusted": bus.driver.trusted, "selected": selected}

        _, out = as_user(work, groups=(TRUSTED_GID,))
        assert out == {"trusted": True, "selected": True}


def test_allow_lists_and_the_socket_mode_keep_users_out(shared_dir: Path) -> None:
    config = config_text(socket_mode="0666", ports=[{"allow_users": ["root"]}])
    with daemon(shared_dir, config) as served:

        def work() -> dict[str, Any]:
            with parport.connect(served.socket) as bus:
                return {
                    "open": _outcome(lambda: bus.create_file("LPT1.4")),
                    "view": _outcome(lambda: bus.hardware.chain),
                }

        _, out = as_user(work)
        assert out == {"open": "AccessDeniedError", "view": "AccessDeniedError"}
    closed = shared_dir / "closed"
    closed.mkdir()
    closed.chmod(0o755)
    with daemon(closed, config_text(socket_mode="0600")) as served:

        def refused() -> dict[str, Any]:
            try:
                parport.connect(served.socket)
            except PermissionError as exc:
                return {"error": type(exc).__name__, "one line": "\n" not in str(exc)}
            return {"error": None}

        _, out = as_user(refused)
        assert out == {"error": "DaemonAccessError", "one line": True}
