"""Port specs (``design.md`` §6) parsed once into a :class:`PortSpec`, and the backend table.

``emu:chain=printer&hw=spp`` — scheme ``emu``, options after the colon separated by ``&``.
``spy:<spec>?vcd=FILE`` — the spy's own options follow the last ``?``. ``/dev/parportN`` and
``ppdev:N`` mean Linux ppdev (``ppdev:0?exclusive=1``: options after ``?``); ``portio:0x378`` raw
I/O ports through ``/dev/port`` (``portio:0x378?force=1``). Backends are found by scheme in a
table of (module, factory) imported only when used, plus the ``parport.backends`` entry-point
group, so nothing is imported (and no hardware touched) until a port is opened.
``importlib.metadata`` itself is imported only for a scheme that is not in the table.

A spec that cannot name a port raises :class:`~parport.nt.SpecError` (a ``ParportError`` and a
``ValueError``) with one line naming what is wrong and what is allowed; a spec that is not a str
raises ``TypeError``.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import unquote

from ..nt.errors import SpecError
from .backend import PortBackend

__all__ = [
    "BACKENDS",
    "DEFAULT_SPEC",
    "PortSpec",
    "SpecError",
    "available_schemes",
    "default_spec",
    "open_backend",
    "parse_spec",
    "portio_options",
    "ppdev_options",
]

DEFAULT_SPEC: Final = "emu:"
ENTRY_POINT_GROUP: Final = "parport.backends"

# scheme -> (module, factory(target, options) -> PortBackend)
BACKENDS: Final[dict[str, tuple[str, str]]] = {
    "emu": ("parport.hw.emu.topology", "open_emulator"),
    "spy": ("parport.hw.spy", "open_spy"),
    "ppdev": ("parport.hw.ppdev", "open_ppdev"),
    "portio": ("parport.hw.portio", "open_portio"),
}

# Schemes design.md §6 describes that this build may not have, with an example of each.
_EXAMPLES: Final = {
    "emu": "'emu:'",
    "ppdev": "'/dev/parport0'",
    "portio": "'portio:0x378'",
    "parportd": "'parportd:'",
    "spy": "'spy:emu:?vcd=trace.vcd'",
}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")  # RFC 3986 scheme syntax

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


def shown(text: str, limit: int = 80) -> str:
    """``text`` as an error message shows it: on one line (control characters escaped), and cut
    short with an ellipsis past ``limit`` characters."""
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _entry_point_names() -> list[str]:
    from importlib.metadata import entry_points  # noqa: PLC0415 (18 ms: only when needed)

    return [entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)]


def available_schemes() -> list[str]:
    """Every scheme this build can open: the built-in table plus the installed entry points."""
    return sorted({*BACKENDS, *_entry_point_names()})


def _suggestion() -> str:
    schemes = available_schemes()
    examples = [_EXAMPLES[s] for s in _EXAMPLES if s in schemes and s != "spy"]
    return f"give one like {' or '.join(examples)} (schemes on this build: {', '.join(schemes)})"


def _options(text: str, where: str, allowed: str) -> dict[str, str]:
    """``key=value`` pairs separated by ``&``, percent-decoded."""
    options: dict[str, str] = {}
    for item in text.split("&"):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpecError(
                f"{where}: option '{shown(item)}' is not allowed: {where} options are key=value "
                f"pairs separated by '&' ({allowed})"
            )
        key = unquote(key)
        value = unquote(value)
        if key in options:
            raise SpecError(
                f"{where}: {shown(key)}= is given twice ({shown(key)}={shown(options[key])}, "
                f"{shown(key)}={shown(value)}); give each option once"
            )
        options[key] = value
    return options


def _check_spy_options(options: Mapping[str, str]) -> None:
    unknown = [f"{key}={value}" for key, value in options.items() if key != "vcd"]
    if unknown:
        raise SpecError(
            f"spy: unknown options [{shown(', '.join(unknown))}]; spy: takes only vcd=FILE, "
            "the VCD file to write"
        )
    if "vcd" not in options:
        raise SpecError("spy: needs vcd=FILE, a path for the VCD trace it writes (none given)")
    if not options["vcd"]:
        raise SpecError(
            "spy: vcd= is not allowed: spy: needs vcd=FILE, a path for the VCD trace it writes"
        )


def parse_spec(text: str) -> PortSpec:
    """Parse a port spec; raises :class:`SpecError` with the reason when it is malformed.

    Only the syntax is checked here (and the ``spy:`` options); a backend checks its own options
    when it opens.
    """
    if not isinstance(text, str):
        raise TypeError(f"spec must be a str like 'emu:', not {type(text).__name__}")
    spec = text.strip()
    if not spec:
        raise SpecError(f"an empty port spec; {_suggestion()}")
    if spec.startswith("/dev/"):
        path, _, query = spec.partition("?")
        options = _options(query, "ppdev", PPDEV_HELP)
        ppdev_options(options)
        return PortSpec("ppdev", path, options, spec)
    scheme, sep, rest = spec.partition(":")
    if not sep or not _SCHEME.fullmatch(scheme):
        raise SpecError(f"port spec '{shown(text)}' has no scheme; {_suggestion()}")
    scheme = scheme.lower()
    if scheme == "spy":
        inner, qmark, query = rest.rpartition("?")
        if not qmark:
            raise SpecError(
                "spy: needs '?vcd=FILE' after the spec it wraps, like 'spy:emu:?vcd=trace.vcd'"
            )
        options = _options(query, "spy", "spy: takes vcd=FILE")
        _check_spy_options(options)
        if inner.strip():
            try:
                parse_spec(inner)
            except SpecError as exc:
                raise SpecError(f"spy: the spec it wraps: {exc}") from exc
        return PortSpec("spy", inner, options, spec)
    if scheme == "emu":
        return PortSpec("emu", "", _options(rest, "emu", "e.g. 'emu:chain=printer&hw=spp'"), spec)
    if scheme == "ppdev":
        target, _, query = rest.partition("?")
        options = _options(query, "ppdev", PPDEV_HELP)
        ppdev_options(options)
        return PortSpec("ppdev", ppdev_path(target), options, spec)
    if scheme == "portio":
        target, _, query = rest.partition("?")
        options = _options(query, "portio", PORTIO_HELP)
        portio_options(options)
        return PortSpec("portio", f"{portio_base(target):#x}", options, spec)
    return PortSpec(scheme, rest, {}, spec)


# --- ppdev: and portio: -------------------------------------------------------------------------
PPDEV_HELP: Final = (
    "ppdev takes exclusive=0|1 (PPEXCL: no other driver may share the port) and "
    "release_timeout=SECONDS (how long a PPRELEASE may take before the port counts as hung, "
    "0.05-60, default 2)"
)
PORTIO_HELP: Final = (
    "portio takes force=0|1 (use the registers even though a kernel driver has claimed them)"
)
PORTIO_MAX_BASE: Final = 0xFFFF - 7  # base..base+7 must be I/O port numbers (16 bits)


def _flag(scheme: str, key: str, value: str) -> bool:
    if value in ("1", "yes", "true", "on"):
        return True
    if value in ("0", "no", "false", "off"):
        return False
    raise SpecError(f"{scheme}: {key}={shown(value)} is not allowed: {key} is 0 or 1")


def ppdev_options(options: Mapping[str, str]) -> dict[str, object]:
    """The checked options of a ``ppdev:`` spec: ``exclusive`` (bool), ``release_timeout``
    (seconds, float); SpecError names anything else."""
    unknown = [f"{k}={v}" for k, v in options.items() if k not in ("exclusive", "release_timeout")]
    if unknown:
        raise SpecError(f"ppdev: unknown options [{shown(', '.join(unknown))}]; {PPDEV_HELP}")
    out: dict[str, object] = {}
    if "exclusive" in options:
        out["exclusive"] = _flag("ppdev", "exclusive", options["exclusive"])
    if "release_timeout" in options:
        text = options["release_timeout"]
        try:
            seconds = float(text)
        except ValueError:
            seconds = -1.0
        if not 0.05 <= seconds <= 60.0:
            raise SpecError(
                f"ppdev: release_timeout={shown(text)} is not allowed: give seconds, 0.05 to 60"
            )
        out["release_timeout"] = seconds
    return out


def portio_options(options: Mapping[str, str]) -> dict[str, object]:
    """The checked options of a ``portio:`` spec: ``force`` (bool)."""
    unknown = [f"{k}={v}" for k, v in options.items() if k != "force"]
    if unknown:
        raise SpecError(f"portio: unknown options [{shown(', '.join(unknown))}]; {PORTIO_HELP}")
    return {"force": _flag("portio", "force", options["force"])} if "force" in options else {}


def ppdev_path(target: str) -> str:
    """The device node a ``ppdev:`` target names: ``N`` → ``/dev/parportN``; an absolute path
    as it is; empty → ``/dev/parport0``."""
    target = target.strip()
    if not target:
        return "/dev/parport0"
    if target.isdigit():
        return f"/dev/parport{int(target)}"
    if target.startswith("/"):
        return target
    raise SpecError(
        f"ppdev:{shown(target)} names no port: give a port number like 'ppdev:0' or a device "
        "node like '/dev/parport0'"
    )


def portio_base(target: str) -> int:
    """The base I/O address of a ``portio:`` target (``0x378``, ``888``)."""
    text = target.strip()
    try:
        base = int(text, 0)
    except ValueError:
        base = -1
    if not 0 < base <= PORTIO_MAX_BASE:
        raise SpecError(
            f"portio:{shown(text)} is not a port address: give the base I/O address, like "
            "'portio:0x378' (0x3bc, 0x378 and 0x278 are the classic ones; 'parport list' shows "
            "this machine's)"
        )
    return base


def default_spec() -> str:
    """``$PARPORT_PORT`` if set, else ``emu:``."""
    return os.environ.get("PARPORT_PORT") or DEFAULT_SPEC


def _factory(scheme: str, spec: PortSpec) -> Factory:
    if scheme in BACKENDS:
        module, name = BACKENDS[scheme]
        factory: Factory = getattr(importlib.import_module(module), name)
        return factory
    from importlib.metadata import entry_points  # noqa: PLC0415 (18 ms: only when needed)

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == scheme:
            loaded: Factory = entry.load()
            return loaded
    hint = ""
    if scheme == "parportd":
        hint = " (parportd: names a daemon, not a port: give it to parport.open() or connect())"
    elif scheme in _EXAMPLES:
        hint = f" ({scheme} is not part of this release)"
    raise SpecError(
        f"no backend for '{shown(scheme)}' in '{shown(str(spec))}'{hint}; "
        f"schemes on this build: {', '.join(available_schemes())}"
    )


def open_backend(spec: str | PortSpec | None = None) -> PortBackend:
    """Open the backend a spec names (default: :func:`default_spec`)."""
    from_environment = spec is None and bool(os.environ.get("PARPORT_PORT"))
    if spec is None:
        spec = default_spec()
    if not isinstance(spec, str | PortSpec):
        raise TypeError(f"spec must be a str like 'emu:', not {type(spec).__name__}")
    try:
        parsed = spec if isinstance(spec, PortSpec) else parse_spec(spec)
        return _factory(parsed.scheme, parsed)(parsed.target, parsed.options)
    except SpecError as exc:
        if not from_environment:
            raise
        raise SpecError(f"{exc} (the spec comes from $PARPORT_PORT)") from exc
