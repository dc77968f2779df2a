"""SMS service: templates, enqueueing (opt-out, scope, limit), the pump through the real adapters on
the simulators, unplugging, failures, crash recovery and the scheduler jobs."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from devices.simulators.sms_platform import SmsPlatformServer
from devices.sms import SmsError
from meike import sms_jobs
from meike.db import Clinic
from meike.errors import NotFound, PermissionDenied, ValidationError
from meike.models import AuditEntry, Customer, Item, Reminder, Treatment
from meike.models.sms import SmsMessage
from meike.permissions import Actor, DataScope, Page
from meike.services import customers, sms
from meike.services.customers import CustomerQuery
from meike.services.sms import ChannelSettings, Outgoing
from tests.conftest import make_user

needs_pty = pytest.mark.skipif(sys.platform == "win32", reason="the modem simulator needs a pseudo-terminal")
if sys.platform != "win32":
    from devices.simulators.gsm_modem import GsmModemSimulator

NOW = datetime(2026, 11, 23, 10, 0)
MOBILES = ["13800000001", "13800000002", "13800000003", "13800000004", "13800000005"]


class FakeSender:
    """Records what it sends; ``errors`` are raised first, one per send."""

    channel = "gsm"

    def __init__(self, errors: list[SmsError] | None = None) -> None:
        self.sent: list[Outgoing] = []
        self.errors = list(errors or [])

    def send(self, message: Outgoing) -> str:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(message)
        return f"ref{len(self.sent)}"

    def test(self) -> str:
        return "ok"

    def close(self) -> None:
        pass


@pytest.fixture
def people(clinic: Clinic, user: Actor) -> list[int]:
    """Five customers registered by ``user``; the fourth opted out, the fifth has a landline."""
    ids = [customers.register_customer(clinic, user, name=f"顾客{i + 1}", mobile=m, now=NOW)
           for i, m in enumerate(MOBILES)]
    with clinic.write() as s:
        s.get(Customer, ids[3]).sms_opt_in = False  # type: ignore[union-attr]
        s.get(Customer, ids[4]).mobile = "02167891234"  # type: ignore[union-attr]  # imported data
    return ids


def _template(clinic: Clinic, actor: Actor, kind: str = "manual", body: str = "{姓名}您好，{诊所}欢迎您",
              name: str | None = None, **codes: str) -> int:
    return sms.save_template(clinic, actor, None, {"kind": kind, "name": name or f"模板{kind}", "body": body, **codes})


def _rows(clinic: Clinic) -> list[SmsMessage]:
    with clinic.read() as s:
        rows = list(s.scalars(select(SmsMessage).order_by(SmsMessage.id)))
        s.expunge_all()  # detached before the read session's rollback expires them
        return rows


def _gsm(clinic: Clinic, actor: Actor, port: str, **extra: object) -> None:
    sms.save_channel_settings(clinic, actor, {"channel": "gsm", "gsm_port": port, **extra})


# --- templates ----------------------------------------------------------------------------------------


def test_templates_validate_and_render(clinic: Clinic, user: Actor, people: list[int]) -> None:
    with pytest.raises(ValidationError) as e:
        sms.save_template(clinic, user, None, {"kind": "nope", "name": "", "body": "{姓名}{电话}", "aliyun_code": "中文"})
    assert set(e.value.errors) == {"kind", "name", "body", "aliyun_code"}
    assert "{电话}" in e.value.errors["body"] and "{姓名}" in e.value.errors["body"]
    tid = _template(clinic, user, body="{姓名}您好，{诊所}提醒您：明天{项目}")
    with pytest.raises(ValidationError) as e:
        _template(clinic, user, name="模板manual")
    assert "已有" in e.value.errors["name"]
    assert sms.render_for_customer(clinic, user, tid, people[0]) == "顾客1您好，测试诊所提醒您：明天"
    assert sms.fields_in("{姓名}{日期}{姓名}") == ["姓名", "日期"]
    sms.set_template_active(clinic, user, tid, False)
    assert sms.list_templates(clinic, user) == []
    assert [t.id for t in sms.list_templates(clinic, user, include_inactive=True)] == [tid]
    sms.delete_template(clinic, user, tid)
    assert sms.list_templates(clinic, user, include_inactive=True) == []


def test_a_template_sent_by_hand_uses_the_next_appointment(clinic: Clinic, user: Actor) -> None:
    sms.ensure_default_templates(clinic)
    tid = next(t.id for t in sms.list_templates(clinic, user) if t.kind == "appointment")
    cid = customers.register_customer(clinic, user, name="王丽", mobile="13700000001", now=NOW,
                                      appointment_at=datetime(2026, 11, 28, 15, 0), appointment_items="水光针")
    expected = "王丽您好，您预约了11月28日 15:00到测试诊所（水光针），请准时到店。如需改期请来电。"
    assert sms.render_for_customer(clinic, user, tid, cid, now=NOW) == expected
    sms.enqueue_one(clinic, user, customer_id=cid, template_id=tid, kind="appointment", now=NOW)
    row = _rows(clinic)[0]
    assert row.text == expected and json.loads(row.params)["项目"] == "水光针"


def test_default_templates_are_added_once(clinic: Clinic, user: Actor) -> None:
    assert sms.ensure_default_templates(clinic) == 5
    for t in sms.list_templates(clinic, user):
        sms.delete_template(clinic, user, t.id)
    assert sms.ensure_default_templates(clinic) == 0  # deleted on purpose: not added back


def test_templates_need_the_settings_page(clinic: Clinic, admin: Actor) -> None:
    phone_only = make_user(clinic, admin, "phone", pages=[Page.PHONE])
    assert sms.list_templates(clinic, phone_only) == []  # reading: the send dialog needs them
    with pytest.raises(PermissionDenied):
        _template(clinic, phone_only)
    with pytest.raises(PermissionDenied):
        sms.channel_settings(clinic, phone_only)


# --- enqueueing ---------------------------------------------------------------------------------------


def test_enqueue_one_respects_opt_out_numbers_and_scope(clinic: Clinic, admin: Actor, user: Actor,
                                                        people: list[int]) -> None:
    tid = _template(clinic, user)
    mid = sms.enqueue_one(clinic, user, customer_id=people[0], template_id=tid, now=NOW)
    [row] = _rows(clinic)
    assert (row.id, row.number, row.text, row.status, row.kind) == (mid, MOBILES[0], "顾客1您好，测试诊所欢迎您",
                                                                    "queued", "manual")
    assert json.loads(row.params) == {"姓名": "顾客1", "诊所": "测试诊所"} and row.created_by_id == user.user_id
    with pytest.raises(ValidationError) as e:
        sms.enqueue_one(clinic, user, customer_id=people[3], text="hi")
    assert "拒收" in e.value.errors["customer"]
    with pytest.raises(ValidationError) as e:
        sms.enqueue_one(clinic, user, customer_id=people[4], text="hi")
    assert "手机号" in e.value.errors["customer"]
    with pytest.raises(ValidationError) as e:
        sms.enqueue_one(clinic, user, number="021-6789 1234", text="hi")
    assert "手机号" in e.value.errors["number"]
    with pytest.raises(ValidationError) as e:
        sms.enqueue_one(clinic, user, number="+86 139 0000 0000", text="  ")
    assert e.value.errors == {"text": "请填写短信内容"}
    sms.enqueue_one(clinic, user, number="+86 139 0000 0000", text="您好")
    assert _rows(clinic)[-1].number == "13900000000"
    own = make_user(clinic, admin, "own", scope=DataScope.OWN)
    with pytest.raises(NotFound):
        sms.enqueue_one(clinic, own, customer_id=people[0], text="hi")
    no_phone = make_user(clinic, admin, "nophone", pages=[Page.CUSTOMERS])
    with pytest.raises(PermissionDenied):
        sms.enqueue_one(clinic, no_phone, customer_id=people[0], text="hi")


def test_enqueue_filtered_skips_and_counts_opt_outs_and_landlines(clinic: Clinic, admin: Actor, user: Actor,
                                                                   people: list[int]) -> None:
    tid = _template(clinic, user, kind="marketing", body="{姓名}您好，本月活动。拒收请回复R")
    query = CustomerQuery(text="", tab="all")
    preview = sms.preview_filtered(clinic, user, query)
    assert (preview.matched, preview.opted_out, preview.not_mobile, preview.sendable) == (5, 1, 1, 3)
    result = sms.enqueue_filtered(clinic, user, query, template_id=tid, now=NOW)
    assert (result.queued, result.opted_out, result.not_mobile) == (3, 1, 1)
    rows = _rows(clinic)
    assert [r.number for r in rows] == MOBILES[:3]
    assert [r.text for r in rows] == [f"顾客{i}您好，本月活动。拒收请回复R" for i in (1, 2, 3)]
    assert {r.batch_key for r in rows} == {result.batch_key} and {r.kind for r in rows} == {"marketing"}
    with clinic.read() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "sms.batch"))
        assert entry is not None and json.loads(entry.after or "{}")["queued"] == 3
    # The grid's own conditions: a name search narrows the list.
    assert sms.preview_filtered(clinic, user, CustomerQuery(text="顾客2")).matched == 1
    # Scope: an "own customers" account reaches only the customers it registered.
    own = make_user(clinic, admin, "own", scope=DataScope.OWN)
    assert sms.preview_filtered(clinic, own, query).matched == 0
    customers.register_customer(clinic, own, name="自己的", mobile="13900000009", now=NOW)
    assert sms.enqueue_filtered(clinic, own, query, template_id=tid, now=NOW).queued == 1
    # The log is scoped too.
    assert [r.customer_name for r in sms.list_messages(clinic, own)] == ["自己的"]
    assert sms.count_messages(clinic, user) == 4


def test_batch_with_nobody_to_send_to_is_refused(clinic: Clinic, user: Actor, people: list[int]) -> None:
    tid = _template(clinic, user)
    with pytest.raises(ValidationError) as e:
        sms.enqueue_filtered(clinic, user, CustomerQuery(text="顾客4"), template_id=tid)
    assert "没有可以发送" in e.value.errors["query"]


# --- the pump -----------------------------------------------------------------------------------------


def test_daily_limit_keeps_the_rest_queued_until_tomorrow(clinic: Clinic, user: Actor, people: list[int]) -> None:
    sms.save_channel_settings(clinic, user, {"channel": "gsm", "gsm_port": "/dev/null", "daily_limit": "2"})
    for cid in people[:3]:
        sms.enqueue_one(clinic, user, customer_id=cid, text="明天见", now=NOW)
    sender = FakeSender()
    first = sms.pump(clinic, sender, NOW)
    assert (first.sent, first.limit_reached) == (2, True)
    assert [r.status for r in _rows(clinic)] == ["sent", "sent", "queued"]
    assert sms.pump(clinic, sender, NOW + timedelta(hours=5)).sent == 0  # still today: nothing dropped
    assert _rows(clinic)[2].status == "queued"
    counts = sms.counts(clinic, user, now=NOW)
    assert (counts.sent_today, counts.daily_limit, counts.limit_reached) == (2, 2, True)
    assert counts.by_status["queued"] == 1
    tomorrow = datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time()) + timedelta(hours=8)
    assert sms.pump(clinic, sender, tomorrow).sent == 1
    assert [r.status for r in _rows(clinic)] == ["sent"] * 3


@needs_pty
def test_pump_sends_through_the_gsm_modem_on_the_simulator(clinic: Clinic, user: Actor, people: list[int]) -> None:
    sim = GsmModemSimulator()
    try:
        _gsm(clinic, user, sim.port)
        long_text = "术后请保持清洁，避免辛辣饮食。" * 6  # 90 characters: two parts
        sms.enqueue_one(clinic, user, customer_id=people[0], text="您好，明天见", now=NOW)
        sms.enqueue_one(clinic, user, customer_id=people[1], text=long_text, now=NOW)
        sender = sms.make_sender(sms.read_channel(clinic))
        assert sender is not None
        try:
            result = sms.pump(clinic, sender, NOW)
        finally:
            sender.close()
        assert result.sent == 2
        assert sim.messages() == [(MOBILES[0], "您好，明天见"), (MOBILES[1], long_text)]
        rows = _rows(clinic)
        assert [(r.status, r.channel, r.attempts, r.sent_at) for r in rows] == [("sent", "gsm", 1, NOW)] * 2
        assert rows[0].reference == "1" and rows[1].reference == "2,3"
        log = sms.list_messages(clinic, user)
        assert log[0].number == "138****0002" and log[0].parts == 2 and log[0].status_label == "已发送"
    finally:
        sim.close()


def _platform_template(clinic: Clinic, actor: Actor) -> int:
    return _template(clinic, actor, kind="appointment", body="{姓名}您好，请于{日期}{时间}到{诊所}",
                     aliyun_code="SMS_1001", tencent_code="2001")


def test_pump_sends_through_aliyun_against_the_platform_server(clinic: Clinic, user: Actor,
                                                              people: list[int]) -> None:
    with SmsPlatformServer(aliyun=("LTAI-key", "aliyun-secret"), sign_names={"美客诊所"}) as server:
        sms.save_channel_settings(clinic, user, {"channel": "aliyun", "aliyun_key_id": "LTAI-key",
                                                 "aliyun_secret": "aliyun-secret", "aliyun_sign": "美客诊所",
                                                 "aliyun_endpoint": server.url})
        with pytest.raises(ValidationError) as e:  # a platform sends approved templates only
            sms.enqueue_one(clinic, user, customer_id=people[0], text="随便写的")
        assert "模板" in e.value.errors["template"]
        tid = _platform_template(clinic, user)
        with pytest.raises(ValidationError) as e:
            sms.enqueue_one(clinic, user, customer_id=people[0], template_id=tid, text="改过的内容")
        assert "原文" in e.value.errors["text"]
        sms.enqueue_one(clinic, user, customer_id=people[0], template_id=tid, now=NOW)
        sender = sms.make_sender(sms.read_channel(clinic))
        assert sender is not None and sms.pump(clinic, sender, NOW).sent == 1
        [msg] = server.messages
        assert (msg.platform, msg.phone, msg.sign_name, msg.template) == ("aliyun", MOBILES[0], "美客诊所", "SMS_1001")
        assert msg.params == {"name": "顾客1", "date": "", "time": "", "clinic": "测试诊所"}
        assert _rows(clinic)[0].reference == "1^0"
        assert "AccessKey 有效" in sms.test_channel(clinic, user)
        sms.save_channel_settings(clinic, user, {"aliyun_secret": "wrong-secret"})
        with pytest.raises(SmsError) as err:
            sms.test_channel(clinic, user)
        assert "AccessKey Secret 不正确" in err.value.message


def test_pump_sends_through_tencent_and_throttling_is_retried(clinic: Clinic, user: Actor,
                                                              people: list[int]) -> None:
    with SmsPlatformServer(tencent=("AKID-x", "tencent-key"), sdk_app_id="1400123456") as server:
        sms.save_channel_settings(clinic, user, {"channel": "tencent", "tencent_secret_id": "AKID-x",
                                                 "tencent_secret_key": "tencent-key", "tencent_app_id": "1400123456",
                                                 "tencent_sign": "美客", "tencent_endpoint": server.url})
        tid = _platform_template(clinic, user)
        sms.enqueue_one(clinic, user, customer_id=people[1], template_id=tid, now=NOW)
        sender = sms.make_sender(sms.read_channel(clinic))
        assert sender is not None
        server.fail_with("RequestLimitExceeded")
        assert sms.pump(clinic, sender, NOW).retried == 1
        row = _rows(clinic)[0]
        assert (row.status, row.attempts, row.next_attempt_at) == ("queued", 1, NOW + timedelta(minutes=1))
        assert "请求过于频繁" in row.last_error
        assert sms.pump(clinic, sender, NOW + timedelta(seconds=30)).sent == 0  # not due yet
        assert sms.pump(clinic, sender, NOW + timedelta(minutes=1)).sent == 1
        [msg] = server.messages
        assert (msg.phone, msg.template, msg.params) == ("+86" + MOBILES[1], "2001", ["顾客2", "", "", "测试诊所"])
        assert "密钥和 SdkAppId 有效" in sms.test_channel(clinic, user)


@needs_pty
def test_modem_unplugged_mid_send_keeps_the_message_queued_until_replugged(clinic: Clinic, user: Actor,
                                                                           people: list[int]) -> None:
    sim = GsmModemSimulator()
    sim.unplug_after = 0  # the pty closes when the first PDU arrives
    jobs = sms_jobs.SmsJobs(clinic, make_sender=lambda st: sms.GsmSender(st.gsm_port, timeout=1.0, send_timeout=1.0))
    try:
        _gsm(clinic, user, sim.port)
        sms.enqueue_one(clinic, user, customer_id=people[0], text="您好", now=NOW)
        started = time.monotonic()
        result = jobs.pump_once(NOW)
        assert result.retried == 1 and time.monotonic() - started < 5
        row = _rows(clinic)[0]
        assert (row.status, row.attempts, row.next_attempt_at) == ("queued", 1, NOW + timedelta(minutes=1))
        assert row.last_error and "重试" in row.last_error
        assert jobs.pump_once(NOW + timedelta(minutes=1)).retried == 1  # still unplugged: still queued
        assert _rows(clinic)[0].status == "queued"
        replugged = GsmModemSimulator()  # plugged in again (a new device path)
        try:
            _gsm(clinic, user, replugged.port)
            assert jobs.pump_once(NOW + timedelta(minutes=10)).sent == 1
            assert replugged.messages() == [(MOBILES[0], "您好")]
            row = _rows(clinic)[0]
            assert (row.status, row.attempts, row.last_error) == ("sent", 3, "")
        finally:
            jobs.shutdown(wait=True)
            replugged.close()
    finally:
        sim.close()


@needs_pty
def test_non_retryable_modem_error_fails_with_the_chinese_message(clinic: Clinic, user: Actor,
                                                                  people: list[int]) -> None:
    sim = GsmModemSimulator(fail_with=1)  # +CMS ERROR: 1, unassigned number
    try:
        _gsm(clinic, user, sim.port)
        sms.enqueue_one(clinic, user, customer_id=people[0], text="您好", now=NOW)
        sms.enqueue_one(clinic, user, customer_id=people[1], text="您好", now=NOW)
        sender = sms.make_sender(sms.read_channel(clinic))
        assert sender is not None
        try:
            result = sms.pump(clinic, sender, NOW)
        finally:
            sender.close()
        assert result.failed == 2  # a bad number does not stop the others
        assert [(r.status, r.last_error) for r in _rows(clinic)] == [("failed", "对方号码是空号")] * 2
        sms.retry(clinic, user, _rows(clinic)[0].id, now=NOW)
        assert _rows(clinic)[0].status == "queued" and _rows(clinic)[0].attempts == 0
    finally:
        sim.close()


def test_retryable_errors_give_up_after_the_last_attempt(clinic: Clinic, user: Actor, people: list[int]) -> None:
    sms.enqueue_one(clinic, user, customer_id=people[0], text="您好", now=NOW)
    sender = FakeSender([SmsError("CMS:332", "网络超时", True) for _ in range(sms.MAX_ATTEMPTS)])
    when = NOW
    delays = []
    for _ in range(sms.MAX_ATTEMPTS):
        sms.pump(clinic, sender, when)
        row = _rows(clinic)[0]
        delays.append(row.next_attempt_at - when)
        when = row.next_attempt_at
    assert row.status == "failed" and row.attempts == sms.MAX_ATTEMPTS and "已重试 6 次" in row.last_error
    assert delays[:5] == [timedelta(minutes=m) for m in (1, 5, 15, 60, 60)]


def test_recover_after_a_crash_mid_send(clinic: Clinic, user: Actor, people: list[int]) -> None:
    sms.enqueue_one(clinic, user, customer_id=people[0], text="您好", now=NOW)

    class Crash(BaseException):
        pass

    class Crashing(FakeSender):
        def send(self, message: Outgoing) -> str:
            raise Crash  # the program dies between "sending" and the outcome

    with pytest.raises(Crash):
        sms.pump(clinic, Crashing(), NOW)
    assert _rows(clinic)[0].status == "sending"
    assert sms.recover(clinic, NOW + timedelta(minutes=1)) == 0  # maybe another PC still sending
    assert sms.recover(clinic, NOW + timedelta(minutes=1), stale_after=timedelta(0)) == 1
    row = _rows(clinic)[0]
    assert row.status == "queued" and "重新排队" in row.last_error
    sender = FakeSender()
    assert sms.pump(clinic, sender, NOW + timedelta(minutes=1)).sent == 1 and sender.sent[0].text == "您好"


def test_cancel_and_opt_out_after_queueing(clinic: Clinic, user: Actor, people: list[int]) -> None:
    a = sms.enqueue_one(clinic, user, customer_id=people[0], text="一", now=NOW)
    sms.enqueue_one(clinic, user, customer_id=people[1], text="二", now=NOW)
    sms.cancel(clinic, user, a)
    with clinic.write() as s:  # the customer opts out after the message was queued
        s.get(Customer, people[1]).sms_opt_in = False  # type: ignore[union-attr]
    result = sms.pump(clinic, FakeSender(), NOW)
    assert (result.sent, result.cancelled) == (0, 1)
    assert [r.status for r in _rows(clinic)] == ["cancelled", "cancelled"]
    assert "拒收" in _rows(clinic)[1].last_error
    with pytest.raises(ValidationError):
        sms.cancel(clinic, user, a)


def test_cancel_a_batch(clinic: Clinic, user: Actor, people: list[int]) -> None:
    tid = _template(clinic, user, kind="marketing")
    batch = sms.enqueue_filtered(clinic, user, CustomerQuery(), template_id=tid, now=NOW)
    sms.pump(clinic, FakeSender(), NOW, max_messages=1)
    assert sms.cancel_batch(clinic, user, batch.batch_key) == 2
    assert [r.status for r in _rows(clinic)] == ["sent", "cancelled", "cancelled"]


# --- channel settings ---------------------------------------------------------------------------------


def test_channel_settings_keep_secrets_hidden(clinic: Clinic, user: Actor) -> None:
    with pytest.raises(ValidationError) as e:
        sms.save_channel_settings(clinic, user, {"channel": "aliyun", "aliyun_endpoint": "ftp://x"})
    assert set(e.value.errors) == {"aliyun_key_id", "aliyun_secret", "aliyun_sign", "aliyun_endpoint"}
    with pytest.raises(ValidationError) as e:
        sms.save_channel_settings(clinic, user, {"channel": "gsm", "gsm_baud": "12345", "daily_limit": "0"})
    assert set(e.value.errors) == {"gsm_port", "gsm_baud", "daily_limit"}
    view = sms.save_channel_settings(clinic, user, {"channel": "aliyun", "aliyun_key_id": "LTAI5tAbc",
                                                    "aliyun_secret": "s3cr3t-value-9876", "aliyun_sign": "美客"})
    assert view.settings.aliyun_secret == "" and "9876" in view.secret_hints["aliyun_secret"]
    assert "s3cr3t" not in view.secret_hints["aliyun_secret"]
    sms.save_channel_settings(clinic, user, {"aliyun_secret": "", "daily_limit": "100"})  # empty: keep it
    assert sms.read_channel(clinic).aliyun_secret == "s3cr3t-value-9876"
    assert sms.read_channel(clinic).daily_limit == 100
    with clinic.read() as s:
        texts = [e.before or "" for e in s.scalars(select(AuditEntry))] + \
                [e.after or "" for e in s.scalars(select(AuditEntry))]
    assert not any("s3cr3t" in t for t in texts) and any("sms.channel" in a for a in
                                                          [e.action for e in _audit(clinic)])
    view = sms.save_channel_settings(clinic, user, {"channel": "gsm", "gsm_port": "COM5"}, hostname="front-desk")
    assert view.settings.gsm_host == "front-desk"


def _audit(clinic: Clinic) -> list[AuditEntry]:
    with clinic.read() as s:
        rows = list(s.scalars(select(AuditEntry)))
        s.expunge_all()
        return rows


@needs_pty
def test_test_connection_reports_the_modem_status(clinic: Clinic, user: Actor) -> None:
    sim = GsmModemSimulator()
    try:
        _gsm(clinic, user, sim.port)
        assert sms_jobs.test_connection(clinic, user).startswith("短信猫就绪：SIM 卡正常")
        sim.remove_sim()
        with pytest.raises(SmsError) as e:
            sms_jobs.test_connection(clinic, user)
        assert "SIM" in e.value.message
    finally:
        sim.close()


def test_a_modem_on_another_pc_is_left_alone(clinic: Clinic, user: Actor, people: list[int]) -> None:
    sms.save_channel_settings(clinic, user, {"channel": "gsm", "gsm_port": "COM5"}, hostname="front-desk")
    sms.enqueue_one(clinic, user, customer_id=people[0], text="您好", now=NOW)
    made: list[ChannelSettings] = []
    jobs = sms_jobs.SmsJobs(clinic, hostname="back-office", make_sender=lambda st: made.append(st) or FakeSender())
    assert jobs.pump_once(NOW).sent == 0 and made == []
    jobs = sms_jobs.SmsJobs(clinic, hostname="front-desk", make_sender=lambda st: made.append(st) or FakeSender())
    assert jobs.pump_once(NOW).sent == 1 and len(made) == 1


# --- the scheduler jobs -------------------------------------------------------------------------------


def test_appointment_reminders_are_queued_once(clinic: Clinic, user: Actor) -> None:
    sms.ensure_default_templates(clinic)
    tomorrow = NOW.date() + timedelta(days=1)
    booked = customers.register_customer(clinic, user, name="王丽", mobile="13700000001", now=NOW,
                                         appointment_at=datetime.combine(tomorrow, datetime.min.time()).replace(hour=14, minute=30),
                                         appointment_items="光子嫩肤")
    customers.register_customer(clinic, user, name="李娜", mobile="13700000002", now=NOW,
                                appointment_at=datetime(2026, 11, 26, 10, 0))  # not tomorrow
    opted = customers.register_customer(clinic, user, name="赵敏", mobile="13700000003", now=NOW,
                                        appointment_at=datetime.combine(tomorrow, datetime.min.time()).replace(hour=9),
                                        sms_opt_in=False)
    assert sms_jobs.queue_appointment_reminders(clinic, NOW) == 1
    assert sms_jobs.queue_appointment_reminders(clinic, NOW + timedelta(hours=3)) == 0  # once
    [row] = _rows(clinic)
    assert (row.customer_id, row.kind, row.created_by_id) == (booked, "appointment", None)
    assert row.dedupe_key is not None and row.dedupe_key.endswith(f":{tomorrow.isoformat()}")
    assert row.text == "王丽您好，您预约了11月24日 14:30到测试诊所（光子嫩肤），请准时到店。如需改期请来电。"
    assert opted not in [r.customer_id for r in _rows(clinic)]
    # Several workstations running the job at once still queue it once.
    threads = [threading.Thread(target=sms_jobs.queue_appointment_reminders, args=(clinic, NOW)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(_rows(clinic)) == 1
    assert sms.list_messages(clinic, user)[0].created_by == "系统（自动）"


def test_cancelled_appointment_reminder_is_not_sent(clinic: Clinic, user: Actor) -> None:
    from meike.models import Appointment

    sms.ensure_default_templates(clinic)
    tomorrow = datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time()).replace(hour=10)
    customers.register_customer(clinic, user, name="王丽", mobile="13700000001", now=NOW, appointment_at=tomorrow)
    assert sms_jobs.queue_appointment_reminders(clinic, NOW) == 1
    with clinic.write() as s:
        for a in s.scalars(select(Appointment)):
            a.status = "cancelled"
    result = sms.pump(clinic, FakeSender(), NOW)
    assert (result.sent, result.cancelled) == (0, 1)


def test_postop_and_birthday_messages_are_queued_once(clinic: Clinic, user: Actor) -> None:
    sms.ensure_default_templates(clinic)
    cid = customers.register_customer(clinic, user, name="周芳", mobile="13700000005", now=NOW,
                                      birthday=date(1990, NOW.month, NOW.day))
    leap = customers.register_customer(clinic, user, name="闰年", mobile="13700000006", now=NOW,
                                       birthday=date(1992, 2, 29))
    with clinic.write() as s:
        item = Item(name="双眼皮", pinyin_code="SYP", price_fen=100, min_price_fen=100)
        s.add(item)
        s.flush()
        treatment = Treatment(customer_id=cid, item_id=item.id, item_name="双眼皮", price_fen=100,
                              performed_on=NOW.date() - timedelta(days=2), created_at=NOW)
        s.add(treatment)
        s.flush()
        s.add(Reminder(customer_id=cid, kind="postop", due_date=NOW.date(), treatment_id=treatment.id, created_at=NOW))
        s.add(Reminder(customer_id=cid, kind="postop", due_date=NOW.date() + timedelta(days=5), created_at=NOW))
        s.add(Reminder(customer_id=cid, kind="chase", due_date=NOW.date(), created_at=NOW))
    assert sms_jobs.queue_daily(clinic, NOW) == {"appointment": 0, "postop": 1, "birthday": 1}
    assert sms_jobs.queue_daily(clinic, NOW + timedelta(hours=1)) == {"appointment": 0, "postop": 0, "birthday": 0}
    texts = {r.kind: r.text for r in _rows(clinic)}
    assert texts["postop"].startswith("周芳您好，测试诊所提醒您：双眼皮术后")
    assert texts["birthday"] == "周芳您好，测试诊所全体员工祝您生日快乐，美丽常驻！"
    assert sms_jobs.queue_birthday_greetings(clinic, datetime(2027, 2, 28, 9)) == 1  # 29 Feb, not a leap year
    assert _rows(clinic)[-1].customer_id == leap


def test_jobs_run_on_the_scheduler_and_pump_the_queue(clinic: Clinic, user: Actor, people: list[int]) -> None:
    sms.save_channel_settings(clinic, user, {"channel": "gsm", "gsm_port": "COM9"})
    sender = FakeSender()
    jobs = sms_jobs.SmsJobs(clinic, interval=0.2, make_sender=lambda _st: sender)
    done = threading.Event()
    jobs.subscribe(lambda result: done.set() if result.sent else None)
    jobs.start()
    try:
        assert sms_jobs.running(clinic) is jobs
        sms.enqueue_one(clinic, user, customer_id=people[0], text="您好")
        sms_jobs.request_pump(clinic)
        assert done.wait(5)
        assert [m.text for m in sender.sent] == ["您好"]
        assert threading.current_thread() is threading.main_thread()
    finally:
        jobs.shutdown(wait=True)
    assert sms_jobs.running(clinic) is None


@pytest.fixture(autouse=True)
def _no_running_jobs() -> Iterator[None]:
    yield
    assert not sms_jobs._running
