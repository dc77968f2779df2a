"""备份与恢复: what the backups are, the settings, 立即备份, 恢复, and the backup on exit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QWidget

from meike import backup
from meike.backup import BackupInfo, BackupSettings, BackupSummary, RestoreLosses
from meike.db import Clinic
from meike.permissions import Actor
from ui.operations import Op, io, read


@dataclass(frozen=True)
class Backups:
    """The clinic's backup settings, the folder they give, and the backups in it (newest first)."""

    settings: BackupSettings
    folder: Path
    infos: list[BackupInfo]


def status(parent: QWidget, clinic: Clinic, db_path: Path) -> Op[Backups]:
    def job() -> Backups:
        settings = backup.load_settings(clinic)
        folder = settings.folder_for(db_path)
        return Backups(settings, folder, backup.list_backups(folder, database=db_path.stem))

    return read(parent, job)


def describe(parent: QWidget, path: Path) -> Op[BackupSummary]:
    """What a backup file holds (opened read-only: the I/O lane)."""
    return io(parent, lambda: backup.describe(path)).busy()


def save_settings(parent: QWidget, clinic: Clinic, actor: Actor, settings: BackupSettings) -> Op[BackupSettings]:
    return Op(parent, lambda: backup.save_settings(clinic, actor, settings))


def backup_now(parent: QWidget, clinic: Clinic, actor: Actor) -> Op[BackupInfo]:
    """立即备份 (copied, then integrity-checked)."""
    return Op(parent, lambda: backup.manual_backup(clinic, actor))


def restore_losses(parent: QWidget, clinic: Clinic, actor: Actor, path: Path) -> Op[RestoreLosses]:
    """What the current data holds that the backup does not (for the question before 恢复)."""
    return read(parent, lambda: backup.restore_losses(clinic, actor, path))


def restore(parent: QWidget, clinic: Clinic, actor: Actor, path: Path) -> Op[Path | None]:
    """恢复: the SMS jobs stop (nothing of this program may hold the database during the copy), the
    current data is backed up, the backup copied in; on a failure the SMS jobs start again."""
    from meike.sms_jobs import running

    def job() -> Path | None:
        jobs = running(clinic)
        if jobs is not None:
            jobs.shutdown(wait=True)
        try:
            return backup.restore_clinic(clinic, actor, path)
        except Exception:
            if jobs is not None:
                jobs.start()
            raise

    return Op(parent, job)


def exit_backup(clinic: Clinic) -> Op[BackupInfo | None]:
    """The backup when the program closes (SQLite); it records its own outcome."""
    return Op(None, lambda: backup.exit_backup(clinic))
