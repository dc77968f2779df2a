"""Money: integer fen in the database, ``Decimal`` yuan at the edges, never float."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

FEN_PER_YUAN = 100
MAX_FEN = 10**13  # 1,000亿元: far above any real price, keeps sums inside 64 bits
MAX_TEXT = 40  # "¥99,999,999,999.99元" with room for spaces; longer text is not an amount

EXAMPLE = "例如 1280 或 1,280.50"
# What a cashier may type, before NFKC: ASCII and full-width digits, points (also 。), commas, ¥/￥,
# 元, a minus sign (refused unless negatives are allowed) and spaces. Anything else is refused by name,
# also what NFKC would turn into a digit (𝟏, ①, ², ٣ is no digit at all): nobody types those for money.
_ALLOWED = frozenset("0123456789０１２３４５６７８９.．。｡,，¥￥元-－ \u3000")
_GROUPED = re.compile(r"[1-9][0-9]{0,2}(?:,[0-9]{3})+")


def _bad(what: str) -> ValueError:
    return ValueError(f"金额格式不正确：{what}，{EXAMPLE}")


def _shown(ch: str) -> str:
    """A character as the message names it: itself, or its code point when it cannot be seen."""
    return f"「{ch}」" if ch.isprintable() and not ch.isspace() else f"字符 U+{ord(ch):04X}"


def _parse_text(text: str, *, allow_negative: bool) -> Decimal:
    """The amount of typed text (grammar: ``[¥] [-] digits[,ddd…] [.d[d]] [元]``, after NFKC)."""
    text = text.strip()
    if len(text) > MAX_TEXT:
        raise _bad("内容太长")
    for ch in text:
        if ch not in _ALLOWED:
            raise _bad(f"不认识{_shown(ch)}")
    s = unicodedata.normalize("NFKC", text).replace("。", ".")
    if s.startswith("¥"):
        s = s[1:].lstrip()
    if s.endswith("元"):
        s = s[:-1].rstrip()
    negative = s.startswith("-")
    if negative:
        s = s[1:].lstrip()
    if not s:
        raise ValueError("请输入金额")
    if "¥" in s:
        raise _bad("¥ 只能写在金额前面")
    if "元" in s:
        raise _bad("元 只能写在金额后面")
    if "-" in s:
        raise _bad("负号只能写在数字前面")
    if " " in s:
        raise _bad("数字中间有空格")
    whole, point, cents = s.partition(".")
    if "." in cents:
        raise _bad("有不止一个小数点")
    if "," in cents:
        raise _bad("小数部分不能有逗号")
    if "," in whole:
        if not _GROUPED.fullmatch(whole):
            raise _bad(f"“{whole}”中的逗号位置不对（每三位一个），小数请用小数点")
        whole = whole.replace(",", "")
    if not whole and not cents:
        raise _bad("没有数字")
    if len(cents) > 2:
        raise ValueError("金额最多保留两位小数")
    if negative and not allow_negative:
        raise ValueError("金额不能为负数")
    value = Decimal(f"{whole or '0'}.{cents or '0'}")
    return -value if negative else value


def parse_yuan(text: str | Decimal | int, *, allow_negative: bool = False) -> int:
    """Turn user input in yuan into fen: "1280", "1,280.50", "￥99", "１００．５０", "100。50", "100元".

    Text is NFKC-normalised (full-width digits, point, comma and ￥ are what a Chinese input method
    types; 。 is taken as the decimal point); thousands separators only in groups of three ("10,00"
    is refused, never read as 1000); at most 2 decimals; no exponent, no ``_``, no digits of other
    scripts. Negative amounts are refused unless ``allow_negative``.

    Raises:
        ValueError: with a Chinese message that says what was not understood.
    """
    if isinstance(text, bool):
        raise TypeError("parse_yuan takes text, int or Decimal, not bool")
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, Decimal):
        value = text
        if not value.is_finite():
            raise _bad("不是一个数")
    else:
        value = _parse_text(text, allow_negative=allow_negative)
    if value < 0 and not allow_negative:
        raise ValueError("金额不能为负数")
    # Compare exactly before any arithmetic: Decimal("1e999999") must not overflow the decimal context
    # (or build a huge int), and Decimal("1e-999999") must not round to 0 fen.
    if value.copy_abs() >= Decimal(MAX_FEN) / FEN_PER_YUAN:
        raise ValueError("金额过大")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("金额最多保留两位小数")
    return int(value * FEN_PER_YUAN)


def to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


YUAN_SIGN = "￥"  # the full-width sign: in GBK, so a receipt printer's Chinese font has it (¥ U+00A5 is not)


def format_fen(fen: int, *, symbol: bool = False) -> str:
    """1234550 → "12,345.50" (or "￥12,345.50")."""
    text = f"{to_yuan(fen):,.2f}"
    return f"{YUAN_SIGN}{text}" if symbol else text


def yuan(fen: int) -> str:
    """The one way an amount is shown, on screen, on receipts and in messages: ￥1,280.00; -￥20.00."""
    return f"-{YUAN_SIGN}{format_fen(-fen)}" if fen < 0 else f"{YUAN_SIGN}{format_fen(fen)}"
