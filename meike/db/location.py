"""Refusing an SQLite database on a network share: its WAL works only among processes of one machine.

UNC paths (``\\\\server\\share``, ``//server/share``), mapped network drives on Windows
(``GetDriveTypeW`` = ``DRIVE_REMOTE``) and, on Linux, network file systems found in
``/proc/self/mountinfo`` (the longest mount point containing the resolved path) are refused. Other
systems (macOS) are only checked for UNC paths.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath

from sqlalchemy.engine import make_url

from meike.errors import MeikeError

NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "sshfs", "fuse.sshfs", "9p", "afs", "ceph", "glusterfs",
    "fuse.glusterfs", "fuse.ceph", "ncpfs", "coda", "davfs", "fuse.davfs2",
})
DRIVE_REMOTE = 4  # GetDriveTypeW
MOUNTINFO = Path("/proc/self/mountinfo")


class NetworkShareError(MeikeError):
    """The database file lives on a network share; SQLite must not be used there."""


@dataclass(frozen=True)
class Mount:
    mount_point: str
    fstype: str
    source: str


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def parse_mountinfo(text: str) -> list[Mount]:
    """The mounts of a ``/proc/<pid>/mountinfo`` text, in its order (later lines are mounted on top)."""
    mounts = []
    for line in text.splitlines():
        fields = line.split(" ")
        if "-" not in fields[6:]:
            continue
        dash = fields.index("-", 6)
        if len(fields) < dash + 3 or len(fields) < 5:
            continue
        mounts.append(Mount(_unescape(fields[4]), fields[dash + 1], _unescape(fields[dash + 2])))
    return mounts


def mount_of(path: str, mounts: list[Mount]) -> Mount | None:
    """The mount that holds an absolute, resolved POSIX ``path``: the longest mount point containing it."""
    best: Mount | None = None
    for mount in mounts:
        point = mount.mount_point.rstrip("/") or "/"
        inside = point == "/" or path == point or path.startswith(point + "/")
        if inside and (best is None or len(point) >= len(best.mount_point.rstrip("/") or "/")):
            best = mount
    return best


def _unc(text: str) -> str | None:
    r"""``\\server\share`` of a UNC path (also ``//server/share`` and ``\\?\UNC\server\share``), else None."""
    if text[:8].upper() == "\\\\?\\UNC\\":
        text = "\\\\" + text[8:]
    elif text.startswith(("\\\\?\\", "\\\\.\\", "//?/", "//./")):
        return None  # a local path in the extended / device form (\\?\C:\...)
    if len(text) < 3 or text[0] not in "\\/" or text[1] not in "\\/" or text[2] in "\\/":
        return None
    parts = [p for p in re.split(r"[\\/]+", text[2:]) if p]
    return "\\\\" + "\\".join(parts[:2]) if parts else None


def _windows_drive_type(root: str) -> int:
    import ctypes

    return int(ctypes.windll.kernel32.GetDriveTypeW(ctypes.c_wchar_p(root)))  # type: ignore[attr-defined]


def _read_mountinfo() -> str | None:
    try:
        return MOUNTINFO.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None


def network_location(path: str | os.PathLike[str], *, mountinfo: str | None = None, platform: str | None = None,
                     drive_type: Callable[[str], int] | None = None) -> str | None:
    """Where on the network ``path`` is (a short Chinese description), or None for a local disk.

    Args:
        mountinfo: the text of ``/proc/self/mountinfo`` (tests); read from the system by default.
        platform: ``sys.platform`` (tests); a foreign platform's path is not resolved on this machine.
        drive_type: ``GetDriveTypeW`` (tests).
    """
    text = os.fspath(path)
    real = platform is None or platform == sys.platform
    platform = platform or sys.platform
    unc = _unc(text)
    if unc:
        return f"网络路径 {unc}"
    if platform == "win32":
        resolved = os.path.realpath(text) if real else text
        unc = _unc(resolved)  # realpath turns a mapped drive into its UNC path on newer Pythons
        if unc:
            return f"网络路径 {unc}"
        drive = PureWindowsPath(resolved).drive
        if len(drive) == 2 and drive[1] == ":":
            kind = (drive_type or _windows_drive_type)(drive + "\\")
            if kind == DRIVE_REMOTE:
                return f"网络驱动器 {drive.upper()}"
        return None
    if platform.startswith("linux"):
        info = mountinfo if mountinfo is not None else _read_mountinfo()
        if not info:
            return None
        resolved = os.path.realpath(text) if real else os.path.normpath(text)
        mount = mount_of(resolved, parse_mountinfo(info))
        if mount is not None and mount.fstype in NETWORK_FILESYSTEMS:
            return f"{mount.fstype} 网络文件系统 {mount.source}（挂载于 {mount.mount_point}）"
    return None


def check_local(path: str | os.PathLike[str], *, mountinfo: str | None = None, platform: str | None = None,
                drive_type: Callable[[str], int] | None = None) -> None:
    """Raise ``NetworkShareError`` when the SQLite database ``path`` is on a network share."""
    where = network_location(path, mountinfo=mountinfo, platform=platform, drive_type=drive_type)
    if where is None:
        return
    raise NetworkShareError(
        f"数据库文件 {os.fspath(path)} 位于{where}上。SQLite 的 WAL 日志只在同一台电脑内有效，"
        "放在网络共享上、被几台电脑同时打开会损坏数据，所以美客不打开它。"
        "几台电脑共用一个数据库时，请在一台服务器上安装 PostgreSQL，并以 "
        "--database postgresql+psycopg://用户:密码@服务器/meike 启动（见 README 的 “Several workstations” 一节）；"
        "只有一台电脑时，请把数据库放在本机硬盘上。")


def check_url(url: str, *, mountinfo: str | None = None, platform: str | None = None,
              drive_type: Callable[[str], int] | None = None) -> None:
    """``check_local`` for an SQLite database URL; other databases (PostgreSQL) need no check."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return
    check_local(parsed.database, mountinfo=mountinfo, platform=platform, drive_type=drive_type)
