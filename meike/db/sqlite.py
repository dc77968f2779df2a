"""The SQLite adapter: the only module that speaks SQLite-specific SQL.

Pragmas (WAL, foreign keys, busy timeout, synchronous=FULL) and explicit transactions that begin
IMMEDIATE for writers. Backups (the SQLite backup API) are ``meike.backup``; the receipt-number mark
beside the file (``meike.numbering.track``) is plugged in by ``meike.clinic_setup.wire``.

The database file is its owner's only (0600 on POSIX) from the first connection on; SQLite gives the
-wal, -shm and -journal files it creates the database file's mode, and ones left by an earlier version
are made private too.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

BUSY_TIMEOUT_MS = 10_000


def install(engine: Engine) -> None:
    """Configure an SQLite engine: pragmas on connect, BEGIN (IMMEDIATE for writes) on begin."""

    path = database_path(engine)
    protected: list[bool] = []

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        if path is not None and not protected:  # before WAL mode makes the side files (they copy its mode)
            protect(path)
            protected.append(True)
        # Let SQLAlchemy's "begin" event decide when a transaction starts (pysqlite otherwise
        # begins lazily and never IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("meike_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def protect(path: Path) -> None:
    """The database and its side files readable by their owner only (POSIX 0600)."""
    from meike.paths import private_file

    for suffix in ("", "-wal", "-shm", "-journal"):
        private_file(Path(f"{path}{suffix}"))


def database_path(engine: Engine) -> Path | None:
    name = engine.url.database
    if not name or name == ":memory:":
        return None
    return Path(name)
