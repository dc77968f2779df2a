"""Hostile text at every service that takes typed text (issue 14/18).

NUL bytes, other control characters, characters outside the BMP (𠮷, emoji), right-to-left marks,
a page of 100,000 characters, only spaces, SQL and LIKE metacharacters: each is either stored and
read back as ``meike.rules.text`` cleans it, or refused with a ``ValidationError`` in Chinese —
never the driver's ``DataError`` ("invalid byte sequence", "value too long", "integer out of
range") or any other exception, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from meike import clock
from meike.db import Clinic
from meike.errors import LoginFailed, PermissionDenied, ValidationError
from meike.models import (
    Appointment,
    CallRecord,
    Channel,
    Consultation,
    Customer,
    Order,
    Reminder,
    SmsMessage,
    SmsTemplate,
    Treatment,
    User,
    check_row,
)
from meike.models.ledger import ACCOUNT_PREPAID, AccountEntry
from meike.permissions import Actor, Right
from meike.rules.text import clean_text, normalise_text, text_error, unsafe_char
from meike.services import (
    accounts,
    audit,
    cashier,
    customers,
    dictionaries,
    followups,
    ledger,
    phone,
    records,
    sms,
    system,
    triage,
)
from meike.services.audit import AuditFilter
from meike.services.dictionaries import Kind
from meike.services.ledger import Tender
from tests.meike.conftest_cashier import Shop, shop_fixture  # noqa: F401 (fixtures)

PIECES = ["\x00", "\x01", "\x08", "\x1b", "\x7f", "\x85", "\x9f", "\t", "\n", "\r\n", "\r", "\v", "\u2028",
          "\u200f", "\u202e", "\u200b", "\ufeff", "\u3000", " ", "𠮷", "😀", "👩‍👩‍👧", "e\u0301", "\uffff",
          "%", "_", "\\", "'", '"', "' OR 1=1 --", "%_\\", ";", "張", "王", "ＡＢ１"]
FIXED = ["", " ", "   \t  ", "\u3000\u3000", "\x00", "a\x00b", "王\x00", "x" * 100_000, "双" * 100_000,
         "字" * 40, "字" * 41, "字" * 60, "字" * 61, "字" * 201, "字" * 2001, "𠮷" * 41, "%", "_", "\\", "'",
         "%%__\\\\", "\u202e反转", "李\u200f四", "😀" * 300, "\U0010ffff"]

hostile = st.one_of(
    st.sampled_from(FIXED),
    st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), min_size=1, max_size=10).map("".join),
)

CHINESE = re.compile(r"[\u4e00-\u9fff]")
HYPOTHESIS = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def test_clean_text_normalises_and_refuses_in_chinese() -> None:
    assert clean_text("  王\u3000五 ", field="name", label="姓名", limit=40) == "王\u3000五"
    assert clean_text("a\tb\r\nc", field="name", label="姓名", limit=40) == "a b  c"  # one line
    assert clean_text(" a\tb\r\nc\rd ", field="notes", label="备注", limit=40, multiline=True) == "a\tb\nc\nd"
    assert clean_text("e\u0301𠮷😀\u200f%_\\'", field="x", label="备注", limit=40) == "é𠮷😀\u200f%_\\'"
    for text, message in [("a\x00b", "姓名含有无法保存的字符（U+0000）"), ("\x1b[31m", "姓名含有无法保存的字符（U+001B）"),
                          ("字" * 41, "姓名不能超过 40 个字"), ("a\ud800", "姓名含有无法保存的字符（U+D800）"),
                          ("   ", "请填写姓名")]:
        with pytest.raises(ValidationError) as e:
            clean_text(text, field="name", label="姓名", limit=40, required=True)
        assert e.value.errors == {"name": message}
    assert text_error("字" * 2001, label="备注", limit=2000) == "备注不能超过 2,000 个字"
    assert unsafe_char("a\nb", multiline=True) is None and unsafe_char("a\nb") == "\n"


def test_the_flush_guard_refuses_what_a_path_forgot(clinic: Clinic, user: Actor, shop: Shop) -> None:
    """A value no service cleaned (a device's, a built one) still never reaches the database raw."""
    for field, value, message in [("invoice_no", "1" * 41, "发票号不能超过 40 个字"),
                                  ("invoice_title", "抬头\x00", "发票抬头含有无法保存的字符（U+0000）")]:
        with pytest.raises(ValidationError) as e, clinic.write() as s:
            order = s.get(Order, cashier.open_order(clinic, user, customer_id=shop.customer_id,
                                                    lines=[(shop.items["水光针"], 1, None)]))
            setattr(order, field, value)
        assert e.value.errors == {field: message}
    check_row(Customer(name="王" * 40, mobile="13800000000", card_no="1"), changed_only=False)
    with pytest.raises(ValidationError, match="姓名含有无法保存的字符"):
        check_row(Customer(name="王\x00", mobile="13800000000", card_no="1"), changed_only=False)


def test_an_invoice_number_over_40_characters_is_refused_in_chinese(clinic: Clinic, user: Actor, shop: Shop) -> None:
    order_id = cashier.open_order(clinic, user, customer_id=shop.customer_id, lines=[(shop.items["水光针"], 1, None)])
    cashier.pay(clinic, user, order_id, [Tender(shop.methods["现金"], 128_000)], idempotency_key="inv")
    with pytest.raises(ValidationError) as e:
        cashier.register_invoice(clinic, user, order_id, invoice_no="1" * 41, title="个人", amount_fen=100)
    assert e.value.errors == {"invoice_no": "发票号不能超过 40 个字"}
    cashier.register_invoice(clinic, user, order_id, invoice_no=" 0" + "1" * 39 + " ", title="个人", amount_fen=100)
    with clinic.read() as s:
        assert s.get(Order, order_id).invoice_no == "0" + "1" * 39  # type: ignore[union-attr]


def test_a_caller_number_over_24_digits_is_cut_and_logged_without_it(clinic: Clinic, user: Actor,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    number = "139" + "1234567890" * 5
    call_id = phone.record_call(clinic, user, number + "\x00#*")
    with clinic.read() as s:
        assert s.get(CallRecord, call_id).number == number[:24]  # type: ignore[union-attr]
    assert "cut to 24" in caplog.text and "1234567890" not in caplog.text
    assert phone.caller_card(clinic, user, number) is None


def test_a_visit_is_rejected_with_a_clean_reason(demo_clinic: Clinic) -> None:
    gl = accounts.authenticate(demo_clinic, "gl", "123")
    with demo_clinic.read() as s:
        customer_id, consultant_id = s.execute(select(Customer.id, Customer.consultant_id)
                                               .where(Customer.consultant_id.is_not(None)).limit(1)).one()
    visit_id = triage.arrive(demo_clinic, gl, customer_id, consultant_id=consultant_id)
    for reason in ("\x00", "字" * 201, "  "):
        with pytest.raises(ValidationError) as e:
            triage.reject(demo_clinic, gl, visit_id, reason=reason)
        assert CHINESE.search(e.value.errors["reason"])
    triage.reject(demo_clinic, gl, visit_id, reason=" 录错\u200f了 ")


# --- the property: every entry point, hostile text -------------------------------------------------


@dataclass
class Desk:
    clinic: Clinic
    user: Actor
    admin: Actor
    shop: Shop
    doctor_id: int
    order_id: int
    call_id: int
    n: itertools.count  # type: ignore[type-arg]

    def read(self, model: type, row_id: int, attr: str) -> str:
        with self.clinic.read() as s:
            return str(getattr(s.get(model, row_id), attr))


Check = Callable[[Desk, str, int], list[tuple[str, str]]]  # → [(stored, expected)]
ONE, MANY = {"multiline": False}, {"multiline": True}


def _register(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    cid = customers.register_customer(d.clinic, d.user, name=t, mobile=f"139{n:08d}", address=t, wechat=t,
                                      occupation=t, region=t, referrer=t, notes=t, appointment_items=t,
                                      appointment_notes=t, appointment_at=clock.now() + timedelta(days=1))
    with d.clinic.read() as s:
        c = s.get(Customer, cid)
        a = s.scalar(select(Appointment).where(Appointment.customer_id == cid))
        assert c is not None and a is not None
        one, many = normalise_text(t, **ONE), normalise_text(t, **MANY)
        return [(c.name, one), (c.address, one), (c.wechat, one), (c.notes, many), (a.items, one), (a.notes, many)]


def _register_name_only(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    cid = customers.register_customer(d.clinic, d.user, name=t, mobile=f"137{n:08d}")
    return [(d.read(Customer, cid, "name"), normalise_text(t))]


def _update_customer(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    customers.update_customer(d.clinic, d.user, d.shop.customer_id,
                              {"name": "张三", "mobile": "13812345678", "file_no": t, "notes": t})
    return [(d.read(Customer, d.shop.customer_id, "file_no"), normalise_text(t)),
            (d.read(Customer, d.shop.customer_id, "notes"), normalise_text(t, **MANY))]


def _consultation(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    rid = records.add_consultation(d.clinic, d.user, d.shop.customer_id, content=t, items=t, reminder_note=t,
                                   reminder_due=clock.now().date())
    with d.clinic.read() as s:
        reminder = s.scalar(select(Reminder).where(Reminder.consultation_id == rid))
        assert reminder is not None
        return [(d.read(Consultation, rid, "content"), normalise_text(t, **MANY)),
                (d.read(Consultation, rid, "items"), normalise_text(t)), (reminder.note, normalise_text(t, **MANY))]


def _treatment(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    rid = records.add_treatment(d.clinic, d.user, d.shop.customer_id, item_id=d.shop.items["水光针"],
                                doctor_id=d.doctor_id, performed_on=clock.now().date(), notes=t, followup_days=[])
    return [(d.read(Treatment, rid, "notes"), normalise_text(t, **MANY))]


def _reminder(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    rid = followups.add_reminder(d.clinic, d.user, d.shop.customer_id, kind="chase", due=clock.now().date(), note=t)
    out = [(d.read(Reminder, rid, "note"), normalise_text(t, **MANY))]
    followups.complete(d.clinic, d.user, rid, result=t)
    return [*out, (d.read(Reminder, rid, "result"), normalise_text(t, **MANY))]


def _dictionary(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    cid = dictionaries.add_entry(d.clinic, d.user, Kind.CHANNEL, {"name": t})
    dictionaries.update_entry(d.clinic, d.user, Kind.CHANNEL, cid, {"name": t})
    return [(d.read(Channel, cid, "name"), normalise_text(t))]


def _item(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    dictionaries.add_entry(d.clinic, d.user, Kind.ITEM, {"name": f"项目{n}", "price_fen": 100, "unit": t})
    return []


def _account(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    uid = accounts.create_account(d.clinic, d.admin, username=f"u{n}", password="secret-1", display_name=t)
    out = [(d.read(User, uid, "display_name"), normalise_text(t))]
    accounts.create_account(d.clinic, d.admin, username=t, password=t + "-secret")
    return out


def _login(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    for attempt in (lambda: accounts.authenticate(d.clinic, t, t),
                    lambda: accounts.verify_supervisor(d.clinic, t, t, Right.REFUND)):
        try:
            attempt()
        except (LoginFailed, PermissionDenied) as e:
            assert CHINESE.search(e.message), e.message
    return []


def _password(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    uid = accounts.create_account(d.clinic, d.admin, username=f"p{n}", password="secret-1")
    accounts.reset_password(d.clinic, d.admin, uid, password=t)
    with d.clinic.read() as s:  # not a login: the hostile logins above keep this PC waiting
        user = s.get(User, uid)
        assert user is not None and accounts.verify_password(user.password_hash, t)
    return []


def _cashier(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    cashier.register_invoice(d.clinic, d.user, d.order_id, invoice_no=t, title=t, amount_fen=100)
    return [(d.read(Order, d.order_id, "invoice_no"), normalise_text(t)),
            (d.read(Order, d.order_id, "invoice_title"), normalise_text(t))]


def _cancel(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    oid = cashier.open_order(d.clinic, d.user, customer_id=d.shop.customer_id, lines=[(d.shop.items["水光针"], 1, None)])
    cashier.cancel(d.clinic, d.user, oid, reason=t)
    return [(d.read(Order, oid, "cancel_reason"), normalise_text(t, **MANY))]


def _top_up(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    done = ledger.top_up(d.clinic, d.user, d.shop.customer_id, account=ACCOUNT_PREPAID,
                         tenders=[Tender(d.shop.methods["现金"], 100)], idempotency_key=f"k{n}", note=t)
    with d.clinic.read() as s:
        entry = s.scalar(select(AccountEntry).where(AccountEntry.receipt_id == done.receipt_id))
        assert entry is not None
        return [(entry.note, normalise_text(t, **MANY))]


def _coupon(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    ledger.sell_coupon(d.clinic, d.user, d.shop.customer_id, name=t, face_value_fen=100,
                       valid_until=clock.now().date() + timedelta(days=30),
                       tenders=[Tender(d.shop.methods["现金"], 100)], idempotency_key=f"c{n}")
    return []


def _sms(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    tid = sms.save_template(d.clinic, d.user, None, {"kind": "manual", "name": t, "body": t})
    out = [(d.read(SmsTemplate, tid, "name"), normalise_text(t)), (d.read(SmsTemplate, tid, "body"),
                                                                   normalise_text(t, **MANY))]
    mid = sms.enqueue_one(d.clinic, d.user, number="13912345678", text=t)
    return [*out, (d.read(SmsMessage, mid, "text"), normalise_text(t, **MANY))]


def _sms_channel(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    sms.save_channel_settings(d.clinic, d.user, {"channel": "gsm", "gsm_port": t}, hostname="pc1")
    return []


def _phone(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    call_id = phone.record_call(d.clinic, d.user, t)  # a device's number: never refused
    number = d.read(CallRecord, call_id, "number")
    assert number.isascii() and number.isdigit() or number == "", number
    assert len(number) <= 24
    phone.caller_card(d.clinic, d.user, t)
    phone.set_note(d.clinic, d.user, d.call_id, t)
    return [(d.read(CallRecord, d.call_id, "note"), normalise_text(t, **MANY))]


def _settings(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    system.update(d.clinic, d.user, {"clinic.name": t})
    return [(system.get(d.clinic, "clinic.name"), normalise_text(t))]


def _searches(d: Desk, t: str, n: int) -> list[tuple[str, str]]:
    customers.search_customers(d.clinic, d.user, text=t)
    customers.find_by_mobile(d.clinic, d.user, t)
    cashier.find_items(d.clinic, d.user, t)
    cashier.list_orders(d.clinic, d.user, status="new", text=t)
    audit.search(d.clinic, d.admin, AuditFilter(text=t))
    audit.search(d.clinic, d.admin, AuditFilter(username=t))
    return []


ENTRY_POINTS: dict[str, Check] = {
    "register_customer": _register, "register_customer(name)": _register_name_only,
    "update_customer": _update_customer, "add_consultation": _consultation, "add_treatment": _treatment,
    "reminders": _reminder, "dictionary": _dictionary, "item unit": _item, "create_account": _account,
    "login": _login, "password": _password, "invoice": _cashier, "cancel order": _cancel, "top_up": _top_up,
    "sell_coupon": _coupon, "sms": _sms, "sms channel": _sms_channel, "phone": _phone, "settings": _settings,
    "searches": _searches,
}


@pytest.fixture
def desk(clinic: Clinic, user: Actor, admin: Actor, shop: Shop) -> Desk:
    doctor = dictionaries.add_entry(clinic, user, Kind.STAFF, {"name": "王医生", "roles": ["doctor"]})
    order_id = cashier.open_order(clinic, user, customer_id=shop.customer_id, lines=[(shop.items["水光针"], 1, None)])
    cashier.pay(clinic, user, order_id, [Tender(shop.methods["现金"], 128_000)], idempotency_key="desk")
    return Desk(clinic, user, admin, shop, doctor, order_id, phone.record_call(clinic, user, "13800138000"),
                itertools.count(1))


@HYPOTHESIS
@given(text=hostile)
def test_hostile_text_is_stored_as_cleaned_or_refused_in_chinese(desk: Desk, text: str) -> None:
    for name, check in ENTRY_POINTS.items():
        n = next(desk.n)
        try:
            pairs = check(desk, text, n)
        except ValidationError as e:
            assert e.errors and all(CHINESE.search(m) for m in e.errors.values()), (name, e.errors)
            continue
        except Exception as e:  # noqa: BLE001 (the point: nothing else may come out)
            raise AssertionError(f"{name}: {type(e).__name__}: {e!s:.300} for {text[:60]!r}") from e
        for stored, expected in pairs:
            assert stored == expected, (name, text[:60])
            assert unsafe_char(stored, multiline=True) is None and "\r" not in stored


def test_a_clean_text_comes_back_as_typed(desk: Desk) -> None:
    """The cleaning changes nothing a person types: 𠮷, emoji, RTL marks, quotes and LIKE characters."""
    text = "王𠮷😀 \u200f100%_\\'O'Brien"
    for name in ("register_customer", "add_consultation", "dictionary", "invoice", "sms", "settings"):
        for stored, expected in ENTRY_POINTS[name](desk, text, next(desk.n)):
            assert stored == expected == text, name
