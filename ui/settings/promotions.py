"""系统管理 → 促销活动: the promotions running and coming (finished ones on request), added and stopped
through the list's menu or its buttons; and the dialog that sets one."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from meike import clock
from meike.db import Clinic
from meike.errors import ValidationError
from meike.money import parse_yuan, yuan
from meike.permissions import Actor
from meike.services.dictionaries import Entry, Kind
from meike.services.promotions import PromotionView
from ui.cashier.common import SupervisorFields
from ui.operations import Op
from ui.operations import settings as ops
from ui.settings.dictionary_entry import parse_discount
from ui.widgets.form_dialog import FormDialog
from ui.widgets.list_tab import ListTab, submit_op

COLUMNS = ["名称", "项目", "原价", "优惠", "开始", "结束", "状态"]


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


class PromotionDialog(FormDialog):
    """添加促销: an item, a special price or a discount, and the days it runs."""

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__("promotion_dialog", "添加促销", parent, ok_text="保存", min_width=560)
        self.clinic, self.actor = clinic, actor
        self.saved_id: int | None = None
        self.name = QLineEdit(objectName="promotion_name", placeholderText="例如：国庆双眼皮特惠")
        self.item = QComboBox(objectName="promotion_item")
        self.item.addItem("（请选择）", None)
        self.items: dict[int, Entry] = {}
        ops.list_entries(self, clinic, actor, Kind.ITEM).success(self._fill_items).run()
        self.kind = QComboBox(objectName="promotion_kind")
        self.kind.addItem("特价（元）", "price")
        self.kind.addItem("折扣（%）", "discount")
        self.value = QLineEdit(objectName="promotion_value", placeholderText="特价，例如 880")
        today = clock.now().date()
        self.starts_on = QDateEdit(_qdate(today), objectName="promotion_starts_on", calendarPopup=True,
                                   displayFormat="yyyy-MM-dd")
        self.ends_on = QDateEdit(_qdate(today + timedelta(days=30)), objectName="promotion_ends_on",
                                 calendarPopup=True, displayFormat="yyyy-MM-dd")
        self.preview = QLabel(objectName="promotion_preview")
        self.form.add_field("name", "促销名称", self.name, required=True)
        self.form.add_field("item_id", "项目", self.item, required=True)
        self.form.add_field("kind", "方式", self.kind)
        self.form.add_field("price", "特价 / 折扣", self.value, required=True)
        self.form.addRow("促销价", self.preview)
        self.form.add_field("starts_on", "开始日期", self.starts_on, required=True)
        self.form.add_field("ends_on", "结束日期（含）", self.ends_on, required=True)
        self.supervisor = SupervisorFields("promotion")
        self.supervisor.add_to(self.form, "主管确认", required=False)
        self.form.addRow("", QLabel("促销价低于项目最低价时需要主管确认；促销期间开单自动按促销价计价"))
        self.finish_layout()
        self.kind.currentIndexChanged.connect(lambda _i: self._kind_changed())
        self.value.textChanged.connect(lambda _t: self._preview())
        self.item.currentIndexChanged.connect(lambda _i: self._preview())

    def _fill_items(self, entries: list[Entry]) -> None:
        self.items = {e.id: e for e in entries}
        for e in entries:
            self.item.addItem(f"{e.name}　{yuan(e.fields['price_fen'])}"
                              f"（最低 {yuan(e.fields['min_price_fen'])}）", e.id)

    def _kind_changed(self) -> None:
        self.value.setPlaceholderText("特价，例如 880" if self.kind.currentData() == "price" else "例如 80 表示八折")
        self._preview()

    def terms(self) -> tuple[int | None, int | None]:
        """(price, discount permille) as typed; ValidationError(price=…) for text that is not a number."""
        text = self.value.text().strip()
        if not text:
            raise ValidationError.single("price", "请填写特价或折扣")
        try:
            if self.kind.currentData() == "price":
                return parse_yuan(text), None
            return None, parse_discount(text)
        except ValueError as e:
            raise ValidationError.single("price", str(e)) from None

    def _preview(self) -> None:
        entry = self.items.get(self.item.currentData())
        try:
            price, discount = self.terms()
        except ValidationError:
            self.preview.clear()
            return
        if entry is None:
            self.preview.clear()
            return
        listed = entry.fields["price_fen"]
        unit = price if price is not None else (listed * (discount or 0) + 500) // 1000
        below = "（低于最低价，需主管确认）" if unit < entry.fields["min_price_fen"] else ""
        self.preview.setText(f"{yuan(unit)}　原价 {yuan(listed)}{below}")

    def submit(self) -> None:
        self.message.clear()
        self.form.clear_errors()
        try:
            price, discount = self.terms()
        except ValidationError as e:  # refused as typed, before the service
            self.message.setText("；".join(self.form.show_errors(e.errors)))
            return
        entry = self.items.get(self.item.currentData())
        supervisor = None
        if self.supervisor.filled or (entry is not None and (price if price is not None else (
                entry.fields["price_fen"] * (discount or 0) + 500) // 1000) < entry.fields["min_price_fen"]):
            supervisor = (self.supervisor.user.text(), self.supervisor.password.text())
        op = ops.add_promotion(self, self.clinic, self.actor, name=self.name.text(), item_id=self.item.currentData(),
                               starts_on=self.starts_on.date().toPython(), ends_on=self.ends_on.date().toPython(),
                               price_fen=price, discount_permille=discount, supervisor=supervisor)
        submit_op(self, self.form, op, self.message, done=lambda saved_id: setattr(self, "saved_id", saved_id),
                  refused=self._refused)

    def _refused(self, exc: Exception) -> None:
        if isinstance(exc, ValidationError) and "supervisor" in exc.errors:
            self.supervisor.password.clear()  # a wrong password is not kept


class PromotionsTab(ListTab):
    """A promotion is added and stopped (停止, for good), never edited nor deleted: what was sold at its
    price stays explained."""

    COLUMNS = COLUMNS
    HAS_EDIT = False
    HAS_DELETE = False
    TOGGLE_TEXTS = ("停止", "停止")

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        self.clinic, self.actor = clinic, actor
        super().__init__("promotions_tab", "promotion", "添加促销…", parent)
        self.view.setObjectName("promotions_table")
        self.status.setObjectName("promotions_status")
        self.add_button = QPushButton("添加促销…", objectName="promotions_add")
        self.stop_button = QPushButton("停止所选促销", objectName="promotions_stop")
        self.show_finished = QCheckBox("显示已结束、已停止的促销", objectName="promotions_show_finished")
        self.bar.addWidget(self.add_button)
        self.bar.addWidget(self.stop_button)
        self.bar.addWidget(self.show_finished)
        self.bar.addStretch(1)
        self.add_button.clicked.connect(self.add)
        self.stop_button.clicked.connect(self.stop)
        self.show_finished.toggled.connect(lambda _on: self.reload())
        self.reload()

    def load(self) -> Op[list[Any]]:
        return ops.list_promotions(self, self.clinic, self.actor,  # type: ignore[return-value]
                                   include_finished=self.show_finished.isChecked())

    def cells(self, row: Any) -> list[str]:
        p: PromotionView = row
        return [p.name, p.item_name, yuan(p.list_price_fen), p.terms, f"{p.starts_on:%Y-%m-%d}",
                f"{p.ends_on:%Y-%m-%d}", p.state(clock.now().date())]

    def is_active(self, row: Any) -> bool:
        return row.state(clock.now().date()) not in ("已结束", "已停止")

    def open_dialog(self, row: Any | None) -> QDialog:
        return PromotionDialog(self.clinic, self.actor, self)

    def saved_text(self, dialog: QDialog) -> str:
        return "促销已保存，促销期间开单自动按促销价计价"

    def toggle_question(self, row: Any) -> str:
        return f"停止促销“{row.name}”？已开的单保持原价。"

    def toggled_text(self, row: Any) -> str:
        return f"促销“{row.name}”已停止"

    def toggle_op(self, row: Any) -> Op[Any]:
        return ops.stop_promotion(self, self.clinic, self.actor, row.id)

    def current(self) -> PromotionView | None:
        index = self.view.currentIndex()
        return self.rows[index.row()] if index.isValid() and index.row() < len(self.rows) else None

    def stop(self) -> None:
        promo = self.current()
        if promo is None:
            self.status.setText("请先选择一条促销")
            return
        self.toggle(self.rows.index(promo))
