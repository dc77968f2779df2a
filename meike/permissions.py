"""Pages, supervisor rights and data scopes an administrator can grant, and the acting user."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from meike.errors import PermissionDenied


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
    VIEW_PRIVATE = "view_private"
    BACKUP = "backup"  # choose the backup folder, 立即备份: a backup holds every number in full


RIGHT_LABELS: dict[Right, str] = {
    Right.APPROVE_PRICE: "审批低于最低价",
    Right.VOID: "退单",
    Right.REPRINT: "重印",
    Right.REFUND: "退款",
    Right.BUSINESS_DATE: "修改营业日期",
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


@dataclass(frozen=True)
class Actor:
    """The logged-in user as services see it. Built by ``accounts.authenticate``."""

    user_id: int
    username: str
    display_name: str
    is_admin: bool = False
    department_id: int | None = None
    staff_id: int | None = None
    data_scope: DataScope = DataScope.OWN
    grants: frozenset[str] = field(default_factory=frozenset)

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

    def require_page(self, page: Page) -> None:
        if not self.can_open(page):
            raise PermissionDenied(f"您没有“{PAGE_LABELS[page]}”的权限，请联系管理员")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise PermissionDenied("只有管理员账号可以管理账号和权限")
