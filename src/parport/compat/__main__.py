"""``python -m parport.compat``: run an unmodified pyparallel or PsychoPy program on parport.

    python -m parport.compat [--port SPEC] script.py [ARGS…]
    python -m parport.compat [--port SPEC] -m module [ARGS…]

The program runs in this process as ``__main__`` with ``sys.argv`` = ``[script.py, ARGS…]``;
its ``import parallel`` gets :mod:`parport.compat.pyparallel`. ``--port SPEC`` sets
``$PARPORT_PORT`` (for the program and anything it starts), which the drop-ins open in place of
the legacy port the program names: ``--port emu:`` runs it on the emulator, ``--port
'spy:emu:?vcd=run.vcd'`` records what it does, ``--port parportd:`` shares the port through the
daemon. The exit status is the program's.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import runpy
import sys
from collections.abc import Sequence

from . import install


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m parport.compat",
        description=(
            "Run a program written for pyparallel (import parallel) or PsychoPy on parport: "
            "the port is shared through parport's arbiter, never claimed for the whole run."
        ),
    )
    parser.add_argument(
        "--port",
        metavar="SPEC",
        help="the port the program's Parallel()/ParallelPort() opens (sets $PARPORT_PORT), "
        "e.g. emu:, 'spy:emu:?vcd=run.vcd', parportd:",
    )
    parser.add_argument("-m", dest="module", metavar="MODULE", help="run a module, as python -m")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="script.py [ARGS]")
    return parser


def _real_pyparallel() -> str | None:
    """Where an installed pyparallel lives, if one is importable (it is not imported)."""
    try:
        spec = importlib.util.find_spec("parallel")
    except (ImportError, ValueError):
        return None
    return spec.origin if spec is not None and spec.origin else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    if options.module is None and not options.args:
        parser.error("give a script to run (script.py [ARGS]) or -m MODULE")
    if options.port is not None:
        from ..hw.spec import parse_spec  # noqa: PLC0415
        from ..nt.errors import SpecError  # noqa: PLC0415

        try:
            parse_spec(options.port)
        except SpecError as exc:
            parser.error(f"--port: {exc}")
        os.environ["PARPORT_PORT"] = options.port
    real = _real_pyparallel()
    if real is not None:
        print(
            f"parport.compat: this run uses parport's Parallel in place of pyparallel ({real})",
            file=sys.stderr,
        )
    install(replace=True)
    if options.module is not None:
        sys.argv = [options.module, *options.args]
        runpy.run_module(options.module, run_name="__main__", alter_sys=True)
    else:
        script, *rest = options.args
        if not os.path.exists(script):
            parser.error(f"no such script: {script}")
        sys.argv = [script, *rest]
        sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
        runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
