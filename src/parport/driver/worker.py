"""The per-device work queue and its worker thread (windows-parport.md §11.4).

Requests that need the port wait here in FIFO order and can be cancelled while they wait. The
worker takes them one at a time: it makes sure the device holds the port (allocating it, and
selecting a daisy-chain device, unless a lock or an IEEE 1284 session already holds it), runs the
request, and gives the port back afterwards unless a lock or a session keeps it. The thread is
started when the device is opened and stopped when its handle is cleaned up.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from collections.abc import Callable

from .. import nt

__all__ = ["WorkQueue"]

log = logging.getLogger(__name__)

Work = Callable[[nt.Irp], None]


class WorkQueue:
    """A FIFO of requests served by one thread (see the module docstring)."""

    def __init__(self, name: str, run: Work) -> None:
        self.name = name
        self._run = run
        self._queue: deque[nt.Irp] = deque()
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)  # `with self._lock` where nobody waits
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.current: nt.Irp | None = None
        self._busy = False
        self._jobs: deque[Callable[[], None]] = deque()

    # --- lifetime -------------------------------------------------------------------------------
    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(
                target=self._loop, name=f"parport {self.name}", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Finish the request being worked on, then end the thread (the queue must be empty)."""
        with self._cond:
            thread = self._thread
            self._stopping = True
            self._cond.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        with self._cond:
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    # --- requests -------------------------------------------------------------------------------
    def queue(self, irp: nt.Irp) -> None:
        """Queue ``irp`` (pending, cancellable while it waits)."""
        with self._cond:
            if not irp.arm_cancel(self._cancel_routine):
                cancelled = True
            else:
                cancelled = False
                self._queue.append(irp)
                self._cond.notify()
        if cancelled:
            irp.complete(nt.STATUS_CANCELLED)

    def _cancel_routine(self, irp: nt.Irp) -> None:
        with self._cond, contextlib.suppress(ValueError):
            self._queue.remove(irp)
        irp.complete(nt.STATUS_CANCELLED)

    def call(self, job: Callable[[], None], wait: bool = True) -> None:
        """Run ``job`` on the worker thread between requests (and wait for it)."""
        done = threading.Event()

        def run() -> None:
            try:
                job()
            finally:
                done.set()

        with self._cond:
            if self._thread is None:
                thread_alive = False
            else:
                thread_alive = True
                self._jobs.append(run)
                self._cond.notify()
        if not thread_alive:
            run()
            return
        if wait and threading.current_thread() is not self._thread:
            done.wait()

    def cancel_all(self) -> int:
        """Cancel every waiting request, last to first, and flag the one being worked on."""
        with self._cond:
            waiting = list(self._queue)
            current = self.current
        for irp in reversed(waiting):
            irp.cancel()
        if current is not None:
            current.cancel()
        return len(waiting)

    def begin_inline(self) -> bool:
        """Claim the worker's turn for a request run in the caller's thread: only when nothing
        waits and nothing runs, so FIFO order is kept. Pair with :meth:`end_inline`."""
        with self._lock:
            if self._thread is None or self._queue or self._busy or self._jobs:
                return False
            self._busy = True
            return True

    def end_inline(self) -> None:
        with self._lock:
            self._busy = False
            if self._queue or self._jobs or self._stopping:
                self._cond.notify_all()

    @property
    def idle(self) -> bool:
        with self._cond:
            return not self._queue and not self._busy and not self._jobs

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)

    # --- the thread -----------------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._jobs and not self._stopping:
                    self._cond.wait()
                if self._jobs:
                    job = self._jobs.popleft()
                    irp = None
                elif self._queue:
                    irp = self._queue.popleft()
                    job = None
                else:
                    return  # stopping with nothing left
                self._busy = True
            try:
                if job is not None:
                    job()
                elif irp is not None and irp.disarm_cancel():
                    self.current = irp
                    try:
                        self._run(irp)
                    except Exception:
                        log.exception("%s: request %r raised", self.name, irp)
                        if not irp.done:
                            irp.complete(nt.STATUS_UNSUCCESSFUL)
                    finally:
                        self.current = None
            finally:
                with self._cond:
                    self._busy = False
