"""This PC's journal of money calls in flight (``meike.journal``): a crash never makes a retry charge twice.

The key of a payment used to live only in its open dialog: after a crash a new dialog took the money
again under a new key. Now the call is written down (fsynced) before it is sent and cleared when it
answers; after a crash it is still there and 重试 sends it again with the same key.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from meike import journal, paths
from meike.db import Clinic
from meike.errors import StorageError, ValidationError
from meike.services import cashier, ledger
from meike.services.cashier import LineSpec, Tender
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture, snapshot  # noqa: F401 (fixtures)


class Crash(BaseException):
    """The program dies here (nothing after it runs: no answer, no clearing)."""


def _cash(desk: Desk, amount: int) -> Tender:
    return Tender(desk.methods["现金"], amount)


def _crash_after(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    real = getattr(module, name)

    def committed_then_dies(*args: object, **kwargs: object) -> object:
        real(*args, **kwargs)
        raise Crash

    monkeypatch.setattr(module, name, committed_then_dies)


def _crash_before(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    def dies(*_args: object, **_kwargs: object) -> object:
        raise Crash

    monkeypatch.setattr(module, name, dies)


def test_a_payment_that_went_through_before_the_crash_is_not_charged_again(
        clinic: Clinic, desk: Desk, frozen: list[datetime], monkeypatch: pytest.MonkeyPatch) -> None:
    order = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[LineSpec(desk.items["脱毛"])])
    with monkeypatch.context() as m:
        _crash_after(m, cashier, "pay")
        with pytest.raises(Crash):
            journal.pay(clinic, desk.cashier, order, [_cash(desk, 50_000)], idempotency_key="dialog-key-1",
                        customer_id=desk.plain)
    books = snapshot(clinic)
    # The next start: the call is still written down, with its key.
    [entry] = journal.pending(clinic)
    assert (entry.key, entry.op, entry.order_id, entry.customer_id, entry.amount_fen) == (
        "dialog-key-1", "pay", order, desk.plain, 50_000)
    outcome = journal.retry(clinic, desk.cashier, entry)
    assert outcome.receipt_no == "R20260302-0001" and not outcome.sent_again
    assert snapshot(clinic) == books  # nothing moved a second time
    assert journal.pending(clinic) == []


def test_a_top_up_lost_in_the_crash_is_done_once_by_the_retry(
        clinic: Clinic, desk: Desk, frozen: list[datetime], monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        _crash_before(m, ledger, "top_up")
        with pytest.raises(Crash):
            journal.top_up(clinic, desk.cashier, desk.member, account="deposit", tenders=[_cash(desk, 30_000)],
                           idempotency_key="dialog-key-2", staff_id=desk.staff["钱推介"],
                           department_id=desk.departments["美容外科"], note="顾客张三说下周来")
    assert ledger.customer_accounts(clinic, desk.cashier, desk.member).balances["deposit"] == 0
    [entry] = journal.pending(clinic)
    first = journal.retry(clinic, desk.cashier, entry)
    assert first.sent_again and first.receipt_no == "R20260302-0001" and first.amount_fen == 30_000
    assert ledger.customer_accounts(clinic, desk.cashier, desk.member).balances["deposit"] == 30_000
    assert journal.retry(clinic, desk.cashier, entry).receipt_no == "R20260302-0001"  # a double click: the same
    assert ledger.customer_accounts(clinic, desk.cashier, desk.member).balances["deposit"] == 30_000


def test_a_coupon_sale_is_retried_and_a_supervisors_refund_is_only_looked_up(
        clinic: Clinic, desk: Desk, frozen: list[datetime], monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        _crash_after(m, ledger, "sell_coupon")
        with pytest.raises(Crash):
            journal.sell_coupon(clinic, desk.cashier, desk.plain, name="体验券", face_value_fen=20_000,
                                valid_until=date(2026, 6, 1), tenders=[_cash(desk, 20_000)], idempotency_key="c1")
    ledger.top_up(clinic, desk.cashier, desk.plain, account="prepaid", tenders=[_cash(desk, 50_000)],
                  idempotency_key="t1")

    def refund(key: str) -> ledger.ReceiptResult:
        tenders = [_cash(desk, 10_000)]
        return journal.guarded(clinic, desk.cashier, "refund_balance", key, lambda: ledger.refund_balance(
            clinic, desk.cashier, desk.plain, account="prepaid", tenders=tenders, idempotency_key=key,
            supervisor=desk.boss, reason="顾客李四不做了"), customer_id=desk.plain, tenders=tenders, account="prepaid")

    with monkeypatch.context() as m:
        _crash_after(m, ledger, "refund_balance")
        with pytest.raises(Crash):
            refund("r-done")
    with monkeypatch.context() as m:
        _crash_before(m, ledger, "refund_balance")
        with pytest.raises(Crash):
            refund("r-lost")
    books = snapshot(clinic)
    outcomes = {e.key: journal.retry(clinic, desk.cashier, e) for e in journal.pending(clinic)}
    assert outcomes["c1"].receipt_no == "R20260302-0001" and not outcomes["c1"].sent_again
    assert outcomes["r-done"].receipt_no == "R20260302-0003" and not outcomes["r-done"].sent_again
    assert outcomes["r-lost"].receipt_no is None  # not sent again: it needs the supervisor and a reason
    assert snapshot(clinic) == books
    assert journal.pending(clinic) == []


def test_a_refusal_clears_the_entry_and_a_storage_failure_keeps_it(
        clinic: Clinic, desk: Desk, frozen: list[datetime], monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError):
        journal.top_up(clinic, desk.cashier, desk.member, account="prepaid", tenders=[_cash(desk, 0)],
                       idempotency_key="refused")
    assert journal.pending(clinic) == []

    def lost(*_a: object, **_k: object) -> object:
        raise StorageError("连接不上数据库服务器", transient=True)

    monkeypatch.setattr(ledger, "top_up", lost)
    with pytest.raises(StorageError):
        journal.top_up(clinic, desk.cashier, desk.member, account="prepaid", tenders=[_cash(desk, 100)],
                       idempotency_key="unknown")
    assert [e.key for e in journal.pending(clinic)] == ["unknown"]


def test_a_retry_that_is_refused_keeps_the_entry(
        clinic: Clinic, desk: Desk, frozen: list[datetime], monkeypatch: pytest.MonkeyPatch) -> None:
    """After a crash the money may be in the drawer with no dialog left: a retry by someone who cannot
    complete it (a changed account, another scope, a supervisor needed) must not forget it."""
    from meike.errors import AccountChanged, MeikeError
    from meike.services import accounts

    with monkeypatch.context() as m:
        _crash_before(m, ledger, "top_up")
        with pytest.raises(Crash):
            journal.top_up(clinic, desk.cashier, desk.member, account="prepaid", tenders=[_cash(desk, 300_000)],
                           idempotency_key="drawer-1")
    [entry] = journal.pending(clinic)
    accounts.set_active(clinic, desk.admin, desk.cashier.user_id, False)
    with pytest.raises(MeikeError) as e:
        journal.retry(clinic, desk.cashier, entry)
    assert isinstance(e.value, AccountChanged)
    assert [p.key for p in journal.pending(clinic)] == ["drawer-1"]  # still offered
    accounts.set_active(clinic, desk.admin, desk.cashier.user_id, True)
    again = accounts.authenticate(clinic, desk.cashier.username, "secret-1")
    assert journal.retry(clinic, again, entry).sent_again
    assert journal.pending(clinic) == []
    assert ledger.customer_accounts(clinic, again, desk.member).balances["prepaid"] == 300_000


def test_the_journal_holds_ids_and_amounts_only_and_is_the_owners_only(
        clinic: Clinic, desk: Desk, frozen: list[datetime], monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as m:
        _crash_before(m, ledger, "top_up")
        with pytest.raises(Crash):
            journal.top_up(clinic, desk.cashier, desk.member, account="inpatient", tenders=[_cash(desk, 100_000)],
                           idempotency_key="k", inpatient_no="Z-1", note="张三 13812345678 住院")
    [path] = list((paths.data_dir() / journal.FOLDER).glob("*.json"))
    text = path.read_text(encoding="utf-8")
    raw = json.loads(text)
    assert raw["params"]["tenders"] == [[desk.methods["现金"], 100_000, None]]
    for personal in ("张三", "13812345678", "住院", "note"):
        assert personal not in text
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    described = journal.describe(clinic, desk.cashier, journal.pending(clinic)[0])
    assert "住院押金" in described and "张三（卡号" in described and "现金 ￥1,000.00" in described


def test_another_databases_calls_are_not_offered(clinic: Clinic, desk: Desk, frozen: list[datetime],
                                                 tmp_path: Path) -> None:
    other = journal.Pending("x", "pay", "sqlite:/elsewhere.sqlite3", 1, "2026-03-02T09:00:00", amount_fen=1)
    journal.write(other)
    assert journal.pending(clinic) == []


CHILD = """
import os, signal, sys
from meike import journal
from meike.db import Clinic
from meike.services import accounts, ledger
from meike.services.ledger import Tender
from tests.conftest import accounts as _cheap  # noqa: F401 (cheap password hashing)

