"""The emulator against real hardware: register accesses per second, and a 1284.3 select +
deselect in wall time beside the virtual time the same accesses take on an ISA port.

Floors measured in the same run: a trivial Python method call (what one access costs at the
least), and the virtual time (what real hardware needs for the same register accesses).
Target (register-access issue): wall / virtual ≤ 1.0, the emulator never slower than hardware.
"""

from __future__ import annotations

from parport.hw import open_backend
from parport.hw.emu import EmulatedPort
from parport.ieee1284 import dot3

from .common import best_of, method_call_floor_ns, table

ACCESSES = 100_000
PAIRS = 1000
REPEATS = 7


def _access_rates(spec: str) -> tuple[float, float, float]:
    port = open_backend(spec)
    assert isinstance(port, EmulatedPort)

    def writes() -> None:
        write = port.write_data
        for _ in range(ACCESSES // 2):
            write(0x11)
            write(0x22)

    def reads() -> None:
        read = port.read_status
        for _ in range(ACCESSES):
            read()

    def controls() -> None:
        write = port.write_control
        for _ in range(ACCESSES // 2):
            write(0x0C)
            write(0x0E)

    return tuple(best_of(REPEATS, f) / ACCESSES * 1e9 for f in (writes, reads, controls))  # type: ignore[return-value]


def _select_deselect() -> tuple[float, float, int]:
    port = open_backend("emu:")
    assert dot3.assign_addresses(port) == 2
    virtual: list[float] = []
    accesses: list[int] = []

    def run() -> None:
        start, count = port.now(), port.accesses
        for _ in range(PAIRS):
            assert dot3.select(port, 1)
            assert dot3.deselect_all(port)
        virtual.append((port.now() - start) / PAIRS)
        accesses.append((port.accesses - count) // PAIRS)

    wall = best_of(REPEATS, run) / PAIRS * 1e6
    return wall, virtual[-1], accesses[-1]


def main() -> str:
    floor = method_call_floor_ns()
    rows = []
    for spec in ("emu:chain=", "emu:chain=printer", "emu:"):
        write, read, control = _access_rates(spec)
        for name, ns in (("write data", write), ("read status", read), ("write control", control)):
            rows.append(
                (
                    spec,
                    name,
                    f"{1e9 / ns / 1e6:.2f} M/s",
                    f"{ns:.0f} ns",
                    f"{ns / floor:.1f}",
                    f"{ns / 1000:.2f}",
                )
            )
    out = [
        "Register accesses (1 µs each on an ISA port):",
        table(
            (
                "chain",
                "access",
                "rate",
                "wall per access",
                "× method-call floor",
                "wall / virtual",
            ),
            rows,
        ),
    ]
    wall, virtual, accesses = _select_deselect()
    out += [
        "",
        f"1284.3 SELECT + DESELECT (Windows CPP sequence, {accesses} accesses, emu: chain):",
        table(
            ("wall", "virtual (hardware)", "wall / virtual", "target"),
            [(f"{wall:.1f} µs", f"{virtual:.1f} µs", f"{wall / virtual:.2f}", "≤ 1.0")],
        ),
        f"(method-call floor this run: {floor:.0f} ns)",
    ]
    return "\n".join(out)


if __name__ == "__main__":
    print(main())
