"""Pure rules: money parsing and formatting, pinyin search keys, mobile and ID-card validation."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meike.money import MAX_FEN, format_fen, parse_yuan, to_yuan
from meike.rules.pinyin import initials, is_pinyin_query
from meike.rules.validation import id_card_error, mask_mobile, mobile_error, normalise_mobile

# --- money ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1280", 128000),
        ("1,280.50", 128050),
        ("1，280.5", 128050),
        ("12,345,678.90", 1234567890),
        ("￥99", 9900),
        ("¥ 99.9", 9990),
        (" 0.01 ", 1),
        ("0", 0),
        (".5", 50),
        ("5.", 500),
        ("99999999999.99", MAX_FEN - 1),
        # What a cashier's Chinese input method types: full-width digits, point, comma and ￥, 。 as the
        # point, 元 after the amount.
        ("１００．５０", 10050),
        ("100。50", 10050),
        ("１００。５", 10050),
        ("100元", 10000),
        ("¥1,280.50 元", 128050),
        ("￥１，２８０", 128000),
        ("\u3000８８\u3000", 8800),
        (12, 1200),
        (Decimal("3.10"), 310),
        (Decimal("5.000000000000000000000000000000000"), 500),
    ],
)
def test_parse_yuan_accepts(text: str | Decimal | int, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "请输入金额"),
        ("   ", "请输入金额"),
        ("￥", "请输入金额"),
        ("12.345", "最多保留两位小数"),
        ("0.001", "最多保留两位小数"),
        (Decimal("1.005"), "最多保留两位小数"),
        ("1.0000000000000000000000000001", "最多保留两位小数"),  # 29 digits: must not round away
        ("abc", "金额格式不正确：不认识「a」"),
        ("1 280", "金额格式不正确：数字中间有空格"),
        ("NaN", "金额格式不正确：不认识「N」"),
        ("Infinity", "金额格式不正确：不认识「I」"),
        (Decimal("NaN"), "金额格式不正确"),
        ("100000000000", "金额过大"),
        (10**11, "金额过大"),
        (Decimal("1e999999"), "金额过大"),  # beyond the decimal context: no Overflow, no slow huge int
        (Decimal("1e-999999"), "最多保留两位小数"),  # must not round to 0 fen
        # Issue 14/19: commas are thousands separators in groups of three, never stripped wherever they are.
        ("10,00", "“10,00”中的逗号位置不对"),
        ("100，50", "“100,50”中的逗号位置不对"),
        ("1,2345", "逗号位置不对"),
        ("0,100", "逗号位置不对"),
        ("1.000,50", "小数部分不能有逗号"),
        ("1,,000", "逗号位置不对"),
        # No exponent, no underscore, no digits of other scripts (NFKC would make 𝟏𝟎𝟎, ① and ² digits).
        ("1e9", "不认识「e」"),
        ("1e-999999", "不认识「e」"),
        ("1_000", "不认识「_」"),
        ("٣", "不认识「٣」"),
        ("𝟏𝟎𝟎", "不认识「𝟏」"),
        ("①", "不认识「①」"),
        ("10²", "不认识「²」"),
        ("1\x00", "不认识字符 U+0000"),
        ("1.2.3", "有不止一个小数点"),
        ("12元5", "元 只能写在金额后面"),
        ("5¥", "¥ 只能写在金额前面"),
        ("5-", "负号只能写在数字前面"),
        (".", "没有数字"),
        ("1" * 41, "内容太长"),
        # Negative amounts: refused here as in every window that asks for an amount.
        ("-12.5", "金额不能为负数"),
        ("-0", "金额不能为负数"),
        ("－５", "金额不能为负数"),
        (-5, "金额不能为负数"),
        (Decimal("-0.01"), "金额不能为负数"),
    ],
)
def test_parse_yuan_refuses_with_a_message(text: str | Decimal | int, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_yuan(text)


@pytest.mark.parametrize(
    ("text", "fen"),
    [("-12.5", -1250), ("-0", 0), ("￥-12.50", -1250), ("-99999999999.99", -(MAX_FEN - 1)), (-3, -300)],
)
def test_parse_yuan_takes_negatives_only_when_asked(text: str | int, fen: int) -> None:
    assert parse_yuan(text, allow_negative=True) == fen


def test_parse_yuan_refuses_too_large_negatives_too() -> None:
    with pytest.raises(ValueError, match="金额过大"):
        parse_yuan("-100000000000", allow_negative=True)


@pytest.mark.parametrize(
    ("fen", "plain", "with_symbol"),
    [
        (0, "0.00", "￥0.00"),
        (1, "0.01", "￥0.01"),
        (128050, "1,280.50", "￥1,280.50"),
        (1234567890, "12,345,678.90", "￥12,345,678.90"),
        (-1250, "-12.50", "￥-12.50"),
        (MAX_FEN - 1, "99,999,999,999.99", "￥99,999,999,999.99"),
    ],
)
def test_format_fen(fen: int, plain: str, with_symbol: str) -> None:
    assert format_fen(fen) == plain
    assert format_fen(fen, symbol=True) == with_symbol


def test_to_yuan_is_an_exact_decimal() -> None:
    assert to_yuan(128050) == Decimal("1280.50")
    assert str(to_yuan(5)) == "0.05"


@given(st.integers(min_value=-(MAX_FEN - 1), max_value=MAX_FEN - 1), st.booleans())
def test_formatted_amounts_parse_back_to_the_same_fen(fen: int, symbol: bool) -> None:
    assert parse_yuan(format_fen(fen, symbol=symbol), allow_negative=True) == fen
    assert parse_yuan(to_yuan(fen), allow_negative=True) == fen


_FULL_WIDTH = str.maketrans("0123456789.,", "０１２３４５６７８９．，")


@st.composite
def typed_amounts(draw: st.DrawFn) -> tuple[str, int]:
    """An amount as a cashier may type it, and its fen: every form the grammar allows."""
    fen = draw(st.integers(min_value=0, max_value=MAX_FEN - 1))
    yuan, cents = divmod(fen, 100)
    shortest = 0 if cents == 0 else 1 if cents % 10 == 0 else 2
    decimals = draw(st.integers(min_value=shortest, max_value=2))
    whole = f"{yuan:,}" if draw(st.booleans()) else str(yuan)
    if decimals:
        point = draw(st.sampled_from([".", "。", "．"]))
        body = f"{whole}{point}{cents:02d}"[: len(whole) + 1 + decimals]
    else:
        body = whole + draw(st.sampled_from(["", "."]))
    if draw(st.booleans()):
        body = body.translate(_FULL_WIDTH)
    if yuan == 0 and decimals and draw(st.booleans()):  # ".5"
        body = body[1:]
    symbol = draw(st.sampled_from(["", "¥", "￥", "¥ ", "￥\u3000"]))
    unit = draw(st.sampled_from(["", "元", " 元"]))
    pad = draw(st.sampled_from(["", " ", "\u3000"]))
    return f"{pad}{symbol}{body}{unit}{pad}", fen


@given(typed_amounts())
def test_every_form_the_grammar_allows_parses_to_its_amount(typed: tuple[str, int]) -> None:
    text, fen = typed
    assert parse_yuan(text) == fen


# The grammar written once more, independently of the parser: after NFKC (and 。 as the point) an
# optional ¥, digits grouped by commas in threes or not at all, at most 2 decimals, an optional 元.
_GRAMMAR = re.compile(r"¥?\s*(?P<whole>[1-9][0-9]{0,2}(?:,[0-9]{3})+|[0-9]*)(?:\.(?P<cents>[0-9]{0,2}))?\s*元?")
_TYPED = set("0123456789０１２３４５６７８９.．。｡,，¥￥元 \u3000")


def _by_grammar(text: str) -> int | None:
    text = text.strip()
    if not set(text) <= _TYPED:
        return None
    m = _GRAMMAR.fullmatch(unicodedata.normalize("NFKC", text).replace("。", "."))
    if m is None or not (m["whole"] or m["cents"]):
        return None
    fen = int(m["whole"].replace(",", "") or 0) * 100 + int((m["cents"] or "").ljust(2, "0"))
    return fen if fen < MAX_FEN else None


_NEAR_MONEY = st.sampled_from(list("0123456789０１２３４５６７８９.．。,，¥￥元 -_e٣𝟏①²\u3000+") + ["\x00", "\t"])


@given(st.text(alphabet=_NEAR_MONEY, max_size=20) | st.text(max_size=20))
def test_text_gives_an_amount_only_when_it_matches_the_grammar(text: str) -> None:
    expected = _by_grammar(text)
    try:
        got = parse_yuan(text)
    except ValueError as e:
        assert str(e)  # always says why
        assert expected is None, f"{text!r} is money by the grammar ({expected} fen) but was refused: {e}"
        return
    assert got == expected, f"{text!r} gave {got} fen; by the grammar {expected}"


# --- pinyin --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("双眼皮", "syp"),
        ("张三", "zs"),
        ("玻尿酸 1ml", "bns1ml"),
        ("Botox 肉毒素", "botoxrds"),
        ("热玛吉（全脸）", "rmjql"),
        ("", ""),
    ],
)
def test_pinyin_initials(text: str, code: str) -> None:
    assert initials(text) == code


def test_pinyin_initials_are_capped() -> None:
    assert len(initials("双眼皮" * 20)) == 20
    assert initials("双眼皮", limit=2) == "sy"


def test_pinyin_query_detection() -> None:
    assert is_pinyin_query("syp") and is_pinyin_query("ZS")
    assert not is_pinyin_query("张三")
    assert not is_pinyin_query("1380")
    assert not is_pinyin_query("s1")


# --- mobile and ID card --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["13800138000", "+86 138-0013-8000", "0086 199 1234 5678", "(138)00138000"])
def test_valid_mobiles(text: str) -> None:
    assert mobile_error(text) is None
    assert len(normalise_mobile(text)) == 11


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "请填写手机号"),
        ("  ", "请填写手机号"),
        ("12800138000", "11 位"),
        ("1380013800", "11 位"),
        ("138001380001", "11 位"),
        ("1380013800a", "11 位"),
        ("010-12345678", "11 位"),
    ],
)
def test_invalid_mobiles(text: str, message: str) -> None:
    error = mobile_error(text)
    assert error is not None and message in error


def test_mask_mobile() -> None:
    assert mask_mobile("13800138000") == "138****8000"
    assert mask_mobile("1234567") == "****567"  # every number by the one rule (test_personal_numbers.py)


TODAY = date(2026, 11, 23)


@pytest.mark.parametrize("text", ["11010519491231002X", "11010519491231002x", " 11010519491231002X "])
def test_valid_id_card(text: str) -> None:
    assert id_card_error(text, today=TODAY) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("110105194912310021", "校验位"),
        ("11010519491231002", "18 位"),
        ("1101051949123100211", "18 位"),
        ("11010519491231002Y", "18 位"),
        ("110105199902300000", "出生日期不存在"),
        ("110105202612310000", "出生日期不正确"),  # born after TODAY
        ("110105189912310000", "出生日期不正确"),  # before 1900
    ],
)
def test_invalid_id_card(text: str, message: str) -> None:
    error = id_card_error(text, today=TODAY)
    assert error is not None and message in error


def test_id_card_born_today_is_accepted() -> None:
    stem = "110105" + TODAY.strftime("%Y%m%d") + "000"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    check = "10X98765432"[sum(int(d) * w for d, w in zip(stem, weights, strict=True)) % 11]
    assert id_card_error(stem + check, today=TODAY) is None
