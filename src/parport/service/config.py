"""parportd's configuration: the ports it owns, its socket, who may use what (docs/daemon.md).

The configuration comes from a TOML file (``--config``) and the command line, which overrides
it. Every key is checked: an unknown key, a wrong type or an unknown user or group is a
:class:`ConfigError` with one line naming it.
"""

from __future__ import annotations

import grp
import os
import pwd
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..driver import PortOptions
from . import protocol

__all__ = ["AllowList", "Config", "ConfigError", "PortConfig", "default_socket_path", "load"]

DEFAULT_SPEC = "emu:"
ROOT_SOCKET = "/run/parportd.sock"


class ConfigError(ValueError):
    """A configuration that cannot be used (the message names the key and the value)."""


def default_socket_path() -> str:
    """``$PARPORTD_SOCKET``; else ``/run/parportd.sock`` as root; else
    ``$XDG_RUNTIME_DIR/parportd.sock``; else ``/tmp/parportd-<uid>.sock``."""
    explicit = os.environ.get("PARPORTD_SOCKET")
    if explicit:
        return explicit
    if os.geteuid() == 0:
        return ROOT_SOCKET
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "parportd.sock")
    return f"/tmp/parportd-{os.geteuid()}.sock"


@dataclass(frozen=True)
class AllowList:
    """Users and groups (numeric ids) allowed; empty on both sides means "not restricted"."""

    users: frozenset[int] = frozenset()
    groups: frozenset[int] = frozenset()

    @property
    def restricted(self) -> bool:
        return bool(self.users or self.groups)

    def allows(self, uid: int, gids: frozenset[int]) -> bool:
        if not self.restricted:
            return True
        return uid in self.users or bool(self.groups & gids)


@dataclass
class PortConfig:
    """One port: its spec, and who may open it and its devices."""

    spec: str = DEFAULT_SPEC
    allow: AllowList = field(default_factory=AllowList)
    devices: dict[str, AllowList] = field(default_factory=dict)  # by symbolic link (LPT1.0)


@dataclass
class Config:
    """Everything the daemon needs to start."""

    ports: list[PortConfig] = field(default_factory=lambda: [PortConfig()])
    options: PortOptions = field(default_factory=PortOptions)  # the bus's, for every port
    socket: str = field(default_factory=default_socket_path)
    socket_mode: int | None = None  # None: 0o660 with a socket group, else 0o600
    socket_group: int | None = None
    trusted_users: frozenset[int] = frozenset()
    trusted_groups: frozenset[int] = frozenset()
    max_connections: int = protocol.MAX_CONNECTIONS
    log_level: str = "INFO"
    leases: bool = True  # uncontended LOCK_PORT/UNLOCK_PORT without a round trip (lease.py)

    @property
    def effective_socket_mode(self) -> int:
        if self.socket_mode is not None:
            return self.socket_mode
        return 0o660 if self.socket_group is not None else 0o600


