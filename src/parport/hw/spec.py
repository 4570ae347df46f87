"""Port specs (``design.md`` §6) parsed once into a :class:`PortSpec`, and the backend table.

``emu:chain=printer&hw=spp`` — scheme ``emu``, options after the colon separated by ``&``.
``spy:<spec>?vcd=FILE`` — the spy's own options follow the last ``?``. ``/dev/parportN`` means
``ppdev``. Backends are found by scheme in a table of (module, factory) imported only when used,
plus the ``parport.backends`` entry-point group, so nothing is imported (and no hardware touched)
until a port is opened.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Final
from urllib.parse import unquote

from .backend import PortBackend

__all__ = ["BACKENDS", "DEFAULT_SPEC", "PortSpec", "default_spec", "open_backend", "parse_spec"]

DEFAULT_SPEC: Final = "emu:"

# scheme -> (module, factory(target, options) -> PortBackend)
BACKENDS: Final[dict[str, tuple[str, str]]] = {
    "emu": ("parport.hw.emu.topology", "open_emulator"),
    "spy": ("parport.hw.spy", "open_spy"),
}

Factory = Callable[[str, Mapping[str, str]], PortBackend]


@dataclass(frozen=True, slots=True)
class PortSpec:
    """A parsed port spec: scheme, target and options."""

    scheme: str
    target: str = ""
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""

    def __str__(self) -> str:
        return self.text or f"{self.scheme}:{self.target}"


def _options(text: str, what: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for item in text.split("&"):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what}: option {item!r} is not of the form key=value")
        if key in options:
            raise ValueError(f"{what}: option {key!r} given twice")
        options[key] = unquote(value)
    return options


def parse_spec(text: str) -> PortSpec:
    """Parse a port spec; raises ValueError with the reason when it is malformed."""
    spec = text.strip()
    if not spec:
        raise ValueError("an empty port spec; try 'emu:' or '/dev/parport0'")
    if spec.startswith("/dev/"):
        return PortSpec("ppdev", spec, {}, spec)
    scheme, sep, rest = spec.partition(":")
    if not sep or not scheme.isidentifier():
        raise ValueError(f"port spec {text!r} has no scheme (like 'emu:' or 'spy:emu:?vcd=f.vcd')")
    scheme = scheme.lower()
    if scheme == "spy":
        inner, qmark, query = rest.rpartition("?")
        if not qmark:
            raise ValueError("spy: needs '?vcd=FILE' after the spec it wraps")
        return PortSpec("spy", inner, _options(query, "spy"), spec)
    if scheme == "emu":
        return PortSpec("emu", "", _options(rest, "emu"), spec)
    return PortSpec(scheme, rest, {}, spec)


def default_spec() -> str:
    """``$PARPORT_PORT`` if set, else ``emu:``."""
    return os.environ.get("PARPORT_PORT") or DEFAULT_SPEC


def _factory(scheme: str) -> Factory:
    if scheme in BACKENDS:
        module, name = BACKENDS[scheme]
        factory: Factory = getattr(importlib.import_module(module), name)
        return factory
    for entry in entry_points(group="parport.backends"):
        if entry.name == scheme:
            loaded: Factory = entry.load()
            return loaded
    known = sorted({*BACKENDS, *(e.name for e in entry_points(group="parport.backends"))})
    hint = ""
    if scheme in ("ppdev", "portio", "parportd"):
        hint = f" ({scheme} is not part of this release yet)"
    raise ValueError(f"no backend for {scheme!r}{hint}; available: {', '.join(known)}")


def open_backend(spec: str | PortSpec | None = None) -> PortBackend:
    """Open the backend a spec names (default: :func:`default_spec`)."""
    if spec is None:
        spec = default_spec()
    parsed = spec if isinstance(spec, PortSpec) else parse_spec(spec)
    return _factory(parsed.scheme)(parsed.target, parsed.options)
