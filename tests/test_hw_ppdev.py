"""The ppdev backend against a fake kernel: registers, the soft control copy, the claim at the
seam, whole transfers, every error a user meets (with its exact message) and the PPRELEASE hang.

The real kernel is exercised in the QEMU guest (tests/hil/test_stack_ppdev.py)."""

from __future__ import annotations

import errno
import logging
import os
import stat
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import parport
from parport import nt
from parport.hw import discover, ppdev
from parport.hw.ppdev import PpdevPort
from parport.hw.spec import parse_spec, ppdev_options
from parport.nt.errors import (
    NotAPortError,
    PortHungError,
    PortInUseError,
    PortNotFoundError,
    PortPermissionError,
)

REGISTER_IOCTLS = {
    ppdev.PPRSTATUS,
    ppdev.PPRDATA,
    ppdev.PPWDATA,
    ppdev.PPRCONTROL,
    ppdev.PPWCONTROL,
    ppdev.PPDATADIR,
    ppdev.PPSETTIME,
    ppdev.PPRELEASE,
}


class FakeKernel(ppdev.SystemCalls):
    """ppdev as the backend sees it: an idle printer on an SPP/PS2 port (QEMU's model)."""

    def __init__(self, *, modes: int = 0x43, major: int = 99, minor: int = 0) -> None:
        self.modes = modes
        self.major = major
        self.minor = minor
        self.open_errno: int | None = None
        self.errnos: dict[int, int] = {}  # request -> errno
        self.claimed = False
        self.data = 0
        self.control = 0x0C
        self.reverse = False
        self.status = 0xD8
        self.mode = ppdev.IEEE1284_MODE_COMPAT
        self.calls: list[int] = []
        self.written = bytearray()
        self.write_limit: int | None = None
        self.to_read = bytearray()
        self.blocking = True
        self.release_gate: threading.Event | None = None  # PPRELEASE waits for it
        self.closed = False

    def open(self, path: str) -> int:
        if self.open_errno is not None:
            raise OSError(self.open_errno, os.strerror(self.open_errno), path)
        return 42

    def fstat(self, fd: int) -> Any:
        return SimpleNamespace(
            st_mode=stat.S_IFCHR | 0o660, st_rdev=os.makedev(self.major, self.minor)
        )

    def ioctl(self, fd: int, request: int, arg: Any = 0) -> Any:
        self.calls.append(request)
        if request in self.errnos:
            code = self.errnos[request]
            raise OSError(code, os.strerror(code))
        if request in REGISTER_IOCTLS and not self.claimed:
            raise OSError(errno.EINVAL, "not claimed")
        if request == ppdev.PPGETMODES:
            return struct.pack("=i", self.modes)
        if request == ppdev.PPGETMODE:
            return struct.pack("=i", self.mode)
        if request == ppdev.PPCLAIM:
            if self.claimed:
                raise OSError(errno.EINVAL, "claimed twice")
            self.claimed = True
            return 0
        if request == ppdev.PPRELEASE:
            if self.release_gate is not None:
                self.release_gate.wait(30)
            self.claimed = False
            return 0
        if request == ppdev.PPRSTATUS:
            return bytes([self.status])
        if request == ppdev.PPRDATA:
            return bytes([0xFF if self.reverse else self.data])
        if request == ppdev.PPWDATA:
            self.data = arg[0]
            return arg
        if request == ppdev.PPRCONTROL:
            return bytes([self.control & 0x0F])
        if request == ppdev.PPWCONTROL:
            self.control = arg[0] & 0x0F
            return arg
        if request == ppdev.PPDATADIR:
            self.reverse = bool(struct.unpack("=i", arg)[0])
            return arg
        if request == ppdev.PPSETMODE:
            self.mode = struct.unpack("=i", arg)[0]
            return arg
        return arg

    def write(self, fd: int, data: bytes | memoryview) -> int:
        if not self.claimed:
            raise OSError(errno.EINVAL, "not claimed")
        chunk = bytes(data)
        if self.write_limit is not None:
            chunk = chunk[: self.write_limit]
            self.write_limit = 0
        self.written += chunk
        return len(chunk)

    def read(self, fd: int, length: int) -> bytes:
        if not self.to_read:
            if self.blocking:
                raise AssertionError("a blocking read with nothing to read would hang ppdev")
            raise BlockingIOError(errno.EAGAIN, "nothing")
        out = bytes(self.to_read[:length])
        del self.to_read[:length]
        return out

    def set_blocking(self, fd: int, blocking: bool) -> None:
        self.blocking = blocking

    def close(self, fd: int) -> None:
        self.closed = True


