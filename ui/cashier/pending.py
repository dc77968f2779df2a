"""上次收款未确认: money calls this PC wrote down and never heard back from (a crash), offered after login."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from meike import journal
from meike.db import Clinic
from meike.money import yuan
from meike.permissions import Actor, Page
from ui.cashier.common import print_into
from ui.operations import cashier as ops
from ui.tasks import error_text
from ui.widgets import messages
from ui.widgets.form import ERROR_STYLE

log = logging.getLogger(__name__)

EXPLAIN = ("美客上次退出时，下面的收款还没有得到结果：可能已经收款成功，也可能没有。\n"
           "【重试】用原来的收款请求再办一次：当时已经成功的，只显示原来的收据，不会重复收款。"
           "退款、退单和改价只查询当时是否办理成功，不会再次办理。\n"
           "【放弃】不再提示这一笔：请先确认顾客是否已经付款。")


class PendingMoneyDialog(QDialog):
    """Shown with ``open()`` after login when this PC's journal holds calls for this database."""

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None,
                 entries: list[tuple[journal.Pending, str]] | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.entries: list[journal.Pending] = []
        self.last_receipt_id: int | None = None
        self.setObjectName("pending_money_dialog")
        self.setWindowTitle("上次收款未确认")
        self.setMinimumWidth(640)
        explain = QLabel(EXPLAIN, objectName="pending_money_explain", wordWrap=True)
        self.list = QListWidget(objectName="pending_money_list")
        self.list.setWordWrap(True)
        self.message = QLabel(objectName="pending_money_message", wordWrap=True)
        self.retry_button = QPushButton("重试", objectName="pending_money_retry")
        self.drop_button = QPushButton("放弃", objectName="pending_money_drop")
        self.print_button = QPushButton("打印收据", objectName="pending_money_print")
        self.print_button.hide()
        close = QPushButton("关闭", objectName="pending_money_close")
        self.retry_button.clicked.connect(self.retry)
        self.drop_button.clicked.connect(self.drop)
        self.print_button.clicked.connect(self.print_receipt)
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        for button in (self.retry_button, self.drop_button, self.print_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(explain)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        if entries is not None:
            self._listed(entries)
        else:
            self.reload()

    def reload(self) -> None:
        """This PC's calls for this database, each described (read off the GUI thread)."""
        ops.pending_calls(self, self.clinic, self.actor).success(self._listed).failure(
            lambda e: self.message.setText(error_text(e))).run()

    def _listed(self, entries: list[tuple[journal.Pending, str]]) -> None:
        self.entries = [entry for entry, _text in entries]
        self.list.clear()
        for entry, text in entries:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, entry.key)
            self.list.addItem(item)
        if self.entries:
            self.list.setCurrentRow(0)
        self.retry_button.setEnabled(bool(self.entries))
        self.drop_button.setEnabled(bool(self.entries))

    def current(self) -> journal.Pending | None:
        row = self.list.currentRow()
        return self.entries[row] if 0 <= row < len(self.entries) else None

    def retry(self) -> None:
        entry = self.current()
        if entry is None:
            return
        self.message.setStyleSheet("")
        ops.retry_pending(self, self.clinic, self.actor, entry).success(
            lambda outcome: self._retried(entry, outcome)).failure(lambda e: self._not_retried(entry, e)).run()

    def _not_retried(self, entry: journal.Pending, error: Exception) -> None:
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setText(f"{entry.label}没有办理：{error_text(error)}。这一笔仍保留，请由有权限的收银员重试")

    def _retried(self, entry: journal.Pending, outcome: journal.Outcome) -> None:
        if outcome.receipt_no is None:
            self.message.setText(f"这笔{entry.label}当时没有办理成功，没有收付任何款项；如仍需办理，请重新操作。")
        elif outcome.sent_again:
            self.message.setText(f"当时没有办理成功，现在已{entry.label} {yuan(outcome.amount_fen)}，收据号 "
                                 f"{outcome.receipt_no}")
        else:
            self.message.setText(f"这笔{entry.label}当时已经办理成功，收据号 {outcome.receipt_no}，没有重复收款")
        self.last_receipt_id = outcome.receipt_id
        self.print_button.setVisible(outcome.receipt_id is not None)
        self.reload()

    def drop(self) -> None:
        entry = self.current()
        if entry is None:
            return
        if not messages.ask(self, "放弃这一笔", f"放弃后不再提示这笔{entry.label} {yuan(entry.amount_fen)}。"
                            "请先确认顾客是否已经付款、款项是否已另行入账。确定放弃吗？"):
            return
        journal.clear(entry.key)
        self.message.setStyleSheet("")
        self.message.setText(f"已放弃：{entry.label} {yuan(entry.amount_fen)}")
        self.print_button.hide()
        self.reload()

    def print_receipt(self) -> None:
        print_into(self.message, self.clinic, self.actor, self.last_receipt_id, self.print_button)


def offer(parent: QWidget | None, clinic: Clinic, actor: Actor,
          opened: Callable[[PendingMoneyDialog], None] | None = None) -> None:
    """After login: the calls left pending on this PC, to a user with the cashier page, read off the GUI
    thread; the dialog opens only when there is something to offer (``opened`` is then told)."""
    if actor.is_admin or not actor.can_open(Page.CASHIER):
        return

    def listed(entries: list[tuple[journal.Pending, str]]) -> None:
        if not entries:
            return
        dialog = PendingMoneyDialog(clinic, actor, parent, entries)
        dialog.open()
        if opened is not None:
            opened(dialog)

    def unread(_error: Exception) -> None:
        log.warning("the pending money calls of this PC could not be read")

    ops.pending_calls(parent, clinic, actor).success(listed).failure(unread).run()
