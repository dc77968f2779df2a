"""顾客管理: tabs by state, query conditions, right-click triage (分配到诊 / 改派 / 作废), double-click to open.

The grid reads its pages and its count off the GUI thread (``CustomerTableModel``); it reads again when
``bus().changed`` says customers, visits, records or money changed (``PageWidget.WATCHES``), wherever the
change was made.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import QDate, QPoint, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTabBar,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from meike import clock
from meike.db import Clinic
from meike.permissions import Actor, Page
from meike.rules.customer_class import CLASS_LABELS
from meike.services.customers import TABS, CustomerQuery, CustomerRow
from ui.front_desk.grid import CustomerTableModel
from ui.front_desk.records import RejectVisitDialog
from ui.front_desk.triage import TriageDialog
from ui.operations import front_desk as ops
from ui.pages.base import PageWidget, need_page
from ui.tasks import error_text
from ui.widgets.form import ERROR_STYLE
from ui.widgets.tables import read_only

TAB_ORDER = ["booked", "arrived", "deal", "no_deal", "all"]


class CustomersPage(PageWidget):
    WATCHES = ("customers", "visits", "money", "records")

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        need_page(actor, Page.CUSTOMERS)
        self.clinic, self.actor = clinic, actor
        self.dialog: QWidget | None = None
        self.setObjectName("page_customers")
        self.tabs = QTabBar(objectName="customer_tabs")
        for key in TAB_ORDER:
            self.tabs.addTab(TABS[key])
        self.search = QLineEdit(objectName="customer_search",
                                placeholderText="姓名 / 拼音首字母(如 zs) / 手机号或后四位 / 卡号")
        self.use_dates = QCheckBox("日期", objectName="customer_use_dates")
        self.date_from = QDateEdit(objectName="customer_date_from", calendarPopup=True, displayFormat="yyyy-MM-dd")
        self.date_to = QDateEdit(objectName="customer_date_to", calendarPopup=True, displayFormat="yyyy-MM-dd")
        self.channel = self._combo("customer_channel", "全部渠道", [])
        self.consultant = self._combo("customer_consultant", "全部咨询师", [])
        self.cs_staff = self._combo("customer_cs_staff", "全部客服", [])
        self.customer_class = self._combo("customer_class", "全部类别",
                                          [(c.value, label) for c, label in CLASS_LABELS.items()])
        self.search_button = QPushButton("查询", objectName="customer_search_button")
        self.count = QLabel(objectName="customer_count")
        self.notice = QLabel(objectName="customer_notice")  # e.g. the arrival label was printed
        self.search_error = QLabel(objectName="customer_search_error", wordWrap=True)
        self.search_error.setStyleSheet(ERROR_STYLE)
        self.search_error.hide()
        self.model = CustomerTableModel(clinic, actor, self)
        self.model.total_changed.connect(lambda _n: self._show_count())
        self.model.rows_arrived.connect(self._rows_arrived)
        self.model.failed.connect(self._search_failed)
        self.view = QTableView(objectName="customer_table")
        self.view.setModel(self.model)
        read_only(self.view)
        # widths from the first 40 rows, not all 200 of the first page (measuring every cell stalls the window)
        self.view.horizontalHeader().setResizeContentsPrecision(40)
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._sized = False
        self._restore: tuple[int | None, int] | None = None  # refresh(): the customer and place to keep
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_context_menu)
        self.view.doubleClicked.connect(lambda index: self.open_customer_at(index.row()))

        self.act_assign = QAction("分配到诊…", self, objectName="customer_assign")
        self.act_reassign = QAction("改派…", self, objectName="customer_reassign")
        self.act_open = QAction("打开顾客详情", self, objectName="customer_open")
        self.act_remind = QAction("添加提醒…", self, objectName="customer_add_reminder")
        self.act_reject = QAction("作废本次到诊…", self, objectName="visit_reject")
        self.act_assign.triggered.connect(lambda: self.assign(self.current_row()))
        self.act_reassign.triggered.connect(lambda: self.reassign(self.current_row()))
        self.act_open.triggered.connect(lambda: self.open_customer_at(self.current_row()))
        self.act_remind.triggered.connect(lambda: self.add_reminder(self.current_row()))
        self.act_reject.triggered.connect(lambda: self.reject_visit(self.current_row()))
        self.act_sms = QAction("发短信…", self, objectName="customer_send_sms")
        self.act_sms.triggered.connect(lambda: self.send_sms(self.current_row()))

        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self.run_query)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.search.returnPressed.connect(self.run_query)
        self.search_button.clicked.connect(self.run_query)
        self.tabs.currentChanged.connect(self._tab_changed)
        for combo in (self.channel, self.consultant, self.cs_staff, self.customer_class):
            combo.currentIndexChanged.connect(lambda _i: self.run_query())
        self.use_dates.toggled.connect(lambda _c: self.run_query())
        self.date_from.dateChanged.connect(lambda _d: self.run_query())
        self.date_to.dateChanged.connect(lambda _d: self.run_query())

        conditions = QHBoxLayout()
        for w in (self.use_dates, self.date_from, QLabel("至"), self.date_to, self.channel, self.consultant,
                  self.cs_staff, self.customer_class):
            conditions.addWidget(w)
        conditions.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.search_button)
        top.addWidget(self.count)
        top.addWidget(self.notice)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addLayout(top)
        layout.addWidget(self.search_error)
        layout.addLayout(conditions)
        layout.addWidget(self.view, 1)
        self._loading = True
        self.tabs.setCurrentIndex(TAB_ORDER.index("all"))
        self._tab_changed(self.tabs.currentIndex())
        self._loading = False
        self.run_query()
        ops.grid_choices(self, clinic, actor).success(self._fill_choices).failure(lambda _e: None).run()

    def _fill_choices(self, choices: ops.ProfileChoices) -> None:
        """The filters' lists, read off the GUI thread; filling them does not start a search."""
        loading, self._loading = self._loading, True
        for combo, entries in (
                (self.channel, [(e.id, e.name) for e in choices.channels]),
                (self.consultant, choices.consultants),
                (self.cs_staff, [(e.id, e.name) for e in choices.customer_service])):
            current = combo.currentData()
            while combo.count() > 1:
                combo.removeItem(1)
            for value, label in entries:
                combo.addItem(label, value)
            combo.setCurrentIndex(max(0, combo.findData(current)))
        self._loading = loading

    @staticmethod
    def _combo(name: str, everything: str, entries: list[tuple[object, str]]) -> QComboBox:
        combo = QComboBox(objectName=name)
        combo.addItem(everything, None)
        for value, label in entries:
            combo.addItem(label, value)
        return combo

    # --- query -----------------------------------------------------------------------------------

    @property
    def tab(self) -> str:
        return TAB_ORDER[self.tabs.currentIndex()]

    def set_tab(self, key: str) -> None:
        self.tabs.setCurrentIndex(TAB_ORDER.index(key))

    def _tab_changed(self, _index: int) -> None:
        """Each tab opens on its natural dates: today's arrivals, the coming month's bookings, no limit."""
        loading, self._loading = self._loading, True
        today = clock.now().date()
        self.date_from.setDate(QDate(today))
        self.date_to.setDate(QDate(today + timedelta(days=30) if self.tab == "booked" else today))
        self.use_dates.setChecked(self.tab != "all")
        self._loading = loading
        self.run_query()

    def current_query(self) -> CustomerQuery:
        dates = self.use_dates.isChecked()
        return CustomerQuery(
            text=self.search.text(), tab=self.tab,
            date_from=self.date_from.date().toPython() if dates else None,
            date_to=self.date_to.date().toPython() if dates else None,
            channel_id=self.channel.currentData(), consultant_id=self.consultant.currentData(),
            cs_staff_id=self.cs_staff.currentData(), customer_class=self.customer_class.currentData(),
        )

    def run_query(self) -> None:
        """Search again: the first page and the count arrive off the GUI thread."""
        if getattr(self, "_loading", False):
            return
        self._debounce.stop()
        self.search_error.clear()
        self.search_error.hide()
        restore, self._restore = self._restore, None  # only refresh() keeps the place; a new search does not
        self.model.set_query(self.current_query(), keep=self.model.rowCount() if restore else 0)
        self._restore = restore
        self._show_count()

    def _rows_arrived(self, _loaded: int) -> None:
        if not self._sized and self.model.rowCount():
            self.view.resizeColumnsToContents()  # once, from the first page: the user may resize after
            self._sized = True
        restore, self._restore = self._restore, None
        if restore is not None:  # the same customer selected, the same place in the list
            chosen, scrolled = restore
            row = next((i for i, r in enumerate(self.model.rows) if r.id == chosen), -1)
            if row >= 0:
                self.view.selectRow(row)
            self.view.verticalScrollBar().setValue(scrolled)

    def _search_failed(self, error: Exception) -> None:
        """E.g. too many number probes: said under the search box, the list empty."""
        self.search_error.setText(error_text(error))
        self.search_error.show()
        self.count.clear()

    def _show_count(self) -> None:
        unit = {"all": "位顾客", "booked": "个预约"}.get(self.tab, "次到诊")
        total = self.model.total
        if self.search_error.isVisibleTo(self):
            return
        self.count.setText(f"共 {total:,} {unit}" if total is not None else "正在计数…")

    def refresh(self) -> None:
        """Read again after a change: what was selected stays selected, where it was scrolled to."""
        record = self.model.row_at(self.current_row())
        self._restore = (record.id if record is not None else None, self.view.verticalScrollBar().value())
        self.run_query()

    # --- the right-click menu ----------------------------------------------------------------------

    def current_row(self) -> int:
        rows = self.view.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def row_of(self, name: str) -> int:
        return next(i for i, r in enumerate(self.model.rows) if r.name == name)

    def build_menu(self, row: int) -> QMenu:
        """The menu for a grid row; built apart from exec() so tests can read and trigger it."""
        menu = QMenu(self)
        menu.setObjectName("customer_menu")
        record = self.model.row_at(row)
        if record is None:
            return menu
        self.view.selectRow(row)
        if record.visit_id is None:
            menu.addAction(self.act_assign)
        else:
            menu.addAction(self.act_reassign)
        menu.addAction(self.act_open)
        menu.addAction(self.act_remind)
        if self.actor.can_open(Page.PHONE):
            menu.addAction(self.act_sms)
        if record.visit_id is not None:
            menu.addSeparator()
            menu.addAction(self.act_reject)
        return menu

    def _on_context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if index.isValid():
            self.build_menu(index.row()).exec(self.view.viewport().mapToGlobal(pos))

    def _show(self, dialog: QWidget) -> QWidget:
        self.dialog = dialog
        dialog.open()  # type: ignore[attr-defined]
        return dialog

    def assign(self, row: int) -> TriageDialog | None:
        record = self.model.row_at(row)
        if record is None:
            return None
        dialog = TriageDialog(self.clinic, self.actor, record.id, record.name, parent=self)
        dialog.accepted.connect(lambda: self._after_triage(dialog))
        return self._show(dialog)  # type: ignore[return-value]

    def reassign(self, row: int) -> TriageDialog | None:
        record = self.model.row_at(row)
        if record is None or record.visit_id is None:
            return None
        dialog = TriageDialog(self.clinic, self.actor, record.id, record.name, visit_id=record.visit_id, parent=self)
        return self._show(dialog)  # type: ignore[return-value]

    def _after_triage(self, dialog: TriageDialog) -> None:
        self.set_tab("arrived")  # the customer is now under 已到诊, as in the manual (the tab reads again)
        if dialog.saved_visit_id is not None and dialog.print_label is not None and dialog.print_label.isChecked():
            self.print_label(dialog.saved_visit_id)

    def print_label(self, visit_id: int) -> None:
        """到店条码 on this PC's printer, or as a PDF that opens; off the GUI thread."""
        from ui.cashier import common as cashier_common

        self.notice.setText("正在打印到店条码…")

        def done(path: Path | None) -> None:
            if path is None:
                self.notice.setText("到店条码已打印")
            else:
                cashier_common.open_file(path)
                self.notice.setText(f"本机没有设置打印机，已生成条码 PDF：{path.name}")

        def failed(exc: Exception) -> None:
            self.notice.setText(f"条码没有打印：{error_text(exc)}")

        ops.print_arrival_label(self, self.clinic, self.actor, visit_id).success(done).failure(failed).run()

    def reject_visit(self, row: int) -> RejectVisitDialog | None:
        record = self.model.row_at(row)
        if record is None or record.visit_id is None:
            return None
        label = f"{record.name}　{record.visit_type}　{record.consultant}"
        dialog = RejectVisitDialog(self.clinic, self.actor, record.visit_id, label, self)
        return self._show(dialog)  # type: ignore[return-value]

    def open_detail(self, customer_id: int, tab: str | None = None) -> QWidget:
        from ui.front_desk.detail import CustomerDetailDialog

        dialog = CustomerDetailDialog(self.clinic, self.actor, customer_id, self)
        if tab is not None:
            target = dialog.findChild(QWidget, tab)
            if target is not None:
                dialog.tabs.setCurrentWidget(target)
        return self._show(dialog)

    def open_customer_at(self, row: int) -> QWidget | None:
        record: CustomerRow | None = self.model.row_at(row)
        return self.open_detail(record.id) if record is not None else None

    def send_sms(self, row: int) -> QWidget | None:
        from ui.dialogs.sms_send import SendSmsDialog

        record = self.model.row_at(row)
        return self._show(SendSmsDialog(self.clinic, self.actor, record.id, self)) if record is not None else None

    def add_reminder(self, row: int) -> QWidget | None:
        record = self.model.row_at(row)
        return self.open_detail(record.id, tab="detail_reminders") if record is not None else None
