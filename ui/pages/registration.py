"""挂号中心: register a new customer; a mobile already on file is reported, nothing is duplicated."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.errors import ValidationError
from meike.permissions import Actor, Page
from meike.services import customers, dictionaries
from meike.services.customers import GENDERS
from meike.services.dictionaries import Kind
from ui.widgets.form import ErrorForm


class RegistrationPage(QWidget):
    registered = Signal(int)

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        actor.require_page(Page.REGISTRATION)
        self.clinic, self.actor = clinic, actor
        self.setObjectName("page_registration")
        self.name = QLineEdit(objectName="reg_name")
        self.gender = QComboBox(objectName="reg_gender")
        for code, label in GENDERS.items():
            self.gender.addItem(label, code)
        self.mobile = QLineEdit(objectName="reg_mobile", placeholderText="11 位手机号")
        self.channel = QComboBox(objectName="reg_channel")
        self.cs_staff = QComboBox(objectName="reg_cs_staff")
        self.card_no = QLineEdit(objectName="reg_card_no", placeholderText="留空自动生成")
        self.notes = QPlainTextEdit(objectName="reg_notes")
        self.notes.setMaximumHeight(80)
        self.form = ErrorForm()
        self.form.add_field("name", "姓名", self.name, required=True)
        self.form.add_field("gender", "性别", self.gender)
        self.form.add_field("mobile", "手机", self.mobile, required=True)
        self.form.add_field("channel_id", "渠道", self.channel)
        self.form.add_field("cs_staff_id", "客服/网电咨询", self.cs_staff)
        self.form.add_field("card_no", "卡号", self.card_no)
        self.form.add_field("notes", "备注", self.notes)
        self.submit_button = QPushButton("确定", objectName="reg_submit")
        self.clear_button = QPushButton("清空", objectName="reg_clear")
        self.submit_button.clicked.connect(self.submit)
        self.clear_button.clicked.connect(self.clear)
        self.status = QLabel(objectName="reg_status")
        buttons = QHBoxLayout()
        buttons.addWidget(self.submit_button)
        buttons.addWidget(self.clear_button)
        buttons.addWidget(self.status, 1)
        panel = QWidget(objectName="reg_panel")
        panel.setMaximumWidth(900)
        inner = QVBoxLayout(panel)
        inner.addWidget(QLabel("<h3>新顾客登记</h3>"))
        inner.addLayout(self.form)
        inner.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(panel)
        layout.addStretch(1)
        self.refresh()

    def refresh(self) -> None:
        for combo, entries in (
            (self.channel, dictionaries.list_entries(self.clinic, self.actor, Kind.CHANNEL)),
            (self.cs_staff, dictionaries.list_entries(self.clinic, self.actor, Kind.STAFF, role="customer_service")
             + dictionaries.list_entries(self.clinic, self.actor, Kind.STAFF, role="online_consultant")),
        ):
            current = combo.currentData()
            combo.clear()
            combo.addItem("（无）", None)
            for e in entries:
                combo.addItem(e.name, e.id)
            combo.setCurrentIndex(max(0, combo.findData(current)))

    def submit(self) -> None:
        try:
            customer_id = customers.register_customer(
                self.clinic, self.actor, name=self.name.text(), mobile=self.mobile.text(),
                gender=self.gender.currentData(), channel_id=self.channel.currentData(),
                cs_staff_id=self.cs_staff.currentData(), card_no=self.card_no.text(),
                notes=self.notes.toPlainText(),
            )
        except ValidationError as e:
            self.form.show_errors(e.errors)
            self.status.setText("未保存：请按红色提示修改")
            return
        self.status.setText(f"登记成功：{self.name.text().strip()}")
        self.clear(keep_status=True)
        self.registered.emit(customer_id)

    def clear(self, keep_status: bool = False) -> None:
        self.form.clear_errors()
        for w in (self.name, self.mobile, self.card_no):
            w.clear()
        self.notes.clear()
        self.gender.setCurrentIndex(0)
        self.channel.setCurrentIndex(0)
        self.cs_staff.setCurrentIndex(0)
        if not keep_status:
            self.status.clear()