def _tree(root: Path, *, devices: tuple[str, ...] = ("ppdev0",), ppdev_loaded: bool = True) -> str:
    port = root / "proc/sys/dev/parport/parport0"
    (port / "devices").mkdir(parents=True)
    (port / "base-addr").write_text("888\t0\n")
    (port / "irq").write_text("7\n")
    (port / "dma").write_text("-1\n")
    (port / "modes").write_text("PCSPP,TRISTATE\n")
    (port / "devices/active").write_text("none\n")
    for name in devices:
        (port / "devices" / name).mkdir()
    if ppdev_loaded:
        (root / "sys/module/ppdev").mkdir(parents=True)
    return str(root)


@pytest.fixture
def fake() -> FakeKernel:
    return FakeKernel()


@pytest.fixture
def port(fake: FakeKernel, tmp_path: Path) -> Iterator[PpdevPort]:
    backend = PpdevPort("/dev/parport0", system=fake, root=_tree(tmp_path))
    yield backend
    backend.close()


# --- ioctl numbers and specs ---------------------------------------------------------------------


def test_ioctl_numbers_are_the_kernels() -> None:
    # shared/spec/ieee1284.md §6.4, x86-64
    assert (ppdev.PPSETMODE, ppdev.PPRSTATUS, ppdev.PPRCONTROL) == (
        0x40047080,
        0x80017081,
        0x80017083,
    )
    assert (ppdev.PPWCONTROL, ppdev.PPRDATA, ppdev.PPWDATA) == (0x40017084, 0x80017085, 0x40017086)
    assert (ppdev.PPCLAIM, ppdev.PPRELEASE, ppdev.PPEXCL) == (0x708B, 0x708C, 0x708F)
    assert (ppdev.PPDATADIR, ppdev.PPSETTIME, ppdev.PPGETMODES) == (
        0x40047090,
        0x40107096,
        0x80047097,
    )


@pytest.mark.parametrize(
    ("spec", "target", "options"),
    [
        ("ppdev:0", "/dev/parport0", {}),
        ("ppdev:", "/dev/parport0", {}),
        ("ppdev:12", "/dev/parport12", {}),
        ("/dev/parport1", "/dev/parport1", {}),
        ("/dev/parport1?exclusive=1", "/dev/parport1", {"exclusive": "1"}),
        ("ppdev:2?release_timeout=0.5", "/dev/parport2", {"release_timeout": "0.5"}),
        ("ppdev:/dev/parport3", "/dev/parport3", {}),
    ],
)
def test_ppdev_specs(spec: str, target: str, options: dict[str, str]) -> None:
    parsed = parse_spec(spec)
    assert (parsed.scheme, parsed.target, parsed.options) == ("ppdev", target, options)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "ppdev:lp0",
            "ppdev:lp0 names no port: give a port number like 'ppdev:0' or a device node like "
            "'/dev/parport0'",
        ),
        ("ppdev:0?exclusive=yes please", "ppdev: exclusive=yes please is not allowed: exclusive "),
        ("/dev/parport0?colour=red", "ppdev: unknown options [colour=red]; ppdev takes exclusive"),
        ("ppdev:0?release_timeout=0", "ppdev: release_timeout=0 is not allowed: give seconds"),
        ("ppdev:0?exclusive", "ppdev: option 'exclusive' is not allowed: ppdev options are"),
    ],
)
def test_bad_ppdev_specs(spec: str, message: str) -> None:
    with pytest.raises(nt.SpecError) as info:
        parse_spec(spec)
    assert str(info.value).startswith(message)


def test_ppdev_options() -> None:
    assert ppdev_options({"exclusive": "1", "release_timeout": "3"}) == {
        "exclusive": True,
        "release_timeout": 3.0,
    }
    assert ppdev_options({}) == {}


