"""The HIL harness's own pieces, on the host (no guest, no hil marker)."""

from __future__ import annotations

import lzma
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import guest
import pytest

MODULES_DEP = """\
kernel/drivers/virtio/virtio_ring.ko.xz:
kernel/drivers/virtio/virtio.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz
kernel/drivers/virtio/virtio_pci_legacy_dev.ko.xz:
kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz:
kernel/drivers/virtio/virtio_pci.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz \
kernel/drivers/virtio/virtio_pci_modern_dev.ko.xz \
kernel/drivers/virtio/virtio_pci_legacy_dev.ko.xz kernel/drivers/virtio/virtio.ko.xz
kernel/fs/netfs/netfs.ko.xz:
kernel/fs/fscache/fscache.ko.xz: kernel/fs/netfs/netfs.ko.xz
kernel/net/9p/9pnet.ko.xz:
kernel/net/9p/9pnet_virtio.ko.xz: kernel/drivers/virtio/virtio.ko.xz kernel/net/9p/9pnet.ko.xz \
kernel/drivers/virtio/virtio_ring.ko.xz
kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/fscache/fscache.ko.xz \
kernel/fs/netfs/netfs.ko.xz
kernel/drivers/parport/parport.ko.xz:
kernel/drivers/parport/parport_pc.ko.xz: kernel/drivers/parport/parport.ko.xz
kernel/drivers/char/ppdev.ko.xz: kernel/drivers/parport/parport.ko.xz
kernel/drivers/char/lp.ko.xz: kernel/drivers/parport/parport.ko.xz
"""


def _moddir(tmp_path: Path) -> Path:
    (tmp_path / "modules.dep").write_text(MODULES_DEP.replace("\\\n", ""))
    return tmp_path


def test_module_load_order_loads_dependencies_first(tmp_path: Path) -> None:
    order = guest.module_load_order(_moddir(tmp_path))
    assert set(order) == {
        "virtio_ring",
        "virtio",
        "virtio_pci_legacy_dev",
        "virtio_pci_modern_dev",
        "virtio_pci",
        "netfs",
        "fscache",
        "9pnet",
        "9pnet_virtio",
        "9p",
        "parport",
        "parport_pc",
        "ppdev",
    }  # lp is not asked for: it would take the port from ppdev users
    deps = guest._parse_modules_dep(tmp_path)
    for name in order:
        assert all(order.index(dep) < order.index(name) for dep in deps[name]), name


def test_an_unknown_module_makes_the_guest_unavailable(tmp_path: Path) -> None:
    with pytest.raises(guest.HilUnavailableError, match="nosuch"):
        guest.module_load_order(_moddir(tmp_path), ["ppdev", "nosuch"])


def test_compressed_modules_are_decompressed(tmp_path: Path) -> None:
    obj = b"\x7fELF module body"
    xz = tmp_path / "ppdev.ko.xz"
    xz.write_bytes(lzma.compress(obj))
    plain = tmp_path / "parport.ko"
    plain.write_bytes(obj)
    assert guest._module_bytes(xz) == obj
    assert guest._module_bytes(plain) == obj


def _elf(tmp_path: Path, *, interp: bool) -> Path:
    """A minimal little-endian ELF64 header with one program header (PT_INTERP or PT_LOAD)."""
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<QHH", header, 0x20, 64, 0, 0)  # e_phoff
    struct.pack_into("<H", header, 0x36, 56)  # e_phentsize
    struct.pack_into("<H", header, 0x38, 1)  # e_phnum
    phdr = bytearray(56)
    struct.pack_into("<I", phdr, 0, 3 if interp else 1)
    path = tmp_path / ("dynamic" if interp else "static")
    path.write_bytes(bytes(header + phdr))
    return path


def test_static_elf_detection(tmp_path: Path) -> None:
    assert guest._is_static_elf(_elf(tmp_path, interp=False))
    assert not guest._is_static_elf(_elf(tmp_path, interp=True))
    assert not guest._is_static_elf(Path(__file__))
    assert not guest._is_static_elf(tmp_path / "absent")


