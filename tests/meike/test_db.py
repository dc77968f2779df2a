"""The database layer: SQLite pragmas, write transactions, and the backup taken before a migration."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from meike.clinic_setup import upgrade
from meike.db import Clinic, sqlite_url
from meike.db.migrate import alembic_config, current_revision, head_revision, needs_upgrade
from meike.models import Channel, Customer
from meike.permissions import Actor


def _pragma(clinic: Clinic, name: str) -> object:
    with clinic.engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


@pytest.mark.sqlite_only
def test_pragmas_are_in_force_on_every_connection(clinic: Clinic) -> None:
    assert _pragma(clinic, "journal_mode") == "wal"
    assert _pragma(clinic, "foreign_keys") == 1
    assert _pragma(clinic, "synchronous") == 2  # FULL: a committed payment survives a power cut
    busy = _pragma(clinic, "busy_timeout")
    assert isinstance(busy, int) and busy > 0
    # The same holds for the sessions services use.
    with clinic.write() as s:
        assert s.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_foreign_keys_are_enforced(clinic: Clinic) -> None:
    with pytest.raises(IntegrityError), clinic.write() as s:
        s.add(Customer(card_no="1", name="张三", mobile="13800138000", channel_id=999,
                       created_at=datetime(2026, 11, 23)))
    with clinic.read() as s:
        assert s.scalar(select(func.count()).select_from(Customer)) == 0


def test_a_failing_write_transaction_leaves_nothing_behind(clinic: Clinic) -> None:
    with pytest.raises(RuntimeError), clinic.write() as s:
        s.add(Channel(name="美团", sort_order=1))
        s.flush()  # the row is in the database's transaction …
        raise RuntimeError("power cut")  # … and is rolled back here
    with clinic.write() as s:
        s.add(Channel(name="新氧", sort_order=2))
    with clinic.read() as s:
        assert list(s.scalars(select(Channel.name))) == ["新氧"]


@pytest.mark.sqlite_only
def test_a_writer_takes_the_write_lock_at_its_first_statement(clinic: Clinic) -> None:
    path = clinic.path
    assert path is not None
    with clinic.write() as s:
        s.execute(select(Channel.id)).all()  # only a read so far, yet the transaction is IMMEDIATE
        other = sqlite3.connect(str(path), timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()


@pytest.mark.sqlite_only
def test_readers_do_not_block_writers(clinic: Clinic) -> None:
    other = Clinic.open(sqlite_url(clinic.path or Path()))  # a second workstation on the same file
    with clinic.read() as s:
        assert s.scalar(select(func.count()).select_from(Channel)) == 0
        try:
            with other.write() as w:
                w.add(Channel(name="百度", sort_order=1))
        finally:
            other.dispose()
        # WAL: the open read transaction keeps its snapshot.
        assert s.scalar(select(func.count()).select_from(Channel)) == 0
    with clinic.read() as s:
        assert s.scalar(select(func.count()).select_from(Channel)) == 1


@pytest.mark.sqlite_only
def test_clinic_knows_its_file(clinic: Clinic, tmp_path: Path) -> None:
    assert clinic.path == tmp_path / "clinic.sqlite3"
    assert clinic.url.startswith("sqlite:///")


# --- migrations on start -------------------------------------------------------------------------


def _previous_revision() -> str | None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return script.get_revision(head_revision()).down_revision  # type: ignore[return-value, union-attr]


def _downgrade(clinic: Clinic, target: str) -> None:
    cfg = alembic_config()
    with clinic.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, target)


def test_upgrade_of_a_current_database_does_nothing(clinic: Clinic, tmp_path: Path) -> None:
    assert current_revision(clinic) == head_revision()
    assert not needs_upgrade(clinic)
    assert upgrade(clinic, backup_dir=tmp_path / "b") is None
    assert not (tmp_path / "b").exists()


@pytest.mark.sqlite_only
def test_upgrading_an_older_database_backs_it_up_first(clinic: Clinic, admin: Actor, tmp_path: Path) -> None:
    previous = _previous_revision()
    if previous is None:
        pytest.skip("only one revision: nothing older to upgrade from")
    assert isinstance(previous, str)
    head_tables = set(inspect(clinic.engine).get_table_names())
    _downgrade(clinic, previous)
    older_tables = set(inspect(clinic.engine).get_table_names())
    assert older_tables <= head_tables
    assert needs_upgrade(clinic)

    backup = upgrade(clinic)  # default folder: "backups" next to the database
    assert backup is not None and backup.exists()
    assert backup.parent == tmp_path / "backups"
    assert backup.name.startswith("clinic-") and backup.name.endswith("-migration.sqlite3")
    assert current_revision(clinic) == head_revision()
    assert set(inspect(clinic.engine).get_table_names()) == head_tables

    # The copy is a complete, consistent database at the old revision, with the clinic's data.
    with sqlite3.connect(str(backup)) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        tables = {r[0] for r in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == older_tables
        assert copy.execute("SELECT version_num FROM alembic_version").fetchone() == (previous,)
        assert copy.execute("SELECT username FROM users WHERE is_admin").fetchall() == [("admin",)]
        assert copy.execute("SELECT value FROM system_settings WHERE key = 'clinic.name'").fetchone() == ("测试诊所",)
    copy.close()


@pytest.mark.sqlite_only
def test_backup_goes_to_the_folder_asked_for(clinic: Clinic, tmp_path: Path) -> None:
    previous = _previous_revision()
    if previous is None:
        pytest.skip("only one revision: nothing older to upgrade from")
    assert isinstance(previous, str)
    _downgrade(clinic, previous)
    backup = upgrade(clinic, backup_dir=tmp_path / "elsewhere")
    assert backup is not None and backup.parent == tmp_path / "elsewhere"
    assert not (tmp_path / "backups").exists()


def test_a_brand_new_database_is_created_without_a_backup(tmp_path: Path) -> None:
    fresh = Clinic.open(sqlite_url(tmp_path / "new.sqlite3"))
    try:
        assert current_revision(fresh) is None
        assert upgrade(fresh, backup_dir=tmp_path / "b") is None
        assert current_revision(fresh) == head_revision()
        assert not (tmp_path / "b").exists()
    finally:
        fresh.dispose()
