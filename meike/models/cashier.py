"""Cashier 收费中心: orders 业务单 with their lines, append-only payments and gapless receipt numbers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meike.models.base import Base
from meike.models.customers import Customer

# Order statuses of this first cashier; later ones (voided, partly paid, …) are added beside them.
ORDER_NEW = "new"
ORDER_SETTLED = "settled"
ORDER_CANCELLED = "cancelled"


class Order(Base):
    """One bill 业务单 of a customer. ``total_fen`` is the sum of its lines; what was paid is in ``payments``."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        Index("ix_orders_status_created", "status", "created_at"),
        Index("ix_orders_business_date", "business_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id"), index=True)  # None: walk-in
    status: Mapped[str] = mapped_column(String(12), default=ORDER_NEW)
    total_fen: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    settled_at: Mapped[datetime | None] = mapped_column(DateTime)
    receipt_no: Mapped[str | None] = mapped_column(String(20), unique=True)
    business_date: Mapped[date | None] = mapped_column(Date)  # the business day it was settled on
    cancel_reason: Mapped[str] = mapped_column(Text, default="")

    customer: Mapped[Customer] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    payments: Mapped[list[Payment]] = relationship(back_populates="order", order_by="Payment.id")


class OrderLine(Base):
    """One item of an order; the item's name is copied so a renamed item does not change old bills."""

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
    unit_price_fen: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order] = relationship(back_populates="lines")


class Payment(Base):
    """Money received for an order. Append-only: a correction is a new (reversing) row, never an update."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    payment_method_id: Mapped[int] = mapped_column(ForeignKey("payment_methods.id"))
    amount_fen: Mapped[int] = mapped_column(Integer)
    received_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # Generated once per payment dialog: a second submit of the same dialog finds this row.
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)

    order: Mapped[Order] = relationship(back_populates="payments")


class ReceiptCounter(Base):
    """The last receipt number used on a business day; incremented inside the settling transaction."""

    __tablename__ = "receipt_counters"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    last_no: Mapped[int] = mapped_column(Integer, default=0)
