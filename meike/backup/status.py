"""The status of the last backup attempts (``backup.last_*``), their Chinese reasons, for the dashboard."""

from __future__ import annotations

import errno
import logging
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike import clock
from meike.backup.files import (
    KIND_LABELS,
    REASON_BUSY,
    REASON_CORRUPT,
    REASON_DISK_ERROR,
    REASON_DISK_FULL,
    REASON_FOLDER,
    REASON_OTHER,
    BackupError,
    BackupInfo,
    list_backups,
)
from meike.backup.settings import load_settings
from meike.db import Clinic
from meike.errors import causes
from meike.models import SystemSetting
from meike.permissions import Actor
from meike.services import audit

log = logging.getLogger(__name__)

# --- the status of the last attempts -----------------------------------------------------------------

STATUS_KEYS = {
    "ok_at": "backup.last_ok_at", "ok_file": "backup.last_ok_file", "ok_kind": "backup.last_ok_kind",
    "failed_at": "backup.last_failed_at", "failure": "backup.last_failure",
    "failed_kind": "backup.last_failed_kind", "result": "backup.last_result",  # "ok" / "failed"
}
# Short reasons (no paths, no personal data, no exception text: that goes to the log).
SETTINGS_HINT = "请到 系统管理 → 数据备份 检查备份文件夹（没有这个页面的权限请告知管理员）。"
STALE_AFTER = timedelta(days=1)

_FOLDER_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EEXIST, errno.EISDIR}
_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
# SQLite primary result codes (sqlite3.Error.sqlite_errorcode & 0xff)
_SQLITE_FULL, _SQLITE_FOLDER = 13, {3, 8, 14, 23}  # FULL; PERM, READONLY, CANTOPEN, AUTH
_SQLITE_BUSY, _SQLITE_CORRUPT, _SQLITE_IOERR = {5, 6}, {11, 26}, 10  # BUSY, LOCKED; CORRUPT, NOTADB; IOERR



def failure_reason(exc: BaseException) -> str:
    """The short Chinese reason recorded for a failed backup, from the exception's type (never its text)."""
    chain = list(causes(exc))
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
