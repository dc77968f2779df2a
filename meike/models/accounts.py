"""User accounts: credentials, lockout, department, data scope and grants (pages and rights)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from meike.models.base import Base
from meike.models.dictionaries import Department, Staff


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(40), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    is_admin: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    data_scope: Mapped[str] = mapped_column(String(12), default="own")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    department: Mapped[Department | None] = relationship()
    staff: Mapped[Staff | None] = relationship()
    grants: Mapped[list[UserGrant]] = relationship(
        cascade="all, delete-orphan", order_by="UserGrant.code", lazy="selectin"
    )

    @property
    def grant_codes(self) -> set[str]:
        return {g.code for g in self.grants}


class UserGrant(Base):
    """One granted page (``page:cashier``) or supervisor right (``right:void``)."""

    __tablename__ = "user_grants"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
