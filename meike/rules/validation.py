"""Validation and masking of personal data as typed at the front desk (messages in Chinese)."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

# ASCII digits only: ``\d`` would also take Arabic-Indic, Devanagari, … digits, which ``int()`` reads.
MOBILE_RE = re.compile(r"1[3-9][0-9]{9}\Z")
_ID_RE = re.compile(r"[0-9]{17}[0-9X]\Z")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


_SEPARATORS = re.compile(r"[\s\-()（）]")


def nfkc(text: str) -> str:
    """What was typed in the form every check and the database use: NFKC (full-width ``１３８`` and
    ``Ｘ``, mathematical ``𝟏``, the ideographic space become ASCII), without surrounding spaces.
    Digits of other scripts (Arabic-Indic ``٣``) stay what they are, and the checks refuse them."""
    return unicodedata.normalize("NFKC", text or "").strip()


def whole_number(text: str) -> int | None:
    """A typed whole number (full-width ``３０`` too, after NFKC), or None: only the digits 0–9, no sign,
    no ``_`` or other scripts' digits, which Python's ``int()`` would take (and ``²``, which it refuses)."""
    text = nfkc(text)
    return int(text) if text and text.isascii() and text.isdigit() else None


def has_foreign_digits(text: str) -> bool:
    """A decimal digit that is not 0–9 (``٣``, ``३``): Python's ``isdigit()`` and ``int()`` take them."""
    return any(c.isdigit() and not "0" <= c <= "9" for c in text)


def normalise_mobile(text: str) -> str:
    """NFKC, then drop spaces, dashes, brackets and a +86 / 0086 prefix."""
    digits = _SEPARATORS.sub("", nfkc(text))
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix):]
    return digits


def mobile_error(text: str) -> str | None:
    mobile = normalise_mobile(text)
    if not mobile:
        return "请填写手机号"
    if has_foreign_digits(mobile):
        return "手机号只能用数字 0–9 填写"
    if not MOBILE_RE.match(mobile):
        return "手机号应为 11 位，以 13–19 开头"
    return None


def normalise_id_card(text: str) -> str:
    """NFKC and upper case: ``１１０１…００２ｘ`` → ``1101…002X``."""
    return nfkc(text).upper()


def id_card_error(text: str, *, today: date | None = None) -> str | None:
    """Mainland 18-digit resident ID: format, a real birth date not in the future, the checksum."""
    value = normalise_id_card(text)
    if has_foreign_digits(value):
        return "身份证号只能用数字 0–9 和 X 填写"
    if not _ID_RE.match(value):
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


def sex_from_id_card(value: str) -> str:
    """``M`` or ``F`` from the 17th digit of a valid ID number (odd: male)."""
    return "M" if int(value[16]) % 2 else "F"


def digits_error(text: str, what: str) -> str | None:
    """A number of ASCII digits (QQ): ``text`` already NFKC-normalised."""
    if has_foreign_digits(text):
        return f"{what}只能用数字 0–9 填写"
    if text and not re.fullmatch(r"[0-9]+", text):
        return f"{what}只能是数字"
    return None


def card_no_error(text: str) -> str | None:
    """A clinic's card number 卡号 (``text`` already NFKC-normalised): its digits are 0–9. Its other
    characters stay free, as clinics number their cards their own way (会员001, A-100)."""
    if has_foreign_digits(text):
        return "卡号中的数字只能用 0–9 填写"
    return None


def mask_number(value: str) -> str:
    """Every number shown masked — mobile, landline, short number, ID card, QQ, bank card — by one rule.

    At least 4 characters are always hidden; at most the last 4 are shown, and numbers of 11–14 digits
    (a mobile, a landline with its area code) also show their first 3: the carrier or the area code,
    which say nothing about the person. One star per hidden character.

    =========  ===============================  =================================================
    length     shown                            examples
    =========  ===============================  =================================================
    1–4        nothing                          ``110`` → ``***``, ``1234`` → ``****``
    5–7        the last (length − 4)            ``95555`` → ``****5``, ``6234567`` → ``****567``
    8–10       the last 4                       ``62345678`` → ``****5678``, QQ ``1234567890`` →
                                                ``******7890``
    11–14      the first 3 and the last 4       ``13800138000`` → ``138****8000``, ``02167891234``
                                                → ``021****1234``, ``075512345678`` →
                                                ``075*****5678``
    15 and up  the last 4                       ID ``11010519491231002X`` → ``**************002X``,
                                                card ``6222020200112233445`` → ``***************3445``
    =========  ===============================  =================================================

    The last 4 of an ID card are the sequence and check digits: the birth date in the middle is hidden,
    and so must be the birthday shown beside it (``customers.get_customer`` shows the age instead).
    """
    value = (value or "").strip()
    n = len(value)
    if n <= 4:
        return "*" * n
    if n <= 7:
        return "****" + value[4:]
    if 11 <= n <= 14:
        return value[:3] + "*" * (n - 7) + value[-4:]
    return "*" * (n - 4) + value[-4:]


def mask_mobile(mobile: str) -> str:
    """A mobile (or any caller's number) masked by the one rule of ``mask_number``."""
    return mask_number(mobile)


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
