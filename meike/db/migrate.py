"""Schema upgrades: ``alembic upgrade head`` in one transaction (the backup made first is ``meike.backup.upgrade``)."""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from meike.db import Clinic

# The revisions are the package meike.migrations (migrations/ in the source tree, mapped by pyproject):
# the same lookup works from a source checkout, an installed wheel and the frozen build.
MIGRATIONS_DIR = Path(str(files("meike.migrations")))


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(clinic: Clinic) -> str | None:
    with clinic.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def needs_upgrade(clinic: Clinic) -> bool:
    return current_revision(clinic) != head_revision()


def upgrade_schema(clinic: Clinic) -> None:
    """Bring the schema to the newest revision, nothing more (``meike.backup.upgrade`` backs the database
    up first: what the program and a restore call)."""
    if current_revision(clinic) != head_revision():
        run(clinic, command.upgrade, "head")


def run(clinic: Clinic, step: Callable[[Config, str], None], target: str) -> None:
    """Run an alembic command (``command.upgrade`` / ``command.downgrade`` to ``target``) in one
    transaction.

    On SQLite the foreign keys are off meanwhile: a batch operation rebuilds a table (copy, drop the
    old one, rename the copy), and dropping a table that other rows point at fails while they are on
    (SQLite's "making other kinds of table schema changes" procedure). They are checked with
    ``PRAGMA foreign_key_check`` before the commit (a broken reference undoes the whole upgrade) and
    switched on again before the connection goes back to the pool.
    """
    cfg = alembic_config()
    with clinic.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None  # a connection just checked out of the pool
        if sqlite:  # before BEGIN: inside a transaction the pragma does nothing
            dbapi.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                step(cfg, target)
                broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() if sqlite else []
                if broken:
                    raise RuntimeError(f"数据库升级后有 {len(broken)} 处引用了不存在的记录（{broken[0][0]} 表），已撤销升级")
        finally:
            if sqlite:
                dbapi.execute("PRAGMA foreign_keys = ON")
