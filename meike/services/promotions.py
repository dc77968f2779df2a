"""促销 promotions: an item's special price (特价) or discount (折扣) for a range of days.

Seed 004: "如果是促销项目则以自动显示的是促销的折扣价" — when an item is on promotion, a new order line
shows the promotion's price. A member pays the lower of the promotion and the member discount. The
promotion is the approval of its price: a line at the promotion's price needs no supervisor even below
the item's minimum, but setting such a promotion does (and every promotion is audited as a price
change). One item has at most one active promotion on any day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from meike import clock
from meike.db import Clinic
from meike.errors import NotFound, ValidationError
from meike.models import Item, Promotion
from meike.money import MAX_FEN, yuan
from meike.permissions import Actor, Page, Right
from meike.rules.text import take_text
from meike.services import audit, ledger

MAX_DAYS = 366 * 3


@dataclass(frozen=True)
class PromotionView:
    id: int
    name: str
    item_id: int
    item_name: str
    list_price_fen: int
    price_fen: int | None
    discount_permille: int | None
    starts_on: date
    ends_on: date
    is_active: bool

    def state(self, today: date) -> str:
        if not self.is_active:
            return "已停止"
        if today < self.starts_on:
            return "未开始"
        return "已结束" if today > self.ends_on else "进行中"

    @property
    def terms(self) -> str:
        """特价 ¥880.00 / 8 折 (¥704.00)."""
        if self.price_fen is not None:
            return f"特价 {yuan(self.price_fen)}"
        assert self.discount_permille is not None
        return f"{self.discount_permille / 100:g} 折（{yuan(unit_price(self, self.list_price_fen))}）"


def unit_price(promotion: Promotion | PromotionView, list_price_fen: int) -> int:
    """The promotion's price of one unit of an item listed at ``list_price_fen``."""
    if promotion.price_fen is not None:
        return promotion.price_fen
    assert promotion.discount_permille is not None
    return (list_price_fen * promotion.discount_permille + 500) // 1000


def active(s: Session, item_id: int, day: date) -> Promotion | None:
    """The item's promotion running on ``day``, if any."""
    return s.scalars(select(Promotion).where(
        Promotion.item_id == item_id, Promotion.is_active.is_(True), Promotion.starts_on <= day,
        Promotion.ends_on >= day).order_by(Promotion.id.desc()).limit(1)).first()


def _view(p: Promotion, item: Item) -> PromotionView:
    return PromotionView(p.id, p.name, p.item_id, item.name, item.price_fen, p.price_fen, p.discount_permille,
                         p.starts_on, p.ends_on, p.is_active)


def list_promotions(clinic: Clinic, actor: Actor, *, include_finished: bool = False) -> list[PromotionView]:
    """Running and coming promotions (and finished / stopped ones when asked), newest start first."""
    actor.require_any_page(Page.SETTINGS, Page.CASHIER)
    with clinic.read() as s:
        q = select(Promotion, Item).join(Item, Item.id == Promotion.item_id)
        if not include_finished:
            q = q.where(Promotion.is_active.is_(True), Promotion.ends_on >= clock.now().date())
        rows = s.execute(q.order_by(Promotion.starts_on.desc(), Promotion.id.desc())).tuples()
        return [_view(p, item) for p, item in rows]


