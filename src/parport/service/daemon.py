"""The ``parportd`` command (also ``parport serve``): parse the arguments, run the daemon until
SIGTERM or SIGINT, then end it cleanly (docs/daemon.md)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from .._version import __version__
from ..nt import ParportError
from .config import Config, ConfigError, PortConfig, default_socket_path, group_id, level, load
from .config import parse_mode as _parse_mode
from .server import Daemon, DaemonError

__all__ = ["build_parser", "main", "serve_main"]

log = logging.getLogger(__name__)

SWITCH_INTERVAL_S = 0.0005


def build_parser(prog: str = "parportd") -> argparse.ArgumentParser:
    """The daemon's command line (shared by ``parportd`` and ``parport serve``)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Serve parallel ports to many processes over a Unix socket.",
    )
    parser.add_argument(
        "specs",
        nargs="*",
        metavar="SPEC",
        help="port specs (LPT1, LPT2, … in this order); default: the config's, else emu:",
    )
    parser.add_argument("--config", help="a TOML configuration file (docs/daemon.md)")
    parser.add_argument(
        "--socket", help=f"the socket to listen on (default here: {default_socket_path()})"
    )
    parser.add_argument("--socket-mode", help="the socket file's mode, octal (default 0600/0660)")
    parser.add_argument("--socket-group", help="the socket file's group (e.g. lp)")
    parser.add_argument(
        "--trusted-group",
        action="append",
        default=[],
        metavar="GROUP",
        help="members may send kernel-level requests (repeatable)",
    )
    parser.add_argument("--log-level", help="debug, info (default), warning or error")
    parser.add_argument("--version", action="version", version=f"parportd {__version__}")
    return parser


def _config(args: argparse.Namespace) -> Config:
    config = load(args.config) if args.config else Config()
    if args.specs:
        config.ports = [PortConfig(spec) for spec in args.specs]
    if args.socket:
        config.socket = args.socket
    if args.socket_mode is not None:
        config.socket_mode = _parse_mode(args.socket_mode, "--socket-mode")
    if args.socket_group is not None:
        config.socket_group = group_id(args.socket_group, "--socket-group")
    if args.trusted_group:
        config.trusted_groups |= {group_id(g, "--trusted-group") for g in args.trusted_group}
    if args.log_level:
        config.log_level = level(args.log_level)
    return config


def serve_main(argv: Sequence[str], prog: str = "parportd") -> int:
    """Run the daemon with these arguments; the exit status (0 after a clean SIGTERM)."""
    parser = build_parser(prog)
    args = parser.parse_args(list(argv))
    try:
        config = _config(args)
    except ConfigError as exc:
        parser.exit(2, f"{prog}: {exc}\n")
    logging.basicConfig(
        level=config.log_level,
        format="%(asctime)s parportd[%(process)d] %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Threads hand the GIL over sooner: a request's thread waits less behind another (the
    # default 5 ms is a throughput setting; this process is about latency).
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    daemon = Daemon(config)
    try:
        daemon.start()
    except (DaemonError, ParportError, OSError, ValueError) as exc:
        log.error("cannot start: %s", exc)
        return 1
    previous: dict[signal.Signals, Any] = {}

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("%s received; shutting down", signal.Signals(signum).name)
        daemon.request_stop()

    in_main = threading.current_thread() is threading.main_thread()
    woken_by = -1
    if in_main:
        for each in (signal.SIGTERM, signal.SIGINT):
            previous[each] = signal.signal(each, stop)
        # The kernel may hand the signal to any thread; Python runs the handler in this one,
        # which the wake-up descriptor gets out of the loop's wait to do so.
        woken_by = signal.set_wakeup_fd(daemon.wake_fd, warn_on_full_buffer=False)
    try:
        daemon.serve_forever()
    finally:
        if in_main:
            signal.set_wakeup_fd(woken_by)
        daemon.close()
        for each, handler in previous.items():
            signal.signal(each, handler)
    return 0


def main() -> None:
    """The ``parportd`` console script."""
    sys.exit(serve_main(sys.argv[1:]))
