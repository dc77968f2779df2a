"""The cashier's reports follow the data scope, and closing the day is a right of its own (issue 14/12).

A department-scoped cashier's day report, closed-day history, revenue and performance cover the money
of the customers it may see (through each row's receipt), never the clinic's; closing the day counts
the whole clinic's money, so it needs the right 日结 and an all-customers account. The desk:
tests/meike/conftest_money.py (its cashier sees all customers and holds 日结).
"""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import select, text

from meike.db import Clinic
from meike.db.migrate import head_revision
from meike.errors import PermissionDenied
from meike.models import User, UserGrant
from meike.permissions import DataScope, Page, Right, right_code
from meike.services import accounts, cashier, customers, dayclose
from meike.services.cashier import LineSpec, Tender
from tests.conftest import make_user
from tests.meike.conftest_money import Desk, desk_fixture, frozen_fixture, snapshot  # noqa: F401 (fixtures)

ONLY_ALL = "日结统计的是全店的收款，只有数据范围为“所有人的顾客”的账号可以日结"


def a_day_of_two_departments(clinic: Clinic, desk: Desk) -> tuple[object, int]:
    """The 皮肤科 cashier takes ￥1,280 cash for its own customer; the clinic's cashier ￥8,800 by WeChat
    and a ￥1,000 deposit from 李四 (not in 皮肤科's scope)."""
    dept = make_user(clinic, desk.admin, "pf", pages=[Page.CASHIER, Page.REGISTRATION], scope=DataScope.DEPARTMENT,
                     department_id=desk.departments["皮肤科"], grants={right_code(Right.CLOSE_DAY)})
    mine = customers.register_customer(clinic, dept, name="赵六", mobile="13600003333")
    order = cashier.open_order(clinic, dept, customer_id=mine, lines=[LineSpec(desk.items["水光针"], 1)])
    cashier.pay(clinic, dept, order, [Tender(desk.methods["现金"], 128_000)], idempotency_key="pf")
    other = cashier.open_order(clinic, desk.cashier, customer_id=desk.plain, lines=[LineSpec(desk.items["双眼皮"], 1)])
    cashier.pay(clinic, desk.cashier, other, [Tender(desk.methods["微信"], 880_000)], idempotency_key="sy")
    from meike.services import ledger

    ledger.top_up(clinic, desk.cashier, desk.plain, account="deposit", tenders=[Tender(desk.methods["现金"], 100_000)],
                  idempotency_key="dep")
    return dept, mine


def test_a_department_cashier_reports_its_customers_only(clinic: Clinic, desk: Desk) -> None:
    dept, _mine = a_day_of_two_departments(clinic, desk)
    report = dayclose.day_report(clinic, dept)
    assert (report.receipts, report.first_receipt_no, report.last_receipt_no) == (1, "R20260302-0001",
                                                                                   "R20260302-0001")
    assert report.by_method == {"现金": 128_000}
    assert report.by_department == {"皮肤科": 128_000}
    assert report.by_cashier == {"pf": 128_000}
    assert report.by_account == {}
    assert (report.expected_cash_fen, report.received_fen) == (128_000, 128_000)
    clinic_wide = dayclose.day_report(clinic, desk.cashier)
    assert clinic_wide.receipts == 3 and clinic_wide.received_fen == 1_108_000
    assert clinic_wide.by_department == {"皮肤科": 128_000, "美容外科": 880_000}

    day = report.business_date
    revenue = dayclose.revenue(clinic, dept, day, day)
    assert (revenue.received_fen, revenue.sales_fen) == (128_000, 128_000)
    assert (revenue.by_method, revenue.by_department) == ({"现金": 128_000}, {"皮肤科": 128_000})
    assert dayclose.revenue(clinic, desk.cashier, day, day).received_fen == 1_108_000
    rows = dayclose.performance_report(clinic, dept, day, day)
    assert [(r.role, r.name, r.amount_fen) for r in rows] == [("科室", "皮肤科", 128_000)]
    assert {r.name for r in dayclose.performance_report(clinic, desk.cashier, day, day)} >= {"皮肤科", "美容外科"}


def test_only_an_all_customers_account_with_the_right_closes_the_day(clinic: Clinic, desk: Desk) -> None:
    dept, _mine = a_day_of_two_departments(clinic, desk)
    plain = make_user(clinic, desk.admin, "plain", pages=[Page.CASHIER])  # all customers, no 日结
    before = snapshot(clinic)
    with pytest.raises(PermissionDenied) as e:
        dayclose.close_day(clinic, dept, counted_cash_fen=128_000)
    assert e.value.message == ONLY_ALL
    with pytest.raises(PermissionDenied) as e:
        dayclose.close_day(clinic, plain, counted_cash_fen=228_000)
    assert e.value.message == "您没有“日结”的权限，请联系管理员"
    assert snapshot(clinic) == before
    assert dayclose.close_refusal(dept) == ONLY_ALL and dayclose.close_refusal(desk.cashier) is None
    closed = dayclose.close_day(clinic, desk.cashier, counted_cash_fen=228_000)
    assert closed.received_fen == 1_108_000

    day = closed.business_date
    [mine] = dayclose.closed_days(clinic, dept, day, day)
    assert (mine.receipts, mine.received_fen, mine.expected_cash_fen, mine.counted_cash_fen, mine.note) == (
        1, 128_000, 128_000, None, "")
    [theirs] = dayclose.closed_days(clinic, desk.cashier, day, day)
    assert (theirs.receipts, theirs.received_fen, theirs.counted_cash_fen) == (3, 1_108_000, 228_000)
    assert dayclose.day_report(clinic, dept, day).by_method == {"现金": 128_000}  # a closed day, recomputed
    assert dayclose.day_report(clinic, desk.cashier, day) == closed  # the stored report


def test_the_demo_cashier_and_manager_hold_the_right(demo_clinic: Clinic) -> None:
    holders = {name for name in ("gl", "sy", "kf", "wl")
               if accounts.authenticate(demo_clinic, name, "123").has_right(Right.CLOSE_DAY)}
    assert holders == {"gl", "sy"}


def test_the_upgrade_gives_the_right_to_the_accounts_that_could_close_before(demo_clinic: Clinic) -> None:
    from meike.db import migrate

    migrate.run(demo_clinic, command.downgrade, "0015")
    with demo_clinic.engine.begin() as conn:  # an account of that schema: a department's cashier
        conn.execute(text("INSERT INTO users (username, display_name, password_hash, is_admin, is_active, data_scope, "
                          "failed_logins, created_at) VALUES ('pf', '', 'x', :no, :yes, 'department', 0, "
                          "CURRENT_TIMESTAMP)"), {"no": False, "yes": True})
        conn.execute(text("INSERT INTO user_grants (user_id, code) SELECT id, 'page:cashier' FROM users "
                          "WHERE username = 'pf'"))
        assert conn.execute(text("SELECT count(*) FROM user_grants WHERE code = 'right:close_day'")).scalar() == 0
    migrate.run(demo_clinic, command.upgrade, head_revision())
    with demo_clinic.read() as s:
        holders = s.scalars(select(User.username).join(UserGrant, UserGrant.user_id == User.id)
                            .where(UserGrant.code == right_code(Right.CLOSE_DAY)).order_by(User.username)).all()
        versions = set(s.scalars(select(User.account_version)))
    assert holders == ["gl", "sy"]
    assert versions == {1}
