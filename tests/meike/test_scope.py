"""Data scope on the demo clinic: kf sees their own customers, wl their department's, gl everyone."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Row, or_, select

from meike.db import Clinic
from meike.errors import NotFound, PermissionDenied
from meike.models import AuditEntry, Customer
from meike.permissions import Actor, Page
from meike.services import accounts, customers
from tests.conftest import make_user


def _login(clinic: Clinic, username: str) -> Actor:
    return accounts.authenticate(clinic, username, "123")


def _all(clinic: Clinic) -> list[Row[Any]]:
    """Every customer's scope and search columns, read straight from the table."""
    columns = (Customer.id, Customer.registered_by_id, Customer.cs_staff_id, Customer.consultant_id,
               Customer.department_id, Customer.mobile, Customer.name, Customer.name_initials, Customer.card_no)
    with clinic.read() as s:
        return list(s.execute(select(*columns).order_by(Customer.id)))


def _expected(clinic: Clinic, actor: Actor) -> set[int]:
    """The scope rule written out independently of the service."""
    wanted = []
    for c in _all(clinic):
        own = c.registered_by_id == actor.user_id or actor.staff_id in (c.cs_staff_id, c.consultant_id)
        dept = actor.data_scope == "department" and c.department_id == actor.department_id
        if actor.data_scope == "all" or own or dept:
            wanted.append(c.id)
    return set(wanted)


def _seen(clinic: Clinic, actor: Actor, text: str = "") -> set[int]:
    return {r.id for r in customers.search_customers(clinic, actor, text=text, limit=10_000)}


def test_demo_has_customers_of_every_kind(demo_clinic: Clinic) -> None:
    kf, wl = _login(demo_clinic, "kf"), _login(demo_clinic, "wl")
    everyone = {c.id for c in _all(demo_clinic)}
    assert len(everyone) == 120
    assert 0 < len(_expected(demo_clinic, kf)) < len(everyone)
    assert 0 < len(_expected(demo_clinic, wl)) < len(everyone)


def test_own_scope_sees_registered_or_assigned_customers_only(demo_clinic: Clinic) -> None:
    kf = _login(demo_clinic, "kf")
    expected = _expected(demo_clinic, kf)
    assert _seen(demo_clinic, kf) == expected
    assert customers.count_customers(demo_clinic, kf) == len(expected)
    assert customers.dashboard_counts(demo_clinic, kf).customers == len(expected)
    # kf's department colleagues' customers are not "own" unless kf is assigned to them.
    with demo_clinic.read() as s:
        outsiders = set(s.scalars(select(Customer.id).where(
            Customer.registered_by_id != kf.user_id,
            or_(Customer.cs_staff_id.is_(None), Customer.cs_staff_id != kf.staff_id),
            or_(Customer.consultant_id.is_(None), Customer.consultant_id != kf.staff_id),
        )))
    assert outsiders and not outsiders & _seen(demo_clinic, kf)


def test_department_scope_adds_the_department_customers(demo_clinic: Clinic) -> None:
    wl = _login(demo_clinic, "wl")
    expected = _expected(demo_clinic, wl)
    seen = _seen(demo_clinic, wl)
    assert seen == expected
    assert customers.count_customers(demo_clinic, wl) == len(expected)
    department = {c.id for c in _all(demo_clinic) if c.department_id == wl.department_id}
    assigned = {c.id for c in _all(demo_clinic) if wl.staff_id in (c.cs_staff_id, c.consultant_id)}
    assert department <= seen and assigned <= seen
    assert assigned - department, "the demo should have customers wl only sees as their cs staff"


def test_all_scope_sees_everyone(demo_clinic: Clinic) -> None:
    gl = _login(demo_clinic, "gl")
    assert _seen(demo_clinic, gl) == {c.id for c in _all(demo_clinic)}
    assert customers.count_customers(demo_clinic, gl) == 120


