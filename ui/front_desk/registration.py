"""挂号中心: register a customer and their appointment; a mobile on file is offered, never duplicated.

The save runs off the GUI thread (``ops.register``); the page is busy meanwhile and keeps what was typed
when it is refused. Other pages (顾客管理, 操作台) see the new customer through ``bus().changed``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import QDateTime
from PySide6.QtWidgets import (
    QCheckBox,
    QDateTimeEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from meike import clock
from meike.db import Clinic
from meike.errors import MeikeError, ValidationError
from meike.permissions import Actor, Page
from meike.services.customers import DuplicateMobile
from ui.front_desk.customer_form import CustomerForm
from ui.operations import front_desk as ops
from ui.pages.base import PageWidget, need_page
from ui.tasks import error_text
from ui.widgets.form import ErrorForm


class RegistrationPage(PageWidget):
    WATCHES = ("settings",)  # the form's lists (channels, staff) come from the dictionaries

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        need_page(actor, Page.REGISTRATION)
        self.clinic, self.actor = clinic, actor
        self.duplicate_id: int | None = None
        self.last_registered_id: int | None = None  # the customer the last 确定 registered
        self.setObjectName("page_registration")
        self.form = CustomerForm(clinic, actor, "reg")
        # Convenience names used by tests and by the main flow.
        self.name, self.mobile, self.gender = self.form.name, self.form.mobile, self.form.gender
        self.channel, self.cs_staff, self.card_no = self.form.channel, self.form.cs_staff, self.form.card_no

        self.book = QCheckBox("预约到院", objectName="reg_book")
        self.book.setChecked(True)
        self.appointment_at = QDateTimeEdit(objectName="reg_appointment_at")
        self.appointment_at.setCalendarPopup(True)
        self.appointment_at.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.appointment_items = QLineEdit(objectName="reg_appointment_items", placeholderText="意向项目，如 双眼皮")
        self.book.toggled.connect(self.appointment_at.setEnabled)
        self.book.toggled.connect(self.appointment_items.setEnabled)
        self.appointment_form = ErrorForm()
        self.appointment_form.add_field("book", "预约", self.book)
        self.appointment_form.add_field("appointment_at", "预约时间", self.appointment_at)
        self.appointment_form.add_field("appointment_items", "意向项目", self.appointment_items)

        self.submit_button = QPushButton("确定", objectName="reg_submit")
        self.clear_button = QPushButton("清空", objectName="reg_clear")
        self.open_existing = QPushButton("打开该顾客", objectName="reg_open_existing")
        self.book_existing = QPushButton("为该顾客预约", objectName="reg_book_existing")
        for b in (self.open_existing, self.book_existing):
            b.hide()
        self.submit_button.clicked.connect(self.submit)
        self.clear_button.clicked.connect(lambda: self.clear())
        self.open_existing.clicked.connect(lambda: self.duplicate_id and self.open_customer.emit(self.duplicate_id))
        self.book_existing.clicked.connect(self.book_for_existing)
        self.status = QLabel(objectName="reg_status")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.submit_button, self.clear_button, self.open_existing, self.book_existing):
            buttons.addWidget(b)
        buttons.addWidget(self.status, 1)

        panel = QWidget(objectName="reg_panel")
        panel.setMaximumWidth(1100)
        inner = QVBoxLayout(panel)
        inner.addWidget(QLabel("<h3>挂号登记</h3><span style='color:#888'>带 * 的为必填项，其余可以以后补充</span>"))
        inner.addWidget(self.form)
        inner.addWidget(QLabel("<b>预约</b>"))
        inner.addLayout(self.appointment_form)
        inner.addLayout(buttons)
        inner.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(panel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self._reset_appointment()

    def _reset_appointment(self) -> None:
        start = (clock.now() + timedelta(hours=1)).replace(minute=0, second=0)
        self.appointment_at.setDateTime(QDateTime(start))
        self.appointment_items.clear()
        self.book.setChecked(True)

    def refresh(self) -> None:
        self.form.refresh_choices()

    def _appointment(self) -> datetime | None:
        return self.appointment_at.dateTime().toPython() if self.book.isChecked() else None

    def submit(self) -> None:
        self._hide_duplicate()
        try:
            values = self.form.values()
        except ValidationError as e:
            self._refused(e)
            return
        booked = self.book.isChecked()
        name = self.name.text().strip()
        self.status.setText("正在保存…")
        ops.register(self, self.clinic, self.actor, values, appointment_at=self._appointment(),
                     appointment_items=self.appointment_items.text()).success(
            lambda customer_id: self._registered(customer_id, name, booked)).failure(self._refused).run()

    def _registered(self, customer_id: int, name: str, booked: bool) -> None:
        self.last_registered_id = customer_id
        self.status.setText(f"挂号成功：{name}" + ("（已预约）" if booked else ""))
        self.clear(keep_status=True)
        if self.isVisible():
            self.name.setFocus()  # the next customer's name

    def _refused(self, error: Exception) -> None:
        """Nothing saved; the form stays filled, the messages beside their fields."""
        if isinstance(error, DuplicateMobile):
            self.form.show_errors(error.errors)
            self.duplicate_id = error.customer_id
            if error.customer_id is not None:
                self.open_existing.show()
                self.book_existing.show()
            self.status.setText("该手机号已有顾客档案，没有新建。")
        elif isinstance(error, ValidationError):
            errors = dict(error.errors)
            self.appointment_form.show_errors({k: errors.pop(k) for k in list(errors) if k == "appointment_at"})
            rest = self.form.show_errors(errors)
            self.status.setText("未保存：请按红色提示修改" + ("：" + "；".join(rest) if rest else ""))
        else:  # a busy or full or read-only database
            self.status.setText(f"未保存：{error.message if isinstance(error, MeikeError) else error_text(error)}")

    def book_for_existing(self) -> None:
        if self.duplicate_id is None:
            return
        at = self._appointment()
        if at is None:
            self.book.setChecked(True)
            at = self._appointment()
        assert at is not None

        def refused(error: Exception) -> None:
            if isinstance(error, ValidationError):
                self.appointment_form.show_errors(error.errors)
            else:
                self.status.setText(f"未预约：{error_text(error)}")

        def booked(_result: object) -> None:
            self.status.setText(f"已为该顾客预约 {at:%Y-%m-%d %H:%M}")
            self.clear(keep_status=True)

        ops.book(self, self.clinic, self.actor, self.duplicate_id, at, self.appointment_items.text()).success(
            booked).failure(refused).run()

    def _hide_duplicate(self) -> None:
        self.duplicate_id = None
        self.open_existing.hide()
        self.book_existing.hide()
        self.form.clear_errors()
        self.appointment_form.clear_errors()

    def prepare_for_caller(self, number: str) -> None:
        """登记新顾客 from the caller-ID pop-up: a clean form with the caller's number in it, masked (a
        full number is only shown by a logged reveal, issue 14/8), the cursor in 姓名."""
        self.clear()
        self.form.set_hidden_mobile(number)
        self.name.setFocus()

    def clear(self, keep_status: bool = False) -> None:
        self._hide_duplicate()
        self.form.clear()
        self._reset_appointment()
        if not keep_status:
            self.status.clear()
