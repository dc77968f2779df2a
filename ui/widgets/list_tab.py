"""A list with a right-click menu — 添加 / 编辑 / 停用 (启用) / 删除 — as a settings tab: the dictionaries,
the SMS templates and the promotions are each one of these.

A subclass says how to read its rows and what each action does; every read and write is an ``Op``
(``ui/operations``), so the window never waits on the database. Enter or a double-click on a row opens
it (编辑). Actions a list does not have (a promotion is not edited nor deleted, only stopped) are left
out of its menu. The editing dialog's 保存 returns an Op too: ``submit_op`` runs it, keeps the dialog
open with errors next to the fields when it is refused, and closes it when it succeeded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QAction, QBrush, QColor, QKeyEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from meike.errors import ValidationError
from ui.operations import Op
from ui.tasks import error_text
from ui.widgets import messages
from ui.widgets.form import ErrorForm
from ui.widgets.tables import read_only

GREY = "#999999"


def submit_op(dialog: QDialog, form: ErrorForm, op: Op[Any], message: QLabel | None = None,
              done: Callable[[Any], None] | None = None, refused: Callable[[Exception], None] | None = None) -> None:
    """Run a dialog's save: on success ``done(result)`` then the dialog closes; on a refusal the errors
    go next to their fields (or into ``message``) and everything typed stays (``refused`` is told too)."""
    form.clear_errors()
    if message is not None:
        message.clear()

    def saved(result: Any) -> None:
        if done is not None:
            done(result)
        dialog.accept()

    def failed(exc: Exception) -> None:
        if refused is not None:
            refused(exc)
        if isinstance(exc, ValidationError):
            shown = form.show_errors(exc.errors)
            if message is not None:
                message.setText("；".join(shown))
        elif message is not None:
            message.setText(error_text(exc))
        else:
            messages.error(dialog, error_text(exc))

    op.success(saved).failure(failed).busy(dialog).run()


class ListTab(QWidget):
    """Rows in a read-only table, a status line, and the menu. Subclasses implement ``load`` and
    ``cells``, and the actions they have (``open_dialog``, ``toggle_op``, ``delete_op``)."""

    COLUMNS: Sequence[str] = ()
    HAS_EDIT = True
    HAS_DELETE = True
    TOGGLE_TEXTS = ("停用", "启用")  # (for an active row, for an inactive one)

    def __init__(self, name: str, actions: str, add_text: str, parent: QWidget | None = None, *,
                 buttons: bool = False, stretch: int | None = None) -> None:
        """``name``: the tab's objectName (the table is ``{name}_table``, the menu ``{name}_menu``, the
        status line ``{name}_status``); ``actions``: the prefix of the actions' objectNames
        (``{actions}_add`` …; with ``buttons`` also ``{actions}_add_button`` …)."""
        super().__init__(parent)
        self.setObjectName(name)
        self.name = name
        self.rows: list[Any] = []
        self.dialog: QDialog | None = None
        self.model = QStandardItemModel(0, len(self.COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.view = QTableView(objectName=f"{name}_table")
        self.view.setModel(self.model)
        read_only(self.view, stretch=stretch)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_context_menu)
        self.view.doubleClicked.connect(lambda index: self.edit(index.row()))
        self.view.installEventFilter(self)
        self.status = QLabel(objectName=f"{name}_status")
        self._select_after: int | None = None
        self._status_after = ""
        self._generation = 0  # an older read answering late is dropped

        self.act_add = QAction(add_text, self, objectName=f"{actions}_add")
        self.act_edit = QAction("编辑", self, objectName=f"{actions}_edit")
        self.act_toggle = QAction(self.TOGGLE_TEXTS[0], self, objectName=f"{actions}_toggle")
        self.act_delete = QAction("删除", self, objectName=f"{actions}_delete")
        self.act_add.triggered.connect(self.add)
        self.act_edit.triggered.connect(lambda: self.edit(self.current_row()))
        self.act_toggle.triggered.connect(lambda: self.toggle(self.current_row()))
        self.act_delete.triggered.connect(lambda: self.delete(self.current_row()))
        self.bar = QHBoxLayout()
        if buttons:
            for action, key in self._actions():
                button = QPushButton(action.text(), objectName=f"{actions}_{key}_button")
                button.clicked.connect(action.trigger)
                self.bar.addWidget(button)
        self.outer = QVBoxLayout(self)
        self.outer.addLayout(self.bar)
        self.outer.addWidget(self.view, 1)
        self.outer.addWidget(self.status)

    def _actions(self) -> list[tuple[QAction, str]]:
        actions = [(self.act_add, "add")]
        if self.HAS_EDIT:
            actions.append((self.act_edit, "edit"))
        actions.append((self.act_toggle, "toggle"))
        if self.HAS_DELETE:
            actions.append((self.act_delete, "delete"))
        return actions

    # --- what a subclass says ----------------------------------------------------------------------

    def load(self) -> Op[list[Any]]:
        """The rows to show (a ``read`` Op)."""
        raise NotImplementedError

    def cells(self, row: Any) -> list[str]:
        raise NotImplementedError

    def keep(self, row: Any) -> bool:
        """Whether a loaded row is shown (a filter typed above the list)."""
        return True

    def is_active(self, row: Any) -> bool:
        return bool(getattr(row, "is_active", getattr(row, "active", True)))

    def label(self, row: Any) -> str:
        return str(row.name)

    def open_dialog(self, row: Any | None) -> QDialog:
        """The dialog that adds (``row`` None) or edits a row; ``saved_id`` is set when it saved."""
        raise NotImplementedError

    def toggle_op(self, row: Any) -> Op[Any]:
        raise NotImplementedError

    def delete_op(self, row: Any) -> Op[Any]:
        raise NotImplementedError

    def delete_question(self, row: Any) -> str:
        return f"确定删除“{self.label(row)}”吗？已被使用的只能停用。"

    def toggle_question(self, row: Any) -> str:
        """Asked before 停用 / 启用 ('' : not asked)."""
        return ""

    def toggled_text(self, row: Any) -> str:
        return f"已{self.TOGGLE_TEXTS[1] if not self.is_active(row) else self.TOGGLE_TEXTS[0]}“{self.label(row)}”"

    # --- the list ------------------------------------------------------------------------------------

    def reload(self, select_id: int | None = None, status: str = "") -> None:
        """Read the rows again (off the GUI thread); ``select_id`` is selected and ``status`` said once
        they are shown."""
        self._select_after = select_id
        self._status_after = status
        self._generation += 1
        generation = self._generation
        def loaded(rows: list[Any]) -> None:
            if generation == self._generation:
                self._loaded(rows)

        self.load().success(loaded).failure(lambda exc: self.status.setText(error_text(exc))).run()

    def _loaded(self, rows: list[Any]) -> None:
        select_id, self._select_after = self._select_after, None
        self.rows = [row for row in rows if self.keep(row)]
        self.model.setRowCount(0)
        grey = QBrush(QColor(GREY))
        for row in self.rows:
            items = []
            for text in self.cells(row):
                item = QStandardItem(text)
                item.setData(row.id, Qt.ItemDataRole.UserRole)
                if not self.is_active(row):
                    item.setForeground(grey)
                items.append(item)
            self.model.appendRow(items)
            if row.id == select_id:
                self.view.selectRow(self.model.rowCount() - 1)
        self.shown(len(self.rows))
        status, self._status_after = self._status_after, ""
        if status:
            self.status.setText(status)

    def shown(self, count: int) -> None:
        """The rows were shown (a subclass may say how many)."""

    def current_row(self) -> int:
        rows = self.view.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def row_of(self, name: str) -> int:
        return next(i for i, row in enumerate(self.rows) if self.label(row) == name)

    def _row(self, index: int) -> Any | None:
        return self.rows[index] if 0 <= index < len(self.rows) else None

    def build_menu(self, row: int) -> QMenu:
        """The right-click menu for a row (``-1``: empty space). Separate so tests can read it."""
        menu = QMenu(self)
        menu.setObjectName(f"{self.name}_menu")
        menu.addAction(self.act_add)
        record = self._row(row)
        if record is not None:
            self.view.selectRow(row)
            self.act_toggle.setText(self.TOGGLE_TEXTS[0] if self.is_active(record) else self.TOGGLE_TEXTS[1])
            if self.HAS_EDIT:
                menu.addAction(self.act_edit)
            menu.addAction(self.act_toggle)
            if self.HAS_DELETE:
                menu.addSeparator()
                menu.addAction(self.act_delete)
        return menu

    def _on_context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        self.build_menu(index.row() if index.isValid() else -1).exec(self.view.viewport().mapToGlobal(pos))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        if (watched is self.view and event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent)
                and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.current_row() >= 0):
            self.edit(self.current_row())
            return True
        return super().eventFilter(watched, event)

    # --- the actions ---------------------------------------------------------------------------------

    def _open(self, row: Any | None) -> QDialog:
        dialog = self.open_dialog(row)
        dialog.accepted.connect(lambda: self._saved(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _saved(self, dialog: QDialog) -> None:
        self.reload(select_id=getattr(dialog, "saved_id", None), status=self.saved_text(dialog))

    def saved_text(self, dialog: QDialog) -> str:
        name = getattr(dialog, "name", None)
        return f"已保存“{name.text().strip()}”" if name is not None and hasattr(name, "text") else "已保存"

    def add(self) -> QDialog:
        return self._open(None)

    def edit(self, row: int) -> QDialog | None:
        record = self._row(row)
        if record is None or not self.HAS_EDIT:
            return None
        return self._open(record)

    def toggle(self, row: int) -> None:
        record = self._row(row)
        if record is None:
            return
        question = self.toggle_question(record)
        if question and not messages.ask(self, self.act_toggle.text(), question):
            return
        self.toggle_op(record).success(lambda _r: self._done(record.id, self.toggled_text(record))).failure(
            lambda exc: self.status.setText(error_text(exc))).run()

    def delete(self, row: int) -> None:
        record = self._row(row)
        if record is None or not self.HAS_DELETE:
            return
        if not messages.ask(self, "删除", self.delete_question(record)):
            return
        self.delete_op(record).success(lambda _r: self._done(None, f"已删除“{self.label(record)}”")).failure(
            lambda exc: self.status.setText(error_text(exc))).run()

    def _done(self, select_id: int | None, text: str) -> None:
        self.reload(select_id=select_id, status=text)

