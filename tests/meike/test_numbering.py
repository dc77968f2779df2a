"""Receipt numbers carried forward past a restore (issue 14/14): counters raised, skipped numbers recorded,
the high-water mark beside an SQLite file raised after each commit (and never by a rollback)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from meike import numbering
from meike.db import Clinic
from meike.models import AuditEntry
from meike.services import cashier, ledger
from meike.services.cashier import LineSpec, Tender
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture  # noqa: F401 (fixtures)

DAY = date(2026, 3, 2)


def _counters(clinic: Clinic) -> dict[date, int]:
    with clinic.read() as s:
        return numbering.issued(s)


def test_carry_forward_raises_counters_and_records_what_it_skipped(clinic: Clinic) -> None:
    with clinic.write() as s:
        ledger.next_receipt_no(s, DAY)  # R…-0001 issued in the restored data
    floor = {DAY: 4, DAY + timedelta(days=1): 2, DAY - timedelta(days=1): 0}
    with clinic.write() as s:
        skipped = numbering.carry_forward(s, floor, reason="restore")
    assert skipped == {DAY: (2, 4), DAY + timedelta(days=1): (1, 2)}
    assert _counters(clinic) == {DAY: 4, DAY + timedelta(days=1): 2}
    with clinic.write() as s:
        assert ledger.next_receipt_no(s, DAY) == "R20260302-0005"
        assert numbering.carry_forward(s, floor, reason="restore") == {}  # nothing below the floor any more
    with clinic.read() as s:
        assert numbering.skipped_numbers(s) == {DAY: {2, 3, 4}, DAY + timedelta(days=1): {1, 2}}
        audit = s.scalars(select(AuditEntry.after).where(AuditEntry.action == "receipt.numbers.skipped")).all()
    assert len(audit) == 1 and '"2026-03-02": "2-4"' in (audit[0] or "")


@pytest.mark.sqlite_only
def test_the_mark_follows_commits_only(clinic: Clinic, desk: Desk, frozen: list[datetime]) -> None:
    assert clinic.path is not None
    order = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[LineSpec(desk.items["脱毛"])])
    cashier.pay(clinic, desk.cashier, order, [Tender(desk.methods["现金"], 50_000)], idempotency_key="k1")
    assert numbering.read_mark(clinic.path) == {DAY: 1}
    with pytest.raises(RuntimeError), clinic.write() as s:  # a number taken, then the payment fails
        ledger.next_receipt_no(s, DAY)
        raise RuntimeError("the payment failed after its number was taken")
    assert numbering.read_mark(clinic.path) == {DAY: 1} and _counters(clinic) == {DAY: 1}
    with clinic.write() as s:
        ledger.next_receipt_no(s, DAY)
    assert numbering.read_mark(clinic.path) == {DAY: 2}


def test_the_mark_never_goes_down_and_forgets_old_days(tmp_path: Path) -> None:
    db = tmp_path / "meike.sqlite3"
    assert numbering.read_mark(db) == {} and numbering.mark_path(db).name == "meike.numbers.json"
    numbering.raise_mark(db, {DAY: 9})
    numbering.raise_mark(db, {DAY: 3, DAY - timedelta(days=500): 7})
    assert numbering.read_mark(db) == {DAY: 9}  # 500 days before the newest: forgotten
    numbering.mark_path(db).write_text("not json", encoding="utf-8")
    assert numbering.read_mark(db) == {}  # unreadable: starts again (logged)
