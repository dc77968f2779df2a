"""操作台: today's reminders and figures at a glance; counts come from the scheduler, never the GUI thread.

On an SQLite clinic it also shows the last successful backup and, when the last attempt failed or the
last success is more than a day old, a red warning (``meike.backup.backup_status``, read off the GUI
thread). Every user of the dashboard sees it: it is a safety signal and holds no personal data.

The figures are counted again whenever ``bus().changed`` touches what they count (``WATCHES``): a
registration, an arrival or a reminder done anywhere in the program shows here at once.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QHideEvent, QKeyEvent, QMouseEvent, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from meike import clock
from meike.backup import BackupStatus
from meike.db import Clinic
from meike.permissions import Actor, Page
from meike.scheduler import ReminderCounter
from meike.services.customers import DashboardCounts as CustomerCounts
from meike.services.followups import DashboardCounts
from ui.front_desk.reminders import ReminderListDialog
from ui.operations import front_desk as ops
from ui.pages.base import PageWidget, need_page
from ui.tasks import error_text

log = logging.getLogger(__name__)

WEEKDAYS = "一二三四五六日"
PAGE_STYLE = """
QWidget#page_dashboard { background: #f5f7fa; }
QLabel#dashboard_greeting { font-size: 22px; font-weight: bold; color: #24445c; }
QLabel#dashboard_date, QLabel#dashboard_updated { color: #7a8794; font-size: 13px; }
QLabel[class="section"] { font-size: 15px; font-weight: bold; color: #24445c; padding-top: 8px; }
QLabel#dashboard_status { color: #c0392b; }
QLabel#dashboard_backup { color: #7a8794; font-size: 13px; }
QLabel#dashboard_backup_warning { color: #a93226; background: #fdecea; border: 1px solid #e6a19a;
                                  border-radius: 8px; padding: 8px 12px; font-size: 14px; font-weight: bold; }
QFrame#dashboard_help { background: #ffffff; border: 1px solid #e3e8ee; border-radius: 10px; }
QFrame#dashboard_help QLabel { color: #5a6877; font-size: 13px; }
"""
CARD_STYLE = """
QFrame#{name} {{ background: #ffffff; border: 1px solid #e3e8ee; border-left: 5px solid {accent};
                border-radius: 10px; }}
