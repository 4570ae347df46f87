"""The arbiter under random traffic (a hypothesis state machine) and under 16 threads."""

from __future__ import annotations

import threading

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from driver_helpers import ALLOCATE, DESELECT, FREE, PORT, SELECT, command, emu
from driver_helpers import bus as open_test_bus
from parport import nt
from parport.driver import FileObject, Handle


class ArbiterMachine(RuleBasedStateMachine):
    """Random allocate, try-allocate, free, select, deselect, cancel and close on many handles.

    The model: the owner, and the queue of (handle, request) in arrival order.
    """

    handles = Bundle("handles")

    def __init__(self) -> None:
        super().__init__()
        self.bus = open_test_bus("emu:chain=daisy+daisy")
        self.fdo = self.bus.fdo
        self.owner: FileObject | None = None
        self.queue: list[tuple[Handle, nt.Irp, int | None]] = []  # (handle, request, daisy id)
        self.requests: list[nt.Irp] = []
        self.completions: dict[int, int] = {}
        self.selected: int | None = None  # what the model expects selected on the wire
        self.handles: list[Handle] = []

    def _track(self, irp: nt.Irp) -> nt.Irp:
        self.requests.append(irp)
        irp.add_done_callback(
            lambda done: self.completions.__setitem__(
                id(done), self.completions.get(id(done), 0) + 1
            )
        )
        return irp

    def _grant_next(self) -> None:
        """The model's free: the oldest waiter becomes the owner (and selects if it asked)."""
        self.owner = None
        while self.queue:
            handle, irp, daisy = self.queue.pop(0)
            self.owner = handle.file
            if daisy is not None:
                self.selected = daisy
            assert irp.done and irp.status == nt.STATUS_SUCCESS
            return

    @rule(target=handles)
    def open_handle(self) -> Handle:
        handle = self.bus.create_file(PORT)
        self.handles.append(handle)
        return handle

    @rule(h=handles)
    def allocate(self, h: Handle) -> None:
        if h.closed:
            return
        irp = self._track(h.submit_internal_device_control(ALLOCATE))
        if self.owner is None and not self.queue:
            self.owner = h.file
            assert irp.status == nt.STATUS_SUCCESS
        else:
            assert not irp.done
            self.queue.append((h, irp, None))

    @rule(h=handles, daisy=st.integers(0, 1))
    def select(self, h: Handle, daisy: int) -> None:
        if h.closed or (self.owner is h.file):
            return
        irp = self._track(h.submit_internal_device_control(SELECT, command(daisy)))
        if self.owner is None and not self.queue:
            self.owner = h.file
            self.selected = daisy
            assert irp.status == nt.STATUS_SUCCESS
        else:
            assert not irp.done
            self.queue.append((h, irp, daisy))

    @rule(h=handles)
    def try_allocate(self, h: Handle) -> None:
        if h.closed:
            return
        got = self.fdo.arbiter.try_allocate(h.file)
        assert got == (self.owner is None and not self.queue)
        if got:
            self.owner = h.file

    @rule(h=handles)
    def free(self, h: Handle) -> None:
        if h.closed:
            return
        result = h.internal_device_control(FREE)
        if self.owner is h.file:
            assert result.status == nt.STATUS_SUCCESS
            self.selected = None  # A27: FREE deselects what the owner selected
            self._grant_next()
        else:
            assert result.status == nt.STATUS_INVALID_DEVICE_STATE

    @precondition(lambda self: self.selected is not None)
    @rule()
    def deselect(self) -> None:
        owner = self.owner
        assert owner is not None
        handle = next(h for h in self.handles if h.file is owner)
        result = handle.internal_device_control(DESELECT, command(self.selected or 0))
        assert result.status == nt.STATUS_SUCCESS
        self.selected = None
        self._grant_next()

    @precondition(lambda self: bool(self.queue))
    @rule(index=st.integers(0, 100))
    def cancel(self, index: int) -> None:
        handle, irp, _ = self.queue.pop(index % len(self.queue))
        assert irp.cancel()
        assert irp.status == nt.STATUS_CANCELLED

    @rule(h=handles)
    def close(self, h: Handle) -> None:
        if h.closed:
            return
        was_owner = self.owner is h.file
        h.close()  # cancels what it queued; deselects and frees what it holds (design §4)
        self.queue = [entry for entry in self.queue if entry[0] is not h]
        if was_owner:
            self.selected = None
            self._grant_next()

    @invariant()
    def one_owner_who_is_alive(self) -> None:
        owner = self.fdo.arbiter.owner
        assert owner is self.owner
        assert owner is None or (isinstance(owner, FileObject) and not owner.closed)

    @invariant()
    def waiters_are_the_queue(self) -> None:
        assert self.fdo.arbiter.query_num_waiters() == len(self.queue)
        assert [w.irp for w in self.fdo.arbiter.waiters()] == [irp for _, irp, _ in self.queue]

    @invariant()
    def completed_at_most_once(self) -> None:
        assert all(count == 1 for count in self.completions.values())
        pending = {id(irp) for _, irp, _ in self.queue}
        for irp in self.requests:
            assert irp.done or id(irp) in pending

    @invariant()
    def wire_selection(self) -> None:
        if self.selected is not None:
            assert emu(self.bus).selected_address == self.selected

    def teardown(self) -> None:
        for file in self.bus.iomgr.open_files():
            file.close()
        assert self.fdo.arbiter.owner is None
        assert self.fdo.arbiter.query_num_waiters() == 0
        assert all(irp.done for irp in self.requests)
        assert emu(self.bus).selected_address is None  # the wire is deselected
        self.bus.close()


ArbiterMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestArbiter = ArbiterMachine.TestCase


def test_sixteen_threads_allocate_and_free_a_thousand_times() -> None:
    b = open_test_bus("emu:chain=printer")
    arbiter = b.fdo.arbiter
    arbiter.trace = []
    inside = [0]
    overlap = [0]
    grants = [0]
    lock = threading.Lock()
    errors: list[BaseException] = []
    start = threading.Barrier(16, timeout=30)

    def client() -> None:
        try:
            h = b.create_file(PORT)
            start.wait()
            for _ in range(1000):
                result = h.internal_device_control(ALLOCATE)
                assert result.status == nt.STATUS_SUCCESS
                with lock:
                    inside[0] += 1
                    grants[0] += 1
                    if inside[0] > 1:
                        overlap[0] += 1
                assert arbiter.owner is h.file
                with lock:
                    inside[0] -= 1
                assert h.internal_device_control(FREE).status == nt.STATUS_SUCCESS
            h.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors[0]
    assert grants[0] == 16_000
    assert overlap[0] == 0
    assert arbiter.owner is None
    queued = [id(irp) for event, irp in arbiter.trace if event == "queued"]
    granted = [id(irp) for event, irp in arbiter.trace if event == "granted"]
    assert granted == queued  # every waiter granted, in arrival order
    b.close()
