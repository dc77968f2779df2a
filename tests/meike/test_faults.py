"""Fault injection: a database locked by another process, a full disk, a read-only file. Each time the
user gets a clear Chinese message, nothing of the failed operation is written, nothing committed before
is lost, and (through the widgets) the form keeps what was typed."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import event, func, select

from meike.db import Clinic, sqlite_url
from meike.db import sqlite as sqlite_adapter
from meike.errors import StorageError
from meike.models import Customer, Receipt
from meike.services import accounts, customers, dictionaries, ledger
from meike.services.dictionaries import Kind
from tests.ui.waiting import settle
from ui.front_desk.registration import RegistrationPage

pytestmark = pytest.mark.sqlite_only

HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN IMMEDIATE")
db.execute("INSERT INTO system_settings (key, value) VALUES ('fault.lock', 'x')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


def _count(clinic: Clinic, model: type) -> int:
    with clinic.read() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_adapter, "BUSY_TIMEOUT_MS", 300)


def _full_disk(clinic: Clinic) -> None:
    """From now on the database file cannot grow (SQLITE_FULL, as on a full disk)."""
    clinic.dispose()
    with clinic.engine.connect() as conn:
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
    clinic.dispose()

    @event.listens_for(clinic.engine, "connect")
    def _limit(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")


def _hold_lock(clinic: Clinic, seconds: float) -> subprocess.Popen[str]:
    """Another program takes the database's write lock and keeps it for ``seconds``."""
    assert clinic.path is not None
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(clinic.path), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_a_database_locked_by_another_process(short_busy_timeout: None, demo_clinic: Clinic) -> None:
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    locker = _hold_lock(demo_clinic, 4)
    before = _count(demo_clinic, Customer)  # reading goes on meanwhile (WAL)
    started = time.monotonic()
    with pytest.raises(StorageError) as e:
        customers.register_customer(demo_clinic, gl, name="锁住了", mobile="13811110000")
    assert "数据库正忙" in e.value.message and "没有保存" in e.value.message
    assert time.monotonic() - started < 3  # the busy timeout, not forever
    assert _count(demo_clinic, Customer) == before
    locker.wait(timeout=10)
    customers.register_customer(demo_clinic, gl, name="锁住了", mobile="13811110000")  # and then it works
    assert _count(demo_clinic, Customer) == before + 1


def test_a_full_disk_writes_nothing_and_money_is_never_half_written(demo_clinic: Clinic) -> None:
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    cash = next(e.id for e in dictionaries.list_entries(demo_clinic, gl, Kind.PAYMENT_METHOD) if e.name == "现金")
    someone = customers.search_customers(demo_clinic, gl, limit=1)[0].id
    paid = ledger.top_up(demo_clinic, gl, someone, account="prepaid", tenders=[ledger.Tender(cash, 50_000)],
                         idempotency_key="before-full")
    _full_disk(demo_clinic)
    receipts, people = _count(demo_clinic, Receipt), _count(demo_clinic, Customer)
    with pytest.raises(StorageError) as e:
        customers.register_customer(demo_clinic, gl, name="满了", mobile="13822220000", notes="很长的备注" * 2_000)  # as long as a note may be
    assert "磁盘空间已满" in e.value.message
    with pytest.raises(StorageError):
        for n in range(200):  # fill the last free pages; the call that does not fit fails as a whole
            ledger.top_up(demo_clinic, gl, someone, account="prepaid", tenders=[ledger.Tender(cash, 100)],
                          idempotency_key=f"full-{n}", note="备注" * 100)
    done = _count(demo_clinic, Receipt) - receipts
    assert (_count(demo_clinic, Customer), ledger.customer_accounts(demo_clinic, gl, someone).balances["prepaid"]) == (
        people, 50_000 + 100 * done)  # every receipt written is whole: its entry is there too
    with demo_clinic.read() as s:
        assert s.get(Receipt, paid.receipt_id) is not None  # what was committed before stays


def test_a_read_only_database_file(demo_clinic: Clinic) -> None:
    assert demo_clinic.path is not None
    demo_clinic.dispose()
    read_only = Clinic.open(f"sqlite:///file:{demo_clinic.path}?mode=ro&uri=true")
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    assert customers.count_customers(read_only, gl) == 120  # it can still be read
    with pytest.raises(StorageError) as e:
        customers.register_customer(read_only, gl, name="只读", mobile="13833330000")
    assert "只读" in e.value.message
    read_only.dispose()


@pytest.mark.gui
def test_the_registration_form_keeps_what_was_typed_when_the_disk_is_full(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    page = RegistrationPage(demo_clinic, gl)
    qtbot.addWidget(page)
    settle()
    _full_disk(demo_clinic)
    page.name.setText("林满")
    qtbot.keyClicks(page.mobile, "13844440000")
    page.form.notes.setPlainText("过敏史：青霉素。" * 1_250)  # 10,000 characters, the most a note holds
    qtbot.mouseClick(page.submit_button, Qt.MouseButton.LeftButton)
    settle()
    assert page.status.text().startswith("未保存：磁盘空间已满")
    assert page.name.text() == "林满" and page.mobile.text() == "13844440000"
    assert page.form.notes.toPlainText().startswith("过敏史")
    assert customers.search_customers(demo_clinic, gl, text="13844440000") == []


def test_sqlite_url_of_a_path_is_plain() -> None:
    assert sqlite_url(Path("/tmp/x.sqlite3")) == "sqlite:////tmp/x.sqlite3"
