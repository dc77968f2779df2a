"""A SELECT compiled once per database and run straight on a pooled DBAPI connection.

For the hot point lookups (a mobile number, its last four digits, a card number typed in the search
box; the caller-ID pop-up; the duplicate check at registration) SQLite answers in ~0.03 ms while
going through an ORM session costs ~1 ms of Python: statement building, cache key, session,
transaction, entity loading. A ``Prepared`` statement is built from SQLAlchemy constructs with
named ``bindparam``s (so the SQL still comes from the models and works on SQLite and PostgreSQL),
compiled once per dialect, and executed with the DBAPI cursor; result values go through the column
types' own processors (SQLite returns DATETIME as text). Read-only use only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Select


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
            found = _Compiled(compiled.string, tuple(positiontup) if dialect.positional else None, converted)
            self._compiled[dialect.name] = found
            return found

    def sql(self, engine: Engine) -> str:
        return self._for(engine).sql

    def rows(self, engine: Engine, params: dict[str, Any]) -> list[Any]:
        compiled = self._for(engine)
        args: Any = [params[name] for name in compiled.positional] if compiled.positional is not None else params
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(compiled.sql, args)
                fetched = cursor.fetchall()
            finally:
                cursor.close()
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
