"""Backup files: made online with the SQLite backup API and checked before they count, listed, thinned
out (retention), and copied back (``restore``). The story is ``meike.backup``."""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from meike import clock, paths
from meike.errors import MeikeError

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

# Why a backup failed, in words for the dashboard (``status.failure_reason``).
REASON_FOLDER = "备份文件夹不存在或无法写入"
REASON_DISK_FULL = "磁盘空间不足"
REASON_CHECK = "备份文件校验失败"
REASON_BUSY = "数据库正忙"
REASON_CORRUPT = "数据库文件可能已损坏，请运行检查（main.py --check）"
REASON_NO_DATABASE = "找不到数据库文件"
REASON_DISK_ERROR = "读写磁盘出错（磁盘故障或网络共享断开？）"
REASON_OTHER = "其它错误（详见日志）"

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