def test_a_new_registration_is_in_the_registrars_scope(demo_clinic: Clinic) -> None:
    kf = _login(demo_clinic, "kf")
    wl = _login(demo_clinic, "wl")
    new = customers.register_customer(demo_clinic, kf, name="欧阳娜娜", mobile="19912345678")
    assert new in _seen(demo_clinic, kf)
    assert new not in _seen(demo_clinic, wl)


def _outside(clinic: Clinic, actor: Actor) -> Row[Any]:
    return next(c for c in _all(clinic) if c.id not in _expected(clinic, actor))


def _inside(clinic: Clinic, actor: Actor) -> Row[Any]:
    return next(c for c in _all(clinic) if c.id in _expected(clinic, actor))


def test_opening_an_out_of_scope_customer_is_not_found(demo_clinic: Clinic) -> None:
    kf = _login(demo_clinic, "kf")
    outside, inside = _outside(demo_clinic, kf), _inside(demo_clinic, kf)
    with demo_clinic.read() as s:
        assert customers.load_in_scope(s, kf, inside.id).id == inside.id
        with pytest.raises(NotFound):
            customers.load_in_scope(s, kf, outside.id)
        with pytest.raises(NotFound):
            customers.load_in_scope(s, kf, 10**9)
        gl = _login(demo_clinic, "gl")
        assert customers.load_in_scope(s, gl, outside.id).id == outside.id


def _search_texts(c: Row[Any]) -> dict[str, str]:
    return {
        "full mobile": c.mobile,
        "last 4 digits": c.mobile[-4:],
        "pinyin initials": c.name_initials.upper(),
        "name prefix": c.name[:2],
        "full name": c.name,
        "card no": c.card_no,
    }


SEARCHES = ["full mobile", "last 4 digits", "pinyin initials", "name prefix", "full name", "card no"]


@pytest.mark.parametrize("how", SEARCHES)
def test_every_kind_of_search_stays_inside_the_scope(demo_clinic: Clinic, how: str) -> None:
    kf, gl = _login(demo_clinic, "kf"), _login(demo_clinic, "gl")
    allowed = _expected(demo_clinic, kf)
    outside, inside = _outside(demo_clinic, kf), _inside(demo_clinic, kf)

    text = _search_texts(outside)[how]
    assert outside.id in _seen(demo_clinic, gl, text)
    assert outside.id not in _seen(demo_clinic, kf, text)
    assert _seen(demo_clinic, kf, text) <= allowed
    assert customers.count_customers(demo_clinic, kf, text=text) == len(_seen(demo_clinic, kf, text))

    text = _search_texts(inside)[how]
    assert inside.id in _seen(demo_clinic, kf, text)


def test_mobiles_are_masked_and_only_the_right_reveals_them_logged(demo_clinic: Clinic) -> None:
    kf, gl = _login(demo_clinic, "kf"), _login(demo_clinic, "gl")
    target = _inside(demo_clinic, kf)
    kf_row = next(r for r in customers.search_customers(demo_clinic, kf, text=target.mobile))
    gl_row = next(r for r in customers.search_customers(demo_clinic, gl, text=target.mobile))
    assert gl_row.mobile == kf_row.mobile == target.mobile[:3] + "****" + target.mobile[-4:]
    with pytest.raises(PermissionDenied, match="查看完整手机号"):
        customers.reveal(demo_clinic, kf, kf_row.id, "mobile")
    assert customers.reveal(demo_clinic, gl, gl_row.id, "mobile") == target.mobile
    with demo_clinic.read() as s:
        reveals = s.scalars(select(AuditEntry).where(AuditEntry.action == "privacy.reveal")).all()
        assert [(r.username, r.entity_id) for r in reveals] == [("gl", gl_row.id)]


def test_accounts_without_a_customer_page_see_no_customers(demo_clinic: Clinic) -> None:
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    settings_only = make_user(demo_clinic, admin, "cfg", pages=[Page.SETTINGS])
    for actor in (settings_only, admin):
        with pytest.raises(PermissionDenied):
            customers.search_customers(demo_clinic, actor)
        with pytest.raises(PermissionDenied):
            customers.count_customers(demo_clinic, actor)
