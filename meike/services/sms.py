"""SMS 短信: templates, the channel settings, the persistent outgoing queue, its pump and the send log.

Messages are rows of ``sms_messages`` (queued → sending → sent / failed, or cancelled). ``pump``
claims one due message at a time in its own committed transaction, sends it through a ``Sender``
(GSM modem or an SMS platform) outside any transaction and records the outcome, so nothing is lost
if the program closes: ``recover`` requeues what a crash left in ``sending``. A daily limit per clinic
(seed 000 §9.4: a SIM sending too much gets locked) leaves the rest queued for the next day.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from uuid import uuid4

from sqlalchemy import Select, case, desc, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meike import clock, secret_box
from meike.db import Clinic
from meike.errors import NotFound, ValidationError
from meike.models import Customer, SystemSetting, User
from meike.models.sms import MESSAGE_KINDS, SmsMessage, SmsTemplate
from meike.permissions import Actor, Page
from meike.ports import ALIYUN_ENDPOINT, TENCENT_ENDPOINT, SmsError, adapters
from meike.rules.text import clean_text, normalise_text, search_text, take_text, text_error
from meike.rules.validation import MOBILE_RE, mask_mobile, normalise_mobile
from meike.secret_box import SecretUnavailable
from meike.services import audit, scope
from meike.services.customers import CustomerQuery, _tab_query, guard_search, load_in_scope

log = logging.getLogger(__name__)

KIND_LABELS = {"appointment": "预约提醒", "postop": "术后关怀", "birthday": "生日祝福", "manual": "通知",
               "marketing": "营销群发"}
STATUS_LABELS = {"queued": "待发送", "sending": "发送中", "sent": "已发送", "failed": "失败", "cancelled": "已取消"}
CHANNEL_LABELS = {"none": "未设置", "gsm": "短信猫（GSM 调制解调器）", "aliyun": "阿里云短信", "tencent": "腾讯云短信"}
FIELDS = ("姓名", "日期", "时间", "项目", "诊所")
# Platform template variables: Aliyun ${name} …; Tencent {1} {2} … take them in the body's order.
PLATFORM_NAMES = {"姓名": "name", "日期": "date", "时间": "time", "项目": "item", "诊所": "clinic"}
BACKOFF_MINUTES = (1, 5, 15, 60, 60)
MAX_ATTEMPTS = 6
MAX_TEXT = 300
MAX_SETTING = 200  # one typed setting of the channel (a port, a key id, an address)
MAX_BATCH = 10_000
STALE_SENDING = timedelta(minutes=10)  # a claim older than this was left by a program that stopped
BAUD_RATES = (9600, 19200, 38400, 57600, 115200)
_FIELD_RE = re.compile(r"\{([^{}]*)\}")

DEFAULT_TEMPLATES = [
    ("appointment", "预约提醒", "{姓名}您好，您预约了{日期} {时间}到{诊所}（{项目}），请准时到店。如需改期请来电。"),
    ("postop", "术后关怀", "{姓名}您好，{诊所}提醒您：{项目}术后请保持清洁，避免辛辣饮食和剧烈运动，如有不适请随时来电。"),
    ("birthday", "生日祝福", "{姓名}您好，{诊所}全体员工祝您生日快乐，美丽常驻！"),
    ("manual", "到店通知", "{姓名}您好，{诊所}提醒您："),
    ("marketing", "会员活动", "{姓名}您好，{诊所}本月会员活动开始啦，详情请来电咨询。拒收请回复R"),
]


def _require_send(actor: Actor) -> None:
    actor.require_page(Page.PHONE)


def _require_templates_read(actor: Actor) -> None:
    if not (actor.can_open(Page.PHONE) or actor.can_open(Page.SETTINGS)):
        actor.require_page(Page.SETTINGS)


def _show_number(_actor: Actor, number: str) -> str:
    return mask_mobile(number)  # lists show masked numbers to everyone (a full one only by a logged reveal)


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
            t = SmsTemplate(**clean)
            s.add(t)
            s.flush()
            audit.record(s, actor, "sms.template.create", "sms_template", t.id, after=clean)
            return t.id
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


# --- channel settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelSettings:
    """How this clinic sends SMS (kept as ``sms.*`` rows of ``system_settings``).

    The platform secrets (``SECRET_FIELDS``) are stored sealed by ``meike.secret_box`` with the key of the
    PC that saved them (``secret_host``); here they are in clear, or '' when this PC cannot open them
    (sealed on another PC): then only that PC sends through the platform, as only the PC with the modem
    sends through a GSM modem.
    """

    channel: str = "none"  # none / gsm / aliyun / tencent
    gsm_port: str = ""
    gsm_baud: int = 115200
    gsm_host: str = ""  # the PC the modem is plugged into: only its program sends through it
    aliyun_key_id: str = ""
    aliyun_secret: str = ""
    aliyun_sign: str = ""
    aliyun_endpoint: str = ALIYUN_ENDPOINT
    tencent_secret_id: str = ""
    tencent_secret_key: str = ""
    tencent_app_id: str = ""
    tencent_sign: str = ""
    tencent_endpoint: str = TENCENT_ENDPOINT
    daily_limit: int = 300
    secret_host: str = ""  # the PC whose key sealed the platform secrets (only it can send through them)


SECRET_FIELDS = ("aliyun_secret", "tencent_secret_key")
PLATFORM_SECRET = {"aliyun": "aliyun_secret", "tencent": "tencent_secret_key"}
_INT_FIELDS = ("gsm_baud", "daily_limit")


@dataclass(frozen=True)
class ChannelView:
    """The settings as the settings tab shows them: secrets blank, ``secret_hints`` say one is saved,
    ``secret_note`` which PC can use them."""

    settings: ChannelSettings
    secret_hints: dict[str, str] = field(default_factory=dict)
    hostname: str = ""
    secret_note: str = ""


def _rows(s: Session) -> dict[str, str]:
    return dict(s.execute(select(SystemSetting.key, SystemSetting.value)
                          .where(SystemSetting.key.in_([f"sms.{f.name}" for f in fields(ChannelSettings)]))).all())


def _open_secret(value: str) -> str:
    """A stored secret in clear; '' when this PC cannot open it (sealed elsewhere, the key file lost)."""
    try:
        return secret_box.open_value(value)
    except SecretUnavailable:
        return ""


def load_channel(s: Session) -> ChannelSettings:
    rows = _rows(s)
    values: dict[str, Any] = {}
    for f in fields(ChannelSettings):
        raw = rows.get(f"sms.{f.name}")
        if raw is None:
            continue
        if f.name in _INT_FIELDS:
            try:
                values[f.name] = int(raw)
            except ValueError:
                continue
        elif f.name in SECRET_FIELDS:
            values[f.name] = _open_secret(raw)
        else:
            values[f.name] = raw
    return ChannelSettings(**values)


def read_channel(clinic: Clinic) -> ChannelSettings:
    """The full settings, secrets included: for building a sender only, never for showing."""
    with clinic.read() as s:
        return load_channel(s)


def _stored_secrets(s: Session) -> dict[str, str]:
    """The secret fields that hold a value, as stored (sealed, or clear from an older version)."""
    rows = _rows(s)
    return {k: rows[f"sms.{k}"] for k in SECRET_FIELDS if rows.get(f"sms.{k}")}


def _hint(secret: str) -> str:
    return "" if not secret else "已保存（" + "•" * 6 + (secret[-4:] if len(secret) >= 12 else "") + "）"


def _where_note(current: ChannelSettings, stored: Mapping[str, str], here: str) -> str:
    if not stored:
        return ""
    if all(secret_box.key_matches(v) for v in stored.values()):
        return f"平台密钥已加密保存，只有本机（{here}）能用它发送短信"
    host = current.secret_host or "另一台电脑"
    return (f"平台密钥是在 {host} 上保存的，加密后只有那台电脑能用它发送短信；"
            "在本机重新填写密钥并保存，则改由本机发送")


def channel_settings(clinic: Clinic, actor: Actor) -> ChannelView:
    actor.require_page(Page.SETTINGS)
    with clinic.read() as s:
        current, stored = load_channel(s), _stored_secrets(s)
    hints: dict[str, str] = {}
    for key in stored:
        plain = getattr(current, key)
        hints[key] = _hint(plain) if plain else "已在另一台电脑上保存（本机不能使用）"
    here = socket.gethostname()
    return ChannelView(replace(current, **{k: "" for k in SECRET_FIELDS}), hints, here,
                       _where_note(current, stored, here))


def _clean_channel(values: Mapping[str, Any], current: ChannelSettings, hostname: str,
                   stored: Mapping[str, str] | None = None) -> ChannelSettings:
    """Check what was typed. ``stored``: the secrets saved already (sealed here or elsewhere): an empty
    secret box keeps them."""
    errors: dict[str, str] = {}
    stored = stored or {}
    raw = {f.name: values.get(f.name, getattr(current, f.name)) for f in fields(ChannelSettings)}
    text = {k: str(v if v is not None else "").strip() for k, v in raw.items()}
    for key, value in text.items():
        problem = text_error(value, label="此项", limit=MAX_SETTING)
        if problem is not None:
            errors[key] = problem
            text[key] = ""
    typed = [key for key in SECRET_FIELDS if text[key]]
    for key in SECRET_FIELDS:  # empty means "keep the saved one"
        if not text[key]:
            text[key] = getattr(current, key)
    text["secret_host"] = hostname if typed else current.secret_host
    channel = text["channel"]
    if channel not in CHANNEL_LABELS:
        errors["channel"] = "请选择短信通道"
    ints: dict[str, int] = {}
    for key, label, low, high in (("daily_limit", "每日发送上限", 1, 10000), ("gsm_baud", "波特率", 1200, 921600)):
        try:
            ints[key] = int(text[key])
        except ValueError:
            errors[key] = f"{label}必须是整数"
            continue
        if not low <= ints[key] <= high:
            errors[key] = f"{label}应在 {low}–{high} 之间"
    if channel == "gsm":
        if not text["gsm_port"]:
            errors["gsm_port"] = "请填写短信猫的端口，例如 COM5 或 /dev/ttyUSB2"
        if "gsm_baud" not in errors and ints["gsm_baud"] not in BAUD_RATES:
            errors["gsm_baud"] = "波特率应为 " + "、".join(str(b) for b in BAUD_RATES) + " 之一"
        text["gsm_host"] = hostname
    required = {"aliyun": [("aliyun_key_id", "请填写 AccessKey ID"), ("aliyun_secret", "请填写 AccessKey Secret"),
                           ("aliyun_sign", "请填写短信签名（不含【】）")],
                "tencent": [("tencent_secret_id", "请填写 SecretId"), ("tencent_secret_key", "请填写 SecretKey"),
                            ("tencent_app_id", "请填写 SdkAppId"), ("tencent_sign", "请填写短信签名（不含【】）")]}
    for key, message in required.get(channel, []):
        if not text[key] and key not in stored:
            errors[key] = message
    if channel == "tencent" and text["tencent_app_id"] and not text["tencent_app_id"].isdigit():
        errors["tencent_app_id"] = "SdkAppId 是一串数字，例如 1400000000"
    for key in ("aliyun_sign", "tencent_sign"):
        if len(text[key]) > 20 or any(ch in text[key] for ch in "【】[]"):
            errors.setdefault(key, "签名最多 20 个字，不要带【】")
    for key in ("aliyun_endpoint", "tencent_endpoint"):
        if channel in key and not re.match(r"^https?://[^\s/]+", text[key]):
            errors[key] = "服务地址应以 https:// 开头"
    if errors:
        raise ValidationError(errors)
    out: dict[str, Any] = dict(text)
    out.update(ints)
    return ChannelSettings(**out)


def save_channel_settings(clinic: Clinic, actor: Actor, values: Mapping[str, Any], *,
                          hostname: str | None = None) -> ChannelView:
    """Save the channel; empty secret fields keep the saved secrets. The GSM modem is taken to be
    plugged into the PC that saves (``hostname``): only that PC's program sends through it."""
    actor.require_page(Page.SETTINGS)
    hostname = hostname or socket.gethostname()
    typed = {key for key in SECRET_FIELDS if str(values.get(key) or "").strip()}
    with clinic.write() as s:
        current, stored = load_channel(s), _stored_secrets(s)
        clean = _clean_channel(values, current, hostname, stored)
        changed: dict[str, tuple[Any, Any]] = {}
        for f in fields(ChannelSettings):
            before, after = getattr(current, f.name), getattr(clean, f.name)
            if f.name in SECRET_FIELDS:
                if f.name not in typed:
                    continue  # kept as stored: sealed, perhaps by another PC's key
                value = secret_box.seal(after)  # never in clear in the database (nor in its backups)
            else:
                value = str(after)
            row = s.get(SystemSetting, f"sms.{f.name}")
            if row is None:
                s.add(SystemSetting(key=f"sms.{f.name}", value=value))
            else:
                row.value = value
            if before != after:
                changed[f.name] = ("***", "***") if f.name in SECRET_FIELDS else (before, after)
        if changed:
            audit.record(s, actor, "sms.channel.change", "system_setting", None,
                         before={k: v[0] for k, v in changed.items()}, after={k: v[1] for k, v in changed.items()})
    return channel_settings(clinic, actor)


