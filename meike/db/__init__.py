"""Opening a clinic database: engine, sessions and the write transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from meike.db import sqlite as sqlite_adapter
from meike.errors import ConflictError


def make_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        sqlite_adapter.install(engine)
    return engine


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@dataclass
class Clinic:
    """One clinic's database. Services open sessions through it (a small unit of work)."""

    engine: Engine
    _read: sessionmaker[Session] = field(init=False, repr=False)
    _write: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(meike_write=True), expire_on_commit=False
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
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
