"""Drop-ins for code written for pyparallel and PsychoPy (docs/compat.md).

* :class:`Parallel` — pyparallel's class (``parallel.Parallel``), same methods and polarities,
  sharing the port through parport's arbiter instead of claiming it for the life of the process.
* :class:`ParallelPort` — PsychoPy's class (``psychopy.parallel.ParallelPort``), same methods and
  pin numbering.
* ``python -m parport.compat [--port SPEC] script.py [ARGS…]`` (or ``-m module``) runs an
  unmodified program whose ``import parallel`` gets parport's module (PsychoPy's Linux class
  imports it too). Nothing named ``parallel`` is installed, so a real pyparallel is never
  shadowed by surprise: only a program started this way, or one that calls :func:`install`,
  sees parport's.

Which port a legacy argument (``Parallel(0)``, ``ParallelPort(0x378)``) opens: ``$PARPORT_PORT``
when set, else the device it names; a parport spec (``"emu:"``, ``"parportd:"``) is used as is.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .psychopy import ParallelPort
    from .pyparallel import Parallel

__all__ = ["MODULES", "Parallel", "ParallelPort", "install", "installed", "uninstall"]

# The module names a pyparallel program imports, all given parport's pyparallel module.
MODULES = ("parallel", "parallel.parallelppdev")


def __getattr__(name: str) -> Any:
    if name == "Parallel":
        from .pyparallel import Parallel  # noqa: PLC0415 - loaded when first used

        return Parallel
    if name == "ParallelPort":
        from .psychopy import ParallelPort  # noqa: PLC0415

        return ParallelPort
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def installed() -> bool:
    """Whether ``import parallel`` gives parport's module in this process."""
    from . import pyparallel  # noqa: PLC0415

    return sys.modules.get("parallel") is pyparallel


def install(*, replace: bool = False) -> None:
    """Make ``import parallel`` (and ``parallel.parallelppdev``) give parport's pyparallel module
    in this process. A ``parallel`` module imported already (a real pyparallel) is kept and this
    raises RuntimeError, unless ``replace=True``."""
    from . import pyparallel  # noqa: PLC0415

    current = sys.modules.get("parallel")
    if current is not None and current is not pyparallel and not replace:
        where = getattr(current, "__file__", None) or repr(current)
        raise RuntimeError(
            f"a module 'parallel' is imported already ({where}); call install(replace=True) to "
            "replace it in this process"
        )
    for name in MODULES:
        sys.modules[name] = pyparallel


def uninstall() -> None:
    """Undo :func:`install`: ``import parallel`` finds whatever is installed again."""
    from . import pyparallel  # noqa: PLC0415

    for name in MODULES:
        if sys.modules.get(name) is pyparallel:
            del sys.modules[name]
