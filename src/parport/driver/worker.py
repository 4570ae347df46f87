"""The per-device work queue and its worker thread (windows-parport.md §11.4).

Requests that need the port wait here in FIFO order and can be cancelled while they wait. The
worker takes them one at a time (the device decides, for each, how the port is had and given
back). The thread is started when the device is opened and stopped when its handle is cleaned
up.

Its life has three states — running, stopping, stopped — changed under one lock, so that any
interleaving of closes, removals and jobs from any threads ends in bounded time:
:meth:`shutdown` cancels what waits and runs a final job once the request in progress is over;
:meth:`call` runs a job between requests, or in the caller's thread once the worker is gone.
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
Job = Callable[[], None]

_RUNNING, _STOPPING, _STOPPED = "running", "stopping", "stopped"


class WorkQueue:
    """A FIFO of requests served by one thread (see the module docstring)."""

    def __init__(
        self, name: str, run: Work, on_cancel: Callable[[nt.Irp], None] | None = None
    ) -> None:
        self.name = name
        self._run = run
        self._on_cancel = on_cancel  # told of a waiting request's cancel, after it completed
        self._queue: deque[nt.Irp] = deque()
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._state = _STOPPED
        self._stopped = threading.Event()
        self._stopped.set()
        self.current: nt.Irp | None = None
        self._busy = False
        self._inline = 0  # the thread running the worker's turn inline (begin_inline, take)
        self._jobs: deque[Job] = deque()
        # A shutdown has cancelled what waited and handed the worker its final job: only then
        # may a stopping worker end (before, its queue can look empty while the shutdown is
        # still cancelling, and a final job posted after it ended would never run).
        self._final_posted = False

    # --- lifetime -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the thread (a device being opened); a stopping worker is waited for first.
        Starting a running worker does nothing."""
        while True:
            with self._cond:
                if self._state == _RUNNING:
                    return
                if self._state == _STOPPED:
                    self._state = _RUNNING
                    self._final_posted = False
                    self._stopped.clear()
                    self._thread = threading.Thread(
                        target=self._loop, name=f"parport {self.name}", daemon=True
                    )
                    self._thread.start()
                    return
            if self.on_worker:
                return  # its own shutdown is under way: it cannot wait for itself
            self._stopped.wait()

    def shutdown(self, final: Job) -> None:
        """Cancel every waiting request (last to first), flag the one in progress, then run
        ``final`` once it is over and end the thread; returns when all that is done (at once
        when called from the worker itself, which then finishes it after the current request).
        A second shutdown waits for the first; on a stopped worker ``final`` runs here."""
        with self._cond:
            state = self._state
            if state == _RUNNING:
                self._state = _STOPPING
                waiting = list(self._queue)
                current = self.current
        if state == _STOPPED:
            final()
            return
        if state == _STOPPING:
            self._wait_stopped()
            return
        for irp in reversed(waiting):
            irp.cancel()
        if current is not None:
            current.cancel()
        with self._cond:
            self._jobs.append(final)
            self._final_posted = True
            self._cond.notify_all()
        self._wait_stopped()

    def _wait_stopped(self) -> None:
        if not self.turn_here:
            self._stopped.wait()

    @property
    def running(self) -> bool:
        return self._state == _RUNNING

    @property
    def stopped(self) -> bool:
        """Stopped, and any shutdown over (a device nobody has open, once its cleanup is done)."""
        return self._state == _STOPPED

    @property
    def on_worker(self) -> bool:
        """Whether the calling thread is this queue's worker."""
        return threading.current_thread() is self._thread

    @property
    def turn_here(self) -> bool:
        """Whether the calling thread has the worker's turn: it is the worker, or it runs a
        request inline. A shutdown from it (a completion callback of that request closing the
        device) does not wait for the final job, which runs once the turn ends."""
        return threading.current_thread() is self._thread or (
            self._busy and self._inline == threading.get_ident()
        )

    # --- requests -------------------------------------------------------------------------------
    def queue(self, irp: nt.Irp, wake: bool = True) -> bool:
        """Queue ``irp`` (pending, cancellable while it waits). True when it is next in line:
        nothing else waits or runs on this device. A request for a stopped worker (the device is
        being closed) completes STATUS_CANCELLED. ``wake=False`` leaves an idle worker asleep
        (the caller wakes it with :meth:`kick` when there is something for it to do)."""
        with self._cond:
            if self._state != _RUNNING or not irp.arm_cancel(self._cancel_routine):
                head = None
            else:
                head = not self._queue and not self._busy and not self._jobs
                self._queue.append(irp)
                if wake or not head:
                    self._cond.notify()
        if head is None:
            irp.complete(nt.STATUS_CANCELLED)
            return False
        return head

    def kick(self) -> None:
        """Wake the worker if a request waits for it."""
        with self._cond:
            if self._queue:
                self._cond.notify()

    def _cancel_routine(self, irp: nt.Irp) -> None:
        with self._cond, contextlib.suppress(ValueError):
            self._queue.remove(irp)
        irp.complete(nt.STATUS_CANCELLED)
        if self._on_cancel is not None:
            self._on_cancel(irp)

    def head(self) -> nt.Irp | None:
        """The request next in line, if any."""
        with self._cond:
            return self._queue[0] if self._queue else None

    def call(self, job: Job, wait: bool = True) -> None:
        """Run ``job`` on the worker thread between requests (and wait for it, unless called
        from the worker). Once the worker is stopping it is waited for and the job runs here."""
        done = threading.Event()

        def run() -> None:
            try:
                job()
            finally:
                done.set()

        with self._cond:
            state = self._state
            if state == _RUNNING:
                self._jobs.append(run)
                self._cond.notify()
        if state != _RUNNING:
            if not wait and self.on_worker:
                return  # the stopping worker's final job covers it
            self._wait_stopped()
            run()
            return
        if wait and not self.on_worker:
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
            if self._state != _RUNNING or self._queue or self._busy or self._jobs:
                return False
            self._busy = True
            self._inline = threading.get_ident()
            return True

    def take(self, irp: nt.Irp) -> bool:
        """Take ``irp`` off the head of the queue to run it in the caller's thread, if the
        worker has not picked it up yet and nothing else runs (pair with :meth:`end_inline`)."""
        with self._lock:
            if (
                self._state != _RUNNING
                or self._busy
                or self._jobs
                or not self._queue
                or self._queue[0] is not irp
            ):
                return False
            self._queue.popleft()
            self._busy = True
            self._inline = threading.get_ident()
            return True

    def end_inline(self) -> None:
        with self._lock:
            self._busy = False
            self._inline = 0
            if self._queue or self._jobs or self._state != _RUNNING:
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
        try:
            while True:
                with self._cond:
                    while self._busy or (
                        not self._queue
                        and not self._jobs
                        and (self._state == _RUNNING or not self._final_posted)
                    ):
                        self._cond.wait()
                    if self._jobs:
                        job: Job | None = self._jobs.popleft()
                        irp = None
                    elif self._queue:
                        irp = self._queue.popleft()
                        job = None
                    else:
                        return  # stopping, the final job run, nothing left
                    self._busy = True
                try:
                    if job is not None:
                        job()
                    elif irp is not None and irp.disarm_cancel():
                        if self._state != _RUNNING:
                            irp.complete(nt.STATUS_CANCELLED)  # the device is being closed
                            continue
                        self.current = irp
                        try:
                            self._run(irp)
                        except Exception:
                            log.exception("%s: request %r raised", self.name, irp)
                            if not irp.done:
                                irp.complete(nt.STATUS_UNSUCCESSFUL)
                        finally:
                            self.current = None
                except Exception:
                    log.exception("%s: a job raised", self.name)
                finally:
                    with self._cond:
                        self._busy = False
        finally:
            with self._cond:
                if self._state == _RUNNING:
                    self._state = _STOPPING  # (the loop raised) nothing new is taken
                leftover = list(self._queue)
                self._queue.clear()
                jobs = list(self._jobs)
                self._jobs.clear()
            for job in jobs:
                job()
            for irp in leftover:
                if irp.disarm_cancel():
                    irp.complete(nt.STATUS_CANCELLED)
            # Stopped, and told so, in one step: a start() that sees the state stopped finds
            # this thread's event set already, and a new thread's is never set by this one.
            with self._cond:
                self._state = _STOPPED
                self._thread = None
                self._stopped.set()