# --- registers ------------------------------------------------------------------------------------


def test_open_claims_once_for_detection(port: PpdevPort, fake: FakeKernel) -> None:
    assert fake.claimed and port.claimed
    assert fake.calls[:2] == [ppdev.PPGETMODES, ppdev.PPCLAIM]
    assert ppdev.PPEXCL not in fake.calls  # never exclusive unless asked
    port.claim()  # the seam's first claim: already held
    assert fake.calls.count(ppdev.PPCLAIM) == 1
    port.release()
    assert not fake.claimed and not port.claimed


def test_data_and_status(port: PpdevPort, fake: FakeKernel) -> None:
    for value in (0x00, 0x55, 0xAA, 0xFF):
        port.write_data(value)
        assert port.read_data() == value
    # no EPP in the kernel's modes: the EPP timeout bit reads 1, as on an SPP chip (§1.4)
    assert port.read_status() == 0xD9


def test_status_is_raw_with_epp(fake: FakeKernel, tmp_path: Path) -> None:
    fake.modes = 0x47
    with PpdevPort(system=fake, root=_tree(tmp_path)) as backend:
        assert backend.read_status() == 0xD8
        assert backend.capabilities.epp


def test_control_soft_copy(port: PpdevPort, fake: FakeKernel) -> None:
    port.write_control(0x2C)  # reverse: PPDATADIR, then the low bits
    assert fake.reverse and fake.control == 0x0C
    assert port.read_control() == 0x2C
    assert port.read_data() == 0xFF  # the lines float high in reverse
    port.write_control(0x3D)
    assert fake.control == 0x0D and port.read_control() == 0x3D
    assert fake.calls.count(ppdev.PPDATADIR) == 1  # only when the direction changes
    port.write_control(0x0C)
    assert not fake.reverse and port.read_control() == 0x0C
    assert fake.calls.count(ppdev.PPDATADIR) == 2


def test_access_while_unclaimed_claims_first(port: PpdevPort, fake: FakeKernel) -> None:
    port.release()
    assert port.read_status() == 0xD9
    assert fake.claimed and port.claimed


@pytest.mark.parametrize(
    ("modes", "kind", "flags"),
    [
        (0x01, "spp", (False, False, False)),
        (0x43, "ps2", (True, False, False)),
        (0x47, "epp", (True, True, False)),
        (0x5B, "ecp", (True, False, True)),
        (0x7F, "ecp+epp", (True, True, True)),
    ],
)
def test_capabilities_from_ppgetmodes(
    modes: int, kind: str, flags: tuple[bool, bool, bool], tmp_path: Path
) -> None:
    fake = FakeKernel(modes=modes)
    with PpdevPort(system=fake, root=_tree(tmp_path)) as backend:
        caps = backend.capabilities
        assert (caps.kind, (caps.ps2, caps.epp, caps.ecp)) == (kind, flags)
        assert (caps.base, caps.irq, caps.dma) == (0x378, 7, None)


# --- whole transfers ------------------------------------------------------------------------------


def test_compat_write_through_the_kernel(port: PpdevPort, fake: FakeKernel) -> None:
    block = port.compat_write_data(b"hello")
    assert (block.status, block.count) == (nt.STATUS_SUCCESS, 5)
    assert bytes(fake.written) == b"hello"
    assert fake.mode == ppdev.IEEE1284_MODE_COMPAT
    fake.write_limit = 2  # the printer stalls after two bytes (the kernel's timeout passed)
    block = port.compat_write_data(b"abcdef")
    assert (block.status, block.count) == (nt.STATUS_DEVICE_BUSY, 2)
    assert port.compat_write_data(b"x", lambda: True).status == nt.STATUS_CANCELLED


def test_epp_and_ecp_modes(port: PpdevPort, fake: FakeKernel) -> None:
    assert port.epp_write_addr(b"\x01").count == 1
    assert fake.mode == ppdev.IEEE1284_MODE_EPP | ppdev.IEEE1284_ADDR
    assert port.ecp_write_data(b"ab").status == nt.STATUS_SUCCESS
    assert fake.mode == ppdev.IEEE1284_MODE_ECP
    fake.to_read += b"xyz"
    block = port.epp_read_data(5)
    assert (block.status, block.data) == (nt.STATUS_IO_TIMEOUT, b"xyz")
    assert fake.blocking  # O_NONBLOCK only during the read
    port.release()  # back to compatibility mode before the release
    assert fake.mode == ppdev.IEEE1284_MODE_COMPAT


