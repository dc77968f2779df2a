"""Opening a clinic for the program: choose the database, migrate it, build the demo if asked."""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import datetime
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

import meike
from meike import backup, demo, numbering, paths
from meike.backup import REASON_CHECK, BackupError, list_backups
from meike.db import Clinic, sqlite_path, sqlite_url
from meike.db.location import NetworkShareError, check_url, uri_path
from meike.db.migrate import alembic_config, current_revision
from meike.errors import MeikeError, causes
from meike.services import audit_anchor, system
from meike.start_steps import after_upgrade

__all__ = ["OpenFailed", "after_upgrade", "database_url", "open_clinic", "open_failure", "upgrade", "wire"]

log = logging.getLogger(__name__)


class OpenFailed(MeikeError):
    """The clinic database cannot be opened or upgraded. The message (Chinese) says why and what to do;
    ``kind`` names the case: not_a_database, damaged, newer, read_only, locked, no_access, disk_full,
    disk_error, server."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def database_url(cli_url: str | None, *, demo_mode: bool) -> str:
    """``--database`` wins, then ``MEIKE_DATABASE_URL``, then the file in the user data directory."""
    if cli_url:
        return cli_url
    if demo_mode:
        return sqlite_url(paths.demo_database())
    return os.environ.get("MEIKE_DATABASE_URL") or sqlite_url(paths.clinic_database())


def open_clinic(url: str, *, demo_mode: bool = False, backup_dir: Path | None = None) -> Clinic:
    """Open (creating if needed) and migrate the database; fill the demo clinic when it is new.

    Raises:
        NetworkShareError: an SQLite file on a network share.
        OpenFailed: a file that is no database or is damaged, one from a newer Meike, a read-only or
            locked file, a server that cannot be reached: said in Chinese, with what to do.
    """
    check_url(url)  # SQLite on a network share: refused with a message that points to PostgreSQL
    clinic = Clinic.open(url)
    try:
        if clinic.path is not None:
            clinic.path.parent.mkdir(parents=True, exist_ok=True)
        current = current_revision(clinic)
        if current is not None and current not in known_revisions():
            raise OpenFailed(_newer_text(current, url), kind="newer")
        upgrade(clinic, backup_dir=backup_dir)
        _check_writable(clinic)
        after_upgrade(clinic)
        if demo_mode and not system.is_initialised(clinic):
            demo.build(clinic)
        elif demo_mode:
            demo.grant_new_pages(clinic)  # a demo built before a page existed (电话管理) still shows it
    except Exception as exc:
        clinic.dispose()
        if isinstance(exc, (OpenFailed, NetworkShareError)):
            raise
        failure = open_failure(exc, url)
        if failure is None:
            raise
        log.warning("cannot open the database: %s (%s)", failure.kind, type(exc).__name__)
        raise failure from exc
    return clinic


def wire() -> None:
    """Plug together what the layers below cannot import (once per process; again does nothing new):
    receipt numbers are marked beside the database after every commit that took one (``numbering.track``),
    and the audit log's check compares the clinic's backups (``audit_anchor.list_backups_with``)."""
    numbering.track()
    audit_anchor.list_backups_with(_backups_of)


def _backups_of(clinic: Clinic) -> list[tuple[Path, datetime]]:
    path = clinic.path
    if path is None:
        return []
    folder = backup.load_settings(clinic).folder_for(path)
    return [(info.path, info.taken_at) for info in list_backups(folder, database=path.stem)]


def upgrade(clinic: Clinic, *, backup_dir: Path | None = None) -> Path | None:
    """``wire`` this program together, then bring the clinic's schema up to date, backed up first
    (``meike.backup.upgrade``). Returns the backup made, if any."""
    wire()
    return backup.upgrade(clinic, backup_dir=backup_dir)


def known_revisions() -> set[str]:
    """Every schema revision this program knows (a database at another one is from a newer Meike)."""
    return {r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()}


def _check_writable(clinic: Clinic) -> None:
    """SQLite: a write transaction that changes nothing and is rolled back. A read-only file (or one
    another program keeps locked) is found here, not at the first login."""
    if clinic.path is None:
        return
    with clinic.engine.connect() as conn:
        conn = conn.execution_options(meike_write=True)
        with conn.begin() as tx:
            conn.exec_driver_sql("UPDATE alembic_version SET version_num = version_num")
            tx.rollback()


# --- why it failed, in words ----------------------------------------------------------------------

RESTORE_STEPS = (
    "恢复的办法（请管理员操作）：\n"
    "1. 关闭美客，把这个数据库文件连同同名的 -wal、-shm 文件移到别的文件夹保存（不要删除）；\n"
    "2. 重新启动美客，按提示建一个临时的诊所，用它的管理员账号登录；\n"
    "3. 在管理员窗口的“备份与恢复”中选择最新的备份，点“用所选备份恢复”。恢复后美客会关闭，"
    "再启动就是备份时的数据，用原来的账号登录。")

_CORRUPT, _NOTADB, _READONLY, _PERM, _CANTOPEN = 11, 26, 8, 3, 14
_BUSY, _LOCKED, _FULL, _IOERR = 5, 6, 13, 10



def _sqlite_code(e: BaseException) -> int | None:
    if not isinstance(e, sqlite3.Error):
        return None
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return int(code) & 0xFF
    text = str(e).lower()  # Python before 3.11: the text is all there is
    for needle, value in (("not a database", _NOTADB), ("malformed", _CORRUPT), ("readonly", _READONLY),
                          ("locked", _BUSY), ("unable to open", _CANTOPEN), ("disk is full", _FULL),
                          ("disk i/o", _IOERR)):
        if needle in text:
            return value
    return None


def open_failure(exc: BaseException, url: str) -> OpenFailed | None:
    """The Chinese explanation of why ``url`` could not be opened (None: a case not known here)."""
    path = _file_of(url)
    where = _where(url)
    for e in causes(exc):
        code = _sqlite_code(e)
        if code == _NOTADB:
            return OpenFailed(f"这个文件不是美客的数据库，或者已经严重损坏，美客无法打开它。\n{where}\n\n"
                              f"{_backups_line(path)}{RESTORE_STEPS}", kind="not_a_database")
        if code == _CORRUPT or (isinstance(e, BackupError) and e.reason == REASON_CHECK):
            return OpenFailed(f"数据库文件已损坏（可能是断电、强行关机或磁盘故障造成的），美客无法打开它。\n{where}\n\n"
                              f"{_backups_line(path)}{RESTORE_STEPS}", kind="damaged")
        if code == _READONLY:
            return OpenFailed(f"数据库文件是只读的，美客不能在里面保存任何东西。\n{where}\n\n"
                              "请管理员取消这个文件的“只读”属性，并让使用美客的 Windows 用户对它所在的文件夹有修改权限；"
                              "如果它在光盘或写保护的 U 盘上，请先复制到本机硬盘。数据没有损坏，不需要从备份恢复。",
                              kind="read_only")
        if code in (_BUSY, _LOCKED):
            return OpenFailed(f"数据库正被另一个程序占用（另一个美客、备份或杀毒软件正在使用它），等了一会儿仍然打不开。\n{where}\n\n"
                              "请关闭其他正在使用它的程序后重新启动美客；一直如此时请重启电脑。数据没有损坏，不需要从备份恢复。",
                              kind="locked")
        if code in (_PERM, _CANTOPEN) or isinstance(e, PermissionError):
            return OpenFailed(f"无法打开数据库文件：这个文件或它所在的文件夹不存在，或者当前 Windows 用户没有读写权限。\n{where}\n\n"
                              "请管理员检查文件夹的权限（使用美客的用户需要能修改这个文件夹）。", kind="no_access")
        if code == _FULL or (isinstance(e, OSError) and e.errno == 28):
            return OpenFailed(f"磁盘空间已满，美客无法打开或升级数据库。\n{where}\n\n请清理磁盘空间后重新启动美客。",
                              kind="disk_full")
        if code == _IOERR:
            return OpenFailed(f"读写数据库文件时出错（磁盘故障，或 U 盘、移动硬盘被拔出？）。\n{where}\n\n"
                              f"请检查磁盘后重新启动美客；如果仍然出错，文件可能已损坏。{_backups_line(path)}{RESTORE_STEPS}",
                              kind="disk_error")
        if path is None and _is_connection_error(e):
            return OpenFailed(f"连接不上数据库服务器，或者服务器拒绝了用户名和密码。\n{where}\n\n"
                              "请检查网络、服务器是否开着，以及 --database（或 MEIKE_DATABASE_URL）中的服务器、用户名和密码。",
                              kind="server")
    return None


def _file_of(url: str) -> Path | None:
    path = sqlite_path(url)
    if path is not None and str(path)[:5].lower() == "file:":  # an SQLite URI: the file it names
        named = uri_path(str(path))
        path = Path(named) if named else path
    return path


def _where(url: str) -> str:
    path = _file_of(url)
    return f"数据库文件：{path}" if path is not None else f"数据库：{url_without_password(url)}"


def _is_connection_error(e: BaseException) -> bool:
    code = getattr(e, "sqlstate", None) or ""
    text = str(e).lower()
    return code.startswith(("08", "28", "3D")) or any(
        s in text for s in ("connection refused", "could not connect", "connection failed", "password authentication",
                            "could not translate host name", "timeout expired"))


def _newer_text(revision: str, url: str) -> str:
    return (f"这个数据库是由更新版本的美客建立或升级的（数据库版本 {revision}），这台电脑上的美客（{meike.__version__}）"
            f"太旧，打不开它，也不会改动它。\n{_where(url)}\n\n"
            "请在这台电脑上安装最新版本的美客。不要用旧的备份覆盖它（“备份与恢复”）：那样会丢失备份之后的数据。")


def _backups_line(path: Path | None) -> str:
    """Where the backups of ``path`` are, and the newest one, for the restore steps."""
    if path is None:
        return ""
    folder = path.parent / "backups"
    found = list_backups(folder, database=path.stem)
    if not found:
        return f"备份文件夹：{folder}（里面没有找到备份；诊所可能设置了别的备份文件夹）。\n"
    newest = found[0]
    return f"最新的备份是 {newest.taken_at:%Y-%m-%d %H:%M} 的 {newest.path.name}，在 {folder}。\n"


def url_without_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 (a URL that does not parse: nothing of it is shown)
        return "（无法解析的地址）"
