"""``with`` support for everything that has a ``close()``: ports, buses, handles, devices."""

from __future__ import annotations

from abc import abstractmethod
from types import TracebackType
from typing import Self

__all__ = ["Closing"]


class Closing:
    """A context manager that calls ``close()`` on exit; ``close()`` must be idempotent."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
