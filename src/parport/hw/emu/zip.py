"""An emulated legacy Iomega Zip drive (PPA3, "VPI0") with a printer port on its back.

See ieee1284.md §5.1.

The drive watches the host's nAutoFd line: on each falling edge it samples the data lines and the
nSelectIn level. Four consecutive samples ``00 3C 20 8F`` (or ``CF`` for EPP) with nSelectIn high
connect it ("disk mode"); ``00 3C 20 0F`` with nSelectIn low disconnect it ("printer pass-through").
Connected, it is the target: it mirrors nAutoFd onto nFault inverted (the presence check both the
Windows and the Linux drivers make) and takes the bytes clocked with nAutoFd pulses; the printer
behind it sees idle lines. Disconnected it is transparent. The drive's SCSI command set is not
emulated: bytes sent to a connected drive are recorded in ``received``.
"""

from __future__ import annotations

from .lines import BUSY, NACK, NAUTOFD, NFAULT, NSELECTIN, SELECT
from .peripheral import CUT_OFF_CONTROL, Peripheral

__all__ = ["ZipDrive"]

_CONNECT = (0x00, 0x3C, 0x20)


class ZipDrive(Peripheral):
    """A legacy parallel-port Zip drive (see the module docstring)."""

    kind = "zip"

    def __init__(self, name: str | None = None, device_id: str = "") -> None:
        super().__init__(name, device_id)
        self.connected = False
        self.epp_mode = False  # connected with the EPP mode byte (0xCF)
        self.connects = 0
        self._samples: list[tuple[int, bool]] = []
        self._ctl = CUT_OFF_CONTROL

    def drive(self, data: int | None, control: int) -> None:
        if self._inert:
            return
        prev = self._ctl
        self._ctl = control
        if prev & ~control & NAUTOFD:  # nAutoFd falling edge: sample DATA and nSelectIn
            byte = 0xFF if data is None else data
            self._sample(byte, bool(control & NSELECTIN))
        if self.connected:
            self.downstream.drive(0, CUT_OFF_CONTROL)
        else:
            self.downstream.drive(data, control)
        if (prev ^ control) & NAUTOFD and self.connected:
            self.notify()  # the nFault mirror changed

    def _sample(self, byte: int, select_in_high: bool) -> None:
        samples = self._samples
        samples.append((byte, select_in_high))
        if len(samples) > 4:
            del samples[0]
        if self.connected:
            self.record(byte)
        if len(samples) < 4 or tuple(b for b, _ in samples[:3]) != _CONNECT:
            return
        levels = {level for _, level in samples}
        last = samples[-1][0]
        if not self.connected and levels == {True} and last in (0x8F, 0xCF):
            self.connected = True
            self.epp_mode = last == 0xCF
            self.connects += 1
            samples.clear()
            self.notify()
        elif self.connected and levels == {False} and last == 0x0F:
            del self.received[-4:]  # the disconnect sequence itself is not data
            self.connected = False
            samples.clear()
            self.notify()

    def status(self) -> int:
        if self._off:
            return 0
        if not self.connected:
            return self.downstream.status()
        # Ready (Busy pin L), bus free (nAck L), Select H; nFault is nAutoFd inverted.
        st = SELECT
        if not self._ctl & NAUTOFD:
            st |= NFAULT
        return st & ~(BUSY | NACK)

    def data_out(self) -> int | None:
        if self.connected or self._off:
            return None
        return self.downstream.data_out()

    def power_on_reset(self) -> None:
        self.connected = False
        self._samples.clear()

    def describe(self) -> str:
        return f"zip {self.name!r} ({'connected' if self.connected else 'pass-through'})"
