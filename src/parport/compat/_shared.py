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
import os
import threading
from typing import Any

from ..facade import Bus, connect
from ..facade import open as open_bus
from ..hw.spec import parse_spec
from ..nt.errors import SpecError

__all__ = ["acquire", "release", "resolve"]

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


def acquire(spec: str) -> Bus:
    """The bus of ``spec`` in this process, opened at its first user; :func:`release` it."""
    global _registered
    with _lock:
        entry = _buses.get(spec)
        if entry is None or entry[0].closed:
            entry = _buses[spec] = [_open(spec), 0]
        entry[1] += 1
        if not _registered:
            atexit.register(_close_all)
            _registered = True
        bus: Bus = entry[0]
        return bus


def release(bus: Bus) -> None:
    """One user fewer of ``bus``; the last closes it."""
    with _lock:
        for spec, entry in list(_buses.items()):
            if entry[0] is bus:
                entry[1] -= 1
                if entry[1] > 0:
                    return
                del _buses[spec]
                break
    bus.close()


def _close_all() -> None:
    """At exit: close the buses that programs never closed (their claims are released)."""
    with _lock:
        entries = list(_buses.values())
        _buses.clear()
    for bus, _ in entries:
        bus.close()
