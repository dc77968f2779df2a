"""The front desk's actions (挂号, 顾客管理, 顾客详情, 提醒, 操作台), one small function each.

Writes run on the database lane (``Op``), reads — lists, searches, counts, the choices of a form — on
the read lane (``read``); printing runs on the I/O lane. Nothing here touches a widget: the caller says
what to do with the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from meike import backup
from meike.backup import BackupStatus
from meike.db import Clinic
from meike.errors import MeikeError, PermissionDenied, ValidationError
from meike.permissions import Actor, Right
from meike.rules.customer_class import VisitType
from meike.services import accounts, customers, dictionaries, followups, receipting, records, triage
from meike.services.customers import AppointmentRow, CustomerDetail, CustomerQuery, CustomerRow
from meike.services.customers import DashboardCounts as CustomerCounts
from meike.services.dictionaries import Entry, Kind
from meike.services.followups import ReminderRow
from ui.operations import Op, read

Choices = list[tuple[int, str]]


# -- choices of the forms (read lane) -------------------------------------------------------------------


@dataclass
class ProfileChoices:
    """The lists of the customer's profile form (and the grid's filters)."""

    channels: list[Entry]
    info_sources: list[Entry]
    staff: list[Entry]
    member_levels: list[Entry]
    consultants: Choices = field(default_factory=list)

    @property
    def customer_service(self) -> list[Entry]:
        return [e for e in self.staff if {"customer_service", "online_consultant"} & set(e.fields["roles"])]


def profile_choices(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[ProfileChoices]:
    def fetch() -> ProfileChoices:
        return ProfileChoices(
            channels=dictionaries.list_entries(clinic, actor, Kind.CHANNEL),
            info_sources=dictionaries.list_entries(clinic, actor, Kind.INFO_SOURCE),
            staff=dictionaries.list_entries(clinic, actor, Kind.STAFF),
            member_levels=dictionaries.list_entries(clinic, actor, Kind.MEMBER_LEVEL))
    return read(parent, fetch)


def grid_choices(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[ProfileChoices]:
    def fetch() -> ProfileChoices:
        return ProfileChoices(channels=dictionaries.list_entries(clinic, actor, Kind.CHANNEL), info_sources=[],
                              staff=dictionaries.list_entries(clinic, actor, Kind.STAFF), member_levels=[],
                              consultants=triage.consultants(clinic, actor))
    return read(parent, fetch)


@dataclass
class TriageChoices:
    consultants: Choices
    suggested: VisitType | None


def triage_choices(parent: QWidget | None, clinic: Clinic, actor: Actor, customer_id: int,
                   suggest: bool) -> Op[TriageChoices]:
    return read(parent, lambda: TriageChoices(triage.consultants(clinic, actor),
                                              triage.suggest_type(clinic, actor, customer_id) if suggest else None))


@dataclass
class RecordChoices:
    staff: Choices  # consultants (咨询记录) or doctors (手术记录)
    assignees: Choices
    items: list[Entry] = field(default_factory=list)
    postop_days: list[int] = field(default_factory=list)


def consultation_choices(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[RecordChoices]:
    return read(parent, lambda: RecordChoices(records.staff_choices(clinic, actor, "onsite_consultant"),
                                              followups.assignees(clinic, actor)))


def treatment_choices(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[RecordChoices]:
    return read(parent, lambda: RecordChoices(records.staff_choices(clinic, actor, "doctor"),
                                              followups.assignees(clinic, actor),
                                              dictionaries.list_entries(clinic, actor, Kind.ITEM),
                                              records.postop_days(clinic)))


def assignees(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[Choices]:
    return read(parent, lambda: followups.assignees(clinic, actor))


# -- 挂号 ----------------------------------------------------------------------------------------------


def register(parent: QWidget, clinic: Clinic, actor: Actor, values: dict[str, Any], *,
             appointment_at: datetime | None, appointment_items: str) -> Op[int]:
    return Op(parent, lambda: customers.register_customer(clinic, actor, appointment_at=appointment_at,
                                                          appointment_items=appointment_items, **values))


def book(parent: QWidget, clinic: Clinic, actor: Actor, customer_id: int, at: datetime, items: str) -> Op[Any]:
    return Op(parent, lambda: customers.book_appointment(clinic, actor, customer_id, appointment_at=at, items=items))


# -- 顾客管理 ------------------------------------------------------------------------------------------


def search_page(clinic: Clinic, actor: Actor, query: CustomerQuery, offset: int, limit: int) -> Op[list[CustomerRow]]:
    return read(None, lambda: customers.search_customers(clinic, actor, query=query, offset=offset, limit=limit))


def count(clinic: Clinic, actor: Actor, query: CustomerQuery) -> Op[int]:
    return read(None, lambda: customers.count_customers(clinic, actor, query=query))


def arrive(parent: QWidget, clinic: Clinic, actor: Actor, customer_id: int, consultant_id: int | None,
           visit_type: str | None) -> Op[int]:
    return Op(parent, lambda: triage.arrive(clinic, actor, customer_id, consultant_id=consultant_id,
                                            visit_type=visit_type))


def reassign(parent: QWidget, clinic: Clinic, actor: Actor, visit_id: int, consultant_id: int | None) -> Op[int]:
    def run() -> int:
        triage.reassign(clinic, actor, visit_id, consultant_id=consultant_id)
        return visit_id
    return Op(parent, run)


def reject_visit(parent: QWidget, clinic: Clinic, actor: Actor, visit_id: int, reason: str) -> Op[None]:
    return Op(parent, lambda: triage.reject(clinic, actor, visit_id, reason=reason))


def restore_visit(parent: QWidget, clinic: Clinic, actor: Actor, visit_id: int) -> Op[None]:
    return Op(parent, lambda: triage.restore(clinic, actor, visit_id))


def print_arrival_label(parent: QWidget, clinic: Clinic, actor: Actor, visit_id: int) -> Op[Path | None]:
    op: Op[Path | None] = Op(parent, lambda: receipting.record_label_print(clinic, actor, visit_id)).then(
        receipting.deliver)  # recorded on the database lane, then sent on the I/O lane
    return op.busy()


# -- 顾客详情 ------------------------------------------------------------------------------------------


def customer(parent: QWidget | None, clinic: Clinic, actor: Actor, customer_id: int) -> Op[CustomerDetail]:
    return read(parent, lambda: customers.get_customer(clinic, actor, customer_id))


@dataclass
class DetailLists:
    """Each list of the detail, or the (Chinese) reason it may not be shown."""

    lists: dict[str, list[Any]]
    refused: dict[str, str]


def detail_lists(parent: QWidget | None, clinic: Clinic, actor: Actor, customer_id: int) -> Op[DetailLists]:
    def fetch() -> DetailLists:
        answer = DetailLists({}, {})
        for name, fn in (("appointments", customers.list_appointments), ("visits", triage.list_visits),
                         ("consultations", records.list_consultations), ("treatments", records.list_treatments),
                         ("reminders", followups.list_for_customer), ("charges", records.list_charges)):
            try:
                answer.lists[name] = fn(clinic, actor, customer_id)  # type: ignore[operator]
            except MeikeError as e:
                answer.lists[name] = []
                answer.refused[name] = e.message
        return answer
    return read(parent, fetch)


def save_profile(parent: QWidget, clinic: Clinic, actor: Actor, customer_id: int, values: dict[str, Any],
                 version: int) -> Op[CustomerDetail]:
    def run() -> CustomerDetail:
        customers.update_customer(clinic, actor, customer_id, values, expected_version=version)
        return customers.get_customer(clinic, actor, customer_id)
    return Op(parent, run)


def reveal(parent: QWidget, clinic: Clinic, actor: Actor, customer_id: int, key: str) -> Op[str]:
    return Op(parent, lambda: customers.reveal(clinic, actor, customer_id, key))


def add_consultation(parent: QWidget, clinic: Clinic, actor: Actor, customer_id: int, *, content: str, items: str,
                     consultant_id: int | None, reminder_due: date | None, reminder_assignee_id: int | None,
                     reminder_note: str) -> Op[int]:
    return Op(parent, lambda: records.add_consultation(
        clinic, actor, customer_id, content=content, items=items, consultant_id=consultant_id,
        reminder_due=reminder_due, reminder_assignee_id=reminder_assignee_id, reminder_note=reminder_note))


def add_treatment(parent: QWidget, clinic: Clinic, actor: Actor, customer_id: int, *, supervisor: tuple[str, str] | None,
                  **fields: Any) -> Op[int]:
    """``supervisor``: the user name and password typed when the price is below the minimum."""
    def run() -> int:
        approved = None
        if supervisor is not None:
            try:
                approved = accounts.verify_supervisor(clinic, supervisor[0], supervisor[1], Right.APPROVE_PRICE)
            except PermissionDenied as e:
                raise ValidationError.single("supervisor_password", e.message) from None
        return records.add_treatment(clinic, actor, customer_id, supervisor=approved, **fields)
    return Op(parent, run)


def change_appointment(parent: QWidget, clinic: Clinic, actor: Actor, row: AppointmentRow, *, at: datetime,
                       items: str, notes: str) -> Op[None]:
    return Op(parent, lambda: customers.change_appointment(clinic, actor, row.id, appointment_at=at, items=items,
                                                           notes=notes, expected_version=row.version))


def cancel_appointment(parent: QWidget, clinic: Clinic, actor: Actor, row: AppointmentRow, reason: str) -> Op[None]:
    return Op(parent, lambda: customers.cancel_appointment(clinic, actor, row.id, reason=reason,
                                                           expected_version=row.version))


# -- 提醒 ----------------------------------------------------------------------------------------------


def due_reminders(parent: QWidget | None, clinic: Clinic, actor: Actor, kind: str | None,
                  overdue_only: bool) -> Op[list[ReminderRow]]:
    return read(parent, lambda: followups.list_due(clinic, actor, kind=kind, overdue_only=overdue_only))


def add_reminder(parent: QWidget, clinic: Clinic, actor: Actor, customer_id: int, *, kind: str, due: date,
                 assignee_id: int | None, note: str) -> Op[int]:
    return Op(parent, lambda: followups.add_reminder(clinic, actor, customer_id, kind=kind, due=due,
                                                     assignee_id=assignee_id, note=note))


def complete_reminder(parent: QWidget, clinic: Clinic, actor: Actor, reminder_id: int, result: str,
                      next_due: date | None) -> Op[int | None]:
    return Op(parent, lambda: followups.complete(clinic, actor, reminder_id, result=result, next_due=next_due))


def postpone_reminder(parent: QWidget, clinic: Clinic, actor: Actor, reminder_id: int, due: date) -> Op[None]:
    return Op(parent, lambda: followups.postpone(clinic, actor, reminder_id, due=due))


# -- 操作台 --------------------------------------------------------------------------------------------


def dashboard_counts(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[CustomerCounts]:
    return read(parent, lambda: customers.dashboard_counts(clinic, actor))


def backup_state(parent: QWidget | None, clinic: Clinic) -> Op[BackupStatus]:
    return read(parent, lambda: backup.backup_status(clinic))
