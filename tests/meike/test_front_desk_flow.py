"""Registration, triage, records and the cashier through the services: the manual's day (seed 000/003)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from meike import clock
from meike.db import Clinic
from meike.errors import NotFound, PermissionDenied, ValidationError
from meike.models import Customer
from meike.permissions import Actor, Page, Right
from meike.services import accounts, audit, cashier, customers, dictionaries, followups, records, triage
from meike.services.customers import CustomerQuery, DuplicateMobile
from meike.services.dictionaries import Kind
from tests.conftest import make_user


@pytest.fixture
def gl(demo_clinic: Clinic) -> Actor:
    return accounts.authenticate(demo_clinic, "gl", "123")


def staff_id(clinic: Clinic, actor: Actor, name: str) -> int:
    return next(e.id for e in dictionaries.list_entries(clinic, actor, Kind.STAFF) if e.name == name)


def item_id(clinic: Clinic, actor: Actor, name: str) -> int:
    return next(e.id for e in dictionaries.list_entries(clinic, actor, Kind.ITEM) if e.name == name)


def test_registration_validates_every_field_and_writes_nothing_on_error(demo_clinic: Clinic, gl: Actor) -> None:
    before = customers.count_customers(demo_clinic, gl)
    tomorrow = clock.now() + timedelta(days=1)
    with pytest.raises(ValidationError) as e:
        customers.register_customer(demo_clinic, gl, name="", mobile="12345", id_card="110105194912310021",
                                    birthday=date(2999, 1, 1), age=130, qq="abc", appointment_at=tomorrow)
    assert e.value.errors == {
        "name": "请填写顾客姓名", "mobile": "手机号应为 11 位，以 13–19 开头", "id_card": "身份证号校验位不正确，请核对",
        "birthday": "生日不能晚于今天", "age": "年龄应在 0–120 之间", "qq": "QQ 号只能是数字",
    }
    assert customers.count_customers(demo_clinic, gl) == before


def test_registration_with_id_card_fills_birthday_and_books(demo_clinic: Clinic, gl: Actor) -> None:
    at = datetime.combine(clock.now().date() + timedelta(days=1), datetime.min.time()).replace(hour=10)
    cid = customers.register_customer(demo_clinic, gl, name="王小美", mobile="13912345678",
                                      id_card="11010519491231002x", appointment_at=at, appointment_items="双眼皮")
    detail = customers.get_customer(demo_clinic, gl, cid, today=date(2026, 11, 24))
    # The birthday is digits 7–14 of the ID card: not shown beside its mask (the age is), for anyone.
    assert detail.id_card == "**************002X" and detail.birthday is None and detail.birthday_hidden
    assert detail.age == 76
    assert customers.reveal(demo_clinic, gl, detail.id, "id_card") == "11010519491231002X"
    with demo_clinic.read() as s:
        assert s.get(Customer, cid).birthday == date(1949, 12, 31)  # kept: the birthday SMS needs it
    assert detail.customer_class == "潜在客户"
    booked = customers.search_customers(demo_clinic, gl, query=CustomerQuery(tab="booked", text="wxm"))
    assert [(r.name, r.appointment_at) for r in booked] == [("王小美", at)]


def test_duplicate_mobile_offers_the_existing_customer(demo_clinic: Clinic, gl: Actor) -> None:
    cid = customers.register_customer(demo_clinic, gl, name="李四", mobile="13700001111")
    with pytest.raises(DuplicateMobile) as e:
        customers.register_customer(demo_clinic, gl, name="李四四", mobile="137 0000 1111")
    assert e.value.customer_id == cid and "李四" in e.value.errors["mobile"]
    kf = accounts.authenticate(demo_clinic, "kf", "123")  # cannot see gl's customer: told, not shown
    with pytest.raises(DuplicateMobile) as e:
        customers.register_customer(demo_clinic, kf, name="x", mobile="13700001111")
    # Neither who nor why: the same words as any duplicate kf may not open; the hit is audited.
    assert e.value.customer_id is None and e.value.errors == {"mobile": "该手机号已登记，请联系主管处理"}
    mine = customers.register_customer(demo_clinic, kf, name="y", mobile="13700002222")
    with pytest.raises(DuplicateMobile) as e:  # an edit to gl's customer's number: the same
        customers.update_customer(demo_clinic, kf, mine, {"name": "y", "mobile": "１３７ 0000 1111"})
    assert e.value.customer_id is None and e.value.errors == {"mobile": "该手机号已登记，请联系主管处理"}
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    hits = [(a.username, a.entity_id, (a.after or {})["during"])
            for a in audit.recent(demo_clinic, admin, entity="customer") if a.action == "customer.duplicate_mobile"]
    assert hits == [("kf", cid, "update"), ("kf", cid, "register")]
    assert "13700001111" not in str(audit.recent(demo_clinic, admin, entity="customer"))
    with demo_clinic.read() as s:
        assert s.scalar(select(func.count()).select_from(Customer).where(Customer.name == "x")) == 0
    at = clock.now() + timedelta(days=2)
    customers.book_appointment(demo_clinic, gl, cid, appointment_at=at, items="热玛吉")
    assert customers.count_customers(demo_clinic, gl, query=CustomerQuery(tab="booked", text="13700001111")) == 1


def test_the_manual_day(demo_clinic: Clinic, gl: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    # A working morning: at 23:50 the appointment "in 30 minutes" would be tomorrow's.
    morning = datetime.combine(clock.now().date(), datetime.min.time()).replace(hour=10)
    monkeypatch.setattr(clock, "now", lambda: morning)
    today = clock.now().date()
    cid = customers.register_customer(demo_clinic, gl, name="赵雅", mobile="13655556666",
                                      appointment_at=clock.now() + timedelta(minutes=30))
    wang = staff_id(demo_clinic, gl, "王芳")
    assert triage.suggest_type(demo_clinic, gl, cid).value == "first"
    visit = triage.arrive(demo_clinic, gl, cid, consultant_id=wang)
    with pytest.raises(ValidationError, match="今天已分诊"):
        triage.arrive(demo_clinic, gl, cid, consultant_id=wang)
    arrived = customers.search_customers(demo_clinic, gl, query=CustomerQuery(tab="arrived", date_from=today,
                                                                              date_to=today, text="zy"))
    assert [(r.visit_id, r.visit_type, r.consultant) for r in arrived if r.id == cid] == [(visit, "初诊", "王芳")]
    assert customers.count_customers(demo_clinic, gl, query=CustomerQuery(tab="booked", text="13655556666")) == 0

    triage.reassign(demo_clinic, gl, visit, consultant_id=staff_id(demo_clinic, gl, "李静"))
    assert triage.list_visits(demo_clinic, gl, cid)[0].consultant == "李静"
    with pytest.raises(ValidationError, match="不是现场咨询"):
        triage.reassign(demo_clinic, gl, visit, consultant_id=staff_id(demo_clinic, gl, "吴建国"))

    records.add_consultation(demo_clinic, gl, cid, content="想做双眼皮，担心恢复期", items="双眼皮",
                             reminder_due=today, reminder_assignee_id=gl.user_id)
    counts = followups.dashboard_counts(demo_clinic, gl, today=today)
    assert counts.chase_due >= 1

    with pytest.raises(ValidationError) as e:  # below the minimum without a supervisor
        records.add_treatment(demo_clinic, gl, cid, item_id=item_id(demo_clinic, gl, "双眼皮"),
                              doctor_id=staff_id(demo_clinic, gl, "吴建国"), performed_on=today, price_fen=500000)
    assert "需要主管审批" in e.value.errors["price_fen"]
    records.add_treatment(demo_clinic, gl, cid, item_id=item_id(demo_clinic, gl, "双眼皮"),
                          doctor_id=staff_id(demo_clinic, gl, "吴建国"), performed_on=today, price_fen=780000)
    postop = [r for r in followups.list_for_customer(demo_clinic, gl, cid) if r.kind == "postop"]
    assert sorted(r.due_date for r in postop) == [today + timedelta(days=d) for d in (2, 7, 15)]
    unpaid = [o for o in cashier.list_orders(demo_clinic, gl, status="new", text="13655556666")]
    assert len(unpaid) == 1 and unpaid[0].total_fen == 780000

    method = next(e.id for e in dictionaries.list_entries(demo_clinic, gl, Kind.PAYMENT_METHOD) if e.name == "微信")
    receipt = cashier.settle(demo_clinic, gl, unpaid[0].id, payment_method_id=method, amount_fen=780000,
                             idempotency_key="day-1")
    assert receipt.startswith("R")
    deal = customers.search_customers(demo_clinic, gl, query=CustomerQuery(tab="deal", date_from=today, text="zy"))
    assert [r.id for r in deal] == [cid]
    assert customers.get_customer(demo_clinic, gl, cid).customer_class == "新客户"
    assert triage.suggest_type(demo_clinic, gl, cid).value == "revisit"  # treated today: comes back for a check


def test_rejected_visit_stays_on_file_and_can_be_restored(demo_clinic: Clinic, gl: Actor) -> None:
    cid = customers.register_customer(demo_clinic, gl, name="钱多多", mobile="13500002222")
    visit = triage.arrive(demo_clinic, gl, cid, consultant_id=staff_id(demo_clinic, gl, "陈晓"), visit_type="other")
    with pytest.raises(ValidationError, match="作废原因"):
        triage.reject(demo_clinic, gl, visit, reason=" ")
    triage.reject(demo_clinic, gl, visit, reason="重复分诊")
    rows = triage.list_visits(demo_clinic, gl, cid)
    assert [(r.status, r.reject_reason, r.visit_type_label) for r in rows] == [("rejected", "重复分诊", "其它")]
    assert customers.count_customers(demo_clinic, gl, query=CustomerQuery(tab="arrived", text="qdd")) == 0
    triage.restore(demo_clinic, gl, visit)
    assert triage.list_visits(demo_clinic, gl, cid)[0].status == "active"


def test_customer_classes_follow_purchase_occasions(demo_clinic: Clinic, gl: Actor) -> None:
    cid = customers.register_customer(demo_clinic, gl, name="孙悦", mobile="13511112222")
    shuiguang = item_id(demo_clinic, gl, "水光针")
    method = next(e.id for e in dictionaries.list_entries(demo_clinic, gl, Kind.PAYMENT_METHOD) if e.name == "现金")
    for n in range(2):
        order = cashier.open_order(demo_clinic, gl, customer_id=cid, lines=[(shuiguang, 1, None)])
        cashier.settle(demo_clinic, gl, order, payment_method_id=method, amount_fen=128000, idempotency_key=f"k{n}")
        expected = ["新客户", "老客户"][n]
        assert customers.get_customer(demo_clinic, gl, cid).customer_class == expected
    returning = customers.search_customers(demo_clinic, gl, query=CustomerQuery(customer_class="returning"))
    assert cid in [r.id for r in returning]


def test_scope_and_page_rules_for_the_desk(demo_clinic: Clinic, gl: Actor) -> None:
    kf = accounts.authenticate(demo_clinic, "kf", "123")
    outsider = next(r.id for r in customers.search_customers(demo_clinic, gl, limit=500)
                    if r.id not in {x.id for x in customers.search_customers(demo_clinic, kf, limit=500)})
    with pytest.raises(NotFound):
        triage.arrive(demo_clinic, kf, outsider, consultant_id=staff_id(demo_clinic, gl, "王芳"))
    with pytest.raises(NotFound):
        records.add_consultation(demo_clinic, kf, outsider, content="x")
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    desk = make_user(demo_clinic, admin, "desk2", pages=[Page.REGISTRATION])
    with pytest.raises(PermissionDenied):
        triage.arrive(demo_clinic, desk, outsider, consultant_id=None)
    with pytest.raises(PermissionDenied):
        records.add_treatment(demo_clinic, desk, outsider, item_id=None, doctor_id=None, performed_on=date.today())


def test_supervisor_approves_a_low_treatment_price(demo_clinic: Clinic, gl: Actor) -> None:
    cid = customers.register_customer(demo_clinic, gl, name="周周", mobile="13533334444")
    boss = accounts.verify_supervisor(demo_clinic, "gl", "123", Right.APPROVE_PRICE)
    tid = records.add_treatment(demo_clinic, gl, cid, item_id=item_id(demo_clinic, gl, "隆鼻"),
                                doctor_id=staff_id(demo_clinic, gl, "吴建国"), performed_on=date.today(),
                                price_fen=1_000_000, supervisor=boss, followup_days=[])
    [row] = records.list_treatments(demo_clinic, gl, cid)
    assert (row.id, row.price_fen, row.charge_status) == (tid, 1_000_000, "未付款")
    assert followups.list_for_customer(demo_clinic, gl, cid) == []


def test_mobile_typed_with_spaces_is_found(demo_clinic: Clinic, gl: Actor) -> None:
    cid = customers.register_customer(demo_clinic, gl, name="空格", mobile="13600001234")
    for text in ("136 0000 1234", "+86 13600001234", "136-0000-1234"):
        assert [r.id for r in customers.search_customers(demo_clinic, gl, text=text)] == [cid]


def test_supervisor_password_guessing_locks_the_supervisor(demo_clinic: Clinic) -> None:
    for _ in range(5):
        with pytest.raises(PermissionDenied, match="主管用户名或密码错误"):
            accounts.verify_supervisor(demo_clinic, "gl", "guess", Right.APPROVE_PRICE)
    with pytest.raises(PermissionDenied, match="尝试次数过多，请 30 秒后再试"):
        accounts.verify_supervisor(demo_clinic, "gl", "123", Right.APPROVE_PRICE)


def test_appointments_change_and_cancel_with_optimistic_locking(demo_clinic: Clinic, gl: Actor) -> None:
    from meike.errors import ConflictError

    at = (clock.now() + timedelta(days=1)).replace(hour=9, minute=30, second=0)
    cid = customers.register_customer(demo_clinic, gl, name="林一", mobile="13855556666", appointment_at=at)
    [booked] = customers.list_appointments(demo_clinic, gl, cid)
    customers.change_appointment(demo_clinic, gl, booked.id, appointment_at=at + timedelta(hours=2), items="热玛吉",
                                 notes="", expected_version=booked.version)
    with pytest.raises(ConflictError, match="已被其他电脑修改"):  # the second PC still holds the old version
        customers.cancel_appointment(demo_clinic, gl, booked.id, reason="不来了", expected_version=booked.version)
    [moved] = customers.list_appointments(demo_clinic, gl, cid)
    assert (moved.appointment_at, moved.items, moved.status, moved.version) == (
        at + timedelta(hours=2), "热玛吉", "booked", booked.version + 1)
    with pytest.raises(ValidationError) as e:
        customers.change_appointment(demo_clinic, gl, moved.id, appointment_at=clock.now() - timedelta(days=1),
                                     items="", notes="", expected_version=moved.version)
    assert e.value.errors == {"appointment_at": "预约时间不能早于现在"}
    customers.cancel_appointment(demo_clinic, gl, moved.id, reason="不来了", expected_version=moved.version)
    [cancelled] = customers.list_appointments(demo_clinic, gl, cid)
    assert cancelled.status_label == "已取消" and cancelled.notes.endswith("（取消：不来了）")
    with pytest.raises(ValidationError):
        customers.cancel_appointment(demo_clinic, gl, cancelled.id, reason="again")
