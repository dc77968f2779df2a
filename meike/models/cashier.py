"""Cashier 收费中心: orders 业务单 with their lines, append-only payments and gapless receipt numbers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meike.models.base import Base, BusinessDated, Money
from meike.models.customers import Customer

ORDER_NEW = "new"  # 新单 / 未付款
ORDER_SETTLED = "settled"  # 结单: receipt issued; what was not paid is arrears 欠款
ORDER_CANCELLED = "cancelled"  # 消单 (never paid)
ORDER_VOIDED = "voided"  # 退单 (settled, then voided by a supervisor; its receipt keeps its number)


class Order(Base, BusinessDated):
    """One bill 业务单 of a customer. ``total_fen`` is the sum of its lines; what was paid is in ``payments``.

    Dated once settled (``business_date``); a void later changes its status, not what it was settled for."""

    DAY_FROZEN = ("total_fen", "customer_id", "business_date", "receipt_no", "settled_at", "consultant_id")
    DAY_ONLY_TO = {"status": frozenset({ORDER_VOIDED})}

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        Index("ix_orders_status_created", "status", "created_at"),
        Index("ix_orders_status_settled", "status", "settled_at"),
        Index("ix_orders_business_date", "business_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)  # None: walk-in
    status: Mapped[str] = mapped_column(String(12), default=ORDER_NEW)
    total_fen: Mapped[int] = mapped_column(Money(), default=0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime)
    receipt_no: Mapped[str | None] = mapped_column(String(20), unique=True)
    business_date: Mapped[date | None] = mapped_column(Date)  # the business day it was settled on
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    consultant_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # credited with performance
    source_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))  # reopened from a void / merged
    void_reason: Mapped[str] = mapped_column(Text, default="")
    voided_at: Mapped[datetime | None] = mapped_column(DateTime)
    invoice_no: Mapped[str] = mapped_column(String(40), default="")
    invoice_title: Mapped[str] = mapped_column(String(100), default="")
    invoice_fen: Mapped[int] = mapped_column(Money(), default=0)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    # Every UPDATE checks and bumps the version: two PCs never silently overwrite each other.
    __mapper_args__ = {"version_id_col": version}

    customer: Mapped[Customer] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    payments: Mapped[list[Payment]] = relationship(back_populates="order", order_by="Payment.id")


class OrderLine(Base, BusinessDated):
    """One item of an order; the item's name is copied so a renamed item does not change old bills."""

    DAY_OF = "order"  # a line of an order settled on a closed day never changes
    DAY_FROZEN = ("order_id", "item_id", "item_name", "quantity", "unit_price_fen", "amount_fen", "list_price_fen",
                  "doctor_id", "package_sessions", "package_id", "promotion_id")

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_fen >= 0", name="unit_price_not_negative"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    item_name: Mapped[str] = mapped_column(String(60))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price_fen: Mapped[int] = mapped_column(Money())
    amount_fen: Mapped[int] = mapped_column(Money())
    list_price_fen: Mapped[int] = mapped_column(Money(), default=0)  # the item's price when the order opened
    doctor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    package_sessions: Mapped[int] = mapped_column(Integer, default=0)  # > 0: sells a course of N sessions
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))  # paid by a session of it
    promotion_id: Mapped[int | None] = mapped_column(ForeignKey("promotions.id"))  # priced by a promotion 促销

    order: Mapped[Order] = relationship(back_populates="lines")

    def copy(self) -> OrderLine:
        """The same line on a new order (a void reopens it, a merge gathers it)."""
        return OrderLine(item_id=self.item_id, item_name=self.item_name, quantity=self.quantity,
                         unit_price_fen=self.unit_price_fen, amount_fen=self.amount_fen,
                         list_price_fen=self.list_price_fen, doctor_id=self.doctor_id,
                         package_sessions=self.package_sessions, package_id=self.package_id,
                         promotion_id=self.promotion_id)


class OrderShare(Base):
    """业绩分配 of one order: who shares a role's performance and by how many percent (100 per role).

    Without rows for a role the order's consultant / the line's doctor / the customer's developer gets
    all of it; with rows, they replace that one person.
    """

    __tablename__ = "order_shares"
    __table_args__ = (CheckConstraint("percent BETWEEN 1 AND 100", name="percent_range"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(12), primary_key=True)  # consultant / doctor / developer
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), primary_key=True)
    percent: Mapped[int] = mapped_column(Integer)