def configure_channel_in(s: Session, settings: ChannelSettings) -> None:
    """Write the channel without checks (the demo points it at the simulators). Secrets are sealed; an
    empty one keeps what is stored."""
    for f in fields(ChannelSettings):
        row = s.get(SystemSetting, f"sms.{f.name}")
        value = str(getattr(settings, f.name))
        if f.name in SECRET_FIELDS:
            if not value:
                continue
            value = secret_box.seal(value)
        if row is None:
            s.add(SystemSetting(key=f"sms.{f.name}", value=value))
        else:
            row.value = value


def seal_stored_secrets(clinic: Clinic, *, hostname: str | None = None) -> int:
    """On start (and after a restore): secrets an older version stored in clear are sealed with this PC's
    key, which makes this PC the one that sends through the platform. Returns how many were sealed."""
    with clinic.read() as s:
        if not any(not secret_box.is_sealed(v) for v in _stored_secrets(s).values()):
            return 0
    with clinic.write() as s:
        clear = {k: v for k, v in _stored_secrets(s).items() if not secret_box.is_sealed(v)}
        for key, value in clear.items():
            row = s.get(SystemSetting, f"sms.{key}")
            assert row is not None
            row.value = secret_box.seal(value)
        if clear:
            host = s.get(SystemSetting, "sms.secret_host")
            if host is None:
                s.add(SystemSetting(key="sms.secret_host", value=hostname or socket.gethostname()))
            elif not host.value:
                host.value = hostname or socket.gethostname()
            audit.record(s, None, "sms.secrets.sealed", "system_setting", None,
                         after={"fields": sorted(clear), "host": hostname or socket.gethostname()})
            log.info("sealed %d SMS platform secret(s) stored in clear by an older version", len(clear))
        return len(clear)


