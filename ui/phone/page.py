"""电话管理: the call records (newest first, paged as the view scrolls) and a note per call."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.errors import ValidationError
from meike.permissions import Actor, Page
from meike.services.phone import DIRECTIONS, CallRow, format_duration
from ui.models.paged import Index
from ui.operations import Op
from ui.operations import phone as ops
from ui.pages.base import PageWidget, need_page
from ui.phone.lazy import LazyTableModel
from ui.phone.sms import SmsPanel
from ui.tasks import error_text
from ui.widgets.recording_player import RecordingPlayer
from ui.widgets.tables import read_only

COLUMNS = ["时间", "号码", "顾客", "接听人", "时长", "接听", "录音", "备注"]
NOTE = COLUMNS.index("备注")
PAGE_SIZE = 100


class CallTableModel(LazyTableModel):
    """Call records a page at a time."""

    headers = COLUMNS
    page_size = PAGE_SIZE

    def __init__(self, clinic: Clinic, actor: Actor, parent: Any = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor

    def count_op(self) -> Op[int]:
        return ops.count_calls(None, self.clinic, self.actor)

    def page_op(self, offset: int, limit: int) -> Op[list[Any]]:
        return ops.list_calls(None, self.clinic, self.actor, offset, limit)  # type: ignore[return-value]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cell(row, index.column())
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == NOTE:
            return row.note or None
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == NOTE - 1:
            return row.recording_path or None
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        return None

    @staticmethod
    def _cell(row: CallRow, column: int) -> str:
        if column == 0:
            return f"{row.started_at:%Y-%m-%d %H:%M}" + ("" if row.direction == "in" else f"（{DIRECTIONS[row.direction]}）")
        if column == 1:
            return row.number or "私人号码 / 号码不可用"
        if column == 2:
            return row.customer_name or ("—" if row.customer_id is None else "")
        if column == 3:
            return row.user_name
        if column == 4:
            return format_duration(row.duration_s)
        if column == 5:
            return row.outcome
        if column == 6:
            return "有" if row.recording_path else ""
        return " ".join(row.note.split())

    def replace(self, row: int, value: CallRow) -> None:
        self.rows[row] = value
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))


class PhonePage(PageWidget):
    WATCHES = ("calls", "sms", "customers")

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        need_page(actor, Page.PHONE)
        self.clinic, self.actor = clinic, actor
        self.setObjectName("page_phone")
        self.model = CallTableModel(clinic, actor, self)
        self._keep: int | None = None  # the call to show again once the list is read again
        self._shown_id: int | None = None  # the call in the note editor
        self.model.page_loaded.connect(self._page_loaded)
        self.view = QTableView(objectName="phone_calls")
        self.view.setModel(self.model)
        read_only(self.view, stretch=NOTE)
        header = self.view.horizontalHeader()
        for column, width in enumerate((140, 170, 100, 90, 60, 50, 50)):
            header.resizeSection(column, width)
        self.view.selectionModel().currentRowChanged.connect(lambda current, _prev: self._select(current.row()))
        self.view.doubleClicked.connect(self._double_clicked)
        self.total = QLabel("正在统计…", objectName="phone_total")
        self.refresh_button = QPushButton("刷新", objectName="phone_refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.model.total_changed.connect(lambda n: self.total.setText(f"共 {n} 条通话记录"))

        self.note_title = QLabel("请选择一条通话记录", objectName="phone_note_title")
        self.note = QPlainTextEdit(objectName="phone_note", placeholderText="通话内容、顾客的要求、需跟进的事项…")
        self.note.setEnabled(False)
        self.save_button = QPushButton("保存备注", objectName="phone_note_save")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save_note)
        self.status = QLabel(objectName="phone_status", wordWrap=True)
        self.player = RecordingPlayer()

        top = QHBoxLayout()
        top.addWidget(QLabel("<b>通话记录</b>"))
        top.addWidget(self.total, 1)
        top.addWidget(self.refresh_button)
        editor = QWidget()
        side = QVBoxLayout(editor)
        side.setContentsMargins(8, 0, 0, 0)
        side.addWidget(self.note_title)
        side.addWidget(self.note, 1)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.status, 1)
        side.addLayout(row)
        side.addSpacing(8)
        side.addWidget(self.player)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.view)
        splitter.addWidget(editor)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([760, 300])
        calls = QWidget(objectName="phone_calls_tab")
        layout = QVBoxLayout(calls)
        layout.addLayout(top)
        layout.addWidget(splitter, 1)
        self.sms = SmsPanel(clinic, actor)
        self.sms.open_customer.connect(self.open_customer)
        self.tabs = QTabWidget(objectName="phone_tabs")
        self.tabs.addTab(calls, "通话记录")
        self.tabs.addTab(self.sms, "短信")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.tabs)
        self.model.reload()

    def refresh(self) -> None:
        """Read the list again; the call shown (and its note being typed) stays when it is still listed."""
        call = self.current()
        self._keep = call.id if call is not None else None
        self.model.reload()
        if self._keep is None:
            self._select(-1)
        self.sms.refresh()

    def _page_loaded(self) -> None:
        keep, self._keep = self._keep, None
        if keep is None:
            return
        row = next((i for i, r in enumerate(self.model.rows) if r.id == keep), -1)
        if row >= 0:
            self.select_row(row)
        else:
            self._select(-1)

    def current(self) -> CallRow | None:
        return self.model.row_at(self.view.currentIndex().row())

    def _select(self, row: int) -> None:
        call = self.model.row_at(row)
        if call is None and self._keep is not None:
            return  # the list is being read again: the call stays shown until it is back
        same = call is not None and call.id == self._shown_id
        self._shown_id = call.id if call is not None else None
        self.note.setEnabled(call is not None)
        self.save_button.setEnabled(call is not None)
        if same:  # the same call, listed again: keep what is typed, playing and said
            return
        self.status.clear()
        if call is None:
            self.note_title.setText("请选择一条通话记录")
            self.note.clear()
            self.player.load(None)
            return
        self.player.load(call.recording_path or None)
        who = call.customer_name or call.number or "私人号码"
        self.note_title.setText(f"<b>{call.started_at:%Y-%m-%d %H:%M}</b>　{who}")
        self.note.setPlainText(call.note)

    def select_row(self, row: int) -> None:
        self.view.setCurrentIndex(self.model.index(row, 0))

    def save_note(self) -> None:
        row = self.view.currentIndex().row()
        call = self.model.row_at(row)
        if call is None:
            return
        text = self.note.toPlainText()

        def saved(_none: None) -> None:
            if self.model.row_at(row) is call:  # the list was not read again meanwhile
                self.model.replace(row, replace(call, note=text.strip()))
            self.status.setText("备注已保存")

        def refused(exc: Exception) -> None:
            self.status.setText("；".join(exc.errors.values()) if isinstance(exc, ValidationError) else error_text(exc))

        ops.save_note(self, self.clinic, self.actor, call.id, text).success(saved).failure(refused).busy(
            self.save_button, self.note).run()

    def _double_clicked(self, index: QModelIndex) -> None:
        call = self.model.row_at(index.row())
        if call is not None and call.customer_id is not None:
            self.open_customer.emit(call.customer_id)
