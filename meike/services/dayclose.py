"""Daily close 日结, the business date 营业日期, closed-day history 历史 and store revenue 店内营收统计.

A day's report is computed from the rows posted on it (tenders, account entries, performance). The
close stores it; since nothing dated a closed day can change (``bizday``), recomputing it later gives
the same figures, which the tests check.

The reports follow the data scope (DESIGN.md): an account that sees all customers gets the clinic's
figures; one limited to its department's (or its own) customers gets the money, accounts and
performance of those customers only, through each row's receipt. Closing the day counts the whole
clinic's money, so it needs the right 日结 and an all-customers account.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, Row, Select, func, select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import PermissionDenied, ValidationError
from meike.models import (
    AccountEntry,
    Customer,
    DayClose,
    Department,
    Payment,
    PaymentMethod,
    PerformanceEntry,
    Receipt,
    SystemSetting,
    User,
)
from meike.models.ledger import ACCOUNT_LABELS
from meike.money import MAX_FEN, yuan
from meike.permissions import Actor, DataScope, Page, Right
from meike.rules.text import NOTE_MAX, clean_text
from meike.services import audit, bizday, ledger, scope

MAX_RANGE_DAYS = 3660


@dataclass(frozen=True)
class DayReport:
    business_date: date
    receipts: int
    first_receipt_no: str
    last_receipt_no: str
    by_method: dict[str, int] = field(default_factory=dict)  # money through each payment method (signed)
    by_account: dict[str, int] = field(default_factory=dict)  # net change of each customer account
    by_department: dict[str, int] = field(default_factory=dict)  # net sales credited to each department
    by_cashier: dict[str, int] = field(default_factory=dict)  # money each cashier took (signed)
    expected_cash_fen: int = 0
    received_fen: int = 0  # money through payment methods that are not customer accounts
    # The same figures by id ("method" / "cashier" / "department" → id → amount; "" for no department):
    # stored with the close so that ``--check`` compares each of them exactly even after a payment
    # method, cashier or department is renamed (not shown; not part of the report's equality).
    by_id: dict[str, dict[str, int]] = field(default_factory=dict, compare=False, repr=False)
    # The name each of those ids had (kind → id → name): stored with the close, a closed day's report
    # recomputed later shows the names of the day it was closed (``names_of``).
    names: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def to_json(self) -> str:
        data = asdict(self)
        data["business_date"] = self.business_date.isoformat()
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DayReport:
        data = json.loads(text)
        data["business_date"] = date.fromisoformat(data["business_date"])
        return cls(**data)


Customers = ColumnElement[bool] | None  # the customers a report covers (``scope.customer_clause``); None: all


def customers_of(actor: Actor) -> Customers:
    """The customers of the actor's data scope for a report; None for all customers (the clinic's figures,
    without the joins)."""
    clause = scope.customer_clause(actor)  # checks the account too
    return None if actor.data_scope is DataScope.ALL else clause


def _through_receipt(q: Select, receipt_id: object, customers: Customers) -> Select:  # type: ignore[type-arg]
    """``q`` limited to rows whose receipt is of one of ``customers`` (unchanged for all customers)."""
    if customers is None:
        return q
    return (q.join(Receipt, Receipt.id == receipt_id)
            .join(Customer, Customer.id == Receipt.customer_id).where(customers))


def report_in(s: Session, day: date, customers: Customers = None) -> DayReport:
    """The figures of ``day``: the clinic's, or those of ``customers`` only (a scoped account's view).

    Money is grouped by payment method, cashier and department id; each id is shown by the name it had
    when the day was closed (kept with the close), else by its name now: renaming a payment method or a
    department after a close does not change the closed day's report."""
    receipts = select(func.count(Receipt.id), func.min(Receipt.receipt_no), func.max(Receipt.receipt_no)).where(
        Receipt.business_date == day)
    if customers is not None:
        receipts = receipts.join(Customer, Customer.id == Receipt.customer_id).where(customers)
    count, first, last = s.execute(receipts).one()
    methods: dict[str, int] = {}
    expected_cash = received = 0
    for method_id, kind, account, amount in s.execute(_through_receipt(
            select(Payment.payment_method_id, PaymentMethod.kind, Payment.account, func.sum(Payment.amount_fen))
            .select_from(Payment).join(PaymentMethod, Payment.payment_method_id == PaymentMethod.id)
            .where(Payment.business_date == day), Payment.receipt_id, customers)
            .group_by(Payment.payment_method_id, PaymentMethod.kind, Payment.account)):
        methods[str(method_id)] = methods.get(str(method_id), 0) + int(amount)
        if kind == "cash":
            expected_cash += int(amount)
        if account is None:
            received += int(amount)
    entries = select(AccountEntry.account, func.sum(AccountEntry.amount_fen)).where(AccountEntry.business_date == day)
    if customers is not None:
        entries = entries.join(Customer, Customer.id == AccountEntry.customer_id).where(customers)
    by_account = {ACCOUNT_LABELS.get(a, a): int(v) for a, v in s.execute(
        entries.group_by(AccountEntry.account).order_by(AccountEntry.account))}
    departments = {_key(k): int(v) for k, v in s.execute(_through_receipt(
        select(PerformanceEntry.department_id, func.sum(PerformanceEntry.amount_fen))
        .where(PerformanceEntry.business_date == day, PerformanceEntry.role == "department"),
        PerformanceEntry.receipt_id, customers).group_by(PerformanceEntry.department_id))}
    cashiers = {_key(k): int(v) for k, v in s.execute(_through_receipt(
        select(Payment.received_by_id, func.sum(Payment.amount_fen))
        .where(Payment.business_date == day, Payment.account.is_(None)), Payment.receipt_id, customers)
        .group_by(Payment.received_by_id))}
    ids = {"method": methods, "cashier": cashiers, "department": departments}
    names = names_of(s, day, {kind: set(amounts) for kind, amounts in ids.items()})
    by_name = {kind: _by_name(amounts, names[kind]) for kind, amounts in ids.items()}
    by_id = {kind: {k: v for k, v in amounts.items() if v} for kind, amounts in ids.items()}
    return DayReport(day, int(count), first or "", last or "", by_name["method"], by_account, by_name["department"],
                     by_name["cashier"], expected_cash, received, by_id if customers is None else {}, names)


