"""Phone desk service: the caller's card, number normalisation, call records, scope and permission."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from meike.db import Clinic
from meike.errors import NotFound, PermissionDenied, ValidationError
from meike.models import AccountEntry, Consultation, Item, Receipt, Reminder, Staff, Treatment, Visit
from meike.permissions import Actor, DataScope, Page, Right, right_code
from meike.services import accounts, customers, phone
from meike.services.phone import HistoryLine
from tests.conftest import make_user

MOBILE = "13712345678"
NOW = datetime(2026, 11, 23, 10, 0)


@pytest.fixture
def gl(demo_clinic: Clinic) -> Actor:
    return accounts.authenticate(demo_clinic, "gl", "123")


@pytest.fixture
def admin(demo_clinic: Clinic) -> Actor:
    return accounts.authenticate(demo_clinic, "admin", "admin")


def _customer_with_history(clinic: Clinic, actor: Actor) -> tuple[int, str, str]:
    """A customer with 6 visits, 4 consultations, 4 treatments, 2 open reminders and two balances."""
    cid = customers.register_customer(clinic, actor, name="林晓雨", mobile=MOBILE, now=NOW)
    with clinic.write() as s:
        item = s.scalars(select(Item).order_by(Item.id)).first()
        doctor = s.scalars(select(Staff).order_by(Staff.id)).first()
        assert item is not None and doctor is not None
        for n in range(6):
            s.add(Visit(customer_id=cid, arrived_at=datetime(2026, 11, 1 + n, 9, 0), business_date=date(2026, 11, 1 + n),
                        visit_type="revisit" if n else "first", consultant_id=doctor.id, is_deal=n == 5))
        s.add(Visit(customer_id=cid, arrived_at=datetime(2026, 11, 20, 9), business_date=date(2026, 11, 20),
                    visit_type="other", status="rejected"))
        for n in range(4):
            s.add(Consultation(customer_id=cid, items=f"项目{n}", content=f"咨询 {n}", consultant_id=doctor.id,
                               created_at=datetime(2026, 11, 1 + n, 10)))
        for n in range(4):
            s.add(Treatment(customer_id=cid, item_id=item.id, item_name=item.name, price_fen=100, doctor_id=doctor.id,
                            performed_on=date(2026, 11, 1 + n), quantity=1 + (n == 3), created_at=NOW))
        s.add(Reminder(customer_id=cid, kind="postop", due_date=date(2026, 11, 25), note="术后第二天", created_at=NOW))
        s.add(Reminder(customer_id=cid, kind="chase", due_date=date(2026, 11, 24), created_at=NOW))
        s.add(Reminder(customer_id=cid, kind="chase", due_date=date(2026, 11, 20), status="done", created_at=NOW))
        s.flush()
        receipt = Receipt(receipt_no="PHONE-T1", idempotency_key="phone-test-1", business_date=NOW.date(), kind="prepaid", customer_id=cid,
                          amount_fen=50000, cashier_id=actor.user_id, created_at=NOW)
        s.add(receipt)
        s.flush()
        for account, fen in (("prepaid", 50000), ("prepaid", -12000), ("deposit", 10000), ("deposit", -10000)):
            s.add(AccountEntry(customer_id=cid, account=account, amount_fen=fen, receipt_id=receipt.id,
                               business_date=NOW.date(), created_by_id=actor.user_id, created_at=NOW))
        doctor_name = doctor.name
        item_name = item.name
    return cid, doctor_name, item_name


def test_caller_card_of_a_known_customer(demo_clinic: Clinic, gl: Actor) -> None:
    cid, doctor, item = _customer_with_history(demo_clinic, gl)
    card = phone.caller_card(demo_clinic, gl, "+86 137 1234 5678")
    assert card is not None
    assert (card.customer_id, card.name, card.gender, card.customer_class) == (cid, "林晓雨", "女", "潜在客户")
    assert card.mobile == "137****5678"  # even for gl: the full number is a logged reveal away
    assert card.visits == [HistoryLine(datetime(2026, 11, 6, 9), f"复诊　{doctor}　成交")] + [
        HistoryLine(datetime(2026, 11, d, 9), f"复诊　{doctor}　未成交") for d in (5, 4, 3, 2)]
    assert card.consultations == [HistoryLine(datetime(2026, 11, 1 + n, 10), f"项目{n}　咨询 {n}　{doctor}")
                                  for n in (3, 2, 1)]
    assert card.treatments == [HistoryLine(date(2026, 11, 4), f"{item} ×2　{doctor}"),
                               HistoryLine(date(2026, 11, 3), f"{item}　{doctor}"),
                               HistoryLine(date(2026, 11, 2), f"{item}　{doctor}")]
    assert card.open_reminders == 2
    assert card.reminders == [HistoryLine(date(2026, 11, 24), "追单"), HistoryLine(date(2026, 11, 25), "术后回访　术后第二天")]
    assert card.balances == {"预存": 38000}


def test_card_masks_the_mobile_without_the_right(demo_clinic: Clinic, gl: Actor, admin: Actor) -> None:
    _customer_with_history(demo_clinic, gl)
    desk = make_user(demo_clinic, admin, "tel1", pages=[Page.PHONE], scope=DataScope.ALL)
    card = phone.caller_card(demo_clinic, desk, MOBILE)
    assert card is not None and card.mobile == "137****5678"
    full = make_user(demo_clinic, admin, "tel2", pages=[Page.PHONE], grants={right_code(Right.VIEW_PRIVATE)})
    assert phone.caller_card(demo_clinic, full, MOBILE).mobile == "137****5678"  # type: ignore[union-attr]


def test_unknown_and_withheld_numbers_have_no_card(demo_clinic: Clinic, gl: Actor) -> None:
    assert phone.caller_card(demo_clinic, gl, "13000000001") is None
    assert phone.caller_card(demo_clinic, gl, "") is None
    assert phone.caller_card(demo_clinic, gl, "02167891234") is None


def test_customer_outside_the_scope_is_an_unknown_caller(demo_clinic: Clinic, gl: Actor, admin: Actor) -> None:
    _customer_with_history(demo_clinic, gl)  # registered by gl, nobody's department of the desk below
    own = make_user(demo_clinic, admin, "tel3", pages=[Page.PHONE], scope=DataScope.OWN)
    assert phone.caller_card(demo_clinic, own, MOBILE) is None
    mine = customers.register_customer(demo_clinic, make_user(demo_clinic, admin, "reg", pages=[Page.REGISTRATION,
                                       Page.PHONE], scope=DataScope.OWN), name="王敏", mobile="13911112222", now=NOW)
    reg = accounts.authenticate(demo_clinic, "reg", "secret-1")
    card = phone.caller_card(demo_clinic, reg, "13911112222")
    assert card is not None and card.customer_id == mine and card.visits == [] and card.balances == {}


@pytest.mark.parametrize(("raw", "expected"), [
    ("13800138000", "13800138000"), ("+86 138 0013 8000", "13800138000"), ("008613800138000", "13800138000"),
    ("8613800138000", "13800138000"), ("013800138000", "13800138000"), ("138-0013-8000", "13800138000"),
    ("02167891234", "02167891234"), ("021-6789 1234", "02167891234"), ("", ""), ("10086", "10086"),
])
def test_number_normalisation(raw: str, expected: str) -> None:
    assert phone.normalise_number(raw) == expected


def test_box_with_trunk_zero_finds_the_customer(demo_clinic: Clinic, gl: Actor) -> None:
    cid = customers.register_customer(demo_clinic, gl, name="赵一", mobile="13800138000", now=NOW)
    card = phone.caller_card(demo_clinic, gl, "013800138000")
    assert card is not None and card.customer_id == cid


def test_call_records_note_duration_and_listing(demo_clinic: Clinic, gl: Actor) -> None:
    cid, _doctor, _item = _customer_with_history(demo_clinic, gl)
    known = phone.record_call(demo_clinic, gl, "013712345678", started_at=NOW)
    unknown = phone.record_call(demo_clinic, gl, "13000000001", started_at=datetime(2026, 11, 23, 10, 5))
    withheld = phone.record_call(demo_clinic, gl, "", started_at=datetime(2026, 11, 23, 10, 6))
    phone.finish_call(demo_clinic, gl, known, ended_at=datetime(2026, 11, 23, 10, 3, 15))
    phone.set_note(demo_clinic, gl, known, "  问术后注意事项  ")
    assert phone.count_calls(demo_clinic, gl) == 3
    rows = phone.list_calls(demo_clinic, gl)
    assert [r.id for r in rows] == [withheld, unknown, known]
    k = rows[2]
    assert (k.number, k.customer_id, k.customer_name, k.user_name, k.note, k.duration_s, k.direction) == (
        "137****5678", cid, "林晓雨", "总台", "问术后注意事项", 195, "in")
    assert phone.format_duration(k.duration_s) == "3:15" and phone.format_duration(None) == ""
    assert rows[1].customer_id is None and rows[0].number == ""
    assert [r.id for r in phone.list_calls(demo_clinic, gl, offset=1, limit=1)] == [unknown]
    assert [r.id for r in phone.list_calls(demo_clinic, gl, customer_id=cid)] == [known]
    with pytest.raises(ValidationError):
        phone.finish_call(demo_clinic, gl, known, ended_at=datetime(2026, 11, 23, 9, 0))
    with pytest.raises(ValidationError):
        phone.set_note(demo_clinic, gl, known, "长" * 2001)


def test_call_records_follow_the_scope(demo_clinic: Clinic, gl: Actor, admin: Actor) -> None:
    _customer_with_history(demo_clinic, gl)
    known = phone.record_call(demo_clinic, gl, MOBILE, started_at=NOW)
    unknown = phone.record_call(demo_clinic, gl, "13000000001", started_at=NOW)
    own = make_user(demo_clinic, admin, "tel4", pages=[Page.PHONE], scope=DataScope.OWN)
    # Outside the scope: the known customer's call is hidden, the unknown number is shared.
    assert [r.id for r in phone.list_calls(demo_clinic, own)] == [unknown]
    assert phone.count_calls(demo_clinic, own) == 1
    with pytest.raises(NotFound):
        phone.set_note(demo_clinic, own, known, "x")
    # A call the desk took itself stays in its list, without the customer it may not see.
    taken = phone.record_call(demo_clinic, own, MOBILE, started_at=datetime(2026, 11, 23, 11))
    row = phone.list_calls(demo_clinic, own)[0]
    assert (row.id, row.customer_id, row.customer_name, row.number) == (taken, None, "", "137****5678")
    with pytest.raises(NotFound):
        phone.record_call(demo_clinic, own, MOBILE, customer_id=_cid(demo_clinic))


def _cid(clinic: Clinic) -> int:
    from meike.models import Customer

    with clinic.read() as s:
        return s.scalar(select(Customer.id).where(Customer.mobile == MOBILE))  # type: ignore[return-value]


def test_phone_page_permission_is_checked_by_the_service(demo_clinic: Clinic, gl: Actor) -> None:
    wl = accounts.authenticate(demo_clinic, "wl", "123")  # online consultant: no phone page
    assert not wl.can_open(Page.PHONE)
    call = phone.record_call(demo_clinic, gl, MOBILE)
    for attempt in (lambda: phone.caller_card(demo_clinic, wl, MOBILE), lambda: phone.record_call(demo_clinic, wl, MOBILE),
                    lambda: phone.list_calls(demo_clinic, wl), lambda: phone.count_calls(demo_clinic, wl),
                    lambda: phone.set_note(demo_clinic, wl, call, "x"), lambda: phone.finish_call(demo_clinic, wl, call)):
        with pytest.raises(PermissionDenied, match="电话管理"):
            attempt()
    with pytest.raises(ValidationError):
        phone.record_call(demo_clinic, gl, MOBILE, direction="sideways")


def test_demo_gl_gets_the_phone_page(gl: Actor) -> None:
    assert gl.can_open(Page.PHONE)


def test_answered_missed_and_recording_of_a_call(demo_clinic: Clinic, gl: Actor, admin: Actor) -> None:
    answered = phone.record_call(demo_clinic, gl, MOBILE, started_at=NOW)
    with pytest.raises(ValidationError, match="接听时间"):
        phone.answer_call(demo_clinic, gl, answered, answered_at=datetime(2026, 11, 23, 9, 59))
    phone.answer_call(demo_clinic, gl, answered, answered_at=datetime(2026, 11, 23, 10, 0, 8))
    phone.finish_call(demo_clinic, gl, answered, ended_at=datetime(2026, 11, 23, 10, 2), missed=True)
    phone.attach_recording(demo_clinic, gl, answered, "  D:\\录音\\20261123-100000.wav ")
    missed = phone.record_call(demo_clinic, gl, "13000000001", started_at=NOW)
    phone.finish_call(demo_clinic, gl, missed, ended_at=datetime(2026, 11, 23, 10, 0, 30), missed=True)
    unknown = phone.record_call(demo_clinic, gl, "13000000002", started_at=NOW)  # a line that cannot tell
    rows = {r.id: r for r in phone.list_calls(demo_clinic, gl)}
    # A call that was picked up is never "missed", whatever the end report says.
    assert (rows[answered].outcome, rows[answered].missed, rows[answered].duration_s) == ("已接", False, 120)
    assert rows[answered].recording_path == "D:\\录音\\20261123-100000.wav"
    assert (rows[missed].outcome, rows[missed].duration_s) == ("未接", 30)
    assert rows[unknown].outcome == "" and rows[unknown].duration_s is None
    with pytest.raises(ValidationError, match="录音文件"):
        phone.attach_recording(demo_clinic, gl, unknown, "   ")
    own = make_user(demo_clinic, admin, "tel5", pages=[Page.PHONE], scope=DataScope.OWN)
    _customer_with_history(demo_clinic, gl)  # now the number belongs to a customer outside tel5's scope
    outside = phone.record_call(demo_clinic, gl, MOBILE, started_at=NOW)
    for attempt in (lambda: phone.answer_call(demo_clinic, own, outside),
                    lambda: phone.attach_recording(demo_clinic, own, outside, "x.wav")):
        with pytest.raises(NotFound):
            attempt()


def test_a_device_time_a_moment_before_the_ring_is_the_calls_start(demo_clinic: Clinic, gl: Actor,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """The box's thread stamps "picked up" a moment before this PC stamped the ring: the call is
    answered at its start (logged), not refused and stored as unanswered."""
    call = phone.record_call(demo_clinic, gl, MOBILE, started_at=NOW)
    with caplog.at_level("INFO", logger="meike.services.phone"):
        phone.answer_call(demo_clinic, gl, call, answered_at=NOW - timedelta(seconds=1))
        phone.finish_call(demo_clinic, gl, call, ended_at=NOW - timedelta(seconds=2))
    row = next(r for r in phone.list_calls(demo_clinic, gl) if r.id == call)
    assert (row.answered_at, row.ended_at, row.outcome, row.duration_s) == (NOW, NOW, "已接", 0)
    assert "taken as the start" in caplog.text and MOBILE not in caplog.text
    with pytest.raises(ValidationError, match="结束时间"):  # a time well before the ring is still refused
        phone.finish_call(demo_clinic, gl, call, ended_at=NOW - timedelta(minutes=1))


def test_guessing_numbers_at_the_caller_card_is_a_limited_probe(demo_clinic: Clinic) -> None:
    """Review of issue 14/3: the caller card answered any typed number, so a user who may not see numbers
    rebuilt a masked mobile in a few thousand guesses. Numbers that find nobody now count as probes."""
    from meike.models import AuditEntry, Customer

    customers.forget_probes()
    kf = accounts.authenticate(demo_clinic, "kf", "123")
    assert not kf.has_right(Right.VIEW_PRIVATE)
    target = customers.search_customers(demo_clinic, kf, limit=1)[0]
    refused = 0
    for i in range(40):
        try:
            phone.caller_card(demo_clinic, kf, f"1990000{i:04d}")
        except ValidationError as e:
            assert "号码查询过于频繁" in e.errors["number"]
            refused += 1
    assert refused == 20  # 20 different misses in 10 minutes, then nothing more
    with demo_clinic.read() as s:
        mobile = s.scalar(select(Customer.mobile).where(Customer.id == target.id))
    with pytest.raises(ValidationError):  # even a number that would find someone
        phone.caller_card(demo_clinic, kf, mobile)
    with demo_clinic.read() as s:
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "privacy.search_limited")) is not None
    customers.forget_probes()
