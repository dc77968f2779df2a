"""A SELECT compiled once per database and run straight on a DBAPI connection of the engine.

For the hot point lookups (a mobile number, its last four digits, a card number typed in the search
box; the caller-ID pop-up; the duplicate check at registration) SQLite answers in ~0.03 ms while
going through an ORM session costs ~1 ms of Python: statement building, cache key, session,
transaction, entity loading. A ``Prepared`` statement is built from SQLAlchemy constructs with
named ``bindparam``s (so the SQL still comes from the models and works on SQLite and PostgreSQL),
compiled once per dialect, and executed with the DBAPI cursor; result values go through the column
types' own processors (SQLite returns DATETIME as text). Read-only use only.

A checkout from the pool and its return (with its reset) alone cost ~0.015 ms of Python, half of
what SQLite takes for such a lookup, so these reads keep connections of their own (``_Readers``).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select, event
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.pool import QueuePool


@dataclass(frozen=True)
class _Compiled:
    sql: str
    positional: tuple[str, ...] | None  # parameter names in order (qmark / format styles), else named
    converted: tuple[tuple[int, Callable[[Any], Any]], ...]  # (column, processor) where values need converting


class Prepared:
    """``Prepared(build)``: ``build()`` returns the Select (called once per dialect); ``rows(engine,
    params)`` runs it with the named parameters and returns plain tuples."""

    def __init__(self, build: Callable[[], Select[Any]]) -> None:
        self._build = build
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _for(self, engine: Engine) -> _Compiled:
        dialect = engine.dialect
        found = self._compiled.get(dialect.name)
        if found is not None:
            return found
        with self._lock:
            stmt = self._build()
            compiled = stmt.compile(dialect=dialect)
            positiontup = getattr(compiled, "positiontup", None)
            processors = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None)
                               for column in stmt.selected_columns)
            converted = tuple((i, p) for i, p in enumerate(processors) if p is not None)
            found = _Compiled(compiled.string, tuple(positiontup or ()) if dialect.positional else None, converted)
            self._compiled[dialect.name] = found
            return found

    def sql(self, engine: Engine) -> str:
        return self._for(engine).sql

    def rows(self, engine: Engine, params: dict[str, Any]) -> list[Any]:
        compiled = self._for(engine)
        args: Any = [params[name] for name in compiled.positional] if compiled.positional is not None else params
        readers = _READERS.get(engine) or _readers(engine)
        if readers is not None:
            fetched = readers.fetchall(engine, compiled.sql, args)
        else:
            connection = engine.raw_connection()
            try:
                fetched = _fetchall(connection, compiled.sql, args)
            except engine.dialect.loaded_dbapi.Error as e:
                raise _wrapped(engine, compiled.sql, args, e) from e
            finally:
                connection.close()  # back to the pool (which ends the read transaction)
        converted = compiled.converted
        if not converted:
            return fetched
        rows = []
        for fetched_row in fetched:
            row = list(fetched_row)
            for i, processor in converted:
                if row[i] is not None:
                    row[i] = processor(row[i])
            rows.append(tuple(row))
        return rows


def _fetchall(connection: Any, sql: str, args: Any) -> list[Any]:
    cursor = connection.cursor()
    try:
        cursor.execute(sql, args)
        rows: list[Any] = cursor.fetchall()
        return rows
    finally:
        cursor.close()


class _Readers:
    """An engine's connections for these reads: a thread takes an idle one for a read and puts it back
    after (a connection serves one read at a time, as in the pool). Each is taken from the engine's pool
    once, so the pool's connect events have run on it (the SQLite PRAGMAs), then detached from the pool
    and put in autocommit mode: no transaction stays open between reads (on SQLite no WAL snapshot is
    kept, on PostgreSQL it is never "idle in transaction"). ``Engine.dispose()`` closes them as it
    closes the pool's (a restore needs the database to itself): the idle ones at once, one in use as
    soon as its read ends; the engine opens new ones afterwards."""

    def __init__(self, engine: Engine) -> None:
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._disposals = 0  # a connection in use while the engine is disposed is closed after its read
        event.listen(engine, "engine_disposed", self._dispose)
        weakref.finalize(self, _close_all, self._idle)  # an engine dropped without dispose()

    def fetchall(self, engine: Engine, sql: str, args: Any) -> list[Any]:
        with self._lock:
            disposals = self._disposals
            connection = self._idle.pop() if self._idle else None
        reused = connection is not None
        if connection is None:
            connection = _connect(engine)
        try:
            fetched = _fetchall(connection, sql, args)
        except engine.dialect.loaded_dbapi.Error as e:
            _close_quietly(connection)  # it may be broken (a server restart, a disk error): not reused
            if not reused:
                raise _wrapped(engine, sql, args, e) from e
            # an idle connection the server ended meanwhile (a restart, pg_terminate_backend): a new one
            connection = _connect(engine)
            try:
                fetched = _fetchall(connection, sql, args)
            except engine.dialect.loaded_dbapi.Error as again:
                _close_quietly(connection)
                raise _wrapped(engine, sql, args, again) from again
            except BaseException:
                _close_quietly(connection)
                raise
        except BaseException:
            _close_quietly(connection)
            raise
        with self._lock:
            if disposals == self._disposals:
                self._idle.append(connection)
                return fetched
        connection.close()
        return fetched

    def _dispose(self, _engine: Engine) -> None:
        with self._lock:
            self._disposals += 1
            idle = self._idle[:]
            self._idle.clear()
        _close_all(idle)


def _close_quietly(connection: Any) -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001 (a connection the server already ended)
        pass


def _wrapped(engine: Engine, sql: str, args: Any, error: Exception) -> StatementError:
    """The driver's error as SQLAlchemy's, as every other read raises it (``meike.db.storage_error`` reads it)."""
    return DBAPIError.instance(sql, args, error, engine.dialect.loaded_dbapi.Error)


def _connect(engine: Engine) -> Any:
    """A new connection of the engine's pool, detached from it, in autocommit mode."""
    pooled = engine.pool.connect()
    pooled.detach()
    connection = pooled.dbapi_connection
    assert connection is not None  # just connected
    try:
        engine.dialect.set_isolation_level(connection, "AUTOCOMMIT")
    except BaseException:
        connection.close()
        raise
    return connection


def _close_all(connections: list[Any]) -> None:
    for connection in connections:
        connection.close()


_READERS: weakref.WeakKeyDictionary[Engine, _Readers] = weakref.WeakKeyDictionary()
_READERS_LOCK = threading.Lock()


def _readers(engine: Engine) -> _Readers | None:
    """The engine's ``_Readers``, made at its first read; None when its pool's connections are not
    interchangeable (an SQLite ``:memory:`` database is one per thread's pooled connection): those
    reads check a connection out of the pool each time."""
    if not isinstance(engine.pool, QueuePool):
        return None
    with _READERS_LOCK:
        readers = _READERS.get(engine)
        if readers is None:
            readers = _READERS[engine] = _Readers(engine)
        return readers
