"""Pages, supervisor rights and data scopes an administrator can grant, and the acting user."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from meike.errors import AccountChanged, PermissionDenied

log = logging.getLogger(__name__)


class Page(StrEnum):
    """Left-menu pages. A page added later gets a member here and appears in the account manager."""

    DASHBOARD = "dashboard"
    REGISTRATION = "registration"
    CUSTOMERS = "customers"
    CASHIER = "cashier"
    PHONE = "phone"
    SETTINGS = "settings"


PAGE_LABELS: dict[Page, str] = {
    Page.DASHBOARD: "操作台",
    Page.REGISTRATION: "挂号中心",
    Page.CUSTOMERS: "顾客管理",
    Page.CASHIER: "收费中心",
    Page.PHONE: "电话管理",
    Page.SETTINGS: "系统管理",
}


class Right(StrEnum):
    """Supervisor rights: a holder confirms sensitive actions with their password."""

    APPROVE_PRICE = "approve_price"
    VOID = "void"
    REPRINT = "reprint"
    REFUND = "refund"
    BUSINESS_DATE = "business_date"
    CLOSE_DAY = "close_day"  # 日结 of the whole clinic's day; an all-customers account only
    VIEW_PRIVATE = "view_private"
    BACKUP = "backup"  # choose the backup folder, 立即备份: a backup holds every number in full


RIGHT_LABELS: dict[Right, str] = {
    Right.APPROVE_PRICE: "审批低于最低价/赠送",
    Right.VOID: "退单",
    Right.REPRINT: "重印",
    Right.REFUND: "退款",
    Right.BUSINESS_DATE: "修改营业日期",
    Right.CLOSE_DAY: "日结",
    Right.VIEW_PRIVATE: "查看完整手机号/身份证",
    Right.BACKUP: "数据备份（含完整资料）",
}


class DataScope(StrEnum):
    ALL = "all"
    DEPARTMENT = "department"
    OWN = "own"


SCOPE_LABELS: dict[DataScope, str] = {
    DataScope.ALL: "所有人的顾客",
    DataScope.DEPARTMENT: "本部门的顾客",
    DataScope.OWN: "只看自己的顾客",
}


def page_code(page: Page) -> str:
    return f"page:{page.value}"


def right_code(right: Right) -> str:
    return f"right:{right.value}"


ALL_GRANT_CODES = frozenset([page_code(p) for p in Page] + [right_code(r) for r in Right])


ACCOUNT_CHANGED = "您的账号权限已变更，请重新登录"
ACCOUNT_DISABLED = "账号已停用，请联系管理员"

AccountState = Callable[[int], "tuple[int, bool] | None"]
"""Reads an account's ``(version, is_active)`` from the database; None when it no longer exists."""


class AccountLink:
    """How an Actor reaches its own account in the database: made by ``accounts.authenticate`` (one per
    login), it reads the account's version with one small indexed SELECT. ``watch`` lets the window of
    that login hear, on whatever thread a service call found it, that the account changed."""

    def __init__(self, state: AccountState | None) -> None:
        self.state = state
        self._watchers: list[Callable[[str], None]] = []
        self._lock = threading.Lock()

    def watch(self, watcher: Callable[[str], None]) -> Callable[[], None]:
        """Call ``watcher(message)`` when a check finds the account changed. Returns the unsubscribe."""
        with self._lock:
            self._watchers.append(watcher)

        def unwatch() -> None:
            with self._lock:
                if watcher in self._watchers:
                    self._watchers.remove(watcher)

        return unwatch

    def changed(self, message: str) -> None:
        with self._lock:
            watchers = list(self._watchers)
        for watcher in watchers:
            try:
                watcher(message)
            except Exception:  # a window being closed must not turn the refusal into another error
                log.exception("account change watcher failed")


# Only for an actor that is no login at all: the demo's set-up of its dictionaries (user 0). Never for a person.
UNCHECKED = AccountLink(None)


@dataclass(frozen=True)
class Actor:
    """The logged-in user as services see it. Built by ``accounts.authenticate``.

    ``can_open`` / ``has_right`` answer from what the account held at login (the window uses them to
    decide what to show, without a database round trip). Every check a service makes, ``require_page``,
    ``require_any_page``, ``require_right``, ``require_admin`` and the data scope's clauses
    (``meike.services.scope``, ``customers.load_in_scope``), first compares ``version`` with the
    account's version in the database (``check_live``), which every change of the account bumps: a
    disabled or changed account is refused at its next service call, and after a passed check the
    Actor's pages, rights and scope are exactly the database's. ``account`` has no default, so no Actor
    can be made without saying how it reaches its account.
    """

    user_id: int
    username: str
    display_name: str
    is_admin: bool = False
    department_id: int | None = None
    staff_id: int | None = None
    data_scope: DataScope = DataScope.OWN
    grants: frozenset[str] = field(default_factory=frozenset)
    version: int = 0
    account: AccountLink = field(kw_only=True, compare=False, repr=False)

    @property
    def label(self) -> str:
        return self.display_name or self.username

    def can_open(self, page: Page) -> bool:
        return not self.is_admin and page_code(page) in self.grants

    def has_right(self, right: Right) -> bool:
        return not self.is_admin and right_code(right) in self.grants

    @property
    def pages(self) -> list[Page]:
        return [p for p in Page if self.can_open(p)]

    def check_live(self) -> None:
        """The account is still active and unchanged since the login, or AccountChanged (its watchers
        are told first)."""
        state = self.account.state
        if state is None:
            return
        found = state(self.user_id)
        if found is not None and found[1] and found[0] == self.version:
            return
        message = ACCOUNT_DISABLED if found is None or not found[1] else ACCOUNT_CHANGED
        self.account.changed(message)
        raise AccountChanged(message)

    def require_page(self, page: Page) -> None:
        self.check_live()
        if not self.can_open(page):
            raise PermissionDenied(f"您没有“{PAGE_LABELS[page]}”的权限，请联系管理员")

    def require_any_page(self, *pages: Page, message: str | None = None) -> None:
        """One of ``pages`` (the first names the refusal unless ``message`` does)."""
        self.check_live()
        if not any(self.can_open(p) for p in pages):
            raise PermissionDenied(message or f"您没有“{PAGE_LABELS[pages[0]]}”的权限，请联系管理员")

    def require_right(self, right: Right, message: str | None = None) -> None:
        self.check_live()
        if not self.has_right(right):
            raise PermissionDenied(message or f"您没有“{RIGHT_LABELS[right]}”的权限，请联系管理员")

    def require_admin(self) -> None:
        self.check_live()
        if not self.is_admin:
            raise PermissionDenied("只有管理员账号可以管理账号和权限")
