"""Threads for the daemon's work that runs apart from its loop (server.py): a connection's
handshake, a message that may wait, a connection's cleanup.

A thread that has finished its job waits a while for the next one, so handing over a job
usually wakes a thread instead of starting one: starting a thread waits until the new thread
runs, which on a loaded machine takes milliseconds, and the loop would wait with it. There is
no bound on the number of threads: every job may wait (that is why it runs apart), and a bound
would make one connection's wait another's.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable

__all__ = ["Helpers"]

log = logging.getLogger(__name__)

Job = Callable[[], None]
IDLE_S = 30.0  # how long a thread waits for another job before it ends


class _Helper:
    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()


class Helpers:
    """Run jobs on threads of their own, reusing the threads that are idle."""

    def __init__(self, name: str, idle_s: float = IDLE_S) -> None:
        self._name = name
        self._idle_s = idle_s
        self._lock = threading.Lock()
        self._idle: list[_Helper] = []  # the last one to finish is taken first (its cache is warm)
        self._closed = False

    def run(self, job: Job) -> None:
        """Run ``job`` on an idle thread, or on a new one when none is idle."""
        with self._lock:
            helper = self._idle.pop() if self._idle else None
        if helper is not None:
            helper.jobs.put(job)
            return
        helper = _Helper()
        helper.jobs.put(job)  # not an argument: the thread would keep it (and all it holds)
        threading.Thread(target=self._serve, args=(helper,), name=self._name, daemon=True).start()

    @property
    def idle(self) -> int:
        """How many threads wait for a job."""
        with self._lock:
            return len(self._idle)

    def close(self) -> None:
        """Idle threads end now, busy ones once their job is over; :meth:`run` still works (on
        a thread that ends after its job)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for helper in idle:
            helper.jobs.put(None)

    def _serve(self, me: _Helper) -> None:
        job = me.jobs.get()
        while job is not None:
            try:
                job()
            except Exception:
                log.exception("a %s job failed", self._name)
            job = None
            with self._lock:
                if self._closed:
                    return
                self._idle.append(me)
            try:
                job = me.jobs.get(timeout=self._idle_s)
            except queue.Empty:
                with self._lock:
                    if me in self._idle:
                        self._idle.remove(me)
                        return
                job = me.jobs.get()  # taken just now: its job is on its way
