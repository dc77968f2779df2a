"""促销活动: the settings tab listing promotions, and the dialog that sets one."""
# gui-thread: not yet moved to ui/operations (issue 15)

from __future__ import annotations

from datetime import date, timedelta

from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from meike import clock
from meike.db import Clinic
from meike.errors import MeikeError, ValidationError
from meike.money import parse_yuan, yuan
from meike.permissions import Actor, Right
from meike.services import dictionaries, promotions
from meike.services.dictionaries import Kind
from meike.services.promotions import PromotionView
from ui.cashier.common import SupervisorFields
from ui.dialogs.dictionary_entry import parse_discount
from ui.widgets import messages
from ui.widgets.form_dialog import FormDialog

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
        self.items = {e.id: e for e in dictionaries.list_entries(clinic, actor, Kind.ITEM)}
        for e in self.items.values():
            self.item.addItem(f"{e.name}　{yuan(e.fields['price_fen'])}"
                              f"（最低 {yuan(e.fields['min_price_fen'])}）", e.id)
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

    def save(self) -> None:
        price, discount = self.terms()
        entry = self.items.get(self.item.currentData())
        supervisor = None
        if self.supervisor.filled or (entry is not None and (price if price is not None else (
                entry.fields["price_fen"] * (discount or 0) + 500) // 1000) < entry.fields["min_price_fen"]):
            supervisor = self.supervisor.verify(self.clinic, Right.APPROVE_PRICE)
        self.saved_id = promotions.add_promotion(
            self.clinic, self.actor, name=self.name.text(), item_id=self.item.currentData(),
            starts_on=self.starts_on.date().toPython(), ends_on=self.ends_on.date().toPython(),
            price_fen=price, discount_permille=discount, supervisor=supervisor)


class PromotionsTab(QWidget):
    """The promotions running and coming (finished ones on request); add and stop."""

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.setObjectName("promotions_tab")
        self.rows: list[PromotionView] = []
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(COLUMNS)
        self.view = QTableView(objectName="promotions_table")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.add_button = QPushButton("添加促销…", objectName="promotions_add")
        self.stop_button = QPushButton("停止所选促销", objectName="promotions_stop")
        self.show_finished = QCheckBox("显示已结束、已停止的促销", objectName="promotions_show_finished")
        self.status = QLabel(objectName="promotions_status")
        bar = QHBoxLayout()
        bar.addWidget(self.add_button)
        bar.addWidget(self.stop_button)
        bar.addWidget(self.show_finished)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.view)
        layout.addWidget(self.status)
        self.add_button.clicked.connect(self.add)
        self.stop_button.clicked.connect(self.stop)
        self.show_finished.toggled.connect(lambda _on: self.reload())
        self.reload()

    def reload(self, select_id: int | None = None) -> None:
        self.rows = promotions.list_promotions(self.clinic, self.actor,
                                               include_finished=self.show_finished.isChecked())
        today = clock.now().date()
        self.model.removeRows(0, self.model.rowCount())
        for p in self.rows:
            cells = [p.name, p.item_name, f"{yuan(p.list_price_fen)}", p.terms, f"{p.starts_on:%Y-%m-%d}",
                     f"{p.ends_on:%Y-%m-%d}", p.state(today)]
            items = [QStandardItem(text) for text in cells]
            items[0].setData(p.id, Qt.ItemDataRole.UserRole)
            self.model.appendRow(items)
            if p.id == select_id:
                self.view.selectRow(self.model.rowCount() - 1)

    def current(self) -> PromotionView | None:
        index = self.view.currentIndex()
        return self.rows[index.row()] if index.isValid() and index.row() < len(self.rows) else None

    def add(self) -> PromotionDialog:
        dialog = PromotionDialog(self.clinic, self.actor, self)
        dialog.accepted.connect(lambda: self._added(dialog))
        dialog.open()
        return dialog

    def _added(self, dialog: PromotionDialog) -> None:
        self.reload(dialog.saved_id)
        self.status.setText("促销已保存，促销期间开单自动按促销价计价")

    def stop(self) -> None:
        promo = self.current()
        if promo is None:
            self.status.setText("请先选择一条促销")
            return
        if not messages.ask(self, "停止促销", f"停止促销“{promo.name}”？已开的单保持原价。"):
            return
        try:
            promotions.stop_promotion(self.clinic, self.actor, promo.id)
        except MeikeError as e:
            self.status.setText(e.message)
            return
        self.reload()
        self.status.setText(f"促销“{promo.name}”已停止")
