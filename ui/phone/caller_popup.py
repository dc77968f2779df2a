"""来电弹屏: a small non-modal window at the top right showing who is calling and their history.

While the window is locked (自动锁屏) the pop-up only says that someone calls, with the masked number
(``show_locked``): no name, no card, no buttons that lead to the customer. The card follows the unlock.
"""

from __future__ import annotations

from datetime import date, datetime
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from devices.callerid import Call
from meike.db import Clinic
from meike.errors import MeikeError
from meike.money import yuan
from meike.permissions import Actor, Right
from meike.rules.validation import mask_number
from meike.services.phone import CallerCard, HistoryLine
from ui.idle_lock import OVER_LOCK
from ui.operations import phone as ops
from ui.tasks import error_text

POPUP_STYLE = """
QFrame#caller_popup { background: #fbfdff; border: 2px solid #3a6d93; border-radius: 6px; }
QLabel#caller_title { background: #24445c; color: white; padding: 6px 10px; font-size: 14px; }
QLabel#caller_name { font-size: 20px; font-weight: bold; color: #24445c; }
QLabel#caller_section { color: #3a6d93; font-weight: bold; margin-top: 4px; }
"""
WIDTH = 380
REVEAL_TIP = "显示完整号码（会记入操作日志）"


def _when(value: date | datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else value.strftime("%Y-%m-%d")


def _lines(lines: list[HistoryLine], empty: str) -> str:
    if not lines:
        return f"<span style='color:#999'>{empty}</span>"
    return "<br>".join(f"<span style='color:#666'>{_when(x.when)}</span>　{escape(x.text)}" for x in lines)


class CallerPopup(QFrame):
    """Shown for each incoming call; a new call replaces the content. Never modal, never takes focus.

    The caller's number is shown masked (``mask_number``) to everyone. Bound to a clinic and a user with
    the right to see numbers (``bind``), 显示 shows it in full and the reveal is logged, like the
    customer's detail: the customer's mobile (``customers.reveal``), or, for a caller who is not a
    customer the user may see, the call's number once its record is written (``phone.reveal_call_number``).
    """

    register_requested = Signal(str)  # the caller's number, for 登记新顾客
    open_customer = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, can_register: bool = True, can_open: bool = True,
                 clinic: Clinic | None = None, actor: Actor | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint)
        self.setObjectName("caller_popup")
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setWindowModality(Qt.WindowModality.NonModal)
        self.setStyleSheet(POPUP_STYLE)
        self.setFixedWidth(WIDTH)
        self.call: Call | None = None
        self.card: CallerCard | None = None
        self.number = ""
        self.revealed = ""  # the full number, once 显示 was pressed (and logged)
        self._call_id: int | None = None
        self.clinic, self.actor = clinic, actor
        self.locked = False  # showing the locked notice: nothing about the customer

        self.title = QLabel(objectName="caller_title")
        self.name = QLabel(objectName="caller_name")
        self.summary = QLabel(objectName="caller_summary", wordWrap=True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.history = QLabel(objectName="caller_history", wordWrap=True)
        self.history.setTextFormat(Qt.TextFormat.RichText)
        self.history.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.register_button = QPushButton("登记新顾客", objectName="caller_register")
        self.register_button.setEnabled(can_register)
        if not can_register:
            self.register_button.setToolTip("您没有“挂号中心”的权限")
        self.open_button = QPushButton("打开顾客", objectName="caller_open")
        self.open_button.setEnabled(can_open)
        self.close_button = QPushButton("关闭", objectName="caller_close")
        self.reveal_button = QPushButton("显示号码", objectName="caller_reveal")
        self.reveal_button.setToolTip(REVEAL_TIP)
        self.reveal_button.hide()
        self.reveal_button.clicked.connect(self.reveal)
        self.register_button.clicked.connect(self._register)
        self.open_button.clicked.connect(self._open)
        self.close_button.clicked.connect(self.hide)

        body = QVBoxLayout()
        body.setContentsMargins(12, 8, 12, 10)
        body.setSpacing(6)
        body.addWidget(self.name)
        body.addWidget(self.summary)
        body.addWidget(self.history)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 6, 0, 0)
        buttons.addWidget(self.register_button)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.reveal_button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        body.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(0)
        layout.addWidget(self.title)
        layout.addLayout(body)

    def _register(self) -> None:
        if not self.locked:
            self.register_requested.emit(self.number)

    def _open(self) -> None:
        if not self.locked and self.card is not None:
            self.open_customer.emit(self.card.customer_id)

    def bind(self, clinic: Clinic, actor: Actor) -> None:
        """The clinic and user 显示 reveals for (the pop-up is made before the window knows them)."""
        self.clinic, self.actor = clinic, actor

    @property
    def call_id(self) -> int | None:
        """The call's record, once written (the phone listener sets it): 显示 for an unknown caller."""
        return self._call_id

    @call_id.setter
    def call_id(self, value: int | None) -> None:
        self._call_id = value
        self._update_reveal()

    @property
    def may_reveal(self) -> bool:
        return self.clinic is not None and self.actor is not None and self.actor.has_right(Right.VIEW_PRIVATE)

    def _update_reveal(self) -> None:
        call = self.call
        shown = (self.may_reveal and not self.locked and call is not None and not call.withheld
                 and bool(self.number) and mask_number(self.number) != self.number)
        self.reveal_button.setVisible(shown)
        self.reveal_button.setEnabled(shown and not self.revealed
                                      and (self.card is not None or self._call_id is not None))

    def _set_title(self) -> None:
        assert self.call is not None
        number = self.revealed or mask_number(self.number)
        self.title.setText(f"来电　{self.call.at:%H:%M}　{escape(number) or '—'}")

    def reveal(self) -> str:
        """显示: ask for the full number, logged by the service, off the GUI thread; returns what is shown
        now ('' until the answer; when refused, the reason goes in the tooltip)."""
        if not self.may_reveal or self.locked or self.call is None or self.revealed:
            return self.revealed
        assert self.clinic is not None and self.actor is not None
        call, card = self.call, self.card
        if card is not None:
            op = ops.reveal_customer_mobile(self, self.clinic, self.actor, card.customer_id)
        elif self._call_id is not None:
            op = ops.reveal_call_number(self, self.clinic, self.actor, self._call_id)
        else:
            return ""

        def refused(exc: Exception) -> None:
            self.reveal_button.setToolTip(exc.message if isinstance(exc, MeikeError) else error_text(exc))
            self.reveal_button.setEnabled(False)

        def revealed(full: str) -> None:
            if self.call is call:  # still the same call on the pop-up
                self._revealed(full)

        op.success(revealed).failure(refused).busy(self.reveal_button).run()
        return ""

    def _revealed(self, full: str) -> None:
        self.revealed = full
        self._set_title()
        if self.card is not None:
            self.summary.setText(self.summary.text().replace(escape(self.card.mobile), escape(full), 1))
        self._update_reveal()

    def show_call(self, call: Call, number: str, card: CallerCard | None, shown_number: str = "") -> None:
        """Fill in the call and show the pop-up at the top right of the screen, without taking focus.

        ``number`` is the caller's normalised number. It is shown masked, whatever ``shown_number`` says
        (kept for the callers' sake): a full number is only shown through 显示, and logged."""
        self.call, self.card, self.number, self.revealed = call, card, number, ""
        self._call_id = None
        self._set_locked(False)
        self.reveal_button.setToolTip(REVEAL_TIP)
        self._set_title()
        if call.withheld:
            self.name.setText("私人号码" if call.private else "号码不可用")
            self.summary.setText("对方隐藏了号码或号码无法识别，无法匹配顾客。")
            self.history.clear()
            self.history.hide()
        elif card is None:
            self.name.setText("未登记的号码")
            self.summary.setText("没有找到该号码的顾客（或不在您的查看范围内）。"
                                 + (f"<br>来电显示姓名：{escape(call.name)}" if call.name else ""))
            self.history.clear()
            self.history.hide()
        else:
            self.name.setText(f"{escape(card.name)}　<span style='font-size:13px;color:#666'>{card.gender}</span>")
            balances = "　".join(f"{label} {yuan(fen)}" for label, fen in card.balances.items()) or "无余额"
            self.summary.setText(
                f"卡号 {escape(card.card_no)}　{escape(card.mobile)}　{card.customer_class}<br>"
                f"现场咨询：{escape(card.consultant) or '—'}<br>账户：{balances}")
            self.history.setText(
                f"<b style='color:#3a6d93'>最近到诊</b><br>{_lines(card.visits, '没有到诊记录')}<br>"
                f"<b style='color:#3a6d93'>咨询记录</b><br>{_lines(card.consultations, '没有咨询记录')}<br>"
                f"<b style='color:#3a6d93'>治疗记录</b><br>{_lines(card.treatments, '没有治疗记录')}<br>"
                f"<b style='color:#3a6d93'>待办提醒（{card.open_reminders}）</b><br>"
                f"{_lines(card.reminders, '没有待办提醒')}")
            self.history.show()
        self.register_button.setVisible(card is None and not call.withheld)
        self.open_button.setVisible(card is not None)
        self._update_reveal()
        self._pop()

    def show_locked(self, call: Call, number: str, masked_number: str) -> None:
        """The window is locked: only "来电" and the masked number; the customer's card waits for the unlock."""
        self.call, self.card, self.number, self.call_id = call, None, number, None
        self._set_locked(True)
        self.title.setText(f"来电　{call.at:%H:%M}　{escape(masked_number) or '—'}")
        self.name.setText("来电")
        self.summary.setText("屏幕已锁定，解锁后显示来电顾客的资料。")
        self.history.clear()
        self.history.hide()
        for button in self.findChildren(QPushButton):  # nothing that leads to the customer
            button.setVisible(button is self.close_button)
        self._pop()

    def _set_locked(self, locked: bool) -> None:
        self.locked = locked
        self.setProperty(OVER_LOCK, locked)  # the idle lock lets only the locked notice show over it

    def _pop(self) -> None:
        self.adjustSize()
        self.place()
        self.show()
        if QGuiApplication.platformName() != "offscreen":  # offscreen prints a warning for raise()
            self.raise_()

    def place(self) -> None:
        parent = self.parentWidget()
        screen = (parent.screen() if parent is not None else None) or QGuiApplication.primaryScreen()
        if screen is None:
            return
        area = screen.availableGeometry()
        self.move(area.right() - self.width() - 16, area.top() + 16)

    def history_text(self) -> str:
        """The plain text of the pop-up (tests and accessibility)."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml("<br>".join(w.text() for w in (self.title, self.name, self.summary, self.history)))
        return doc.toPlainText()
