"""The port's one claim/release seam: who holds the port and what is selected on its wire.

Every path that takes the port or gives it back goes through here — device requests and the
lock family, the port's ALLOCATE/FREE and SELECT/DESELECT, the callbacks handed out in
PARALLEL_PORT_INFORMATION, PARALLEL_PNP_INFORMATION and PARCLASS_INFORMATION, a stalled
printer giving the port away, handle cleanup, the bus scan — and so does a backend's own claim
of the port from the system (ppdev's PPCLAIM/PPRELEASE, called when parport's arbiter goes from
free to granted and back). Linux keeps the same in one place (``drivers/parport/share.c``:
``parport_claim`` selects the daisy-chain device, ``parport_release`` deselects it).

What the seam keeps true (docs/driver.md, "Ownership"; checked by :meth:`PortSeam.check`):

* at most one owner; an owner's selection is recorded here, so a selected IEEE 1284.3 (or Zip)
  device was always selected by the port's current owner;
* a release ends the owner's IEEE 1284 session and deselects what it selected before the port
  is freed (Part A, A27): the port never passes to a new owner with a stale selection or a
  peripheral left mid-session;
* a change of selection ends any IEEE 1284 session first (a 1284.3 command frame sent during a
  session would reach the peripheral in the middle of it);
* an owner that loses the port by any path is told (``port_released``), so a device marked
  locked always owns the port;
* nobody waits for the port while holding the wire lock.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import NamedTuple

from .. import nt
from ..hw.backend import PortBackend
from ..hw.clock import VirtualClock
from ..ieee1284 import Session, dot3
from .arbiter import PortArbiter, Waiter

_get_ident = threading.get_ident

__all__ = ["PortOwner", "PortSeam", "Selection", "as_command"]

log = logging.getLogger(__name__)

Status = int
_SUCCESS = nt.STATUS_SUCCESS
_NOT_OWNER = nt.STATUS_INVALID_DEVICE_STATE


class PortOwner:
    """Something that can own the port: a port handle's file object, a device, the bus scan.

    :meth:`port_released` is called when the seam takes the port from it, by whatever path."""

    __slots__ = ()
    notify_release = False  # whether port_released does anything (devices: yes)

    def port_released(self) -> None:
        """The port is no longer this owner's (called before the next owner is granted)."""


class Selection(NamedTuple):
    """What is selected on the wire, and for whom."""

    owner: object
    command: nt.PARALLEL_1284_COMMAND
    target: str  # "daisy" or "zip"


def as_command(command: nt.PARALLEL_1284_COMMAND | bytes) -> nt.PARALLEL_1284_COMMAND:
    """A PARALLEL_1284_COMMAND from the structure or its 8 bytes (callbacks take either)."""
    if isinstance(command, nt.PARALLEL_1284_COMMAND):
        return command
    return nt.PARALLEL_1284_COMMAND.unpack(bytes(command))


