"""短信 (inside 电话管理): the send log paged as it scrolls, counts, cancel / resend, 发短信… and 群发…."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.permissions import Actor, Page
from meike.services.sms import CHANNEL_LABELS, STATUS_LABELS, SmsCounts, SmsRow
from ui.models.paged import Index
from ui.operations import Op
from ui.operations import sms as ops
from ui.pages.base import need_page
from ui.phone.lazy import LazyTableModel
from ui.tasks import error_text
from ui.widgets import messages
from ui.widgets.tables import read_only

COLUMNS = ["时间", "号码", "顾客", "类型", "内容", "状态", "次数", "说明", "发送人"]
STATUS_COLORS = {"sent": "#1e8449", "failed": "#c0392b", "cancelled": "#999999", "sending": "#2471a3"}


class SmsTableModel(LazyTableModel):
    headers = COLUMNS
    page_size = 100

    def __init__(self, clinic: Clinic, actor: Actor, parent: Any = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.status: str | None = None

    def count_op(self) -> Op[int]:
        return ops.count_messages(None, self.clinic, self.actor, self.status)

    def page_op(self, offset: int, limit: int) -> Op[list[Any]]:
        return ops.list_messages(None, self.clinic, self.actor, self.status, offset, limit)  # type: ignore[return-value]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        row: SmsRow = self.rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._cell(row, column)
        if role == Qt.ItemDataRole.ToolTipRole and column in (4, 7):
            return (row.text if column == 4 else row.last_error) or None
        if role == Qt.ItemDataRole.ForegroundRole and column == 5 and row.status in STATUS_COLORS:
            return QBrush(QColor(STATUS_COLORS[row.status]))
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        return None

    @staticmethod
    def _cell(row: SmsRow, column: int) -> str:
        if column == 0:
            return f"{(row.sent_at or row.created_at):%Y-%m-%d %H:%M}"
        if column == 1:
            return row.number
        if column == 2:
            return row.customer_name or "—"
        if column == 3:
            return row.kind_label
        if column == 4:
            return " ".join(row.text.split()) + (f"（{row.parts} 条）" if row.parts > 1 else "")
        if column == 5:
            return row.status_label
        if column == 6:
            return str(row.attempts)
        if column == 7:
            if row.status == "queued" and not row.last_error:
                return f"{row.next_attempt_at:%m-%d %H:%M} 后发送" if row.attempts else ""
            return row.last_error
        return row.created_by


class _PumpRelay(QObject):
    """Parentless, kept alive by the jobs' subscription: the scheduler thread only emits."""

    pumped = Signal(object)


def counts_text(c: SmsCounts) -> str:
    parts = [f"{STATUS_LABELS[k]} {c.by_status.get(k, 0):,}" for k in ("queued", "sending", "sent", "failed")]
    limit = f"今日已发 {c.sent_today}/{c.daily_limit}" + ("（已达上限，其余明天发送）" if c.limit_reached else "")
    return "　".join(parts) + f"　|　{limit}　|　通道：{CHANNEL_LABELS.get(c.channel, c.channel)}"


