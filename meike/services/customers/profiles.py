"""Customer profiles: registration 挂号, reading (numbers masked, revealed on a logged request), editing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import ConflictError, ValidationError
from meike.models import Channel, Customer, InfoSource, MemberLevel, Staff
from meike.permissions import Actor, Page, Right
from meike.rules.customer_class import (
    CLASS_LABELS,
    customer_class,
)
from meike.rules.pinyin import initials
from meike.rules.text import CONTENT_MAX, take_text
from meike.rules.validation import (
    age_error,
    age_on,
    birthday_error,
    birthday_from_id_card,
    card_no_error,
    digits_error,
    id_card_error,
    mask_mobile,
    mask_number,
    mobile_error,
    nfkc,
    normalise_id_card,
    normalise_mobile,
    sex_from_id_card,
)
from meike.services import audit, scope
from meike.services.customers.appointments import _add_appointment, _appointment_errors, _appointment_texts
from meike.services.customers.query import GENDERS, _require_customer_page
from meike.services.customers.search import load_in_scope, next_card_no

# --- the profile ---------------------------------------------------------------------------------

PROFILE_FIELDS = (
    "name", "gender", "mobile", "channel_id", "info_source_id", "cs_staff_id", "developer_id", "member_level_id",
    "referrer", "card_no", "file_no", "birthday", "age", "id_card", "wechat", "qq", "region", "address",
    "occupation", "sms_opt_in", "notes",
)
TEXT_LIMITS = {"referrer": 40, "file_no": 30, "wechat": 40, "qq": 20, "region": 40, "address": 200,
               "occupation": 40, "card_no": 20}
TEXT_LABELS = {"referrer": "介绍人", "file_no": "档案号", "wechat": "微信", "qq": "QQ 号", "region": "地区",
               "address": "地址", "occupation": "职业", "card_no": "卡号"}
REFERENCES = {"channel_id": Channel, "info_source_id": InfoSource, "cs_staff_id": Staff, "developer_id": Staff,
              "member_level_id": MemberLevel}


NUMBER_FIELDS = ("qq", "card_no")  # typed numbers: NFKC-normalised like the mobile and the ID card
DUPLICATE_HIDDEN = "该手机号已登记，请联系主管处理"


class DuplicateMobile(ValidationError):
    """The mobile is on file already; ``customer_id`` is set when the actor may open that customer.
    One the actor may not open is named neither by name nor by why (``DUPLICATE_HIDDEN``); its id
    stays in ``hidden_id`` for the audit log."""

    def __init__(self, message: str, customer_id: int | None, hidden_id: int | None = None) -> None:
        super().__init__({"mobile": message})
        self.customer_id = customer_id
        self.hidden_id = hidden_id


def _log_hidden_duplicate(clinic: Clinic, actor: Actor, e: DuplicateMobile, mobile: str, during: str) -> None:
    """A duplicate the actor may not open: the hit is audited (its own transaction: the registration or
    the edit was rolled back)."""
    if e.hidden_id is None:
        return
    with clinic.write() as s:
        audit.record(s, actor, "customer.duplicate_mobile", "customer", e.hidden_id,
                     after={"during": during, "mobile": mask_number(normalise_mobile(mobile))})


def _clean_profile(s: Session, actor: Actor, values: dict[str, Any], customer_id: int | None,
                   today: date) -> dict[str, Any]:
    """Validate every field at once; the errors name the fields so the form shows them in place."""
    unknown = set(values) - set(PROFILE_FIELDS)
    if unknown:
        raise ValueError(f"unknown customer fields: {sorted(unknown)}")
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    name = take_text(errors, values.get("name"), field="name", label="姓名", limit=40)
    if not name and "name" not in errors:
        errors["name"] = "请填写顾客姓名"
    out["name"] = name
    gender = values.get("gender") or "F"
    if gender not in GENDERS:
        errors["gender"] = "请选择性别"
    out["gender"] = gender
    message = mobile_error(str(values.get("mobile") or ""))
    mobile = normalise_mobile(str(values.get("mobile") or ""))
    if message:
        errors["mobile"] = message
    out["mobile"] = mobile
    for key, model in REFERENCES.items():
        value = values.get(key)
        if value in (None, ""):
            out[key] = None
            continue
        row = s.get(model, int(value))
        if row is None:
            errors[key] = "所选项目不存在"
        out[key] = int(value)
    for key, limit in TEXT_LIMITS.items():
        raw = values.get(key)
        raw = nfkc(str(raw or "")) if key in NUMBER_FIELDS else raw
        out[key] = take_text(errors, raw, field=key, label=TEXT_LABELS[key], limit=limit)
    problem = digits_error(out["qq"], "QQ 号")
    if problem:
        errors["qq"] = problem
    problem = card_no_error(out["card_no"])
    if problem:
        errors.setdefault("card_no", problem)
    id_card = normalise_id_card(str(values.get("id_card") or ""))
    if id_card:
        problem = id_card_error(id_card, today=today)
        if problem:
            errors["id_card"] = problem
        elif gender in ("F", "M") and sex_from_id_card(id_card) != gender:
            errors["gender"] = f"性别与身份证号不一致（身份证号为{GENDERS[sex_from_id_card(id_card)]}性）"
    out["id_card"] = id_card
    birthday = values.get("birthday")
    problem = birthday_error(birthday, today=today)
    if problem:
        errors["birthday"] = problem
    if birthday is None and id_card and "id_card" not in errors:
        birthday = birthday_from_id_card(id_card)
    elif birthday is not None and id_card and "id_card" not in errors and birthday != birthday_from_id_card(id_card):
        errors["birthday"] = "生日与身份证号中的出生日期不一致"
    out["birthday"] = birthday
    age = values.get("age")
    problem = age_error(age)
    if problem:
        errors["age"] = problem
    out["age"] = age_on(birthday, today) if birthday is not None and "birthday" not in errors else age
    out["sms_opt_in"] = bool(values.get("sms_opt_in", True))
    out["notes"] = take_text(errors, values.get("notes"), field="notes", label="备注", limit=CONTENT_MAX,
                             multiline=True)
    if out["card_no"] and "card_no" not in errors:
        clash = s.scalar(select(Customer.id).where(Customer.card_no == out["card_no"], Customer.id != (customer_id or 0)))
        if clash is not None:
            errors["card_no"] = f"卡号 {out['card_no']} 已被使用"
    if errors:
        raise ValidationError(errors)
    return out


def _refuse_duplicate(s: Session, actor: Actor, mobile: str, customer_id: int | None) -> None:
    """The mobile on file already: DuplicateMobile. Asked only once everything else of the form is valid,
    right before the write: a form refused for another field says nothing about the number, so the
    duplicate check is no oracle that rebuilds a masked mobile for free (every miss saves the customer,
    audited)."""
    existing = s.scalar(select(Customer).where(Customer.mobile == mobile, Customer.id != (customer_id or 0)))
    if existing is not None:
        if scope.in_scope(actor, existing):
            raise DuplicateMobile(f"手机号已登记：{existing.name}（卡号 {existing.card_no}）", existing.id)
        raise DuplicateMobile(DUPLICATE_HIDDEN, None, hidden_id=existing.id)

def register_customer(clinic: Clinic, actor: Actor, *, name: str, mobile: str, gender: str = "F",
                      channel_id: int | None = None, info_source_id: int | None = None,
                      cs_staff_id: int | None = None, developer_id: int | None = None,
                      member_level_id: int | None = None, referrer: str = "", card_no: str = "", file_no: str = "",
                      birthday: date | None = None, age: int | None = None, id_card: str = "", wechat: str = "",
                      qq: str = "", region: str = "", address: str = "", occupation: str = "",
                      sms_opt_in: bool = True, notes: str = "",
                      appointment_at: datetime | None = None, appointment_items: str = "",
                      appointment_notes: str = "", now: datetime | None = None) -> int:
    """挂号: create a customer (and their appointment, if a time is given) in one transaction.

    The profile's fields are ``PROFILE_FIELDS`` (an unknown keyword is a TypeError); a blank card number
    takes the next one (``next_card_no``); a birthday left out is read from the ID card.
    A mobile already on file raises DuplicateMobile: book for that customer instead of a duplicate.
    """
    actor.require_page(Page.REGISTRATION)
    now = now or clock.now()
    values: dict[str, Any] = {
        "name": name, "gender": gender, "mobile": mobile, "channel_id": channel_id, "info_source_id": info_source_id,
        "cs_staff_id": cs_staff_id, "developer_id": developer_id, "member_level_id": member_level_id,
        "referrer": referrer, "card_no": card_no, "file_no": file_no, "birthday": birthday, "age": age,
        "id_card": id_card, "wechat": wechat, "qq": qq, "region": region, "address": address,
        "occupation": occupation, "sms_opt_in": sms_opt_in, "notes": notes}
    if appointment_at is not None:
        appointment_items, appointment_notes = _appointment_texts(appointment_items, appointment_notes, "appointment_")
    try:
        with clinic.write() as s:
            try:
                clean = _clean_profile(s, actor, values, None, now.date())
            except ValidationError as e:
                e.errors.update(_appointment_errors(appointment_at, now))
                raise
            errors = _appointment_errors(appointment_at, now)
            if errors:
                raise ValidationError(errors)
            _refuse_duplicate(s, actor, clean["mobile"], None)
            clean["card_no"] = clean["card_no"] or next_card_no(s, now)
            customer = Customer(**clean, name_initials=initials(clean["name"]), mobile_last4=clean["mobile"][-4:],
                                department_id=actor.department_id, registered_by_id=actor.user_id, created_at=now)
            s.add(customer)
            s.flush()
            audit.record(s, actor, "customer.create", "customer", customer.id,
                         after={"card_no": customer.card_no, "name": customer.name,
                                "mobile": mask_mobile(customer.mobile)})
            if appointment_at is not None:
                _add_appointment(s, actor, customer, appointment_at, appointment_items, appointment_notes, now)
            return customer.id
    except DuplicateMobile as e:
        _log_hidden_duplicate(clinic, actor, e, mobile, "register")
        raise

@dataclass(frozen=True)
class CustomerDetail:
    id: int
    card_no: str
    name: str
    gender: str
    mobile: str
    channel_id: int | None
    info_source_id: int | None
    cs_staff_id: int | None
    developer_id: int | None
    member_level_id: int | None
    consultant: str
    referrer: str
    file_no: str
    birthday: date | None
    age: int | None
    id_card: str
    wechat: str
    qq: str
    region: str
    address: str
    occupation: str
    sms_opt_in: bool
    notes: str
    customer_class: str
    created_at: datetime
    version: int = 1  # pass back to update_customer: a save over someone else's change is refused
    # The birthday is digits 7–14 of the ID card on file: shown with the ID only (``reveal``), never
    # beside its mask. ``birthday`` is None then and ``age`` says how old the customer is today.
    birthday_hidden: bool = False


def mask_id_card(id_card: str) -> str:
    return mask_number(id_card)


def get_customer(clinic: Clinic, actor: Actor, customer_id: int, *, today: date | None = None) -> CustomerDetail:
    """The profile as shown: mobile and ID card masked (``mask_number``) for everyone — a user with the
    right reveals one with a click, logged — and, with an ID card on file, the age instead of the
    birthday, so that nothing shown together gives the ID number back."""
    _require_customer_page(actor)
    today = today or clock.now().date()
    with clinic.read() as s:
        c = load_in_scope(s, actor, customer_id)
        hidden = bool(c.id_card)
        age = age_on(c.birthday, today) if c.birthday is not None else c.age
        return CustomerDetail(
            c.id, c.card_no, c.name, c.gender, mask_mobile(c.mobile), c.channel_id,
            c.info_source_id, c.cs_staff_id, c.developer_id, c.member_level_id,
            c.consultant.name if c.consultant else "", c.referrer, c.file_no, None if hidden else c.birthday, age,
            mask_id_card(c.id_card) if c.id_card else "", c.wechat,
            c.qq, c.region, c.address, c.occupation, c.sms_opt_in, c.notes,
            CLASS_LABELS[customer_class(c.purchase_occasions)], c.created_at, c.version, hidden,
        )


REVEALABLE = {"mobile": "手机号", "id_card": "身份证号"}


def reveal(clinic: Clinic, actor: Actor, customer_id: int, field: str) -> str:
    """The full mobile or ID-card number, for a user with the right to see it; every reveal is logged."""
    if field not in REVEALABLE:
        raise ValueError(field)
    actor.require_right(Right.VIEW_PRIVATE, f"您没有查看完整{REVEALABLE[field]}的权限")
    with clinic.write() as s:
        c = load_in_scope(s, actor, customer_id)
        value = str(getattr(c, field) or "")
        audit.record(s, actor, "privacy.reveal", "customer", c.id,
                     after={"field": field, "what": REVEALABLE[field], "customer": c.name, "card_no": c.card_no})
        return value


def update_customer(clinic: Clinic, actor: Actor, customer_id: int, values: dict[str, Any],
                    *, now: datetime | None = None, expected_version: int | None = None) -> None:
    """Edit the profile with the registration rules. The masked values shown (138****8000) mean
    "unchanged". ``expected_version`` is the version the form was filled from: if another workstation
    saved in between, ConflictError and nothing is written."""
    actor.require_any_page(Page.CUSTOMERS, Page.REGISTRATION)
    now = now or clock.now()
    try:
        _update_customer(clinic, actor, customer_id, values, now, expected_version)
    except DuplicateMobile as e:
        _log_hidden_duplicate(clinic, actor, e, str(values.get("mobile") or ""), "update")
        raise


def _update_customer(clinic: Clinic, actor: Actor, customer_id: int, values: dict[str, Any], now: datetime,
                     expected_version: int | None) -> None:
    with clinic.write() as s:
        c = load_in_scope(s, actor, customer_id, lock=True)
        if expected_version is not None and c.version != expected_version:
            raise ConflictError("该顾客的资料在您打开后已被其他电脑修改，您的修改没有保存。"
                                "请关闭后重新打开，核对后再保存。")
        values = dict(values)
        masked = {"mobile": mask_mobile(c.mobile), "id_card": mask_id_card(c.id_card) if c.id_card else ""}
        for key in ("mobile", "id_card"):
            if str(values.get(key) or "").strip() == masked[key] and masked[key]:
                values[key] = getattr(c, key)
        clean = _clean_profile(s, actor, values, customer_id, now.date())
        if clean["mobile"] != c.mobile:
            _refuse_duplicate(s, actor, clean["mobile"], customer_id)
        clean["card_no"] = clean["card_no"] or c.card_no
        before = {k: getattr(c, k) for k in clean}
        for key, value in clean.items():
            setattr(c, key, value)
        c.name_initials = initials(c.name)
        c.mobile_last4 = c.mobile[-4:]
        changed = {k: v for k, v in clean.items() if before[k] != v}
        if changed:
            c.version += 1
            private = {"mobile", "id_card", "birthday"}  # the birthday is part of the ID number
            audit.record(s, actor, "customer.update", "customer", c.id,
                         before={k: ("***" if k in private else before[k]) for k in changed},
                         after={k: ("***" if k in private else v) for k, v in changed.items()})