# --- senders --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outgoing:
    """What a sender needs of one message."""

    id: int
    number: str
    text: str
    params: dict[str, str]
    aliyun_code: str = ""
    tencent_code: str = ""


class Sender(Protocol):
    channel: str

    def send(self, message: Outgoing) -> str: ...  # a reference for the log; raises SmsError

    def test(self) -> str: ...  # a sentence for the settings tab; raises SmsError

    def close(self) -> None: ...


def platform_params(params: Mapping[str, str]) -> dict[str, str]:
    """Template fields as platform variables (``姓名`` → ``name``), in the body's order."""
    return {PLATFORM_NAMES.get(k, k): str(v) for k, v in params.items()}


class GsmSender:
    channel = "gsm"

    def __init__(self, port: str, baudrate: int = 115200, *, timeout: float = 5.0, send_timeout: float = 40.0) -> None:
        self.modem = adapters().modem(port, baudrate=baudrate, timeout=timeout, send_timeout=send_timeout)

    def send(self, message: Outgoing) -> str:
        return ",".join(str(r) for r in self.modem.send(message.number, message.text))

    def test(self) -> str:
        return self.modem.test_connection()

    def close(self) -> None:
        self.modem.close()


class AliyunSender:
    channel = "aliyun"
    _KEYS_OK = ("isv.MOBILE_NUMBER_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL", "isv.TEMPLATE_MISSING_PARAMETERS")

    def __init__(self, key_id: str, secret: str, sign: str, endpoint: str = ALIYUN_ENDPOINT) -> None:
        self.client = adapters().aliyun(key_id, secret, sign, endpoint=endpoint)

    def send(self, message: Outgoing) -> str:
        if not message.aliyun_code:
            raise SmsError("NO_TEMPLATE", "阿里云短信只能发送已审核的模板：请在“短信模板”中填写阿里云模板编号", False)
        return self.client.send(message.number, message.aliyun_code, platform_params(message.params))

    def test(self) -> str:
        """A signed request to an impossible number: the platform checks the key first, sends nothing."""
        try:
            self.client.send("00000000000", "SMS_0", None)
        except SmsError as e:
            if e.code in self._KEYS_OK:
                return "阿里云短信连接正常：AccessKey 有效（测试未发送短信）"
            raise
        return "阿里云短信连接正常"

    def close(self) -> None:
        pass


