"""Validation of personal data as typed at the front desk (messages in Chinese)."""

from __future__ import annotations

import re
from datetime import date

MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


_SEPARATORS = re.compile(r"[\s\-()（）]")


def normalise_mobile(text: str) -> str:
    """Drop spaces, dashes and a +86 / 0086 prefix."""
    digits = _SEPARATORS.sub("", text)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
    return digits


def mobile_error(text: str) -> str | None:
    mobile = normalise_mobile(text)
    if not mobile:
        return "请填写手机号"
    if not MOBILE_RE.match(mobile):
        return "手机号应为 11 位，以 13–19 开头"
    return None


def id_card_error(text: str, *, today: date | None = None) -> str | None:
    """Mainland 18-digit resident ID: format, a real birth date not in the future, the checksum."""
    value = text.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", value):
        return "身份证号应为 18 位（最后一位可以是 X）"
    try:
        birth = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "身份证号中的出生日期不存在"
    if birth > (today or date.today()) or birth.year < 1900:
        return "身份证号中的出生日期不正确"
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != value[17]:
        return "身份证号校验位不正确，请核对"
    return None


def mask_mobile(mobile: str) -> str:
    return mobile[:3] + "****" + mobile[-4:] if len(mobile) >= 8 else mobile


def birthday_error(value: date | None, *, today: date | None = None) -> str | None:
    if value is None:
        return None
    today = today or date.today()
    if value > today:
        return "生日不能晚于今天"
    if today.year - value.year > 120:
        return "生日不正确（年龄超过 120 岁）"
    return None


def age_error(value: int | None) -> str | None:
    if value is None:
        return None
    if not 0 <= value <= 120:
        return "年龄应在 0–120 之间"
    return None


def birthday_from_id_card(value: str) -> date:
    """The birth date inside a valid 18-digit ID number."""
    return date(int(value[6:10]), int(value[10:12]), int(value[12:14]))


def age_on(birthday: date, today: date) -> int:
    return today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))