clinic = Clinic.open(sys.argv[1])
actor = accounts.authenticate(clinic, "sy", "secret-1")
real = ledger.top_up

def top_up_then_power_cut(*args, **kwargs):
    real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # committed; the dialog never hears back

ledger.top_up = top_up_then_power_cut
journal.top_up(clinic, actor, int(sys.argv[2]), account="prepaid", tenders=[Tender(int(sys.argv[3]), 88_800)],
               idempotency_key="killed-key")
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_cashier_killed_after_the_commit_gets_the_same_receipt_on_retry(clinic: Clinic, desk: Desk) -> None:
    """A real crash: another process writes the journal, commits the top-up and is killed before it hears back."""
    env = {**os.environ, "MEIKE_DATA_DIR": str(paths.data_dir()), "MEIKE_CONFIG_DIR": str(paths.config_dir())}
    url = clinic.engine.url.render_as_string(hide_password=False)
    done = subprocess.run([sys.executable, "-c", CHILD, url, str(desk.member), str(desk.methods["现金"])],
                          env=env, cwd=Path(__file__).resolve().parents[2], capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode(errors="replace")
    [entry] = journal.pending(clinic)
    assert entry.key == "killed-key" and entry.amount_fen == 88_800
    assert ledger.customer_accounts(clinic, desk.cashier, desk.member).balances["prepaid"] == 88_800
    outcome = journal.retry(clinic, desk.cashier, entry)
    assert not outcome.sent_again and outcome.amount_fen == 88_800
    assert ledger.customer_accounts(clinic, desk.cashier, desk.member).balances["prepaid"] == 88_800
    assert journal.pending(clinic) == []
