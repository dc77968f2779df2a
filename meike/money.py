"""Money: integer fen in the database, ``Decimal`` yuan at the edges, never float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

FEN_PER_YUAN = 100
MAX_FEN = 10**13  # 1,000亿元: far above any real price, keeps sums inside 64 bits


def parse_yuan(text: str | Decimal | int) -> int:
    """Turn user input in yuan ("1,280.50", "￥99", 12) into fen.

    Raises:
        ValueError: with a Chinese message when the text is not an amount with at most 2 decimals.
    """
    if isinstance(text, int):
        value = Decimal(text)
    elif isinstance(text, Decimal):
        value = text
    else:
        cleaned = text.strip().replace(",", "").replace("，", "").lstrip("￥¥").strip()
        if not cleaned:
            raise ValueError("请输入金额")
        try:
            value = Decimal(cleaned)
        except InvalidOperation:
            raise ValueError("金额格式不正确，例如 1280 或 1280.50") from None
    if not value.is_finite():
        raise ValueError("金额格式不正确，例如 1280 或 1280.50")
    # Compare exactly before any arithmetic: "1e999999" must not overflow the decimal context (or
    # build a huge int), and "1e-999999" must not round to 0 fen.
    if value.copy_abs() >= Decimal(MAX_FEN) / FEN_PER_YUAN:
        raise ValueError("金额过大")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError("金额最多保留两位小数")
    return int(value * FEN_PER_YUAN)


def to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def format_fen(fen: int, *, symbol: bool = False) -> str:
    """1234550 → "12,345.50" (or "￥12,345.50")."""
    text = f"{to_yuan(fen):,.2f}"
    return f"￥{text}" if symbol else text
