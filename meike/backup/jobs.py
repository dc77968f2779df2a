"""The backup jobs (daily, exit, before an upgrade, 立即备份), the backup-first schema upgrade and the restore
in the program."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from alembic.script import ScriptDirectory

from meike import clock, numbering
from meike.backup.files import (
    BackupError,
    BackupInfo,
    apply_retention,
    describe,
    list_backups,
    make_backup,
    parse_name,
    restore,
)
from meike.backup.settings import load_settings, require_manage
from meike.backup.status import _Attempt, _record_success
from meike.db import Clinic
from meike.db.migrate import alembic_config, current_revision, head_revision, upgrade_schema
from meike.permissions import Actor
from meike.services import audit
from meike.start_steps import after_upgrade

log = logging.getLogger(__name__)

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
    """Before a schema upgrade (``upgrade``): a "migration" backup, recorded like the
    others as far as the old schema allows (its status table is there from the first revision, the
    audit chain only from 0008: an older one records the status alone)."""
    path = clinic.path
    if path is None:
        raise BackupError("PostgreSQL 数据库请在数据库服务器上备份（pg_dump）")
    with _Attempt(clinic, "migration", folder=Path(folder)) as attempt:
        return attempt.made(make_backup(path, folder, kind="migration"))


def upgrade(clinic: Clinic, *, backup_dir: Path | None = None) -> Path | None:
    """Bring the schema to the newest revision. Returns the backup made first, if any.

    A database that already has tables is backed up first (SQLite backup API, integrity-checked, into
    the clinic's backup folder), so a failed upgrade can be undone by restoring the copy; a backup that
    cannot be made stops the upgrade.
    """
    current = current_revision(clinic)
    if current == head_revision():
        return None
    backup_path: Path | None = None
    path = clinic.path
    if current is not None and path is not None and path.exists():
        try:
            folder = backup_dir or load_settings(clinic).folder_for(path)
        except Exception:  # noqa: BLE001 (settings of a very old schema): beside the database
            folder = path.parent / "backups"
        backup_path = migration_backup(clinic, folder).path  # recorded: the dashboard tells a failure
        log.info("backed up %s to %s before upgrading from %s", path, backup_path, current)
    upgrade_schema(clinic)
    return backup_path


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
