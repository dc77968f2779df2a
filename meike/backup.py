"""Backups of the SQLite clinic database: online copies that are checked before they count, retention, restore.

SQLite only (this module speaks the SQLite backup API and ``PRAGMA``s, like ``meike.db.sqlite``); a
PostgreSQL clinic is backed up by the server (``pg_dump``), so the jobs below do nothing for it.

A backup is ``<database stem>-YYYYMMDD-HHMMSS-<kind>.sqlite3`` in the backup folder, e.g.
``meike-20261123-093000-daily.sqlite3`` (clinic-local time). It is written under a temporary name,
checked with ``PRAGMA integrity_check``, fsynced and only then renamed into place, so a file with a
backup's name is always a complete, sound database.

Every automatic and manual attempt (daily, exit, manual, before a migration) is recorded in
``system_settings`` (``backup.last_*``): the last success and the last failure with a short Chinese
reason. A failure is also written to the audit log. ``backup_status`` reads it back for the dashboard,
whose ``warning`` is set when the last attempt failed or the last success is more than a day old.

A backup is the whole clinic, every number in full: choosing the backup folder (and the other backup
settings) and 立即备份 need the administrator or the right 数据备份 (``can_manage``), and are audited with
the folder. Backup files are their owner's only (POSIX 0600, folders 0700; Windows: the PC's users).
A restore carries the receipt numbers issued since the backup forward (``meike.numbering``) and says
beforehand what will be lost (``restore_losses``).
"""

from __future__ import annotations

import errno
import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from types import TracebackType

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike import clock, numbering, paths
from meike.db import Clinic
from meike.errors import MeikeError, PermissionDenied, ValidationError
from meike.models import SystemSetting
from meike.money import yuan
from meike.permissions import RIGHT_LABELS, Actor, Page, Right
from meike.services import audit

log = logging.getLogger(__name__)

KIND_LABELS = {
    "daily": "每日自动备份", "exit": "退出时备份", "migration": "升级前备份", "manual": "手动备份",
    "before-restore": "恢复前备份",
}
KINDS = tuple(KIND_LABELS)
ROUTINE_KINDS = ("daily", "exit")  # thinned out by day and month; the others are kept by count
KEEP_OTHER = 10  # newest backups kept of each of migration / manual / before-restore
BUSY_TIMEOUT_S = 10.0
SUFFIX = ".sqlite3"
STALE_TEMP_S = 24 * 3600  # a temporary copy this old was left by a crash

_NAME = re.compile(
    r"^(?P<stem>.+)-(?P<date>\d{8})-(?P<time>\d{6})"
    r"-(?P<kind>daily|exit|migration|manual|before-restore|before-[0-9A-Za-z_]+)"
    r"(?:-(?P<seq>\d+))?\.sqlite3$")


class BackupError(MeikeError):
    """A backup or a restore failed; the message says why, in Chinese.

    ``reason`` (optional) is the short reason recorded in the backup status when the cause is not an
    exception of its own (see ``failure_reason``).
    """

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    taken_at: datetime  # clinic-local time, from the file name
    kind: str  # one of KINDS ("before-<revision>" copies of ``meike.db.migrate`` count as "migration")
    size: int  # bytes
    database: str  # stem of the database it copies ("meike", "meike-demo")
    seq: int = 1  # several backups of one kind in the same second: 1, 2, …

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


@dataclass(frozen=True)
class BackupSummary:
    """What the restore dialog shows about a backup: when, which schema, how much is in it."""

    path: Path
    taken_at: datetime
    kind: str | None
    size: int
    revision: str | None  # alembic revision of the copy (None: not a Meike database)
    customers: int | None  # None: the table does not exist at that revision
    visits: int | None
    orders: int | None
    receipts: int | None
    payments: int | None
    last_business_date: date | None  # of the newest receipt
    last_closed_day: date | None


# --- making a backup -----------------------------------------------------------------------------


def parse_name(path: Path) -> BackupInfo | None:
    """The backup a file name describes, or None when it is not a backup's name."""
    m = _NAME.match(path.name)
    if m is None:
        return None
    try:
        taken = datetime.strptime(m["date"] + m["time"], "%Y%m%d%H%M%S")
        size = path.stat().st_size
    except (ValueError, OSError):
        return None
    kind = m["kind"] if m["kind"] in KINDS else "migration"
    return BackupInfo(path, taken, kind, size, m["stem"], int(m["seq"] or 1))


def backup_name(database: str, taken_at: datetime, kind: str, seq: int = 1) -> str:
    extra = f"-{seq}" if seq > 1 else ""
    return f"{database}-{taken_at:%Y%m%d-%H%M%S}-{kind}{extra}{SUFFIX}"


def _ro_uri(path: Path) -> str:
    return Path(path).resolve().as_uri() + "?mode=ro"


