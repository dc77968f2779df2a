"""Where the clinic's files live: database, backups, logs, settings of this workstation.

On Windows everything is under ``%PROGRAMDATA%\\Meike`` (``C:\\ProgramData\\Meike``), one folder shared
by every Windows user of the PC (the installer makes it writable for them), so a second user of the
same PC sees the same clinic. Elsewhere the user's data and config directories (platformdirs).
``MEIKE_DATA_DIR`` / ``MEIKE_CONFIG_DIR`` override both (tests, portable installs).
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

from platformdirs import PlatformDirs

log = logging.getLogger(__name__)

_dirs = PlatformDirs(appname="Meike", appauthor="Meike")
DATABASE_FILES = ("meike.sqlite3", "meike-demo.sqlite3")
WORKSTATION_FILES = ("workstation.json", "workstation.ini")  # this PC's devices; window sizes
SQLITE_SIDECARS = ("", "-wal", "-shm", "-journal")


def _shared_windows_dir() -> Path:
    return Path(os.environ.get("PROGRAMDATA") or r"C:\ProgramData") / "Meike"


def default_data_dir() -> Path:
    return _shared_windows_dir() if sys.platform == "win32" else Path(_dirs.user_data_dir)


def default_config_dir() -> Path:
    return _shared_windows_dir() / "config" if sys.platform == "win32" else Path(_dirs.user_config_dir)


def legacy_data_dirs() -> list[Path]:
    """Where earlier versions kept the clinic: on Windows the per-user ``%LOCALAPPDATA%\\Meike\\Meike``."""
    return [Path(_dirs.user_data_dir)] if sys.platform == "win32" else []


def data_dir() -> Path:
    override = os.environ.get("MEIKE_DATA_DIR")
    path = Path(override) if override else default_data_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    override = os.environ.get("MEIKE_CONFIG_DIR")
    path = Path(override) if override else default_config_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def clinic_database() -> Path:
    return data_dir() / "meike.sqlite3"


def demo_database() -> Path:
    return data_dir() / "meike-demo.sqlite3"


def adopt_legacy_data(target: Path, legacy: list[Path], config: Path | None = None) -> list[Path]:
    """Move a clinic found in an old per-user folder into ``target`` (the shared folder); returns what moved.

    Only when ``target`` holds no database of that name yet: a database moves with its SQLite side files
    (the write-ahead log holds committed data), then the ``backups`` and ``recordings`` folders, and this
    PC's settings (printer, caller-ID box: the old per-user folder held them too) into ``config``.
    Nothing is overwritten; a note is left in the old folder saying where the data went. Call it before
    any database is opened.
    """
    moved: list[Path] = []
    for old in legacy:
        if not old.is_dir() or old.resolve() == target.resolve():
            continue
        for name in DATABASE_FILES:
            if not (old / name).is_file() or (target / name).exists():
                continue
            target.mkdir(parents=True, exist_ok=True)
            for suffix in SQLITE_SIDECARS:
                source = old / f"{name}{suffix}"
                if source.exists():
                    shutil.move(str(source), str(target / source.name))
                    moved.append(target / source.name)
        for folder in ("backups", "recordings"):
            if moved and (old / folder).is_dir() and not (target / folder).exists():
                shutil.move(str(old / folder), str(target / folder))
                moved.append(target / folder)
        for name in WORKSTATION_FILES if moved and config is not None else ():
            if (old / name).is_file() and not (config / name).exists():
                config.mkdir(parents=True, exist_ok=True)
                shutil.move(str(old / name), str(config / name))
                moved.append(config / name)
        if moved:
            (old / "数据已移动.txt").write_text(
                f"美客的诊所数据已移到 {target}（这台电脑的所有 Windows 用户共用）。\r\n", encoding="utf-8")
            log.info("moved the clinic's data from the old per-user folder to %s (%d items)", target, len(moved))
    return moved
