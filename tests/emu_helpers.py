"""Small helpers for the emulator tests."""

from __future__ import annotations

from typing import Any

from parport.hw.emu import EmulatedPort, build_chain


def make_port(*kinds: str, ps2_mode: bool = True, **options: Any) -> EmulatedPort:
    """A port with this chain; ECR ports are put in PS/2 mode (ECR 0x34), as Linux leaves them."""
    port = EmulatedPort(build_chain([{"kind": k} for k in kinds]), **options)
    if ps2_mode and port.capabilities.ecr:
        port.write_ecr(0x34)
    return port


def status_low(port: EmulatedPort) -> int:
    """The status register without the vendor low bits."""
    return port.read_status() & 0xF8
