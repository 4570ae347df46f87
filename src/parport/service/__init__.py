"""Layer 5: ``parportd``, the daemon that lets many processes share the ports safely, its wire
protocol and its client (``design.md`` §7; docs/daemon.md, docs/protocol.md).

The daemon owns the ports and serves clients on a Unix socket; every handle operation of
``design.md`` §5 is a message; a connection owns its handles, so a client that crashes or is
killed releases what it held. ``parport.connect()`` gives the facade's ``Bus`` over
:class:`~parport.service.client.DaemonBus`. Importing this package starts nothing.
"""

from .client import (
    DaemonAccessError,
    DaemonBus,
    DaemonUnavailableError,
    open_client,
    resolve_address,
)
from .config import Config, ConfigError, PortConfig, default_socket_path
from .daemon import main, serve_main
from .server import Daemon, DaemonError

__all__ = [
    "Config",
    "ConfigError",
    "Daemon",
    "DaemonAccessError",
    "DaemonBus",
    "DaemonError",
    "DaemonUnavailableError",
    "PortConfig",
    "default_socket_path",
    "main",
    "open_client",
    "resolve_address",
    "serve_main",
]
