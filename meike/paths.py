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
import sqlite3
import sys
from dataclasses import dataclass, field
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


class LegacyDataInUse(Exception):
    """The old per-user clinic is open in another program (an older Meike): it cannot be moved now."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.message = (f"旧版本的诊所数据 {path} 正在被另一个程序（可能是另一个 Windows 用户的旧版美客）使用，"
                        "现在无法移到所有用户共用的位置。请关闭这台电脑上所有的美客，再启动。")


@dataclass
class Adoption:
    moved: list[Path] = field(default_factory=list)  # what is now in the shared folders
    left_behind: list[Path] = field(default_factory=list)  # old clinics not moved: the shared one exists


def _copy_database(source: Path, target: Path) -> None:
    """Copy an SQLite database with SQLite's backup API (the write-ahead log's committed pages included),
    integrity-checked under a temporary name, then put in place. Refused while another program writes it."""
    tmp = target.with_name(target.name + ".moving")
    tmp.unlink(missing_ok=True)
    lock = sqlite3.connect(f"file:{source}?mode=rw", uri=True, timeout=0.5)
    try:
        try:
            lock.execute("BEGIN IMMEDIATE")  # nobody else may write it while it is copied
        except sqlite3.OperationalError as exc:
            raise LegacyDataInUse(source) from exc
        # The copy reads through a connection of its own: the backup API cannot read through the one
        # that holds the write lock.
        source_conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=5)
        target_conn = sqlite3.connect(tmp)
        try:
            source_conn.backup(target_conn)
            ok = target_conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            target_conn.close()
            source_conn.close()
        lock.rollback()
    finally:
        lock.close()
    if not ok:
        tmp.unlink(missing_ok=True)
        raise OSError(f"the copy of {source.name} failed its integrity check")
    os.replace(tmp, target)


def _retire(old: Path) -> None:
    """The old database and its side files renamed ``*.moved`` (kept, never deleted); a file still held
    open elsewhere keeps its name (logged): the shared copy is the clinic from now on either way."""
    for suffix in SQLITE_SIDECARS:
        source = Path(f"{old}{suffix}")
        if source.exists():
            try:
                os.replace(source, source.with_name(source.name + ".moved"))
            except OSError:
                log.warning("could not rename %s after moving the clinic; it stays as it is", source.name)


def adopt_legacy_data(target: Path, legacy: list[Path], config: Path | None = None) -> Adoption:
    """Move a clinic found in an old per-user folder into ``target`` (the shared folder).

    Only when ``target`` holds no database of that name yet: the database is copied with SQLite's backup
    API (checked, then renamed into place; the old files become ``*.moved``), then the ``backups`` and
    ``recordings`` folders move, and this PC's settings (printer, caller-ID box: the old per-user folder
    held them too) into ``config``. Nothing is overwritten; a note is left in the old folder saying where
    the data went; an old clinic that could not move because the shared one exists is reported in
    ``left_behind``. ``LegacyDataInUse`` when another program has the old database open for writing.
    Call it before any database is opened.
    """
    result = Adoption()
    for old in legacy:
        if not old.is_dir() or old.resolve() == target.resolve():
            continue
        moved_here: list[Path] = []
        for name in DATABASE_FILES:
            if not (old / name).is_file():
                continue
            if (target / name).exists():
                if not (old / "数据已移动.txt").exists():
                    result.left_behind.append(old / name)
                continue
            target.mkdir(parents=True, exist_ok=True)
            _copy_database(old / name, target / name)
            _retire(old / name)
            moved_here.append(target / name)
        for folder in ("backups", "recordings"):
            if moved_here and (old / folder).is_dir() and not (target / folder).exists():
                shutil.move(str(old / folder), str(target / folder))
                moved_here.append(target / folder)
        for name in WORKSTATION_FILES if moved_here and config is not None else ():
            if (old / name).is_file() and not (config / name).exists():
                config.mkdir(parents=True, exist_ok=True)
                shutil.move(str(old / name), str(config / name))
                moved_here.append(config / name)
        if moved_here or result.left_behind:
            (old / "数据已移动.txt").write_text(
                f"美客的诊所数据在 {target}（这台电脑的所有 Windows 用户共用）。"
                "这里以 .moved 结尾的文件是移动前的旧数据，可以保留作备份。\r\n", encoding="utf-8")
        if moved_here:
            log.info("moved the clinic's data from the old per-user folder to %s (%d items)", target, len(moved_here))
        result.moved += moved_here
    return result
