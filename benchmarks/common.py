"""Shared helpers: best-of-N timing, the machine description, and markdown tables."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence


def best_of(repeats: int, run: Callable[[], None]) -> float:
    """The shortest wall time of ``repeats`` runs of ``run``, in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def machine() -> str:
    """CPU model, core count and Python version."""
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as file:
            for line in file:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{model}, {os.cpu_count()} cores, {platform.python_implementation()} "
        f"{platform.python_version()} on {platform.system()} {platform.release()}"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


class _Floor:
    def __init__(self) -> None:
        self.value = 0

    def call(self, value: int) -> None:
        self.value = value


def method_call_floor_ns(calls: int = 200_000, repeats: int = 5) -> float:
    """Nanoseconds for one trivial Python method call on this machine, in this run."""
    floor = _Floor()
    method = floor.call

    def run() -> None:
        for _ in range(calls // 4):
            method(1)
            method(2)
            method(3)
            method(4)

    return best_of(repeats, run) / calls * 1e9