def add_promotion(clinic: Clinic, actor: Actor, *, name: str, item_id: int | None, starts_on: date | None,
                  ends_on: date | None, price_fen: int | None = None, discount_permille: int | None = None,
                  supervisor: Actor | None = None) -> int:
    """Set a promotion; a price below the item's minimum needs ``supervisor`` (``Right.APPROVE_PRICE``)."""
    actor.require_page(Page.SETTINGS)
    errors: dict[str, str] = {}
    name = take_text(errors, name, field="name", label="名称", limit=60)
    if not name and "name" not in errors:
        errors["name"] = "请填写促销名称"
    if item_id is None:
        errors["item_id"] = "请选择促销项目"
    if (price_fen is None) == (discount_permille is None):
        errors["price"] = "请填写特价或折扣（二选一）"
    elif price_fen is not None and (not isinstance(price_fen, int) or not 0 <= price_fen < MAX_FEN):
        errors["price"] = "特价不能小于 0"
    elif discount_permille is not None and (not isinstance(discount_permille, int)
                                            or not 1 <= discount_permille <= 999):
        errors["price"] = "折扣应在 0.1 折到 9.99 折之间"
    if starts_on is None:
        errors["starts_on"] = "请填写开始日期"
    if ends_on is None:
        errors["ends_on"] = "请填写结束日期"
    elif starts_on is not None and ends_on < starts_on:
        errors["ends_on"] = "结束日期不能早于开始日期"
    elif starts_on is not None and (ends_on - starts_on).days > MAX_DAYS:
        errors["ends_on"] = "促销最长三年"
    elif ends_on < clock.now().date():
        errors["ends_on"] = "结束日期不能早于今天"
    if errors:
        raise ValidationError(errors)
    assert item_id is not None and starts_on is not None and ends_on is not None
    with clinic.write() as s:
        item = s.get(Item, item_id)
        if item is None or not item.is_active:
            raise ValidationError.single("item_id", "项目不存在或已停用")
        clash = s.scalars(select(Promotion).where(
            Promotion.item_id == item.id, Promotion.is_active.is_(True), Promotion.starts_on <= ends_on,
            Promotion.ends_on >= starts_on).limit(1)).first()
        if clash is not None:
            raise ValidationError.single("starts_on", f"与促销“{clash.name}”（{clash.starts_on:%Y-%m-%d} 至 "
                                                      f"{clash.ends_on:%Y-%m-%d}）的日期重叠")
        promotion = Promotion(name=name, item_id=item.id, price_fen=price_fen, discount_permille=discount_permille,
                              starts_on=starts_on, ends_on=ends_on, is_active=True, created_by_id=actor.user_id,
                              created_at=clock.now())
        price = unit_price(promotion, item.price_fen)
        if price > item.price_fen:
            raise ValidationError.single("price", f"特价不能高于项目单价 {yuan(item.price_fen)}")
        approved = price < item.min_price_fen or (price == 0 and item.price_fen > 0)  # below the minimum, or free
        if approved:
            try:
                ledger.require_supervisor(supervisor, Right.APPROVE_PRICE, "低于最低价的促销")
            except ValidationError as e:
                below = (f"低于最低价 {yuan(item.min_price_fen)}" if price < item.min_price_fen
                         else "等于免费赠送")
                raise ValidationError.single(
                    "supervisor", f"促销价 {yuan(price)} {below}，"
                                  f"{e.errors.get('supervisor', '需要主管审批')}") from None
        s.add(promotion)
        s.flush()
        audit.record(s, actor, "promotion.create", "promotion", promotion.id, before={
            "item": item.name, "price_fen": item.price_fen, "min_price_fen": item.min_price_fen,
        }, after={
            "name": name, "item": item.name, "price_fen": price_fen, "discount_permille": discount_permille,
            "unit_price_fen": price, "starts_on": starts_on, "ends_on": ends_on,
            "supervisor": supervisor.username if supervisor is not None and approved else None,
        })
        return promotion.id


def stop_promotion(clinic: Clinic, actor: Actor, promotion_id: int) -> None:
    """停止: the promotion ends now (lines already priced by it keep their price)."""
    actor.require_page(Page.SETTINGS)
    with clinic.write() as s:
        promotion = s.get(Promotion, promotion_id)
        if promotion is None:
            raise NotFound("促销不存在")
        if not promotion.is_active:
            return
        promotion.is_active = False
        audit.record(s, actor, "promotion.stop", "promotion", promotion.id, before={"is_active": True},
                     after={"is_active": False, "name": promotion.name})
