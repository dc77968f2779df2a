"""Opening a clinic database that cannot be used (issue 14/24): each case is said in Chinese, says what to
do (a damaged file: restore a backup through the administrator's 备份与恢复) and leaves the file as it was."""

from __future__ import annotations

import os
import random
import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from meike import backup
from meike.clinic_setup import OpenFailed, open_clinic
from meike.db import sqlite as sqlite_adapter
from meike.db import sqlite_url
from meike.services import accounts

ENGLISH = re.compile(r"sqlite|sqlalchemy|database|error|malformed|locked|Background|revision", re.IGNORECASE)


@pytest.fixture
def sound(tmp_path: Path) -> Path:
    """A migrated clinic with an administrator, closed."""
    path = tmp_path / "clinic" / "meike.sqlite3"
    clinic = open_clinic(sqlite_url(path))
    accounts.initialise_clinic(clinic, clinic_name="测试诊所", admin_password="abcdef", confirm="abcdef")
    clinic.dispose()
    return path


def _refused(url: str, kind: str, path: Path) -> str:
    with pytest.raises(OpenFailed) as e:
        open_clinic(url)
    assert e.value.kind == kind
    message = e.value.message
    assert f"数据库文件：{path}\n" in message
    words = re.sub(r"/[^\s（）“”，。]*|\S+\.sqlite3", "", message)  # file and folder names aside
    assert not ENGLISH.search(words), message  # never the driver's English text
    return message


def test_a_file_of_random_bytes(sound: Path) -> None:
    noise = sound.with_name("noise.sqlite3")
    noise.write_bytes(random.Random(14).randbytes(8192))
    message = _refused(sqlite_url(noise), "not_a_database", noise)
    assert message.startswith("这个文件不是美客的数据库，或者已经严重损坏")
    assert "备份与恢复" in message and "用所选备份恢复" in message
    assert noise.read_bytes() == random.Random(14).randbytes(8192)  # untouched


def test_a_truncated_database_names_the_newest_backup(sound: Path) -> None:
    info = backup.make_backup(sound, sound.parent / "backups", kind="manual")
    data = sound.read_bytes()
    sound.write_bytes(data[: len(data) // 3])
    for name in ("-wal", "-shm"):
        Path(f"{sound}{name}").unlink(missing_ok=True)
    message = _refused(sqlite_url(sound), "damaged", sound)
    assert message.startswith("数据库文件已损坏")
    assert info.path.name in message and "备份与恢复" in message
    assert len(sound.read_bytes()) == len(data) // 3


def test_a_database_of_a_newer_meike(sound: Path) -> None:
    with sqlite3.connect(sound) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0999'")
    message = _refused(sqlite_url(sound), "newer", sound)
    assert "更新版本的美客" in message and "0999" in message and "安装最新版本" in message
    with sqlite3.connect(sound) as conn:  # not upgraded, not touched
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0999",)


def test_a_read_only_database(sound: Path) -> None:
    """Opened read-only (SQLite's mode=ro, which even root cannot write): found at start, not at the first login."""
    message = _refused(f"sqlite:///file:{sound}?mode=ro&uri=true", "read_only", sound)
    assert message.startswith("数据库文件是只读的") and "不需要从备份恢复" in message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes read-only files anyway")
def test_a_read_only_file(sound: Path) -> None:
    sound.chmod(0o444)
    try:
        _refused(sqlite_url(sound), "read_only", sound)
    finally:
        sound.chmod(0o644)


@pytest.fixture
def no_busy_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_adapter, "BUSY_TIMEOUT_MS", 0)


@pytest.fixture
def held(sound: Path) -> Iterator[sqlite3.Connection]:
    """Another program holding the database's write lock."""
    other = sqlite3.connect(sound, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    yield other
    other.rollback()
    other.close()


@pytest.mark.usefixtures("no_busy_wait", "held")
def test_a_locked_database(sound: Path) -> None:
    message = _refused(sqlite_url(sound), "locked", sound)
    assert message.startswith("数据库正被另一个程序占用") and "不需要从备份恢复" in message


def test_a_database_server_that_does_not_answer() -> None:
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://meike:secret-pw@127.0.0.1:1/meike?connect_timeout=2"
    with pytest.raises(OpenFailed) as e:
        open_clinic(url)
    assert e.value.kind == "server" and "secret-pw" not in e.value.message
    assert e.value.message.startswith("连接不上数据库服务器")


def test_a_sound_database_still_opens(sound: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(sound, copy)
    open_clinic(sqlite_url(copy)).dispose()