def test_not_root_means_unavailable_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(guest.HilUnavailableError, match="not root"):
        guest.boot_and_run("true\n")
    monkeypatch.setattr(guest, "missing_packages", lambda: ["qemu-system-x86", "cpio"])
    with pytest.raises(guest.HilUnavailableError, match=r"not root.*qemu-system-x86 cpio"):
        guest.ensure_packages()


def test_apt_get_failing_means_unavailable_with_its_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[list[str]] = []

    def fake_run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 100, "", "E: Could not resolve host\n")

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(guest, "missing_packages", lambda: ["cpio"])
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr(subprocess, "run", fake_run)
    with pytest.raises(guest.HilUnavailableError, match=r"apt-get update -qq failed \(exit 100\)"):
        guest.ensure_packages()
    assert calls == [["apt-get", "update", "-qq"]]


def test_the_guest_command_runs_the_hil_tests_with_the_venv_interpreter() -> None:
    script = guest.pytest_script(["tests/hil/test_ppdev_raw.py::test_x[a b]"])
    assert f"cd {guest.PROJECT_ROOT}" in script
    assert sys.executable in script
    for part in (
        "PYTHONDONTWRITEBYTECODE=1",
        "PARPORT_HIL_GUEST=1",
        "-p no:cacheprovider",
        "-m hil",
        "--confcutdir=tests/hil",
        "'tests/hil/test_ppdev_raw.py::test_x[a b]'",
    ):
        assert part in script


def _rep(when: str, outcome: str, **extra: Any) -> dict[str, Any]:
    rep: dict[str, Any] = {
        "nodeid": "t.py::x",
        "when": when,
        "outcome": outcome,
        "longrepr": "",
        "skip_reason": None,
        "wasxfail": None,
        "duration": 0.5,
        "properties": [],
    }
    rep.update(extra)
    return rep


def test_guest_reports_fold_into_one_outcome() -> None:
    passed = guest.fold_reports(
        [
            _rep("setup", "passed"),
            _rep("call", "passed", properties=[["seen", "0xd8"]]),
            _rep("teardown", "passed"),
        ]
    )
    assert (passed.outcome, passed.properties, passed.duration) == ("passed", {"seen": "0xd8"}, 1.5)
    failed = guest.fold_reports(
        [_rep("setup", "passed"), _rep("call", "passed"), _rep("teardown", "failed", longrepr="E")]
    )
    assert failed.outcome == "failed" and "[guest, teardown]" in failed.message
    skipped = guest.fold_reports([_rep("setup", "skipped", skip_reason="no port")])
    assert (skipped.outcome, skipped.message) == ("skipped", "no port")


def test_console_tail_drops_escape_sequences() -> None:
    text = "\x1bc\x1b[?7l\x1b[2JSeaBIOS\r\n\r\nline two\n@@HIL@@ BOOTED 4.2\n"
    assert guest.console_tail(text) == "    | SeaBIOS\n    | line two\n    | @@HIL@@ BOOTED 4.2"


@pytest.fixture
def guest_packages() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (the guest)")
    if guest.missing_packages():
        pytest.skip(f"guest packages missing: {' '.join(guest.missing_packages())}")


@pytest.mark.usefixtures("guest_packages")
def test_a_guest_that_does_not_boot_in_time_is_killed(tmp_path: Path) -> None:
    with pytest.raises(guest.HilUnavailableError, match=r"did not boot within 0 s \(killed\)"):
        guest.boot_and_run("true\n", boot_timeout=0.3, share=tmp_path)
    assert (tmp_path / guest.COMMAND_NAME).read_text() == "true\n"
    assert shutil.which(guest.QEMU) is not None


@pytest.mark.usefixtures("guest_packages")
def test_a_qemu_that_exits_at_once_is_reported_with_its_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(guest, "qemu_command", lambda *a: ["sh", "-c", "echo qemu: boom; exit 3"])
    with pytest.raises(guest.HilUnavailableError, match=r"QEMU exited 3\).*\n.*qemu: boom"):
        guest.boot_and_run("true\n", boot_timeout=30, share=tmp_path)
