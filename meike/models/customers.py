"""Customers 顾客: the person, how they came, who looks after them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meike.models.base import Base
from meike.models.dictionaries import Channel, Department, InfoSource, MemberLevel, Staff


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        # Pinyin-initials search for a limited scope checks the scope keys in the index itself instead
        # of reading thousands of customer rows for a common prefix like "zs" (issue 3: 27 ms → 2 ms).
        Index("ix_customers_initials_scope", "name_initials", "registered_by_id", "cs_staff_id",
              "consultant_id", "department_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_no: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(40), index=True)
    name_initials: Mapped[str] = mapped_column(String(20), default="")
    gender: Mapped[str] = mapped_column(String(1), default="F")  # F / M / U
    mobile: Mapped[str] = mapped_column(String(20), index=True)
    mobile_last4: Mapped[str] = mapped_column(String(4), index=True, default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"), index=True)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    cs_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    consultant_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    info_source_id: Mapped[int | None] = mapped_column(ForeignKey("info_sources.id"))
    member_level_id: Mapped[int | None] = mapped_column(ForeignKey("member_levels.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    # Optional fields of the Hongmai data-entry standard (seed 003 §3.1).
    file_no: Mapped[str] = mapped_column(String(30), default="")
    birthday: Mapped[date | None] = mapped_column(Date)
    age: Mapped[int | None] = mapped_column(Integer)  # when only the age is known
    id_card: Mapped[str] = mapped_column(String(18), default="")
    wechat: Mapped[str] = mapped_column(String(40), default="")
    qq: Mapped[str] = mapped_column(String(20), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(40), default="")
    occupation: Mapped[str] = mapped_column(String(40), default="")
    referrer: Mapped[str] = mapped_column(String(40), default="")
    developer_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    sms_opt_in: Mapped[bool] = mapped_column(default=True)
    # Paid sittings so far (seed 003 classes: 0 potential, 1 new, 2+ returning); kept by the cashier.
    purchase_occasions: Mapped[int] = mapped_column(Integer, default=0, index=True)
    # Optimistic locking of the profile: a save names the version it was edited from (several PCs).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    department: Mapped[Department | None] = relationship()
    cs_staff: Mapped[Staff | None] = relationship(foreign_keys=[cs_staff_id])
    consultant: Mapped[Staff | None] = relationship(foreign_keys=[consultant_id])
    channel: Mapped[Channel | None] = relationship()
    info_source: Mapped[InfoSource | None] = relationship()
    member_level: Mapped[MemberLevel | None] = relationship()