class TencentSender:
    channel = "tencent"
    _KEYS_OK = ("InvalidParameterValue.IncorrectPhoneNumber", "FailedOperation.TemplateIncorrectOrUnapproved")

    def __init__(self, secret_id: str, secret_key: str, app_id: str, sign: str,
                 endpoint: str = TENCENT_ENDPOINT) -> None:
        self.client = adapters().tencent(secret_id, secret_key, app_id, sign, endpoint=endpoint)

    def send(self, message: Outgoing) -> str:
        if not message.tencent_code:
            raise SmsError("NO_TEMPLATE", "腾讯云短信只能发送已审核的模板：请在“短信模板”中填写腾讯云模板 ID", False)
        return self.client.send(message.number, message.tencent_code, platform_params(message.params))

    def test(self) -> str:
        try:
            self.client.send("00000000000", "0", None)
        except SmsError as e:
            if e.code in self._KEYS_OK:
                return "腾讯云短信连接正常：密钥和 SdkAppId 有效（测试未发送短信）"
            raise
        return "腾讯云短信连接正常"

    def close(self) -> None:
        pass


def make_sender(settings: ChannelSettings) -> Sender | None:
    """The sender of the configured channel; None when no channel is set, or when the platform's secret
    cannot be used on this PC (sealed on another PC: that PC sends)."""
    if settings.channel == "gsm" and settings.gsm_port:
        return GsmSender(settings.gsm_port, settings.gsm_baud)
    secret = PLATFORM_SECRET.get(settings.channel)
    if secret is not None and not getattr(settings, secret):
        return None
    if settings.channel == "aliyun":
        return AliyunSender(settings.aliyun_key_id, settings.aliyun_secret, settings.aliyun_sign,
                            settings.aliyun_endpoint)
    if settings.channel == "tencent":
        return TencentSender(settings.tencent_secret_id, settings.tencent_secret_key, settings.tencent_app_id,
                             settings.tencent_sign, settings.tencent_endpoint)
    return None