def _key(value: object) -> str:
    return "" if value is None else str(value)


def _by_name(amounts: dict[str, int], names: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for k, v in amounts.items():
        out[names[k]] = out.get(names[k], 0) + v
    return dict(sorted(out.items()))


def names_of(s: Session, day: date, wanted: dict[str, set[str]]) -> dict[str, dict[str, str]]:
    """The names of payment methods, cashiers and departments by id (kind → id → name, the department ""
    being 未分科室): as kept with ``day``'s close, else as they are now."""
    kept: dict[str, dict[str, str]] = {}
    close = s.get(DayClose, day)
    if close is not None:
        try:
            stored = json.loads(close.summary).get("names")
            if isinstance(stored, dict):
                kept = {str(kind): {str(k): str(v) for k, v in of.items()} for kind, of in stored.items()
                        if isinstance(of, dict)}
        except (ValueError, AttributeError):
            pass  # an unreadable stored report: ``--check`` says so
    out: dict[str, dict[str, str]] = {}
    for kind, keys in wanted.items():
        mine = {k: kept[kind][k] for k in keys if k in kept.get(kind, {})}
        missing = [int(k) for k in keys - set(mine) if k]
        if "" in keys - set(mine):
            mine[""] = "未分科室"
        if missing and kind == "method":
            mine.update((str(i), n) for i, n in s.execute(
                select(PaymentMethod.id, PaymentMethod.name).where(PaymentMethod.id.in_(missing))))
        elif missing and kind == "cashier":
            mine.update((str(i), d or u) for i, d, u in s.execute(
                select(User.id, User.display_name, User.username).where(User.id.in_(missing))))
        elif missing and kind == "department":
            mine.update((str(i), n) for i, n in s.execute(
                select(Department.id, Department.name).where(Department.id.in_(missing))))
        out[kind] = {k: mine.get(k, f"#{k}") for k in sorted(keys)}
    return out


@dataclass(frozen=True)
class BusinessDay:
    business_date: date
    is_today: bool
    last_closed: date | None


def business_day(clinic: Clinic, actor: Actor) -> BusinessDay:
    actor.require_page(Page.CASHIER)
    with clinic.read() as s:
        day = bizday.open_business_date(s)
        last = s.scalar(select(func.max(DayClose.business_date)))
        return BusinessDay(day, day == clock.now().date(), last)


def day_report(clinic: Clinic, actor: Actor, day: date | None = None) -> DayReport:
    """The day's figures so far (the open day) or as closed (a closed day: the stored report). A scoped
    account gets its customers' figures (a closed day recomputed: it cannot have changed)."""
    actor.require_page(Page.CASHIER)
    customers = customers_of(actor)
    with clinic.read() as s:
        day = day or bizday.open_business_date(s)
        closed = s.get(DayClose, day) if customers is None else None
        if closed is not None:
            return DayReport.from_json(closed.summary)
        return report_in(s, day, customers)


def close_refusal(actor: Actor) -> str | None:
    """Why the actor may not close the day, or None (from what the login holds: the 日结 dialog says it
    before the cashier counts the cash; ``close_day`` asks again after checking the account)."""
    if not actor.has_right(Right.CLOSE_DAY):
        return "您没有“日结”的权限，请联系管理员"
    if actor.data_scope is not DataScope.ALL:
        return "日结统计的是全店的收款，只有数据范围为“所有人的顾客”的账号可以日结"
    return None


def close_day(clinic: Clinic, actor: Actor, *, counted_cash_fen: int, note: str = "",
              day: date | None = None) -> DayReport:
    """日结: freeze the open business day. A cash difference needs a note. Afterwards money posts on
    the next day; nothing dated this day changes again. Needs the right 日结 and all customers as the data
    scope (the close counts the whole clinic's money)."""
    actor.require_page(Page.CASHIER)  # the account checked: what it holds is the database's
    refusal = close_refusal(actor)
    if refusal is not None:
        raise PermissionDenied(refusal)
    note = clean_text(note, field="note", label="说明", limit=NOTE_MAX, multiline=True)
    if not isinstance(counted_cash_fen, int) or not 0 <= counted_cash_fen < MAX_FEN:
        raise ValidationError.single("counted_cash", "请填写清点的现金金额")
    with clinic.write() as s:
        day = day or bizday.open_business_date(s)
        # Money of this day still being written at another workstation is waited for (and counted);
        # money started from now on waits for this close and posts on the next day (``bizday``).
        bizday.lock_day(s, day)
        if s.scalar(select(DayClose.business_date).where(DayClose.business_date == day)) is not None:
            raise ValidationError.single("business_date", f"{day:%Y-%m-%d} 已经日结")
        if day > clock.now().date():
            raise ValidationError.single("business_date", "不能为将来的日期日结")
        report = report_in(s, day)
        if counted_cash_fen != report.expected_cash_fen and not note:
            diff = counted_cash_fen - report.expected_cash_fen
            raise ValidationError.single(
                "note", f"清点现金与应有现金 {yuan(report.expected_cash_fen)} 相差 {yuan(diff)}，请填写说明")
        s.add(DayClose(business_date=day, closed_by_id=actor.user_id, closed_at=clock.now(),
                       expected_cash_fen=report.expected_cash_fen, counted_cash_fen=counted_cash_fen,
                       summary=report.to_json(), note=note))
        chosen = s.get(SystemSetting, bizday.SETTING)
        if chosen is not None and chosen.value == day.isoformat():
            chosen.value = ""  # the supervisor's date is used up: back to the calendar
        audit.record(s, actor, "day.close", "day_close", None, after={
            "business_date": day, "expected_cash_fen": report.expected_cash_fen,
            "counted_cash_fen": counted_cash_fen, "received_fen": report.received_fen, "receipts": report.receipts,
            "note": note})
        return report


def set_business_date(clinic: Clinic, actor: Actor, day: date, *, supervisor: Actor | None) -> date:
    """【日期】: a supervisor changes the business date money is posted on (never to a closed day)."""
    actor.require_page(Page.CASHIER)
    ledger.require_supervisor(supervisor, Right.BUSINESS_DATE, "更改营业日期")
    assert supervisor is not None
    today = clock.now().date()
    if not today - timedelta(days=31) <= day <= today + timedelta(days=1):
        raise ValidationError.single("business_date", "营业日期只能在最近一个月内或明天")
    with clinic.write() as s:
        if bizday.is_closed(s, day):
            raise ValidationError.single("business_date", f"{day:%Y-%m-%d} 已经日结，不能再营业")
        before = bizday.open_business_date(s)
        row = s.get(SystemSetting, bizday.SETTING)
        value = "" if day == today else day.isoformat()
        if row is None:
            s.add(SystemSetting(key=bizday.SETTING, value=value))
        else:
            row.value = value
        audit.record(s, actor, "day.business_date", "system_setting", None, before={"business_date": before},
                     after={"business_date": day, "supervisor": supervisor.username})
    return day


@dataclass(frozen=True)
class ClosedDay:
    business_date: date
    closed_at: datetime
    closed_by: str
    received_fen: int
    expected_cash_fen: int
    counted_cash_fen: int | None  # None: a scoped account's view (the drawer's count is the whole clinic's)
    receipts: int
    note: str


def closed_days(clinic: Clinic, actor: Actor, start: date, end: date) -> list[ClosedDay]:
    """【历史】: the closed days of a range, newest first. A scoped account sees its customers' receipts,
    money and cash of each day, without the clinic's counted cash and the close's note."""
    actor.require_page(Page.CASHIER)
    customers = customers_of(actor)
    with clinic.read() as s:
        rows = s.execute(select(DayClose, User.display_name, User.username)
                         .join(User, User.id == DayClose.closed_by_id)
                         .where(DayClose.business_date >= start, DayClose.business_date <= end)
                         .order_by(DayClose.business_date.desc())).all()
        if customers is not None:
            return _closed_days_in_scope(s, rows, start, end, customers)
        out = []
        for d, display, username in rows:
            report = DayReport.from_json(d.summary)
            out.append(ClosedDay(d.business_date, d.closed_at, display or username, report.received_fen,
                                 d.expected_cash_fen, d.counted_cash_fen, report.receipts, d.note))
        return out


def _closed_days_in_scope(s: Session, rows: Sequence[Row[tuple[DayClose, str, str]]], start: date, end: date,
                          customers: ColumnElement[bool]) -> list[ClosedDay]:
    receipts = dict(s.execute(
        select(Receipt.business_date, func.count(Receipt.id)).join(Customer, Customer.id == Receipt.customer_id)
        .where(Receipt.business_date >= start, Receipt.business_date <= end, customers)
        .group_by(Receipt.business_date)).tuples().all())
    received: dict[date, int] = {}
    cash: dict[date, int] = {}
    for day, kind, account, amount in s.execute(_through_receipt(
            select(Payment.business_date, PaymentMethod.kind, Payment.account, func.sum(Payment.amount_fen))
            .select_from(Payment).join(PaymentMethod, Payment.payment_method_id == PaymentMethod.id)
            .where(Payment.business_date >= start, Payment.business_date <= end), Payment.receipt_id, customers)
            .group_by(Payment.business_date, PaymentMethod.kind, Payment.account)):
        if account is None:
            received[day] = received.get(day, 0) + int(amount)
        if kind == "cash":
            cash[day] = cash.get(day, 0) + int(amount)
    return [ClosedDay(d.business_date, d.closed_at, display or username, received.get(d.business_date, 0),
                      cash.get(d.business_date, 0), None, int(receipts.get(d.business_date, 0)), "")
            for d, display, username in rows]


@dataclass(frozen=True)
class Revenue:
    start: date
    end: date
    received_fen: int  # money in through payment methods that are not customer accounts
    sales_fen: int  # net sales credited to departments
    by_method: dict[str, int]
    by_department: dict[str, int]


def revenue(clinic: Clinic, actor: Actor, start: date, end: date) -> Revenue:
    """店内营收统计 for any range of business dates: by payment method and by department (of the
    customers in the actor's data scope)."""
    actor.require_page(Page.CASHIER)
    if end < start:
        raise ValidationError.single("end", "结束日期不能早于开始日期")
    if (end - start).days > MAX_RANGE_DAYS:
        raise ValidationError.single("end", "统计范围不能超过十年")
    customers = customers_of(actor)
    with clinic.read() as s:
        # One pass over each covering index; names are looked up in the small dictionaries after.
        names: dict[int, str] = {i: n for i, n in s.execute(select(PaymentMethod.id, PaymentMethod.name))}
        by_method: dict[str, int] = {}
        received = 0
        for method_id, account, amount in s.execute(_through_receipt(
                select(Payment.payment_method_id, Payment.account, func.sum(Payment.amount_fen))
                .where(Payment.business_date >= start, Payment.business_date <= end), Payment.receipt_id, customers)
                .group_by(Payment.payment_method_id, Payment.account)):
            name = names.get(method_id, "")
            by_method[name] = by_method.get(name, 0) + int(amount)
            if account is None:
                received += int(amount)
        departments: dict[int | None, str] = {i: n for i, n in s.execute(select(Department.id, Department.name))}
        by_department: dict[str, int] = {}
        for department_id, amount in s.execute(_through_receipt(
                select(PerformanceEntry.department_id, func.sum(PerformanceEntry.amount_fen))
                .where(PerformanceEntry.business_date >= start, PerformanceEntry.business_date <= end,
                       PerformanceEntry.role == "department"), PerformanceEntry.receipt_id, customers)
                .group_by(PerformanceEntry.department_id)):
            name = departments.get(department_id, "未分科室")
            by_department[name] = by_department.get(name, 0) + int(amount)
        by_method = dict(sorted(by_method.items()))
        by_department = dict(sorted(by_department.items()))
    return Revenue(start, end, received, sum(by_department.values()), by_method, by_department)


@dataclass(frozen=True)
class PerformanceRow:
    role: str
    name: str
    amount_fen: int


def performance_report(clinic: Clinic, actor: Actor, start: date, end: date) -> list[PerformanceRow]:
    """业绩: net performance per role and staff member / department over a range (of the customers in the
    actor's data scope)."""
    from meike.models import Staff
    from meike.services.performance import ROLE_LABELS

    actor.require_page(Page.CASHIER)
    customers = customers_of(actor)
    with clinic.read() as s:
        rows = s.execute(_through_receipt(
            select(PerformanceEntry.role, Staff.name, Department.name, func.sum(PerformanceEntry.amount_fen))
            .select_from(PerformanceEntry)
            .outerjoin(Staff, Staff.id == PerformanceEntry.staff_id)
            .outerjoin(Department, Department.id == PerformanceEntry.department_id)
            .where(PerformanceEntry.business_date >= start, PerformanceEntry.business_date <= end),
            PerformanceEntry.receipt_id, customers)
            .group_by(PerformanceEntry.role, Staff.name, Department.name)
            .order_by(PerformanceEntry.role, Staff.name, Department.name))
        return [PerformanceRow(ROLE_LABELS.get(role, role), staff or dept or "", int(v)) for role, staff, dept, v in rows]