class SmsPanel(QWidget):
    open_customer = Signal(int)

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        need_page(actor, Page.PHONE)
        self.clinic, self.actor = clinic, actor
        self.setObjectName("sms_panel")
        self.dialog: QWidget | None = None
        self.model = SmsTableModel(clinic, actor, self)
        self.view = QTableView(objectName="sms_log")
        self.view.setModel(self.model)
        read_only(self.view, stretch=4)
        self.view.setWordWrap(False)
        header = self.view.horizontalHeader()
        for column, width in enumerate((130, 110, 80, 70, 320, 60, 40, 200)):
            header.resizeSection(column, width)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_context_menu)
        self.view.doubleClicked.connect(lambda index: self._open_customer(index.row()))
        self.view.selectionModel().currentRowChanged.connect(lambda _c, _p: self._selection_changed())

        self.status_filter = QComboBox(objectName="sms_status_filter")
        self.status_filter.addItem("全部状态", None)
        for key, label in STATUS_LABELS.items():
            self.status_filter.addItem(label, key)
        self.status_filter.currentIndexChanged.connect(lambda _i: self.refresh())
        self.total = QLabel("正在统计…", objectName="sms_total")
        self.counts = QLabel(objectName="sms_counts")
        self.counts.setStyleSheet("color: #555;")
        self.refresh_button = QPushButton("刷新", objectName="sms_refresh")
        self.send_button = QPushButton("发短信…", objectName="sms_send")
        self.batch_button = QPushButton("群发…", objectName="sms_batch")
        self.cancel_button = QPushButton("取消发送", objectName="sms_cancel")
        self.cancel_button.setEnabled(False)
        self.status = QLabel(objectName="sms_status", wordWrap=True)
        self.refresh_button.clicked.connect(self.refresh)
        self.send_button.clicked.connect(lambda: self.send_to())
        self.batch_button.clicked.connect(lambda: self.send_batch())
        self.cancel_button.clicked.connect(lambda: self.cancel(self.current_row()))
        self.model.total_changed.connect(lambda n: self.total.setText(f"共 {n:,} 条短信"))

        self.act_cancel = QAction("取消发送", self, objectName="sms_act_cancel")
        self.act_cancel_batch = QAction("取消本次群发中未发送的", self, objectName="sms_act_cancel_batch")
        self.act_retry = QAction("重新发送", self, objectName="sms_act_retry")
        self.act_open = QAction("打开顾客详情", self, objectName="sms_act_open")
        self.act_cancel.triggered.connect(lambda: self.cancel(self.current_row()))
        self.act_cancel_batch.triggered.connect(lambda: self.cancel_batch(self.current_row()))
        self.act_retry.triggered.connect(lambda: self.retry(self.current_row()))
        self.act_open.triggered.connect(lambda: self._open_customer(self.current_row()))

        top = QHBoxLayout()
        top.addWidget(QLabel("<b>短信</b>"))
        top.addWidget(self.total)
        top.addStretch(1)
        top.addWidget(self.status_filter)
        top.addWidget(self.refresh_button)
        top.addWidget(self.send_button)
        top.addWidget(self.batch_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.cancel_button)
        bottom.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.counts)
        layout.addWidget(self.view, 1)
        layout.addLayout(bottom)

        self._relay = _PumpRelay()
        self._relay.pumped.connect(self._pumped)  # a bound slot: queued to the GUI thread
        unsubscribe = ops.subscribe_to_sending(clinic, self._relay.pumped.emit)
        if unsubscribe is not None:
            self.destroyed.connect(lambda *_: unsubscribe())
        self.refresh()

    # --- the list ---------------------------------------------------------------------------------

    def refresh(self) -> None:
        self.model.status = self.status_filter.currentData()
        self.model.reload()
        self._selection_changed()
        ops.counts(self, self.clinic, self.actor).success(lambda c: self.counts.setText(counts_text(c))).failure(
            lambda exc: self.counts.setText(error_text(exc))).run()

    def _pumped(self, _result: object) -> None:
        self.refresh()

    def current_row(self) -> int:
        return self.view.currentIndex().row()

    def select_row(self, row: int) -> None:
        self.view.setCurrentIndex(self.model.index(row, 0))

    def _selection_changed(self) -> None:
        row = self.model.row_at(self.current_row())
        self.cancel_button.setEnabled(row is not None and row.status == "queued")

    def build_menu(self, row: int) -> QMenu:
        """The right-click menu of a log row; built apart from exec() so tests can read it."""
        menu = QMenu(self)
        menu.setObjectName("sms_menu")
        record: SmsRow | None = self.model.row_at(row)
        if record is None:
            return menu
        self.select_row(row)
        if record.status == "queued":
            menu.addAction(self.act_cancel)
        if record.batch_key and record.status == "queued":
            menu.addAction(self.act_cancel_batch)
        if record.status in ("failed", "cancelled"):
            menu.addAction(self.act_retry)
        if record.customer_id is not None:
            menu.addAction(self.act_open)
        return menu

    def _on_context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if index.isValid():
            self.build_menu(index.row()).exec(self.view.viewport().mapToGlobal(pos))

    def _open_customer(self, row: int) -> None:
        record = self.model.row_at(row)
        if record is not None and record.customer_id is not None:
            self.open_customer.emit(record.customer_id)

    # --- actions ----------------------------------------------------------------------------------

    def _act(self, op: Op[Any], done: str) -> None:
        def succeeded(result: Any) -> None:
            self.status.setText(done.format(result))
            self.refresh()

        op.success(succeeded).failure(lambda exc: self.status.setText(error_text(exc))).run()

    def cancel(self, row: int) -> None:
        record = self.model.row_at(row)
        if record is not None:
            self._act(ops.cancel(self, self.clinic, self.actor, record.id), f"已取消发给 {record.number} 的短信")

    def cancel_batch(self, row: int) -> None:
        record = self.model.row_at(row)
        if record is None or not messages.ask(self, "取消群发", "确定取消这次群发中还没有发出的短信吗？"):
            return
        self._act(ops.cancel_batch(self, self.clinic, self.actor, record.batch_key), "已取消 {} 条未发送的短信")

    def retry(self, row: int) -> None:
        record = self.model.row_at(row)
        if record is not None:
            self._act(ops.retry(self, self.clinic, self.actor, record.id), "已重新排队，稍后发送")

    def send_to(self, customer_id: int | None = None) -> QWidget:
        from ui.dialogs.sms_send import SendSmsDialog

        dialog = SendSmsDialog(self.clinic, self.actor, customer_id, self)
        dialog.accepted.connect(self._sent)
        self.dialog = dialog
        dialog.open()
        return dialog

    def _sent(self) -> None:
        self.status.setText("短信已排队，稍后发出")
        self.refresh()

    def send_batch(self) -> QWidget:
        from ui.dialogs.sms_send import BatchSmsDialog

        dialog = BatchSmsDialog(self.clinic, self.actor, parent=self)
        dialog.accepted.connect(lambda: self._batch_done(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _batch_done(self, dialog: Any) -> None:
        r = dialog.queued
        if r is not None:
            self.status.setText(f"已排队 {r.queued:,} 条；跳过拒收 {r.opted_out:,} 人、非手机号 {r.not_mobile:,} 人")
        self.refresh()
