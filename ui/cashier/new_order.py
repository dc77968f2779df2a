"""新建收费单: pick a customer, add item lines by pinyin code or name (or a course 疗程, or a session of a
course the customer holds 划扣), supervisor approval inline."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.errors import NotFound, ValidationError
from meike.money import parse_yuan, yuan
from meike.permissions import Actor
from meike.services.cashier import MAX_QUANTITY, ItemChoice, LineSpec, PriceQuote
from meike.services.customers import CustomerRow
from meike.services.ledger import PackageView
from ui.cashier.common import money_text
from ui.operations import cashier as ops
from ui.tasks import error_text
from ui.widgets.form import ERROR_STYLE, ErrorForm
from ui.widgets.tables import RIGHT, read_only

LINE_COLUMNS = ["项目", "数量", "单价", "金额", "最低价"]


@dataclass
class PendingLine:
    item: ItemChoice
    quantity: int
    unit_price_fen: int  # a course: the price of all its sessions
    package_sessions: int = 0  # > 0: sells a course 疗程 of this many sessions
    package_id: int | None = None  # paid with a session of a course the customer holds (划扣)
    quoted_minimum_fen: int | None = None  # the lowest price without approval (a promotion's price is lower)
    note: str = ""  # 会员折扣 / 促销
    quoted: bool = False  # the price is the one the dialog filled in (follows the customer), not typed

    @property
    def minimum_fen(self) -> int:
        if self.package_id is not None:
            return 0
        if self.quoted_minimum_fen is not None:
            return self.quoted_minimum_fen
        return self.item.min_price_fen * max(1, self.package_sessions)

    @property
    def below_min(self) -> bool:
        """Needs a supervisor: below the minimum, or given free (a typed ¥0 where the item has a price)."""
        free = (self.unit_price_fen == 0 and self.package_id is None and not self.quoted
                and self.item.price_fen > 0)
        return self.unit_price_fen < self.minimum_fen or free

    @property
    def label(self) -> str:
        if self.package_sessions:
            name = f"{self.item.name}（疗程 {self.package_sessions} 次）"
        else:
            name = f"{self.item.name}（疗程划扣）" if self.package_id is not None else self.item.name
        return f"{name}　{self.note}" if self.note else name

    def spec(self) -> LineSpec:
        return LineSpec(self.item.id, self.quantity, None if self.package_id is not None else self.unit_price_fen,
                        package_sessions=self.package_sessions, package_id=self.package_id)


def _list(name: str) -> QListWidget:
    widget = QListWidget(objectName=name)
    widget.setMaximumHeight(110)
    return widget


class NewOrderDialog(QDialog):
    """Shown with ``open()``; on a successful save ``saved_id`` holds the new order's id."""

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.saved_id: int | None = None
        self.customer_id: int | None = None
        self.lines: list[PendingLine] = []
        self._items: list[ItemChoice] = []
        self.setObjectName("new_order_dialog")
        self.setWindowTitle("新建收费单")
        self.setMinimumWidth(760)

        self.form = ErrorForm()
        customer_box = QWidget()
        box = QVBoxLayout(customer_box)
        box.setContentsMargins(0, 0, 0, 0)
        self.customer_search = QLineEdit(objectName="order_customer_search",
                                         placeholderText="姓名 / 拼音首字母(如 zs) / 手机号或后四位 / 卡号")
        self.customer_list = _list("order_customer_list")
        self.customer_label = QLabel("未选择顾客", objectName="order_customer_label")
        box.addWidget(self.customer_search)
        box.addWidget(self.customer_list)
        box.addWidget(self.customer_label)
        self.form.add_field("customer", "顾客", customer_box, required=True)

        item_box = QWidget()
        box = QVBoxLayout(item_box)
        box.setContentsMargins(0, 0, 0, 0)
        self.item_search = QLineEdit(objectName="order_item_search", placeholderText="拼音码(如 syp) 或项目名称")
        self.item_list = _list("order_item_list")
        row = QHBoxLayout()
        self.quantity = QSpinBox(objectName="order_quantity", minimum=1, maximum=MAX_QUANTITY)
        self.sessions = QSpinBox(objectName="order_sessions", minimum=0, maximum=MAX_QUANTITY)
        self.sessions.setSpecialValueText("单次")
        self.sessions.setToolTip("卖疗程（店内预存）时填写次数，单价填整个疗程的价格")
        self.price = QLineEdit(objectName="order_price", placeholderText="单价（元）")
        self.price_label = QLabel("单价（元）")
        self.add_line_button = QPushButton("添加", objectName="order_add_line")
        row.addWidget(QLabel("数量"))
        row.addWidget(self.quantity)
        row.addWidget(QLabel("疗程次数"))
        row.addWidget(self.sessions)
        row.addWidget(self.price_label)
        row.addWidget(self.price, 1)
        row.addWidget(self.add_line_button)
        self.price_note = QLabel(objectName="order_price_note")
        self.price_note.setStyleSheet("color: #8a5a00;")
        box.addWidget(self.item_search)
        box.addWidget(self.item_list)
        box.addLayout(row)
        box.addWidget(self.price_note)
        self.quote: PriceQuote | None = None
        self._asked: tuple[int | None, int, int] | None = None  # the price last asked for
        self.form.add_field("item", "项目", item_box)

        package_box = QWidget()
        pbox = QHBoxLayout(package_box)
        pbox.setContentsMargins(0, 0, 0, 0)
        self.package = QComboBox(objectName="order_package")
        self.use_package_button = QPushButton("划扣一次", objectName="order_use_package")
        pbox.addWidget(self.package, 1)
        pbox.addWidget(self.use_package_button)
        self.form.add_field("package", "疗程划扣", package_box)
        self.packages: list[PackageView] = []

        lines_box = QWidget()
        box = QVBoxLayout(lines_box)
        box.setContentsMargins(0, 0, 0, 0)
        self.line_table = QTableWidget(0, len(LINE_COLUMNS), objectName="order_lines")
        self.line_table.setHorizontalHeaderLabels(LINE_COLUMNS)
        read_only(self.line_table, stretch=0, fit_contents=True)
        self.line_table.setMinimumHeight(120)
        row = QHBoxLayout()
        self.remove_line_button = QPushButton("删除所选行", objectName="order_remove_line")
        self.total_label = QLabel(objectName="order_total")
        self.total_label.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.total_label.setMinimumWidth(220)  # bold figures: room for ¥999,999.00
        self.total_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.remove_line_button)
        row.addStretch(1)
        row.addWidget(self.total_label)
        box.addWidget(self.line_table)
        box.addLayout(row)
        self.form.add_field("lines", "收费明细", lines_box, required=True)

        self.supervisor_box = QGroupBox("主管审批（有项目低于最低价）", objectName="order_supervisor_box")
        sup = QHBoxLayout(self.supervisor_box)
        self.supervisor_user = QLineEdit(objectName="order_supervisor_user", placeholderText="主管用户名")
        self.supervisor_password = QLineEdit(objectName="order_supervisor_password", placeholderText="主管密码")
        self.supervisor_password.setEchoMode(QLineEdit.EchoMode.Password)
        sup.addWidget(self.supervisor_user)
        sup.addWidget(self.supervisor_password)
        self.form.add_field("supervisor", "审批", self.supervisor_box)

        self.message = QLabel(objectName="order_message")
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Save)
        self.ok.setText("保存收费单")
        self.ok.setObjectName("order_save")
        cancel = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        cancel.setText("取消")
        cancel.setObjectName("order_close")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

        self.customer_search.textChanged.connect(self.search_customers)
        self.customer_search.returnPressed.connect(lambda: self.pick_customer(0))
        self.customer_list.itemClicked.connect(lambda _i: self.pick_customer(self.customer_list.currentRow()))
        self.item_search.textChanged.connect(self.search_items)
        self.item_search.returnPressed.connect(lambda: self.pick_item(0))
        self.item_list.currentRowChanged.connect(self.pick_item)
        self.price.returnPressed.connect(self.add_line)
        self.add_line_button.clicked.connect(self.add_line)
        self.sessions.valueChanged.connect(lambda _v: self._sessions_changed())
        self.use_package_button.clicked.connect(self.use_package)
        self.remove_line_button.clicked.connect(self.remove_line)
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
        self.search_items("")
        self._show_packages()
        self._update_lines()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        """Enter picks a customer or an item, or adds the line; it never saves the order by accident."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()
            return
        super().keyPressEvent(event)

    # --- customer ---------------------------------------------------------------------------

    def search_customers(self, text: str) -> None:
        self.customer_list.clear()
        if not text.strip():
            return
        ops.search_customers(self, self.clinic, self.actor, text).success(
            lambda found: self._customers_found(text, found)).failure(
            lambda e: self._search_refused("customer", e)).run()

    def _search_refused(self, key: str, error: Exception) -> None:
        """Too long, control characters: said beside the box."""
        errors = error.errors if isinstance(error, ValidationError) else {key: error_text(error)}
        self.form.show_errors({key: "；".join(errors.values())})

    def _customers_found(self, text: str, found: list[CustomerRow]) -> None:
        if text != self.customer_search.text():  # typed on meanwhile: a newer search is under way
            return
        self.customer_list.clear()
        if self.form.error_text("customer"):
            self.form.clear_errors()
        for row in found:
            item = QListWidgetItem(f"{row.name}　卡号 {row.card_no}　{row.mobile}")
            item.setData(Qt.ItemDataRole.UserRole, (row.id, row.name, row.card_no))
            self.customer_list.addItem(item)

    def pick_customer(self, row: int) -> None:
        item = self.customer_list.item(row)
        if item is None:
            return
        self.customer_list.setCurrentRow(row)
        self.customer_id, name, card_no = item.data(Qt.ItemDataRole.UserRole)
        self.customer_label.setText(f"已选：{name}（卡号 {card_no}）")
        self.lines = [line for line in self.lines if line.package_id is None]  # another customer's courses
        quoted = [line for line in self.lines if line.quoted]  # prices filled in follow the customer; typed stay
        customer_id = self.customer_id
        ops.customer_packages(self, self.clinic, self.actor, customer_id,
                              [(line.item.id, line.package_sessions) for line in quoted]).success(
            lambda answer: self._customer_picked(customer_id, quoted, *answer)).failure(
            lambda e: self._say("customer", e)).run()

    def _say(self, key: str, error: Exception) -> None:
        self.form.show_errors({key: error_text(error)})

    def _customer_picked(self, customer_id: int, quoted: list[PendingLine], packages: list[PackageView],
                         offers: list[PriceQuote | None]) -> None:
        if customer_id != self.customer_id:
            return
        self.packages = [p for p in packages if p.remaining > 0]
        for line, offer in zip(quoted, offers, strict=True):
            if offer is None:  # the item can no longer be quoted: its price stays
                continue
            line.unit_price_fen, line.quoted_minimum_fen, line.note = offer.price_fen, offer.minimum_fen, offer.note
        self._show_packages()
        self._update_lines()
        if self.current_item() is not None:  # the member discount of this customer
            self._fill_price()
        self.item_search.setFocus()

    def _show_packages(self) -> None:
        self.package.clear()
        for p in self.packages:
            self.package.addItem(f"{p.item_name}　剩 {p.remaining}/{p.sessions} 次", p.id)
        if not self.packages:
            self.package.addItem("（顾客没有可划扣的疗程）" if self.customer_id else "（先选择顾客）", None)
        self.package.setEnabled(bool(self.packages))
        self.use_package_button.setEnabled(bool(self.packages))

    def use_package(self) -> None:
        """划扣: one session of a course the customer holds; the line costs nothing now."""
        p = next((p for p in self.packages if p.id == self.package.currentData()), None)
        if p is None:
            return
        pending = next((line for line in self.lines if line.package_id == p.id), None)
        if pending is not None:
            if pending.quantity >= p.remaining:
                self.form.show_errors({"package": f"{p.item_name}疗程只剩 {p.remaining} 次"})
                return
            pending.quantity += 1
        else:
            item = ItemChoice(p.item_id, p.item_name, "", 0, 0, "")
            self.lines.append(PendingLine(item, 1, 0, package_id=p.id))
        self.form.clear_errors()
        self._update_lines()

    # --- lines ------------------------------------------------------------------------------

    def search_items(self, text: str) -> None:
        ops.find_items(self, self.clinic, self.actor, text).success(
            lambda found: self._items_found(text, found)).failure(lambda e: self._items_refused(text, e)).run()

    def _items_refused(self, text: str, error: Exception) -> None:
        if text == self.item_search.text():
            self._search_refused("item", error)
            self._items_found(text, [], keep_error=True)

    def _items_found(self, text: str, found: list[ItemChoice], *, keep_error: bool = False) -> None:
        if text != self.item_search.text():  # typed on meanwhile: a newer search is under way
            return
        self._items = found
        if not keep_error and self.form.error_text("item"):
            self.form.clear_errors()
        self.item_list.blockSignals(True)
        self.item_list.clear()
        for choice in self._items:
            promo = f"　【{choice.promotion}】" if choice.promotion else ""
            self.item_list.addItem(f"{choice.name}　{choice.pinyin_code}　{yuan(choice.price_fen)}"
                                   f"（最低 {yuan(choice.min_price_fen)}）{promo}")
        self.item_list.blockSignals(False)

    def pick_item(self, row: int) -> None:
        if not 0 <= row < len(self._items):
            return
        if self.item_list.currentRow() != row:
            self.item_list.setCurrentRow(row)  # emits currentRowChanged → comes back here once
            return
        self._fill_price()
        self.price.setFocus()
        self.price.selectAll()

    def _fill_price(self) -> None:
        """The customer's price: the member discount or a running promotion (seed 004), editable."""
        item = self.current_item()
        self.quote = None
        self.price_note.clear()
        if item is None:
            return
        asked = (self.customer_id, item.id, self.sessions.value())
        self._asked = asked
        ops.quote(self, self.clinic, self.actor, self.customer_id, item.id, self.sessions.value()).success(
            lambda offer: self._quoted(asked, offer)).failure(
            lambda e: self._say("item", e) if self._asked == asked else None).run()

    def _quoted(self, asked: tuple[int | None, int, int], offer: PriceQuote) -> None:
        if asked != self._asked:  # another item or customer was picked meanwhile
            return
        self.quote = offer
        self.price.setText(money_text(offer.price_fen))
        if self.quote.note:
            self.price_note.setText(f"已按{self.quote.note}计价（原价 {yuan(self.quote.list_price_fen)}）")

    def _sessions_changed(self) -> None:
        self.price_label.setText("疗程总价（元）" if self.sessions.value() else "单价（元）")
        self._fill_price()

    def current_item(self) -> ItemChoice | None:
        row = self.item_list.currentRow()
        return self._items[row] if 0 <= row < len(self._items) else None

    def add_line(self) -> None:
        item = self.current_item()
        if item is None:
            self.form.show_errors({"item": "请先在列表中选择项目"})
            return
        try:
            price = parse_yuan(self.price.text())
        except ValueError as e:
            self.form.show_errors({"item": str(e)})
            return
        self.form.clear_errors()
        quote = self.quote
        quoted = quote is not None and price == quote.price_fen
        note = quote.note if quote is not None and quoted else ""
        self.lines.append(PendingLine(item, self.quantity.value(), price, self.sessions.value(),
                                      quoted_minimum_fen=quote.minimum_fen if quote is not None else None,
                                      note=note, quoted=quoted))
        self.quantity.setValue(1)
        self.sessions.setValue(0)
        self.price.clear()
        self.item_search.clear()
        self.item_search.setFocus()
        self._update_lines()

    def remove_line(self) -> None:
        row = self.line_table.currentRow()
        if 0 <= row < len(self.lines):
            del self.lines[row]
            self._update_lines()

    def _update_lines(self) -> None:
        self.line_table.setRowCount(len(self.lines))
        for r, line in enumerate(self.lines):
            cells = [line.label, str(line.quantity), yuan(line.unit_price_fen),
                     yuan(line.unit_price_fen * line.quantity), yuan(line.minimum_fen)]
            for c, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if c:
                    cell.setTextAlignment(RIGHT)
                if line.below_min and c == 2:
                    cell.setForeground(Qt.GlobalColor.red)
                self.line_table.setItem(r, c, cell)
        total = sum(line.unit_price_fen * line.quantity for line in self.lines)
        self.total_label.setText(f"合计：{yuan(total)}")
        self.supervisor_box.setEnabled(self.needs_approval)
        self.supervisor_box.setTitle("主管审批（有项目低于最低价或免费赠送，请主管输入密码）" if self.needs_approval
                                     else "主管审批（单价不低于最低价时无需填写）")

    @property
    def needs_approval(self) -> bool:
        return any(line.below_min for line in self.lines)

    # --- save -------------------------------------------------------------------------------

    def submit(self) -> None:
        self.message.clear()
        supervisor: ops.Supervisor | None = None
        if self.needs_approval and self.customer_id is not None:
            supervisor = ops.Supervisor(self.supervisor_user.text(), self.supervisor_password.text())
            if not supervisor.user.strip() or not supervisor.password:
                below = any(line.unit_price_fen < line.minimum_fen for line in self.lines)
                self._refused(ValidationError.single("supervisor", "单价低于最低价，需要主管输入用户名和密码" if below
                                                     else "免费赠送，需要主管输入用户名和密码"))
                return
        ops.open_order(self, self.clinic, self.actor, customer_id=self.customer_id,
                       lines=[line.spec() for line in self.lines], supervisor=supervisor).success(
            self._saved).failure(self._refused).run()

    def _saved(self, order_id: int) -> None:
        self.saved_id = order_id
        self.accept()

    def _refused(self, error: Exception) -> None:
        if isinstance(error, ValidationError):
            errors = dict(error.errors)
            if "price" in errors:
                errors["supervisor"] = errors.pop("price")
            if "quantity" in errors:
                errors["lines"] = errors.pop("quantity")
            self.message.setText("；".join(self.form.show_errors(errors)))
        elif isinstance(error, NotFound):
            self.form.show_errors({"customer": error.message})
        else:
            self.form.clear_errors()
            self.message.setText(error_text(error))
