"""Who is on the other end of a connection, and what they may do (docs/daemon.md, "Access").

The peer's credentials come from the kernel (SO_PEERCRED: pid, uid, gid; SO_PEERGROUPS: its
supplementary groups, or the user's groups from the system's database where the kernel has no
SO_PEERGROUPS). A *trusted* principal — root, the daemon's own user, a configured user or a
member of a configured group — may send everything, the kernel-level requests included. Everyone
else gets the user-mode requests only: reads, writes, IRP_MJ_DEVICE_CONTROL (pin scripts
included), query and set information; IRP_MJ_INTERNAL_DEVICE_CONTROL, the callbacks, rescans and
diagnostics answer STATUS_ACCESS_DENIED.
"""

from __future__ import annotations

import os
import pwd
import socket
import struct
from dataclasses import dataclass

from .. import nt
from .config import AllowList, Config

__all__ = ["Peer", "peer_of", "user_mode_major"]

SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)  # Linux 4.13+
_CRED = struct.Struct("3i")
_USER_MODE_MAJORS = frozenset(
    {
        nt.IRP_MJ_DEVICE_CONTROL,
        nt.IRP_MJ_READ,
        nt.IRP_MJ_WRITE,
        nt.IRP_MJ_QUERY_INFORMATION,
        nt.IRP_MJ_SET_INFORMATION,
    }
)


def user_mode_major(major: int) -> bool:
    """Whether a request of this major function is a user-mode request (allowed to everyone
    who may open the target)."""
    return major in _USER_MODE_MAJORS


@dataclass(frozen=True)
class Peer:
    """The process at the other end of a connection, and whether it is trusted."""

    pid: int
    uid: int
    gid: int
    groups: frozenset[int]
    trusted: bool

    def allowed(self, allow: AllowList) -> bool:
        return self.trusted or allow.allows(self.uid, self.groups)

    def __str__(self) -> str:
        return f"pid {self.pid} uid {self.uid} gid {self.gid}"


def _peer_groups(sock: socket.socket, uid: int, gid: int) -> frozenset[int]:
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, 1024)  # 256 groups
        count = len(raw) // 4
        return frozenset(struct.unpack(f"{count}I", raw[: 4 * count])) | {gid}
    except OSError:
        pass
    try:
        name = pwd.getpwuid(uid).pw_name
        return frozenset(os.getgrouplist(name, gid))
    except (KeyError, OSError):
        return frozenset({gid})


def peer_of(sock: socket.socket, config: Config) -> Peer:
    """The credentials of ``sock``'s peer, and whether ``config`` trusts it."""
    pid, uid, gid = _CRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size))
    groups = _peer_groups(sock, uid, gid)
    trusted = (
        uid in (0, os.geteuid())
        or uid in config.trusted_users
        or bool(groups & config.trusted_groups)
    )
    return Peer(pid, uid, gid, groups, trusted)
