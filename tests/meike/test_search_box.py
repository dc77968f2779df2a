"""The search box's fast path (one prepared statement on the DBAPI connection) returns exactly the rows
of the grid's ORM query, for every kind of text, every scope shape, and pages."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from meike import clock
from meike.db import Clinic
from meike.errors import ValidationError
from meike.models import Customer, Staff
from meike.permissions import Actor, DataScope, Page, Right
from meike.services import accounts, audit, cashier, customers, sms
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
        for actor in actors:
            found = _search_kind(text, prefixes=actor.has_right(Right.VIEW_PRIVATE))
            if found is None:
                assert text.strip() == ""
                continue
            kinds.add(found[0])
            for offset, limit in ((0, 50), (0, 3), (2, 5)):
                fast = _search_box(demo_clinic, actor, *found, offset=offset, limit=limit)
                slow = _search_grid(demo_clinic, actor, CustomerQuery(text=text), offset=offset, limit=limit)
                assert fast == slow, (text, actor.username, offset, limit)
                found_rows += len(fast)
    assert kinds == {"mobile", "last4", "digits", "card", "pinyin", "name"}
    assert found_rows > 300  # the comparisons are of real pages, not of empty lists


def test_search_customers_takes_the_fast_path_only_for_the_search_box_alone(
        demo_clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    calls: list[str] = []
    monkeypatch.setattr(customers.search, "_search_box", lambda *a, **k: calls.append("fast") or [])
    customers.search_customers(demo_clinic, gl, text="13800138000")
    customers.search_customers(demo_clinic, gl, query=CustomerQuery(text="zs", channel_id=1))
    customers.search_customers(demo_clinic, gl, query=CustomerQuery(text="zs", tab="booked"))
    customers.search_customers(demo_clinic, gl, text="")
    assert calls == ["fast"]


# --- issue 14/3: a masked mobile is not rebuilt through the search box ----------------------------------


def _ids(rows: list[customers.CustomerRow]) -> list[int]:
    return [r.id for r in rows]


def test_without_the_right_a_mobile_is_found_by_its_whole_number_or_last_4_only(demo_clinic: Clinic) -> None:
    """kf may not see numbers in full: the first digits of a mobile find nobody, on the fast path, on
    the grid's ORM path, in the count and in the SMS batch's preview; the whole number and the last 4
    still find the customer. gl (with the right) still finds them by the first digits."""
    kf = accounts.authenticate(demo_clinic, "kf", "123")
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    assert not kf.has_right(Right.VIEW_PRIVATE) and gl.has_right(Right.VIEW_PRIVATE)
    cid = customers.register_customer(demo_clinic, kf, name="柯南", mobile="13912345678")
    since = date(2000, 1, 1)  # a condition besides the text: the grid's ORM path
    for prefix in ("13912", "139123", "1391234", "13912345", "139123456", "1391234567"):
        assert cid not in _ids(customers.search_customers(demo_clinic, kf, text=prefix)), prefix
        assert cid not in _ids(customers.search_customers(
            demo_clinic, kf, query=CustomerQuery(text=prefix, date_from=since))), prefix
        assert customers.count_customers(demo_clinic, kf, text=prefix) == 0, prefix
        assert sms.preview_filtered(demo_clinic, kf, CustomerQuery(text=prefix)).matched == 0, prefix
        assert cid in _ids(customers.search_customers(demo_clinic, gl, text=prefix)), prefix
    for whole in ("13912345678", "139 1234 5678", "+86 139-1234-5678", "１３９１２３４５６７８", "5678", "５６７８"):
        assert cid in _ids(customers.search_customers(demo_clinic, kf, text=whole)), whole
        assert cid in _ids(customers.search_customers(
            demo_clinic, kf, query=CustomerQuery(text=whole, date_from=since))), whole
        assert customers.count_customers(demo_clinic, kf, text=whole) >= 1, whole
    assert [r.mobile for r in customers.search_customers(demo_clinic, kf, text="13912345678")] == ["139****5678"]


class _Clock:
    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


def test_number_probes_are_limited_per_user_and_logged_without_the_digits(
        demo_clinic: Clinic, monkeypatch: pytest.MonkeyPatch) -> None:
    now = _Clock(datetime.combine(clock.now().date(), time(10)))
    monkeypatch.setattr(clock, "now", now)
    kf = accounts.authenticate(demo_clinic, "kf", "123")
    wl = accounts.authenticate(demo_clinic, "wl", "123")
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    prefixes = [f"1{n}" for n in range(3900, 3900 + customers.PROBE_LIMIT)]  # 13900 … : 5 digits each
    for prefix in prefixes:
        customers.search_customers(demo_clinic, kf, text=prefix)
    customers.search_customers(demo_clinic, kf, text=prefixes[0])  # the same search again is free,
    customers.count_customers(demo_clinic, kf, text=prefixes[-1])  # and so is the grid's count of it
    customers.search_customers(demo_clinic, kf, text=prefixes[-1], offset=200)  # and its next page
    for probe in (lambda: customers.search_customers(demo_clinic, kf, text="13999"),  # fast path
                  lambda: customers.search_customers(demo_clinic, kf, query=CustomerQuery(text="13998", tab="booked")),
                  lambda: customers.count_customers(demo_clinic, kf, text="1399712"),
                  lambda: sms.preview_filtered(demo_clinic, kf, CustomerQuery(text="13996")),
                  lambda: customers.search_customers(demo_clinic, kf, text="13800138000")):  # a new whole number
        with pytest.raises(ValidationError) as refused:
            probe()
        assert set(refused.value.errors) <= {"text", "query"}
        assert "号码查询过于频繁" in next(iter(refused.value.errors.values()))
    # Names, initials, the last 4 and card numbers are no probes; other users have their own count.
    for text in ("王", "zs", "5678", "2611230001"):
        customers.search_customers(demo_clinic, kf, text=text)
    customers.search_customers(demo_clinic, wl, text="13999")
    customers.search_customers(demo_clinic, gl, text="13999")

    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    logged = [a for a in audit.recent(demo_clinic, admin) if a.action == "privacy.search_limited"]
    assert [(a.username, a.after) for a in logged] == [
        ("kf", {"probes": customers.PROBE_LIMIT, "minutes": 10, "typed": "****9"})]  # once a window, masked
    every_detail = " ".join(str(a.before) + str(a.after) for a in audit.recent(demo_clinic, admin, limit=1000))
    assert not any(typed in every_detail for typed in ("13999", "13998", "1399712", "13996", "13800138000"))

    # Ten minutes after the first probes they have fallen out of the window.
    now.at += customers.PROBE_WINDOW + timedelta(seconds=1)
    customers.search_customers(demo_clinic, kf, text="13999")

    # A whole mobile is a probe when it finds nobody in the user's scope; found ones are not counted.
    now.at += customers.PROBE_WINDOW + timedelta(seconds=1)
    mine = [f"1390000{n:04d}" for n in range(customers.PROBE_LIMIT + 5)]
    for mobile in mine:
        customers.register_customer(demo_clinic, kf, name="客人", mobile=mobile)
    for mobile in mine:
        assert len(customers.search_customers(demo_clinic, kf, text=mobile)) == 1
    for n in range(customers.PROBE_LIMIT):
        assert customers.search_customers(demo_clinic, kf, text=f"1381111{n:04d}") == []
    with pytest.raises(ValidationError):
        customers.search_customers(demo_clinic, kf, text="13811119999")
    # The cashier's order search is held to the same count.
    sy = accounts.authenticate(demo_clinic, "sy", "123")
    for n in range(customers.PROBE_LIMIT):
        assert customers.count_customers(demo_clinic, sy, text=f"1382222{n:04d}") == 0
    for search_orders in (cashier.list_orders, cashier.count_orders):
        with pytest.raises(ValidationError):
            search_orders(demo_clinic, sy, status="new", text="13822229999")
