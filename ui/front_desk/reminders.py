"""提醒列表: due chase / post-op follow-ups; right-click to mark done, postpone or add the next reminder.

The list is read off the GUI thread, and read again whenever ``bus().changed`` says reminders changed
(here or anywhere else); the small forms save through ``ui/operations/front_desk.py``.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from PySide6.QtCore import QDate, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from meike import clock
from meike.changes import Changes
from meike.db import Clinic
from meike.permissions import Actor
from meike.services.followups import KINDS, ReminderRow
from ui import geometry
from ui.operations import Op, bus
from ui.operations import front_desk as ops
from ui.tasks import error_text
from ui.widgets.form import ERROR_STYLE
from ui.widgets.form_dialog import OpFormDialog
from ui.widgets.tables import read_only

COLUMNS = ["顾客", "手机", "类型", "到期日期", "负责人", "备注"]
OVERDUE_COLOR = QColor("#c0392b")
ROW_ID = Qt.ItemDataRole.UserRole
ROW_CUSTOMER = Qt.ItemDataRole.UserRole + 1


def list_title(kind: str | None, overdue_only: bool) -> str:
    if overdue_only:
        return "已逾期的提醒"
    return f"{KINDS[kind]}提醒" if kind else "全部到期提醒"


def _today() -> date:
    return clock.now().date()


def _qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def _date_edit(name: str, value: date) -> QDateEdit:
    edit = QDateEdit(_qdate(value), objectName=name)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setMinimumDate(_qdate(_today()))
    return edit


class CompleteReminderDialog(OpFormDialog):
    """标记完成: what came of the call (required) and, optionally, when to call again."""

    def __init__(self, clinic: Clinic, actor: Actor, row: ReminderRow, parent: QWidget | None = None) -> None:
        super().__init__("reminder_done_dialog", "回访完成", parent, ok_text="完成", min_width=460)
        self.clinic, self.actor, self.row = clinic, actor, row
        self.next_id: int | None = None
        self.form.addRow("顾客", QLabel(f"{row.customer_name}　{row.mobile}"))
        self.form.addRow("提醒", QLabel(f"{row.kind_label}　到期 {row.due_date:%Y-%m-%d}　负责人 {row.assignee}"))
        if row.note:
            self.form.addRow("备注", QLabel(row.note))
        self.result_edit = QPlainTextEdit(objectName="reminder_result")
        self.result_edit.setPlaceholderText("例如：已电话回访，恢复良好；顾客考虑中，下周再联系")
        self.result_edit.setFixedHeight(80)
        self.form.add_field("result", "回访结果", self.result_edit, required=True)
        self.next_enabled = QCheckBox("需要", objectName="reminder_next_enabled")
        self.next_due = _date_edit("reminder_next_due", _today() + timedelta(days=7))
        self.next_due.setEnabled(False)
        self.next_enabled.toggled.connect(self.next_due.setEnabled)
        next_row = QWidget(objectName="next_due")
        box = QHBoxLayout(next_row)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.next_enabled)
        box.addWidget(self.next_due, 1)
        self.form.add_field("next_due", "下次提醒日期", next_row)
        self.finish_layout()

    def operation(self) -> Op[Any]:
        due = _pydate(self.next_due.date()) if self.next_enabled.isChecked() else None
        return ops.complete_reminder(self, self.clinic, self.actor, self.row.id, self.result_edit.toPlainText(), due)

    def saved(self, result: Any) -> None:
        self.next_id = result


class PostponeReminderDialog(OpFormDialog):
    """推迟: a new due date, not before today."""

    def __init__(self, clinic: Clinic, actor: Actor, row: ReminderRow, parent: QWidget | None = None) -> None:
        super().__init__("reminder_postpone_dialog", "推迟提醒", parent, ok_text="推迟", min_width=460)
        self.clinic, self.actor, self.row = clinic, actor, row
        self.form.addRow("顾客", QLabel(f"{row.customer_name}　{row.kind_label}　原到期 {row.due_date:%Y-%m-%d}"))
        self.due = _date_edit("reminder_postpone_due", max(_today(), row.due_date) + timedelta(days=1))
        self.form.add_field("due", "新的提醒日期", self.due, required=True)
        self.finish_layout()

    def operation(self) -> Op[Any]:
        return ops.postpone_reminder(self, self.clinic, self.actor, self.row.id, _pydate(self.due.date()))


class AddReminderDialog(OpFormDialog):
    """添加提醒 for a customer: kind, date, who calls, a note."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, customer_label: str,
                 kind: str = "chase", parent: QWidget | None = None) -> None:
        super().__init__("reminder_add_dialog", "添加提醒", parent, ok_text="添加", min_width=460)
        self.clinic, self.actor, self.customer_id = clinic, actor, customer_id
        self.new_id: int | None = None
        self.form.addRow("顾客", QLabel(customer_label))
        self.kind = QComboBox(objectName="reminder_kind")
        for code, label in KINDS.items():
            self.kind.addItem(label, code)
        self.kind.setCurrentIndex(max(0, self.kind.findData(kind)))
        self.form.add_field("kind", "提醒类型", self.kind, required=True)
        self.due = _date_edit("reminder_due", _today() + timedelta(days=7))
        self.form.add_field("due", "提醒日期", self.due, required=True)
        self.assignee = QComboBox(objectName="reminder_assignee")  # filled once read (``_assignees``)
        self.form.add_field("assignee_id", "负责人", self.assignee)
        self.note = QLineEdit(objectName="reminder_note", placeholderText="例如：术后7天复查，提醒冷敷")
        self.form.add_field("note", "备注", self.note)
        self.finish_layout()

        ops.assignees(self, clinic, actor).success(self._assignees).failure(self.refused).run()

    def _assignees(self, choices: list[tuple[int, str]]) -> None:
        for user_id, label in choices:
            self.assignee.addItem(label, user_id)
        self.assignee.setCurrentIndex(max(0, self.assignee.findData(self.actor.user_id)))

    def operation(self) -> Op[Any]:
        return ops.add_reminder(self, self.clinic, self.actor, self.customer_id, kind=self.kind.currentData(),
                                due=_pydate(self.due.date()), assignee_id=self.assignee.currentData(),
                                note=self.note.text())

    def saved(self, result: Any) -> None:
        self.new_id = result