def test_reverse_reads_never_block(port: PpdevPort, fake: FakeKernel) -> None:
    fake.to_read += b"ID"
    block = port.nibble_read_data(10)
    assert (block.status, block.data) == (nt.STATUS_SUCCESS, b"ID")
    assert fake.mode == ppdev.IEEE1284_MODE_NIBBLE
    assert port.byte_read_data(4).data == b""


def test_no_epp_registers_without_epp(port: PpdevPort) -> None:
    with pytest.raises(OSError, match="no EPP data register"):
        port.read_epp_data()


# --- through the whole stack: the seam claims exactly while the arbiter grants --------------------


def test_claim_follows_the_arbiter(fake: FakeKernel, tmp_path: Path) -> None:
    from parport.driver.bus import ParallelBus
    from parport.facade import Bus

    backend = PpdevPort(system=fake, root=_tree(tmp_path))
    with Bus(ParallelBus(backend)) as bus:
        assert not fake.claimed  # the open's claim ended with the first scan
        with bus.port.allocated(timeout=5):
            assert fake.claimed
        assert not fake.claimed
        bus.pins.set_data(0x5A)  # one register script each: claimed, then released
        assert bus.pins.read_data() == 0x5A and fake.data == 0x5A
        assert not fake.claimed
    assert fake.closed


def test_an_exclusive_port_stays_claimed_from_open_to_close(
    fake: FakeKernel, tmp_path: Path
) -> None:
    """With PPEXCL nobody else can register on the port: the claim taken at open is kept, and
    a pin write is one PPWDATA, with no PPCLAIM or PPRELEASE around it."""
    from parport.driver.bus import ParallelBus
    from parport.facade import Bus

    backend = PpdevPort(system=fake, root=_tree(tmp_path), exclusive=True)
    assert not backend.shared
    with Bus(ParallelBus(backend)) as bus:
        assert fake.claimed  # the first scan's end does not release it
        before = len(fake.calls)
        bus.pins.set_data(0x5A)
        assert fake.calls[before:] == [ppdev.PPWDATA] and fake.data == 0x5A
        with bus.port.allocated(timeout=5):
            assert fake.claimed
        assert fake.claimed
        assert fake.calls.count(ppdev.PPCLAIM) == 1 and ppdev.PPRELEASE not in fake.calls
    assert fake.closed


# --- errors a user meets --------------------------------------------------------------------------


def _refused(fake: FakeKernel, root: str, path: str = "/dev/parport0", **kw: Any) -> Exception:
    with pytest.raises(OSError) as info:
        PpdevPort(path, system=fake, root=root, **kw)
    assert fake.closed or fake.open_errno is not None
    return info.value


def test_no_node_no_ports(fake: FakeKernel, tmp_path: Path) -> None:
    fake.open_errno = errno.ENOENT
    error = _refused(fake, str(tmp_path))
    assert isinstance(error, PortNotFoundError) and isinstance(error, FileNotFoundError)
    assert str(error) == (
        "/dev/parport0 does not exist: the kernel drives no parallel port; load the drivers "
        "('sudo modprobe -a parport_pc ppdev'); a port the BIOS hides may need "
        "'parport_pc io=0x378' (docs/hardware.md)"
    )
    assert error.errno == errno.ENOENT and error.status == nt.STATUS_NO_SUCH_DEVICE


def test_no_node_ppdev_not_loaded(fake: FakeKernel, tmp_path: Path) -> None:
    fake.open_errno = errno.ENOENT
    error = _refused(fake, _tree(tmp_path, ppdev_loaded=False))
    assert str(error) == (
        "/dev/parport0 does not exist: load ppdev ('sudo modprobe ppdev'; ports: parport0)"
    )


