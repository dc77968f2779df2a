"""Items for the order dialog: search, member discount and promotion prices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from meike.db import Clinic
from meike.db.prefix import prefix_clause
from meike.errors import NotFound
from meike.models import (
    Customer,
    Item,
    MemberLevel,
    Promotion,
)
from meike.money import yuan
from meike.permissions import Actor, Page
from meike.rules.text import search_text
from meike.services import bizday, promotions
from meike.services.customers import load_in_scope

# --- items for the order dialog ---------------------------------------------------------------


@dataclass(frozen=True)
class ItemChoice:
    id: int
    name: str
    pinyin_code: str
    price_fen: int
    min_price_fen: int
    unit: str
    promotion: str = ""  # "促销：国庆特惠 特价 ¥880.00" while the item is on promotion


def find_items(clinic: Clinic, actor: Actor, text: str, *, limit: int = 30) -> list[ItemChoice]:
    """Active items whose pinyin code starts with ``text`` ("syp" → 双眼皮) or whose name contains it."""
    actor.require_page(Page.CASHIER)
    text = search_text(text, field="item")
    q = select(Item).where(Item.is_active.is_(True)).order_by(Item.sort_order, Item.id).limit(limit)
    if text:
        code = text.lower()
        q = q.where(or_(prefix_clause(Item.pinyin_code, code),
                        Item.name.contains(text, autoescape=True)))
    with clinic.read() as s:
        items = list(s.scalars(q))
        day = bizday.open_business_date(s)
        running = {p.item_id: p for p in s.scalars(select(Promotion).where(
            Promotion.item_id.in_([i.id for i in items]), Promotion.is_active.is_(True),
            Promotion.starts_on <= day, Promotion.ends_on >= day))}
        choices = []
        for i in items:
            promo = running.get(i.id)
            note = (f"促销：{promo.name} {yuan(promotions.unit_price(promo, i.price_fen))}"
                    if promo is not None else "")
            choices.append(ItemChoice(i.id, i.name, i.pinyin_code, i.price_fen, i.min_price_fen, i.unit, note))
        return choices


@dataclass(frozen=True)
class PriceQuote:
    """What a line of an item costs a customer now: the price filled in, and the lowest price that
    needs no supervisor (the item's minimum, or the promotion's price when that is lower)."""

    list_price_fen: int
    price_fen: int
    minimum_fen: int
    note: str  # 会员 9.5 折 / 促销：国庆特惠 / ""
    promotion_id: int | None


def price_quote(s: Session, customer: Customer | None, item: Item, sessions: int, day: date) -> PriceQuote:
    """A course of ``sessions`` (0 = a single unit) is priced for all its sessions."""
    sessions = max(1, sessions)
    list_price, minimum = item.price_fen * sessions, item.min_price_fen * sessions
    level = (s.get(MemberLevel, customer.member_level_id)
             if customer is not None and customer.member_level_id else None)
    permille = level.discount_permille if level is not None and level.is_active else 1000
    price = member_price(list_price, minimum, permille)
    note = f"{level.name} {permille / 100:g} 折" if level is not None and price < list_price else ""
    promo = promotions.active(s, item.id, day)
    if promo is None:
        return PriceQuote(list_price, price, minimum, note, None)
    promo_price = promotions.unit_price(promo, item.price_fen) * sessions
    if promo_price < price:
        price, note = promo_price, f"促销：{promo.name}"
    return PriceQuote(list_price, price, min(minimum, promo_price), note,
                      promo.id if price == promo_price else None)


def quote(clinic: Clinic, actor: Actor, *, customer_id: int | None, item_id: int, sessions: int = 0) -> PriceQuote:
    """The price the order dialog fills in for an item (member discount, promotion)."""
    actor.require_page(Page.CASHIER)
    with clinic.read() as s:
        item = s.get(Item, item_id)
        if item is None:
            raise NotFound("项目不存在")
        customer = load_in_scope(s, actor, customer_id) if customer_id is not None else None
        return price_quote(s, customer, item, sessions, bizday.open_business_date(s))


def member_price(list_price: int, minimum: int, permille: int) -> int:
    """The member level's discount, rounded to the fen; an automatic discount never goes below the minimum."""
    if permille >= 1000:
        return list_price
    return max(minimum, (list_price * permille + 500) // 1000)


