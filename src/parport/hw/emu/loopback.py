"""An emulated loopback test plug: data lines wired to status lines.

The wiring is the common diagnostic plug's: D0 (pin 2) → nFault (15), D1 (3) → Select (13),
D2 (4) → PError (12), D3 (5) → nAck (10), D4 (6) → Busy (11). The host writes the data register
and reads the same bits back through the status register (Busy through its hardware inversion).
With the host's data drivers off, the pulled-up lines read high.
"""

from __future__ import annotations

from .lines import BUSY, NACK, NFAULT, NSTROBE, PERROR, SELECT
from .peripheral import Peripheral

__all__ = ["LoopbackPlug"]

_WIRING = ((0x01, NFAULT), (0x02, SELECT), (0x04, PERROR), (0x08, NACK), (0x10, BUSY))


class LoopbackPlug(Peripheral):
    """See the module docstring. ``received`` holds the data bytes present at each nStrobe fall."""

    kind = "loopback"

    def __init__(self, name: str | None = None) -> None:
        super().__init__(name, "")
        self._levels = 0xFF
        self._ctl = 0x0F

    def drive(self, data: int | None, control: int) -> None:
        levels = 0xFF if data is None else data
        fell = self._ctl & ~control
        self._ctl = control
        if fell & NSTROBE:
            self.record(levels)
        if levels != self._levels:
            self._levels = levels
            self.notify()

    def status(self) -> int:
        levels = self._levels
        return sum(pin for bit, pin in _WIRING if levels & bit)

    def data_out(self) -> int | None:
        return None
