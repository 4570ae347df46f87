"""The README's code runs exactly as written: every ``python`` block (each printed line as its
comment says), and every command of the ``parport`` command's block."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
TEXT = README.read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.S)
COMMAND_BLOCK = TEXT.split("## The `parport` command", 1)[1].split("```sh\n", 1)[1].split("```")[0]


def _expected(block: str) -> list[str]:
    """The comment of every ``print(...)`` line, in order."""
    return [
        line.split("#", 1)[1].strip()
        for line in block.splitlines()
        if line.strip().startswith("print(") and "#" in line
    ]


def test_python_blocks_run_in_order_and_print_what_they_say(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blocks run one after the other in one namespace, as a reader's session would (a later
    block may use a name an earlier one imported)."""
    monkeypatch.delenv("PARPORT_PORT", raising=False)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for index, block in enumerate(PYTHON_BLOCKS):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block, f"{README} python block {index}", "exec"), namespace)
        printed = out.getvalue().splitlines()
        expected = _expected(block)
        assert len(printed) == len(expected), (index, printed)
        for line, comment in zip(printed, expected, strict=True):
            if "..." in comment:
                assert line.startswith(comment.split("...")[0]), (index, line, comment)
            else:
                assert line in comment, (index, line, comment)


def test_there_are_python_blocks_and_the_trigger_port_comes_first() -> None:
    assert len(PYTHON_BLOCKS) >= 3
    assert "bus.pins" in PYTHON_BLOCKS[0] and "pulse" in PYTHON_BLOCKS[0]
    assert TEXT.index("make demo") < TEXT.index("## Using it")


COMMANDS = [
    line
    for line in COMMAND_BLOCK.splitlines()
    if line.strip() and not line.startswith("#") and shlex.split(line, comments=True)
]


@pytest.mark.parametrize(
    "line", COMMANDS, ids=[" ".join(shlex.split(c, True)[1:3]) for c in COMMANDS]
)
def test_command_block_runs(line: str, tmp_path: Path) -> None:
    (tmp_path / "page.txt").write_text("a page of text\f")
    (tmp_path / "experiment.py").write_text(
        "import parallel\np = parallel.Parallel()\np.setData(0x01)\np.setData(0x00)\n"
    )
    words = shlex.split(line, comments=True)
    assert words[0] == "parport"
    bindir = os.path.dirname(sys.executable)
    env = {k: v for k, v in os.environ.items() if k != "PARPORT_PORT"}
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    done = subprocess.run(
        [sys.executable, "-m", "parport", *words[1:]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
