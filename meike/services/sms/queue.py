"""Putting messages on the outgoing queue: one, a filtered batch of customers, system reminders."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import Select, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import ValidationError
from meike.models import Customer, SystemSetting
from meike.models.sms import MESSAGE_KINDS, SmsMessage, SmsTemplate
from meike.permissions import Actor
from meike.rules.text import clean_text, normalise_text, search_text
from meike.rules.validation import MOBILE_RE, normalise_mobile
from meike.services import audit
from meike.services.customers import CustomerQuery, guard_search, load_in_scope, tab_query
from meike.services.sms.channels import load_channel
from meike.services.sms.common import CHANNEL_LABELS, FIELDS, MAX_BATCH, MAX_TEXT, _require_send
from meike.services.sms.sending import day_start
from meike.services.sms.templates import fields_in, render

log = logging.getLogger(__name__)

# --- enqueueing -----------------------------------------------------------------------------------


def clinic_name_in(s: Session) -> str:
    row = s.get(SystemSetting, "clinic.name")
    return row.value if row is not None else ""


def customer_values(s: Session, customer: Customer, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    values = {"姓名": customer.name, "诊所": clinic_name_in(s), "日期": "", "时间": "", "项目": ""}
    values.update(extra or {})
    return values


def next_appointment_values(s: Session, customer_id: int, now: datetime) -> dict[str, str]:
    """{日期} {时间} {项目} of the customer's next booked appointment (a message sent by hand)."""
    from meike.models import Appointment

    a = s.scalar(select(Appointment).where(Appointment.customer_id == customer_id, Appointment.status == "booked",
                                           Appointment.appointment_at >= day_start(now))
                 .order_by(Appointment.appointment_at, Appointment.id).limit(1))
    if a is None:
        return {}
    return {"日期": format_day(a.appointment_at.date()), "时间": f"{a.appointment_at:%H:%M}", "项目": a.items}


def format_day(day: date) -> str:
    return f"{day.month}月{day.day}日"


def _params(body: str, values: Mapping[str, str]) -> dict[str, str]:
    return {name: str(values.get(name, "")) for name in fields_in(body) if name in FIELDS}


def _active_template(s: Session, template_id: int | None) -> SmsTemplate | None:
    if template_id is None:
        return None
    t = s.get(SmsTemplate, template_id)
    if t is None or not t.active:
        raise ValidationError.single("template", "短信模板不存在或已停用")
    return t


def _platform_check(s: Session, template: SmsTemplate | None, text: str, rendered: str | None) -> None:
    """A platform sends only its approved template: the text must be the template's, with its code."""
    channel = load_channel(s).channel
    if channel not in ("aliyun", "tencent"):
        return
    label = CHANNEL_LABELS[channel]
    if template is None:
        raise ValidationError.single("template", f"{label}只能发送已审核的模板，请选择模板")
    if not (template.aliyun_code if channel == "aliyun" else template.tencent_code):
        raise ValidationError.single("template", f"此模板还没有填写{label}的模板编号（系统管理 → 短信模板）")
    if rendered is not None and text != rendered:
        raise ValidationError.single("text", f"{label}只能发送模板原文，不能修改内容")


def _check_text(text: str) -> str:
    return clean_text(text, field="text", label="短信内容", limit=MAX_TEXT, multiline=True, required=True)


def _new_message(*, number: str, text: str, kind: str, now: datetime, template: SmsTemplate | None = None,
                 params: Mapping[str, str] | None = None, customer_id: int | None = None,
                 created_by_id: int | None = None, batch_key: str = "", dedupe_key: str | None = None) -> SmsMessage:
    return SmsMessage(customer_id=customer_id, number=number, text=text, kind=kind,
                      template_id=template.id if template is not None else None,
                      params=json.dumps(dict(params or {}), ensure_ascii=False), status="queued", attempts=0,
                      next_attempt_at=now, last_error="", created_at=now, created_by_id=created_by_id,
                      channel="", reference="", batch_key=batch_key, dedupe_key=dedupe_key)


