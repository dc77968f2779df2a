"""The audit log is append-only and hash-chained: the database refuses edits, and the verifier finds an
edited, deleted, inserted or cut-off row even when someone drops the triggers and edits the file."""

from __future__ import annotations

import threading
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from meike.db import Clinic
from meike.errors import PermissionDenied
from meike.permissions import Actor
from meike.services import accounts, audit
from meike.services.audit import AuditFilter
from tests.conftest import make_user


def _history(clinic: Clinic, admin: Actor) -> None:
    """Logins, a failed login, account changes: a dozen real audit rows."""
    for n in range(3):
        make_user(clinic, admin, f"user{n}", password="pass-word-1")
        accounts.authenticate(clinic, f"user{n}", "pass-word-1")
    with pytest.raises(Exception):  # noqa: B017 (any login failure)
        accounts.authenticate(clinic, "user0", "wrong-password")


def _raw(clinic: Clinic, sql: str) -> None:
    with clinic.engine.begin() as conn:
        conn.exec_driver_sql(sql)


def _unguarded(clinic: Clinic) -> None:
    """What someone with the database file (or the database owner's password) can do: drop the triggers."""
    if clinic.engine.dialect.name == "postgresql":
        _raw(clinic, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        return
    _raw(clinic, "DROP TRIGGER audit_log_no_update")
    _raw(clinic, "DROP TRIGGER audit_log_no_delete")


def test_a_clean_log_verifies_and_the_database_refuses_edits(clinic: Clinic, admin: Actor) -> None:
    _history(clinic, admin)
    report = audit.verify_chain(clinic, admin)
    assert report.ok and report.checked == audit.count_matching(clinic, admin, AuditFilter()) > 8
    for sql in ("UPDATE audit_log SET username = 'x' WHERE id = 2", "DELETE FROM audit_log WHERE id = 3"):
        with pytest.raises(DatabaseError, match="审计日志只能追加"):
            _raw(clinic, sql)
    assert audit.verify_chain(clinic, admin).ok
    with pytest.raises(PermissionDenied):
        audit.verify_chain(clinic, make_user(clinic, admin, "clerk"))


def test_an_edited_row_is_found(clinic: Clinic, admin: Actor) -> None:
    _history(clinic, admin)
    _unguarded(clinic)
    _raw(clinic, "UPDATE audit_log SET after = '{\"username\": \"someone\"}' WHERE id = 4")
    report = audit.verify_chain(clinic, admin)
    assert not report.ok and any("第 4 条记录" in p and "被改动过" in p for p in report.problems)


def test_a_row_edited_with_a_recomputed_hash_breaks_the_next_link(clinic: Clinic, admin: Actor) -> None:
    _history(clinic, admin)
    _unguarded(clinic)
    with clinic.engine.begin() as conn:
        row = conn.execute(text("SELECT * FROM audit_log WHERE id = 4")).mappings().one()
        forged = audit.chain_hash(row["prev_hash"], 4, datetime.fromisoformat(str(row["at"])), row["user_id"],
                                  "intruder", row["action"], row["entity"], row["entity_id"], row["before"],
                                  row["after"])
        conn.execute(text("UPDATE audit_log SET username = 'intruder', row_hash = :h WHERE id = 4"), {"h": forged})
    report = audit.verify_chain(clinic, admin)
    assert any("第 5 条记录与上一条接不上" in p for p in report.problems), report.problems


def test_deleted_inserted_and_cut_off_rows_are_found(clinic: Clinic, admin: Actor) -> None:
    _history(clinic, admin)
    _unguarded(clinic)
    _raw(clinic, "DELETE FROM audit_log WHERE id = 3")
    assert any("第 3–3 条记录缺失" in p for p in audit.verify_chain(clinic, admin).problems)
    _raw(clinic, "INSERT INTO audit_log (id, at, user_id, username, action, entity, entity_id, prev_hash, row_hash)"
                 " VALUES (3, '2026-01-01 00:00:00', NULL, 'ghost', 'login.ok', 'user', 1, '', '')")
    assert any("第 3 条记录" in p for p in audit.verify_chain(clinic, admin).problems)
    _raw(clinic, "DELETE FROM audit_log WHERE id = 3")
    last = audit.search(clinic, admin, AuditFilter(), limit=1)[0].id
    _raw(clinic, f"DELETE FROM audit_log WHERE id >= {last - 1}")
    assert any("日志末尾被截断" in p for p in audit.verify_chain(clinic, admin).problems)


def test_appends_from_many_threads_keep_one_chain(clinic: Clinic, admin: Actor) -> None:
    def work(n: int) -> None:
        for i in range(10):
            with clinic.write() as s:
                audit.record(s, admin, "setting.change", "setting", None, after={"thread": n, "i": i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = audit.verify_chain(clinic, admin)
    assert report.ok and report.checked >= 40


def test_viewer_filters_and_export_is_logged(clinic: Clinic, admin: Actor, tmp_path: Path) -> None:
    _history(clinic, admin)
    failed = audit.search(clinic, admin, AuditFilter(category="login"))
    assert {line.label for line in failed} == {"登录", "登录失败"}
    mine = audit.search(clinic, admin, AuditFilter(username="user1"))
    assert mine and {line.username for line in mine} == {"user1"}
    assert audit.search(clinic, admin, AuditFilter(start=date(2000, 1, 1), end=date(2000, 1, 2))) == []
    created = audit.search(clinic, admin, AuditFilter(text="user2"))
    assert created and all("user2" in line.detail for line in created)
    path = tmp_path / "审计" / "log.xlsx"
    written = audit.export_xlsx(clinic, admin, AuditFilter(category="login"), path)
    sheet = load_workbook(path).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("编号", "时间", "操作人", "操作", "对象", "内容") and len(rows) == written + 1
    assert {r[3] for r in rows[1:]} == {"登录", "登录失败"}
    newest = audit.search(clinic, admin, AuditFilter(), limit=1)[0]
    assert newest.action == "audit.export" and f'"rows": {written}' in newest.detail
    assert audit.verify_chain(clinic, admin).ok
