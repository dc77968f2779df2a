"""Customer accounts, courses, performance and closed days: append-only rows whose sums are the truth."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from meike.models.base import Base, BusinessDated, Money

# Customer account kinds. Arrears 欠款 is what the customer owes (positive = owed to the clinic).
ACCOUNT_DEPOSIT = "deposit"  # 定金
ACCOUNT_PREPAID = "prepaid"  # 预存
ACCOUNT_COUPON = "coupon"  # 券
ACCOUNT_INPATIENT = "inpatient"  # 住院押金
ACCOUNT_ARREARS = "arrears"  # 欠款
ASSET_ACCOUNTS = (ACCOUNT_DEPOSIT, ACCOUNT_PREPAID, ACCOUNT_COUPON, ACCOUNT_INPATIENT)
ACCOUNT_LABELS = {
    ACCOUNT_DEPOSIT: "定金", ACCOUNT_PREPAID: "预存", ACCOUNT_COUPON: "券",
    ACCOUNT_INPATIENT: "住院押金", ACCOUNT_ARREARS: "欠款",
}


class AccountEntry(Base, BusinessDated):
    """One movement of a customer account. A balance is the sum of its entries; never below zero."""

    DAY_FROZEN = ("customer_id", "account", "amount_fen", "receipt_id", "order_id", "coupon_id", "staff_id",
                  "department_id", "is_grant", "business_date")

    __tablename__ = "account_entries"
    __table_args__ = (
        Index("ix_account_entries_customer_account", "customer_id", "account"),
        Index("ix_account_entries_business_date", "business_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    account: Mapped[str] = mapped_column(String(12))
    amount_fen: Mapped[int] = mapped_column(Money())
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # deposit: referring staff 推介职员
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))  # credited department
    inpatient_no: Mapped[str] = mapped_column(String(30), default="")
    # A free coupon 赠券 adds value nobody paid for: kept apart so money in = money accounted for.
    is_grant: Mapped[bool] = mapped_column(default=False)
    business_date: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Coupon(Base):
    """A coupon 券 sold or given to a customer; what is left of it is the sum of its account entries."""

    __tablename__ = "coupons"
    __table_args__ = (CheckConstraint("face_value_fen > 0", name="face_value_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    face_value_fen: Mapped[int] = mapped_column(Money())
    price_fen: Mapped[int] = mapped_column(Money())  # 0: a free coupon 赠券
    valid_until: Mapped[date] = mapped_column(Date)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Package(Base):
    """A prepaid course 疗程 / 店内预存: N sessions of an item bought on one order line."""

    __tablename__ = "packages"
    __table_args__ = (CheckConstraint("sessions > 0", name="sessions_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    item_name: Mapped[str] = mapped_column(String(60))
    order_line_id: Mapped[int] = mapped_column(Integer, unique=True)  # the line that sold it
    sessions: Mapped[int] = mapped_column(Integer)
    value_fen: Mapped[int] = mapped_column(Money())  # what the course was sold for
    created_at: Mapped[datetime] = mapped_column(DateTime)


class PackageUse(Base, BusinessDated):
    """Sessions in (+, bought) and out (−, used 划扣 or refunded). Remaining = the sum."""

    DAY_FROZEN = ("package_id", "sessions", "kind", "order_line_id", "receipt_id", "business_date")

    __tablename__ = "package_uses"

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), index=True)
    sessions: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(12))  # bought / used / refunded / restored
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"))
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"))
    business_date: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class PerformanceEntry(Base, BusinessDated):
    """Revenue credited 业绩 to a staff member or a department for one order line; reversals are negative."""

    DAY_FROZEN = ("order_id", "order_line_id", "receipt_id", "role", "staff_id", "department_id", "amount_fen",
                  "business_date")

    __tablename__ = "performance_entries"
    # Covering: department sales of a day or a month read only this index.
    __table_args__ = (Index("ix_performance_entries_business_date", "business_date", "role", "department_id",
                            "amount_fen"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    order_line_id: Mapped[int | None] = mapped_column(ForeignKey("order_lines.id"), index=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("receipts.id"))
    role: Mapped[str] = mapped_column(String(12))  # consultant / doctor / developer / referrer / department
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    amount_fen: Mapped[int] = mapped_column(Money())
    business_date: Mapped[date] = mapped_column(Date)


class DayClose(Base):
    """日结: a closed business day. Its totals are frozen here; nothing dated that day changes again."""

    __tablename__ = "day_closes"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    closed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime] = mapped_column(DateTime)
    expected_cash_fen: Mapped[int] = mapped_column(Money())
    counted_cash_fen: Mapped[int] = mapped_column(Money())
    summary: Mapped[str] = mapped_column(Text)  # the day's totals as JSON, as printed at the close
    note: Mapped[str] = mapped_column(Text, default="")
