"""System settings dictionaries: items, departments, staff, channels, … added, edited, disabled, deleted."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from meike.db import Clinic
from meike.errors import NotFound, PermissionDenied, ValidationError
from meike.permissions import Actor, Page
from meike.services import accounts, audit, customers, dictionaries
from meike.services.dictionaries import MODELS, Kind
from tests.conftest import make_user

# A minimal valid form for each dictionary.
VALID: dict[Kind, dict[str, Any]] = {
    Kind.ITEM: {"name": "水光针", "price_fen": 128000, "min_price_fen": 88000},
    Kind.ITEM_CATEGORY: {"name": "注射"},
    Kind.DEPARTMENT: {"name": "皮肤科"},
    Kind.STAFF: {"name": "王芳", "roles": ["onsite_consultant"]},
    Kind.CHANNEL: {"name": "Douyin"},
    Kind.INFO_SOURCE: {"name": "朋友介绍"},
    Kind.MEMBER_LEVEL: {"name": "金卡会员", "discount_permille": 900},
    Kind.PAYMENT_METHOD: {"name": "微信", "kind": "wechat"},
}


def _form(kind: Kind, **changes: Any) -> dict[str, Any]:
    return {**VALID[kind], **changes}


def _rows(clinic: Clinic, kind: Kind) -> int:
    with clinic.read() as s:
        return s.scalar(select(func.count()).select_from(MODELS[kind])) or 0


def _audits(clinic: Clinic) -> int:
    with clinic.read() as s:
        return audit.count(s)


def _names(clinic: Clinic, actor: Actor, kind: Kind, **kw: Any) -> list[str]:
    return [e.name for e in dictionaries.list_entries(clinic, actor, kind, **kw)]


@pytest.mark.parametrize("kind", list(Kind))
def test_add_edit_disable_enable_delete(clinic: Clinic, admin: Actor, user: Actor, kind: Kind) -> None:
    entry_id = dictionaries.add_entry(clinic, user, kind, _form(kind))
    assert _names(clinic, user, kind) == [VALID[kind]["name"]]

    dictionaries.update_entry(clinic, user, kind, entry_id, _form(kind, name="改名后"))
    assert dictionaries.get_entry(clinic, user, kind, entry_id).name == "改名后"

    dictionaries.set_entry_active(clinic, user, kind, entry_id, False)
    assert _names(clinic, user, kind) == []
    assert _names(clinic, user, kind, include_inactive=True) == ["改名后"]
    assert not dictionaries.get_entry(clinic, user, kind, entry_id).is_active

    dictionaries.set_entry_active(clinic, user, kind, entry_id, True)
    assert _names(clinic, user, kind) == ["改名后"]

    dictionaries.delete_entry(clinic, user, kind, entry_id)
    with pytest.raises(NotFound):
        dictionaries.get_entry(clinic, user, kind, entry_id)
    actions = [r.action for r in reversed(audit.recent(clinic, admin, entity=kind.value))]
    assert actions == [f"{kind.value}.{a}" for a in ("create", "update", "disable", "enable", "delete")]


@pytest.mark.parametrize("kind", list(Kind))
def test_duplicate_names_refused_even_against_disabled_entries(clinic: Clinic, user: Actor, kind: Kind) -> None:
    first = dictionaries.add_entry(clinic, user, kind, _form(kind, name="Alpha"))
    dictionaries.set_entry_active(clinic, user, kind, first, False)
    with pytest.raises(ValidationError) as e:
        dictionaries.add_entry(clinic, user, kind, _form(kind, name=" alpha "))
    assert set(e.value.errors) == {"name"} and "已存在" in e.value.errors["name"]
    second = dictionaries.add_entry(clinic, user, kind, _form(kind, name="Beta"))
    with pytest.raises(ValidationError):
        dictionaries.update_entry(clinic, user, kind, second, _form(kind, name="ALPHA"))
    # Saving an entry under its own name (another case) is not a duplicate.
    dictionaries.update_entry(clinic, user, kind, second, _form(kind, name="BETA"))
    assert _rows(clinic, kind) == 2


@pytest.mark.parametrize("kind", list(Kind))
def test_empty_or_overlong_name_refused(clinic: Clinic, user: Actor, kind: Kind) -> None:
    for name in ("", "   ", "长" * 61):
        with pytest.raises(ValidationError) as e:
            dictionaries.add_entry(clinic, user, kind, _form(kind, name=name))
        assert "name" in e.value.errors
    assert _rows(clinic, kind) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"price_fen": -1}, "price_fen"),
        ({"price_fen": None}, "price_fen"),
        ({"price_fen": "1280"}, "price_fen"),
        ({"price_fen": 10**13}, "price_fen"),
        ({"min_price_fen": -100}, "min_price_fen"),
        ({"price_fen": 50000, "min_price_fen": 50001}, "min_price_fen"),
        ({"pinyin_code": "s-y-p"}, "pinyin_code"),
        ({"pinyin_code": "双眼皮"}, "pinyin_code"),
        ({"pinyin_code": "a" * 61}, "pinyin_code"),
        ({"category_id": 999}, "category_id"),
        ({"department_id": 999}, "department_id"),
    ],
)
def test_invalid_item_is_refused_and_nothing_is_written(clinic: Clinic, user: Actor, changes: dict[str, Any],
                                                        field: str) -> None:
    audits = _audits(clinic)
    with pytest.raises(ValidationError) as e:
        dictionaries.add_entry(clinic, user, Kind.ITEM, _form(Kind.ITEM, **changes))
    assert field in e.value.errors
    assert _rows(clinic, Kind.ITEM) == 0
    assert _audits(clinic) == audits


def test_failed_edit_leaves_the_entry_and_the_log_unchanged(clinic: Clinic, user: Actor) -> None:
    item = dictionaries.add_entry(clinic, user, Kind.ITEM, _form(Kind.ITEM))
    before = dictionaries.get_entry(clinic, user, Kind.ITEM, item)
    audits = _audits(clinic)
    with pytest.raises(ValidationError):
        dictionaries.update_entry(clinic, user, Kind.ITEM, item,
                                  _form(Kind.ITEM, name="水光针 2ml", price_fen=100, min_price_fen=200))
    assert dictionaries.get_entry(clinic, user, Kind.ITEM, item) == before
    assert _audits(clinic) == audits


def test_minimum_equal_to_price_and_free_items_are_allowed(clinic: Clinic, user: Actor) -> None:
    dictionaries.add_entry(clinic, user, Kind.ITEM, {"name": "复诊", "price_fen": 0})
    item = dictionaries.add_entry(clinic, user, Kind.ITEM, {"name": "洗牙", "price_fen": 29800,
                                                            "min_price_fen": 29800})
    entry = dictionaries.get_entry(clinic, user, Kind.ITEM, item)
    assert entry.fields["min_price_fen"] == entry.fields["price_fen"] == 29800
    assert entry.fields["unit"] == "次"


def test_pinyin_code_generated_when_empty_and_kept_when_given(clinic: Clinic, user: Actor) -> None:
    generated = dictionaries.add_entry(clinic, user, Kind.ITEM, {"name": "双眼皮", "price_fen": 880000})
    given = dictionaries.add_entry(clinic, user, Kind.ITEM, {"name": "重睑术", "price_fen": 880000,
                                                             "pinyin_code": " CZS2 "})
    assert dictionaries.get_entry(clinic, user, Kind.ITEM, generated).fields["pinyin_code"] == "syp"
    assert dictionaries.get_entry(clinic, user, Kind.ITEM, given).fields["pinyin_code"] == "czs2"


def test_item_links_category_and_department(clinic: Clinic, user: Actor) -> None:
    cat = dictionaries.add_entry(clinic, user, Kind.ITEM_CATEGORY, {"name": "手术"})
    dept = dictionaries.add_entry(clinic, user, Kind.DEPARTMENT, {"name": "整形外科"})
    item = dictionaries.add_entry(clinic, user, Kind.ITEM, _form(Kind.ITEM, category_id=cat, department_id=dept))
    fields = dictionaries.get_entry(clinic, user, Kind.ITEM, item).fields
    assert (fields["category_name"], fields["department_name"]) == ("手术", "整形外科")


def test_referenced_channel_can_only_be_disabled(clinic: Clinic, user: Actor) -> None:
    used = dictionaries.add_entry(clinic, user, Kind.CHANNEL, {"name": "美团"})
    dictionaries.add_entry(clinic, user, Kind.CHANNEL, {"name": "新氧"})
    customer = customers.register_customer(clinic, user, name="张三", mobile="13800138000", channel_id=used)
    audits = _audits(clinic)
    with pytest.raises(ValidationError) as e:
        dictionaries.delete_entry(clinic, user, Kind.CHANNEL, used)
    assert "只能停用" in e.value.message
    assert _audits(clinic) == audits
    dictionaries.set_entry_active(clinic, user, Kind.CHANNEL, used, False)
    assert _names(clinic, user, Kind.CHANNEL) == ["新氧"]
    assert _names(clinic, user, Kind.CHANNEL, include_inactive=True) == ["美团", "新氧"]
    # The customer's record still shows where they came from.
    row = customers.search_customers(clinic, user, text="13800138000")[0]
    assert (row.id, row.channel) == (customer, "美团")


def test_department_used_by_an_account_or_staff_cannot_be_deleted(clinic: Clinic, admin: Actor, user: Actor) -> None:
    by_account = dictionaries.add_entry(clinic, user, Kind.DEPARTMENT, {"name": "客服部"})
    by_staff = dictionaries.add_entry(clinic, user, Kind.DEPARTMENT, {"name": "网络部"})
    accounts.create_account(clinic, admin, username="kf", password="secret-1", department_id=by_account)
    staff = dictionaries.add_entry(clinic, user, Kind.STAFF, {"name": "刘洋", "department_id": by_staff})
    for dept in (by_account, by_staff):
        with pytest.raises(ValidationError, match="只能停用"):
            dictionaries.delete_entry(clinic, user, Kind.DEPARTMENT, dept)
    # A staff member linked to an account is in use too.
    accounts.create_account(clinic, admin, username="wl", password="secret-1", staff_id=staff)
    with pytest.raises(ValidationError, match="只能停用"):
        dictionaries.delete_entry(clinic, user, Kind.STAFF, staff)
    assert _rows(clinic, Kind.DEPARTMENT) == 2 and _rows(clinic, Kind.STAFF) == 1


def test_staff_roles_are_saved_and_filter_the_pickers(clinic: Clinic, user: Actor) -> None:
    doctor = dictionaries.add_entry(clinic, user, Kind.STAFF, {"name": "吴建国", "roles": ["doctor"]})
    both = dictionaries.add_entry(clinic, user, Kind.STAFF,
                                  {"name": "王芳", "roles": ["onsite_consultant", "doctor", "doctor"]})
    dictionaries.add_entry(clinic, user, Kind.STAFF, {"name": "孙丽", "roles": ["customer_service"]})
    assert dictionaries.get_entry(clinic, user, Kind.STAFF, both).fields["roles"] == ["doctor", "onsite_consultant"]
    assert _names(clinic, user, Kind.STAFF, role="doctor") == ["吴建国", "王芳"]
    assert _names(clinic, user, Kind.STAFF, role="onsite_consultant") == ["王芳"]

    dictionaries.update_entry(clinic, user, Kind.STAFF, doctor, {"name": "吴建国", "roles": ["nurse"]})
    assert _names(clinic, user, Kind.STAFF, role="doctor") == ["王芳"]
    assert _names(clinic, user, Kind.STAFF, role="nurse") == ["吴建国"]
    dictionaries.set_entry_active(clinic, user, Kind.STAFF, both, False)
    assert _names(clinic, user, Kind.STAFF, role="doctor") == []


def test_unknown_staff_role_and_bad_phone_refused(clinic: Clinic, user: Actor) -> None:
    with pytest.raises(ValidationError) as e:
        dictionaries.add_entry(clinic, user, Kind.STAFF, {"name": "林强", "roles": ["pilot"], "mobile": "12-34"})
    assert set(e.value.errors) == {"roles", "mobile"}
    assert _rows(clinic, Kind.STAFF) == 0
    for foreign in ("١٣٨٠٠١٣٨٠٠٠", "१३८००१३८०००"):  # other scripts' digits: isdigit() takes them
        with pytest.raises(ValidationError) as e:
            dictionaries.add_entry(clinic, user, Kind.STAFF, {"name": "林强", "mobile": foreign})
        assert set(e.value.errors) == {"mobile"}
    staff = dictionaries.add_entry(clinic, user, Kind.STAFF, {"name": "林强", "mobile": "１３８００１３８０００"})
    assert dictionaries.get_entry(clinic, user, Kind.STAFF, staff).fields["mobile"] == "13800138000"


@pytest.mark.parametrize(("discount", "ok"), [(1, True), (850, True), (1000, True), (0, False), (-5, False),
                                              (1001, False), (None, False), ("900", False)])
def test_member_level_discount_bounds(clinic: Clinic, user: Actor, discount: Any, ok: bool) -> None:
    form = {"name": "银卡会员", "discount_permille": discount}
    if ok:
        level = dictionaries.add_entry(clinic, user, Kind.MEMBER_LEVEL, form)
        assert dictionaries.get_entry(clinic, user, Kind.MEMBER_LEVEL, level).fields["discount_permille"] == discount
    else:
        with pytest.raises(ValidationError) as e:
            dictionaries.add_entry(clinic, user, Kind.MEMBER_LEVEL, form)
        assert "discount_permille" in e.value.errors
        assert _rows(clinic, Kind.MEMBER_LEVEL) == 0


def test_unknown_payment_kind_refused(clinic: Clinic, user: Actor) -> None:
    with pytest.raises(ValidationError) as e:
        dictionaries.add_entry(clinic, user, Kind.PAYMENT_METHOD, {"name": "比特币", "kind": "bitcoin"})
    assert "kind" in e.value.errors


def test_price_change_is_audited_with_before_and_after(clinic: Clinic, admin: Actor, user: Actor) -> None:
    item = dictionaries.add_entry(clinic, user, Kind.ITEM, _form(Kind.ITEM))
    dictionaries.update_entry(clinic, user, Kind.ITEM, item, _form(Kind.ITEM, price_fen=98000, min_price_fen=68000))
    dictionaries.update_entry(clinic, user, Kind.ITEM, item,
                              _form(Kind.ITEM, name="水光针 1次", price_fen=98000, min_price_fen=68000))
    newest, price_change = audit.recent(clinic, admin, entity="item")[:2]
    assert price_change.action == "item.price_change"
    assert price_change.username == "front"
    assert price_change.before is not None and price_change.after is not None
    assert (price_change.before["price_fen"], price_change.after["price_fen"]) == (128000, 98000)
    assert (price_change.before["min_price_fen"], price_change.after["min_price_fen"]) == (88000, 68000)
    assert newest.action == "item.update"  # a rename alone is not a price change


def test_member_discount_change_counts_as_a_price_change(clinic: Clinic, admin: Actor, user: Actor) -> None:
    level = dictionaries.add_entry(clinic, user, Kind.MEMBER_LEVEL, _form(Kind.MEMBER_LEVEL))
    dictionaries.update_entry(clinic, user, Kind.MEMBER_LEVEL, level, _form(Kind.MEMBER_LEVEL, discount_permille=880))
    row = audit.recent(clinic, admin, entity="member_level")[0]
    assert row.action == "member_level.price_change"
    assert row.before is not None and row.after is not None
    assert (row.before["discount_permille"], row.after["discount_permille"]) == (900, 880)


def test_saving_unchanged_values_writes_no_audit_row(clinic: Clinic, user: Actor) -> None:
    item = dictionaries.add_entry(clinic, user, Kind.ITEM, _form(Kind.ITEM))
    audits = _audits(clinic)
    dictionaries.update_entry(clinic, user, Kind.ITEM, item, _form(Kind.ITEM))
    dictionaries.set_entry_active(clinic, user, Kind.ITEM, item, True)
    assert _audits(clinic) == audits


def test_who_may_read_and_edit_dictionaries(clinic: Clinic, admin: Actor) -> None:
    editor = make_user(clinic, admin, "editor", pages=[Page.SETTINGS])
    desk = make_user(clinic, admin, "desk", pages=[Page.REGISTRATION])
    nothing = make_user(clinic, admin, "nothing", pages=[])
    channel = dictionaries.add_entry(clinic, editor, Kind.CHANNEL, {"name": "百度"})
    # Pickers need the lists on every page; the administrator reads them for departments and staff.
    assert _names(clinic, desk, Kind.CHANNEL) == ["百度"]
    assert _names(clinic, admin, Kind.CHANNEL) == ["百度"]
    with pytest.raises(PermissionDenied):
        dictionaries.list_entries(clinic, nothing, Kind.CHANNEL)
    for call in (
        lambda: dictionaries.add_entry(clinic, desk, Kind.CHANNEL, {"name": "美团"}),
        lambda: dictionaries.update_entry(clinic, desk, Kind.CHANNEL, channel, {"name": "百度推广"}),
        lambda: dictionaries.set_entry_active(clinic, desk, Kind.CHANNEL, channel, False),
        lambda: dictionaries.delete_entry(clinic, desk, Kind.CHANNEL, channel),
    ):
        with pytest.raises(PermissionDenied):
            call()
    assert _names(clinic, editor, Kind.CHANNEL) == ["百度"]
