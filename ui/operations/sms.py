"""短信 actions: the send log, 发短信 and 群发, cancel and resend — one small function per user action."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from meike import sms_jobs
from meike.db import Clinic
from meike.permissions import Actor
from meike.services import customers, dictionaries, sms, system
from meike.services.customers import CustomerDetail, CustomerQuery
from meike.services.dictionaries import Entry, Kind
from meike.services.sms import BatchPreview, BatchResult, SmsCounts, SmsRow, Template
from ui.operations import Op, read


def count_messages(parent: QWidget | None, clinic: Clinic, actor: Actor, status: str | None) -> Op[int]:
    return read(parent, lambda: sms.count_messages(clinic, actor, status=status))


def list_messages(parent: QWidget | None, clinic: Clinic, actor: Actor, status: str | None, offset: int,
                  limit: int) -> Op[list[SmsRow]]:
    return read(parent, lambda: sms.list_messages(clinic, actor, status=status, offset=offset, limit=limit))


def counts(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[SmsCounts]:
    return read(parent, lambda: sms.counts(clinic, actor))


def cancel(parent: QWidget, clinic: Clinic, actor: Actor, message_id: int) -> Op[None]:
    return Op(parent, lambda: sms.cancel(clinic, actor, message_id))


def cancel_batch(parent: QWidget, clinic: Clinic, actor: Actor, batch_key: str) -> Op[int]:
    return Op(parent, lambda: sms.cancel_batch(clinic, actor, batch_key))


def retry(parent: QWidget, clinic: Clinic, actor: Actor, message_id: int) -> Op[None]:
    def run() -> None:
        sms.retry(clinic, actor, message_id)
        sms_jobs.request_pump(clinic)

    return Op(parent, run)


def subscribe_to_sending(clinic: Clinic, callback: Callable[[object], None]) -> Callable[[], None] | None:
    """Hear each round of sending (``callback`` on the sender's thread); returns the unsubscribe, or
    None when this program does not send."""
    jobs = sms_jobs.running(clinic)
    return jobs.subscribe(callback) if jobs is not None else None


@dataclass(frozen=True)
class SendForm:
    """What 发短信 shows before anything is typed: the customer (if one) and the templates."""

    customer: CustomerDetail | None
    templates: list[Template]


def send_form(parent: QWidget | None, clinic: Clinic, actor: Actor, customer_id: int | None) -> Op[SendForm]:
    return read(parent, lambda: SendForm(
        customers.get_customer(clinic, actor, customer_id) if customer_id is not None else None,
        sms.list_templates(clinic, actor)))


def render(parent: QWidget | None, clinic: Clinic, actor: Actor, template_id: int, customer_id: int | None,
           body: str) -> Op[str]:
    """A template's text for this customer (their next appointment too), or with the clinic's name only."""

    def run() -> str:
        if customer_id is not None:
            return sms.render_for_customer(clinic, actor, template_id, customer_id)
        return sms.render(body, {"诊所": str(system.get(clinic, "clinic.name"))})

    return read(parent, run)


def send_one(parent: QWidget, clinic: Clinic, actor: Actor, *, customer_id: int | None, number: str, text: str,
             template_id: int | None, kind: str) -> Op[int]:
    def run() -> int:
        message_id = sms.enqueue_one(clinic, actor, customer_id=customer_id, number=number, text=text,
                                     template_id=template_id, kind=kind)
        sms_jobs.request_pump(clinic)
        return message_id

    return Op(parent, run)


@dataclass(frozen=True)
class BatchForm:
    channels: list[Entry]
    templates: list[Template]


def batch_form(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[BatchForm]:
    return read(parent, lambda: BatchForm(dictionaries.list_entries(clinic, actor, Kind.CHANNEL),
                                          sms.list_templates(clinic, actor)))


def preview_batch(parent: QWidget | None, clinic: Clinic, actor: Actor, query: CustomerQuery) -> Op[BatchPreview]:
    return read(parent, lambda: sms.preview_filtered(clinic, actor, query))


def send_batch(parent: QWidget, clinic: Clinic, actor: Actor, query: CustomerQuery, *, template_id: int,
               body: str | None, kind: str) -> Op[BatchResult]:
    def run() -> BatchResult:
        result = sms.enqueue_filtered(clinic, actor, query, template_id=template_id, body=body, kind=kind)
        sms_jobs.request_pump(clinic)
        return result

    return Op(parent, run)
