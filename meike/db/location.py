"""Refusing an SQLite database on a network share: its WAL works only among processes of one machine.

UNC paths (``\\\\server\\share``, ``//server/share``), mapped network drives on Windows
(``GetDriveTypeW`` = ``DRIVE_REMOTE``) and, on Linux, network file systems found in
``/proc/self/mountinfo`` (the longest mount point containing the resolved path) are refused. A mount
counts as a network one by its type (kernel clients such as nfs/cifs/lustre, FUSE clients such as
GNOME's gvfsd-fuse, rclone, smbnetfs, s3fs), by the FUSE program named as its source, or by a source
that names a server (``//host/share``, ``host:/export``, ``remote:``). SQLite URI file names
(``sqlite:///file:/mnt/nfs/x?uri=true``) are checked by the path they name. Other systems (macOS) are
only checked for UNC paths.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PureWindowsPath
from urllib.parse import unquote

from sqlalchemy.engine import make_url

from meike.errors import MeikeError

# Kernel clients of network and cluster file systems, and the host's folders of a virtual machine.
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb2", "smb3", "smbfs", "sshfs", "9p", "afs", "ceph", "glusterfs", "ncpfs",
    "coda", "davfs", "lustre", "gpfs", "beegfs", "orangefs", "pvfs2", "ocfs2", "gfs2", "vboxsf", "vmhgfs",
    "prl_fs", "fuse.sshfs", "fuse.glusterfs", "fuse.ceph", "fuse.davfs2",
})
# FUSE programs that reach another machine (mountinfo says ``fuse.<program>``, or ``fuse`` with the
# program as the source): GNOME's and KDE's remote folders, rclone, Samba, S3/cloud buckets, FTP, SSH.
NETWORK_FUSE = frozenset({
    "sshfs", "sftpfs", "glusterfs", "ceph", "ceph-fuse", "cephfs", "davfs2", "wdfs", "gvfsd-fuse",
    "gvfs-fuse-daemon", "kio-fuse", "rclone", "smbnetfs", "fusesmb", "s3fs", "s3backer", "goofys", "geesefs",
    "mountpoint-s3", "gcsfuse", "blobfuse", "blobfuse2", "juicefs", "seaweedfs", "alluxio-fuse", "mfs",
    "moosefs", "lizardfs", "curlftpfs", "httpfs2", "onedriver", "google-drive-ocamlfuse", "vmhgfs-fuse",
})
# A source naming a server: //host/share, \\host\share, host:/export, user@host:/dir, an rclone remote:.
_REMOTE_SOURCE = re.compile(r"^(?://|\\\\)[^/\\]|^[^/\\:\s]{2,}:")
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
        if mount is not None and is_network_mount(mount):
            return f"{mount.fstype} 网络文件系统 {mount.source}（挂载于 {mount.mount_point}）"
    return None


def is_network_mount(mount: Mount) -> bool:
    """Whether a mount reaches another machine: by its type, its FUSE program or a source naming a server."""
    fstype = mount.fstype.lower()
    if fstype in NETWORK_FILESYSTEMS:
        return True
    if fstype.startswith("fuse.") and fstype[5:] in NETWORK_FUSE:
        return True
    if fstype.startswith("fuse") and os.path.basename(mount.source).lower() in NETWORK_FUSE:
        return True
    return bool(_REMOTE_SOURCE.match(mount.source))


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
    name = parsed.database
    if name[:5].lower() == "file:":  # an SQLite URI: also taken as one without ?uri=true by most builds
        # With ?uri=true SQLAlchemy hands the URL's other parameters (mode=memory, …) to SQLite in the URI.
        extra = "&".join(f"{k}={v}" for k, values in parsed.query.items()
                         for v in ((values,) if isinstance(values, str) else values))
        target = uri_path(f"{name}{'&' if '?' in name else '?'}{extra}" if extra else name,
                          platform=platform or sys.platform)
        if target is not None:
            check_local(target, mountinfo=mountinfo, platform=platform, drive_type=drive_type)
    check_local(name, mountinfo=mountinfo, platform=platform, drive_type=drive_type)


def uri_path(name: str, *, platform: str = sys.platform) -> str | None:
    """The file an SQLite URI file name (``file:/dir/x.db?mode=ro``) opens; None for an in-memory one.

    ``file://host/share/x`` (an authority other than ``localhost``) is the UNC path ``//host/share/x``,
    which the checks refuse; on Windows ``file:///C:/x`` is ``C:/x``.
    """
    rest, _, query = name[5:].partition("?")
    rest = rest.partition("#")[0]
    if "mode=memory" in unquote(query).lower().split("&"):
        return None
    if rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        if authority.lower() not in ("", "localhost"):
            return "//" + unquote(authority) + slash + unquote(path)
        rest = slash + path
    path = unquote(rest)
    if platform == "win32" and re.match(r"^/[A-Za-z]:", path):
        path = path[1:]
    return path
