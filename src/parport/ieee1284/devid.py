"""IEEE 1284 device IDs: the tolerant reading rules and the parser (ieee1284.md §3.2, §3.3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["CLASSES", "DeviceId", "parse_device_id", "read_device_id"]

CLASSES = (
    "PRINTER",
    "MODEM",
    "NET",
    "HDC",
    "PCMCIA",
    "MEDIA",
    "FDC",
    "PORTS",
    "SCANNER",
    "DIGICAM",
    "SCSIADAPTER",
)
_LONG_NAMES = {
    "MANUFACTURER": "MFG",
    "MODEL": "MDL",
    "COMMAND SET": "CMD",
    "CLASS": "CLS",
    "DESCRIPTION": "DES",
}


@dataclass(frozen=True, slots=True)
class DeviceId:
    """A parsed IEEE 1284 device ID."""

    text: str
    fields: dict[str, str] = field(default_factory=dict)  # every KEY:value, keys upper-cased

    @property
    def manufacturer(self) -> str | None:
        return self.fields.get("MFG")

    @property
    def model(self) -> str | None:
        return self.fields.get("MDL")

    @property
    def command_set(self) -> list[str]:
        value = self.fields.get("CMD", "")
        return [item.strip() for item in value.split(",") if item.strip()]

    @property
    def description(self) -> str | None:
        return self.fields.get("DES")

    @property
    def device_class(self) -> str:
        """The CLS value if it is a known class, else OTHER; Unspecified or Printer without one."""
        cls = self.fields.get("CLS")
        if cls is not None:
            return cls.upper() if cls.upper() in CLASSES else "OTHER"
        commands = {c.upper() for c in self.command_set}
        return "PRINTER" if commands & {"PJL", "PCL"} else "Unspecified"

    @property
    def complete(self) -> bool:
        """Both MFG and MDL present: what Windows needs to create an end-of-chain device."""
        return bool(self.manufacturer) and bool(self.model)


def parse_device_id(text: str) -> DeviceId:
    """Split on ``;`` then on the first ``:``; keys upper-cased (long names mapped to the short
    ones), trailing blanks stripped from values."""
    fields: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.partition(":")
        if not sep:
            continue
        key = key.strip().upper()
        key = _LONG_NAMES.get(key, key)
        if key and key not in fields:
            fields[key] = value.rstrip()
    return DeviceId(text, fields)


def read_device_id(read: Callable[[int], bytes], more: Callable[[], bool]) -> bytes | None:
    """Read a device ID with Linux's tolerant rules (§3.3).

    ``read(n)`` returns up to ``n`` bytes from the peripheral; ``more()`` says whether the
    peripheral still signals data available. Returns the 2 prefix bytes plus the text read, or
    None when the ID is broken (no prefix, or a nonsense length).
    """
    prefix = read(2)
    if len(prefix) != 2:
        return None
    be = int.from_bytes(prefix, "big")
    le = int.from_bytes(prefix, "little")
    if be == le and (be == 0 or be > 0xFFF):
        return None
    low, high = min(be, le), max(be, le)
    candidates = [high, high + 2] if low <= 2 else [low, low + 2]
    if be != le and low > 2:
        candidates += [high, high + 2]
    got = bytearray(prefix)
    for total in candidates:
        if len(got) < total:
            got += read(total - len(got))  # stops early when the peripheral has no more
        if not more() or got.endswith(b";"):
            break
    return bytes(got)
