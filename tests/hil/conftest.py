"""The ``hil`` marker's two sides (docs/hil.md).

Inside the QEMU guest (``PARPORT_HIL_GUEST=1``, set by the guest's command) the ``hil`` tests run
for real against Linux's ppdev and write one JSON line per test report to the shared directory.

On the host a ``hil`` test never runs its body: at collection it is replaced by a stand-in with
the same node id. The first stand-in to run boots ONE guest for the session (guest.py), which runs
every selected ``hil`` test; each stand-in then reports its test's result from the guest (passed,
failed with the guest's traceback, skipped with its reason), followed by the test's host-side
check if it has one (``host_check``). Where the guest cannot be had (not root, the packages
cannot be installed, the TCG guest does not boot, ``PARPORT_HIL=0``) every stand-in is skipped
with the reason, which ``-ra`` prints.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from typing import Any

import guest
import pytest
from guest import share_dir

IN_GUEST = os.environ.get("PARPORT_HIL_GUEST") == "1"

# ---------------------------------------------------------------------------------------------
# Inside the guest


def _report_line(report: pytest.TestReport) -> dict[str, Any]:
    skip_reason = None
    if report.skipped and isinstance(report.longrepr, tuple):
        skip_reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    return {
        "nodeid": report.nodeid,
        "when": report.when,
        "outcome": report.outcome,
        "longrepr": "" if report.passed else str(report.longreprtext),
        "skip_reason": skip_reason,
        "wasxfail": getattr(report, "wasxfail", None),
        "duration": report.duration,
        "properties": [[k, v] for k, v in report.user_properties],
        "stdout": report.capstdout,
    }


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if not IN_GUEST:
        return
    line = json.dumps(_report_line(report), default=repr)
    with (share_dir() / guest.REPORT_NAME).open("a") as out:
        out.write(line + "\n")
        out.flush()
        os.fsync(out.fileno())


@pytest.fixture
def observe(record_property: Callable[[str, object], None]) -> Callable[[str, object], None]:
    """Record what a guest test observed; the host prints it and passes it to host checks."""

    def record(name: str, value: object) -> None:
        print(f"observed {name} = {value!r}")
        record_property(name, value)

    return record


@pytest.fixture
def in_guest() -> None:
    """Skips a test that needs the guest's /dev/parport0 when it is not inside the guest."""
    if not IN_GUEST:
        pytest.skip("needs the QEMU guest's /dev/parport0 (run through the host's hil stand-ins)")


# ---------------------------------------------------------------------------------------------
# On the host


class GuestSession:
    """ONE guest per pytest session, booted by the first stand-in that runs."""

    def __init__(self, nodeids: list[str]) -> None:
        self.nodeids = nodeids
        self.ran = False
        self.skip_reason: str | None = None
        self.failure: str | None = None
        self.results: dict[str, guest.GuestResult] = {}
        self.run: guest.GuestRun | None = None
        self.capture = b""
        self.wall = 0.0

    def ensure(self) -> None:
        if self.ran:
            return
        self.ran = True
        if os.environ.get("PARPORT_HIL", "1") == "0":
            self.skip_reason = "HIL disabled by PARPORT_HIL=0"
            return
        start = time.monotonic()
        run_timeout = float(os.environ.get("PARPORT_HIL_TIMEOUT", guest.RUN_TIMEOUT))
        try:
            self.run = guest.boot_and_run(
                guest.pytest_script(self.nodeids), run_timeout=run_timeout
            )
        except guest.HilUnavailableError as exc:
            self.skip_reason = f"HIL guest unavailable: {exc}"
            _keep_console(exc.console)
            return
        except guest.GuestFailedError as exc:
            self.failure = str(exc)
            _keep_console(exc.console)
            return
        finally:
            self.wall = time.monotonic() - start
        self._collect(self.run)

    def _collect(self, run: guest.GuestRun) -> None:
        _keep_console(run.console)
        if run.capture.is_file():
            self.capture = run.capture.read_bytes()
        self.results = guest.read_report(run.report)
        if run.exit_code not in (0, 1):  # pytest: 0 all passed, 1 some failed
            tail = run.tail()
            self.failure = f"the guest's pytest exited {run.exit_code}; console tail:\n{tail}"

    def result(self, nodeid: str) -> guest.GuestResult:
        self.ensure()
        if self.skip_reason is not None:
            pytest.skip(self.skip_reason)
        if nodeid in self.results:
            return self.results[nodeid]
        if self.failure is not None:
            pytest.fail(self.failure, pytrace=False)
        tail = self.run.tail() if self.run else ""
        pytest.fail(f"the guest reported no result for {nodeid}; console tail:\n{tail}", False)

    def close(self) -> None:
        if self.run is not None:
            shutil.rmtree(self.run.share, ignore_errors=True)


