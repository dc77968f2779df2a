"""操作日志: the administrator's view of the audit log — filters, chain check, export to Excel."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import QDate
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from meike import clock
from meike.db import Clinic
from meike.errors import ValidationError
from meike.permissions import Actor
from meike.services.audit import CATEGORIES, AuditFilter, AuditLine, ChainReport
from ui.operations import audit as ops
from ui.pages.base import need_admin
from ui.tasks import error_text
from ui.widgets.tables import read_only

PAGE = 500
COLUMNS = ["编号", "时间", "操作人", "操作", "对象", "内容"]
PRIVACY_NOTE = "顾客的姓名、号码、地址、微信、QQ、备注和病历等个人信息在日志和导出中显示为 ***，只保留编号和改动了哪些项"


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


class AuditViewer(QWidget):
    """Newest first, 500 rows a page ("更多" loads the next); the chain check runs off the GUI thread."""

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        need_admin(actor)
        self.clinic, self.actor = clinic, actor
        self.setObjectName("audit_viewer")
        self.lines: list[AuditLine] = []
        self.exported: int | None = None  # the lines of the last export
        self._search = 0  # the current search (a page of an earlier one arriving late is dropped)
        today = clock.now().date()
        self.use_dates = QCheckBox("日期", objectName="audit_use_dates")
        self.start = QDateEdit(_qdate(today.replace(day=1)), objectName="audit_start", calendarPopup=True,
                               displayFormat="yyyy-MM-dd")
        self.end = QDateEdit(_qdate(today), objectName="audit_end", calendarPopup=True, displayFormat="yyyy-MM-dd")
        self.username = QLineEdit(objectName="audit_username", placeholderText="操作人用户名")
        self.category = QComboBox(objectName="audit_category")
        self.category.addItem("全部操作", "")
        for key, (label, _prefixes) in CATEGORIES.items():
            self.category.addItem(label, key)
        self.text = QLineEdit(objectName="audit_text", placeholderText="内容关键字（如收据号、卡号）")
        self.text.setToolTip(PRIVACY_NOTE)
        self.search_button = QPushButton("查询", objectName="audit_search")
        self.verify_button = QPushButton("校验日志完整性", objectName="audit_verify")
        self.accept_button = QPushButton("以当前日志为准", objectName="audit_accept")
        self.accept_button.setToolTip("日志与本机或备份中保存的记录不一致、且已查明原因（例如确实换过数据库）时："
                                      "以现在的日志作为今后比较的基准（记入操作日志）")
        self.accept_button.hide()
        self.export_button = QPushButton("导出 Excel…", objectName="audit_export")
        self.more_button = QPushButton("更多…", objectName="audit_more")
        self.status = QLabel(objectName="audit_status", wordWrap=True)
        self.table = QTableWidget(0, len(COLUMNS), objectName="audit_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        read_only(self.table, stretch=len(COLUMNS) - 1, single=False)
        self.table.horizontalHeaderItem(len(COLUMNS) - 1).setToolTip(PRIVACY_NOTE)

        filters = QHBoxLayout()
        for widget in (self.use_dates, self.start, QLabel("至"), self.end, self.username, self.category, self.text,
                       self.search_button):
            filters.addWidget(widget)
        filters.setStretchFactor(self.text, 1)
        actions = QHBoxLayout()
        actions.addWidget(self.status, 1)
        actions.addWidget(self.more_button)
        actions.addWidget(self.verify_button)
        actions.addWidget(self.accept_button)
        actions.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.table)
        layout.addLayout(actions)

        self.search_button.clicked.connect(lambda: self.reload())
        self.text.returnPressed.connect(lambda: self.reload())
        self.username.returnPressed.connect(lambda: self.reload())
        self.category.currentIndexChanged.connect(lambda _i: self.reload())
        self.more_button.clicked.connect(self.load_more)
        self.verify_button.clicked.connect(self.verify)
        self.accept_button.clicked.connect(self.accept_log)
        self.export_button.clicked.connect(lambda: self.export())

    def filter(self) -> AuditFilter:
        dated = self.use_dates.isChecked()
        return AuditFilter(start=self.start.date().toPython() if dated else None,
                           end=self.end.date().toPython() if dated else None,
                           username=self.username.text(), category=self.category.currentData() or "",
                           text=self.text.text())

    def reload(self) -> None:
        self._search += 1
        self.lines = []
        self.table.setRowCount(0)
        self.load_more()

    def load_more(self) -> None:
        """The next page of the current search (off the GUI thread)."""
        search, flt = self._search, self.filter()
        ops.search(self, self.clinic, self.actor, flt, len(self.lines), PAGE).success(
            lambda page: self._show(search, page)).failure(self._refused).run()

    def _refused(self, error: Exception) -> None:
        if isinstance(error, ValidationError):  # a filter text too long or with control characters
            self.status.setText("；".join(error.errors.values()))
        else:
            self.status.setText(error_text(error))

    def _show(self, search: int, page: ops.AuditPage) -> None:
        if search != self._search:  # the filter changed meanwhile
            return
        first = len(self.lines)
        self.lines.extend(page.lines)
        self.table.setRowCount(len(self.lines))
        for r, line in enumerate(page.lines, start=first):
            for c, text in enumerate([str(line.id), f"{line.at:%Y-%m-%d %H:%M:%S}", line.username, line.label,
                                      line.target, line.detail]):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self.more_button.setEnabled(len(self.lines) < page.total)
        self.status.setText(f"共 {page.total} 条，已显示 {len(self.lines)} 条")

    def verify(self) -> None:
        self.status.setText("正在校验操作日志…")

        def done(report: ChainReport) -> None:
            # The log no longer matches what this PC or a backup kept: once explained, it can become the base.
            self.accept_button.setVisible(any("记录的" in p for p in report.problems))
            if report.ok:
                self.status.setText(f"校验通过：{report.checked} 条记录完整，没有被修改、删除或插入，"
                                    "与本机和备份中保存的记录一致")
            else:
                self.status.setText(f"校验发现问题（共检查 {report.checked} 条）：" + "；".join(report.problems[:5]))

        def failed(exc: Exception) -> None:
            self.status.setText(f"校验失败：{error_text(exc)}")

        ops.verify_chain(self, self.clinic, self.actor).success(done).failure(failed).busy(self.verify_button).run()

    def accept_log(self) -> None:
        """以当前日志为准 (``audit_guard.accept``): audited with the record it replaces."""
        def done(_none: None) -> None:
            self.accept_button.hide()
            self.status.setText("已以当前日志为准：今后与现在的日志比较（已记入操作日志）")
            self.reload()

        ops.accept_log(self, self.clinic, self.actor).success(done).failure(
            lambda e: self.status.setText(error_text(e))).busy(self.accept_button).run()

    def export(self, path: Path | None = None) -> None:
        """导出 Excel; the lines written are ``exported`` once done."""
        if path is None:
            name, _ = QFileDialog.getSaveFileName(self, "导出操作日志", f"操作日志-{clock.now():%Y%m%d}.xlsx",
                                                  "Excel 文件 (*.xlsx)")
            if not name:
                return
            path = Path(name)
        chosen = path
        self.exported = None

        def done(written: int) -> None:
            self.exported = written
            self.status.setText(f"已导出 {written} 条到 {chosen}")

        ops.export(self, self.clinic, self.actor, self.filter(), chosen).success(done).failure(
            lambda e: self.status.setText(f"导出失败：{error_text(e)}")).busy(self.export_button).run()
