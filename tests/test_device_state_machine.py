"""Random traffic on the port and its devices, checked after every step against the ownership
invariants of docs/driver.md ("Ownership"): lock, unlock (and their NO_SELECT / NO_DESELECT
variants), read, write, port ALLOCATE / FREE / SELECT / DESELECT, the callbacks handed out in
PARALLEL_PORT_INFORMATION, PARALLEL_PNP_INFORMATION and PARCLASS_INFORMATION, cancels, closes,
closes racing submits from another thread, and handles dropped without close.

After every step: at most one owner, and it is alive; a locked device owns the port; what is
selected on the wire was selected by the port's owner; nobody waited for the port holding the
wire lock; every request completed at most once and each one not done waits for the port. After
the run: every handle closed, every request completed, the port free and nothing selected."""

from __future__ import annotations

import gc
import os
import threading
import time
import warnings

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from driver_helpers import PORT, bus, command, emu
from parport import nt
from parport.driver import FileObject, Handle, ParallelDevice

DEVICES = ("LPT1.0", "LPT1.1", "LPT1.4")
PORTS = ("p0", "p1")
LOCKS = {
    "lock": (nt.IOCTL_INTERNAL_LOCK_PORT, nt.IOCTL_INTERNAL_UNLOCK_PORT),
    "lock_no_select": (
        nt.IOCTL_INTERNAL_LOCK_PORT_NO_SELECT,
        nt.IOCTL_INTERNAL_UNLOCK_PORT_NO_DESELECT,
    ),
}
SETTLE_S = 30.0
ALLOWED = frozenset({nt.STATUS_SUCCESS, nt.STATUS_CANCELLED, nt.STATUS_INVALID_DEVICE_STATE})
# CI runs each machine for at least 10,000 steps (max_examples × stateful_step_count).
STEPS = 50
EXAMPLES = 200


class DeviceMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.bus = bus("emu:", timer_start_s=300)
        self.arbiter = self.bus.fdo.arbiter
        self.handles: dict[str, Handle] = {name: self.bus.create_file(name) for name in DEVICES}
        self.ports: dict[str, Handle] = {name: self.bus.create_file(PORT) for name in PORTS}
        self.outstanding: list[nt.Irp] = []
        self.tracked: list[nt.Irp] = []  # every request, kept so that no id() is reused
        self.completions: dict[int, int] = {}
        self.unexpected: list[nt.Irp] = []
        self.lock_kind: dict[str, str | None] = dict.fromkeys(DEVICES)

    # --- bookkeeping ----------------------------------------------------------------------------
    def _track(self, irp: nt.Irp) -> nt.Irp:
        def count(done: nt.Irp) -> None:
            self.completions[id(done)] = self.completions.get(id(done), 0) + 1
            # Nothing is faulty and TimerStart (300 s of a manual clock) never passes: every
            # request succeeds, is cancelled, or is refused for not owning the port.
            if done.status not in ALLOWED:
                self.unexpected.append(done)

        self.tracked.append(irp)
        irp.add_done_callback(count)
        self.outstanding.append(irp)
        return irp

    def _blocked(self, irp: nt.Irp) -> bool:
        """Pending because it waits for the port (or behind a request of its device that does)."""
        owners = {id(w.owner) for w in self.arbiter.waiters()}
        file = irp.handle
        assert isinstance(file, FileObject)
        if id(file) in owners:
            return True
        return isinstance(file.device, ParallelDevice) and id(file.device) in owners

    def _settle(self) -> None:
        """Wait (bounded) until every request is done or waits for the port."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            pending = [irp for irp in self.outstanding if not irp.done]
            if all(self._blocked(irp) for irp in pending):
                self.outstanding = pending
                return
            assert time.monotonic() < deadline, f"requests neither done nor waiting: {pending}"
            pending[0].wait(0.002)

    def _device(self, name: str) -> ParallelDevice:
        device = self.bus.lookup(name)
        assert isinstance(device, ParallelDevice)
        return device

    def _port_callbacks(self, port: str) -> nt.PARALLEL_PORT_INFORMATION:
        result = self.ports[port].internal_device_control(
            nt.IOCTL_INTERNAL_GET_PARALLEL_PORT_INFO, b"", nt.PARALLEL_PORT_INFORMATION.SIZE
        )
        assert result.status == nt.STATUS_SUCCESS
        return nt.PARALLEL_PORT_INFORMATION.unpack(result.output)

    def _pnp_callbacks(self, port: str) -> nt.PARALLEL_PNP_INFORMATION:
        result = self.ports[port].internal_device_control(
            nt.IOCTL_INTERNAL_GET_PARALLEL_PNP_INFO, b"", nt.PARALLEL_PNP_INFORMATION.SIZE
        )
        assert result.status == nt.STATUS_SUCCESS
        return nt.PARALLEL_PNP_INFORMATION.unpack(result.output)

    def _parclass(self, name: str) -> nt.PARCLASS_INFORMATION:
        result = self.handles[name].internal_device_control(
            nt.IOCTL_INTERNAL_PARCLASS_CONNECT, b"", nt.PARCLASS_INFORMATION.SIZE
        )
        assert result.status == nt.STATUS_SUCCESS
        return nt.PARCLASS_INFORMATION.unpack(result.output)

    def _reopen(self, name: str) -> None:
        self.lock_kind[name] = None
        self._settle()
        self.handles[name] = self.bus.create_file(name)

    # --- device requests ------------------------------------------------------------------------
    @rule(name=st.sampled_from(DEVICES), kind=st.sampled_from(sorted(LOCKS)))
    def lock(self, name: str, kind: str) -> None:
        irp = self._track(self.handles[name].submit_internal_device_control(LOCKS[kind][0]))
        self._settle()
        if irp.done and irp.status == nt.STATUS_SUCCESS:
            self.lock_kind[name] = kind
            assert self._device(name).owns_port

    @rule(name=st.sampled_from(DEVICES))
    def unlock(self, name: str) -> None:
        kind = self.lock_kind[name] or "lock"
        irp = self._track(self.handles[name].submit_internal_device_control(LOCKS[kind][1]))
        self._settle()
        if irp.done:
            assert irp.status == nt.STATUS_SUCCESS
            assert irp.result is not None and irp.result.information == 0
            self.lock_kind[name] = None
            device = self._device(name)
            assert not device.locked

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

    # --- port requests --------------------------------------------------------------------------
    @rule(port=st.sampled_from(PORTS))
    def port_allocate(self, port: str) -> None:
        self._track(
            self.ports[port].submit_internal_device_control(
                nt.IOCTL_INTERNAL_PARALLEL_PORT_ALLOCATE
            )
        )
        self._settle()

    @rule(port=st.sampled_from(PORTS))
    def port_free(self, port: str) -> None:
        owned = self.arbiter.owner is self.ports[port].file
        result = self.ports[port].internal_device_control(nt.IOCTL_INTERNAL_PARALLEL_PORT_FREE)
        assert result.status == (nt.STATUS_SUCCESS if owned else nt.STATUS_INVALID_DEVICE_STATE)
        self._settle()

    @rule(port=st.sampled_from(PORTS), daisy=st.integers(0, 1), keep=st.booleans())
    def port_select(self, port: str, daisy: int, keep: bool) -> None:
        flags = nt.PAR_HAVE_PORT_KEEP_PORT if keep else 0
        self._track(
            self.ports[port].submit_internal_device_control(
                nt.IOCTL_INTERNAL_SELECT_DEVICE, command(daisy, flags)
            )
        )
        self._settle()

    @rule(port=st.sampled_from(PORTS), daisy=st.integers(0, 1), keep=st.booleans())
    def port_deselect(self, port: str, daisy: int, keep: bool) -> None:
        flags = nt.PAR_HAVE_PORT_KEEP_PORT if keep else 0
        file = self.ports[port].file
        owned = self.arbiter.owner is file
        waiters = self.arbiter.waiters()
        result = self.ports[port].internal_device_control(
            nt.IOCTL_INTERNAL_DESELECT_DEVICE, command(daisy, flags)
        )
        if not owned:
            assert result.status == nt.STATUS_INVALID_DEVICE_STATE
        elif not keep:
            assert not waiters or self.arbiter.owner is not file or waiters[0].owner is file
        self._settle()

    # --- callbacks ------------------------------------------------------------------------------
    @rule(port=st.sampled_from(PORTS))
    def try_allocate_callback(self, port: str) -> None:
        info = self._port_callbacks(port)
        free_before = self.arbiter.is_free()
        waiting = self.arbiter.query_num_waiters()
        got = self.ports[port].callbacks.callable(info.TryAllocatePort)(info.Context)
        assert bool(got) == free_before
        waiters = self.ports[port].callbacks.callable(info.QueryNumWaiters)(info.Context)
        assert waiters == waiting == self.arbiter.query_num_waiters()

    @rule(port=st.sampled_from(PORTS))
    def free_port_callback(self, port: str) -> None:
        info = self._port_callbacks(port)
        file = self.ports[port].file
        before = self.arbiter.owner
        waiters = self.arbiter.waiters()
        self.ports[port].callbacks.callable(info.FreePort)(info.Context)
        if before is not file:
            assert self.arbiter.owner is before  # A4: a non-owner's FreePort changes nothing
            return
        self._settle()
        if not waiters:
            assert self.arbiter.owner is None

    @rule(port=st.sampled_from(PORTS), daisy=st.integers(0, 2), keep=st.booleans())
    def try_select_callback(self, port: str, daisy: int, keep: bool) -> None:
        info = self._pnp_callbacks(port)
        flags = nt.PAR_HAVE_PORT_KEEP_PORT if keep else 0
        cmd = nt.PARALLEL_1284_COMMAND(ID=daisy, CommandFlags=flags)
        status = self.ports[port].callbacks.callable(info.TrySelectDevice)(info.Context, cmd)
        assert status in (
            nt.STATUS_SUCCESS,
            nt.STATUS_PENDING,
            nt.STATUS_INVALID_DEVICE_STATE,
            nt.STATUS_UNSUCCESSFUL,
        )
        if status == nt.STATUS_PENDING:
            assert not self.arbiter.is_free()  # A5: busy, and nothing queued for it

    @rule(port=st.sampled_from(PORTS), daisy=st.integers(0, 2), keep=st.booleans())
    def deselect_callback(self, port: str, daisy: int, keep: bool) -> None:
        info = self._pnp_callbacks(port)
        flags = nt.PAR_HAVE_PORT_KEEP_PORT if keep else 0
        cmd = nt.PARALLEL_1284_COMMAND(ID=daisy, CommandFlags=flags)
        self.ports[port].callbacks.callable(info.DeselectDevice)(info.Context, cmd)
        self._settle()

    @rule(name=st.sampled_from(DEVICES[:2]), keep=st.booleans())
    def parclass_tryselect(self, name: str, keep: bool) -> None:
        info = self._parclass(name)
        device = self._device(name)
        flags = nt.PAR_HAVE_PORT_KEEP_PORT if keep else 0
        status = self.handles[name].callbacks.callable(info.ParallelTryselect)(
            info.ParclassContext, device.command(flags)
        )
        if status == nt.STATUS_SUCCESS:
            assert device.owns_port and device.locked and device.selected
            self.lock_kind[name] = "lock"
        self._settle()

    @rule(name=st.sampled_from(DEVICES[:2]), keep=st.booleans())
    def parclass_deselect(self, name: str, keep: bool) -> None:
        info = self._parclass(name)
        device = self._device(name)
        owned = device.owns_port
        flags = nt.PAR_HAVE_PORT_KEEP_PORT if keep else 0
        self.handles[name].callbacks.callable(info.ParallelDeSelect)(
            info.ParclassContext, device.command(flags)
        )
        if owned and not keep:
            assert not device.owns_port and not device.locked  # A27: no lock without the port
            self.lock_kind[name] = None
        self._settle()

    # --- cancels, closes, races -----------------------------------------------------------------
    @rule(index=st.integers(0, 1000))
    def cancel(self, index: int) -> None:
        pending = [irp for irp in self.outstanding if not irp.done]
        if pending:
            pending[index % len(pending)].cancel()
            self._settle()

    @rule(name=st.sampled_from(DEVICES))
    def close_and_reopen(self, name: str) -> None:
        self.handles[name].close()  # A8: cleanup deselects and frees what it held
        assert not self._device(name).owns_port
        self._reopen(name)

    @rule(port=st.sampled_from(PORTS))
    def close_and_reopen_port(self, port: str) -> None:
        file = self.ports[port].file
        self.ports[port].close()  # A9, A27
        assert self.arbiter.owner is not file
        self._settle()
        self.ports[port] = self.bus.create_file(PORT)

    @rule(name=st.sampled_from(DEVICES), lock=st.booleans(), count=st.integers(1, 20))
    def close_racing_submits(self, name: str, lock: bool, count: int) -> None:
        """Another thread submits while this one closes: whatever got in completes, and the
        closed device holds nothing afterwards."""
        handle = self.handles[name]
        submitted: list[nt.Irp] = []

        def spam() -> None:
            for _ in range(count):
                try:
                    if lock:
                        irp = handle.submit_internal_device_control(nt.IOCTL_INTERNAL_LOCK_PORT)
                    else:
                        irp = handle.submit_write(b"race")
                except nt.ParportError:
                    return
                submitted.append(irp)

        thread = threading.Thread(target=spam)
        thread.start()
        handle.close()
        thread.join(SETTLE_S)
        assert not thread.is_alive()
        for irp in submitted:
            self._track(irp)
            assert irp.wait(SETTLE_S) is not None, f"{irp!r} never completed"
        device = self._device(name)
        assert not device.owns_port and not device.locked
        self._reopen(name)

    @rule(name=st.sampled_from(DEVICES))
    def drop_without_close(self, name: str) -> None:
        """A handle that becomes garbage is closed as if closed, with a ResourceWarning."""
        device = self._device(name)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always", ResourceWarning)
            self.handles.pop(name)
            gc.collect()
        assert any(issubclass(w.category, ResourceWarning) for w in seen)
        self._reopen(name)  # the reopen waits for the dropped handle's close to finish
        assert not device.locked

    # --- invariants -----------------------------------------------------------------------------
    @invariant()
    def ownership(self) -> None:
        assert self.bus.check() == []
        owner = self.arbiter.owner
        if isinstance(owner, FileObject):
            assert not owner.closed
        elif owner is not None:
            assert isinstance(owner, ParallelDevice)

    @invariant()
    def selected_only_for_the_owner(self) -> None:
        address = emu(self.bus).selected_address
        if address is None:
            return
        owner = self.arbiter.owner
        selection = self.bus.fdo.selection
        assert selection is not None and selection.owner is owner
        assert selection.command.ID == address

    @invariant()
    def completed_at_most_once(self) -> None:
        assert not self.unexpected, self.unexpected
        assert all(count == 1 for count in self.completions.values())
        for irp in self.outstanding:
            assert irp.done or self._blocked(irp)

    @invariant()
    def waiters_are_the_queue(self) -> None:
        assert self.arbiter.query_num_waiters() == len(self.arbiter.waiters())

    def teardown(self) -> None:
        for handle in (*self.handles.values(), *self.ports.values()):
            handle.close()
        deadline = time.monotonic() + SETTLE_S
        for irp in self.outstanding:
            assert irp.wait(max(0.0, deadline - time.monotonic())) is not None, f"{irp!r} lost"
        assert all(count == 1 for count in self.completions.values())
        assert self.arbiter.owner is None and self.arbiter.query_num_waiters() == 0
        assert emu(self.bus).selected_address is None
        assert self.bus.check() == []
        self.bus.close()
        assert not [t for t in threading.enumerate() if t.name.startswith("parport LPT")]


# A mutation run (docs/mutation.md) sets PARPORT_MACHINE_EXAMPLES to run fewer.
DeviceMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("PARPORT_MACHINE_EXAMPLES", str(EXAMPLES))),
    stateful_step_count=STEPS,
    deadline=None,
)
TestDevices = DeviceMachine.TestCase
# 10,000 steps take 25-70 s on a 2-core VM, longer on a loaded one: beyond the suite's 60 s.
TestDevices.pytestmark = [pytest.mark.timeout(900)]
