"""Where the clinic's files live: database, backups, logs, settings of this workstation.

On Windows everything is under ``%PROGRAMDATA%\\Meike`` (``C:\\ProgramData\\Meike``), one folder shared
by every Windows user of the PC (the installer makes it writable for them), so a second user of the
same PC sees the same clinic. Elsewhere the user's data and config directories (platformdirs).
``MEIKE_DATA_DIR`` / ``MEIKE_CONFIG_DIR`` override both (tests, portable installs).

Who may read them: on POSIX every folder the program makes is 0700 and every file it writes (database
and its -wal/-shm, backups, logs, recordings, settings, the key file) 0600 — ``private_dir``,
``private_file``, ``create_private``, ``write_private``. On Windows a folder the program makes gets an
access list that names the PC's users only (SYSTEM, Administrators, Users; no Everyone, nothing inherited
from above: ``windows_acl``); the files in it inherit it. The installer grants the same to
``C:\\ProgramData\\Meike``.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
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


# --- who may read the files ------------------------------------------------------------------------

DIR_MODE, FILE_MODE = 0o700, 0o600
# Windows: the PC's users and nobody else. SIDs, not names (names are translated on a Chinese Windows).
WINDOWS_GRANTS = ("*S-1-5-18:(OI)(CI)F", "*S-1-5-32-544:(OI)(CI)F", "*S-1-5-32-545:(OI)(CI)M")  # SYSTEM, Administrators, Users
WINDOWS_REMOVED = ("*S-1-1-0", "*S-1-5-7", "*S-1-5-32-546")  # Everyone, ANONYMOUS LOGON, Guests


def windows_acl(path: Path) -> bool:
    """Windows: give ``path`` an access list of its own (nothing inherited from above) that lets SYSTEM,
    the Administrators and the PC's Users in (folders: inherited by what is made inside) and nobody else.
    ``icacls`` does it (every Windows has it); a failure (a FAT stick, a NAS that keeps its own rights) is
    logged, never raised. False elsewhere or when it failed."""
    if sys.platform != "win32":
        return False
    command = ["icacls", str(path), "/inheritance:r", "/grant:r", *WINDOWS_GRANTS, "/remove:g", *WINDOWS_REMOVED]
    if not Path(path).is_dir():
        command = [part.replace("(OI)(CI)", "") for part in command]
    try:
        done = subprocess.run(command, capture_output=True, timeout=30,
                              creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0))
    except (OSError, subprocess.SubprocessError) as e:
        log.warning("could not limit who may read %s: %s", path, e)
        return False
    if done.returncode != 0:
        log.warning("could not limit who may read %s (icacls exit %s)", path, done.returncode)
        return False
    return True


_warned: set[str] = set()


def _warn_once(path: Path, message: str, *args: object) -> None:
    """A folder looked up on every call (the data folder) must not fill the log with the same warning."""
    if str(path) not in _warned:
        _warned.add(str(path))
        log.warning(message, *args)


def private_file(path: Path) -> None:
    """POSIX: ``path`` readable and writable by its owner only (0600). A file of another owner or on a file
    system without modes is logged and left as it is."""
    if os.name != "posix":
        return
    try:
        if stat.S_IMODE(os.stat(path).st_mode) & 0o077:
            os.chmod(path, FILE_MODE)
    except FileNotFoundError:
        pass
    except OSError as e:
        _warn_once(path, "could not make %s private: %s", Path(path).name, e)


def private_dir(path: Path, *, tighten: bool = True) -> Path:
    """Make the folder ``path`` (and its missing parents) for the program's own files: 0700 on POSIX, the
    PC's users only on Windows. ``tighten``: a folder that exists already is made 0700 too (POSIX; the
    program's own folders, not a folder the clinic chose). Returns ``path``."""
    path = Path(path)
    created = not path.is_dir()
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)  # mode: the leaf; the umask can only narrow it
    if os.name == "posix":
        if created or tighten:
            try:
                if stat.S_IMODE(path.stat().st_mode) != DIR_MODE:
                    os.chmod(path, DIR_MODE)
            except OSError as e:  # a FAT stick, a folder of another owner
                _warn_once(path, "could not make the folder %s private: %s", path, e)
    elif created:
        windows_acl(path)
    return path


def create_private(path: Path) -> None:
    """Create the empty file ``path`` readable by its owner only (0600 on POSIX; FileExistsError when it is
    there), so what is written into it afterwards (SQLite, libsndfile) keeps that mode."""
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0)
    os.close(os.open(path, flags, FILE_MODE))
    private_file(path)  # in case the file system ignored the mode given to open()


def write_private(path: Path, data: bytes, *, sync: bool = True) -> None:
    """Replace ``path`` with ``data`` in one step (a temporary file, fsynced unless ``sync`` is False,
    renamed), 0600 on POSIX."""
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # 0600, binary
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            if sync:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --- the folders ------------------------------------------------------------------------------------


def data_dir() -> Path:
    """The clinic's folder (0700 on POSIX, made so on every call; on Windows the installer set its rights)."""
    override = os.environ.get("MEIKE_DATA_DIR")
    return private_dir(Path(override) if override else default_data_dir())


def config_dir() -> Path:
    override = os.environ.get("MEIKE_CONFIG_DIR")
    return private_dir(Path(override) if override else default_config_dir())


def private_config_file(name: str) -> Path:
    """A settings file of this PC in the config folder, made empty and 0600 (POSIX) when missing, so a
    writer that keeps an existing file's mode (Qt's QSettings) keeps it private."""
    path = config_dir() / name
    try:
        create_private(path)
    except FileExistsError:
        private_file(path)
    return path


def log_dir() -> Path:
    return private_dir(data_dir() / "logs")


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
        create_private(tmp)
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
            private_dir(target)
            _copy_database(old / name, target / name)
            _retire(old / name)
            moved_here.append(target / name)
        for folder in ("backups", "recordings"):
            if moved_here and (old / folder).is_dir() and not (target / folder).exists():
                shutil.move(str(old / folder), str(target / folder))
                moved_here.append(target / folder)
        for name in WORKSTATION_FILES if moved_here and config is not None else ():
            assert config is not None  # the loop runs only with a config folder
            if (old / name).is_file() and not (config / name).exists():
                private_dir(config)
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
