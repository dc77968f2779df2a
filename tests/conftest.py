"""Shared fixtures: a migrated template database copied per test, actors, offscreen Qt."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from meike.db import Clinic, sqlite_url  # noqa: E402
from meike.db.migrate import upgrade  # noqa: E402
from meike.permissions import ALL_GRANT_CODES, Actor, DataScope, Page, page_code  # noqa: E402
from meike.services import accounts  # noqa: E402

# Cheap argon2id parameters keep the suite fast; production uses the library's defaults.
accounts.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the user data / config directories at the test's own folder."""
    monkeypatch.setenv("MEIKE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MEIKE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.delenv("MEIKE_DATABASE_URL", raising=False)


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
def clinic(tmp_path: Path, _template_db: Path) -> Iterator[Clinic]:
    """An empty, migrated clinic database (no administrator yet)."""
    path = tmp_path / "clinic.sqlite3"
    shutil.copy(_template_db, path)
    c = Clinic.open(sqlite_url(path))
    yield c
    c.dispose()


@pytest.fixture
def demo_clinic(tmp_path: Path, _demo_template_db: Path) -> Iterator[Clinic]:
    """The demo clinic (gl/123, admin/admin, kf/123 own scope, wl/123 department scope, sy/123 cashier)."""
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
