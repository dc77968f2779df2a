"""Shared fixtures: a migrated template database copied per test, actors, offscreen Qt.

With ``MEIKE_TEST_DATABASE_URL`` (a PostgreSQL server URL, e.g.
``postgresql+psycopg://meike@127.0.0.1:5432/postgres``) every ``clinic`` / ``demo_clinic`` is a fresh
PostgreSQL database made from a migrated template database instead of an SQLite file; tests marked
``sqlite_only`` (file copies, PRAGMAs, the SQLite backup API) are skipped there.
"""

from __future__ import annotations

import gc
import itertools
import os
import shutil
from collections.abc import Iterator
from datetime import datetime, time
from pathlib import Path

import pytest
from argon2 import PasswordHasher

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import devices  # noqa: E402
from meike import clock  # noqa: E402
from meike.clinic_setup import upgrade  # noqa: E402
from meike.db import Clinic, sqlite_url  # noqa: E402
from meike.permissions import ALL_GRANT_CODES, Actor, DataScope, Page, page_code  # noqa: E402
from meike.services import accounts  # noqa: E402

devices.plug()  # the composition root of the tests: the real adapters behind meike's ports

# Cheap argon2id parameters keep the suite fast; production uses the library's defaults.
accounts.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

# The clinic's clock stays on the day the run started. Test modules work out TODAY when they are
# imported and the demo clinic is built once; a run that crossed midnight (16:00 UTC) used to find
# "today's" reminders and appointments on yesterday. Past midnight the clock stops at 23:59:59 of
# the first day; tests that set the clock themselves still do.
_RUN_DAY = clock.now().date()
_real_now = clock.now


def _run_day_now() -> datetime:
    now = _real_now()
    return now if now.date() <= _RUN_DAY else datetime.combine(_RUN_DAY, time(23, 59, 59))


clock.now = _run_day_now


@pytest.fixture(scope="session", autouse=True)
def _gc_on_the_main_thread() -> Iterator[None]:
    """Automatic garbage collection off for the session (as ``ui.gc_guard`` does in the program): a cycle
    holding a Qt object must never be collected by a background thread. Each test collects at its end."""
    gc.disable()
    yield
    gc.enable()


@pytest.fixture(autouse=True)
def _collect_after_each_test() -> Iterator[None]:
    yield
    gc.unfreeze()  # a test that ran the program's login froze its heap (ui.gc_guard.settle_heap): thaw it
    gc.collect()


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the user data / config directories at the test's own folder."""
    monkeypatch.setenv("MEIKE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MEIKE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("MEIKE_DATABASE_URL", raising=False)


PG_URL = os.environ.get("MEIKE_TEST_DATABASE_URL", "")
_pg_numbers = itertools.count(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not PG_URL:
        return
    skip = pytest.mark.skip(reason="SQLite only (file copies, PRAGMAs, the SQLite backup API)")
    for item in items:
        if item.get_closest_marker("sqlite_only"):
            item.add_marker(skip)


class PgServer:
    """Databases on the PostgreSQL test server: templates made once, one copy per test."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        self.base = make_url(url)
        self.admin = create_engine(self.base, isolation_level="AUTOCOMMIT", poolclass=__import__(
            "sqlalchemy.pool", fromlist=["NullPool"]).NullPool)
        self.prefix = f"meike_test_{os.getpid()}"

    def url(self, name: str) -> str:
        return self.base.set(database=name).render_as_string(hide_password=False)

    def create(self, name: str, template: str | None = None) -> str:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def _pg() -> Iterator[PgServer | None]:
    if not PG_URL:
        yield None
        return
    server = PgServer(PG_URL)
    yield server
    with server.admin.connect() as conn:
        names = [r[0] for r in conn.exec_driver_sql(
            "SELECT datname FROM pg_database WHERE datname LIKE %(p)s", {"p": server.prefix + "%"})]
    for name in names:
        server.drop(name)
    server.admin.dispose()


@pytest.fixture(scope="session")
def _pg_templates(_pg: PgServer | None) -> dict[str, str]:
    """The migrated empty template and the demo template (database names), PostgreSQL mode only."""
    if _pg is None:
        return {}
    from meike import demo

    empty, demo_name = f"{_pg.prefix}_tpl", f"{_pg.prefix}_demo_tpl"
    clinic = Clinic.open(_pg.create(empty))
    upgrade(clinic)
    clinic.dispose()
    clinic = Clinic.open(_pg.create(demo_name, template=empty))
    demo.build(clinic, customers=120, activity=False)
    clinic.dispose()
    return {"empty": empty, "demo": demo_name}


def _pg_clinic(pg: PgServer, template: str) -> Iterator[Clinic]:
    name = f"{pg.prefix}_{next(_pg_numbers)}"
    c = Clinic.open(pg.create(name, template=template))
    yield c
    c.dispose()
    pg.drop(name)


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "empty.sqlite3"
    clinic = Clinic.open(sqlite_url(path))
    upgrade(clinic)
    clinic.dispose()
    return path


@pytest.fixture(scope="session")
def _demo_template_db(tmp_path_factory: pytest.TempPathFactory, _template_db: Path) -> Path:
    from meike import demo

    path = tmp_path_factory.mktemp("demo") / "demo.sqlite3"
    shutil.copy(_template_db, path)
    clinic = Clinic.open(sqlite_url(path))
    demo.build(clinic, customers=120, activity=False)  # tests add their own day
    clinic.dispose()
    return path


@pytest.fixture
def clinic(tmp_path: Path, _template_db: Path, _pg: PgServer | None,
           _pg_templates: dict[str, str]) -> Iterator[Clinic]:
    """An empty, migrated clinic database (no administrator yet)."""
    if _pg is not None:
        yield from _pg_clinic(_pg, _pg_templates["empty"])
        return
    path = tmp_path / "clinic.sqlite3"
    shutil.copy(_template_db, path)
    c = Clinic.open(sqlite_url(path))
    yield c
    c.dispose()


@pytest.fixture
def demo_clinic(tmp_path: Path, _demo_template_db: Path, _pg: PgServer | None,
                _pg_templates: dict[str, str]) -> Iterator[Clinic]:
    """The demo clinic (gl/123, admin/admin, kf/123 own scope, wl/123 department scope, sy/123 cashier)."""
    if _pg is not None:
        yield from _pg_clinic(_pg, _pg_templates["demo"])
        return
    path = tmp_path / "demo.sqlite3"
    shutil.copy(_demo_template_db, path)
    c = Clinic.open(sqlite_url(path))
    yield c
    c.dispose()


@pytest.fixture
def admin(clinic: Clinic) -> Actor:
    return accounts.initialise_clinic(clinic, clinic_name="测试诊所", admin_password="admin-pass",
                                      confirm="admin-pass")


def make_user(clinic: Clinic, admin: Actor, username: str, *, pages: list[Page] | None = None,
              scope: DataScope = DataScope.ALL, department_id: int | None = None,
              staff_id: int | None = None, grants: set[str] | None = None, password: str = "secret-1") -> Actor:
    """Create an account through the account manager's service and log in as it."""
    codes = set(grants or set())
    codes |= {page_code(p) for p in (pages if pages is not None else list(Page))}
    accounts.create_account(clinic, admin, username=username, password=password, data_scope=scope.value,
                            department_id=department_id, staff_id=staff_id, grants=codes & ALL_GRANT_CODES)
    return accounts.authenticate(clinic, username, password)


@pytest.fixture
def user(clinic: Clinic, admin: Actor) -> Actor:
    """An ordinary account with every page, all customers, no supervisor rights."""
    return make_user(clinic, admin, "front")