class PortSeam:
    """See the module docstring. The port's device object (:class:`~.fdo.ParallelPort`) is one."""

    def __init__(self, name: str, backend: PortBackend, session: Session) -> None:
        self.arbiter = PortArbiter(name)
        self.backend = backend
        self.session = session
        self.wire_lock = backend.lock  # one wire sequence at a time on the backend
        self.daisy_count = 0  # Ieee1284_3DeviceCount: 1284.3 devices currently known
        self._selection: Selection | None = None
        # The releases under way: (owner, number of the hold it ends) → the thread that claimed
        # it. One release at a time ends a hold: the first to claim it; another release of the
        # same hold ends nothing, once the hold is over (``_over``). A grant made by a release
        # to the same owner starts a new hold, which is not ending.
        self._releasing: dict[tuple[object, int], int] = {}
        self._over = threading.Condition(threading.Lock())
        self._over_waiting = 0  # releases waiting for another release of their hold
        self._claim_lock = threading.Lock()  # orders the backend's claim and release
        self._system_claimed = False
        self.claim_error: Exception | None = None  # the last claim from the system that failed
        self.on_free: Callable[[], None] | None = None  # freed with nobody waiting
        self.violations: list[str] = []  # what check() found broken at a waiting point
        if backend.shared:
            self.arbiter.on_taken = self._system_claim
            self.arbiter.on_free = self._freed
        clock = backend.clock
        if isinstance(clock, VirtualClock) and clock.paced:
            clock.idle_lock = backend.lock

    # --- state ----------------------------------------------------------------------------------
    @property
    def owner(self) -> object | None:
        return self.arbiter.owner

    def owns(self, owner: object) -> bool:
        return self.arbiter.owned_by(owner)

    @property
    def selection(self) -> Selection | None:
        return self._selection

    def selected_by(self, owner: object) -> bool:
        selection = self._selection
        return selection is not None and selection.owner is owner

    def target_of(self, command: nt.PARALLEL_1284_COMMAND) -> str | None:
        """``"zip"``, ``"eoc"``, ``"daisy"``, or None for an invalid ID (§10.4, A20)."""
        flags = command.CommandFlags
        if flags & nt.PAR_LEGACY_ZIP_DRIVE or command.ID == nt.DOT3_LEGACY_ZIP_ID:
            return "zip"
        if flags & nt.PAR_END_OF_CHAIN_DEVICE or command.ID in (
            nt.DOT3_END_OF_CHAIN_ID,
            self.daisy_count,
        ):
            return "eoc"
        if command.ID < self.daisy_count:
            return "daisy"
        return None

    # --- claiming -------------------------------------------------------------------------------
    def try_claim(self, owner: object, select: nt.PARALLEL_1284_COMMAND | None = None) -> Status:
        """Take the port now if it is free and nobody waits, then select ``select`` on the wire:
        STATUS_SUCCESS; STATUS_PENDING when the port is busy (nothing queued, A5); the select's
        failure, with the port given back (A6)."""
        if not self.arbiter.try_allocate(owner):
            return nt.STATUS_PENDING
        if select is None:
            return nt.STATUS_SUCCESS
        status = self.select(owner, select)
        if status != nt.STATUS_SUCCESS:
            self.release(owner)
        return status

    def claim(
        self, irp: nt.Irp, owner: object, on_grant: Callable[[Waiter], None] | None = None
    ) -> bool:
        """Queue ``irp`` for the port in FIFO order on behalf of ``owner``. True: granted at once
        (the caller completes ``irp``); False: it waits, and when granted ``on_grant`` runs in
        the granting thread (default: ``irp`` completes STATUS_SUCCESS)."""
        return self.arbiter.allocate(irp, owner, on_grant)

    def release(self, owner: object, context: object = None) -> Status:
        """End ``owner``'s hold on the port: terminate an IEEE 1284 session, deselect what it
        selected (A27), tell it, free the port (the next waiter is granted). The deselect's
        status (the port is freed even when it failed, A2/A6); STATUS_INVALID_DEVICE_STATE,
        touching nothing, when ``owner`` does not own the port (A4). It is also the FreePort
        callback (``context`` is what that passes; it is not needed)."""
        arbiter = self.arbiter
        hold = arbiter.holds  # hold_of, inlined: the number first, then the owner
        if arbiter._owner is not owner:
            return _NOT_OWNER
        status: int = _SUCCESS
        # Claimed first, in one step (``setdefault``): of two releases of one hold (two threads
        # of the owner), the first to claim it ends it and the other ends nothing. The claim is
        # also the mark a select racing this looks for: a select from another thread of the owner
        # either recorded its selection before the look below, which then undoes it, or finds
        # the mark when it checks again after selecting, and undoes it itself (see select).
        mark = (owner, hold)
        me = _get_ident()  # a new int object: ``setdefault`` gives it back only if it claimed
        releasing = self._releasing
        first = releasing.setdefault(mark, me)
        if first is not me:
            # Another release is ending this hold: it is not this one's to end, but when this
            # returns the hold is over (a close that returns leaves nothing held). Not when the
            # other release is this thread's own (a release within a release).
            if first != me:
                self._wait_over(mark)
            return _NOT_OWNER
        ended = False
        try:
            # Claimed, the hold can end only here: if it is over now (a release ended it between
            # the look at the owner and the claim, and the owner may have the port again), it
            # is not this release's to end, and the owner is not told anything.
            if arbiter._hold.get(hold) is not owner:  # the live holds, which free pops
                return _NOT_OWNER
            if self._selection is not None or self.session.connected:
                with self.wire_lock:
                    if self.session.connected:
                        self.session.terminate()
                    if self._selection is not None:
                        status = self._wire_deselect(self._selection.target)
            if getattr(owner, "notify_release", False):
                owner.port_released()  # type: ignore[attr-defined]
            ended = arbiter.free(owner, hold, self._hold_over)  # which drops the claim
            if not ended:
                return _NOT_OWNER
        finally:
            if not ended and releasing.get(mark) is me:
                self._hold_over(owner, hold)
        return status

    def _hold_over(self, owner: object, hold: int) -> None:
        """``owner``'s hold number ``hold`` is over: the claim of the release ending it goes,
        and the releases of it that wait go on. Only that release's thread calls this: the
        arbiter, as soon as it has let the hold go and before the grants that follow run any
        client's callbacks (a callback may close the very handle whose release waits), or the
        release itself when it ends without freeing."""
        self._releasing.pop((owner, hold), None)
        if self._over_waiting:
            with self._over:
                self._over.notify_all()

    def _wait_over(self, mark: tuple[object, int]) -> None:
        """Until the release that claimed ``mark`` has seen its hold over."""
        with self._over:
            self._over_waiting += 1
            try:
                while mark in self._releasing:
                    self._over.wait()
            finally:
                self._over_waiting -= 1

    def _ending(self, owner: object) -> bool:
        """Whether ``owner``'s current hold is being released (by another of its threads)."""
        releasing = self._releasing
        return bool(releasing) and (owner, self.arbiter.holds) in releasing

    # --- the wire -------------------------------------------------------------------------------
    def select(self, owner: object, command: nt.PARALLEL_1284_COMMAND) -> Status:
        """Select ``command``'s device on the wire for ``owner``, who holds the port (KEEP_PORT):
        a daisy-chain device by the 1284.3 SELECT command, a Zip drive by its connect sequence,
        the end-of-chain device by deselecting whatever was selected. A device already selected
        for this owner stays as it is."""
        if not self.arbiter.owned_by(owner):
            return nt.STATUS_INVALID_DEVICE_STATE
        target = self.target_of(command)
        if target is None:
            return nt.STATUS_INVALID_PARAMETER
        if self._selection is None and target == "eoc":
            return nt.STATUS_SUCCESS  # nothing on the wire to change
        with self.wire_lock:
            if not self.arbiter.owned_by(owner) or self._ending(owner):
                return nt.STATUS_INVALID_DEVICE_STATE  # its hold ended meanwhile
            current = self._selection
            if (
                current is not None
                and current.target == target
                and current.command.ID == command.ID
            ):
                return nt.STATUS_SUCCESS
            if self.session.connected:
                self.session.terminate()
            if current is not None:
                status = self._wire_deselect(current.target)
                if status != nt.STATUS_SUCCESS:
                    return status
            if target == "daisy":
                ok = dot3.select(self.backend, command.ID)
            elif target == "zip":
                epp = bool(command.CommandFlags & nt.PAR_LEGACY_ZIP_DRIVE_EPP_MODE)
                ok = dot3.zip_connect(self.backend, epp)
            else:
                return nt.STATUS_SUCCESS
            if not ok:
                return nt.STATUS_UNSUCCESSFUL
            self._selection = Selection(owner, command, target)
            if not self.arbiter.owned_by(owner) or self._ending(owner):
                # The owner's release began while this selected (another of its threads): undo
                # it, so that nothing stays selected past the hold (the release did not see it).
                self._wire_deselect(target)
                return nt.STATUS_INVALID_DEVICE_STATE
        return nt.STATUS_SUCCESS

    def deselect(self, owner: object, command: nt.PARALLEL_1284_COMMAND) -> Status:
        """Deselect on the wire for ``owner`` (KEEP_PORT: the port stays its own): the 1284.3
        DESELECT command for a daisy-chain ID, the Zip disconnect for a Zip drive, nothing for the
        end-of-chain device."""
        if not self.arbiter.owned_by(owner):
            return nt.STATUS_INVALID_DEVICE_STATE
        target = self.target_of(command)
        if target is None:
            return nt.STATUS_INVALID_PARAMETER
        if target == "eoc":
            return nt.STATUS_SUCCESS
        with self.wire_lock:
            if self.session.connected:
                self.session.terminate()
            return self._wire_deselect(target)

    def _wire_deselect(self, target: str) -> Status:
        """DESELECT (``"daisy"``) or disconnect (``"zip"``) on the wire (the wire lock is held;
        the end-of-chain device is never a selection); whatever the wire answers, the seam no
        longer counts a device of that kind as selected."""
        ok = (
            dot3.deselect_all(self.backend)
            if target == "daisy"
            else dot3.zip_disconnect(self.backend)
        )
        selection = self._selection
        if selection is not None and selection.target == target:
            self._selection = None
        return nt.STATUS_SUCCESS if ok else nt.STATUS_UNSUCCESSFUL

    def reassign_addresses(self, owner: object) -> int:
        """IEEE 1284.3 address assignment for the owner (INIT_1284_3_BUS, a printer reset): every
        daisy-chain device comes out deselected. The count of devices that answered.

        A daisy-chain device the owner selected is deselected first, as the bus scan does: a
        selected device passes nothing down the cable, so the devices behind it would not see
        the assignment, and it would stay selected on the wire for the port's next owner."""
        with self.wire_lock:
            if self.session.connected:
                self.session.terminate()
            selection = self._selection
            if selection is not None and selection.target == "daisy":
                self._wire_deselect("daisy")
            count = dot3.assign_addresses(self.backend)
        return count

    # --- the system's claim (shared backends) ---------------------------------------------------
    def _system_claim(self, owner: object) -> None:
        """A new owner: make sure the port is claimed from the system. A claim that fails (the
        kernel's port hung, or another driver holding it) leaves the port with its owner, whose
        wire accesses then fail with the backend's error; the next owner tries again."""
        with self._claim_lock:
            if self.arbiter.owner is None or self._system_claimed:
                return
            try:
                self.backend.claim()
            except Exception as exc:
                if self.claim_error is None:
                    log.error("%s: the port could not be claimed: %s", self.arbiter.name, exc)
                self.claim_error = exc
                return
            self._system_claimed = True
            self.claim_error = None

    def _freed(self) -> None:
        with self._claim_lock:
            if self.arbiter.owner is None and self._system_claimed:
                self._system_claimed = False
                try:
                    self.backend.release()
                except Exception:
                    log.exception("%s: the backend's release failed", self.arbiter.name)
        on_free = self.on_free
        if on_free is not None:
            on_free()

    # --- invariants -----------------------------------------------------------------------------
    def waiting_for_port(self) -> None:
        """Called by every thread about to block until the port is granted: nobody waits for the
        port while holding the wire lock (that is how a stalled printer once deadlocked)."""
        is_owned = getattr(self.wire_lock, "_is_owned", None)
        if is_owned is not None and is_owned():
            message = f"{threading.current_thread().name} waits for the port holding the wire lock"
            log.error("%s: %s", self.arbiter.name, message)
            self.violations.append(message)

    def check(self) -> list[str]:
        """What is wrong with the port's ownership right now (empty when all holds)."""
        problems = list(self.violations)
        owner = self.arbiter.owner
        if getattr(owner, "finished_closing", False):
            problems.append(f"the port is held by {owner!r}, whose close has finished")
        selection = self._selection
        if selection is not None and selection.owner is not owner:
            problems.append(
                f"{selection.target} {selection.command.ID} is selected for "
                f"{selection.owner!r}, but the port is {owner!r}'s"
            )
        if self.backend.shared:
            stray = owner is None and self._system_claimed
            missing = owner is not None and not self._system_claimed and self.claim_error is None
            if stray or missing:
                problems.append("the system's claim does not follow the arbiter")
        return problems