def render_for_customer(clinic: Clinic, actor: Actor, template_id: int, customer_id: int, *,
                        now: datetime | None = None) -> str:
    """The template's text as this customer would receive it (the send dialog's preview); the date,
    time and item are those of the customer's next booked appointment, if any."""
    _require_send(actor)
    with clinic.read() as s:
        customer = load_in_scope(s, actor, customer_id)
        t = _active_template(s, template_id)
        assert t is not None
        return render(t.body, customer_values(s, customer, next_appointment_values(s, customer.id, now or clock.now())))


def enqueue_one(clinic: Clinic, actor: Actor, *, customer_id: int | None = None, number: str = "",
                text: str | None = None, template_id: int | None = None, kind: str = "manual",
                now: datetime | None = None) -> int:
    """发短信: queue one message to a customer in scope (their mobile) or to a typed mobile.

    ``text`` may be edited after choosing a template (GSM modem only; a platform sends the template
    as approved). An opted-out customer or a number that is not a mobile is refused.
    """
    _require_send(actor)
    if kind not in MESSAGE_KINDS:
        raise ValidationError.single("kind", "短信类型无效")
    now = now or clock.now()
    with clinic.write() as s:
        template = _active_template(s, template_id)
        values: dict[str, str] = {}
        if customer_id is not None:
            customer = load_in_scope(s, actor, customer_id)
            if not customer.sms_opt_in:
                raise ValidationError.single("customer", f"{customer.name}已设置拒收短信，不能发送")
            number = customer.mobile
            values = customer_values(s, customer, next_appointment_values(s, customer.id, now))
        else:
            number = normalise_mobile(number or "")
            values = {"诊所": clinic_name_in(s)}
        if not MOBILE_RE.match(number):
            raise ValidationError.single("number" if customer_id is None else "customer",
                                         "只能发送到 11 位手机号（固定电话收不到短信）")
        rendered = render(template.body, values) if template is not None else None
        final = _check_text(text if text is not None else (rendered or ""))
        _platform_check(s, template, final, rendered)
        message = _new_message(number=number, text=final, kind=kind, now=now, template=template,
                               params=_params(template.body, values) if template is not None else None,
                               customer_id=customer_id, created_by_id=actor.user_id)
        s.add(message)
        s.flush()
        return message.id


@dataclass(frozen=True)
class BatchPreview:
    """群发 before sending: who matches, who is skipped and why."""

    matched: int
    opted_out: int
    not_mobile: int

    @property
    def sendable(self) -> int:
        return self.matched - self.opted_out - self.not_mobile


@dataclass(frozen=True)
class BatchResult:
    batch_key: str
    queued: int
    opted_out: int
    not_mobile: int


def _batch_ids(actor: Actor, query: CustomerQuery) -> Select[Any]:
    """The customers of the grid's query (scope applied), each once."""
    return tab_query(actor, query).order_by(None).with_only_columns(Customer.id).distinct()


def _looks_mobile() -> Any:
    return (func.length(Customer.mobile) == 11) & Customer.mobile.like("1%")


def preview_filtered(clinic: Clinic, actor: Actor, query: CustomerQuery) -> BatchPreview:
    """How many customers the grid's query would reach, counted in the database."""
    _require_send(actor)
    search_text(query.text, field="query")  # the grid's search box: a sane length, no control characters
    guard_search(clinic, actor, query.text, field="query")  # a count is a number probe too
    ids = _batch_ids(actor, query).subquery()
    opted_out = Customer.sms_opt_in.is_(False)
    q = select(func.count(),
               func.coalesce(func.sum(case((opted_out, 1), else_=0)), 0),
               func.coalesce(func.sum(case((~opted_out & ~_looks_mobile(), 1), else_=0)), 0),
               ).select_from(Customer).where(Customer.id.in_(select(ids.c.id)))
    with clinic.read() as s:
        total, out, bad = s.execute(q).one()
    return BatchPreview(int(total), int(out), int(bad))