def test_channel(clinic: Clinic, actor: Actor) -> str:
    """测试连接 with the saved settings (a fresh sender, closed afterwards). Raises SmsError / ValidationError."""
    actor.require_page(Page.SETTINGS)
    with clinic.read() as s:
        settings, stored = load_channel(s), _stored_secrets(s)
    sender = make_sender(settings)
    secret = PLATFORM_SECRET.get(settings.channel)
    if sender is None and secret is not None and secret in stored:
        where = settings.secret_host or "另一台电脑"
        raise ValidationError.single(secret, f"平台密钥是在 {where} 上加密保存的，本机不能使用：请在本机重新填写密钥并保存"
                                             "（之后由本机发送），或在那台电脑上测试")
    if sender is None:
        raise ValidationError.single("channel", "请先选择短信通道并保存")
    try:
        return sender.test()
    finally:
        sender.close()


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
    return _tab_query(actor, query).order_by(None).with_only_columns(Customer.id).distinct()


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


# --- the pump -------------------------------------------------------------------------------------


@dataclass
class PumpResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    limit_reached: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.sent or self.retried or self.failed or self.cancelled)


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.date(), time())


def sent_today_in(s: Session, now: datetime) -> int:
    """Messages that went out today, and those going out now (they count against the limit)."""
    return s.scalar(select(func.count()).select_from(SmsMessage).where(or_(
        (SmsMessage.status == "sent") & (SmsMessage.sent_at >= day_start(now)),
        SmsMessage.status == "sending"))) or 0


