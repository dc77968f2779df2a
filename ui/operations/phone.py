"""电话管理 actions: the call log and its notes, the caller's card and 显示, and the phone listener's call
records — one small function per user action (or per event of the line)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PySide6.QtWidgets import QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.services import customers, phone
from meike.services.phone import CallerCard, CallRow
from ui.operations import Op, read


def count_calls(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[int]:
    return read(parent, lambda: phone.count_calls(clinic, actor))


def list_calls(parent: QWidget | None, clinic: Clinic, actor: Actor, offset: int, limit: int) -> Op[list[CallRow]]:
    return read(parent, lambda: phone.list_calls(clinic, actor, offset=offset, limit=limit))


def save_note(parent: QWidget, clinic: Clinic, actor: Actor, call_id: int, note: str) -> Op[None]:
    return Op(parent, lambda: phone.set_note(clinic, actor, call_id, note))


def caller_card(parent: QWidget | None, clinic: Clinic, actor: Actor, number: str) -> Op[CallerCard | None]:
    return read(parent, lambda: phone.caller_card(clinic, actor, number))


def reveal_customer_mobile(parent: QWidget, clinic: Clinic, actor: Actor, customer_id: int) -> Op[str]:
    """显示 on the pop-up of a known caller: their mobile, logged."""
    return Op(parent, lambda: customers.reveal(clinic, actor, customer_id, "mobile"))


def reveal_call_number(parent: QWidget, clinic: Clinic, actor: Actor, call_id: int) -> Op[str]:
    """显示 on the pop-up of an unknown caller: the call's number, logged."""
    return Op(parent, lambda: phone.reveal_call_number(clinic, actor, call_id))


# --- the listener's call records -------------------------------------------------------------------
# They run on the database lane, one after another: a hang-up reported a moment after the ring waits
# behind the insert of its record, and reads the record's id from ``CallRecord`` there.


@dataclass
class CallRecord:
    """A call's record id, set by its insert on the database lane (None until then, or if it failed)."""

    id: int | None = None


def record_call(clinic: Clinic, actor: Actor, number: str, started_at: datetime, record: CallRecord) -> Op[int]:
    def run() -> int:
        record.id = phone.record_call(clinic, actor, number, started_at=started_at)
        return record.id

    return Op(None, run).busy()


def answer_call(clinic: Clinic, actor: Actor, record: CallRecord, at: datetime) -> Op[bool]:
    def run() -> bool:
        if record.id is None:
            return False  # the insert failed (reported already)
        phone.answer_call(clinic, actor, record.id, answered_at=at)
        return True

    return Op(None, run).busy()


def finish_call(clinic: Clinic, actor: Actor, record: CallRecord, at: datetime, missed: bool) -> Op[bool]:
    def run() -> bool:
        if record.id is None:
            return False
        phone.finish_call(clinic, actor, record.id, ended_at=at, missed=missed)
        return True

    return Op(None, run).busy()


def attach_recording(clinic: Clinic, actor: Actor, record: CallRecord, path: str) -> Op[bool]:
    def run() -> bool:
        if record.id is None:
            return False
        phone.attach_recording(clinic, actor, record.id, path)
        return True

    return Op(None, run).busy()
