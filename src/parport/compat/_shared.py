"""What the drop-ins share: turning a legacy port argument into a parport spec, and one bus per
spec in this process, so that every ``Parallel`` and ``ParallelPort`` on the same port goes
through the same arbiter (and through the daemon, for ``parportd:`` specs).

Port arguments (docs/compat.md, "Which port"):

* a parport spec (``"emu:"``, ``"spy:emu:?vcd=t.vcd"``, ``"parportd:"``, ``"portio:0x378"``,
  ``"ppdev:0"``) is used as it is;
* anything a legacy program passes — pyparallel's port number ``0`` or a device path
  ``"/dev/parport0"``, PsychoPy's I/O address ``0x378`` or ``"0x0378"`` — is replaced by
  ``$PARPORT_PORT`` when that is set (how an unmodified program is pointed at the emulator or
  the daemon), else translated: a number N below 0x100 is ``/dev/parportN``, a larger one an
  I/O address (``portio:0x378``), a path stays a path.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any, Final

from ..facade import Bus, connect
from ..facade import open as open_bus
from ..hw.spec import parse_spec
from ..nt import STATUS_INVALID_DEVICE_STATE
from ..nt.errors import InvalidDeviceStateError, SpecError

__all__ = ["LOCKED_BY_PARENT", "acquire", "lend", "release", "resolve"]

# Set by ``parport lock`` for the command it runs: "SPEC DEVICE" held by the parent.
LOCKED_BY_PARENT: Final = "PARPORT_LOCKED"

_lock = threading.Lock()
_buses: dict[str, list[Any]] = {}  # spec -> [bus, users]
_registered = False


def _is_spec(text: str) -> bool:
    if text.startswith("/dev/") or ":" not in text:
        return False
    try:
        parse_spec(text)
    except SpecError:
        return False
    return True


def resolve(port: object) -> str:
    """The parport spec for a pyparallel or PsychoPy port argument (see the module docstring)."""
    if isinstance(port, str):
        text = port.strip()
        if _is_spec(text):
            return text
        if text.lower().startswith("0x"):
            try:
                port = int(text, 16)
            except ValueError:
                raise SpecError(f"port '{port}' is not an I/O address like '0x0378'") from None
    elif isinstance(port, bool) or not isinstance(port, int):
        raise TypeError(
            "a port is a number (0 for /dev/parport0, 0x378 for an I/O address), a device path "
            f"or a parport spec like 'emu:', not {type(port).__name__}"
        )
    environment = os.environ.get("PARPORT_PORT")
    if environment:
        return environment
    if isinstance(port, int):
        if port < 0:
            raise SpecError(f"port {port} is not a port number (0 is /dev/parport0)")
        return f"/dev/parport{port}" if port < 0x100 else f"portio:{port:#x}"
    if not port:
        raise SpecError("an empty port; give 0, '/dev/parport0' or a parport spec like 'emu:'")
    return str(port)


def _open(spec: str) -> Bus:
    parsed = parse_spec(spec)
    if parsed.scheme == "parportd":
        return connect(parsed.target or None)
    return open_bus(spec)


def shared_spec(spec: str) -> bool:
    """Whether another process opening ``spec`` reaches the same port (everything but an
    emulator, which lives in the process that opens it)."""
    parsed = parse_spec(spec)
    while parsed.scheme == "spy":
        parsed = parse_spec(parsed.target or "emu:")
    return parsed.scheme != "emu"


def check_not_locked_by_parent(spec: str) -> None:
    """Refuse to queue for a port that the parent ``parport lock`` holds until this program
    ends: the request would wait forever."""
    held = os.environ.get(LOCKED_BY_PARENT, "")
    held_spec, _, device = held.rpartition(" ")
    if held_spec and held_spec == spec and shared_spec(spec):
        raise InvalidDeviceStateError(
            STATUS_INVALID_DEVICE_STATE,
            f"this program runs under 'parport lock {device}', which holds {spec} until the "
            "program ends: a request of its own would wait for it forever (run a Python "
            "program inside the lock with 'parport lock --python')",
        )


@contextlib.contextmanager
def lend(spec: str, bus: Bus) -> Iterator[None]:
    """Let the drop-ins use ``bus`` (held open by the caller) for ``spec`` during the block."""
    with _lock:
        previous = _buses.get(spec)
        _buses[spec] = [bus, 1]
    try:
        yield
    finally:
        with _lock:
            if previous is None:
                _buses.pop(spec, None)
            else:
                _buses[spec] = previous


def acquire(spec: str) -> Bus:
    """The bus of ``spec`` in this process, opened at its first user; :func:`release` it."""
    global _registered
    with _lock:
        entry = _buses.get(spec)
        if entry is None or entry[0].closed:
            check_not_locked_by_parent(spec)
            entry = _buses[spec] = [_open(spec), 0]
        entry[1] += 1
        if not _registered:
            atexit.register(_close_all)
            _registered = True
        bus: Bus = entry[0]
        return bus


def release(bus: Bus) -> None:
    """One user fewer of ``bus``; the last closes it (a lent bus stays its lender's)."""
    with _lock:
        for spec, entry in list(_buses.items()):
            if entry[0] is bus:
                entry[1] -= 1
                if entry[1] > 0:
                    return
                del _buses[spec]
                break
        else:
            return  # closed at exit already, or lent and given back
    bus.close()


def _close_all() -> None:
    """At exit: close the buses that programs never closed (their claims are released)."""
    with _lock:
        entries = list(_buses.values())
        _buses.clear()
    for bus, _ in entries:
        bus.close()
