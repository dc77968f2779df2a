"""Alembic: one head, upgrade → downgrade → upgrade, and the models match the migrated DDL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from meike.clinic_setup import open_clinic, upgrade
from meike.db import Clinic, sqlite_url
from meike.db.migrate import alembic_config, current_revision, head_revision
from meike.models import Base


def _run(clinic: Clinic, fn, target: str) -> None:  # type: ignore[no-untyped-def]
    cfg = alembic_config()
    with clinic.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        fn(cfg, target)


def test_single_head() -> None:
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


def test_upgrade_downgrade_upgrade_and_models_match_ddl(tmp_path: Path) -> None:
    clinic = Clinic.open(sqlite_url(tmp_path / "m.sqlite3"))
    upgrade(clinic)
    assert current_revision(clinic) == head_revision()
    _run(clinic, command.downgrade, "base")
    assert set(inspect(clinic.engine).get_table_names()) <= {"alembic_version"}
    _run(clinic, command.upgrade, "head")
    with clinic.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    clinic.dispose()


def test_every_revision_steps_down_and_up(tmp_path: Path) -> None:
    clinic = Clinic.open(sqlite_url(tmp_path / "s.sqlite3"))
    revisions = [r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()][::-1]
    for rev in revisions:
        _run(clinic, command.upgrade, rev)
        assert current_revision(clinic) == rev
    for _ in revisions:
        _run(clinic, command.downgrade, "-1")
    assert current_revision(clinic) is None
    clinic.dispose()


def test_opening_an_older_database_backs_it_up_first(tmp_path: Path) -> None:
    path = tmp_path / "clinic.sqlite3"
    clinic = Clinic.open(sqlite_url(path))
    upgrade(clinic)
    from meike.services import accounts

    accounts.initialise_clinic(clinic, clinic_name="老诊所", admin_password="abcdef", confirm="abcdef")
    _run(clinic, command.downgrade, "base")
    _run(clinic, command.upgrade, "0001")  # an older schema with data in it
    clinic.dispose()
    reopened = open_clinic(sqlite_url(path), backup_dir=tmp_path / "backups")
    assert current_revision(reopened) == head_revision()
    backups = list((tmp_path / "backups").glob("clinic-*-migration.sqlite3"))
    if head_revision() == "0001":
        assert backups == []  # nothing to upgrade, nothing copied
    else:
        assert len(backups) == 1
        copy = Clinic.open(sqlite_url(backups[0]))
        assert current_revision(copy) == "0001"
        copy.dispose()
    reopened.dispose()


def test_current_database_is_not_copied_again(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    clinic = open_clinic(sqlite_url(path), backup_dir=tmp_path / "b")
    assert upgrade(clinic, backup_dir=tmp_path / "b") is None
    assert not (tmp_path / "b").exists()
    clinic.dispose()


def test_a_clinic_with_data_upgrades_through_table_rebuilds(tmp_path: Path) -> None:
    """Revisions that rebuild a table other rows point at (0006 rebuilds ``items``, which treatments
    and order lines name) upgrade a database that has such rows; the keys are on again afterwards."""
    from meike import check, demo
    from meike.db import migrate

    clinic = Clinic.open(sqlite_url(tmp_path / "busy.sqlite3"))
    upgrade(clinic)
    demo.build(clinic, customers=40)
    counts = "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM items), (SELECT count(*) FROM treatments)"
    with clinic.engine.connect() as conn:
        before = conn.exec_driver_sql(counts).one()
    assert before[2] > 0
    migrate.run(clinic, command.downgrade, "0005")
    assert current_revision(clinic) == "0005"
    upgrade(clinic, backup_dir=tmp_path / "backups")
    assert current_revision(clinic) == head_revision()
    with clinic.engine.connect() as conn:
        assert conn.exec_driver_sql(counts).one() == before
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert check.run_check(clinic).ok
    clinic.dispose()