class ReminderListDialog(QDialog):
    """The reminders behind one dashboard count. Shown with ``open()``; its sub-dialogs too."""

    open_customer = Signal(int)  # double-click: the lead opens the customer detail

    def __init__(self, clinic: Clinic, actor: Actor, *, kind: str | None = None, overdue_only: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.kind, self.overdue_only = kind, overdue_only
        self.rows: list[ReminderRow] = []
        self.sub_dialog: QDialog | None = None
        self.menu: QMenu | None = None
        self.setObjectName("reminder_list_dialog")
        self.setWindowTitle(list_title(kind, overdue_only))
        geometry.fit_to_screen(self, default=(860, 480))

        self.summary = QLabel(objectName="reminder_summary")
        self.summary.setStyleSheet("font-size: 15px; font-weight: bold; color: #24445c;")
        hint = QLabel("右击一行可标记完成、推迟或添加下次提醒；双击打开顾客详情")
        hint.setStyleSheet("color: #7a8794;")
        self.table = QTableWidget(0, len(COLUMNS), objectName="reminder_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        read_only(self.table, stretch=len(COLUMNS) - 1, fit_contents=True)
        self.table.setStyleSheet("QTableWidget::item { padding: 4px 10px; }")
        self.table.setMinimumHeight(240)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.cellDoubleClicked.connect(self._double_clicked)
        self.table.itemSelectionChanged.connect(self._update_actions)

        self.done_action = QAction("标记完成…", self, objectName="reminder_done")
        self.done_action.triggered.connect(self.mark_done)
        self.postpone_action = QAction("推迟…", self, objectName="reminder_postpone")
        self.postpone_action.triggered.connect(self.postpone)
        self.add_next_action = QAction("添加下次提醒…", self, objectName="reminder_add_next")
        self.add_next_action.triggered.connect(self.add_next)
        self.open_action = QAction("打开顾客详情", self, objectName="reminder_open_customer")
        self.open_action.triggered.connect(self._emit_open_customer)
        self.row_actions = [self.done_action, self.postpone_action, self.add_next_action, self.open_action]

        buttons = QHBoxLayout()
        for action, name in ((self.done_action, "reminder_done_button"),
                             (self.postpone_action, "reminder_postpone_button"),
                             (self.add_next_action, "reminder_add_next_button")):
            button = QPushButton(action.text().rstrip("…"), objectName=name)
            button.clicked.connect(action.trigger)
            action.changed.connect(lambda b=button, a=action: b.setEnabled(a.isEnabled()))
            buttons.addWidget(button)
        buttons.addStretch(1)
        reload_button = QPushButton("刷新", objectName="reminder_reload")
        reload_button.clicked.connect(self.reload)
        close = QPushButton("关闭", objectName="reminder_close")
        close.clicked.connect(self.reject)
        buttons.addWidget(reload_button)
        buttons.addWidget(close)
        self.message = QLabel(objectName="reminder_message")
        self.message.setStyleSheet(ERROR_STYLE)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(hint)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        bus().changed.connect(self._bus_changed)
        self.reload()

    # -- data --------------------------------------------------------------------------------------

    def _bus_changed(self, what: Changes) -> None:
        if what.touches("reminders", "customers"):
            self.reload()

    def reload(self) -> None:
        """Read the list again, off the GUI thread."""
        ops.due_reminders(self, self.clinic, self.actor, self.kind, self.overdue_only).success(
            self._show_rows).failure(self._failed).run()

    def _failed(self, error: Exception) -> None:
        self._show_rows([])
        self.message.setText(error_text(error))

    def _show_rows(self, rows: list[ReminderRow]) -> None:
        self.message.clear()
        self.rows = rows
        today = _today()
        self.table.setRowCount(len(self.rows))
        for i, r in enumerate(self.rows):
            cells = [r.customer_name, r.mobile, r.kind_label, f"{r.due_date:%Y-%m-%d}", r.assignee, r.note]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j == 3 and r.due_date < today:
                    item.setForeground(QBrush(OVERDUE_COLOR))
                    item.setToolTip(f"已逾期 {(today - r.due_date).days} 天")
                self.table.setItem(i, j, item)
            self.table.item(i, 0).setData(ROW_ID, r.id)
            self.table.item(i, 0).setData(ROW_CUSTOMER, r.customer_id)
        overdue = sum(1 for r in self.rows if r.due_date < today)
        text = f"{list_title(self.kind, self.overdue_only)}：共 {len(self.rows)} 条"
        if overdue and not self.overdue_only:
            text += f"，其中已逾期 {overdue} 条"
        self.summary.setText(text if self.rows else f"{list_title(self.kind, self.overdue_only)}：暂无到期提醒")
        self._update_actions()

    def current(self) -> ReminderRow | None:
        row = self.table.currentRow()
        selected = self.table.selectionModel().hasSelection()
        return self.rows[row] if selected and 0 <= row < len(self.rows) else None

    def row_of(self, reminder_id: int) -> int:
        return next((i for i, r in enumerate(self.rows) if r.id == reminder_id), -1)

    def _update_actions(self) -> None:
        has_row = self.current() is not None
        for action in self.row_actions:
            action.setEnabled(has_row)

    # -- menu --------------------------------------------------------------------------------------

    def build_menu(self, row: int) -> QMenu:
        """The right-click menu of ``row`` (selects it); tests list and trigger its actions directly."""
        if 0 <= row < len(self.rows):
            self.table.selectRow(row)
        else:
            self.table.clearSelection()
        self._update_actions()
        menu = QMenu(self)
        menu.setObjectName("reminder_menu")
        menu.addAction(self.done_action)
        menu.addAction(self.postpone_action)
        menu.addAction(self.add_next_action)
        menu.addSeparator()
        menu.addAction(self.open_action)
        self.menu = menu
        return menu

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        menu = self.build_menu(index.row() if index.isValid() else -1)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _double_clicked(self, row: int, _column: int) -> None:
        if 0 <= row < len(self.rows):
            self.open_customer.emit(self.rows[row].customer_id)

    def _emit_open_customer(self) -> None:
        r = self.current()
        if r is not None:
            self.open_customer.emit(r.customer_id)

    # -- actions -----------------------------------------------------------------------------------

    def _show(self, dialog: QDialog) -> QDialog:
        if self.sub_dialog is not None:
            self.sub_dialog.close()
            self.sub_dialog.deleteLater()
        self.sub_dialog = dialog  # what it saves comes back through bus().changed: the list reads again
        dialog.open()
        return dialog

    def mark_done(self) -> CompleteReminderDialog | None:
        r = self.current()
        return self._show(CompleteReminderDialog(self.clinic, self.actor, r, self)) if r else None  # type: ignore[return-value]

    def postpone(self) -> PostponeReminderDialog | None:
        r = self.current()
        return self._show(PostponeReminderDialog(self.clinic, self.actor, r, self)) if r else None  # type: ignore[return-value]

    def add_next(self) -> AddReminderDialog | None:
        r = self.current()
        if r is None:
            return None
        dialog = AddReminderDialog(self.clinic, self.actor, r.customer_id, f"{r.customer_name}　{r.mobile}",
                                   kind=r.kind, parent=self)
        return self._show(dialog)  # type: ignore[return-value]
