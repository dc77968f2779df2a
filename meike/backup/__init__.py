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

The parts: ``files`` (making, listing, retention, copying back), ``settings``, ``status`` (the last
attempts, for the dashboard), ``jobs`` (daily, exit, manual, the backup-first ``upgrade``, ``restore_clinic``),
``losses`` (what a restore loses). Their public names are re-exported here.
"""

from __future__ import annotations

from meike.backup.files import (
    BUSY_TIMEOUT_S,
    KEEP_OTHER,
    KIND_LABELS,
    KINDS,
    REASON_BUSY,
    REASON_CHECK,
    REASON_CORRUPT,
    REASON_DISK_ERROR,
    REASON_DISK_FULL,
    REASON_FOLDER,
    REASON_NO_DATABASE,
    REASON_OTHER,
    ROUTINE_KINDS,
    STALE_TEMP_S,
    SUFFIX,
    BackupError,
    BackupInfo,
    BackupSummary,
    apply_retention,
    backup_name,
    describe,
    integrity_errors,
    list_backups,
    make_backup,
    parse_name,
    restore,
    select_to_keep,
)
from meike.backup.jobs import (
    daily_backup,
    exit_backup,
    manual_backup,
    migration_backup,
    numbers_issued,
    restore_clinic,
    upgrade,
)
from meike.backup.losses import (
    RestoreLosses,
    restore_losses,
)
from meike.backup.settings import (
    SETTING_KEYS,
    BackupSettings,
    can_manage,
    load_settings,
    require_manage,
    save_settings,
)
from meike.backup.status import (
    SETTINGS_HINT,
    STALE_AFTER,
    STATUS_KEYS,
    BackupStatus,
    backup_status,
    failure_reason,
)

__all__ = [
    "BUSY_TIMEOUT_S",
    "BackupError",
    "BackupInfo",
    "BackupSettings",
    "BackupStatus",
    "BackupSummary",
    "KEEP_OTHER",
    "KINDS",
    "KIND_LABELS",
    "REASON_BUSY",
    "REASON_CHECK",
    "REASON_CORRUPT",
    "REASON_DISK_ERROR",
    "REASON_DISK_FULL",
    "REASON_FOLDER",
    "REASON_NO_DATABASE",
    "REASON_OTHER",
    "ROUTINE_KINDS",
    "RestoreLosses",
    "SETTINGS_HINT",
    "SETTING_KEYS",
    "STALE_AFTER",
    "STALE_TEMP_S",
    "STATUS_KEYS",
    "SUFFIX",
    "apply_retention",
    "backup_name",
    "backup_status",
    "can_manage",
    "daily_backup",
    "describe",
    "exit_backup",
    "failure_reason",
    "integrity_errors",
    "list_backups",
    "load_settings",
    "make_backup",
    "manual_backup",
    "migration_backup",
    "numbers_issued",
    "parse_name",
    "require_manage",
    "restore",
    "restore_clinic",
    "restore_losses",
    "save_settings",
    "select_to_keep",
    "upgrade",
]
