"""An SQLite database on a network share is refused: UNC paths, mapped drives, network mounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from meike.db.location import (
    NetworkShareError,
    check_local,
    check_url,
    mount_of,
    network_location,
    parse_mountinfo,
    uri_path,
)

# A Linux machine: the root disk, a Samba share with a local disk mounted inside it, an NFS export,
# an sshfs mount whose name has a space (written \040), and a tmpfs.
MOUNTINFO = "\n".join([
    "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,discard",
    "40 27 0:45 / /mnt/nas rw,relatime shared:20 - cifs //nas/clinic rw,vers=3.0,cache=strict",
    "41 40 8:17 / /mnt/nas/local rw,relatime shared:21 master:3 - ext4 /dev/sdb1 rw",
    "42 27 0:46 / /srv/data rw,relatime - nfs4 fileserver:/export/meike rw,vers=4.2",
    r"43 27 0:47 / /home/li/remote\040dir rw,nosuid - fuse.sshfs li@server:/data rw,user_id=1000",
    "44 27 0:48 / /run/user/1000 rw,nosuid shared:30 - tmpfs tmpfs rw,size=1024k",
])


@pytest.mark.parametrize("path", [
    r"\\server\share\meike.sqlite3",
    "//server/share/meike.sqlite3",
    r"\\?\UNC\server\share\meike.sqlite3",
    r"\\nas\美客\数据\meike.sqlite3",
])
@pytest.mark.parametrize("platform", ["win32", "linux", "darwin"])
def test_unc_paths_are_refused_everywhere(path: str, platform: str) -> None:
    with pytest.raises(NetworkShareError) as e:
        check_local(path, platform=platform, mountinfo=MOUNTINFO, drive_type=lambda root: 3)
    message = e.value.message
    assert "网络路径 \\\\" in message
    assert "WAL" in message and "postgresql+psycopg://" in message and "Several workstations" in message


@pytest.mark.parametrize("path", [r"\\?\C:\美客\meike.sqlite3", r"C:\美客\meike.sqlite3", "D:/data/meike.sqlite3",
                                  r"\\\server\share"])
def test_local_windows_paths_pass(path: str) -> None:
    assert network_location(path, platform="win32", drive_type=lambda root: 3) is None  # DRIVE_FIXED


def test_a_mapped_network_drive_is_refused_on_windows() -> None:
    def drive_type(root: str) -> int:
        return 4 if root.upper() == "Z:\\" else 3

    with pytest.raises(NetworkShareError, match="网络驱动器 Z:"):
        check_local(r"z:\clinic\meike.sqlite3", platform="win32", drive_type=drive_type)
    check_local(r"C:\clinic\meike.sqlite3", platform="win32", drive_type=drive_type)
    # Drive letters mean nothing elsewhere: no GetDriveTypeW call on Linux.
    check_local(r"Z:\clinic\meike.sqlite3", platform="linux", mountinfo=MOUNTINFO,
                drive_type=lambda root: pytest.fail("asked for a drive type"))


@pytest.mark.parametrize(("path", "where"), [
    ("/mnt/nas/clinic/meike.sqlite3", "cifs 网络文件系统 //nas/clinic（挂载于 /mnt/nas）"),
    ("/mnt/nas", "cifs"),
    ("/srv/data/meike.sqlite3", "nfs4 网络文件系统 fileserver:/export/meike"),
    ("/home/li/remote dir/meike.sqlite3", "fuse.sshfs"),
    ("/mnt/nas/clinic/../x/meike.sqlite3", "cifs"),
])
def test_network_mounts_are_refused_on_linux(path: str, where: str) -> None:
    with pytest.raises(NetworkShareError) as e:
        check_local(path, platform="linux", mountinfo=MOUNTINFO)
    assert where in e.value.message


@pytest.mark.parametrize("path", [
    "/home/li/meike.sqlite3",  # the root ext4 disk
    "/mnt/nas/local/meike.sqlite3",  # a local disk mounted inside the share: the longest mount point wins
    "/mnt/nasty/meike.sqlite3",  # "/mnt/nas" is a prefix of the name, not a parent folder
    "/run/user/1000/meike.sqlite3",
    "/mnt/nas/local/../local/meike.sqlite3",
])
def test_local_mounts_pass_on_linux(path: str) -> None:
    assert network_location(path, platform="linux", mountinfo=MOUNTINFO) is None


def test_the_real_path_is_resolved(tmp_path: Path) -> None:
    """A symlink on the local disk pointing into the share is followed."""
    link = tmp_path / "share"
    link.symlink_to("/mnt/nas/clinic")
    assert network_location(tmp_path / "meike.sqlite3", mountinfo=MOUNTINFO, platform="linux") is None
    where = network_location(link / "meike.sqlite3", mountinfo=MOUNTINFO)
    assert where is not None and where.startswith("cifs")


def test_parse_mountinfo() -> None:
    mounts = parse_mountinfo(MOUNTINFO + "\nbroken line\n")
    assert [(m.mount_point, m.fstype) for m in mounts] == [
        ("/", "ext4"), ("/mnt/nas", "cifs"), ("/mnt/nas/local", "ext4"), ("/srv/data", "nfs4"),
        ("/home/li/remote dir", "fuse.sshfs"), ("/run/user/1000", "tmpfs")]
    assert mount_of("/mnt/nas/local/x", mounts).fstype == "ext4"  # type: ignore[union-attr]
    assert mount_of("/mnt/nas/localx", mounts).fstype == "cifs"  # type: ignore[union-attr]
    # A later mount on the same point covers the earlier one.
    over = parse_mountinfo(MOUNTINFO + "\n50 27 0:60 / /srv/data rw - ext4 /dev/sdc1 rw")
    assert mount_of("/srv/data/x", over).fstype == "ext4"  # type: ignore[union-attr]


def test_no_mountinfo_means_no_check() -> None:
    assert network_location("/mnt/nas/meike.sqlite3", platform="linux", mountinfo="") is None
    assert network_location("/Volumes/nas/meike.sqlite3", platform="darwin") is None


def test_database_urls() -> None:
    check_url("postgresql+psycopg://meike:secret@server/meike")
    check_url("sqlite://")
    check_url("sqlite:////home/li/meike.sqlite3", platform="linux", mountinfo=MOUNTINFO)
    with pytest.raises(NetworkShareError):
        check_url("sqlite:////mnt/nas/meike.sqlite3", platform="linux", mountinfo=MOUNTINFO)
    with pytest.raises(NetworkShareError):
        check_url("sqlite:///" + r"\\server\share\meike.sqlite3")  # --database on Windows
    with pytest.raises(NetworkShareError):
        check_url("sqlite://///server/share/meike.sqlite3")


# Issue 14/23: network file systems that were still taken for local disks.
REMOTE_MOUNTS = "\n".join([
    "27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/sda1 rw,discard",
    "60 27 0:61 / /run/user/1000/gvfs rw,nosuid,nodev - fuse.gvfsd-fuse gvfsd-fuse rw,user_id=1000",
    "61 27 0:62 / /mnt/gdrive rw,nosuid,nodev - fuse.rclone gdrive: rw,user_id=0",
    "62 27 0:63 / /mnt/smbnet rw,nosuid,nodev - fuse.smbnetfs smbnetfs rw,user_id=1000",
    "63 27 0:64 / /mnt/bucket rw,nosuid,nodev - fuse.s3fs s3fs rw,user_id=0",
    "64 27 0:65 / /mnt/lustre rw - lustre 10.0.0.1@tcp:/fs rw,flock",
    "65 27 0:66 / /mnt/oldbucket rw - fuse s3fs rw,user_id=0",  # an older s3fs: plain "fuse"
    "66 27 0:67 / /mnt/nfs rw - nfs fileserver:/export rw",
    "67 27 0:68 / /mnt/newfs rw - fuse.somefs backup-host:/srv rw",  # unknown program, a server named
    "68 27 0:69 / /mnt/kde rw - fuse.kio-fuse kio-fuse rw",
    "69 27 0:70 / /mnt/usb rw - vfat /dev/sdc1 rw",
    "70 27 0:71 / /mnt/ntfs rw - fuseblk /dev/sdd1 rw",
    "71 27 0:72 / /mnt/local rw - fuse.lxcfs lxcfs rw",
])


@pytest.mark.parametrize(("path", "fstype"), [
    ("/run/user/1000/gvfs/smb-share:server=nas,share=clinic/meike.sqlite3", "fuse.gvfsd-fuse"),
    ("/mnt/gdrive/meike.sqlite3", "fuse.rclone"),
    ("/mnt/smbnet/nas/clinic/meike.sqlite3", "fuse.smbnetfs"),
    ("/mnt/bucket/meike.sqlite3", "fuse.s3fs"),
    ("/mnt/lustre/meike.sqlite3", "lustre"),
    ("/mnt/oldbucket/meike.sqlite3", "fuse"),
    ("/mnt/newfs/meike.sqlite3", "fuse.somefs"),
    ("/mnt/kde/meike.sqlite3", "fuse.kio-fuse"),
])
def test_gnome_rclone_samba_s3_lustre_mounts_are_refused(path: str, fstype: str) -> None:
    with pytest.raises(NetworkShareError) as e:
        check_local(path, platform="linux", mountinfo=REMOTE_MOUNTS)
    assert f"{fstype} 网络文件系统" in e.value.message


@pytest.mark.parametrize("path", ["/home/li/meike.sqlite3", "/mnt/usb/meike.sqlite3", "/mnt/ntfs/meike.sqlite3",
                                  "/mnt/local/meike.sqlite3"])
def test_local_disks_and_local_fuse_pass(path: str) -> None:
    assert network_location(path, platform="linux", mountinfo=REMOTE_MOUNTS) is None


@pytest.mark.parametrize("url", [
    "sqlite:///file:/mnt/nfs/x?uri=true",
    "sqlite:///file:/mnt/nfs/x?mode=rwc&uri=true",
    "sqlite:///file:///mnt/nfs/x?uri=true",
    "sqlite:///file://localhost/mnt/nfs/x?uri=true",
    "sqlite:///file:/mnt/%6efs/x?uri=true",  # percent-encoded: /mnt/nfs
    "sqlite:///FILE:/mnt/nfs/x?uri=true",
    "sqlite:///file:/mnt/nfs/x",  # Debian's SQLite takes file: names as URIs even without uri=true
    "sqlite:///file://nas/share/x.db?uri=true",  # an authority: a UNC path
])
def test_sqlite_uri_file_names_are_checked_by_the_path_they_name(url: str) -> None:
    with pytest.raises(NetworkShareError):
        check_url(url, platform="linux", mountinfo=REMOTE_MOUNTS)


def test_local_and_in_memory_sqlite_uris_pass() -> None:
    check_url("sqlite:///file:/home/li/x.db?mode=ro&uri=true", platform="linux", mountinfo=REMOTE_MOUNTS)
    check_url("sqlite:///file:/mnt/nfs/x?mode=memory&cache=shared&uri=true", platform="linux",
              mountinfo=REMOTE_MOUNTS)
    assert uri_path("file:///C:/clinic/x.db", platform="win32") == "C:/clinic/x.db"
    assert uri_path("file:data.db?mode=ro") == "data.db"
    assert uri_path("file://server/share/x.db") == "//server/share/x.db"
    assert uri_path("file:x?mode=memory") is None
    with pytest.raises(NetworkShareError):
        check_url("sqlite:///file:///Z:/x.db?uri=true", platform="win32", drive_type=lambda root: 4)