CACHE_LOG = guest.CACHE_DIR / "last-console.log"


def _keep_console(console: str) -> None:
    if console:
        CACHE_LOG.parent.mkdir(parents=True, exist_ok=True)
        CACHE_LOG.write_text(console)


_SESSION = pytest.StashKey[GuestSession]()


class GuestItem(pytest.Item):
    """The host's stand-in for a ``hil`` test: the test's result as the guest reported it."""

    def __init__(self, *, original: pytest.Function, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.original = original
        self.own_markers.extend(original.own_markers)
        self.keywords.update(original.keywords)

    def runtest(self) -> None:
        result = self.config.stash[_SESSION].result(self.nodeid)
        self.user_properties.extend(result.properties.items())
        if result.outcome == "failed":
            pytest.fail(result.message, pytrace=False)
        if result.outcome == "skipped":
            if result.wasxfail is not None:
                pytest.xfail(result.wasxfail)
            pytest.skip(f"[guest] {result.message}")
        check = getattr(self.original.function, "_hil_host_check", None)
        if check is not None:
            check(result.properties, self.config.stash[_SESSION].capture)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        path, lineno, _ = self.original.reportinfo()
        return path, lineno, f"{self.name} [in the QEMU guest]"


def _leaves_ppdev_stuck(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("hil")
    return marker is not None and bool(marker.kwargs.get("leaves_ppdev_stuck"))


def _stand_in_timeout() -> float:
    """pytest-timeout's limit for a stand-in: the first one boots the guest and waits for it."""
    limit = guest.BOOT_TIMEOUT + float(os.environ.get("PARPORT_HIL_TIMEOUT", guest.RUN_TIMEOUT))
    if os.geteuid() == 0 and guest.missing_packages():
        limit += guest.APT_TIMEOUT
    return limit + 60.0


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if IN_GUEST:
        # A test that leaves ppdev's global mutex held (the contention deadlock) runs last.
        last = [i for i in items if _leaves_ppdev_stuck(i)]
        items[:] = [i for i in items if i not in last] + last
        return
    hil = [i for i in items if isinstance(i, pytest.Function) and i.get_closest_marker("hil")]
    if not hil:
        return
    session = GuestSession([i.nodeid for i in hil])
    config.stash[_SESSION] = session
    config.add_cleanup(session.close)
    timeout = pytest.mark.timeout(_stand_in_timeout())
    for index, item in enumerate(items):
        if item in hil:
            assert isinstance(item, pytest.Function) and item.parent is not None
            stand_in = GuestItem.from_parent(item.parent, name=item.name, original=item)
            stand_in.add_marker(timeout)
            items[index] = stand_in


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    session = config.stash.get(_SESSION, None)
    if session is None or not session.ran:
        return
    write = terminalreporter.write_line
    terminalreporter.section("HIL guest (QEMU, TCG)")
    if session.skip_reason is not None:
        write(f"skipped: {session.skip_reason.splitlines()[0]}")
        return
    run = session.run
    if run is not None:
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in run.timings.items())
        write(f"kernel {run.kernel}; {stages}; wall {session.wall:.1f} s")
        write(f"port capture: {len(session.capture)} bytes; console log: {CACHE_LOG}")
    for nodeid, result in session.results.items():
        if result.properties:
            write(f"{nodeid.rsplit('::', 1)[-1]} ({result.outcome}, {result.duration:.2f} s):")
            for key, value in result.properties.items():
                write(f"    {key} = {value}")
