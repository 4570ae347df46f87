"""Pin-level bit names the emulated peripherals use (the layouts of :mod:`parport.hw.signals`).

Status pins are what a peripheral drives towards the host (bits 7..3 of the status register
layout, as levels: 1 = H). Control pins are what the host drives (bits 0..3 of the control
register layout, as levels).
"""

from __future__ import annotations

from typing import Final

BUSY: Final = 0x80  # Busy / PtrBusy / PeriphAck / nWait
NACK: Final = 0x40  # nAck / PtrClk / PeriphClk / nIntr
PERROR: Final = 0x20  # PError / AckDataReq / nAckReverse
SELECT: Final = 0x10  # Select / XFlag
NFAULT: Final = 0x08  # nFault / nDataAvail / nPeriphRequest
ALL_STATUS: Final = 0xF8

NSTROBE: Final = 0x01  # nStrobe / HostClk / nWrite
NAUTOFD: Final = 0x02  # nAutoFd / HostBusy / HostAck / nDStrb
NINIT: Final = 0x04  # nInit / nReverseRequest
NSELECTIN: Final = 0x08  # nSelectIn / 1284 Active (H) / nAStrb

IDLE_CONTROL: Final = NSTROBE | NAUTOFD | NINIT  # CTR 0x0C: strobes off, nInit H, nSelectIn L
FLOATING_STATUS: Final = ALL_STATUS  # nothing attached: every input pulled up (register 0x78)
