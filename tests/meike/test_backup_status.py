"""The backup status: every attempt's outcome is recorded, a failure is audited and seen as a warning."""

from __future__ import annotations

import errno
import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from meike import backup, clock
from meike.backup import BackupError, BackupSettings
from meike.db import Clinic
from meike.models import AuditEntry, SystemSetting
from meike.permissions import Actor, Right, right_code
from meike.scheduler import start_backup_schedule
from tests.conftest import make_user

NOW = datetime(2026, 12, 7, 14, 5)


@pytest.fixture(name="now")
def now_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    """The clinic clock stopped at 2026-12-07 14:05; assign ``now[0]`` to move it."""
    now = [NOW]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    yield now


@pytest.fixture
def user(clinic: Clinic, admin: Actor) -> Actor:
    """Every page and the right 数据备份 (choosing the folder and 立即备份 need it)."""
    return make_user(clinic, admin, "keeper", grants={right_code(Right.BACKUP)})


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder below a regular file: cannot be created, not even by root."""
    blocker = tmp_path / "not-a-folder.txt"
    blocker.write_text("a file where the backup folder's parent should be")
    return blocker / "backups"


def _failures(clinic: Clinic) -> list[tuple[str, int | None, str, str | None]]:
    """The audit rows of failed backups: (username, user_id, entity, after)."""
    with clinic.read() as s:
        return [tuple(r) for r in s.execute(  # type: ignore[misc]
            select(AuditEntry.username, AuditEntry.user_id, AuditEntry.entity, AuditEntry.after)
            .where(AuditEntry.action == "backup.failed").order_by(AuditEntry.id))]


def _stored(clinic: Clinic) -> dict[str, str]:
    with clinic.read() as s:
        return dict(s.execute(select(SystemSetting.key, SystemSetting.value)
                              .where(SystemSetting.key.like("backup.last_%"))).tuples().all())


# --- recording ---------------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_a_daily_backup_records_the_last_success(clinic: Clinic, user: Actor, tmp_path: Path,
                                                  now: list[datetime]) -> None:
    backup.save_settings(clinic, user, BackupSettings(str(tmp_path / "backups")))
    status = backup.backup_status(clinic)
    assert (status.last_ok_at, status.warning, status.summary) == (None, None, "上次成功备份：尚未备份")

    info = backup.daily_backup(clinic)
    assert info is not None
    status = backup.backup_status(clinic)
    assert (status.last_ok_at, status.last_ok_file, status.last_ok_kind) == (NOW, info.path.name, "daily")
    assert not status.last_attempt_failed and status.warning is None
    assert status.summary == "上次成功备份：2026-12-07 14:05（每日自动备份）"
    assert _failures(clinic) == []

    now[0] += timedelta(hours=5)
    assert backup.daily_backup(clinic) is None  # today's exists: no attempt, nothing recorded
    assert backup.backup_status(clinic).last_ok_at == NOW
    exit_copy = backup.exit_backup(clinic)
    assert exit_copy is not None
    assert (backup.backup_status(clinic).last_ok_at, backup.backup_status(clinic).last_ok_kind) == (
        NOW + timedelta(hours=5), "exit")


@pytest.mark.sqlite_only
def test_a_failed_scheduled_backup_is_recorded_audited_and_warned_about(
        clinic: Clinic, user: Actor, tmp_path: Path, now: list[datetime]) -> None:
    backup.save_settings(clinic, user, BackupSettings(str(tmp_path / "backups")))
    assert backup.daily_backup(clinic) is not None  # a good one first: the failure comes after it
    now[0] += timedelta(days=1)
    folder = _unwritable_folder(tmp_path)
    backup.save_settings(clinic, user, BackupSettings(str(folder)))

    with pytest.raises(BackupError):  # the job function itself still raises to its caller ...
        backup.daily_backup(clinic)
    scheduler = start_backup_schedule(clinic, first_after_s=3600, every_s=3600)
    try:
        job = scheduler.get_job("backup.daily")
        assert job is not None
        job.func()  # ... the scheduler's job never: it returns, recorded, and tries again next hour
    finally:
        scheduler.shutdown(wait=True)

    status = backup.backup_status(clinic)
    assert status.last_attempt_failed
    assert (status.last_failed_at, status.last_failure, status.last_failed_kind) == (
        NOW + timedelta(days=1), backup.REASON_FOLDER, "daily")
    assert status.last_ok_at == NOW  # the last success is still known
    assert status.warning is not None
    assert "每日自动备份失败" in status.warning and "备份文件夹不存在或无法写入" in status.warning
    assert "数据备份" in status.warning
    assert str(folder) not in status.warning and "Errno" not in status.warning  # no raw exception text

    rows = _failures(clinic)
    assert len(rows) == 2  # the direct call and the scheduler's run
    assert all(r[:3] == ("system", None, "backup") for r in rows)
    after = rows[-1][3] or ""
    assert '"reason": "备份文件夹不存在或无法写入"' in after and '"kind": "daily"' in after
    assert json.loads(after)["folder"] == str(folder)

    # The folder is fixed: the next run succeeds and the warning goes away.
    backup.save_settings(clinic, user, BackupSettings(str(tmp_path / "backups")))
    assert backup.daily_backup(clinic) is not None
    status = backup.backup_status(clinic)
    assert not status.last_attempt_failed and status.warning is None
    assert status.last_failure == backup.REASON_FOLDER  # the last failure is kept, only no longer the last attempt


@pytest.mark.sqlite_only
def test_a_failed_manual_backup_is_audited_with_its_user(clinic: Clinic, user: Actor, tmp_path: Path,
                                                         now: list[datetime]) -> None:
    backup.save_settings(clinic, user, BackupSettings(str(_unwritable_folder(tmp_path))))
    with pytest.raises(BackupError):
        backup.manual_backup(clinic, user)
    rows = _failures(clinic)
    assert [r[:2] for r in rows] == [(user.username, user.user_id)]
    status = backup.backup_status(clinic)
    assert status.last_failed_kind == "manual" and status.warning is not None and "手动备份失败" in status.warning


@pytest.mark.sqlite_only
def test_the_exit_backup_records_a_failure_and_raises_nothing_else(clinic: Clinic, user: Actor, tmp_path: Path,
                                                                   now: list[datetime]) -> None:
    backup.save_settings(clinic, user, BackupSettings(str(_unwritable_folder(tmp_path))))
    with pytest.raises(BackupError):
        backup.exit_backup(clinic)
    assert backup.backup_status(clinic).last_failed_kind == "exit"


@pytest.mark.sqlite_only
def test_a_status_that_cannot_be_written_never_fails_the_backup(clinic: Clinic, user: Actor, tmp_path: Path,
                                                               now: list[datetime],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    backup.save_settings(clinic, user, BackupSettings(str(tmp_path / "backups")))

    def broken_put(*_a: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(backup.status, "_put", broken_put)
    info = backup.daily_backup(clinic)
    assert info is not None and info.path.exists()
    backup.save_settings(clinic, user, BackupSettings(str(_unwritable_folder(tmp_path))))
    with pytest.raises(BackupError):  # the backup's own error, not the status's
        backup.exit_backup(clinic)
    assert _stored(clinic) == {}  # nothing recorded, nothing broken


@pytest.mark.sqlite_only
def test_the_migration_backup_is_recorded(clinic: Clinic, user: Actor, tmp_path: Path, now: list[datetime]) -> None:
    info = backup.migration_backup(clinic, tmp_path / "backups")
    status = backup.backup_status(clinic)
    assert (status.last_ok_kind, status.last_ok_file) == ("migration", info.path.name)
    with pytest.raises(BackupError):
        backup.migration_backup(clinic, _unwritable_folder(tmp_path))
    assert backup.backup_status(clinic).last_failed_kind == "migration"
    assert len(_failures(clinic)) == 1


# --- the warning ---------------------------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_a_success_older_than_a_day_sets_the_warning(clinic: Clinic, user: Actor, tmp_path: Path,
                                                     now: list[datetime]) -> None:
    backup.save_settings(clinic, user, BackupSettings(str(tmp_path / "backups")))
    backup.daily_backup(clinic)
    now[0] = NOW + timedelta(hours=23, minutes=59)
    assert backup.backup_status(clinic).warning is None
    now[0] = NOW + timedelta(days=3, minutes=1)
    warning = backup.backup_status(clinic).warning
    assert warning is not None
    assert "3 天没有成功备份" in warning and "2026-12-07 14:05" in warning and "数据备份" in warning


@pytest.mark.sqlite_only
def test_switched_off_backups_warn_when_nothing_recent_exists(clinic: Clinic, user: Actor, tmp_path: Path,
                                                              now: list[datetime]) -> None:
    backup.save_settings(clinic, user, BackupSettings(str(tmp_path / "backups"), enabled=False))
    status = backup.backup_status(clinic)
    assert not status.enabled and status.warning is not None and "自动备份已关闭" in status.warning
    backup.manual_backup(clinic, user)
    assert backup.backup_status(clinic).warning is None
    now[0] += timedelta(days=2)
    assert "自动备份已关闭" in (backup.backup_status(clinic).warning or "")


@pytest.mark.sqlite_only
def test_backups_made_before_the_status_was_kept_count_as_the_last_success(
        clinic: Clinic, user: Actor, tmp_path: Path, now: list[datetime]) -> None:
    folder = tmp_path / "backups"
    backup.save_settings(clinic, user, BackupSettings(str(folder)))
    assert clinic.path is not None
    info = backup.make_backup(clinic.path, folder, kind="daily")  # as the previous version did: no status
    assert _stored(clinic) == {}
    status = backup.backup_status(clinic)
    assert (status.last_ok_at, status.last_ok_file) == (NOW, info.path.name) and status.warning is None


def test_on_postgresql_the_server_backs_up_and_nothing_warns(clinic: Clinic) -> None:
    if clinic.path is not None:
        pytest.skip("PostgreSQL only (MEIKE_TEST_DATABASE_URL)")
    status = backup.backup_status(clinic)
    assert status.server_managed and status.warning is None and "服务器" in status.summary
    assert backup.daily_backup(clinic) is None and backup.exit_backup(clinic) is None
    assert _stored(clinic) == {} and _failures(clinic) == []


def test_a_status_without_a_database_file_is_the_servers_business() -> None:
    status = backup.BackupStatus(checked_at=NOW, server_managed=True, enabled=False,
                                 last_ok_at=NOW - timedelta(days=30))
    assert status.warning is None


# --- reasons -----------------------------------------------------------------------------------------


def _raised_from(cause: BaseException) -> BackupError:
    try:
        try:
            raise cause
        except BaseException as e:
            raise BackupError("写入备份文件失败") from e
    except BackupError as wrapped:
        return wrapped


def _sqlite_error(code: int) -> sqlite3.Error:
    e = sqlite3.OperationalError("some text with 张三 in it")
    e.sqlite_errorcode = code  # type: ignore[attr-defined]
    return e


@pytest.mark.parametrize(("exc", "reason"), [
    (OSError(errno.ENOSPC, "No space left on device"), backup.REASON_DISK_FULL),
    (_raised_from(OSError(errno.ENOSPC, "No space left on device")), backup.REASON_DISK_FULL),
    (_raised_from(PermissionError(errno.EACCES, "denied")), backup.REASON_FOLDER),
    (FileNotFoundError(errno.ENOENT, "gone"), backup.REASON_FOLDER),
    (_raised_from(NotADirectoryError(errno.ENOTDIR, "not a dir")), backup.REASON_FOLDER),
    (OSError(errno.EROFS, "read-only file system"), backup.REASON_FOLDER),
    (BackupError("备份完成后校验失败", reason=backup.REASON_CHECK), backup.REASON_CHECK),
    (_raised_from(_sqlite_error(13)), backup.REASON_DISK_FULL),  # SQLITE_FULL
    (_raised_from(_sqlite_error(14)), backup.REASON_FOLDER),  # SQLITE_CANTOPEN
    (_raised_from(_sqlite_error(5)), backup.REASON_BUSY),  # SQLITE_BUSY
    (_raised_from(_sqlite_error(11)), backup.REASON_CORRUPT),  # SQLITE_CORRUPT
    (_raised_from(_sqlite_error(266)), backup.REASON_DISK_ERROR),  # SQLITE_IOERR_READ
    (RuntimeError("张三 13800001111"), backup.REASON_OTHER),
    (BackupError("something"), backup.REASON_OTHER),
])
def test_the_reason_comes_from_the_exception_type_never_its_text(exc: BaseException, reason: str) -> None:
    assert backup.failure_reason(exc) == reason
