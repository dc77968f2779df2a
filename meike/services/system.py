"""Clinic-wide settings: a table of typed defaults over key/value rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike.db import Clinic
from meike.errors import ValidationError
from meike.models import SystemSetting
from meike.permissions import Actor, Page
from meike.rules.text import clean_text
from meike.rules.validation import nfkc, whole_number
from meike.services import audit


@dataclass(frozen=True)
class SettingSpec:
    key: str
    label: str
    default: Any
    kind: type
    minimum: int | None = None
    maximum: int | None = None


SPECS: dict[str, SettingSpec] = {
    s.key: s
    for s in [
        SettingSpec("clinic.name", "诊所名称", "", str),
        SettingSpec("login.max_failures", "连续输错密码几次后延迟登录", 5, int, 1, 20),
        SettingSpec("login.lock_minutes", "登录延迟最长分钟数", 15, int, 1, 1440),
        SettingSpec("followup.postop_days", "术后回访天数（逗号分隔）", "2,7,15", str),
        SettingSpec("security.idle_lock_minutes", "无操作自动锁屏（分钟，0 为不锁屏）", 10, int, 0, 240),
    ]
}


TEXT_LIMITS = {"clinic.name": 60}


def _coerce(spec: SettingSpec, raw: Any) -> Any:
    if spec.kind is int:
        try:
            value = raw if isinstance(raw, int) and not isinstance(raw, bool) else whole_number(str(raw))
            if value is None:
                raise ValueError(raw)
        except ValueError:
            raise ValidationError.single(spec.key, f"{spec.label}必须是整数") from None
        if spec.minimum is not None and value < spec.minimum or spec.maximum is not None and value > spec.maximum:
            raise ValidationError.single(spec.key, f"{spec.label}应在 {spec.minimum}–{spec.maximum} 之间")
        return value
    text: str = clean_text(raw, field=spec.key, label=spec.label, limit=TEXT_LIMITS.get(spec.key, 200))
    if spec.key == "followup.postop_days":
        parts = [p.strip() for p in nfkc(text).replace("，", ",").split(",") if p.strip()]
        if not parts or not all(p.isascii() and p.isdigit() and 0 < int(p) <= 365 for p in parts):
            raise ValidationError.single(spec.key, "请填写 1–365 之间的天数，用逗号分隔，例如 2,7,15")
        text = ",".join(str(d) for d in sorted({int(p) for p in parts}))
    if spec.key == "clinic.name" and not text:
        raise ValidationError.single(spec.key, "请填写诊所名称")
    return text


def get_in(session: Session, key: str) -> Any:
    spec = SPECS[key]
    row = session.get(SystemSetting, key)
    if row is None:
        return spec.default
    return int(row.value) if spec.kind is int else row.value


def get(clinic: Clinic, key: str) -> Any:
    with clinic.read() as s:
        return get_in(s, key)


def set_in(session: Session, actor: Actor | None, key: str, raw: Any) -> Any:
    spec = SPECS[key]
    value = _coerce(spec, raw)
    row = session.get(SystemSetting, key)
    before = get_in(session, key)
    if row is None:
        session.add(SystemSetting(key=key, value=str(value)))
    else:
        row.value = str(value)
    if before != value:
        audit.record(session, actor, "setting.change", "system_setting", None,
                     before={key: before}, after={key: value})
    return value


def all_values(clinic: Clinic, actor: Actor) -> dict[str, Any]:
    actor.require_page(Page.SETTINGS)
    with clinic.read() as s:
        return {key: get_in(s, key) for key in SPECS}


def update(clinic: Clinic, actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
    """Save several settings at once; if one is invalid nothing is saved."""
    actor.require_page(Page.SETTINGS)
    errors: dict[str, str] = {}
    for key, raw in values.items():
        try:
            _coerce(SPECS[key], raw)
        except ValidationError as e:
            errors.update(e.errors)
    if errors:
        raise ValidationError(errors)
    with clinic.write() as s:
        return {key: set_in(s, actor, key, raw) for key, raw in values.items()}


def is_initialised(clinic: Clinic) -> bool:
    """True once the first-run dialog has created the clinic (an administrator exists)."""
    from meike.models import User

    with clinic.read() as s:
        return s.scalar(select(User.id).where(User.is_admin.is_(True)).limit(1)) is not None