QFrame#{name}:hover {{ border-color: {accent}; }}
QFrame#{name}:focus {{ border-color: {accent}; }}
QFrame#{name} QLabel {{ background: transparent; border: none; }}
"""
# key, title, hint, accent colour; the first five are reminders / today's work and open a list when clicked
CARDS = [
    ("chase_due", "追单提醒", "今天及以前到期", "#1f6fa8"),
    ("postop_due", "术后回访", "今天及以前到期", "#2e8b57"),
    ("overdue", "已逾期", "过了到期日仍未处理", "#c0392b"),
    ("appointments_today", "今日预约", "今天预约、尚未到诊", "#8e5bb5"),
    ("unpaid_charges", "未付款", "收费中心待收款", "#d4881c"),
    ("customers", "我能查看的顾客", "在我的数据范围内", "#4a6a85"),
    ("registered_today", "今日新登记", "今天新建的顾客档案", "#4a6a85"),
]
REMINDER_LISTS: dict[str, tuple[str | None, bool]] = {
    "chase_due": ("chase", False),
    "postop_due": ("postop", False),
    "overdue": (None, True),
}
OTHER_PAGES = {"appointments_today": Page.CUSTOMERS, "unpaid_charges": Page.CASHIER}
BACKUP_STATUS_EVERY_S = 600.0  # while the page stays open, the backup status is read again this often


class CountCard(QFrame):
    """One figure. Clickable with the mouse or Enter / Space when ``clickable``."""

    clicked = Signal(str)

    def __init__(self, key: str, title: str, hint: str = "", accent: str = "#1f6fa8",
                 clickable: bool = False) -> None:
        super().__init__(objectName=f"count_{key}")
        self.key = key
        self.clickable = clickable
        self.setStyleSheet(CARD_STYLE.format(name=self.objectName(), accent=accent))
        self.setMinimumSize(96, 112)
        self.title = QLabel(title, objectName=f"count_{key}_title")
        self.title.setStyleSheet("font-size: 14px; color: #5a6877;")
        self.value = QLabel("…", objectName=f"count_{key}_value")
        self.value.setStyleSheet(f"font-size: 34px; font-weight: bold; color: {accent};")
        self.hint = QLabel(hint, objectName=f"count_{key}_hint")
        self.hint.setStyleSheet("font-size: 12px; color: #98a3ae;")
        self.title.setWordWrap(True)  # narrow screens (1024 × 768 desk PCs) wrap instead of widening
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(2)
        top = QHBoxLayout()
        top.setSpacing(4)
        top.addWidget(self.title, 1)
        if clickable:
            more = QLabel("查看 ›", objectName=f"count_{key}_more")
            more.setStyleSheet(f"font-size: 12px; color: {accent};")
            top.addWidget(more, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(top)
        layout.addWidget(self.value)
        layout.addWidget(self.hint)
        if clickable:
            self.setCursor(Qt.CursorShape.PointingHandCursor)
            self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            self.setToolTip(f"点击查看{title}明细")

    def set_value(self, value: int) -> None:
        self.value.setText(str(value))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if self.clickable and event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
                event.position().toPoint()):
            self.clicked.emit(self.key)
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        if self.clickable and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit(self.key)
            return
        super().keyPressEvent(event)


class _CountsRelay(QObject):
    """Lives on the GUI thread; the scheduler thread only emits, the page's slots run on the GUI thread.

    Deliberately parentless and kept alive by the counter's subscription, so a count arriving while the
    page is being destroyed never emits on a deleted object (queued deliveries to a dead page are dropped).
    """

    counts = Signal(object)
    failed = Signal(str)


class DashboardPage(PageWidget):
    """Counts run while the page is visible: started on show (or ``refresh``), stopped on hide / destroy."""
    WATCHES = ("customers", "visits", "reminders", "records", "money")

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        need_page(actor, Page.DASHBOARD)
        self.clinic, self.actor = clinic, actor
        self.setObjectName("page_dashboard")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(PAGE_STYLE)
        self.dialog: ReminderListDialog | None = None
        self.last_counts: DashboardCounts | None = None
        self.backup_status: BackupStatus | None = None
        self.shows_backup = clinic.path is not None  # PostgreSQL: the server's backups, nothing to show
        self._backup_read_at: float | None = None  # time.monotonic() of the last request
        self._counts_asked = 0  # the customer counts' reads: an older one answering late is dropped

        self.counter = ReminderCounter(clinic, actor)
        self._relay = _CountsRelay()
        self.counter.subscribe(self._relay.counts.emit)
        relay = self._relay

        def report(exc: Exception) -> None:
            relay.failed.emit(error_text(exc))

        self.counter.subscribe_errors(report)
        self._relay.counts.connect(self.show_reminder_counts)
        self._relay.failed.connect(self.show_failure)
        counter = self.counter
        self.destroyed.connect(lambda *_: counter.shutdown())
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)

        self.cards = {key: CountCard(key, title, hint, accent, clickable=key in REMINDER_LISTS or key in OTHER_PAGES)
                      for key, title, hint, accent in CARDS}
        for card in self.cards.values():
            card.clicked.connect(self.open_list)

        greeting = QLabel(f"您好，{actor.label}", objectName="dashboard_greeting")
        self.date_label = QLabel(objectName="dashboard_date")
        self.updated = QLabel("正在统计…", objectName="dashboard_updated")
        refresh = QPushButton("刷新", objectName="dashboard_refresh")
        refresh.setCursor(Qt.CursorShape.PointingHandCursor)
        refresh.clicked.connect(self.refresh)
        head = QHBoxLayout()
        titles = QVBoxLayout()
        titles.addWidget(greeting)
        titles.addWidget(self.date_label)
        self.backup_line = QLabel("上次成功备份：…", objectName="dashboard_backup")
        self.backup_line.setVisible(self.shows_backup)
        titles.addWidget(self.backup_line)
        self.backup_warning = QLabel(objectName="dashboard_backup_warning")
        self.backup_warning.setWordWrap(True)
        self.backup_warning.hide()
        head.addLayout(titles)
        head.addStretch(1)
        head.addWidget(self.updated)
        head.addWidget(refresh)

        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(10)
        grid.addWidget(self._section("今日待办"), 0, 0, 1, 5)
        for i, key in enumerate(["chase_due", "postop_due", "overdue", "appointments_today", "unpaid_charges"]):
            grid.addWidget(self.cards[key], 1, i)
            grid.setColumnStretch(i, 1)
        grid.addWidget(self._section("顾客概况"), 2, 0, 1, 5)
        for i, key in enumerate(["customers", "registered_today"]):
            grid.addWidget(self.cards[key], 3, i)

        self.status = QLabel(objectName="dashboard_status")
        self.status.setWordWrap(True)
        self.status.hide()

        help_box = QFrame(objectName="dashboard_help")
        help_layout = QVBoxLayout(help_box)
        help_layout.setContentsMargins(16, 12, 16, 12)
        for text in ("• 咨询记录和手术记录勾选了提醒，到期后会出现在“追单提醒”或“术后回访”里。",
                     "• 点击卡片查看明细；在列表中右击可标记完成（填写回访结果）、推迟或添加下次提醒。",
                     "• 双击提醒行打开顾客详情。数量每分钟自动更新，处理提醒后立即刷新。"):
            help_layout.addWidget(QLabel(text, wordWrap=True))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(10)
        layout.addLayout(head)
        layout.addWidget(self.backup_warning)
        layout.addLayout(grid)
        layout.addWidget(self.status)
        layout.addSpacing(8)
        layout.addWidget(help_box)
        layout.addStretch(1)
        self._update_date()

    @staticmethod
    def _section(text: str) -> QLabel:
        label = QLabel(text)
        label.setProperty("class", "section")
        return label

    def _update_date(self) -> None:
        today = clock.now().date()
        self.date_label.setText(f"{today.year}年{today.month}月{today.day}日　星期{WEEKDAYS[today.weekday()]}")

    # -- life cycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Start counting (first count right away). Idempotent."""
        self.counter.start()

    def stop(self) -> None:
        """Stop the scheduler of this page (hidden, closed, logging out, quitting)."""
        self.counter.shutdown(wait=False)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if not self.counter.running:  # MainWindow.open_page may have just called refresh()
            self.refresh()

    def hideEvent(self, event: QHideEvent) -> None:  # noqa: N802 (Qt override)
        self.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        """Ask for fresh counts; never waits on the database."""
        self._update_date()
        if self.counter.running:
            self.counter.refresh_now()
        else:
            self.counter.start()
        self._counts_asked += 1
        asked = self._counts_asked

        def counted(counts: CustomerCounts) -> None:
            if asked == self._counts_asked:
                self.show_counts(counts)

        def failed(exc: Exception) -> None:
            if asked == self._counts_asked:
                self._customer_failed(exc)

        ops.dashboard_counts(self, self.clinic, self.actor).success(counted).failure(failed).run()
        self.refresh_backup_status()

    def refresh_backup_status(self) -> None:
        """Read the backup status in the background (SQLite clinics only)."""
        if not self.shows_backup:
            return
        self._backup_read_at = time.monotonic()
        ops.backup_state(self, self.clinic).success(self.show_backup_status).failure(
            self._backup_status_failed).run()

    # -- results (GUI thread) ----------------------------------------------------------------------

    def show_reminder_counts(self, counts: DashboardCounts) -> None:
        self.last_counts = counts
        for key in ("chase_due", "postop_due", "overdue", "appointments_today", "unpaid_charges"):
            self.cards[key].set_value(getattr(counts, key))
        self.updated.setText(f"更新于 {datetime.now(clock.CLINIC_TZ):%H:%M:%S}")
        self.status.hide()
        if self._backup_read_at is None or time.monotonic() - self._backup_read_at >= BACKUP_STATUS_EVERY_S:
            self.refresh_backup_status()  # a page left open all day still notices a failed backup

    def show_counts(self, counts: CustomerCounts) -> None:
        if not shiboken6.isValid(self):  # run_in_background may answer after the page was destroyed
            return
        self.cards["customers"].set_value(counts.customers)
        self.cards["registered_today"].set_value(counts.registered_today)

    def show_failure(self, message: str) -> None:
        if not shiboken6.isValid(self):
            return
        self.status.setText(f"提醒数量暂时无法更新（{message}），稍后会自动重试。")
        self.status.show()

    def _customer_failed(self, exc: Exception) -> None:
        self.show_failure(error_text(exc))

    def show_backup_status(self, status: BackupStatus) -> None:
        if not shiboken6.isValid(self):
            return
        self.backup_status = status
        self.backup_line.setText(status.summary)
        self.backup_line.setToolTip(status.last_ok_file or "")
        warning = status.warning
        self.backup_warning.setText(f"⚠ {warning}" if warning else "")
        self.backup_warning.setVisible(bool(warning))

    def _backup_status_failed(self, exc: Exception) -> None:
        log.warning("backup status could not be read: %s", exc)
        if not shiboken6.isValid(self):
            return
        self.backup_line.setText("上次成功备份：暂时无法读取，稍后会自动重试")
        self._backup_read_at = None  # try again with the next reminder count

    # -- cards -------------------------------------------------------------------------------------

    def open_list(self, key: str) -> ReminderListDialog | None:
        """Open the reminders behind a card (``.open()``, kept in ``self.dialog``)."""
        if key in OTHER_PAGES:
            self.open_page.emit(OTHER_PAGES[key].value)
            return None
        if key not in REMINDER_LISTS:
            return None
        kind, overdue_only = REMINDER_LISTS[key]
        if self.dialog is not None:
            self.dialog.close()
            self.dialog.deleteLater()
        dialog = ReminderListDialog(self.clinic, self.actor, kind=kind, overdue_only=overdue_only, parent=self)
        dialog.open_customer.connect(self.open_customer)
        self.dialog = dialog
        dialog.open()
        return dialog
