"""System settings 系统设置: the dictionaries (items, departments, staff, channels, …).

Entries are added, edited and disabled; an entry that anything refers to is never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meike.db import Clinic
from meike.errors import NotFound, PermissionDenied, ValidationError
from meike.models import (
    Base,
    Channel,
    Department,
    InfoSource,
    Item,
    ItemCategory,
    MemberLevel,
    Payment,
    PaymentMethod,
    Staff,
    StaffRole,
)
from meike.money import MAX_FEN
from meike.permissions import Actor, Page
from meike.rules.pinyin import initials
from meike.rules.text import take_text
from meike.rules.validation import nfkc
from meike.services import audit


class Kind(StrEnum):
    ITEM = "item"
    ITEM_CATEGORY = "item_category"
    DEPARTMENT = "department"
    STAFF = "staff"
    CHANNEL = "channel"
    INFO_SOURCE = "info_source"
    MEMBER_LEVEL = "member_level"
    PAYMENT_METHOD = "payment_method"


KIND_LABELS: dict[Kind, str] = {
    Kind.ITEM: "项目",
    Kind.ITEM_CATEGORY: "项目分类",
    Kind.DEPARTMENT: "部门",
    Kind.STAFF: "员工",
    Kind.CHANNEL: "渠道",
    Kind.INFO_SOURCE: "信息来源",
    Kind.MEMBER_LEVEL: "会员等级",
    Kind.PAYMENT_METHOD: "支付方式",
}

MODELS: dict[Kind, type[Any]] = {
    Kind.ITEM: Item,
    Kind.ITEM_CATEGORY: ItemCategory,
    Kind.DEPARTMENT: Department,
    Kind.STAFF: Staff,
    Kind.CHANNEL: Channel,
    Kind.INFO_SOURCE: InfoSource,
    Kind.MEMBER_LEVEL: MemberLevel,
    Kind.PAYMENT_METHOD: PaymentMethod,
}

STAFF_ROLES: dict[str, str] = {
    "onsite_consultant": "现场咨询",
    "online_consultant": "网电咨询",
    "customer_service": "客服",
    "doctor": "医生",
    "nurse": "护士/助理",
    "cashier": "收银",
    "driver": "司机",
}

# 项目业绩比例: the percent of a line's amount credited to each staff role (the department gets it all).
SHARE_ROLES: dict[str, str] = {"consultant": "咨询", "doctor": "医生", "developer": "开发"}

PAYMENT_KINDS: dict[str, str] = {
    "cash": "现金",
    "card": "银行卡",
    "wechat": "微信",
    "alipay": "支付宝",
    "instalment": "分期",
    "prepaid": "预存余额",
    "deposit": "定金",
    "coupon": "券",
    "inpatient": "住院押金",
    "other": "其它",
}


@dataclass(frozen=True)
class Entry:
    """One dictionary entry as the settings page and the pickers show it."""

    kind: Kind
    id: int
    name: str
    is_active: bool
    sort_order: int
    fields: dict[str, Any] = field(default_factory=dict)


def _entry(kind: Kind, row: Any) -> Entry:
    fields: dict[str, Any] = {}
    if kind is Kind.ITEM:
        fields = {
            "price_fen": row.price_fen,
            "min_price_fen": row.min_price_fen,
            "pinyin_code": row.pinyin_code,
            "unit": row.unit,
            "category_id": row.category_id,
            "category_name": row.category.name if row.category else "",
            "department_id": row.department_id,
            "department_name": row.department.name if row.department else "",
            **{f"share_{role}_pct": getattr(row, f"share_{role}_pct") for role in SHARE_ROLES},
        }
    elif kind is Kind.STAFF:
        fields = {
            "department_id": row.department_id,
            "department_name": row.department.name if row.department else "",
            "mobile": row.mobile,
            "roles": row.role_codes,
        }
    elif kind is Kind.MEMBER_LEVEL:
        fields = {"discount_permille": row.discount_permille}
    elif kind is Kind.PAYMENT_METHOD:
        fields = {"kind": row.kind}
    return Entry(kind, row.id, row.name, row.is_active, row.sort_order, fields)


def _require_reader(actor: Actor) -> None:
    # Every signed-in account needs the dictionaries (pickers); the administrator for departments/staff.
    actor.check_live()
    if not actor.is_admin and not actor.pages:
        raise PermissionDenied("您没有任何页面权限，请联系管理员")


def list_entries(clinic: Clinic, actor: Actor, kind: Kind, *, include_inactive: bool = False,
                 role: str | None = None) -> list[Entry]:
    """Entries of one dictionary, active ones only unless asked; staff can be filtered by role."""
    _require_reader(actor)
    model = MODELS[kind]
    with clinic.read() as s:
        q = select(model).order_by(model.sort_order, model.id)
        if not include_inactive:
            q = q.where(model.is_active.is_(True))
        if role is not None:
            q = q.where(model.id.in_(select(StaffRole.staff_id).where(StaffRole.role == role)))
        return [_entry(kind, row) for row in s.scalars(q)]


def get_entry(clinic: Clinic, actor: Actor, kind: Kind, entry_id: int) -> Entry:
    _require_reader(actor)
    with clinic.read() as s:
        return _entry(kind, _load(s, kind, entry_id))


def _load(s: Session, kind: Kind, entry_id: int) -> Any:
    row = s.get(MODELS[kind], entry_id)
    if row is None:
        raise NotFound(f"{KIND_LABELS[kind]}不存在")
    return row


def _snapshot(kind: Kind, row: Any) -> dict[str, Any]:
    e = _entry(kind, row)
    data = {"name": e.name, "is_active": e.is_active, "sort_order": e.sort_order}
    data.update({k: v for k, v in e.fields.items() if not k.endswith("_name")})
    return data


def _clean(s: Session, kind: Kind, values: dict[str, Any], entry_id: int | None) -> dict[str, Any]:
    """Validate and normalise the values of a form; raises ValidationError with per-field messages."""
    model = MODELS[kind]
    label = KIND_LABELS[kind]
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    name = take_text(errors, values.get("name", ""), field="name", label="名称", limit=60)
    if "name" in errors:
        pass
    elif not name:
        errors["name"] = f"请填写{label}名称"
    else:
        dup = select(model.id).where(func.lower(model.name) == name.lower(), model.id != (entry_id or 0))
        if s.scalar(dup) is not None:
            errors["name"] = f"{label}“{name}”已存在"
    out["name"] = name
    if "sort_order" in values:
        out["sort_order"] = int(values["sort_order"] or 0)

    def ref(key: str, ref_kind: Kind) -> None:
        value = values.get(key)
        if value in (None, ""):
            out[key] = None
        elif s.get(MODELS[ref_kind], int(value)) is None:
            errors[key] = f"{KIND_LABELS[ref_kind]}不存在"
        else:
            out[key] = int(value)

    if kind is Kind.ITEM:
        price = values.get("price_fen")
        min_price = values.get("min_price_fen", 0) or 0
        if price is None or price == "":
            errors["price_fen"] = "请填写单价"
        elif not isinstance(price, int) or price < 0:
            errors["price_fen"] = "单价不能小于 0"
        elif price >= MAX_FEN:
            errors["price_fen"] = "单价过大"
        if not isinstance(min_price, int) or min_price < 0:
            errors["min_price_fen"] = "最低价不能小于 0"
        elif isinstance(price, int) and price >= 0 and min_price > price:
            errors["min_price_fen"] = "最低价不能高于单价"
        out["price_fen"] = price
        out["min_price_fen"] = min_price
        code = str(values.get("pinyin_code") or "").strip().lower()
        if code and not (code.isascii() and code.isalnum()):
            errors["pinyin_code"] = "拼音码只能是字母和数字"
        elif len(code) > 60:
            errors["pinyin_code"] = "拼音码不能超过 60 位"
        out["pinyin_code"] = code or initials(name)
        out["unit"] = take_text(errors, values.get("unit"), field="unit", label="单位", limit=10) or "次"
        ref("category_id", Kind.ITEM_CATEGORY)
        ref("department_id", Kind.DEPARTMENT)
        for role, label in SHARE_ROLES.items():
            key = f"share_{role}_pct"
            pct = values.get(key, 100)
            if not isinstance(pct, int) or not 0 <= pct <= 100:
                errors[key] = f"{label}业绩比例应在 0–100 之间"
            out[key] = pct
    elif kind is Kind.STAFF:
        roles = list(values.get("roles") or [])
        unknown = [r for r in roles if r not in STAFF_ROLES]
        if unknown:
            errors["roles"] = f"未知岗位：{', '.join(unknown)}"
        out["roles"] = sorted(set(roles))
        mobile = nfkc(str(values.get("mobile") or ""))
        if mobile and not (mobile.isascii() and mobile.isdigit() and 7 <= len(mobile) <= 15):
            errors["mobile"] = "电话号码应为 7–15 位数字"
        out["mobile"] = mobile
        ref("department_id", Kind.DEPARTMENT)
    elif kind is Kind.MEMBER_LEVEL:
        discount = values.get("discount_permille")
        if not isinstance(discount, int) or not 0 < discount <= 1000:
            errors["discount_permille"] = "折扣应在 0.1%–100% 之间（100% 为不打折）"
        out["discount_permille"] = discount
    elif kind is Kind.PAYMENT_METHOD:
        pay_kind = values.get("kind") or "other"
        if pay_kind not in PAYMENT_KINDS:
            errors["kind"] = "请选择支付类型"
        elif entry_id is not None and _kind_in_use(s, entry_id, pay_kind):
            # A closed day's expected cash and the accounts a tender moves follow the method's kind: a used
            # method keeps it (a recomputed closed day, and --check, would otherwise change).
            errors["kind"] = "该支付方式已有收款记录，不能更改支付类型；请停用它并新增一种"
        out["kind"] = pay_kind
    if errors:
        raise ValidationError(errors)
    return out


def _kind_in_use(s: Session, method_id: int, new_kind: str) -> bool:
    row = s.get(PaymentMethod, method_id)
    return row is not None and row.kind != new_kind and s.scalar(
        select(Payment.id).where(Payment.payment_method_id == method_id).limit(1)) is not None


def _apply(row: Any, kind: Kind, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key == "roles":
            current = {r.role: r for r in row.roles}
            for code in set(current) - set(value):
                row.roles.remove(current[code])
            for code in sorted(set(value) - set(current)):
                row.roles.append(StaffRole(role=code))
        else:
            setattr(row, key, value)


def add_entry(clinic: Clinic, actor: Actor, kind: Kind, values: dict[str, Any]) -> int:
    actor.require_page(Page.SETTINGS)
    model = MODELS[kind]
    with clinic.write() as s:
        clean = _clean(s, kind, values, None)
        if "sort_order" not in clean:
            clean["sort_order"] = (s.scalar(select(func.max(model.sort_order))) or 0) + 1
        row = model(is_active=True, **{k: v for k, v in clean.items() if k != "roles"})
        if kind is Kind.STAFF:
            row.roles = [StaffRole(role=r) for r in clean["roles"]]
        s.add(row)
        s.flush()
        audit.record(s, actor, f"{kind.value}.create", kind.value, row.id, after=_snapshot(kind, row))
        created: int = row.id
        return created


def update_entry(clinic: Clinic, actor: Actor, kind: Kind, entry_id: int, values: dict[str, Any]) -> None:
    actor.require_page(Page.SETTINGS)
    with clinic.write() as s:
        row = _load(s, kind, entry_id)
        clean = _clean(s, kind, values, entry_id)
        before = _snapshot(kind, row)
        _apply(row, kind, clean)
        s.flush()
        s.refresh(row)
        after = _snapshot(kind, row)
        if before != after:
            price_keys = ("price_fen", "min_price_fen", "discount_permille")
            price_change = any(before.get(k) != after.get(k) for k in price_keys)
            action = f"{kind.value}.price_change" if price_change else f"{kind.value}.update"
            audit.record(s, actor, action, kind.value, row.id, before=before, after=after)


def set_entry_active(clinic: Clinic, actor: Actor, kind: Kind, entry_id: int, active: bool) -> None:
    """Disable an entry (it disappears from pickers; old records keep showing it) or enable it again."""
    actor.require_page(Page.SETTINGS)
    with clinic.write() as s:
        row = _load(s, kind, entry_id)
        if row.is_active == active:
            return
        row.is_active = active
        audit.record(s, actor, f"{kind.value}.{'enable' if active else 'disable'}", kind.value, row.id,
                     before={"is_active": not active}, after={"is_active": active})


def reference_count(s: Session, kind: Kind, entry_id: int) -> int:
    """How many rows anywhere point at this entry (found through the schema's foreign keys)."""
    target = MODELS[kind].__table__
    total = 0
    for table in Base.metadata.sorted_tables:
        if table.name == "staff_roles":
            continue
        for fk in table.foreign_keys:
            if fk.column.table is target:
                total += s.scalar(select(func.count()).select_from(table).where(fk.parent == entry_id)) or 0
    return total


def delete_entry(clinic: Clinic, actor: Actor, kind: Kind, entry_id: int) -> None:
    """Delete an entry nothing refers to (a typo); a used entry can only be disabled."""
    actor.require_page(Page.SETTINGS)
    with clinic.write() as s:
        row = _load(s, kind, entry_id)
        if reference_count(s, kind, entry_id):
            raise ValidationError.single("name", f"“{row.name}”已被使用，不能删除，只能停用")
        before = _snapshot(kind, row)
        s.delete(row)
        audit.record(s, actor, f"{kind.value}.delete", kind.value, entry_id, before=before)