def test_no_node_for_that_number(fake: FakeKernel, tmp_path: Path) -> None:
    fake.open_errno = errno.ENOENT
    error = _refused(fake, _tree(tmp_path), "/dev/parport1")
    assert str(error) == (
        "/dev/parport1 does not exist: the kernel has no parport1 (ports: parport0)"
    )


def test_permission_denied(fake: FakeKernel, tmp_path: Path) -> None:
    fake.open_errno = errno.EACCES
    node = tmp_path / "parport0"
    node.write_text("")
    node.chmod(0o660)
    os.chown(node, -1, 7) if os.geteuid() == 0 else None
    error = _refused(fake, _tree(tmp_path / "root"), str(node))
    assert isinstance(error, PortPermissionError) and isinstance(error, PermissionError)
    assert str(error).startswith(f"cannot open {node}: permission denied; {node} is 0660, group ")
    assert error.status == nt.STATUS_ACCESS_DENIED


def test_permission_hint_names_the_group() -> None:
    info: Any = SimpleNamespace(st_mode=stat.S_IFCHR | 0o660, st_gid=_gid_of("lp"))
    if info.st_gid is None:
        pytest.skip("no lp group here")
    assert discover.permission_hint("/dev/parport0", info) == (
        "/dev/parport0 is 0660, group lp: join the group ('sudo usermod -aG lp $USER', then "
        "log in again) or add a udev rule (docs/hardware.md)"
    )
    info.st_gid, info.st_mode = 0, stat.S_IFCHR | 0o600
    assert discover.permission_hint("/dev/parport0", info) == (
        "/dev/parport0 is 0600, group root: add a udev rule giving a group read and write "
        'access, e.g. KERNEL=="parport[0-9]*", GROUP="lp", MODE="0660" (docs/hardware.md)'
    )


def _gid_of(name: str) -> int | None:
    import grp

    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


@pytest.mark.parametrize("code", [errno.ENXIO, errno.ENODEV])
def test_no_port_behind_the_node(fake: FakeKernel, tmp_path: Path, code: int) -> None:
    fake.minor = 1
    fake.errnos[ppdev.PPGETMODES] = code
    error = _refused(fake, _tree(tmp_path), "/dev/parport1")
    assert isinstance(error, PortNotFoundError)
    assert str(error) == (
        "/dev/parport1 has no port behind it: the kernel has no parport1 (its ports: "
        "parport0); load parport_pc or give another port ('parport list' shows them)"
    )


def test_busy_names_the_driver(fake: FakeKernel, tmp_path: Path) -> None:
    fake.open_errno = errno.EBUSY
    error = _refused(fake, _tree(tmp_path, devices=("lp",)))
    assert isinstance(error, PortInUseError) and isinstance(error, BlockingIOError)
    assert str(error) == (
        "/dev/parport0 is busy: another driver holds /dev/parport0 exclusively; unload it "
        "('lsmod' shows the drivers) or stop the program using it"
    )


def test_claim_refused_names_the_exclusive_driver(fake: FakeKernel, tmp_path: Path) -> None:
    fake.errnos[ppdev.PPCLAIM] = errno.ENXIO
    error = _refused(fake, _tree(tmp_path, devices=("lp", "ppdev0")))
    assert isinstance(error, PortInUseError)
    assert str(error) == (
        "cannot claim /dev/parport0: lp holds parport0 exclusively; unload it "
        "('sudo rmmod lp') or stop the program using it"
    )


def test_exclusive_with_lp_loaded(fake: FakeKernel, tmp_path: Path) -> None:
    fake.errnos[ppdev.PPCLAIM] = errno.ENXIO
    error = _refused(fake, _tree(tmp_path, devices=("lp", "ppdev0")), exclusive=True)
    assert ppdev.PPEXCL in fake.calls
    assert str(error) == (
        "cannot have /dev/parport0 exclusively: lp is also registered on parport0; unload it "
        "('sudo rmmod lp') or drop '?exclusive=1'"
    )


def test_usb_printer_is_not_a_port(fake: FakeKernel, tmp_path: Path) -> None:
    fake.major = 180
    error = _refused(fake, _tree(tmp_path), "/dev/usb/lp0")
    assert isinstance(error, NotAPortError) and isinstance(error, ValueError)
    assert error.errno == errno.ENOTTY
    assert str(error) == (
        "/dev/usb/lp0 is a USB printer-class device, not a ppdev port: USB parallel adapters "
        "have no register access; print to it as a file, or use a motherboard, PCI or PCIe "
        "port (/dev/parportN)"
    )


