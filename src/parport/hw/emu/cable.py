"""The cable: the emulated peripherals in order, from the host's connector to the far end."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from ..clock import VirtualClock
from .peripheral import END_OF_CABLE, Peripheral

__all__ = ["Cable"]


class Cable:
    """Links peripherals in cable order; each passes signals on to the next (``downstream``)."""

    def __init__(self, clock: VirtualClock, peripherals: Sequence[Peripheral] = ()) -> None:
        self.clock = clock
        self._chain: list[Peripheral] = []
        self.listener: Callable[[], None] | None = None
        self.head: Peripheral = END_OF_CABLE  # what the host's connector is plugged into
        self.generation = 0  # counts changes of what is plugged in (for what the port caches)
        self.plug(*peripherals)

    @property
    def chain(self) -> list[Peripheral]:
        """The peripherals in cable order (a copy)."""
        return list(self._chain)

    def __iter__(self) -> Iterator[Peripheral]:
        return iter(self._chain)

    def __len__(self) -> int:
        return len(self._chain)

    def plug(self, *peripherals: Peripheral) -> None:
        """Attach ``peripherals`` at the far end, in order."""
        for device in peripherals:
            if device.cable is not None:
                raise ValueError(f"{device!r} is already on a cable")
            self._chain.append(device)
        self._relink()
        self.changed()

    def unplug(self, device: Peripheral) -> list[Peripheral]:
        """Take ``device`` off, with everything plugged in behind it; returns what was removed."""
        index = self._chain.index(device)
        removed = self._chain[index:]
        del self._chain[index:]
        for gone in removed:
            gone.cable = None
            gone.downstream = END_OF_CABLE
            gone.upstream = None
        self._relink()
        self.changed()
        return removed

    def _relink(self) -> None:
        self.generation += 1
        chain = self._chain
        self.head = chain[0] if chain else END_OF_CABLE
        for index, device in enumerate(chain):
            downstream = chain[index + 1] if index + 1 < len(chain) else END_OF_CABLE
            device.attach(self, downstream)
            device.upstream = chain[index - 1] if index else None
        for device in chain:
            device.chain_changed()

    def set_listener(self, listener: Callable[[], None] | None) -> None:
        """Who to tell when a peripheral changes the lines it drives (the port)."""
        self.listener = listener

    def changed(self) -> None:
        listener = self.listener
        if listener is not None:
            listener()
