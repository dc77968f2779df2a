"""日结, 营业日期, 历史 (closed days) and 营收统计 dialogs; the reports are computed off the GUI thread."""

from __future__ import annotations

from datetime import date, timedelta

from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import (
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from meike import clock
from meike.db import Clinic
from meike.errors import ValidationError
from meike.money import yuan
from meike.permissions import Actor
from meike.services import dayclose
from meike.services.dayclose import ClosedDay, DayReport, Revenue
from ui import geometry
from ui.cashier.common import BIG_STYLE, CashierFormDialog, SupervisorFields, hint, parse_money
from ui.operations import Op
from ui.operations import cashier as ops
from ui.tasks import error_text
from ui.widgets.form import ERROR_STYLE, ErrorForm
from ui.widgets.tables import fill, fill_amounts, table


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _picked(edit: QDateEdit) -> date:
    day = edit.date().toPython()
    assert isinstance(day, date)
    return day


def _date_edit(name: str, day: date) -> QDateEdit:
    return QDateEdit(_qdate(day), objectName=name, calendarPopup=True, displayFormat="yyyy-MM-dd")


class DayReportView(QWidget):
    """One day's figures: receipts, money by method / account / department / cashier, expected cash."""

    def __init__(self, prefix: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"{prefix}_report")
        self.header = QLabel("正在统计…", objectName=f"{prefix}_header", wordWrap=True)
        self.header.setStyleSheet(BIG_STYLE)
        self.receipts = hint(name=f"{prefix}_receipts")
        self.expected = QLabel(objectName=f"{prefix}_expected")
        self.expected.setStyleSheet(BIG_STYLE)
        self.received = QLabel(objectName=f"{prefix}_received")
        self.received.setStyleSheet(BIG_STYLE)
        self.by_method = table(f"{prefix}_by_method", ["支付方式", "金额"])
        self.by_account = table(f"{prefix}_by_account", ["账户变动", "金额"])
        self.by_department = table(f"{prefix}_by_department", ["科室业绩", "金额"])
        self.by_cashier = table(f"{prefix}_by_cashier", ["收银员", "实收"])
        grid = QGridLayout()
        for i, (title, widget) in enumerate((("按支付方式", self.by_method), ("按账户", self.by_account),
                                             ("按科室", self.by_department), ("按收银员", self.by_cashier))):
            group = QGroupBox(title)
            QVBoxLayout(group).addWidget(widget)
            widget.setMinimumHeight(96)  # a header and three rows; longer lists scroll
            grid.addWidget(group, i // 2, i % 2)
        totals = QHBoxLayout()
        totals.addWidget(QLabel("实收合计"))
        totals.addWidget(self.received)
        totals.addSpacing(30)
        totals.addWidget(QLabel("应有现金"))
        totals.addWidget(self.expected)
        totals.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.receipts)
        layout.addLayout(grid, 1)
        layout.addLayout(totals)

    def show_report(self, report: DayReport, title: str) -> None:
        self.header.setText(f"{title}　{report.business_date:%Y-%m-%d}")
        self.receipts.setText(f"收据 {report.receipts} 张（{report.first_receipt_no} — {report.last_receipt_no}）"
                              if report.receipts else "当天没有收据")
        fill_amounts(self.by_method, report.by_method, total_label="合计")
        fill_amounts(self.by_account, report.by_account)
        fill_amounts(self.by_department, report.by_department, total_label="合计")
        fill_amounts(self.by_cashier, report.by_cashier)
        self.expected.setText(yuan(report.expected_cash_fen))
        self.received.setText(yuan(report.received_fen))


class DayCloseDialog(QDialog):
    """日结 of the open business day: the report, the counted cash and (when different) a note."""

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.report: DayReport | None = None
        self.closed: DayReport | None = None
        self.setObjectName("day_close")
        self.setWindowTitle("日结")
        self.setMinimumWidth(640)
        self.view = DayReportView("day_close")
        self.form = ErrorForm()
        self.counted = QLineEdit(objectName="day_close_counted", placeholderText="清点的现金（元）")
        self.diff = QLabel(objectName="day_close_diff")
        self.note = QLineEdit(objectName="day_close_note", placeholderText="现金有差额时必填，例如：找零少收 5 元")
        self.form.add_field("counted_cash", "清点现金（元）", self.counted, required=True)
        self.form.addRow("差额", self.diff)
        self.form.add_field("note", "说明", self.note)
        self.form.addRow("", hint("日结后当天的收费、退款、账户都不能再修改，之后的收款记入下一个营业日。"))
        self.message = QLabel(objectName="day_close_message", wordWrap=True)
        self.message.setStyleSheet(ERROR_STYLE)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("确认日结")
        self.ok.setObjectName("day_close_ok")
        self.ok.setEnabled(False)
        cancel = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        cancel.setText("取消")
        cancel.setObjectName("day_close_cancel")
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.counted.textChanged.connect(lambda _t: self._update_diff())
        geometry.fit_to_screen(self, default=(860, 640))
        self.load()

    def load(self) -> None:
        ops.day_report(self, self.clinic, self.actor).success(self._loaded).failure(self._failed).run()

    def _loaded(self, report: DayReport) -> None:
        self.report = report
        self.view.show_report(report, "日结　营业日期")
        refusal = dayclose.close_refusal(self.actor)  # not a read: the report may be seen; closing needs the right
        self.ok.setEnabled(refusal is None)
        self.message.setText(refusal or "")
        self._update_diff()

    def _failed(self, exc: Exception) -> None:
        self.view.header.setText("无法统计")
        self.message.setText(error_text(exc))

    def _update_diff(self) -> None:
        if self.report is None:
            return
        try:
            counted = parse_money(self.counted.text(), "counted_cash", allow_zero=True)
        except ValidationError:
            self.diff.setText("")
            return
        diff = counted - self.report.expected_cash_fen
        self.diff.setText("无差额" if diff == 0 else ("多 " if diff > 0 else "少 ") + yuan(abs(diff)))
        self.diff.setStyleSheet(ERROR_STYLE if diff else "")

    def submit(self) -> None:
        self.message.clear()
        self.form.clear_errors()
        if self.report is None:
            return
        try:
            counted = parse_money(self.counted.text(), "counted_cash", allow_zero=True)
        except ValidationError as e:
            self._refused(e)
            return
        ops.close_day(self, self.clinic, self.actor, counted_fen=counted, note=self.note.text(),
                      day=self.report.business_date).success(self._closed).failure(self._refused).run()

    def _closed(self, report: DayReport) -> None:
        self.closed = report
        self.accept()

    def _refused(self, error: Exception) -> None:
        if isinstance(error, ValidationError):
            self.message.setText("；".join(self.form.show_errors(error.errors)))
        else:
            self.message.setText(error_text(error))


class BusinessDateDialog(CashierFormDialog):
    """营业日期: a supervisor moves the day money is posted on (never to a closed day)."""

    def __init__(self, clinic: Clinic, actor: Actor, current: date, parent: QWidget | None = None) -> None:
        super().__init__("business_date", "营业日期", parent, ok_text="确定", min_width=520)
        self.clinic, self.actor = clinic, actor
        self.chosen: date | None = None
        self.form.addRow("当前营业日期", QLabel(f"{current:%Y-%m-%d}", objectName="business_date_current"))
        self.day = _date_edit("business_date_day", current)
        self.form.add_field("business_date", "改为", self.day, required=True)
        self.supervisor = SupervisorFields("business_date")
        self.supervisor.add_to(self.form)
        self.form.addRow("", hint("补录前一天的单据时改到那一天；日结后自动回到下一个营业日。"))
        self.finish_layout()
        self.ok.setEnabled(True)  # nothing to read first

    def action(self) -> Op[date]:
        return ops.set_business_date(self, self.clinic, self.actor, _picked(self.day), self.supervisor.typed())

    def saved(self, result: object) -> None:
        assert isinstance(result, date)
        self.chosen = result
        super().saved(result)


CLOSED_COLUMNS = ["营业日期", "日结时间", "日结人", "收据", "实收", "应有现金", "清点现金", "差额", "说明"]


class ClosedDaysDialog(QDialog):
    """历史: closed days of a range; choosing one shows its report as it was closed."""

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.days: list[ClosedDay] = []
        self.setObjectName("closed_days")
        self.setWindowTitle("日结历史")
        self.setMinimumWidth(760)
        today = clock.now().date()
        self.start = _date_edit("closed_days_start", today - timedelta(days=30))
        self.end = _date_edit("closed_days_end", today)
        self.run_button = QPushButton("查询", objectName="closed_days_run")
        self.table = table("closed_days_table", CLOSED_COLUMNS, stretch=len(CLOSED_COLUMNS) - 1)
        self.view = DayReportView("closed_days")
        self.view.header.setText("选择一天查看日结报表")
        self.message = QLabel(objectName="closed_days_message")
        self.message.setStyleSheet(ERROR_STYLE)
        top = QHBoxLayout()
        for w in (QLabel("营业日期"), self.start, QLabel("至"), self.end, self.run_button):
            top.addWidget(w)
        top.addStretch(1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.button(QDialogButtonBox.StandardButton.Close).setText("关闭")
        close.button(QDialogButtonBox.StandardButton.Close).setObjectName("closed_days_close")
        close.rejected.connect(self.reject)
        self.table.setMinimumHeight(90)
        report = QWidget()
        report_layout = QVBoxLayout(report)
        report_layout.setContentsMargins(0, 0, 0, 0)
        report_layout.addWidget(self.message)
        report_layout.addWidget(self.view, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical, objectName="closed_days_splitter", childrenCollapsible=False)
        self.splitter.addWidget(self.table)  # the user trades the list's height for the report's
        self.splitter.addWidget(report)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(close)
        self.run_button.clicked.connect(self.run)
        self.table.itemSelectionChanged.connect(self.show_day)
        geometry.fit_to_screen(self, default=(980, 680))
        self.run()

    def run(self) -> None:
        self.message.clear()
        ops.closed_days(self, self.clinic, self.actor, _picked(self.start), _picked(self.end)).success(
            self._listed).failure(lambda e: self.message.setText(error_text(e))).run()

    def _listed(self, days: list[ClosedDay]) -> None:
        self.days = days
        fill(self.table, [[f"{d.business_date:%Y-%m-%d}", f"{d.closed_at:%Y-%m-%d %H:%M}", d.closed_by,
                           str(d.receipts), yuan(d.received_fen), yuan(d.expected_cash_fen),
                           *((yuan(d.counted_cash_fen), yuan(d.counted_cash_fen - d.expected_cash_fen))
                             if d.counted_cash_fen is not None else ("—", "—")), d.note] for d in self.days],
             money_columns=[3, 4, 5, 6, 7])
        if not self.days:
            self.message.setText("这段时间没有日结记录")

    def show_day(self) -> None:
        row = self.table.currentRow()
        if not 0 <= row < len(self.days):
            return
        day = self.days[row].business_date
        ops.day_report(self, self.clinic, self.actor, day).success(
            lambda report: self.view.show_report(report, "日结报表")).failure(
            lambda e: self.message.setText(error_text(e))).run()


class RevenueDialog(QDialog):
    """店内营收统计 over a range of business dates: money in by method and sales by department."""

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.revenue: Revenue | None = None
        self.setObjectName("revenue")
        self.setWindowTitle("店内营收统计")
        self.setMinimumSize(760, 520)
        today = clock.now().date()
        self.start = _date_edit("revenue_start", today.replace(day=1))
        self.end = _date_edit("revenue_end", today)
        self.run_button = QPushButton("统计", objectName="revenue_run")
        self.received = QLabel(objectName="revenue_received")
        self.sales = QLabel(objectName="revenue_sales")
        for label in (self.received, self.sales):
            label.setStyleSheet(BIG_STYLE)
        self.by_method = table("revenue_by_method", ["支付方式", "金额"])
        self.by_department = table("revenue_by_department", ["科室", "业绩"])
        self.message = QLabel(objectName="revenue_message")
        self.message.setStyleSheet(ERROR_STYLE)
        top = QHBoxLayout()
        for w in (QLabel("营业日期"), self.start, QLabel("至"), self.end, self.run_button):
            top.addWidget(w)
        top.addStretch(1)
        totals = QHBoxLayout()
        for caption, label in (("实收（不含账户划扣）", self.received), ("科室业绩合计", self.sales)):
            totals.addWidget(QLabel(caption))
            totals.addWidget(label)
            totals.addSpacing(30)
        totals.addStretch(1)
        tables = QHBoxLayout()
        for title, widget in (("按支付方式", self.by_method), ("按科室", self.by_department)):
            group = QGroupBox(title)
            QVBoxLayout(group).addWidget(widget)
            tables.addWidget(group, 1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.button(QDialogButtonBox.StandardButton.Close).setText("关闭")
        close.button(QDialogButtonBox.StandardButton.Close).setObjectName("revenue_close")
        close.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(totals)
        layout.addLayout(tables, 1)
        layout.addWidget(self.message)
        layout.addWidget(close)
        self.run_button.clicked.connect(self.run)
        self.run()

    def run(self) -> None:
        self.message.setText("正在统计…")
        self.run_button.setEnabled(False)
        start, end = _picked(self.start), _picked(self.end)
        ops.revenue(self, self.clinic, self.actor, start, end).success(self._done).failure(self._failed).run()

    def _done(self, revenue: Revenue) -> None:
        self.revenue = revenue
        self.run_button.setEnabled(True)
        self.message.clear()
        self.received.setText(yuan(revenue.received_fen))
        self.sales.setText(yuan(revenue.sales_fen))
        fill_amounts(self.by_method, revenue.by_method, total_label="合计")
        fill_amounts(self.by_department, revenue.by_department, total_label="合计")

    def _failed(self, exc: Exception) -> None:
        self.run_button.setEnabled(True)
        self.message.setText(error_text(exc))
