"""SMS templates (短信模板): fields in braces, rendering, the defaults."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike.db import Clinic
from meike.errors import NotFound, ValidationError
from meike.models import SystemSetting
from meike.models.sms import MESSAGE_KINDS, SmsMessage, SmsTemplate
from meike.permissions import Actor, Page
from meike.rules.text import take_text
from meike.services import audit
from meike.services.sms.common import (
    _FIELD_RE,
    DEFAULT_TEMPLATES,
    FIELDS,
    KIND_LABELS,
    MAX_TEXT,
    _require_templates_read,
)

# --- templates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    id: int
    kind: str
    name: str
    body: str
    aliyun_code: str
    tencent_code: str
    active: bool

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


def _template(t: SmsTemplate) -> Template:
    return Template(t.id, t.kind, t.name, t.body, t.aliyun_code, t.tencent_code, t.active)


def fields_in(body: str) -> list[str]:
    """The fields a body uses, in order of first appearance."""
    out: list[str] = []
    for name in _FIELD_RE.findall(body):
        if name not in out:
            out.append(name)
    return out


def render(body: str, values: Mapping[str, str]) -> str:
    """Fill ``{姓名}`` … with ``values`` (a missing value becomes empty)."""
    return _FIELD_RE.sub(lambda m: str(values.get(m.group(1), "")) if m.group(1) in FIELDS else m.group(0), body)


def list_templates(clinic: Clinic, actor: Actor, *, kind: str | None = None,
                   include_inactive: bool = False) -> list[Template]:
    _require_templates_read(actor)
    q = select(SmsTemplate).order_by(SmsTemplate.kind, SmsTemplate.id)
    if kind is not None:
        if kind not in MESSAGE_KINDS:
            raise ValidationError.single("kind", "短信类型无效")
        q = q.where(SmsTemplate.kind == kind)
    if not include_inactive:
        q = q.where(SmsTemplate.active.is_(True))
    with clinic.read() as s:
        return [_template(t) for t in s.scalars(q)]


def get_template(clinic: Clinic, actor: Actor, template_id: int) -> Template:
    _require_templates_read(actor)
    with clinic.read() as s:
        t = s.get(SmsTemplate, template_id)
        if t is None:
            raise NotFound("短信模板不存在")
        return _template(t)


def _clean_template(s: Session, values: Mapping[str, Any], template_id: int | None) -> dict[str, Any]:
    errors: dict[str, str] = {}
    kind = str(values.get("kind") or "")
    if kind not in MESSAGE_KINDS:
        errors["kind"] = "请选择短信类型"
    name = take_text(errors, values.get("name"), field="name", label="名称", limit=40)
    if "name" in errors:
        pass
    elif not name:
        errors["name"] = "请填写模板名称"
    elif s.scalar(select(SmsTemplate.id).where(SmsTemplate.name == name, SmsTemplate.id != (template_id or 0))):
        errors["name"] = f"已有名为“{name}”的模板"
    body = take_text(errors, values.get("body"), field="body", label="短信内容", limit=MAX_TEXT, multiline=True)
    unknown = [f for f in fields_in(body) if f not in FIELDS]
    if "body" in errors:
        pass
    elif not body:
        errors["body"] = "请填写短信内容"
    elif unknown:
        errors["body"] = f"未知字段 {{{unknown[0]}}}，可用字段：" + " ".join(f"{{{f}}}" for f in FIELDS)
    out = {"kind": kind, "name": name, "body": body, "active": bool(values.get("active", True))}
    for key, label in (("aliyun_code", "阿里云模板编号"), ("tencent_code", "腾讯云模板 ID")):
        code = str(values.get(key) or "").strip()
        if len(code) > 40 or not re.fullmatch(r"[A-Za-z0-9_\-]*", code):
            errors[key] = f"{label}只能包含字母、数字和下划线，最多 40 个字符"
        out[key] = code
    if errors:
        raise ValidationError(errors)
    return out


def save_template(clinic: Clinic, actor: Actor, template_id: int | None, values: Mapping[str, Any]) -> int:
    """Add (``template_id`` None) or edit a template; every field checked at once."""
    actor.require_page(Page.SETTINGS)
    with clinic.write() as s:
        clean = _clean_template(s, values, template_id)
        if template_id is None:
            new = SmsTemplate(**clean)
            s.add(new)
            s.flush()
            audit.record(s, actor, "sms.template.create", "sms_template", new.id, after=clean)
            return new.id
        t = s.get(SmsTemplate, template_id)
        if t is None:
            raise NotFound("短信模板不存在")
        before = {k: getattr(t, k) for k in clean}
        for k, v in clean.items():
            setattr(t, k, v)
        if before != clean:
            audit.record(s, actor, "sms.template.update", "sms_template", t.id, before=before, after=clean)
        return t.id


def set_template_active(clinic: Clinic, actor: Actor, template_id: int, active: bool) -> None:
    actor.require_page(Page.SETTINGS)
    with clinic.write() as s:
        t = s.get(SmsTemplate, template_id)
        if t is None:
            raise NotFound("短信模板不存在")
        t.active = active


def delete_template(clinic: Clinic, actor: Actor, template_id: int) -> None:
    """Delete an unused template; one messages were sent with can only be deactivated."""
    actor.require_page(Page.SETTINGS)
    with clinic.write() as s:
        t = s.get(SmsTemplate, template_id)
        if t is None:
            raise NotFound("短信模板不存在")
        if s.scalar(select(SmsMessage.id).where(SmsMessage.template_id == template_id).limit(1)) is not None:
            raise ValidationError.single("template", "已用此模板发过短信，只能停用")
        audit.record(s, actor, "sms.template.delete", "sms_template", t.id, before={"name": t.name, "body": t.body})
        s.delete(t)


def ensure_default_templates(clinic: Clinic) -> int:
    """On a clinic that never had templates, add one per kind; returns how many were added."""
    with clinic.write() as s:
        if s.get(SystemSetting, "sms.defaults_installed") is not None:
            return 0
        s.add(SystemSetting(key="sms.defaults_installed", value="1"))
        if s.scalar(select(SmsTemplate.id).limit(1)) is not None:
            return 0
        for kind, name, body in DEFAULT_TEMPLATES:
            s.add(SmsTemplate(kind=kind, name=name, body=body, aliyun_code="", tencent_code="", active=True))
        return len(DEFAULT_TEMPLATES)
