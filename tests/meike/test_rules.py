"""Pure rules: money parsing and formatting, pinyin search keys, mobile and ID-card validation."""

from __future__ import annotations

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
        ("￥99", 9900),
        ("¥ 99.9", 9990),
        (" 0.01 ", 1),
        ("0", 0),
        ("-0", 0),
        ("-12.5", -1250),
        (".5", 50),
        ("99999999999.99", MAX_FEN - 1),
        ("-99999999999.99", -(MAX_FEN - 1)),
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
        ("1e-999999", "最多保留两位小数"),  # must not round to 0 fen
        ("abc", "金额格式不正确"),
        ("12元", "金额格式不正确"),
        ("1 280", "金额格式不正确"),
        ("NaN", "金额格式不正确"),
        ("Infinity", "金额格式不正确"),
        ("100000000000", "金额过大"),
        ("-100000000000", "金额过大"),
        (10**11, "金额过大"),
        ("1e999999", "金额过大"),  # beyond the decimal context: no Overflow, no slow huge int
        ("-9e9999999", "金额过大"),
    ],
)
def test_parse_yuan_refuses_with_a_message(text: str | Decimal | int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_yuan(text)


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
    assert parse_yuan(format_fen(fen, symbol=symbol)) == fen
    assert parse_yuan(to_yuan(fen)) == fen


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
    assert mask_mobile("1234567") == "1234567"  # too short to mask meaningfully


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
