"""Opening a clinic database: engine, sessions and the write transaction."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from meike.db import sqlite as sqlite_adapter
from meike.errors import ConflictError, StorageError


def make_engine(url: str) -> Engine:
    # hide_parameters: a database error's text (logged, shown in a crash report) never carries the
    # values of the statement, which are names, numbers and notes of customers.
    engine = create_engine(url, future=True, hide_parameters=True)
    if engine.dialect.name == "sqlite":
        sqlite_adapter.install(engine)
    return engine


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None: another database, or in memory)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


NOT_SAVED = "刚才的操作没有保存，已保存的数据不受影响"


def storage_error(exc: DBAPIError) -> StorageError | None:
    """A database failure the user can act on, in words (None: a programming error, raised as it is)."""
    text = str(getattr(exc, "orig", exc)).lower()
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    if "database is locked" in text or "database table is locked" in text or code in ("40001", "40P01", "55P03"):
        # SQLite has already waited its busy timeout; PostgreSQL deadlocks and serialization failures are
        # retried at once by ledger.once.
        return StorageError(f"数据库正忙（另一台电脑或程序正在写入），{NOT_SAVED}。请稍后再试",
                            transient=code in ("40001", "40P01"))
    if "database or disk is full" in text or "disk full" in text or code == "53100":
        return StorageError(f"磁盘空间已满，{NOT_SAVED}。请清理磁盘空间（或联系管理员）后再试")
    if "readonly database" in text or "read-only" in text or code == "25006":
        return StorageError(f"数据库文件是只读的（文件权限或只读磁盘），{NOT_SAVED}。请联系管理员")
    if "disk i/o error" in text:
        return StorageError(f"读写数据库文件出错（磁盘故障或 U 盘被拔出？），{NOT_SAVED}")
    if "malformed" in text or "not a database" in text:
        return StorageError(f"数据库文件已损坏，{NOT_SAVED}。请联系管理员用备份恢复")
    # 08…: connection exceptions; 57P01–57P03: the server shut down, crashed or is starting (a restart,
    # pg_terminate_backend)
    if (code.startswith("08") or code in ("57P01", "57P02", "57P03") or "connection refused" in text
            or "server closed the connection" in text):
        return StorageError(f"连接不上数据库服务器，{NOT_SAVED}。请检查网络后再试", transient=True)
    return None


# Checks run before the legacy bulk methods of a clinic's sessions, which pass no flush or execute event
# (``meike.services.bizday`` refuses rows of closed days there): each gets the mapped class written.
bulk_guards: list[Callable[[type], None]] = []


class GuardedSession(Session):
    """A clinic's session: ``bulk_insert_mappings``, ``bulk_update_mappings`` and ``bulk_save_objects``
    run ``bulk_guards`` first (nothing in the program uses them; a script that does is checked)."""

    def _guard(self, classes: Iterable[type]) -> None:
        for cls in set(classes):
            for guard in bulk_guards:
                guard(cls)

    def bulk_insert_mappings(self, mapper: Any, mappings: Iterable[dict[str, Any]], return_defaults: bool = False,
                             render_nulls: bool = False) -> None:
        self._guard([inspect(mapper).class_])
        super().bulk_insert_mappings(mapper, mappings, return_defaults, render_nulls)

    def bulk_update_mappings(self, mapper: Any, mappings: Iterable[dict[str, Any]]) -> None:
        self._guard([inspect(mapper).class_])
        super().bulk_update_mappings(mapper, mappings)

    def bulk_save_objects(self, objects: Iterable[object], return_defaults: bool = False,
                          update_changed_only: bool = True, preserve_order: bool = True) -> None:
        objects = list(objects)
        self._guard(type(o) for o in objects)
        super().bulk_save_objects(objects, return_defaults, update_changed_only, preserve_order)


@dataclass
class Clinic:
    """One clinic's database. Services open sessions through it (a small unit of work)."""

    engine: Engine
    _read: sessionmaker[Session] = field(init=False, repr=False)
    _write: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._read = sessionmaker(self.engine, expire_on_commit=False, class_=GuardedSession)
        self._write = sessionmaker(
            self.engine.execution_options(meike_write=True), expire_on_commit=False, class_=GuardedSession
        )

    @classmethod
    def open(cls, url: str) -> Clinic:
        return cls(make_engine(url))

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def path(self) -> Path | None:
        if self.engine.dialect.name != "sqlite":
            return None
        return sqlite_adapter.database_path(self.engine)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session; rolled back at the end."""
        session = self._read()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed if the block ends normally, otherwise nothing is written."""
        session = self._write()
        try:
            yield session
            session.commit()
        except StaleDataError as e:  # a versioned row changed under us (another workstation)
            session.rollback()
            raise ConflictError("这条记录刚被其他电脑修改过，您的操作没有保存，请刷新后重试") from e
        except DBAPIError as e:
            session.rollback()
            storage = storage_error(e)
            if storage is None:
                raise
            raise storage from e
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