def test_lp_node_is_not_a_port(fake: FakeKernel, tmp_path: Path) -> None:
    fake.major = 6
    error = _refused(fake, _tree(tmp_path), "/dev/lp0")
    assert str(error) == (
        "/dev/lp0 is the lp printer driver's node, not ppdev's: use the port's /dev/parportN "
        "(load ppdev: 'sudo modprobe ppdev')"
    )


def test_enotty_is_not_a_port(fake: FakeKernel, tmp_path: Path) -> None:
    fake.errnos[ppdev.PPGETMODES] = errno.ENOTTY
    error = _refused(fake, _tree(tmp_path))
    assert isinstance(error, NotAPortError)


def test_real_files_that_are_not_ports(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.write_bytes(b"x")
    for path, message in (
        (str(plain), f"{plain} is not a ppdev port (not a character device): give /dev/parportN"),
        ("/dev/null", "/dev/null is not a ppdev port (char major 1, not 99): give /dev/parportN"),
    ):
        with pytest.raises(NotAPortError) as info:
            parport.open(path) if path.startswith("/dev/") else PpdevPort(path)
        assert str(info.value) == message


# --- the PPRELEASE hang ---------------------------------------------------------------------------


def test_a_hung_release_is_bounded_and_reported(
    fake: FakeKernel, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = _tree(tmp_path)
    backend = PpdevPort(system=fake, root=root, release_timeout=0.05)
    gate = fake.release_gate = threading.Event()
    late = threading.Event()
    original = backend._released_late

    def released_late(seconds: float) -> None:
        original(seconds)
        late.set()

    backend._released_late = released_late  # type: ignore[method-assign]
    try:
        with caplog.at_level(logging.ERROR, logger="parport.hw.ppdev"):
            backend.release()  # returns after release_timeout although PPRELEASE does not
        message = backend.hung
        assert message is not None
        assert message.startswith(
            "/dev/parport0: PPRELEASE did not return within 0.05 s: another process"
        )
        assert message.endswith(
            "is blocked in PPCLAIM on this port and holds ppdev's global lock (a Linux ppdev "
            "deadlock); parport no longer touches this port: end that process, then open the "
            "port again, and let one process own a shared port (docs/hardware.md)"
        )
        assert [r.getMessage() for r in caplog.records] == [message]
        with pytest.raises(PortHungError) as info:
            backend.read_status()
        assert str(info.value) == message and isinstance(info.value, OSError)
        with pytest.raises(PortHungError):
            backend.compat_write_data(b"x")
        with pytest.raises(PortHungError):
            backend.claim()
        with pytest.raises(PortHungError) as again:  # a second open would deadlock for good
            PpdevPort(system=FakeKernel(), root=root)
        assert str(again.value).startswith(
            "/dev/parport0: not opened again: this process's earlier release of it has not "
            "returned yet (/dev/parport0: PPRELEASE did not return"
        )
        backend.release()  # no second release is tried
        listed = {p.node: p for p in discover.list_ports(root)}
        assert listed["/dev/parport0"].hung == message
        assert "HUNG" in listed["/dev/parport0"].description()
        # the kernel lets it through later: usable again
        gate.set()
        assert late.wait(10)
        assert backend.hung is None and "/dev/parport0" not in discover.hung_ports()
        assert backend.read_status() == 0xD9
    finally:
        gate.set()
        backend.close()
        discover.report_hung("/dev/parport0", None)


def test_close_of_a_hung_port_does_not_wait(fake: FakeKernel, tmp_path: Path) -> None:
    backend = PpdevPort(system=fake, root=_tree(tmp_path), release_timeout=0.05)
    gate = fake.release_gate = threading.Event()
    try:
        backend.close()  # the release hangs: close returns anyway
        assert backend.closed and backend.hung is not None
        assert not fake.closed  # the node stays open while the helper may still use it
    finally:
        gate.set()
        discover.report_hung("/dev/parport0", None)