def backoff(attempts: int) -> timedelta:
    return timedelta(minutes=BACKOFF_MINUTES[min(attempts, len(BACKOFF_MINUTES)) - 1])


def _unwanted(s: Session, m: SmsMessage) -> str | None:
    """Why a queued message should no longer go out (opted out since, appointment cancelled)."""
    if m.customer_id is not None:
        customer = s.get(Customer, m.customer_id)
        if customer is not None and not customer.sms_opt_in:
            return "顾客已设置拒收短信，未发送"
    if m.kind == "appointment" and m.dedupe_key and m.dedupe_key.startswith("appt:"):
        from meike.models import Appointment

        appointment_id = m.dedupe_key.split(":")[1]
        appointment = s.get(Appointment, int(appointment_id)) if appointment_id.isascii() and appointment_id.isdigit() else None
        if appointment is not None and appointment.status != "booked":
            return "预约已取消或已到诊，未发送"
    return None


def _claim(clinic: Clinic, now: datetime, channel: str, limit: int) -> tuple[Outgoing | None, str, bool]:
    """Mark the next due message ``sending`` and commit. (message, skipped reason, limit reached)."""
    with clinic.write() as s:
        if sent_today_in(s, now) >= limit:
            return None, "", True
        m = s.scalar(select(SmsMessage).where(SmsMessage.status == "queued", SmsMessage.next_attempt_at <= now)
                     .order_by(SmsMessage.next_attempt_at, SmsMessage.id).limit(1))
        if m is None:
            return None, "", False
        reason = _unwanted(s, m)
        if reason is not None:
            m.status, m.last_error = "cancelled", reason
            return Outgoing(m.id, m.number, m.text, {}), reason, False
        claimed = s.execute(update(SmsMessage).where(SmsMessage.id == m.id, SmsMessage.status == "queued")
                            .values(status="sending", attempts=SmsMessage.attempts + 1, channel=channel,
                                    next_attempt_at=now)
                            .execution_options(synchronize_session=False)).rowcount
        if claimed != 1:  # another workstation took it
            return None, "", False
        template = s.get(SmsTemplate, m.template_id) if m.template_id is not None else None
        params = json.loads(m.params or "{}")
        return Outgoing(m.id, m.number, m.text, params, template.aliyun_code if template else "",
                        template.tencent_code if template else ""), "", False


def _finish(clinic: Clinic, message_id: int, now: datetime, *, reference: str | None = None,
            error: SmsError | None = None) -> str:
    """Record the outcome of a send; returns the new status."""
    with clinic.write() as s:
        m = s.get(SmsMessage, message_id)
        assert m is not None
        if error is None:
            m.status, m.sent_at, m.reference, m.last_error = "sent", now, (reference or "")[:80], ""
        elif error.retryable and m.attempts < MAX_ATTEMPTS:
            m.status, m.next_attempt_at = "queued", now + backoff(m.attempts)
            m.last_error = f"{error.message}（第 {m.attempts} 次失败，{m.next_attempt_at:%H:%M} 重试）"[:200]
        else:
            m.status = "failed"
            m.last_error = (error.message if not error.retryable else f"{error.message}（已重试 {m.attempts} 次）")[:200]
        if error is not None and error.sent_parts:
            m.last_error = (m.last_error + f"；已发出前 {error.sent_parts} 段")[:200]
        return m.status


