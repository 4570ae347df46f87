"""Host-side register sequences exactly as ieee1284.md gives them (Linux and Windows flavours).

The emulator tests drive peripherals with these; they are deliberately written register by
register, like the drivers they come from, and record what the host saw at each step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from parport.hw.backend import PortBackend

ERROR, SELECT, PAPEROUT, ACK, BUSY = 0x08, 0x10, 0x20, 0x40, 0x80
TL_US = 35_000  # IEEE 1284 peripheral response limit


def compat_write(port: PortBackend, data: bytes, timeout_us: float = 5_000_000) -> int:
    """Linux parport_ieee1284_write_compat: wait nFault H and Busy L, data, 1 µs strobe."""
    port.write_control(0x0C)
    written = 0
    for byte in data:
        status = port.wait_status(ERROR | BUSY, ERROR | BUSY, timeout_us)
        if status is None:
            break
        port.write_data(byte)
        port.sleep(1)
        port.write_control(0x0D)
        port.sleep(1)
        port.write_control(0x0C)
        port.sleep(1)
        written += 1
    return written


@dataclass
class Negotiation:
    result: int  # 0 accepted, 1 rejected, -1 not IEEE 1284 (Linux's convention)
    event2: int | None = None
    event6: int | None = None
    xflag: bool = False


def negotiate(port: PortBackend, request: int) -> Negotiation:
    """Linux parport_negotiate, events 0–6 (and 30/31 for ECP)."""
    port.write_control(0x0C)
    port.sleep(1)
    port.write_data(request)  # event 0
    port.sleep(400)
    port.write_control(0x06)  # event 1: nSelectIn H, nAutoFd L
    event2 = port.wait_status(0x78, 0x38, TL_US)  # event 2
    if event2 is None:
        port.write_control(0x0C)
        return Negotiation(-1)
    port.write_control(0x07)  # event 3: nStrobe L
    port.sleep(5)
    port.write_control(0x04)  # event 4: nStrobe H, nAutoFd H
    event6 = port.wait_status(ACK, ACK, TL_US)  # event 6
    if event6 is None:
        terminate(port)
        return Negotiation(1, event2)
    xflag = bool(event6 & SELECT)
    if request and not xflag:
        terminate(port)
        return Negotiation(1, event2, event6, xflag)
    if request & ~0x04 in (0x10, 0x30):
        port.write_control(0x06)  # event 30: HostAck L
        port.wait_status(PAPEROUT, PAPEROUT, TL_US)  # event 31
    return Negotiation(0, event2, event6, xflag)


def terminate(port: PortBackend) -> list[int | None]:
    """Events 22–28 (Linux). Returns the status seen at events 24 and 27."""
    port.write_control(0x0C)  # event 22: nSelectIn L, nAutoFd H
    at24 = port.wait_status(ACK, 0, TL_US)  # event 24
    port.write_control(0x0E)  # event 25: nAutoFd L
    at27 = port.wait_status(ACK, ACK, TL_US)  # event 27
    port.write_control(0x0C)  # event 28
    return [at24, at27]


def terminate_epp(port: PortBackend) -> None:
    """EPP termination (Linux): event 68 nInit low for 50 µs, event 69 nInit high, nSelectIn low."""
    port.write_control(port.read_control() & 0x0B & ~0x04)
    port.sleep(50)
    port.write_control(0x0C)


def read_nibble(port: PortBackend, length: int) -> bytes:
    """Linux parport_ieee1284_read_nibble (events 7–11 twice a byte)."""
    out = bytearray()
    for _ in range(length):
        if port.read_status() & ERROR:  # nDataAvail H: no more data
            break
        byte = 0
        for half in range(2):
            port.write_control(0x06)  # event 7: nAutoFd L
            status = port.wait_status(ACK, 0, TL_US)  # event 9
            if status is None:
                return bytes(out)
            nibble = ((status >> 3) & 0x07) | (0 if status & BUSY else 0x08)
            byte |= nibble << (4 * half)
            port.write_control(0x04)  # event 10
            if port.wait_status(ACK, ACK, TL_US) is None:  # event 11
                return bytes(out)
        out.append(byte)
    return bytes(out)


def read_byte_mode(port: PortBackend, length: int) -> bytes:
    """Linux parport_ieee1284_read_byte (events 14, 7, 9, 10, 11, 16, 17)."""
    out = bytearray()
    for _ in range(length):
        if port.read_status() & ERROR:
            break
        port.write_control(0x24)  # event 14: data drivers off
        port.write_control(0x26)  # event 7
        if port.wait_status(ACK, 0, TL_US) is None:  # event 9
            break
        out.append(port.read_data())
        port.write_control(0x24)  # event 10
        if port.wait_status(ACK, ACK, TL_US) is None:  # event 11
            break
        port.write_control(0x25)  # event 16
        port.sleep(5)
        port.write_control(0x24)  # event 17
    port.write_control(0x04)
    return bytes(out)


@dataclass
class CppResult:
    statuses: list[int] = field(default_factory=list)  # S1 after each of AA 55 00 FF, S2, S3
    response: int | None = None  # Linux: status 1 µs into the strobe; Windows: polled status
    ok: bool = False


def cpp_linux(port: PortBackend, command: int) -> CppResult:
    """Linux cpp_daisy: CTR 0x0C, 2 µs per byte, status read 1 µs into the strobe."""
    result = CppResult()
    port.write_control(0x0C)
    for byte in (0xAA, 0x55, 0x00, 0xFF, 0x87, 0x78):
        port.write_data(byte)
        port.sleep(2)
        result.statuses.append(port.read_status())
    port.write_data(command)
    port.sleep(2)
    port.write_control(0x0D)  # nStrobe L
    port.sleep(1)
    result.response = port.read_status()
    port.write_control(0x0C)
    port.sleep(1)
    port.write_data(0xFF)
    port.sleep(2)
    s = result.statuses
    result.ok = s[3] & 0xB8 == 0xB8 and s[4] & 0xB8 == 0x18 and s[5] & 0x30 == 0x30
    return result


def cpp_windows(port: PortBackend, command: int, polls: int = 25_000) -> CppResult:
    """Windows PptSend1284_3Command: CTR 0x04, 3 µs stalls, poll nFault while nStrobe is low."""
    result = CppResult()
    port.write_control(0x04)
    for byte in (0xAA, 0x55, 0x00, 0xFF, 0x87, 0x78):
        port.write_data(byte)
        port.sleep(3)
        result.statuses.append(port.read_status())
    port.write_data(command)
    port.sleep(3)
    port.write_control(0x05)  # nStrobe L
    port.sleep(3)
    want = {0xE0: ERROR, 0x30: 0}.get(command & 0xF8 if command & 0xF0 != 0xE0 else 0xE0)
    ok = True
    if want is not None:
        status = port.wait_status(ERROR, want, polls * 0.01)
        result.response = status
        ok = status is not None
    port.write_control(0x04)
    port.write_data(0xFF)
    port.sleep(3)
    s = result.statuses
    result.ok = ok and s[3] & 0xB8 == 0xB8 and s[4] & 0xB8 == 0x18 and s[5] & 0x30 == 0x30
    return result


def assign_addresses_linux(port: PortBackend) -> int:
    """Linux assign_addrs: the number of 1284.3 devices that took an address."""
    port.write_control(0x0C)
    for byte in (0xAA, 0x55, 0x00, 0xFF):
        port.write_data(byte)
        port.sleep(2)
    if port.read_status() & 0xB8 != 0xB8:
        return 0
    port.write_data(0x87)
    port.sleep(2)
    if port.read_status() & 0xB8 != 0x18:
        port.write_data(0xFF)
        return 0
    port.write_data(0x78)
    port.sleep(2)
    status = port.read_status()
    count = 0
    while count < 4 and status & (PAPEROUT | SELECT) == PAPEROUT | SELECT:
        port.write_data(count)
        port.sleep(2)
        port.write_control(0x0D)
        port.sleep(1)
        port.write_control(0x0C)
        port.sleep(1)
        count += 1
        if not status & BUSY:  # Busy pin H: that was the last device
            break
        status = port.read_status()
    port.write_data(0xFF)
    port.sleep(2)
    return count


def zip_connect(port: PortBackend, mode_byte: int = 0x8F) -> None:
    """ppa_c_pulse x4: 00 3C 20 + mode, each with CTR 04 06 04 0C."""
    for byte in (0x00, 0x3C, 0x20, mode_byte):
        port.write_data(byte)
        for ctr in (0x04, 0x06, 0x04, 0x0C):
            port.write_control(ctr)


def zip_disconnect(port: PortBackend) -> None:
    """ppa_d_pulse x4: 00 3C 20 0F, each with CTR 0C 0E 0C 04 0C."""
    for byte in (0x00, 0x3C, 0x20, 0x0F):
        port.write_data(byte)
        for ctr in (0x0C, 0x0E, 0x0C, 0x04, 0x0C):
            port.write_control(ctr)


def zip_present(port: PortBackend) -> bool:
    """The nAutoFd -> nFault mirror check both drivers make after connecting."""
    port.write_control(0x0E)
    high = bool(port.read_status() & ERROR)
    port.write_control(0x0C)
    low = not port.read_status() & ERROR
    return high and low
