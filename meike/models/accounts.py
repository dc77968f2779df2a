"""User accounts: credentials, lockout, department, data scope and grants (pages and rights)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, event, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

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
    # Bumped by every change of the account (meike.services.accounts): a login's Actor carries the
    # version it saw, and every service call compares it (Actor.check_live).
    account_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

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


# What a login's Actor holds of its account: a change of any of these (or of the grants) bumps
# ``account_version``, whichever code makes it. Logins (last_login_at, failed_logins, locked_until and
# a password rehash) change none of them; a password reset bumps it explicitly. The administrator's
# account is changed by the administrator only (there is one), so it is not bumped: saving one's own
# account in the account manager does not end one's own session.
ACCOUNT_FIELDS = ("username", "display_name", "is_active", "is_admin", "department_id", "staff_id", "data_scope",
                  "grants")


def _bump_changed_accounts(session: Session, _context: object, _instances: object) -> None:
    for obj in session.dirty:
        if isinstance(obj, User) and not obj.is_admin and account_changed(obj):
            obj.account_version = (obj.account_version or 1) + 1


def account_changed(user: User) -> bool:
    attrs = inspect(user).attrs
    return any(attrs[name].history.has_changes() for name in ACCOUNT_FIELDS)


event.listen(Session, "before_flush", _bump_changed_accounts)