def pump(clinic: Clinic, sender: Sender, now: datetime | None = None, *, max_messages: int = 50,
         stop: threading.Event | None = None) -> PumpResult:
    """Send due messages one by one (a scheduler job; no acting user). Stops at the daily limit, after
    a retryable failure (the modem or the network is down: the rest would fail the same way), and
    when ``stop`` is set (the program is closing: the message in flight is finished first)."""
    now = now or clock.now()
    result = PumpResult()
    with clinic.read() as s:
        limit = load_channel(s).daily_limit
    for _ in range(max_messages):
        if stop is not None and stop.is_set():
            break
        message, skipped, limit_reached = _claim(clinic, now, sender.channel, limit)
        if limit_reached:
            result.limit_reached = True
            break
        if message is None:
            break
        if skipped:
            result.cancelled += 1
            continue
        try:
            reference = sender.send(message)
        except SmsError as e:
            status = _finish(clinic, message.id, now, error=e)
            result.errors.append(e.message)
            if status == "failed":
                result.failed += 1
                continue
            result.retried += 1
            break
        except Exception as e:  # a bug or an unexpected device answer: retried later, never lost
            log.exception("sending SMS %s failed", message.id)
            _finish(clinic, message.id, now, error=SmsError("UNEXPECTED", f"发送出错：{e}", True))
            result.retried += 1
            result.errors.append(str(e))
            break
        _finish(clinic, message.id, now, reference=reference)
        result.sent += 1
    return result


def recover(clinic: Clinic, now: datetime | None = None, *, stale_after: timedelta = STALE_SENDING) -> int:
    """Messages left ``sending`` by a program that stopped mid-send go back to the queue.

    Only claims older than ``stale_after`` (another workstation may be sending right now). A message
    the modem had already sent before the crash may go out twice: the log says so.
    """
    now = now or clock.now()
    with clinic.write() as s:
        return s.execute(update(SmsMessage).where(SmsMessage.status == "sending",
                                                  SmsMessage.next_attempt_at <= now - stale_after)
                         .values(status="queued", next_attempt_at=now,
                                 last_error="程序在发送中关闭，已重新排队（对方可能收到两次）")).rowcount


# --- the send log ---------------------------------------------------------------------------------


def _visible(actor: Actor) -> Any:
    """Messages of customers in scope, and those the actor typed a number for."""
    return or_(SmsMessage.customer_id.in_(select(Customer.id).where(scope.customer_clause(actor))),
               (SmsMessage.customer_id.is_(None)) & (SmsMessage.created_by_id == actor.user_id))


@dataclass(frozen=True)
class SmsRow:
    id: int
    created_at: datetime
    number: str  # masked
    customer_id: int | None
    customer_name: str
    kind: str
    text: str
    status: str
    attempts: int
    last_error: str
    sent_at: datetime | None
    next_attempt_at: datetime
    channel: str
    created_by: str
    batch_key: str
    parts: int

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


def _log_query(actor: Actor, status: str | None, customer_id: int | None) -> Select[Any]:
    q = select(SmsMessage).where(_visible(actor))
    if status:
        if status not in STATUS_LABELS:
            raise ValidationError.single("status", "状态无效")
        q = q.where(SmsMessage.status == status)
    if customer_id is not None:
        q = q.where(SmsMessage.customer_id == customer_id)
    return q


def count_messages(clinic: Clinic, actor: Actor, *, status: str | None = None, customer_id: int | None = None) -> int:
    _require_send(actor)
    with clinic.read() as s:
        return s.scalar(select(func.count()).select_from(_log_query(actor, status, customer_id).subquery())) or 0


def list_messages(clinic: Clinic, actor: Actor, *, status: str | None = None, customer_id: int | None = None,
                  offset: int = 0, limit: int = 100) -> list[SmsRow]:
    """One page of the send log, newest first, in the actor's scope."""
    _require_send(actor)
    page = _log_query(actor, status, customer_id).order_by(desc(SmsMessage.id)).offset(offset).limit(limit)
    with clinic.read() as s:
        messages = list(s.scalars(page))
        customers = {c.id: c.name for c in s.scalars(select(Customer).where(
            Customer.id.in_({m.customer_id for m in messages if m.customer_id is not None})))}
        users = dict(s.execute(select(User.id, func.coalesce(func.nullif(User.display_name, ""), User.username))
                               .where(User.id.in_({m.created_by_id for m in messages if m.created_by_id}))).all())
        return [SmsRow(m.id, m.created_at, _show_number(actor, m.number), m.customer_id,
                       customers.get(m.customer_id, "") if m.customer_id else "", m.kind, m.text, m.status,
                       m.attempts, m.last_error, m.sent_at, m.next_attempt_at, m.channel,
                       users.get(m.created_by_id, "系统") if m.created_by_id else "系统（自动）", m.batch_key,
                       adapters().sms_parts(m.text) if m.text else 0)
                for m in messages]


