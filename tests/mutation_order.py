"""A pytest plugin for mutation runs only (docs/mutation.md; ``-p tests.mutation_order`` in
``[tool.mutmut] pytest_add_cli_args``): each mutant's tests run fastest first, by the durations
mutmut measured in its stats run, so that ``-x`` stops at the cheapest test that kills it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    stats = Path("mutmut-stats.json")  # mutmut runs the tests in its mutants/ directory
    if not stats.exists():
        return
    durations: dict[str, float] = json.loads(stats.read_text()).get("duration_by_test", {})
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))
