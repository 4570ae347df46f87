"""``import parport`` in a fresh interpreter with no bytecode cache (as these machines run: every
module is compiled at import), beside the bare interpreter's start in the same run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from .common import table

RUNS = 15


def _start(code: str, cache: str) -> float:
    """Best wall seconds of a fresh ``python -c code`` that neither reads nor writes .pyc."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-B", "-X", f"pycache_prefix={cache}", "-c", code],
            check=True,
            env=env,
        )
        best = min(best, time.perf_counter() - start)
    return best


def main() -> str:
    with tempfile.TemporaryDirectory() as cache:
        bare = _start("pass", cache)
        imported = _start("import parport", cache)
        facade = _start("import parport; parport.open", cache)
    extra = (imported - bare) * 1e3
    return table(
        (
            "bare interpreter",
            "import parport",
            "import parport − bare (target ≤ 40 ms)",
            "…and parport.open loaded",
        ),
        [
            (
                f"{bare * 1e3:.0f} ms",
                f"{imported * 1e3:.0f} ms",
                f"{extra:.0f} ms",
                f"{(facade - bare) * 1e3:.0f} ms",
            )
        ],
    )


if __name__ == "__main__":
    print(main())
