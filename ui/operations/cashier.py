"""收费中心's actions: one small function per thing the cashier does, each returning an ``Op``.

Money (pay, refunds, voids, top-ups, coupons, 日结 …) runs on the database lane, written down on this PC
first (``meike.journal``) where it was before; lists, facts and reports are ``read``s; receipts go to the
printer on the ``io`` lane after the print is recorded on the database lane (a network printer may take
seconds: neither the window nor the database's writer waits for it).
A supervisor's name and password travel with the action and are checked on the worker with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PySide6.QtWidgets import QWidget

from meike import journal
from meike.db import Clinic
from meike.errors import MeikeError, PermissionDenied, ValidationError
from meike.models.cashier import ORDER_CANCELLED, ORDER_SETTLED, ORDER_VOIDED
from meike.permissions import Actor, Right
from meike.services import accounts, cashier, cashier_view, customers, dayclose, dictionaries, ledger
from meike.services.cashier import (
    ItemChoice,
    LineSpec,
    OrderRow,
    PayResult,
    PriceQuote,
    ShareSpec,
    SharesView,
    VoidResult,
)
from meike.services.cashier_view import OrderFacts
from meike.services.dayclose import BusinessDay, ClosedDay, DayReport, Revenue
from meike.services.dictionaries import Entry, Kind
from meike.services.ledger import AccountSummary, ReceiptResult, Tender
from ui.operations import Op, read

PAGE_SIZE = 500
CLOSED = "closed"  # the cashier page's third tab: cancelled 消单 and voided 退单 orders


@dataclass(frozen=True)
class Supervisor:
    """What the supervisor typed (checked on the worker, with the action it confirms)."""

    user: str
    password: str


def verify_supervisor(clinic: Clinic, who: Supervisor, right: Right) -> Actor:
    """The supervisor as an Actor, or ValidationError(supervisor=…). Runs inside an action's worker."""
    if not who.user.strip() or not who.password:
        raise ValidationError.single("supervisor", "请主管输入用户名和密码")
    try:
        return accounts.verify_supervisor(clinic, who.user, who.password, right)
    except PermissionDenied as e:
        raise ValidationError.single("supervisor", e.message) from None


def _supervisor(clinic: Clinic, who: Supervisor | None, right: Right) -> Actor | None:
    return None if who is None else verify_supervisor(clinic, who, right)


# --- the page's lists ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrdersPage:
    """One page of a tab's orders with what the table shows beside them."""

    rows: list[OrderRow]
    arrears: dict[int, int]
    reasons: dict[int, str]


def statuses_of(tab: str) -> list[str]:
    return [ORDER_CANCELLED, ORDER_VOIDED] if tab == CLOSED else [tab]


def _orders(clinic: Clinic, actor: Actor, tab: str, text: str) -> OrdersPage:
    rows: list[OrderRow] = []
    for status in statuses_of(tab):
        rows += cashier.list_orders(clinic, actor, status=status, offset=0, limit=PAGE_SIZE, text=text)
    if tab == CLOSED:
        rows.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        rows = rows[:PAGE_SIZE]
    ids = [r.id for r in rows]
    return OrdersPage(rows, cashier_view.arrears_by_order(clinic, actor, ids) if tab == ORDER_SETTLED else {},
                      cashier_view.void_reasons(clinic, actor, ids) if tab == CLOSED else {})


def orders(parent: QWidget | None, clinic: Clinic, actor: Actor, tab: str, text: str) -> Op[OrdersPage]:
    """The first page of a tab (newest first)."""
    return read(parent, lambda: _orders(clinic, actor, tab, text))


def count_orders(parent: QWidget | None, clinic: Clinic, actor: Actor, tab: str, text: str) -> Op[int]:
    """The exact total of a tab whose first page is full."""
    return read(parent, lambda: sum(cashier.count_orders(clinic, actor, status=s, text=text) for s in statuses_of(tab)))