def enqueue_filtered(clinic: Clinic, actor: Actor, query: CustomerQuery, *, template_id: int,
                     body: str | None = None, kind: str = "marketing", now: datetime | None = None) -> BatchResult:
    """群发: one message per customer of the grid's query, the template's fields filled per customer.

    Opted-out customers and numbers that are not mobiles are skipped and counted. ``body`` may replace
    the template's text (same fields; GSM modem only). The send is written to the audit log.
    """
    _require_send(actor)
    if kind not in MESSAGE_KINDS:
        raise ValidationError.single("kind", "短信类型无效")
    now = now or clock.now()
    preview = preview_filtered(clinic, actor, query)
    if preview.sendable <= 0:
        raise ValidationError.single("query", "没有可以发送的顾客（都已拒收短信或没有手机号）")
    if preview.sendable > MAX_BATCH:
        raise ValidationError.single("query", f"一次最多群发 {MAX_BATCH:,} 人，当前 {preview.sendable:,} 人，请缩小查询条件")
    batch_key = f"{now:%Y%m%d%H%M%S}-{uuid4().hex[:8]}"
    with clinic.write() as s:
        template = _active_template(s, template_id)
        assert template is not None
        text_body = template.body if body is None else normalise_text(body, multiline=True)
        if body is not None:
            unknown = [f for f in fields_in(text_body) if f not in FIELDS]
            if unknown:
                raise ValidationError.single("text", f"未知字段 {{{unknown[0]}}}")
            _check_text(text_body)
        _platform_check(s, template, text_body, template.body)
        clinic_name = clinic_name_in(s)
        ids = _batch_ids(actor, query).subquery()
        rows = s.execute(select(Customer.id, Customer.name, Customer.mobile, Customer.sms_opt_in)
                         .where(Customer.id.in_(select(ids.c.id))).order_by(Customer.id))
        queued = opted_out = not_mobile = 0
        for cid, name, mobile, opt_in in rows:
            if not opt_in:
                opted_out += 1
                continue
            if not MOBILE_RE.match(mobile or ""):
                not_mobile += 1
                continue
            values = {"姓名": name, "诊所": clinic_name, "日期": "", "时间": "", "项目": ""}
            text = render(text_body, values)
            s.add(_new_message(number=mobile, text=text[:MAX_TEXT], kind=kind, now=now, template=template,
                               params=_params(text_body, values), customer_id=cid, created_by_id=actor.user_id,
                               batch_key=batch_key))
            queued += 1
        audit.record(s, actor, "sms.batch", "sms_message", None,
                     after={"batch_key": batch_key, "queued": queued, "opted_out": opted_out,
                            "not_mobile": not_mobile, "template": template.name, "kind": kind,
                            "query": {k: v for k, v in vars(query).items() if v not in (None, "")}})
        return BatchResult(batch_key, queued, opted_out, not_mobile)


def enqueue_system_in(s: Session, *, customer: Customer, template: SmsTemplate, kind: str, dedupe_key: str,
                      extra: Mapping[str, str] | None = None, now: datetime) -> bool:
    """A scheduler job's message (no acting user): queued once per ``dedupe_key``. False when skipped
    (already queued, opted out, not a mobile)."""
    if not customer.sms_opt_in or not MOBILE_RE.match(customer.mobile or ""):
        return False
    if s.scalar(select(SmsMessage.id).where(SmsMessage.dedupe_key == dedupe_key)) is not None:
        return False
    values = customer_values(s, customer, extra)
    message = _new_message(number=customer.mobile, text=render(template.body, values)[:MAX_TEXT], kind=kind,
                           now=now, template=template, params=_params(template.body, values),
                           customer_id=customer.id, dedupe_key=dedupe_key)
    try:
        with s.begin_nested():  # another workstation may have queued it a moment ago
            s.add(message)
            s.flush()
    except IntegrityError:
        return False
    return True
