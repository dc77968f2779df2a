"""A cashier desk with every kind of tender, two departments, staff, a member level and two customers.

Shared by the ledger / daily-close example tests (as the ``desk`` fixture) and by the money state
machine (``build_desk`` on a fresh clinic database).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pytest
from sqlalchemy import func, select

from meike import clock
from meike.db import Clinic
from meike.models import (
    AccountEntry,
    AuditEntry,
    Coupon,
    DayClose,
    Order,
    OrderAdjustment,
    OrderLine,
    Package,
    PackageUse,
    Payment,
    PaymentMethod,
    PerformanceEntry,
    Receipt,
    ReceiptCounter,
    SystemSetting,
)
from meike.permissions import Actor, Page, Right, right_code
from meike.services import accounts, customers, dictionaries
from meike.services.dictionaries import Kind
from tests.conftest import make_user

SUPERVISOR_RIGHTS = (Right.VOID, Right.REFUND, Right.APPROVE_PRICE, Right.BUSINESS_DATE)
# A fixed working day: Monday 2 March 2026, 09:00.
START = datetime(2026, 3, 2, 9, 0)


@dataclass
class Desk:
    admin: Actor
    cashier: Actor  # the cashier's pages, all customers, the right to close the day, no supervisor rights
    boss: Actor  # supervisor with void / refund / price / business-date rights (password boss-pass)
    items: dict[str, int]
    departments: dict[str, int]
    staff: dict[str, int]
    methods: dict[str, int]
    member_level: int  # 金卡 90%
    deep_level: int  # 钻石卡 60%: below some items' minimum, so clamped there
    member: int  # 张三: 金卡, developer 赵开发
    plain: int  # 李四: no member level
    vip: int  # 王五: 钻石卡


def build_desk(clinic: Clinic) -> Desk:
    """Set up the desk on an empty, migrated clinic."""
    admin = accounts.initialise_clinic(clinic, clinic_name="美客测试诊所", admin_password="admin-pass",
                                       confirm="admin-pass")
    setup = make_user(clinic, admin, "setup")
    departments = {name: dictionaries.add_entry(clinic, setup, Kind.DEPARTMENT, {"name": name})
                   for name in ("美容外科", "皮肤科")}
    staff = {
        name: dictionaries.add_entry(clinic, setup, Kind.STAFF, {"name": name, "roles": [role]})
        for name, role in [("王咨询", "onsite_consultant"), ("李医生", "doctor"), ("赵开发", "customer_service"),
                           ("钱推介", "online_consultant")]
    }
    items = {
        name: dictionaries.add_entry(clinic, setup, Kind.ITEM, {
            "name": name, "price_fen": price, "min_price_fen": minimum, "department_id": departments[dept]})
        for name, price, minimum, dept in [("双眼皮", 880_000, 600_000, "美容外科"),
                                           ("水光针", 128_000, 88_000, "皮肤科"),
                                           ("脱毛", 50_000, 30_000, "皮肤科")]
    }
    methods = {name: dictionaries.add_entry(clinic, setup, Kind.PAYMENT_METHOD, {"name": name, "kind": kind})
               for name, kind in [("现金", "cash"), ("微信", "wechat"), ("银行卡", "card"), ("预存", "prepaid"),
                                  ("定金", "deposit"), ("券", "coupon")]}
    # The settings page offers no 住院押金 tender kind; the ledger supports one, so add it directly.
    with clinic.write() as s:
        inpatient = PaymentMethod(name="住院押金", kind="inpatient", is_active=True, sort_order=99)
        s.add(inpatient)
        s.flush()
        methods["住院押金"] = inpatient.id
    level = dictionaries.add_entry(clinic, setup, Kind.MEMBER_LEVEL, {"name": "金卡", "discount_permille": 900})
    deep = dictionaries.add_entry(clinic, setup, Kind.MEMBER_LEVEL, {"name": "钻石卡", "discount_permille": 600})
    cashier = make_user(clinic, admin, "sy", pages=[Page.CASHIER, Page.CUSTOMERS, Page.REGISTRATION],
                        grants={right_code(Right.CLOSE_DAY)})
    boss = make_user(clinic, admin, "boss", pages=[Page.DASHBOARD], password="boss-pass",
                     grants={right_code(r) for r in SUPERVISOR_RIGHTS})
    member = customers.register_customer(clinic, cashier, name="张三", mobile="13812345678",
                                         member_level_id=level, developer_id=staff["赵开发"])
    plain = customers.register_customer(clinic, cashier, name="李四", mobile="13900001111")
    vip = customers.register_customer(clinic, cashier, name="王五", mobile="13700002222", member_level_id=deep)
    return Desk(admin, cashier, boss, items, departments, staff, methods, level, deep, member, plain, vip)


@pytest.fixture(name="frozen")
def frozen_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    """The clinic clock stopped at ``START``; assign ``frozen[0]`` to move it."""
    now = [START]
    monkeypatch.setattr(clock, "now", lambda: now[0])
    yield now


@pytest.fixture(name="desk")
def desk_fixture(clinic: Clinic, frozen: list[datetime]) -> Desk:
    return build_desk(clinic)


# --- looking at the books ------------------------------------------------------------------------

COUNTED = (Receipt, Payment, AccountEntry, Coupon, Order, OrderLine, OrderAdjustment, Package, PackageUse,
           PerformanceEntry, DayClose, ReceiptCounter, AuditEntry, SystemSetting)


def snapshot(clinic: Clinic) -> tuple[object, ...]:
    """Row counts, money sums and states of everything a money call may write: equal = nothing moved."""
    columns = [select(func.count()).select_from(m).scalar_subquery() for m in COUNTED]
    columns += [select(func.coalesce(func.sum(m.amount_fen), 0)).scalar_subquery()
                for m in (Receipt, Payment, AccountEntry, OrderAdjustment, PerformanceEntry)]
    columns.append(select(func.coalesce(func.sum(PackageUse.sessions), 0)).scalar_subquery())
    with clinic.read() as s:
        return (
            tuple(s.execute(select(*columns)).one()),
            s.execute(select(Order.id, Order.status, Order.total_fen, Order.receipt_no, Order.invoice_no)
                      .order_by(Order.id)).all(),
            s.execute(select(Receipt.id, Receipt.status, Receipt.reprints).order_by(Receipt.id)).all(),
            s.execute(select(ReceiptCounter.business_date, ReceiptCounter.last_no)
                      .order_by(ReceiptCounter.business_date)).all(),
            s.execute(select(SystemSetting.key, SystemSetting.value).order_by(SystemSetting.key)).all(),
        )
