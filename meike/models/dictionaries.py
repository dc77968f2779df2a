"""Dictionaries of the system settings 系统设置: items, departments, staff, channels, …"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meike.models.base import Base, Money


class DictionaryMixin:
    """Every dictionary entry has a unique name, an order and can be disabled (never deleted once used)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(default=True)


class Department(DictionaryMixin, Base):
    """科室 / 部门."""

    __tablename__ = "departments"


class ItemCategory(DictionaryMixin, Base):
    """项目分类 (手术, 注射, 皮肤, …)."""

    __tablename__ = "item_categories"


class Item(DictionaryMixin, Base):
    """项目: a service with a price and the lowest price a consultant may give without approval."""

    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint("price_fen >= 0", name="price_not_negative"),
        CheckConstraint("min_price_fen >= 0 AND min_price_fen <= price_fen", name="min_price_range"),
        CheckConstraint("share_consultant_pct BETWEEN 0 AND 100 AND share_doctor_pct BETWEEN 0 AND 100 "
                        "AND share_developer_pct BETWEEN 0 AND 100", name="shares_percent"),
    )

    price_fen: Mapped[int] = mapped_column(Money(), default=0)
    min_price_fen: Mapped[int] = mapped_column(Money(), default=0)
    pinyin_code: Mapped[str] = mapped_column(String(60), default="", index=True)
    unit: Mapped[str] = mapped_column(String(10), default="次")
    category_id: Mapped[int | None] = mapped_column(ForeignKey("item_categories.id"))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    # 业绩比例: the share of a line's amount credited to each role (percent; the department gets it all).
    share_consultant_pct: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    share_doctor_pct: Mapped[int] = mapped_column(Integer, default=100, server_default="100")
    share_developer_pct: Mapped[int] = mapped_column(Integer, default=100, server_default="100")

    category: Mapped[ItemCategory | None] = relationship()
    department: Mapped[Department | None] = relationship()


class Staff(DictionaryMixin, Base):
    """员工: consultants, doctors, nurses, customer service, cashiers, drivers."""

    __tablename__ = "staff"

    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    mobile: Mapped[str] = mapped_column(String(20), default="")
    department: Mapped[Department | None] = relationship()
    roles: Mapped[list[StaffRole]] = relationship(
        cascade="all, delete-orphan", order_by="StaffRole.role", lazy="selectin"
    )

    @property
    def role_codes(self) -> list[str]:
        return [r.role for r in self.roles]


class StaffRole(Base):
    __tablename__ = "staff_roles"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)


class Channel(DictionaryMixin, Base):
    """渠道 (百度, 美团, 新氧, 老带新, …)."""

    __tablename__ = "channels"


class InfoSource(DictionaryMixin, Base):
    """信息来源."""

    __tablename__ = "info_sources"


class MemberLevel(DictionaryMixin, Base):
    """会员等级 with its discount: 1000‰ is full price, 950‰ is 95折."""

    __tablename__ = "member_levels"
    __table_args__ = (
        CheckConstraint("discount_permille > 0 AND discount_permille <= 1000", name="discount_range"),
    )

    discount_permille: Mapped[int] = mapped_column(Integer, default=1000)


class PaymentMethod(DictionaryMixin, Base):
    """支付方式; ``kind`` says how the cashier treats it (cash drawer, account, instalment, …)."""

    __tablename__ = "payment_methods"

    kind: Mapped[str] = mapped_column(String(20), default="other")
