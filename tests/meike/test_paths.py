"""Where the clinic lives: one folder per PC on Windows; a clinic found in the old per-user folder moves there."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from meike import paths


def _database(path: Path, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")  # keep the rows in the write-ahead log, as a crash would
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])
    conn.commit()
    # Leave the -wal file behind, as a program that crashed would: copy the files while still open.
    copy = path.with_name("copy-" + path.name)
    for suffix in ("", "-wal"):
        Path(f"{copy}{suffix}").write_bytes(Path(f"{path}{suffix}").read_bytes())
    conn.close()
    for suffix in ("", "-wal"):
        Path(f"{copy}{suffix}").replace(f"{path}{suffix}")


def test_a_clinic_in_the_old_per_user_folder_moves_to_the_shared_one(tmp_path: Path) -> None:
    old, shared = tmp_path / "Users" / "li" / "AppData" / "Local" / "Meike" / "Meike", tmp_path / "ProgramData" / "Meike"
    _database(old / "meike.sqlite3", 25)
    assert Path(f"{old / 'meike.sqlite3'}-wal").stat().st_size > 0
    (old / "backups").mkdir()
    (old / "backups" / "meike-20261201-daily.sqlite3").write_bytes(b"backup")
    (old / "workstation.json").write_text('{"printer": {"kind": "network"}}', encoding="utf-8")
    result = paths.adopt_legacy_data(shared, [old], shared / "config")
    assert shared / "meike.sqlite3" in result.moved and shared / "backups" in result.moved
    assert result.left_behind == []
    with sqlite3.connect(shared / "meike.sqlite3") as conn:  # the rows still in the write-ahead log came too
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (25,)
    assert (shared / "backups" / "meike-20261201-daily.sqlite3").read_bytes() == b"backup"
    assert "network" in (shared / "config" / "workstation.json").read_text(encoding="utf-8")  # this PC's printer
    assert not (old / "meike.sqlite3").exists() and (old / "meike.sqlite3.moved").exists()  # kept, renamed
    assert str(shared) in (old / "数据已移动.txt").read_text(encoding="utf-8")
    assert paths.adopt_legacy_data(shared, [old]) == paths.Adoption()  # nothing left to move, nothing reported


def test_nothing_is_overwritten_in_the_shared_folder(tmp_path: Path) -> None:
    old, shared = tmp_path / "old", tmp_path / "shared"
    _database(old / "meike.sqlite3", 3)
    _database(shared / "meike.sqlite3", 7)  # another Windows user of this PC already uses the shared clinic
    _database(old / "meike-demo.sqlite3", 1)
    result = paths.adopt_legacy_data(shared, [old])
    assert result.moved == [shared / "meike-demo.sqlite3"] and result.left_behind == [old / "meike.sqlite3"]
    with sqlite3.connect(shared / "meike.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone() == (7,)
    assert (old / "meike.sqlite3").exists()  # left where it was
    assert paths.adopt_legacy_data(shared, [old]).left_behind == []  # said once (the note is there now)


def test_a_clinic_open_in_an_old_meike_is_not_moved(tmp_path: Path) -> None:
    """Another Windows user's old Meike is writing the old clinic: nothing is copied half-way."""
    old, shared = tmp_path / "old", tmp_path / "shared"
    _database(old / "meike.sqlite3", 5)
    writer = sqlite3.connect(old / "meike.sqlite3")
    writer.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(paths.LegacyDataInUse) as caught:
            paths.adopt_legacy_data(shared, [old])
        assert "正在被另一个程序" in caught.value.message
        assert not (shared / "meike.sqlite3").exists() and not list(shared.glob("*.moving"))
    finally:
        writer.rollback()
        writer.close()
    assert paths.adopt_legacy_data(shared, [old]).moved == [shared / "meike.sqlite3"]  # next start: it moves


def test_windows_keeps_the_clinic_in_programdata(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(paths.sys, "platform", "win32")
    monkeypatch.setenv("PROGRAMDATA", str(tmp_path / "ProgramData"))
    assert paths.default_data_dir() == tmp_path / "ProgramData" / "Meike"
    assert paths.default_config_dir() == tmp_path / "ProgramData" / "Meike" / "config"
    assert paths.legacy_data_dirs() == [Path(paths._dirs.user_data_dir)]
    monkeypatch.setattr(paths.sys, "platform", "linux")
    assert paths.default_data_dir() == Path(paths._dirs.user_data_dir) and paths.legacy_data_dirs() == []