def _uid(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            return pwd.getpwnam(value).pw_uid
        except KeyError:
            raise ConfigError(f"{where}: no user named {value!r}") from None
    raise ConfigError(f"{where}: a user is a name or a uid, not {value!r}")


def _gid(value: object, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            return grp.getgrnam(value).gr_gid
        except KeyError:
            raise ConfigError(f"{where}: no group named {value!r}") from None
    raise ConfigError(f"{where}: a group is a name or a gid, not {value!r}")


def _list(table: dict[str, Any], key: str, where: str) -> list[object]:
    value = table.get(key, [])
    if not isinstance(value, list):
        raise ConfigError(f"{where}.{key}: a list, not {value!r}")
    return value


def _keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {unknown[0]!r}; the keys are {', '.join(sorted(allowed))}"
        )


def _allow(table: dict[str, Any], where: str) -> AllowList:
    users = frozenset(_uid(u, f"{where}.allow_users") for u in _list(table, "allow_users", where))
    groups = frozenset(
        _gid(g, f"{where}.allow_groups") for g in _list(table, "allow_groups", where)
    )
    return AllowList(users, groups)


def group_id(value: object, where: str = "socket_group") -> int:
    """A group name or number as a gid (:class:`ConfigError` if unknown)."""
    return _gid(value, where)


def parse_mode(value: object, where: str = "socket_mode") -> int:
    """A file mode: an int, or an octal string like ``"0660"``."""
    if isinstance(value, str):
        try:
            value = int(value, 8)
        except ValueError:
            raise ConfigError(f'{where}: an octal mode like "0660", not {value!r}') from None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0o777:
        return value
    raise ConfigError(f"{where}: a mode 0..0777, not {value!r}")


_OPTION_TYPES = {
    "max_daisy": int,
    "legacy_zip": bool,
    "timer_start_s": int,
    "enable_connect_interrupt": bool,
}


def _port(table: object, index: int) -> PortConfig:
    where = f"port[{index}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: a table, not {table!r}")
    _keys(table, {"spec", "allow_users", "allow_groups", "device"}, where)
    spec = table.get("spec", DEFAULT_SPEC)
    if not isinstance(spec, str):
        raise ConfigError(f"{where}.spec: a string like 'emu:', not {spec!r}")
    devices: dict[str, AllowList] = {}
    device_tables = table.get("device", {})
    if not isinstance(device_tables, dict):
        raise ConfigError(f"{where}.device: a table of device names, not {device_tables!r}")
    for name, device_table in device_tables.items():
        device_where = f"{where}.device.{name}"
        if not isinstance(device_table, dict):
            raise ConfigError(f"{device_where}: a table, not {device_table!r}")
        _keys(device_table, {"allow_users", "allow_groups"}, device_where)
        devices[name.upper()] = _allow(device_table, device_where)
    return PortConfig(spec, _allow(table, where), devices)


def _options(data: dict[str, Any]) -> PortOptions:
    options: dict[str, Any] = {}
    for key, kind in _OPTION_TYPES.items():
        if key in data:
            value = data[key]
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ConfigError(f"{key}: a {kind.__name__}, not {value!r}")
            options[key] = value
    try:
        return PortOptions(**options)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def from_mapping(data: dict[str, Any]) -> Config:
    """A :class:`Config` from a parsed TOML document."""
    _keys(
        data,
        {
            "port",
            "socket",
            "socket_mode",
            "socket_group",
            "trusted_users",
            "trusted_groups",
            "max_connections",
            "log_level",
            "leases",
            *_OPTION_TYPES,
        },
        "config",
    )
    config = Config()
    config.options = _options(data)
    if "port" in data:
        ports = data["port"]
        if not isinstance(ports, list) or not ports:
            raise ConfigError("port: one or more [[port]] tables")
        config.ports = [_port(table, index) for index, table in enumerate(ports)]
    if "socket" in data:
        if not isinstance(data["socket"], str) or not data["socket"]:
            raise ConfigError(f"socket: a path, not {data['socket']!r}")
        config.socket = data["socket"]
    if "socket_mode" in data:
        config.socket_mode = parse_mode(data["socket_mode"])
    if "socket_group" in data:
        config.socket_group = group_id(data["socket_group"])
    config.trusted_users = frozenset(
        _uid(u, "trusted_users") for u in _list(data, "trusted_users", "config")
    )
    config.trusted_groups = frozenset(
        _gid(g, "trusted_groups") for g in _list(data, "trusted_groups", "config")
    )
    if "max_connections" in data:
        value = data["max_connections"]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65536:
            raise ConfigError(f"max_connections: 1..65536, not {value!r}")
        config.max_connections = value
    if "log_level" in data:
        config.log_level = _level(data["log_level"])
    if "leases" in data:
        if not isinstance(data["leases"], bool):
            raise ConfigError(f"leases: true or false, not {data['leases']!r}")
        config.leases = data["leases"]
    return config


def _level(value: object) -> str:
    names = ("DEBUG", "INFO", "WARNING", "ERROR")
    if isinstance(value, str) and value.upper() in names:
        return value.upper()
    raise ConfigError(f"log_level: one of {', '.join(n.lower() for n in names)}, not {value!r}")


def level(value: object) -> str:
    """A logging level name, checked."""
    return _level(value)


def load(path: str | os.PathLike[str]) -> Config:
    """Read and check a TOML configuration file."""
    try:
        with Path(path).open("rb") as file:
            data = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return from_mapping(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