def business_day(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[BusinessDay]:
    return read(parent, lambda: dayclose.business_day(clinic, actor))


# --- receipts -----------------------------------------------------------------------------------


def print_receipt(parent: QWidget | None, clinic: Clinic, actor: Actor, receipt_id: int,
                  supervisor: Supervisor | None = None) -> Op[Path | None]:
    """打印收据 (重印 with a supervisor): None when sent to the printer, else the PDF written."""
    from meike.services import receipting  # imported when used

    def record() -> receipting.PrintJob:  # the database lane: audited, a reprint counted
        reprint = _supervisor(clinic, supervisor, Right.REPRINT)
        return receipting.record_receipt_print(clinic, actor, receipt_id, reprint_supervisor=reprint)

    op: Op[Path | None] = Op(parent, record).then(receipting.deliver)  # then the printer, on the I/O lane
    return op.busy() if supervisor is None else op


# --- orders -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentFacts:
    facts: OrderFacts
    methods: list[Entry]
    summary: AccountSummary | None = None  # the customer's accounts (the payment dialog's)


def payment_methods(clinic: Clinic, actor: Actor) -> list[Entry]:
    return dictionaries.list_entries(clinic, actor, Kind.PAYMENT_METHOD)


def payment_facts(parent: QWidget | None, clinic: Clinic, actor: Actor, order_id: int) -> Op[PaymentFacts]:
    def job() -> PaymentFacts:
        facts = cashier_view.order_facts(clinic, actor, order_id)
        return PaymentFacts(facts, payment_methods(clinic, actor),
                            ledger.customer_accounts(clinic, actor, facts.customer_id))
    return read(parent, job)


def order_facts(parent: QWidget | None, clinic: Clinic, actor: Actor, order_id: int) -> Op[PaymentFacts]:
    """A settled order's facts for its dialogs (void, refund, reprice, invoice, reprint), with the methods."""
    def job() -> PaymentFacts:
        facts = cashier_view.order_facts(clinic, actor, order_id)
        return PaymentFacts(facts, payment_methods(clinic, actor))
    return read(parent, job)


def pay(parent: QWidget | None, clinic: Clinic, actor: Actor, order_id: int, tenders: Sequence[Tender], *, version: int,
        key: str, customer_id: int, allow_arrears: bool) -> Op[PayResult]:
    """收款 / 收欠款 (written down on this PC before it is sent: a crash does not lose the key)."""
    return Op(parent, lambda: journal.pay(clinic, actor, order_id, tenders, expected_version=version,
                                          idempotency_key=key, customer_id=customer_id, allow_arrears=allow_arrears))


def cancel_order(parent: QWidget | None, clinic: Clinic, actor: Actor, order_id: int, reason: str) -> Op[None]:
    return Op(parent, lambda: cashier.cancel(clinic, actor, order_id, reason=reason))


def merge_orders(parent: QWidget | None, clinic: Clinic, actor: Actor, order_ids: list[int]) -> Op[int]:
    return Op(parent, lambda: cashier.merge_orders(clinic, actor, order_ids))


def void(parent: QWidget | None, clinic: Clinic, actor: Actor, order_id: int, *, key: str, reason: str,
         supervisor: Supervisor, reverse: bool) -> Op[VoidResult]:
    def job() -> VoidResult:
        boss = verify_supervisor(clinic, supervisor, Right.VOID)
        return journal.guarded(clinic, actor, "void", key, lambda: cashier.void(
            clinic, actor, order_id, reason=reason, supervisor=boss, reverse_performance=reverse,
            idempotency_key=key), order_id=order_id)
    return Op(parent, job)


def refund_line(parent: QWidget | None, clinic: Clinic, actor: Actor, order_id: int, line_id: int, *, key: str,
                amount_fen: int, tenders: list[Tender], reason: str, supervisor: Supervisor,
                reverse: bool) -> Op[PayResult]:
    def job() -> PayResult:
        boss = verify_supervisor(clinic, supervisor, Right.REFUND)
        return journal.guarded(clinic, actor, "refund_line", key, lambda: cashier.refund_line(
            clinic, actor, line_id, amount_fen=amount_fen, tenders=tenders, reason=reason, supervisor=boss,
            reverse_performance=reverse, idempotency_key=key),
            order_id=order_id, tenders=tenders, line_id=line_id, refund_fen=amount_fen)
    return Op(parent, job)


def reprice_line(parent: QWidget | None, clinic: Clinic, actor: Actor, order_id: int, line_id: int, *, key: str,
                 price_fen: int, tenders: list[Tender], reason: str, supervisor: Supervisor | None,
                 refund: bool, reverse: bool) -> Op[PayResult]:
    def job() -> PayResult:
        boss = _supervisor(clinic, supervisor, Right.REFUND if refund else Right.APPROVE_PRICE)
        return journal.guarded(clinic, actor, "reprice_line", key, lambda: cashier.reprice_line(
            clinic, actor, line_id, unit_price_fen=price_fen, reason=reason, supervisor=boss, tenders=tenders,
            idempotency_key=key, reverse_performance=reverse),
            order_id=order_id, tenders=tenders, line_id=line_id, unit_price_fen=price_fen)
    return Op(parent, job)


def register_invoice(parent: QWidget | None, clinic: Clinic, actor: Actor, order_id: int, *, invoice_no: str, title: str,
                     amount_fen: int) -> Op[None]:
    return Op(parent, lambda: cashier.register_invoice(clinic, actor, order_id, invoice_no=invoice_no, title=title,
                                                       amount_fen=amount_fen))


@dataclass(frozen=True)
class SharesFacts:
    view: SharesView
    candidates: dict[str, list[tuple[int, str]]]


def order_shares(parent: QWidget | None, clinic: Clinic, actor: Actor, order_id: int) -> Op[SharesFacts]:
    return read(parent, lambda: SharesFacts(cashier.order_shares(clinic, actor, order_id),
                                            cashier.share_candidates(clinic, actor)))


def set_order_shares(parent: QWidget | None, clinic: Clinic, actor: Actor, order_id: int, specs: list[ShareSpec],
                     version: int) -> Op[None]:
    return Op(parent, lambda: cashier.set_order_shares(clinic, actor, order_id, specs, expected_version=version))


# --- 新建收费单 -----------------------------------------------------------------------------------


def search_customers(parent: QWidget | None, clinic: Clinic, actor: Actor, text: str) -> Op[list[customers.CustomerRow]]:
    return read(parent, lambda: customers.search_customers(clinic, actor, text=text, limit=20))


def find_items(parent: QWidget | None, clinic: Clinic, actor: Actor, text: str) -> Op[list[ItemChoice]]:
    return read(parent, lambda: cashier.find_items(clinic, actor, text))


def quote(parent: QWidget | None, clinic: Clinic, actor: Actor, customer_id: int | None, item_id: int,
          sessions: int = 0) -> Op[PriceQuote]:
    return read(parent, lambda: cashier.quote(clinic, actor, customer_id=customer_id, item_id=item_id,
                                              sessions=sessions))


def customer_packages(parent: QWidget | None, clinic: Clinic, actor: Actor, customer_id: int,
                      items: list[tuple[int, int]]) -> Op[tuple[list[ledger.PackageView], list[PriceQuote | None]]]:
    """A picked customer's courses, and the lines already chosen priced again for them (item, sessions;
    None where the item can no longer be quoted)."""
    def quoted(item_id: int, sessions: int) -> PriceQuote | None:
        try:
            return cashier.quote(clinic, actor, customer_id=customer_id, item_id=item_id, sessions=sessions)
        except MeikeError:
            return None

    def job() -> tuple[list[ledger.PackageView], list[PriceQuote | None]]:
        return ledger.customer_accounts(clinic, actor, customer_id).packages, [quoted(i, n) for i, n in items]
    return read(parent, job)


def open_order(parent: QWidget | None, clinic: Clinic, actor: Actor, *, customer_id: int | None, lines: list[LineSpec],
               supervisor: Supervisor | None) -> Op[int]:
    def job() -> int:
        boss = _supervisor(clinic, supervisor, Right.APPROVE_PRICE)
        return cashier.open_order(clinic, actor, customer_id=customer_id, lines=lines, supervisor=boss)
    return Op(parent, job)


# --- 日结 and the reports -------------------------------------------------------------------------


def day_report(parent: QWidget | None, clinic: Clinic, actor: Actor, day: date | None = None) -> Op[DayReport]:
    return read(parent, lambda: dayclose.day_report(clinic, actor, day) if day else dayclose.day_report(clinic, actor))


def close_day(parent: QWidget | None, clinic: Clinic, actor: Actor, *, counted_fen: int, note: str,
              day: date) -> Op[DayReport]:
    return Op(parent, lambda: dayclose.close_day(clinic, actor, counted_cash_fen=counted_fen, note=note, day=day))


def set_business_date(parent: QWidget | None, clinic: Clinic, actor: Actor, day: date, supervisor: Supervisor) -> Op[date]:
    def job() -> date:
        boss = verify_supervisor(clinic, supervisor, Right.BUSINESS_DATE)
        return dayclose.set_business_date(clinic, actor, day, supervisor=boss)
    return Op(parent, job)


def closed_days(parent: QWidget | None, clinic: Clinic, actor: Actor, start: date, end: date) -> Op[list[ClosedDay]]:
    return read(parent, lambda: dayclose.closed_days(clinic, actor, start, end))


def revenue(parent: QWidget | None, clinic: Clinic, actor: Actor, start: date, end: date) -> Op[Revenue]:
    return read(parent, lambda: dayclose.revenue(clinic, actor, start, end))


# --- 顾客账户 -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountFacts:
    label: str
    summary: AccountSummary


def customer_account(parent: QWidget | None, clinic: Clinic, actor: Actor, customer_id: int) -> Op[AccountFacts]:
    def job() -> AccountFacts:
        detail = customers.get_customer(clinic, actor, customer_id)
        return AccountFacts(f"{detail.name}（卡号 {detail.card_no}）",
                            ledger.customer_accounts(clinic, actor, customer_id))
    return read(parent, job)


@dataclass(frozen=True)
class TopUpChoices:
    methods: list[Entry]
    staff: list[Entry]
    departments: list[Entry]


def top_up_choices(parent: QWidget | None, clinic: Clinic, actor: Actor, with_staff: bool) -> Op[TopUpChoices]:
    def job() -> TopUpChoices:
        if not with_staff:
            return TopUpChoices(payment_methods(clinic, actor), [], [])
        return TopUpChoices(payment_methods(clinic, actor), dictionaries.list_entries(clinic, actor, Kind.STAFF),
                            dictionaries.list_entries(clinic, actor, Kind.DEPARTMENT))
    return read(parent, job)


def top_up(parent: QWidget | None, clinic: Clinic, actor: Actor, customer_id: int, *, account: str, tenders: list[Tender],
           key: str, staff_id: int | None, department_id: int | None, inpatient_no: str,
           note: str) -> Op[ReceiptResult]:
    return Op(parent, lambda: journal.top_up(clinic, actor, customer_id, account=account, tenders=tenders,
                                             idempotency_key=key, staff_id=staff_id, department_id=department_id,
                                             inpatient_no=inpatient_no, note=note))


def sell_coupon(parent: QWidget | None, clinic: Clinic, actor: Actor, customer_id: int, *, name: str, face_fen: int,
                valid_until: date, tenders: list[Tender], key: str,
                supervisor: Supervisor | None) -> Op[ReceiptResult]:
    def job() -> ReceiptResult:
        boss = _supervisor(clinic, supervisor, Right.APPROVE_PRICE)
        return journal.sell_coupon(clinic, actor, customer_id, name=name, face_value_fen=face_fen,
                                   valid_until=valid_until, tenders=tenders, idempotency_key=key, supervisor=boss)
    return Op(parent, job)


def refund_balance(parent: QWidget | None, clinic: Clinic, actor: Actor, customer_id: int, *, account: str,
                   tenders: list[Tender], key: str, reason: str, supervisor: Supervisor,
                   reverse: bool) -> Op[ReceiptResult]:
    def job() -> ReceiptResult:
        boss = verify_supervisor(clinic, supervisor, Right.REFUND)
        return journal.guarded(clinic, actor, "refund_balance", key, lambda: ledger.refund_balance(
            clinic, actor, customer_id, account=account, tenders=tenders, idempotency_key=key, supervisor=boss,
            reason=reason, reverse_performance=reverse), customer_id=customer_id, tenders=tenders, account=account)
    return Op(parent, job)


@dataclass(frozen=True)
class PackageQuote:
    amount_fen: int
    arrears_fen: int


def package_quote(parent: QWidget | None, clinic: Clinic, actor: Actor, package_id: int, sessions: int) -> Op[PackageQuote]:
    return read(parent, lambda: PackageQuote(cashier.package_refund_quote(clinic, actor, package_id, sessions),
                                             cashier_view.package_arrears(clinic, actor, package_id)))


def refund_package(parent: QWidget | None, clinic: Clinic, actor: Actor, customer_id: int, package_id: int, *,
                   sessions: int, tenders: list[Tender], key: str, reason: str, supervisor: Supervisor,
                   reverse: bool) -> Op[PayResult]:
    def job() -> PayResult:
        boss = verify_supervisor(clinic, supervisor, Right.REFUND)
        return journal.guarded(clinic, actor, "refund_package", key, lambda: cashier.refund_package(
            clinic, actor, package_id, sessions=sessions, tenders=tenders, reason=reason, supervisor=boss,
            reverse_performance=reverse, idempotency_key=key),
            customer_id=customer_id, tenders=tenders, package_id=package_id, sessions=sessions)
    return Op(parent, job)


# --- 上次收款未确认 (this PC's journal) ----------------------------------------------------------------


def pending_calls(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[list[tuple[journal.Pending, str]]]:
    """The calls this PC wrote down and never heard back from, each with what it was."""
    def job() -> list[tuple[journal.Pending, str]]:
        from meike.errors import MeikeError
        from meike.money import yuan

        out = []
        for entry in journal.pending(clinic):
            try:
                text = journal.describe(clinic, actor, entry)
            except MeikeError as e:
                text = f"{entry.label} {yuan(entry.amount_fen)}（{e.message}）"
            out.append((entry, text))
        return out
    return read(parent, job)


def retry_pending(parent: QWidget | None, clinic: Clinic, actor: Actor, entry: journal.Pending) -> Op[journal.Outcome]:
    return Op(parent, lambda: journal.retry(clinic, actor, entry))
