"""Pointer tokens: the non-zero values put in the pointer fields of returned structures, and the
table that turns them back into the real callables (windows-parport.md Part A, callbacks).

In-process, the callbacks a structure describes are Python callables bound to the handle that
fetched them; the bytes carry a token for each, which :meth:`TokenTable.resolve` maps back.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["TokenTable"]

# Tokens look like x64 kernel addresses: high half, 16-byte aligned, never zero.
_BASE = 0xFFFF_A000_0000_0000
_counter = itertools.count(1)
_counter_lock = threading.Lock()


def _next_token() -> int:
    with _counter_lock:
        return _BASE | (next(_counter) << 4)


class TokenTable:
    """Tokens for callables and objects handed out through one handle."""

    def __init__(self) -> None:
        self._by_token: dict[int, Any] = {}
        self._by_id: dict[int, int] = {}
        self._lock = threading.Lock()

    def token(self, target: Any) -> int:
        """The token standing for ``target`` (the same one each time)."""
        with self._lock:
            existing = self._by_id.get(id(target))
            if existing is not None and self._by_token.get(existing) is target:
                return existing
            value = _next_token()
            self._by_token[value] = target
            self._by_id[id(target)] = value
            return value

    def resolve(self, token: int) -> Any:
        """The callable or object a token stands for; KeyError for a token never handed out."""
        with self._lock:
            try:
                return self._by_token[token]
            except KeyError:
                raise KeyError(f"{token:#018x} is not a pointer this handle was given") from None

    def callable(self, token: int) -> Callable[..., Any]:
        target = self.resolve(token)
        if not callable(target):
            raise TypeError(f"{token:#018x} does not point to a routine")
        return target  # type: ignore[no-any-return]

    def clear(self) -> None:
        with self._lock:
            self._by_token.clear()
            self._by_id.clear()
