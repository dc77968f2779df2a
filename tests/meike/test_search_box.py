"""The search box's fast path (one prepared statement on the DBAPI connection) returns exactly the rows
of the grid's ORM query, for every kind of text, every scope shape, and pages."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from meike.db import Clinic
from meike.models import Customer, Staff
from meike.permissions import Actor, DataScope, Page
from meike.services import accounts, customers
from meike.services.customers import CustomerQuery, _search_box, _search_grid, _search_kind
from tests.conftest import make_user


def _actors(clinic: Clinic, admin: Actor) -> list[Actor]:
    with clinic.read() as s:
        consultant = s.scalar(select(Staff.id).where(Staff.name == "李静"))
    return [accounts.authenticate(clinic, name, "123") for name in ("gl", "kf", "wl")] + [
        make_user(clinic, admin, "lijing", pages=[Page.CUSTOMERS], scope=DataScope.OWN, staff_id=consultant)]


def _texts(clinic: Clinic) -> list[str]:
    rng = random.Random(5)
    with clinic.read() as s:
        rows = s.execute(select(Customer.mobile, Customer.card_no, Customer.name, Customer.name_initials)).all()
    picks = rng.sample(rows, 12)
    texts = ["13", "139", "0000", "99999999999", "zz", "z", "王", "李", "ZS", "not-a-name", "  "]
    for mobile, card_no, name, name_initials in picks:
        texts += [mobile, mobile[-4:], card_no, card_no[:6], name, name[:1], name_initials, name_initials[:2],
                  f"{mobile[:3]} {mobile[3:7]} {mobile[7:]}", f"+86{mobile}", f"0{mobile}"]
    return texts


def test_the_fast_path_returns_the_grids_rows(demo_clinic: Clinic, admin: Actor) -> None:
    actors = _actors(demo_clinic, admin)
    kinds, found_rows = set(), 0
    for text in _texts(demo_clinic):
        found = _search_kind(text)
        if found is None:
            assert text.strip() == ""
            continue
        kinds.add(found[0])
        for actor in actors:
            for offset, limit in ((0, 50), (0, 3), (2, 5)):
                fast = _search_box(demo_clinic, actor, *found, offset=offset, limit=limit)
                slow = _search_grid(demo_clinic, actor, CustomerQuery(text=text), offset=offset, limit=limit)
                assert fast == slow, (text, actor.username, offset, limit)
                found_rows += len(fast)
    assert kinds == {"mobile", "last4", "digits", "pinyin", "name"}
    assert found_rows > 300  # the comparisons are of real pages, not of empty lists


def test_search_customers_takes_the_fast_path_only_for_the_search_box_alone(
        demo_clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    calls: list[str] = []
    monkeypatch.setattr(customers, "_search_box", lambda *a, **k: calls.append("fast") or [])
    customers.search_customers(demo_clinic, gl, text="13800138000")
    customers.search_customers(demo_clinic, gl, query=CustomerQuery(text="zs", channel_id=1))
    customers.search_customers(demo_clinic, gl, query=CustomerQuery(text="zs", tab="booked"))
    customers.search_customers(demo_clinic, gl, text="")
    assert calls == ["fast"]
