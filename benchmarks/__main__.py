"""Run the benchmarks named on the command line (default: all) and print their tables."""

from __future__ import annotations

import importlib
import sys

from .common import machine

ALL = (
    "bench_emulator",
    "bench_modes",
    "bench_arbiter",
    "bench_lock",
    "bench_import",
    "bench_pins",
    "bench_daemon",
)


def run(names: list[str]) -> None:
    print(f"Machine: {machine()}\n")
    for name in names or list(ALL):
        module = importlib.import_module(f"benchmarks.{name}")
        print(f"## {name}\n")
        print(module.main())
        print()


if __name__ == "__main__":
    run(sys.argv[1:])