@dataclass(frozen=True)
class SmsCounts:
    by_status: dict[str, int]
    sent_today: int
    daily_limit: int
    channel: str

    @property
    def limit_reached(self) -> bool:
        return self.sent_today >= self.daily_limit


def counts(clinic: Clinic, actor: Actor, *, now: datetime | None = None) -> SmsCounts:
    """Counts by status (in scope) and today's sends against the clinic's daily limit (all)."""
    _require_send(actor)
    now = now or clock.now()
    with clinic.read() as s:
        rows = dict(s.execute(select(SmsMessage.status, func.count()).where(_visible(actor))
                              .group_by(SmsMessage.status)).all())
        settings = load_channel(s)
        return SmsCounts({k: int(rows.get(k, 0)) for k in STATUS_LABELS}, sent_today_in(s, now),
                         settings.daily_limit, settings.channel)


def _load_message(s: Session, actor: Actor, message_id: int) -> SmsMessage:
    m = s.scalar(select(SmsMessage).where(SmsMessage.id == message_id, _visible(actor)))
    if m is None:
        raise NotFound("短信不存在或不在您的查看范围内")
    return m


def cancel(clinic: Clinic, actor: Actor, message_id: int) -> None:
    """取消发送 of a message still waiting in the queue."""
    _require_send(actor)
    with clinic.write() as s:
        m = _load_message(s, actor, message_id)
        if m.status != "queued":
            raise ValidationError.single("status", f"这条短信{STATUS_LABELS[m.status]}，不能取消")
        m.status, m.last_error = "cancelled", f"已由 {actor.label} 取消"


def cancel_batch(clinic: Clinic, actor: Actor, batch_key: str) -> int:
    """Cancel what is still queued of one 群发 (in the actor's scope); returns how many."""
    _require_send(actor)
    if not batch_key:
        raise ValidationError.single("batch", "这条短信不是群发")
    with clinic.write() as s:
        n = s.execute(update(SmsMessage).where(SmsMessage.batch_key == batch_key, SmsMessage.status == "queued",
                                               _visible(actor))
                      .values(status="cancelled", last_error=f"已由 {actor.label} 取消（整批）")
                      .execution_options(synchronize_session=False)).rowcount
        audit.record(s, actor, "sms.batch.cancel", "sms_message", None, after={"batch_key": batch_key, "cancelled": n})
        return n


def retry(clinic: Clinic, actor: Actor, message_id: int, *, now: datetime | None = None) -> None:
    """重新发送 a failed (or cancelled) message: back into the queue, attempts counted afresh."""
    _require_send(actor)
    now = now or clock.now()
    with clinic.write() as s:
        m = _load_message(s, actor, message_id)
        if m.status not in ("failed", "cancelled"):
            raise ValidationError.single("status", f"这条短信{STATUS_LABELS[m.status]}，不需要重发")
        if m.customer_id is not None:
            customer = s.get(Customer, m.customer_id)
            if customer is not None and not customer.sms_opt_in:
                raise ValidationError.single("customer", "顾客已设置拒收短信，不能重发")
        m.status, m.attempts, m.next_attempt_at, m.last_error = "queued", 0, now, ""



def use_simulated_modem(clinic: Clinic, port: str) -> None:
    """The demo with ``--simulate-devices``: send through the simulated 短信猫 on ``port``."""
    ensure_default_templates(clinic)
    with clinic.write() as s:
        current = load_channel(s)
        configure_channel_in(s, replace(current, channel="gsm", gsm_port=port, gsm_baud=115200,
                                        gsm_host=socket.gethostname()))
