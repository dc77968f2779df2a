"""The channel settings (GSM modem, Aliyun, Tencent; secrets sealed per PC) and the senders built from them."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike import secret_box
from meike.db import Clinic
from meike.errors import ValidationError
from meike.models import SystemSetting
from meike.permissions import Actor, Page
from meike.ports import ALIYUN_ENDPOINT, TENCENT_ENDPOINT, SmsError, adapters
from meike.rules.text import text_error
from meike.secret_box import SecretUnavailable
from meike.services import audit
from meike.services.sms.common import BAUD_RATES, CHANNEL_LABELS, MAX_SETTING, PLATFORM_NAMES

log = logging.getLogger(__name__)

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
    return {str(key): str(value) for key, value in s.execute(
        select(SystemSetting.key, SystemSetting.value)
        .where(SystemSetting.key.in_([f"sms.{f.name}" for f in fields(ChannelSettings)])))}


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
    blank: dict[str, Any] = {k: "" for k in SECRET_FIELDS}
    return ChannelView(replace(current, **blank), hints, here,
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