class Promotion(Base):
    """促销: an item's promotional price (特价) or discount for a range of days (both ends included).

    The promotion is the approval: a line at the promotion's price needs no supervisor even when it is
    below the item's minimum; the promotion itself is audited when it is set.
    """

    __tablename__ = "promotions"
    __table_args__ = (
        CheckConstraint("(price_fen IS NULL) <> (discount_permille IS NULL)", name="price_or_discount"),
        CheckConstraint("price_fen IS NULL OR price_fen >= 0", name="price_not_negative"),
        CheckConstraint("discount_permille IS NULL OR discount_permille BETWEEN 1 AND 999",
                        name="discount_range"),
        CheckConstraint("ends_on >= starts_on", name="date_range"),
        Index("ix_promotions_item_dates", "item_id", "starts_on", "ends_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    price_fen: Mapped[int | None] = mapped_column(Money())  # per session / unit
    discount_permille: Mapped[int | None] = mapped_column(Integer)  # 800 = 八折 of the list price
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Receipt(Base, BusinessDated):
    """A numbered money document 收据: a settlement, an arrears payment, a deposit, a refund, a void.

    Every movement of money goes through exactly one receipt, written in one transaction with its
    tenders and account entries. The number is gapless per business day; a voided receipt keeps it.
    """

    DAY_FROZEN = ("receipt_no", "business_date", "kind", "customer_id", "order_id", "amount_fen", "cashier_id")
    DAY_ONLY_TO = {"status": frozenset({"voided"})}

    __tablename__ = "receipts"
    __table_args__ = (Index("ix_receipts_business_date", "business_date", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_no: Mapped[str] = mapped_column(String(20), unique=True)
    business_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(Money())  # what the document moves (tenders, signed)
    status: Mapped[str] = mapped_column(String(12), default="valid")  # valid / voided
    cashier_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Generated once per dialog: a second submit of the same dialog finds this row and charges nothing.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str] = mapped_column(Text, default="")
    reprints: Mapped[int] = mapped_column(Integer, default=0)

    customer: Mapped[Customer] = relationship()
    payments: Mapped[list[Payment]] = relationship(back_populates="receipt", order_by="Payment.id")


class Payment(Base, BusinessDated):
    """One tender of a receipt: money through a payment method (cash, card, WeChat, …), or taken from
    (negative: put back into) a customer account when the method is one. Append-only: a correction is
    a new reversing row."""

    DAY_FROZEN = ("receipt_id", "order_id", "payment_method_id", "account", "amount_fen", "business_date",
                  "received_by_id")
    __tablename__ = "payments"
    # Covering: a day's close and a month's revenue read only this index.
    __table_args__ = (Index("ix_payments_business_date", "business_date", "payment_method_id", "account",
                            "amount_fen", "received_by_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    # Set when the method draws on a customer account (its kind is prepaid / deposit / coupon / inpatient).
    account: Mapped[str | None] = mapped_column(String(12))
    amount_fen: Mapped[int] = mapped_column(Money())  # > 0 received, < 0 paid out
    business_date: Mapped[date] = mapped_column(Date)
    received_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)

    receipt: Mapped[Receipt] = relationship(back_populates="payments")
    order: Mapped[Order | None] = relationship(back_populates="payments")


class OrderAdjustment(Base, BusinessDated):
    """A change to a settled order's net amount: a price change 多退少补 or a project refund 退款.

    ``amount_fen`` is signed (+ the customer owes more, − money goes back). The order's net amount is
    its total plus its adjustments; the order itself is never edited after settlement.
    """

    DAY_FROZEN = ("order_id", "order_line_id", "kind", "amount_fen", "sessions", "reverse_performance", "receipt_id",
                  "business_date")

    __tablename__ = "order_adjustments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # reprice / refund / package_refund
    amount_fen: Mapped[int] = mapped_column(Money())
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    reverse_performance: Mapped[bool] = mapped_column(default=False)
    receipt_id: Mapped[int | None] = mapped_column(ForeignKey("receipts.id"))
    business_date: Mapped[date] = mapped_column(Date, index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ReceiptCounter(Base):
    """The last receipt number used on a business day; incremented inside the settling transaction."""

    __tablename__ = "receipt_counters"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    last_no: Mapped[int] = mapped_column(Integer, default=0)
