"""Random lock, unlock (and their NO_SELECT / NO_DESELECT variants), read, write, cancel and close
on several devices and the port: the arbiter's invariants hold, a daisy-chain device is selected
on the wire only while its client holds the port, and every request completes exactly once."""

from __future__ import annotations

import time

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from driver_helpers import PORT, bus, emu
from parport import nt
from parport.driver import Handle, ParallelDevice

DEVICES = ("LPT1.0", "LPT1.1", "LPT1.4")
LOCKS = {
    "lock": (nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT),
    "lock_no_select": (
        nt.IOCTL_INTERNAL_LOCK_PORT_NO_SELECT,
        nt.IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT,
    ),
}


class DeviceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.bus = bus("emu:", timer_start_s=300)
        self.arbiter = self.bus.fdo.arbiter
        self.handles: dict[str, Handle] = {name: self.bus.create_file(name) for name in DEVICES}
        self.port = self.bus.create_file(PORT)
        self.outstanding: list[nt.Irp] = []
        self.completions: dict[int, int] = {}
        self.lock_kind: dict[str, str | None] = dict.fromkeys(DEVICES)

    # --- bookkeeping ----------------------------------------------------------------------------
    def _track(self, irp: nt.Irp) -> nt.Irp:
        def count(done: nt.Irp) -> None:
            self.completions[id(done)] = self.completions.get(id(done), 0) + 1

        irp.add_done_callback(count)
        self.outstanding.append(irp)
        return irp

    def _blocked(self, irp: nt.Irp) -> bool:
        """Pending because it waits for the port (or behind a request of its device that does)."""
        owners = {id(w.owner) for w in self.arbiter.waiters()}
        handle = irp.handle
        if handle is self.port:
            return id(handle) in owners
        assert isinstance(handle, Handle)
        return id(handle.device) in owners

    def _settle(self) -> None:
        """Wait (bounded) until every request is done or waits for the port."""
        deadline = time.monotonic() + 30
        while True:
            pending = [irp for irp in self.outstanding if not irp.done]
            if all(self._blocked(irp) for irp in pending):
                return
            assert time.monotonic() < deadline, f"requests neither done nor waiting: {pending}"
            pending[0].wait(0.002)

    def _device(self, name: str) -> ParallelDevice:
        device = self.bus.lookup(name)
        assert isinstance(device, ParallelDevice)
        return device

    # --- rules ----------------------------------------------------------------------------------
    @rule(name=st.sampled_from(DEVICES), kind=st.sampled_from(sorted(LOCKS)))
    def lock(self, name: str, kind: str) -> None:
        irp = self._track(self.handles[name].submit_internal_device_control(LOCKS[kind][0]))
        self._settle()
        if irp.done and irp.status == nt.STATUS_SUCCESS:
            self.lock_kind[name] = kind

    @rule(name=st.sampled_from(DEVICES))
    def unlock(self, name: str) -> None:
        kind = self.lock_kind[name] or "lock"
        irp = self._track(self.handles[name].submit_internal_device_control(LOCKS[kind][1]))
        self._settle()
        if irp.done:
            assert irp.status == nt.STATUS_SUCCESS
            assert irp.result is not None and irp.result.information == 0
            self.lock_kind[name] = None

    @rule(name=st.sampled_from(DEVICES), data=st.binary(min_size=1, max_size=20))
    def write(self, name: str, data: bytes) -> None:
        irp = self._track(self.handles[name].submit_write(data))
        self._settle()
        if irp.done and irp.status == nt.STATUS_SUCCESS:
            assert irp.result is not None and irp.result.information == len(data)

    @rule(name=st.sampled_from(DEVICES))
    def read(self, name: str) -> None:
        self._track(self.handles[name].submit_read(8))
        self._settle()

    @rule()
    def port_allocate(self) -> None:
        self._track(
            self.port.submit_internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE)
        )
        self._settle()

    @precondition(lambda self: self.arbiter.owner is self.port)
    @rule()
    def port_free(self) -> None:
        assert self.port.internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE).status == 0
        self._settle()

    @rule(index=st.integers(0, 1000))
    def cancel(self, index: int) -> None:
        pending = [irp for irp in self.outstanding if not irp.done]
        if pending:
            pending[index % len(pending)].cancel()
            self._settle()

    @rule(name=st.sampled_from(DEVICES))
    def close_and_reopen(self, name: str) -> None:
        self.handles[name].close()  # A8: cleanup deselects and frees what it held
        self.lock_kind[name] = None
        self._settle()
        self.handles[name] = self.bus.create_file(name)

    # --- invariants -----------------------------------------------------------------------------
    @invariant()
    def owner_is_alive(self) -> None:
        owner = self.arbiter.owner
        if owner is None:
            return
        if isinstance(owner, Handle):
            assert owner is self.port and not owner.closed
        else:
            assert isinstance(owner, ParallelDevice) and owner.owns_port
            assert owner.open_handles, "the port is held by a device nobody has open"

    @invariant()
    def selected_only_while_its_client_holds_the_port(self) -> None:
        address = emu(self.bus).selected_address
        if address is None:
            return
        owner = self.arbiter.owner
        assert isinstance(owner, ParallelDevice) and owner.daisy_id == address

    @invariant()
    def completed_at_most_once(self) -> None:
        assert all(count == 1 for count in self.completions.values())
        for irp in self.outstanding:
            assert irp.done or self._blocked(irp)

    @invariant()
    def waiters_are_the_queue(self) -> None:
        assert self.arbiter.query_num_waiters() == len(self.arbiter.waiters())

    def teardown(self) -> None:
        for handle in (*self.handles.values(), self.port):
            handle.close()
        deadline = time.monotonic() + 30
        for irp in self.outstanding:
            assert irp.wait(max(0.0, deadline - time.monotonic())) is not None, f"{irp!r} lost"
        assert all(count == 1 for count in self.completions.values())
        assert self.arbiter.owner is None and self.arbiter.query_num_waiters() == 0
        assert emu(self.bus).selected_address is None
        self.bus.close()


DeviceMachine.TestCase.settings = settings(max_examples=25, stateful_step_count=25, deadline=None)
TestDevices = DeviceMachine.TestCase