def integrity_errors(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` of a database file, opened read-only: [] when it answers "ok"."""
    try:
        conn = sqlite3.connect(_ro_uri(path), uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as e:
        return [str(e)]
    messages = [str(r[0]) for r in rows]
    return [] if messages == ["ok"] else messages


def _remove(path: Path) -> None:
    for p in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:  # pragma: no cover - a locked file on Windows
            log.warning("could not remove %s: %s", p, e)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX; Windows has no directory handles to flush)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse
        pass
    finally:
        os.close(fd)


def _copy(source: Path, target: Path) -> None:
    """Online copy with the backup API: a consistent snapshot of what is committed, WAL included. The
    target is made empty and private first (SQLite keeps a file's mode and gives its journal the same)."""
    src = sqlite3.connect(str(source), timeout=BUSY_TIMEOUT_S)
    try:
        paths.create_private(target)
        dst = sqlite3.connect(str(target))
        try:
            src.backup(dst)
            # One self-contained file: the copy leaves WAL mode (it is never written again).
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def make_backup(db_path: Path, folder: Path, *, kind: str) -> BackupInfo:
    """Copy the live database ``db_path`` into ``folder`` while others keep working.

    The copy is checked with ``PRAGMA integrity_check`` before it is renamed into place; a copy that
    fails is deleted and ``BackupError`` raised, so only sound backups ever carry a backup's name.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown backup kind {kind!r}")
    db_path, folder = Path(db_path), Path(folder)
    if not db_path.is_file():
        raise BackupError(f"找不到数据库文件 {db_path}，无法备份", reason=REASON_NO_DATABASE)
    try:
        # The folder beside the database is the program's own (0700); a folder the clinic chose keeps
        # its rights (an external disk, a share), the files in it are private all the same.
        paths.private_dir(folder, tighten=folder.resolve() == (db_path.parent / "backups").resolve())
    except OSError as e:
        raise BackupError(f"无法创建备份文件夹 {folder}：{e}") from e
    taken = clock.now()
    seq = 1
    while (folder / backup_name(db_path.stem, taken, kind, seq)).exists():
        seq += 1
    target = folder / backup_name(db_path.stem, taken, kind, seq)
    tmp = folder / f".{target.name}.{os.getpid()}.tmp"
    try:
        try:
            _copy(db_path, tmp)
        except sqlite3.Error as e:
            raise BackupError(f"备份失败：{e}（数据库正忙或已损坏，请稍后重试）") from e
        errors = integrity_errors(tmp)
        if errors:
            raise BackupError(f"备份完成后校验失败，这份备份已删除：{'；'.join(errors[:3])}。"
                              "当前数据库可能已损坏，请运行 main.py --check 检查", reason=REASON_CHECK)
        _fsync_file(tmp)
        os.replace(tmp, target)
        paths.windows_acl(target)  # Windows: the PC's users only, whatever the chosen folder allows
    except OSError as e:
        raise BackupError(f"写入备份文件失败（磁盘已满或没有权限？）：{e}") from e
    finally:
        if tmp.exists():
            _remove(tmp)
    _fsync_dir(folder)
    info = parse_name(target)
    assert info is not None
    log.info("backup %s of %s written (%d bytes)", target, db_path, info.size)
    return info


def list_backups(folder: Path, *, database: str | None = None) -> list[BackupInfo]:
    """The backups in ``folder`` (of one database when ``database`` names its stem), newest first."""
    folder = Path(folder)
    try:
        entries = [p for p in folder.iterdir() if p.is_file()]
    except OSError:
        return []
    infos = [i for i in map(parse_name, entries) if i is not None and (database is None or i.database == database)]
    return sorted(infos, key=lambda i: (i.taken_at, i.seq, i.path.name), reverse=True)


def describe(path: Path) -> BackupSummary:
    """Open a backup read-only and say what is in it (for the restore dialog)."""
    path = Path(path)
    info = parse_name(path)
    try:
        stat = path.stat()
    except OSError as e:
        raise BackupError(f"找不到备份文件 {path}") from e
    taken = info.taken_at if info else datetime.fromtimestamp(stat.st_mtime).replace(microsecond=0)
    try:
        conn = sqlite3.connect(_ro_uri(path), uri=True, timeout=BUSY_TIMEOUT_S)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

            def one(sql: str, table: str) -> object:
                return conn.execute(sql).fetchone()[0] if table in tables else None

            def count(table: str) -> int | None:
                value = one(f'SELECT count(*) FROM "{table}"', table)
                return int(value) if isinstance(value, int) else None

            def day(sql: str, table: str) -> date | None:
                value = one(sql, table)
                return date.fromisoformat(str(value)[:10]) if value else None

            revision = one("SELECT version_num FROM alembic_version", "alembic_version")
            return BackupSummary(
                path, taken, info.kind if info else None, stat.st_size,
                str(revision) if revision is not None else None,
                count("customers"), count("visits"), count("orders"), count("receipts"), count("payments"),
                day("SELECT max(business_date) FROM receipts", "receipts"),
                day("SELECT max(business_date) FROM day_closes", "day_closes"))
        finally:
            conn.close()
    except sqlite3.Error as e:
        raise BackupError(f"无法读取备份文件 {path.name}：{e}") from e


# --- retention -----------------------------------------------------------------------------------


def select_to_keep(infos: Iterable[BackupInfo], today: date, daily: int = 14, monthly: int = 12, *,
                   keep_other: int = KEEP_OTHER) -> set[Path]:
    """Which backups a retention run keeps (the rest may be deleted). Each database separately:

    * routine backups (daily, exit): the newest of each of the last ``daily`` days that have one and
      the newest of each of the last ``monthly`` months that have one (a clinic closed for a month
      does not lose its history); anything dated after ``today`` (a clock that was wrong) is kept;
    * migration, manual and before-restore backups: the newest ``keep_other`` of each kind.

    ``daily`` is at least 1: the newest routine backup is always kept.
    """
    daily = max(1, daily)
    monthly = max(0, monthly)
    keep: set[Path] = set()
    by_database: dict[str, list[BackupInfo]] = {}
    for info in infos:
        by_database.setdefault(info.database, []).append(info)
    for group in by_database.values():
        group.sort(key=lambda i: (i.taken_at, i.seq, i.path.name), reverse=True)
        days: set[date] = set()
        months: set[tuple[int, int]] = set()
        counts: dict[str, int] = {}
        for info in group:
            if info.kind not in ROUTINE_KINDS:
                counts[info.kind] = counts.get(info.kind, 0) + 1
                if counts[info.kind] <= keep_other:
                    keep.add(info.path)
                continue
            day = info.taken_at.date()
            if day > today:
                keep.add(info.path)
                continue
            if day not in days and len(days) < daily:
                days.add(day)
                keep.add(info.path)
            month = (day.year, day.month)
            if month not in months and len(months) < monthly:
                months.add(month)
                keep.add(info.path)
    return keep


def apply_retention(folder: Path, *, daily: int = 14, monthly: int = 12, keep_other: int = KEEP_OTHER,
                    today: date | None = None) -> list[Path]:
    """Delete the backups ``select_to_keep`` does not keep, and temporary copies a crash left behind
    more than a day ago. Returns the deleted paths."""
    infos = list_backups(folder)
    keep = select_to_keep(infos, today or clock.now().date(), daily, monthly, keep_other=keep_other)
    doomed = [i.path for i in infos if i.path not in keep]
    try:
        stale = time.time() - STALE_TEMP_S
        doomed += [p for p in Path(folder).glob(".*.tmp") if _NAME.match(p.name[1:].rsplit(".", 2)[0])
                   and p.is_file() and p.stat().st_mtime < stale]
    except OSError:  # pragma: no cover
        pass
    for info in infos:  # a backup an older version wrote readable by every user of the PC
        if info.path in keep:
            paths.private_file(info.path)
    deleted: list[Path] = []
    for path in doomed:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as e:  # pragma: no cover - a file held open on Windows
            log.warning("retention could not delete %s: %s", path, e)
            continue
        deleted.append(path)
    if deleted:
        log.info("retention deleted %d backups in %s", len(deleted), folder)
    return deleted


# --- restore -------------------------------------------------------------------------------------


def restore(backup_path: Path, db_path: Path, folder: Path) -> Path | None:
    """Put a backup's content into the live database ``db_path``. Returns the safety copy's path.

    The caller must first close every connection of this program to the database (the UI: dispose
    the clinic's engine, stop the scheduler) and reopen it afterwards; a database still open
    elsewhere (another Meike window) is refused with ``BackupError`` and left as it was.

    Steps: the backup is checked (``integrity_check``, and it must be a Meike database); the current
    database is backed up as "before-restore" (None when there is no database yet); then the backup is
    copied into the live database with the backup API, so its WAL and shared-memory files stay
    consistent; the result is checked again.
    """
    backup_path, db_path, folder = Path(backup_path), Path(db_path), Path(folder)
    if not backup_path.is_file():
        raise BackupError(f"找不到备份文件 {backup_path}")
    if db_path.exists() and backup_path.resolve() == db_path.resolve():
        raise BackupError("不能用数据库文件本身恢复")
    errors = integrity_errors(backup_path)
    if errors:
        raise BackupError(f"备份文件已损坏，不能用来恢复：{'；'.join(errors[:3])}")
    if describe(backup_path).revision is None:
        raise BackupError(f"{backup_path.name} 不是美客的数据库备份")
    if not db_path.exists():  # a new computer: the clinic's file is made private before SQLite fills it
        paths.private_dir(db_path.parent, tighten=False)
        paths.create_private(db_path)
    dst = sqlite3.connect(str(db_path), timeout=2.0, isolation_level=None)
    try:
        existed = dst.execute("PRAGMA page_count").fetchone()[0] > 0
        busy = BackupError("数据库正在被使用（可能还开着另一个美客窗口），请关闭后再恢复")
        try:
            # Leaving WAL mode needs the database to ourselves: proof that nobody else has it open.
            # (The rollback journal also undoes a copy that fails half-way, e.g. on a full disk.)
            mode = dst.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        except sqlite3.OperationalError as e:
            raise busy from e
        if str(mode).lower() != "delete":
            raise busy
        try:
            safety = make_backup(db_path, folder, kind="before-restore").path if existed else None
            src = sqlite3.connect(_ro_uri(backup_path), uri=True, timeout=BUSY_TIMEOUT_S)
            try:
                src.backup(dst)
            finally:
                src.close()
        finally:
            dst.execute("PRAGMA journal_mode = WAL")
        after = dst.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.Error as e:
        raise BackupError(f"恢复失败：{e}") from e
    finally:
        dst.close()
    if [r[0] for r in after] != ["ok"]:
        where = f"恢复前的数据库已备份为 {safety}" if safety else ""
        raise BackupError(f"恢复后校验失败：{after[0][0]}。{where}")
    log.info("restored %s from %s (safety copy %s)", db_path, backup_path, safety)
    return safety


# --- settings --------------------------------------------------------------------------------------

SETTING_KEYS = {"folder": "backup.folder", "daily": "backup.keep_daily", "monthly": "backup.keep_monthly",
                "enabled": "backup.enabled"}


@dataclass(frozen=True)
class BackupSettings:
    """Clinic-wide, in the ``system_settings`` key/value table. An empty folder: ``backups`` beside the database."""

    folder: str = ""
    daily: int = 14
    monthly: int = 12
    enabled: bool = True

    def folder_for(self, db_path: Path) -> Path:
        return Path(self.folder) if self.folder else Path(db_path).parent / "backups"


def load_settings(clinic: Clinic) -> BackupSettings:
    default = BackupSettings()
    with clinic.read() as s:
        raw = dict(s.execute(select(SystemSetting.key, SystemSetting.value)
                             .where(SystemSetting.key.in_(SETTING_KEYS.values()))).tuples().all())

    def number(name: str, fallback: int) -> int:
        try:
            return int(raw[SETTING_KEYS[name]])
        except (KeyError, ValueError):
            return fallback

    enabled = raw.get(SETTING_KEYS["enabled"])
    return BackupSettings(
        folder=raw.get(SETTING_KEYS["folder"], default.folder),
        daily=number("daily", default.daily), monthly=number("monthly", default.monthly),
        enabled=enabled not in ("0", "false", "") if enabled is not None else default.enabled)


def can_manage(actor: Actor) -> bool:
    """May choose where the backups go and make one now: the administrator, or an account with the
    settings page and the right 数据备份 (a backup holds every number in full, whatever one may see)."""
    return actor.is_admin or (actor.can_open(Page.SETTINGS) and actor.has_right(Right.BACKUP))


def require_manage(actor: Actor) -> None:
    actor.check_live()  # a right taken away since the login counts now (issue 14/10)
    if not can_manage(actor):
        raise PermissionDenied(f"备份文件夹和立即备份只有管理员或有“{RIGHT_LABELS[Right.BACKUP].split('（')[0]}”权限的账号"
                               "可以操作（备份里是全部资料，包括完整的手机号和身份证号），请联系管理员")


def save_settings(clinic: Clinic, actor: Actor, settings: BackupSettings) -> BackupSettings:
    """Save the backup settings (the administrator's 备份与恢复, or 系统管理 with the right 数据备份);
    audited with the folder before and after."""
    require_manage(actor)
    errors: dict[str, str] = {}
    folder = settings.folder.strip()
    if folder and not Path(folder).is_absolute():
        errors["backup_folder"] = "备份文件夹请填写完整路径，例如 D:\\美客备份"
    if not isinstance(settings.daily, int) or not 1 <= settings.daily <= 365:
        errors["backup_daily"] = "保留每日备份的天数应在 1–365 之间"
    if not isinstance(settings.monthly, int) or not 0 <= settings.monthly <= 120:
        errors["backup_monthly"] = "保留每月备份的月数应在 0–120 之间"
    if errors:
        raise ValidationError(errors)
    clean = BackupSettings(folder, settings.daily, settings.monthly, bool(settings.enabled))
    values = {"folder": clean.folder, "daily": str(clean.daily), "monthly": str(clean.monthly),
              "enabled": "1" if clean.enabled else "0"}
    with clinic.write() as s:
        before: dict[str, str | None] = {}
        for name, key in SETTING_KEYS.items():
            row = s.get(SystemSetting, key)
            before[key] = row.value if row is not None else None
            if row is None:
                s.add(SystemSetting(key=key, value=values[name]))
            else:
                row.value = values[name]
        after = {SETTING_KEYS[name]: v for name, v in values.items()}
        if before != after:
            audit.record(s, actor, "setting.change", "system_setting", None, before=before, after=after)
    return clean


# --- the status of the last attempts -----------------------------------------------------------------

STATUS_KEYS = {
    "ok_at": "backup.last_ok_at", "ok_file": "backup.last_ok_file", "ok_kind": "backup.last_ok_kind",
    "failed_at": "backup.last_failed_at", "failure": "backup.last_failure",
    "failed_kind": "backup.last_failed_kind", "result": "backup.last_result",  # "ok" / "failed"
}
# Short reasons (no paths, no personal data, no exception text: that goes to the log).
REASON_FOLDER = "备份文件夹不存在或无法写入"
REASON_DISK_FULL = "磁盘空间不足"
REASON_CHECK = "备份文件校验失败"
REASON_BUSY = "数据库正忙"
REASON_CORRUPT = "数据库文件可能已损坏，请运行检查（main.py --check）"
REASON_NO_DATABASE = "找不到数据库文件"
REASON_DISK_ERROR = "读写磁盘出错（磁盘故障或网络共享断开？）"
REASON_OTHER = "其它错误（详见日志）"
SETTINGS_HINT = "请到 系统管理 → 数据备份 检查备份文件夹（没有这个页面的权限请告知管理员）。"
STALE_AFTER = timedelta(days=1)

_FOLDER_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EEXIST, errno.EISDIR}
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# SQLite primary result codes (sqlite3.Error.sqlite_errorcode & 0xff)
_SQLITE_FULL, _SQLITE_FOLDER = 13, {3, 8, 14, 23}  # FULL; PERM, READONLY, CANTOPEN, AUTH
_SQLITE_BUSY, _SQLITE_CORRUPT, _SQLITE_IOERR = {5, 6}, {11, 26}, 10  # BUSY, LOCKED; CORRUPT, NOTADB; IOERR


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it was raised from (``__cause__`` / ``__context__``) and a driver error under a
    SQLAlchemy one (``.orig``), outermost first."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        orig = getattr(e, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, e.__cause__, e.__context__]


def failure_reason(exc: BaseException) -> str:
    """The short Chinese reason recorded for a failed backup, from the exception's type (never its text)."""
    chain = list(_causes(exc))
    for e in chain:
        if isinstance(e, BackupError) and e.reason:
            return e.reason
    for e in chain:
        if isinstance(e, OSError) and e.errno in _FULL_ERRNOS:
            return REASON_DISK_FULL
        if isinstance(e, sqlite3.Error) and (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF == _SQLITE_FULL:
            return REASON_DISK_FULL
    for e in chain:
        if isinstance(e, (PermissionError, FileNotFoundError, NotADirectoryError, FileExistsError,
                          IsADirectoryError)) or (isinstance(e, OSError) and e.errno in _FOLDER_ERRNOS):
            return REASON_FOLDER
        if isinstance(e, sqlite3.Error):
            code = (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF
            if code in _SQLITE_FOLDER:
                return REASON_FOLDER
            if code in _SQLITE_BUSY:
                return REASON_BUSY
            if code in _SQLITE_CORRUPT:
                return REASON_CORRUPT
            if code == _SQLITE_IOERR:
                return REASON_DISK_ERROR
        if isinstance(e, OSError) and e.errno == errno.EIO:
            return REASON_DISK_ERROR
    return REASON_OTHER


def _put(session: Session, values: dict[str, str]) -> None:
    for key, value in values.items():
        row = session.get(SystemSetting, key)
        if row is None:
            session.add(SystemSetting(key=key, value=value))
        else:
            row.value = value


def _stamp(at: datetime) -> str:
    return at.replace(microsecond=0).isoformat(sep=" ")


def _record_success(clinic: Clinic, info: BackupInfo) -> None:
    """The backup exists whatever happens here: a status that cannot be written is only logged."""
    try:
        with clinic.write() as s:
            _put(s, {STATUS_KEYS["ok_at"]: _stamp(info.taken_at), STATUS_KEYS["ok_file"]: info.path.name,
                     STATUS_KEYS["ok_kind"]: info.kind, STATUS_KEYS["result"]: "ok"})
    except Exception:  # noqa: BLE001 (busy, read-only, a schema too old to hold it)
        log.warning("backup %s was made, but its status could not be recorded", info.path.name, exc_info=True)


def _record_failure(clinic: Clinic, kind: str, folder: Path | None, exc: BaseException, actor: Actor | None) -> None:
    """The status (last failure) and an audit row (the system's when there is no actor). Never raises."""
    reason = failure_reason(exc)
    log.error("%s backup into %s failed (%s)", kind, folder, reason, exc_info=exc)
    status = {STATUS_KEYS["failed_at"]: _stamp(clock.now()), STATUS_KEYS["failure"]: reason,
              STATUS_KEYS["failed_kind"]: kind, STATUS_KEYS["result"]: "failed"}
    try:
        with clinic.write() as s:
            _put(s, status)
            audit.record(s, actor, "backup.failed", "backup", None, after={
                "kind": kind, "reason": reason, "folder": str(folder) if folder is not None else None})
        return
    except Exception:  # noqa: BLE001
        log.warning("backup failure could not be recorded with its audit row; trying the status alone",
                    exc_info=True)
    try:  # e.g. before a migration, at a revision whose audit log has no chain yet
        with clinic.write() as s:
            _put(s, status)
    except Exception:  # noqa: BLE001
        log.warning("backup failure could not be recorded", exc_info=True)


class _Attempt:
    """One backup attempt, recorded when it ends: ``made(info)`` on success; an exception leaving the
    ``with`` block is recorded as the failure (and still raised). Set ``folder`` once it is known."""

    def __init__(self, clinic: Clinic, kind: str, *, actor: Actor | None = None, folder: Path | None = None) -> None:
        self.clinic, self.kind, self.actor, self.folder = clinic, kind, actor, folder

    def __enter__(self) -> _Attempt:
        return self

    def made(self, info: BackupInfo) -> BackupInfo:
        _record_success(self.clinic, info)
        return info

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if isinstance(exc, Exception):
            _record_failure(self.clinic, self.kind, self.folder, exc, self.actor)


@dataclass(frozen=True)
class BackupStatus:
    """What the dashboard shows about the backups: the last success, the last failure, a warning."""

    checked_at: datetime  # the clinic's clock when it was read
    server_managed: bool = False  # PostgreSQL: the server's own backups (pg_dump); nothing to show
    enabled: bool = True  # automatic backups switched on
    last_ok_at: datetime | None = None
    last_ok_file: str | None = None
    last_ok_kind: str | None = None
    last_failed_at: datetime | None = None
    last_failure: str | None = None  # a short Chinese reason (REASON_*)
    last_failed_kind: str | None = None
    last_attempt_failed: bool = False

    @property
    def summary(self) -> str:
        """One line: 上次成功备份：2026-12-07 14:05（每日自动备份） / 尚未备份 / the server's business."""
        if self.server_managed:
            return "数据库在 PostgreSQL 服务器上，由服务器负责备份（pg_dump）"
        if self.last_ok_at is None:
            return "上次成功备份：尚未备份"
        label = KIND_LABELS.get(self.last_ok_kind or "", "")
        return f"上次成功备份：{self.last_ok_at:%Y-%m-%d %H:%M}" + (f"（{label}）" if label else "")

    @property
    def warning(self) -> str | None:
        """A Chinese sentence when the last attempt failed or the last success is more than a day old."""
        if self.server_managed:
            return None
        if self.last_attempt_failed and self.last_failed_at is not None:
            label = KIND_LABELS.get(self.last_failed_kind or "", "备份")
            return (f"{label}失败（{self.last_failed_at:%m-%d %H:%M}）：{self.last_failure or REASON_OTHER}。"
                    + SETTINGS_HINT)
        off = "" if self.enabled else "自动备份已关闭，"
        if self.last_ok_at is None:
            # Switched on, the first daily backup is minutes away; switched off, nothing will ever come.
            return None if self.enabled else f"{off}数据还从未备份过。" + SETTINGS_HINT
        age = self.checked_at - self.last_ok_at
        if age > STALE_AFTER:
            return f"{off}已经 {age.days} 天没有成功备份（上次：{self.last_ok_at:%Y-%m-%d %H:%M}）。" + SETTINGS_HINT
        return None


def _parse_stamp(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def backup_status(clinic: Clinic) -> BackupStatus:
    """The last success and failure of the backups (a short read; any user may see it: no personal data).

    A clinic whose backups were made before the status was kept: the newest backup file in the folder
    stands for the last success.
    """
    now = clock.now()
    path = clinic.path
    if path is None:
        return BackupStatus(checked_at=now, server_managed=True)
    settings = load_settings(clinic)
    with clinic.read() as s:
        raw = dict(s.execute(select(SystemSetting.key, SystemSetting.value)
                             .where(SystemSetting.key.in_(STATUS_KEYS.values()))).tuples().all())

    def value(name: str) -> str | None:
        return raw.get(STATUS_KEYS[name]) or None

    ok_at, ok_file, ok_kind = _parse_stamp(value("ok_at")), value("ok_file"), value("ok_kind")
    if ok_at is None:
        newest = next(iter(list_backups(settings.folder_for(path), database=path.stem)), None)
        if newest is not None:
            ok_at, ok_file, ok_kind = newest.taken_at, newest.path.name, newest.kind
    failed_at = _parse_stamp(value("failed_at"))
    return BackupStatus(
        checked_at=now, enabled=settings.enabled, last_ok_at=ok_at, last_ok_file=ok_file, last_ok_kind=ok_kind,
        last_failed_at=failed_at, last_failure=value("failure"), last_failed_kind=value("failed_kind"),
        last_attempt_failed=value("result") == "failed" and failed_at is not None)


# --- the jobs --------------------------------------------------------------------------------------


def _routine(clinic: Clinic, kind: str, *, only_once_a_day: bool) -> BackupInfo | None:
    path = clinic.path
    if path is None or not path.exists():
        return None  # PostgreSQL: the server's own backups
    with _Attempt(clinic, kind) as attempt:
        settings = load_settings(clinic)
        if not settings.enabled:
            return None
        folder = attempt.folder = settings.folder_for(path)
        today = clock.now().date()
        if only_once_a_day and any(i.kind == kind and i.taken_at.date() == today
                                   for i in list_backups(folder, database=path.stem)):
            return None
        info = attempt.made(make_backup(path, folder, kind=kind))
    apply_retention(folder, daily=settings.daily, monthly=settings.monthly, today=today)
    return info


def daily_backup(clinic: Clinic) -> BackupInfo | None:
    """The scheduler's job: one "daily" backup per day (later runs that day do nothing), then retention.

    None when backups are off, the clinic is on PostgreSQL, or today's backup exists already. The
    outcome is recorded (``backup_status``); a failure is also audited, then raised.
    """
    return _routine(clinic, "daily", only_once_a_day=True)


def exit_backup(clinic: Clinic) -> BackupInfo | None:
    """When the main window closes: an "exit" backup, then retention. None when off / PostgreSQL.

    Recorded like the daily backup; a failure is raised after it was recorded (the caller logs it and
    exits anyway)."""
    return _routine(clinic, "exit", only_once_a_day=False)


def migration_backup(clinic: Clinic, folder: Path) -> BackupInfo:
    """Before a schema upgrade (``meike.db.migrate.upgrade``): a "migration" backup, recorded like the
    others as far as the old schema allows (its status table is there from the first revision, the
    audit chain only from 0008: an older one records the status alone)."""
    path = clinic.path
    if path is None:
        raise BackupError("PostgreSQL 数据库请在数据库服务器上备份（pg_dump）")
    with _Attempt(clinic, "migration", folder=Path(folder)) as attempt:
        return attempt.made(make_backup(path, folder, kind="migration"))


def manual_backup(clinic: Clinic, actor: Actor) -> BackupInfo:
    """【立即备份】: a "manual" backup (kept by count, not thinned by date) into the clinic's backup folder;
    the administrator or 数据备份 only (``can_manage``); audited with the folder and the file."""
    require_manage(actor)
    path = clinic.path
    if path is None:
        raise BackupError("PostgreSQL 数据库请在数据库服务器上备份（pg_dump）")
    with _Attempt(clinic, "manual", actor=actor) as attempt:
        folder = attempt.folder = load_settings(clinic).folder_for(path)
        info = attempt.made(make_backup(path, folder, kind="manual"))
    with clinic.write() as s:
        audit.record(s, actor, "backup.manual", "backup", None, after={
            "folder": str(info.path.parent), "file": info.path.name, "size": info.size})
    return info


def restore_clinic(clinic: Clinic, actor: Actor, backup_path: Path) -> Path | None:
    """恢复备份 in the program (the administrator only): the clinic's SQLite database becomes the backup.

    The current database is kept as a "before-restore" backup first. This program's connections are
    closed here; the caller stops its own background jobs first (``sms_jobs``) and should restart the
    program afterwards. A backup of an older schema is upgraded after the restore; one from a newer
    version of Meike is refused. The restore is written to the (restored) audit log.
    """
    from alembic.script import ScriptDirectory

    from meike.clinic_setup import after_upgrade
    from meike.db.migrate import alembic_config, upgrade

    actor.require_admin()
    path = clinic.path
    if path is None:
        raise BackupError("PostgreSQL 数据库请用服务器上的备份（pg_dump）恢复")
    summary = describe(Path(backup_path))
    known = {r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if summary.revision is not None and summary.revision not in known:
        raise BackupError("这个备份来自更新版本的美客，请先升级本程序再恢复")
    folder = load_settings(clinic).folder_for(path)
    issued = numbers_issued(clinic)  # read before the data that issued them is replaced
    clinic.dispose()
    safety = restore(Path(backup_path), path, folder)
    clinic.dispose()
    upgrade(clinic, backup_dir=folder)
    with clinic.write() as s:
        audit.record(s, actor, "backup.restore", "database", None, after={
            "backup": Path(backup_path).name, "taken_at": summary.taken_at, "revision": summary.revision,
            "safety_copy": safety.name if safety else None})
        # The row right after the restored chain is the restore's (``audit_guard`` reads it so); the receipt
        # numbers issued since the backup follow it, audited as "receipt.numbers.skipped".
        numbering.carry_forward(s, issued, reason="restore")
    after_upgrade(clinic)  # secrets an old backup holds in clear are sealed
    safety_info = parse_name(safety) if safety else None
    if safety_info is not None:  # the restored data carries the backup's old status: the copy just made is newer
        _record_success(clinic, safety_info)
    return safety


def numbers_issued(clinic: Clinic) -> dict[date, int]:
    """The last receipt number issued on each day: the clinic's counters, raised to the mark kept beside
    its file (the counters of a database that cannot be read count as none)."""
    try:
        with clinic.read() as s:
            floor = numbering.issued(s)
    except Exception:  # noqa: BLE001 (a damaged database: the mark is what is left)
        log.warning("the receipt counters could not be read before the restore", exc_info=True)
        floor = {}
    if clinic.path is not None:
        for day, top in numbering.read_mark(clinic.path).items():
            floor[day] = max(floor.get(day, 0), top)
    return floor


# --- what a restore loses --------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreLosses:
    """What the current data holds and the backup does not: gone after the restore."""

    receipts: int = 0
    receipts_fen: int = 0  # what those receipts moved (signed: refunds count negative)
    first_receipt: str | None = None
    last_receipt: str | None = None
    customers: int = 0
    visits: int = 0
    day_closes: tuple[date, ...] = ()

    @property
    def nothing(self) -> bool:
        return not (self.receipts or self.customers or self.visits or self.day_closes)

    def lines(self) -> list[str]:
        """One Chinese line per kind of loss, for the confirmation."""
        out: list[str] = []
        if self.receipts:
            span = (self.first_receipt if self.receipts == 1 or self.first_receipt == self.last_receipt
                    else f"{self.first_receipt} 至 {self.last_receipt}")
            out.append(f"收据 {self.receipts} 张（{span}，金额合计 {yuan(self.receipts_fen)}）；"
                       "这些收据号以后不会再用")
        if self.customers:
            out.append(f"新登记的顾客 {self.customers} 位")
        if self.visits:
            out.append(f"到诊记录 {self.visits} 条")
        if self.day_closes:
            days = "、".join(f"{d:%Y-%m-%d}" for d in self.day_closes[:5])
            more = f" 等 {len(self.day_closes)} 天" if len(self.day_closes) > 5 else ""
            out.append(f"日结 {days}{more}")
        return out


def restore_losses(clinic: Clinic, actor: Actor, backup_path: Path) -> RestoreLosses:
    """Compare the current database with a backup (both read-only): the receipts, customers, visits and
    day closes that only the current data has (the administrator's restore confirmation lists them)."""
    actor.require_admin()
    path = clinic.path
    if path is None or not path.exists():
        return RestoreLosses()
    try:
        conn = sqlite3.connect(_ro_uri(path), uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as e:
        raise BackupError(f"无法读取当前的数据库：{e}") from e
    try:
        conn.execute("ATTACH DATABASE ? AS b", (_ro_uri(Path(backup_path)),))
        mine = {r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")}
        theirs = {r[0] for r in conn.execute("SELECT name FROM b.sqlite_master WHERE type = 'table'")}

        def only_here(table: str, column: str) -> str:
            kept = f"SELECT {column} FROM b.{table}" if table in theirs else "SELECT NULL WHERE 0"
            return f"FROM main.{table} WHERE {column} NOT IN ({kept})"

        receipts = (conn.execute("SELECT count(*), coalesce(sum(amount_fen), 0), min(receipt_no), max(receipt_no) "
                                 + only_here("receipts", "receipt_no")).fetchone()
                    if "receipts" in mine else (0, 0, None, None))
        customers = conn.execute("SELECT count(*) " + only_here("customers", "id")).fetchone()[0] \
            if "customers" in mine else 0
        visits = conn.execute("SELECT count(*) " + only_here("visits", "id")).fetchone()[0] if "visits" in mine else 0
        closes = [date.fromisoformat(str(r[0])[:10]) for r in conn.execute(
            "SELECT business_date " + only_here("day_closes", "business_date") + " ORDER BY business_date")] \
            if "day_closes" in mine else []
    except sqlite3.Error as e:
        raise BackupError(f"无法比较当前数据和备份：{e}") from e
    finally:
        conn.close()
    return RestoreLosses(int(receipts[0]), int(receipts[1]), receipts[2], receipts[3], int(customers), int(visits),
                         tuple(closes))
