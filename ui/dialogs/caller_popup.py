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
from meike.money import format_fen
from meike.services.phone import CallerCard, HistoryLine
from ui.idle_lock import OVER_LOCK

POPUP_STYLE = """
QFrame#caller_popup { background: #fbfdff; border: 2px solid #3a6d93; border-radius: 6px; }
QLabel#caller_title { background: #24445c; color: white; padding: 6px 10px; font-size: 14px; }
QLabel#caller_name { font-size: 20px; font-weight: bold; color: #24445c; }
QLabel#caller_section { color: #3a6d93; font-weight: bold; margin-top: 4px; }
"""
WIDTH = 380


def _when(value: date | datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else value.strftime("%Y-%m-%d")


def _lines(lines: list[HistoryLine], empty: str) -> str:
    if not lines:
        return f"<span style='color:#999'>{empty}</span>"
    return "<br>".join(f"<span style='color:#666'>{_when(x.when)}</span>　{escape(x.text)}" for x in lines)


class CallerPopup(QFrame):
    """Shown for each incoming call; a new call replaces the content. Never modal, never takes focus."""

    register_requested = Signal(str)  # the caller's number, for 登记新顾客
    open_customer = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, can_register: bool = True, can_open: bool = True) -> None:
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
        self.call_id: int | None = None
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
        self.register_button.clicked.connect(lambda: self.locked or self.register_requested.emit(self.number))
        self.open_button.clicked.connect(
            lambda: not self.locked and self.card and self.open_customer.emit(self.card.customer_id))
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
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        body.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(0)
        layout.addWidget(self.title)
        layout.addLayout(body)

    def show_call(self, call: Call, number: str, card: CallerCard | None, shown_number: str = "") -> None:
        """Fill in the call and show the pop-up at the top right of the screen, without taking focus."""
        self.call, self.card, self.number, self.call_id = call, card, number, None
        self._set_locked(False)
        self.title.setText(f"来电　{call.at:%H:%M}　{escape(shown_number or number) or '—'}")
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
            balances = "　".join(f"{label} ￥{format_fen(fen)}" for label, fen in card.balances.items()) or "无余额"
            self.summary.setText(
                f"卡号 {escape(card.card_no)}　{card.mobile}　{card.customer_class}<br>"
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
        screen = (self.parentWidget().screen() if self.parentWidget() else None) or QGuiApplication.primaryScreen()
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
