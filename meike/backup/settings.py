"""Where the backups go and how many are kept (``backup.*`` in ``system_settings``); who may change it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from meike.db import Clinic
from meike.errors import PermissionDenied, ValidationError
from meike.models import SystemSetting
from meike.permissions import RIGHT_LABELS, Actor, Page, Right
from meike.services import audit

log = logging.getLogger(__name__)

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
