"""``main.py --check``: is the database sound, and do the books still add up?

On SQLite, ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check`` (the only SQLite-specific
SQL here, marked below). Then, on any database, the invariants the cashier's code keeps (the same
ones ``tests/meike/test_money_state_machine.py`` checks after every step):

* every receipt's tenders sum to its amount, and every receipt balances: money in through payment
  methods = sales it recognises (an order's total when settled, minus it when voided, plus price
  changes and refunds) + what went into customer accounts (free coupon value excluded) − arrears;
* receipt numbers are R{YYYYMMDD}-0001…n per business day: none malformed, duplicated or missing,
  and the day's counter says n;
* no account balance is below zero (deposit, prepaid, each coupon, inpatient deposit; arrears per
  order); coupon entries belong to the coupon's customer, arrears entries to an order;
* a settled order's payments + its arrears = its total + its adjustments (so nothing was paid beyond
  what it costs); a voided order nets to zero; an unpaid or cancelled order has no money;
* a course was bought once for its sessions, its remaining sessions are 0…sessions, and the sessions
  used (net of restored) are the course lines of settled orders;
* only a coupon's sale may grant value (赠送): a granted entry is a coupon's, on the receipt that sold
  it, and a coupon holds its face value = what was paid for it + what was granted;
* a closed day's stored report equals the report recomputed from its rows, every figure of it
  (each payment method, cashier and department by id, each account), and every close matches its
  "day.close" row in the audit log (a deleted or forged close is found);
* every receipt matches the audit row the same transaction wrote (number, cashier, amount, voided
  or not), so a receipt deleted with its day's counter lowered, or inserted past the program, shows;
* a department's performance of an order is never negative, and zero after a void;
* the audit log's hash chain is unbroken, its end matches the anchors kept outside the database (this
  PC's settings, the backups) and its triggers are in place (``meike.services.audit.verify_chain``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, or_, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from meike import clock, numbering
from meike.db import Clinic
from meike.db.migrate import current_revision, head_revision
from meike.models import (
    AccountEntry,
    AuditEntry,
    Coupon,
    Customer,
    DayClose,
    Department,
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
    Reminder,
    ReminderTally,
    User,
)
from meike.models.cashier import ORDER_CANCELLED, ORDER_NEW, ORDER_SETTLED, ORDER_VOIDED
from meike.models.ledger import ACCOUNT_ARREARS, ACCOUNT_COUPON, ACCOUNT_LABELS, ASSET_ACCOUNTS
from meike.money import yuan
from meike.services import audit, receipt_seal
from meike.services.cashier import STATUS_LABELS
from meike.services.dayclose import DayReport, report_in
from meike.services.followups import KINDS, TALLY_KEYS, tallies_recounted
from meike.services.ledger import receipt_number

MAX_DETAILS = 20  # findings listed per check; the rest are counted

TITLES = {
    "integrity": "数据库文件损坏（SQLite 完整性检查）",
    "foreign_key": "引用了不存在的记录（外键检查）",
    "receipt_tenders": "收据金额与支付明细不符",
    "receipt_balance": "收据收支不平",
    "receipt_numbers": "收据号重复、缺号或格式错误",
    "receipt_counter": "收据计数器与当天收据数不符",
    "negative_balance": "账户余额为负",
    "coupon": "券余额异常",
    "entry": "账户流水不完整",
    "order_amounts": "业务单金额对不上",
    "overpaid": "业务单已付金额超过应收",
    "order_receipt": "已结单的业务单缺少结单收据",
    "package": "疗程次数异常",
    "grant": "赠送金额异常（只有券可以赠送）",
    "day_close": "日结数据与当天流水不符",
    "day_close_audit": "日结记录与操作日志不符",
    "receipt_audit": "收据与操作日志不符",
    "performance": "科室业绩异常",
    "audit_chain": "审计日志被改动",
    "reminder_scope": "提醒记录的查看范围与顾客资料不一致",
    "reminder_tally": "操作台提醒数量的累计与提醒记录不符",
    "revision": "数据库版本与程序不符，账目未检查",
}


@dataclass(frozen=True)
class Finding:
    code: str  # a key of TITLES
    detail: str

    @property
    def title(self) -> str:
        return TITLES.get(self.code, self.code)


@dataclass
class CheckReport:
    database: str
    checked_at: datetime
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # what was checked: label → number
    sqlite: bool = False
    omitted: dict[str, int] = field(default_factory=dict)  # code → findings beyond MAX_DETAILS

    @property
    def ok(self) -> bool:
        return not self.findings

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def add(self, code: str, details: list[str]) -> None:
        self.findings.extend(Finding(code, d) for d in details[:MAX_DETAILS])
        if len(details) > MAX_DETAILS:
            self.omitted[code] = self.omitted.get(code, 0) + len(details) - MAX_DETAILS

    def render(self) -> str:
        lines = [f"美客数据检查  {self.checked_at:%Y-%m-%d %H:%M:%S}", f"数据库：{self.database}"]
        checked = "，".join(f"{label} {n:,}" for label, n in self.counts.items())
        lines.append(f"已检查：{checked}")
        if self.sqlite:
            integrity = "未通过" if "integrity" in self.codes() else "通过"
            foreign = "未通过" if "foreign_key" in self.codes() else "通过"
            lines.append(f"SQLite 完整性检查：{integrity}；外键检查：{foreign}")
        if self.ok:
            lines.append("结果：未发现问题。")
            return "\n".join(lines) + "\n"
        total = len(self.findings) + sum(self.omitted.values())
        lines.append(f"结果：发现 {total} 个问题。")
        for code, group in groupby(self.findings, key=lambda f: f.code):
            items = list(group)
            lines.append("")
            lines.append(f"【{TITLES.get(code, code)}】")
            lines += [f"  - {f.detail}" for f in items]
            if self.omitted.get(code):
                lines.append(f"  …… 另有 {self.omitted[code]} 处同类问题")
        lines.append("")
        lines.append("请联系技术支持；数据有误时可从备份恢复（恢复前会自动再备份当前数据库）。")
        return "\n".join(lines) + "\n"


def run_check(clinic: Clinic) -> CheckReport:
    """Check the whole database; read-only. Takes seconds to minutes on a large database."""
    report = CheckReport(clinic.url, clock.now())
    if clinic.engine.dialect.name == "sqlite":
        report.sqlite = True
        _sqlite_checks(clinic, report)
        if "integrity" in report.codes():
            return report  # reading a damaged file further may raise or mislead
    revision, head = current_revision(clinic), head_revision()
    if revision != head:  # the models would read columns that are not there (yet)
        report.add("revision", [f"数据库版本为 {revision or '（空数据库）'}，本程序为 {head}：请先正常启动一次程序完成升级，再检查账目"])
        return report
    with clinic.read() as s:
        _count(s, report)
        _receipts(s, report)
        _receipt_numbers(s, report)
        _balances(s, report)
        _grants(s, report)
        _orders(s, report)
        _packages(s, report)
        _day_closes(s, report)
        _audit_cross_check(s, report)
        _performance(s, report)
        _reminder_scope(s, report)
        _reminder_tallies(s, report)
    chain = audit.verify_chain(clinic)
    report.counts["审计日志"] = chain.checked
    report.add("audit_chain", chain.problems)
    return report


# --- SQLite only (the adapter part of this module) ------------------------------------------------


def _sqlite_checks(clinic: Clinic, report: CheckReport) -> None:
    try:
        with clinic.engine.connect() as conn:
            rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA integrity_check")]
            if rows != ["ok"]:
                report.add("integrity", rows)
                return
            missing = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    except DBAPIError as e:  # "database disk image is malformed", "file is not a database"
        report.add("integrity", [str(e.orig)])
        return
    report.add("foreign_key", [f"{table} 第 {rowid} 行引用的 {parent} 记录不存在"
                               for table, rowid, parent, _fk in missing])


# --- the books (any database) ----------------------------------------------------------------------


def _scalar(s: Session, q: object) -> int:
    return int(s.scalar(q) or 0)  # type: ignore[call-overload]


def _count(s: Session, report: CheckReport) -> None:
    def n(model: type) -> int:
        return _scalar(s, select(func.count()).select_from(model))

    accounts = select(AccountEntry.customer_id, AccountEntry.account).distinct().subquery()
    report.counts.update({
        "顾客": n(Customer),
        "客户账户": _scalar(s, select(func.count()).select_from(accounts)),
        "账户流水": n(AccountEntry),
        "券": n(Coupon),
        "收据": n(Receipt),
        "支付明细": n(Payment),
        "业务单": n(Order),
        "疗程": n(Package),
        "日结": n(DayClose),
    })


def _who(name: str | None, card_no: str | None) -> str:
    return f"顾客 {name or '?'}（卡号 {card_no or '?'}）"


def _sum_by(column: object, amount: object, *where: object, name: str) -> object:
    """A subquery: ``column`` → Σ ``amount`` (as ``total``) over the rows matching ``where``."""
    return (select(column.label("key"), func.sum(amount).label("total"))  # type: ignore[attr-defined]
            .where(*where).group_by(column).subquery(name))


def _receipts(s: Session, report: CheckReport) -> None:
    tendered = _sum_by(Payment.receipt_id, Payment.amount_fen, name="tendered")
    rows = s.execute(
        select(Receipt.receipt_no, Receipt.amount_fen, func.coalesce(tendered.c.total, 0))
        .outerjoin(tendered, tendered.c.key == Receipt.id)
        .where(Receipt.amount_fen != func.coalesce(tendered.c.total, 0)).order_by(Receipt.id)).all()
    report.add("receipt_tenders", [f"收据 {no}：金额 {yuan(amount)}，支付明细合计 {yuan(int(total))}"
                                   for no, amount, total in rows])

    external = _sum_by(Payment.receipt_id, Payment.amount_fen, Payment.account.is_(None), name="external")
    assets = _sum_by(AccountEntry.receipt_id, AccountEntry.amount_fen, AccountEntry.account.in_(ASSET_ACCOUNTS),
                     AccountEntry.is_grant.is_(False), name="assets")
    arrears = _sum_by(AccountEntry.receipt_id, AccountEntry.amount_fen, AccountEntry.account == ACCOUNT_ARREARS,
                      name="arrears")
    adjusted = _sum_by(OrderAdjustment.receipt_id, OrderAdjustment.amount_fen, name="adjusted")
    sales = func.coalesce(adjusted.c.total, 0) + case(
        (Receipt.kind == "settle", func.coalesce(Order.total_fen, 0)),
        (Receipt.kind == "void", -func.coalesce(Order.total_fen, 0)), else_=literal(0, Integer))
    money_in = func.coalesce(external.c.total, 0)
    accounted = sales + func.coalesce(assets.c.total, 0) - func.coalesce(arrears.c.total, 0)
    rows = s.execute(
        select(Receipt.receipt_no, money_in, accounted)
        .outerjoin(Order, Order.id == Receipt.order_id)
        .outerjoin(external, external.c.key == Receipt.id).outerjoin(assets, assets.c.key == Receipt.id)
        .outerjoin(arrears, arrears.c.key == Receipt.id).outerjoin(adjusted, adjusted.c.key == Receipt.id)
        .where(money_in != accounted).order_by(Receipt.id)).all()
    report.add("receipt_balance", [
        f"收据 {no}：实收 {yuan(int(got))}，而销售 + 入账 − 欠款 = {yuan(int(want))}（差 {yuan(int(got) - int(want))}）"
        for no, got, want in rows])


_NUMBER = re.compile(r"^R(\d{8})-(\d{4,})$")


def day_number_problems(day: date, numbers: list[str], skipped: set[int] = frozenset()) -> list[str]:  # type: ignore[assignment]
    """What is wrong with one business day's receipt numbers (they must be R{day}-0001…n). ``skipped``
    are numbers issued in data a restore replaced (``numbering.skipped_numbers``): accounted for, not
    missing, and never to be seen again."""
    problems: list[str] = []
    serials: list[int] = []
    for number in numbers:
        m = _NUMBER.match(number)
        if m is None:
            problems.append(f"{day:%Y-%m-%d}：收据号 {number!r} 格式错误")
            continue
        if m[1] != f"{day:%Y%m%d}":
            problems.append(f"{day:%Y-%m-%d}：收据号 {number} 不是这一天的号码")
            continue
        serials.append(int(m[2]))
    seen: dict[int, int] = {}
    for serial in serials:
        seen[serial] = seen.get(serial, 0) + 1
    dupes = sorted(k for k, v in seen.items() if v > 1 or k in skipped)
    if dupes:
        problems.append(f"{day:%Y-%m-%d}：收据号重复 " + "、".join(receipt_number(day, k) for k in dupes[:10]))
    top = max(serials, default=0)  # a missing last number shows in the day's counter
    gaps = [k for k in range(1, top + 1) if k not in seen and k not in skipped]
    if gaps:
        more = f" 等 {len(gaps)} 个" if len(gaps) > 10 else ""
        problems.append(f"{day:%Y-%m-%d}：缺号 " + "、".join(receipt_number(day, k) for k in gaps[:10]) + more)
    return problems


def _receipt_numbers(s: Session, report: CheckReport) -> None:
    counters = dict(s.execute(select(ReceiptCounter.business_date, ReceiptCounter.last_no)).tuples().all())
    skipped = numbering.skipped_numbers(s)  # issued before a restore, in data that is gone
    problems: list[str] = []
    counter_problems: list[str] = []
    days = 0
    rows = s.execute(select(Receipt.business_date, Receipt.receipt_no)
                     .order_by(Receipt.business_date, Receipt.receipt_no).execution_options(yield_per=20_000))
    for day, group in groupby(rows, key=lambda r: r[0]):
        days += 1
        numbers = [r[1] for r in group]
        lost = skipped.pop(day, set())
        problems += day_number_problems(day, numbers, lost)
        last = counters.pop(day, None)
        if last != len(numbers) + len(lost):
            gone = f"（另有恢复备份时跳过的 {len(lost)} 个）" if lost else ""
            counter_problems.append(f"{day:%Y-%m-%d}：收据 {len(numbers)} 张{gone}，计数器为 {last if last is not None else '无'}")
    for day, last in sorted(counters.items()):
        lost = skipped.pop(day, set())
        if last != len(lost) and (last or lost):
            counter_problems.append(f"{day:%Y-%m-%d}：没有收据，计数器为 {last}"
                                    + (f"，恢复备份时跳过 {len(lost)} 个" if lost else ""))
    counter_problems += [f"{day:%Y-%m-%d}：恢复备份时跳过的收据号没有计数器" for day in sorted(skipped)]
    report.counts["营业日"] = days
    report.add("receipt_numbers", problems)
    report.add("receipt_counter", counter_problems)


def _balances(s: Session, report: CheckReport) -> None:
    label = ACCOUNT_LABELS
    total = func.sum(AccountEntry.amount_fen)
    rows = s.execute(
        select(Customer.name, Customer.card_no, AccountEntry.account, total)
        .join(Customer, Customer.id == AccountEntry.customer_id)
        .where(AccountEntry.account.in_(ASSET_ACCOUNTS))
        .group_by(Customer.id, Customer.name, Customer.card_no, AccountEntry.account)
        .having(total < 0).order_by(Customer.id)).all()
    details = [f"{_who(name, card)}：{label.get(account, account)}余额 {yuan(int(v))}" for name, card, account, v in rows]
    owed = (select(AccountEntry.order_id, func.sum(AccountEntry.amount_fen).label("owed"))
            .where(AccountEntry.account == ACCOUNT_ARREARS, AccountEntry.order_id.is_not(None))
            .group_by(AccountEntry.order_id).subquery())
    rows = s.execute(select(Order.id, Order.receipt_no, Customer.name, Customer.card_no, owed.c.owed)
                     .join(owed, owed.c.order_id == Order.id).join(Customer, Customer.id == Order.customer_id)
                     .where(owed.c.owed < 0).order_by(Order.id)).all()
    details += [f"{_who(name, card)}：业务单 #{oid}（{no or '未结单'}）欠款 {yuan(int(v))}" for oid, no, name, card, v in rows]
    report.add("negative_balance", details)

    left = _sum_by(AccountEntry.coupon_id, AccountEntry.amount_fen, AccountEntry.coupon_id.is_not(None), name="left")
    rows = s.execute(select(Coupon.id, Coupon.name, Coupon.face_value_fen, func.coalesce(left.c.total, 0),
                            Customer.name, Customer.card_no)
                     .outerjoin(left, left.c.key == Coupon.id).join(Customer, Customer.id == Coupon.customer_id)
                     .where(func.coalesce(left.c.total, 0) < 0)
                     .order_by(Coupon.id)).all()
    details = [f"{_who(cname, card)}：券 #{cid}“{name}”面值 {yuan(face)}，余额 {yuan(int(v))}"
               for cid, name, face, v, cname, card in rows]
    rows = s.execute(select(AccountEntry.id, Coupon.id).join(Coupon, Coupon.id == AccountEntry.coupon_id)
                     .where(or_(AccountEntry.customer_id != Coupon.customer_id,
                                AccountEntry.account != ACCOUNT_COUPON)).order_by(AccountEntry.id)).all()
    details += [f"账户流水 #{eid} 记在券 #{cid} 上，但顾客或账户类型不符" for eid, cid in rows]
    report.add("coupon", details)

    rows = s.execute(select(AccountEntry.id, AccountEntry.account).where(or_(
        and_(AccountEntry.account == ACCOUNT_COUPON, AccountEntry.coupon_id.is_(None)),
        and_(AccountEntry.account == ACCOUNT_ARREARS, AccountEntry.order_id.is_(None)),
        AccountEntry.account.not_in((*ASSET_ACCOUNTS, ACCOUNT_ARREARS)))).order_by(AccountEntry.id)).all()
    report.add("entry", [f"账户流水 #{eid}（{label.get(a, a)}）缺少所属的券或业务单，或账户类型无效" for eid, a in rows])


def _orders(s: Session, report: CheckReport) -> None:
    paid = _sum_by(Payment.order_id, Payment.amount_fen, Payment.order_id.is_not(None), name="paid")
    owed = _sum_by(AccountEntry.order_id, AccountEntry.amount_fen, AccountEntry.account == ACCOUNT_ARREARS,
                   AccountEntry.order_id.is_not(None), name="owed")
    adjusted = _sum_by(OrderAdjustment.order_id, OrderAdjustment.amount_fen, name="adjusted")
    p, o, a = (func.coalesce(q.c.total, 0) for q in (paid, owed, adjusted))
    net = Order.total_fen + a
    base = (select(Order.id, Order.status, Order.receipt_no, Order.total_fen, p, o, a)
            .outerjoin(paid, paid.c.key == Order.id).outerjoin(owed, owed.c.key == Order.id)
            .outerjoin(adjusted, adjusted.c.key == Order.id).order_by(Order.id))
    wrong = or_(
        and_(Order.status == ORDER_SETTLED, p + o != net),
        and_(Order.status == ORDER_VOIDED, or_(p != 0, o != 0)),
        and_(Order.status.in_((ORDER_NEW, ORDER_CANCELLED)), or_(p != 0, o != 0, a != 0)),
        Order.status.not_in((ORDER_NEW, ORDER_SETTLED, ORDER_CANCELLED, ORDER_VOIDED)))
    details = []
    for oid, status, no, total, got, due, adj in s.execute(base.where(wrong)):
        details.append(f"业务单 #{oid}（{no or '未结单'}，{STATUS_LABELS.get(status, status)}）：应收 {yuan(total + int(adj))}，"
                       f"已付 {yuan(int(got))}，欠款 {yuan(int(due))}")
    report.add("order_amounts", details)
    rows = s.execute(base.where(Order.status == ORDER_SETTLED, p > net)).all()
    report.add("overpaid", [f"业务单 #{oid}（{no}）：应收 {yuan(total + int(adj))}，已付 {yuan(int(got))}"
                            for oid, _st, no, total, got, _due, adj in rows])
    settle = (select(Receipt.id).where(Receipt.order_id == Order.id, Receipt.kind == "settle",
                                       Receipt.receipt_no == Order.receipt_no).exists())
    rows = s.execute(select(Order.id, Order.receipt_no)
                     .where(Order.status.in_((ORDER_SETTLED, ORDER_VOIDED)), ~settle).order_by(Order.id)).all()
    report.add("order_receipt", [f"业务单 #{oid}：结单收据 {no or '（无号码）'} 不存在" for oid, no in rows])


def _packages(s: Session, report: CheckReport) -> None:
    def uses(name: str, *where: object) -> object:
        return _sum_by(PackageUse.package_id, PackageUse.sessions, *where, name=name)

    left = uses("left")
    bought = uses("bought", PackageUse.kind == "bought")
    used = uses("used", PackageUse.kind.in_(("used", "restored")))
    bought_rows = (select(PackageUse.package_id.label("key"), func.count().label("total"))
                   .where(PackageUse.kind == "bought").group_by(PackageUse.package_id).subquery("bought_rows"))
    lines = (select(OrderLine.package_id.label("key"), func.sum(OrderLine.quantity).label("total"))
             .join(Order, Order.id == OrderLine.order_id)
             .where(OrderLine.package_id.is_not(None), Order.status == ORDER_SETTLED)
             .group_by(OrderLine.package_id).subquery("lines"))
    remaining, once, sessions_in, used_net, on_lines = (
        func.coalesce(q.c.total, 0) for q in (left, bought_rows, bought, used, lines))
    wrong_sign = (select(PackageUse.id).where(PackageUse.package_id == Package.id, or_(
        and_(PackageUse.kind.in_(("bought", "restored")), PackageUse.sessions <= 0),
        and_(PackageUse.kind.in_(("used", "refunded")), PackageUse.sessions >= 0))).exists())
    rows = s.execute(
        select(Package.id, Package.item_name, Package.sessions, remaining, once, sessions_in, used_net, on_lines,
               wrong_sign, Customer.name, Customer.card_no)
        .join(Customer, Customer.id == Package.customer_id)
        .outerjoin(left, left.c.key == Package.id).outerjoin(bought_rows, bought_rows.c.key == Package.id)
        .outerjoin(bought, bought.c.key == Package.id).outerjoin(used, used.c.key == Package.id)
        .outerjoin(lines, lines.c.key == Package.id)
        .where(or_(remaining < 0, remaining > Package.sessions, once != 1, sessions_in != Package.sessions,
                   -used_net != on_lines, wrong_sign))
        .order_by(Package.id)).all()
    details = []
    for pid, item, sessions, rem, n_bought, got, net_used, lined, bad_sign, name, card in rows:
        why = []
        if not 0 <= rem <= sessions:
            why.append(f"剩余 {rem} 次，共 {sessions} 次")
        if n_bought != 1 or got != sessions:
            why.append(f"购买记录 {n_bought} 条共 {got} 次")
        if -net_used != lined:
            why.append(f"划扣 {-net_used} 次，已结单的划扣项目为 {lined} 次")
        if bad_sign:
            why.append("次数记录的正负号与类型不符")
        details.append(f"{_who(name, card)}：疗程 #{pid}“{item}”" + "，".join(why))
    report.add("package", details)


# Figures of a day's report that are numbers and numbers of receipts: report key → label, how shown.
_SCALARS: dict[str, tuple[str, Callable[[Any], str]]] = {
    "receipts": ("收据张数", str),
    "first_receipt_no": ("首张收据", str),
    "last_receipt_no": ("末张收据", str),
    "expected_cash_fen": ("应有现金", yuan),
    "received_fen": ("实收", yuan),
}
# The figures by name (stored) and by id (stored since issue 14/15): id kind → report key, label.
_GROUPS = {"method": ("by_method", "支付方式"), "cashier": ("by_cashier", "收银员"), "department": ("by_department", "科室")}


def _show(how: Callable[[Any], str], value: object) -> str:
    try:
        return how(value)
    except (TypeError, ValueError, AttributeError):
        return repr(value)


def _amounts(value: object) -> dict[str, int]:
    """A stored ``{name: amount}`` (a report of the close), read defensively."""
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return {str(k): int(v) for k, v in value.items()}


def _names(s: Session) -> dict[str, dict[str, str]]:
    """The current names of payment methods, cashiers and departments, by id (as the reports key them)."""
    return {
        "method": {str(i): n for i, n in s.execute(select(PaymentMethod.id, PaymentMethod.name))},
        "cashier": {str(i): d or u for i, d, u in s.execute(select(User.id, User.display_name, User.username))},
        "department": {"": "未分科室", **{str(i): n for i, n in s.execute(select(Department.id, Department.name))}},
    }


def _by_name(label: str, stored: dict[str, int], now: dict[str, int], current: set[str]) -> list[str]:
    """A close stored before the ids were kept: each name compared, except names that are no longer in use
    (renamed since): the money of those is compared together with the names that have appeared since."""
    changed = []
    before_pool = after_pool = 0
    for name in sorted(set(stored) | set(now)):
        if name in stored and name not in current:
            before_pool += stored[name]
            after_pool += now.get(name, 0)
        elif name not in stored:
            after_pool += now[name]
        elif stored[name] != now.get(name, 0):
            changed.append(f"{label} {name} 日结时 {yuan(stored[name])}，现在 {yuan(now.get(name, 0))}")
    if before_pool != after_pool:
        changed.append(f"{label}（改过名或新出现的）日结时 {yuan(before_pool)}，现在 {yuan(after_pool)}")
    return changed


def _compare_day(stored: dict[str, Any], now: DayReport, names: dict[str, dict[str, str]]) -> list[str]:
    """Every figure of a stored day report against the same report recomputed now."""
    changed = []
    for key, (label, how) in _SCALARS.items():
        if key in stored and stored[key] != getattr(now, key):
            changed.append(f"{label} 日结时 {_show(how, stored[key])}，现在 {how(getattr(now, key))}")
    accounts = _amounts(stored.get("by_account", {}))
    for name in sorted(set(accounts) | set(now.by_account)):
        if accounts.get(name, 0) != now.by_account.get(name, 0):
            changed.append(f"账户 {name} 日结时 {yuan(accounts.get(name, 0))}，现在 {yuan(now.by_account.get(name, 0))}")
    by_id = stored.get("by_id")
    for kind, (key, label) in _GROUPS.items():
        if isinstance(by_id, dict) and kind in by_id:
            before, after = _amounts(by_id[kind]), now.by_id.get(kind, {})
            for k in sorted(set(before) | set(after)):
                if before.get(k, 0) != after.get(k, 0):
                    name = names[kind].get(k, f"#{k}")
                    changed.append(f"{label} {name} 日结时 {yuan(before.get(k, 0))}，现在 {yuan(after.get(k, 0))}")
        elif key in stored:
            current = set(names[kind].values())
            changed += _by_name(label, _amounts(stored[key]), getattr(now, key), current)
    return changed


def _day_closes(s: Session, report: CheckReport) -> None:
    details = []
    names = _names(s)
    for close in s.scalars(select(DayClose).order_by(DayClose.business_date)):
        day = close.business_date
        try:
            stored = json.loads(close.summary)
            if not isinstance(stored, dict):
                raise ValueError("not an object")
            now = report_in(s, day)
            kept = stored.get("expected_cash_fen")
            if close.expected_cash_fen != kept:
                details.append(f"{day:%Y-%m-%d}：应有现金记为 {yuan(close.expected_cash_fen)}，"
                               f"日结报表为 {_show(yuan, kept)}")
            changed = _compare_day(stored, now, names)
        except (ValueError, TypeError, AttributeError) as e:
            details.append(f"{day:%Y-%m-%d}：保存的日结报表无法读取（{e}）")
            continue
        if changed:
            details.append(f"{day:%Y-%m-%d}：" + "；".join(changed))
    report.add("day_close", details)


# --- grants: value that no money paid for ------------------------------------------------------------


def _grants(s: Session, report: CheckReport) -> None:
    """Only the sale of a coupon may grant value (its face value above its price): a granted entry on any
    other account, receipt or coupon would be spendable value that no money paid for."""
    label = ACCOUNT_LABELS
    rows = s.execute(
        select(AccountEntry.id, AccountEntry.account, AccountEntry.amount_fen, Receipt.receipt_no, Customer.name,
               Customer.card_no)
        .join(Customer, Customer.id == AccountEntry.customer_id)
        .outerjoin(Receipt, Receipt.id == AccountEntry.receipt_id)
        .outerjoin(Coupon, Coupon.id == AccountEntry.coupon_id)
        .where(AccountEntry.is_grant.is_(True), or_(
            AccountEntry.account != ACCOUNT_COUPON, AccountEntry.amount_fen <= 0, Coupon.id.is_(None),
            Receipt.kind.is_distinct_from("coupon"), AccountEntry.receipt_id.is_distinct_from(Coupon.receipt_id)))
        .order_by(AccountEntry.id)).all()
    details = [f"{_who(name, card)}：账户流水 #{eid}（{label.get(account, account)} {yuan(amount)}，收据 {no or '无'}）"
               "记为赠送，但只有售券时券面值高于售价的部分可以赠送"
               for eid, account, amount, no, name, card in rows]
    on_sale = (AccountEntry.coupon_id == Coupon.id, AccountEntry.receipt_id == Coupon.receipt_id)
    paid = (select(func.coalesce(func.sum(AccountEntry.amount_fen), 0)).where(*on_sale, AccountEntry.is_grant.is_(False))
            .scalar_subquery())
    granted = (select(func.coalesce(func.sum(AccountEntry.amount_fen), 0)).where(*on_sale, AccountEntry.is_grant.is_(True))
               .scalar_subquery())
    rows = s.execute(
        select(Coupon.id, Coupon.name, Coupon.face_value_fen, Coupon.price_fen, Receipt.receipt_no, Receipt.amount_fen,
               paid, granted, Customer.name, Customer.card_no)
        .join(Customer, Customer.id == Coupon.customer_id)
        .outerjoin(Receipt, Receipt.id == Coupon.receipt_id)
        .where(or_(paid != Coupon.price_fen, granted != Coupon.face_value_fen - Coupon.price_fen,
                   Receipt.amount_fen.is_distinct_from(Coupon.price_fen)))
        .order_by(Coupon.id)).all()
    details += [f"{_who(cname, card)}：券 #{cid}“{name}”面值 {yuan(face)}、售价 {yuan(price)}，售券收据 {no or '无'} "
                f"金额 {yuan(amount) if amount is not None else '无'}，入账 {yuan(int(got))} + 赠送 {yuan(int(given))}"
                for cid, name, face, price, no, amount, got, given, cname, card in rows]
    report.add("grant", details)


# --- the books against the audit log ---------------------------------------------------------------

_MONEY_ACTIONS = receipt_seal.MONEY_ACTIONS


def _audited_amount(action: str, after: dict[str, Any]) -> int | None:
    tenders = after.get("tenders")
    if isinstance(tenders, list):  # the receipt's own tender rows, signed
        return sum(int(t.get("amount_fen", 0)) for t in tenders if isinstance(t, dict))
    key = _MONEY_ACTIONS[action]
    value = after.get(key.lstrip("-"))
    if not isinstance(value, int):
        return None
    return -value if key.startswith("-") else value


@dataclass
class _Audited:
    entry_id: int
    action: str
    at: datetime
    user_id: int | None
    amount: int | None
    seal: str | None = None  # receipt_seal: everything the receipt moved, as written (rows since issue 14)


def _audit_cross_check(s: Session, report: CheckReport) -> None:
    """Receipts and closed days against the audit rows written in the same transactions."""
    receipts: dict[str, _Audited] = {}
    voided: set[str] = set()
    closes: dict[str, tuple[int, dict[str, Any]]] = {}
    rows = s.execute(select(AuditEntry.id, AuditEntry.action, AuditEntry.at, AuditEntry.user_id, AuditEntry.after)
                     .where(AuditEntry.action.in_([*_MONEY_ACTIONS, "day.close"]))
                     .order_by(AuditEntry.id).execution_options(yield_per=5_000))
    for entry_id, action, at, user_id, text in rows:
        try:
            after = json.loads(text or "{}")
        except ValueError:
            continue  # an edited row: the chain check reports it
        if not isinstance(after, dict):
            continue
        if action == "day.close":
            closes[str(after.get("business_date"))] = (entry_id, after)
            continue
        number = after.get("receipt_no")
        if isinstance(number, str):
            seal = after.get("seal")
            receipts[number] = _Audited(entry_id, action, at, user_id, _audited_amount(action, after),
                                        seal if isinstance(seal, str) else None)
        if action == "order.void" and isinstance(after.get("voided_receipts"), list):
            voided.update(str(n) for n in after["voided_receipts"])
    details: list[str] = []
    sealed = {number: seen.seal for number, seen in receipts.items() if seen.seal is not None}
    if sealed:
        for number, now in receipt_seal.all_seals(s):
            kept = sealed.pop(number, None)
            if kept is not None and kept != now:
                seen = receipts[number]
                details.append(f"收据 {number}：顾客、收款方式、账户、金额或业绩与操作日志第 {seen.entry_id} 条"
                               f"（{audit.action_label(seen.action)}，{seen.at:%Y-%m-%d %H:%M}）记下的不符（写入后被改动）")
    for number, amount, cashier_id, status, kind in s.execute(
            select(Receipt.receipt_no, Receipt.amount_fen, Receipt.cashier_id, Receipt.status, Receipt.kind)
            .order_by(Receipt.business_date, Receipt.receipt_no).execution_options(yield_per=20_000)):
        seen = receipts.pop(number, None)
        if seen is None:
            details.append(f"收据 {number}（{kind}，{yuan(amount)}）：操作日志中没有写入它的记录（不是收费程序写入的？）")
            continue
        if seen.user_id != cashier_id:
            details.append(f"收据 {number}：收款人与操作日志第 {seen.entry_id} 条不符")
        if seen.amount is not None and seen.amount != amount:
            details.append(f"收据 {number}：金额 {yuan(amount)}，操作日志第 {seen.entry_id} 条记为 {yuan(seen.amount)}")
        if (status == "voided") != (number in voided):
            details.append(f"收据 {number}：{'已作废' if status == 'voided' else '有效'}，与操作日志的退单记录不符")
    for number, seen in sorted(receipts.items(), key=lambda kv: kv[1].entry_id):
        details.append(f"收据 {number}：操作日志第 {seen.entry_id} 条（{audit.action_label(seen.action)}，"
                       f"{seen.at:%Y-%m-%d %H:%M}）写入了它，但收据不存在（被删除？）")
    report.add("receipt_audit", details)

    details = []
    for close in s.scalars(select(DayClose).order_by(DayClose.business_date)):
        day = close.business_date.isoformat()
        logged = closes.pop(day, None)
        if logged is None:
            details.append(f"{day}：日结记录在操作日志中没有对应的日结操作（不是收费程序写入的？）")
            continue
        entry_id, after = logged
        stored = {"expected_cash_fen": close.expected_cash_fen, "counted_cash_fen": close.counted_cash_fen}
        wrong = [k for k, v in stored.items() if after.get(k) != v]
        if wrong:
            details.append(f"{day}：日结记录的应有 / 清点现金与操作日志第 {entry_id} 条不符")
    for day, (entry_id, after) in sorted(closes.items()):
        details.append(f"{day}：操作日志第 {entry_id} 条记录了这天的日结（应有现金 {_show(yuan, after.get('expected_cash_fen'))}），"
                       "但日结记录不存在（被删除？），这一天现在又能收款")
    report.add("day_close_audit", details)


def _performance(s: Session, report: CheckReport) -> None:
    credit = func.sum(PerformanceEntry.amount_fen)
    rows = s.execute(
        select(Order.id, Order.receipt_no, Order.status, credit)
        .join(PerformanceEntry, PerformanceEntry.order_id == Order.id)
        .where(PerformanceEntry.role == "department")
        .group_by(Order.id, Order.receipt_no, Order.status)
        .having(or_(credit < 0, and_(Order.status == ORDER_VOIDED, credit != 0)))
        .order_by(Order.id)).all()
    report.add("performance", [f"业务单 #{oid}（{no or '未结单'}，{STATUS_LABELS.get(status, status)}）：科室业绩 {yuan(int(v))}"
                               for oid, no, status, v in rows])


def _reminder_scope(s: Session, report: CheckReport) -> None:
    """The customer keys copied onto each reminder (kept by triggers) equal the customer's own."""
    pairs = ((Reminder.scope_department_id, Customer.department_id),
             (Reminder.scope_registered_by_id, Customer.registered_by_id),
             (Reminder.scope_cs_staff_id, Customer.cs_staff_id),
             (Reminder.scope_consultant_id, Customer.consultant_id))
    differs = or_(*(copy.is_distinct_from(own) for copy, own in pairs))
    q = (select(Reminder.id, Customer.name, Customer.card_no).join(Customer, Customer.id == Reminder.customer_id)
         .where(differs).order_by(Reminder.id))
    rows = s.execute(q.limit(MAX_DETAILS)).all()
    if rows:
        total = _scalar(s, select(func.count()).select_from(q.subquery()))
        report.add("reminder_scope", [f"提醒 #{rid}（{_who(name, card)}）的查看范围与顾客资料不一致"
                                      for rid, name, card in rows])
        if total > len(rows):
            report.omitted["reminder_scope"] = report.omitted.get("reminder_scope", 0) + total - len(rows)


def _reminder_tallies(s: Session, report: CheckReport) -> None:
    """The tallies (kept by triggers) equal a fresh count of the open reminders due before their date."""
    kept = {(t.kind, *(getattr(t, key) for key, _column in TALLY_KEYS)): t.n
            for t in s.scalars(select(ReminderTally)) if t.n != 0}
    fresh = tallies_recounted(s)
    wrong = sorted(set(kept) | set(fresh), key=lambda k: tuple(str(part) for part in k))
    details = [f"{KINDS.get(k[0], k[0])}（科室 {k[1]}、登记人 {k[2]}、客服 {k[3]}、咨询师 {k[4]}、负责人 {k[5]}）："
               f"累计 {kept.get(k, 0)} 条，实有 {fresh.get(k, 0)} 条"
               for k in wrong if kept.get(k, 0) != fresh.get(k, 0)]
    report.add("reminder_tally", details)
