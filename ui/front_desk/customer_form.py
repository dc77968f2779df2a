"""The customer's profile form (seed 003 §3.1 fields), shared by registration and the detail dialog."""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from meike.db import Clinic
from meike.errors import ValidationError
from meike.permissions import Actor, Right
from meike.rules.validation import birthday_from_id_card, id_card_error, mask_number, whole_number
from meike.services.customers import GENDERS, CustomerDetail
from meike.services.dictionaries import Entry
from ui.operations import front_desk as ops
from ui.tasks import error_text
from ui.widgets.form import ErrorForm

BIRTHDAY_HINT = "如 1990-05-01"
BIRTHDAY_HIDDEN = "已隐藏（含在身份证号中）"


def _combo(name: str) -> QComboBox:
    return QComboBox(objectName=name)


class CustomerForm(QWidget):
    """Two columns of fields; ``values()`` returns typed values or raises ValidationError for bad dates."""

    def __init__(self, clinic: Clinic, actor: Actor, prefix: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.customer_id: int | None = None
        self.choices_loaded = False
        self._wanted: dict[str, object] = {}  # combo → value loaded before its list arrived
        p = prefix
        self.name = QLineEdit(objectName=f"{p}_name")
        self.gender = _combo(f"{p}_gender")
        for code, label in GENDERS.items():
            self.gender.addItem(label, code)
        self.mobile = QLineEdit(objectName=f"{p}_mobile", placeholderText="11 位手机号")
        self.hidden_mobile = ""  # a caller's number filled in from the pop-up, shown masked (set_hidden_mobile)
        self.mobile.textEdited.connect(self._mobile_typed)
        self.channel = _combo(f"{p}_channel")
        self.info_source = _combo(f"{p}_info_source")
        self.cs_staff = _combo(f"{p}_cs_staff")
        self.member_level = _combo(f"{p}_member_level")
        self.developer = _combo(f"{p}_developer")
        self.card_no = QLineEdit(objectName=f"{p}_card_no", placeholderText="留空自动生成")
        self.file_no = QLineEdit(objectName=f"{p}_file_no")
        self.birthday = QLineEdit(objectName=f"{p}_birthday", placeholderText=BIRTHDAY_HINT)
        self.age = QLineEdit(objectName=f"{p}_age", placeholderText="不知道生日时填写")
        self.id_card = QLineEdit(objectName=f"{p}_id_card", placeholderText="18 位")
        self.wechat = QLineEdit(objectName=f"{p}_wechat")
        self.qq = QLineEdit(objectName=f"{p}_qq")
        self.address = QLineEdit(objectName=f"{p}_address")
        self.region = QLineEdit(objectName=f"{p}_region")
        self.occupation = QLineEdit(objectName=f"{p}_occupation")
        self.referrer = QLineEdit(objectName=f"{p}_referrer")
        self.sms_opt_in = QCheckBox("接收短信", objectName=f"{p}_sms_opt_in")
        self.sms_opt_in.setChecked(True)
        self.notes = QPlainTextEdit(objectName=f"{p}_notes")
        self.notes.setMaximumHeight(60)

        left, right = ErrorForm(), ErrorForm()
        left.add_field("name", "姓名", self.name, required=True)
        left.add_field("gender", "性别", self.gender)
        self.reveal_buttons: dict[str, QPushButton] = {}
        left.add_field("mobile", "手机", self._revealable("mobile", self.mobile, p), required=True)
        left.add_field("channel_id", "渠道", self.channel)
        left.add_field("info_source_id", "信息来源", self.info_source)
        left.add_field("cs_staff_id", "客服/网电咨询", self.cs_staff)
        left.add_field("developer_id", "开发人员", self.developer)
        left.add_field("member_level_id", "会员等级", self.member_level)
        left.add_field("referrer", "介绍人", self.referrer)
        left.add_field("card_no", "卡号", self.card_no)
        right.add_field("file_no", "档案号", self.file_no)
        right.add_field("birthday", "生日", self.birthday)
        right.add_field("age", "年龄", self.age)
        right.add_field("id_card", "身份证号", self._revealable("id_card", self.id_card, p))
        right.add_field("wechat", "微信", self.wechat)
        right.add_field("qq", "QQ", self.qq)
        right.add_field("region", "区域", self.region)
        right.add_field("address", "通讯地址", self.address)
        right.add_field("occupation", "职业", self.occupation)
        right.add_field("sms_opt_in", "短信服务", self.sms_opt_in)
        self.forms: tuple[ErrorForm, ...] = (left, right)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addLayout(left, 0, 0)
        grid.addLayout(right, 0, 1)
        notes_form = ErrorForm()
        notes_form.add_field("notes", "备注", self.notes)
        self.forms = (left, right, notes_form)
        grid.addLayout(notes_form, 1, 0, 1, 2)
        self.refresh_choices()

    def refresh_choices(self) -> None:
        """Read the lists (channels, staff, …) off the GUI thread; what is chosen stays chosen."""
        ops.profile_choices(self, self.clinic, self.actor).success(self._fill_choices).failure(
            lambda _e: None).run()

    def _fill_choices(self, choices: ops.ProfileChoices) -> None:
        lists: tuple[tuple[QComboBox, list[Entry]], ...] = (
            (self.channel, choices.channels), (self.info_source, choices.info_sources),
            (self.cs_staff, choices.customer_service), (self.developer, choices.staff),
            (self.member_level, choices.member_levels))
        for combo, entries in lists:
            current = self._wanted.get(combo.objectName(), combo.currentData())
            combo.clear()
            combo.addItem("（无）", None)
            for e in entries:
                combo.addItem(e.name, e.id)
            combo.setCurrentIndex(max(0, combo.findData(current)))
        self._wanted.clear()
        self.choices_loaded = True

    def values(self) -> dict[str, Any]:
        errors: dict[str, str] = {}
        birthday: date | None = None
        text = self.birthday.text().strip()
        if text:
            try:
                birthday = date.fromisoformat(text.replace("/", "-").replace(".", "-"))
            except ValueError:
                errors["birthday"] = "生日格式应为 年-月-日，例如 1990-05-01"
        age: int | None = None
        if self.age.text().strip():
            age = whole_number(self.age.text())
            if age is None:
                errors["age"] = "年龄应为整数"
        if errors:
            raise ValidationError(errors)
        return dict(
            name=self.name.text(), gender=self.gender.currentData(), mobile=self.hidden_mobile or self.mobile.text(),
            channel_id=self.channel.currentData(), info_source_id=self.info_source.currentData(),
            cs_staff_id=self.cs_staff.currentData(), developer_id=self.developer.currentData(),
            member_level_id=self.member_level.currentData(), referrer=self.referrer.text(),
            card_no=self.card_no.text(), file_no=self.file_no.text(), birthday=birthday, age=age,
            id_card=self.id_card.text(), wechat=self.wechat.text(), qq=self.qq.text(), region=self.region.text(),
            address=self.address.text(), occupation=self.occupation.text(), sms_opt_in=self.sms_opt_in.isChecked(),
            notes=self.notes.toPlainText(),
        )

    def set_hidden_mobile(self, number: str) -> None:
        """The caller's number (登记新顾客 from the pop-up): saved in full but shown masked, like every number
        shown without a logged reveal. Typing in the field replaces it with what is typed."""
        self.hidden_mobile = number
        self.mobile.setText(mask_number(number))
        self.mobile.setToolTip("来电号码已隐藏，保存时使用完整号码；要改成别的号码请直接输入")

    def _mobile_typed(self, text: str) -> None:
        if self.hidden_mobile:
            self.hidden_mobile = ""
            self.mobile.setToolTip("")
            if "*" in text:  # an edit of the masked number: start from an empty field
                self.mobile.clear()

    def _revealable(self, key: str, edit: QLineEdit, prefix: str) -> QWidget:
        """The field with a "显示" button (shown once a saved customer is loaded, to users with the right)."""
        box = QWidget(objectName=f"{prefix}_{key}_box")
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        button = QPushButton("显示", objectName=f"{prefix}_{key}_reveal")
        button.setToolTip("显示完整号码（会记入操作日志）")
        button.hide()
        button.clicked.connect(lambda: self.reveal(key))
        row.addWidget(edit, 1)
        row.addWidget(button)
        self.reveal_buttons[key] = button
        return box

    def reveal(self, key: str) -> None:
        """One click shows the full number to a user with the right; the reveal is logged. The ID card
        brings its birthday back with it."""
        if self.customer_id is None:
            return
        ops.reveal(self, self.clinic, self.actor, self.customer_id, key).success(
            lambda value: self._revealed(key, value)).failure(
            lambda e: self._not_revealed(key, e)).busy(self.reveal_buttons[key]).run()

    def _not_revealed(self, key: str, error: Exception) -> None:
        self.show_errors({key: error_text(error)})

    def _revealed(self, key: str, value: str) -> None:
        {"mobile": self.mobile, "id_card": self.id_card}[key].setText(value)
        self.reveal_buttons[key].setEnabled(False)
        if key == "id_card" and id_card_error(value) is None:
            self._hide_birthday(False)
            self.birthday.setText(birthday_from_id_card(value).isoformat())

    def _hide_birthday(self, hidden: bool) -> None:
        """The birthday of a customer with an ID card on file is part of that number: not shown (the age
        is) until the ID card is revealed; left empty, it is kept as the ID card says."""
        self.birthday.setReadOnly(hidden)
        self.birthday.setPlaceholderText(BIRTHDAY_HIDDEN if hidden else BIRTHDAY_HINT)
        self.birthday.setToolTip("生日含在身份证号中：有权限的用户点身份证号旁的“显示”后可见" if hidden else "")

    def load(self, c: CustomerDetail) -> None:
        self.customer_id = c.id
        may_reveal = self.actor.has_right(Right.VIEW_PRIVATE)
        for key, button in self.reveal_buttons.items():
            button.setVisible(may_reveal and "*" in str(getattr(c, key) or ""))
            button.setEnabled(True)
        self.name.setText(c.name)
        self.gender.setCurrentIndex(max(0, self.gender.findData(c.gender)))
        self.mobile.setText(c.mobile)
        for combo, value in ((self.channel, c.channel_id), (self.info_source, c.info_source_id),
                             (self.cs_staff, c.cs_staff_id), (self.developer, c.developer_id),
                             (self.member_level, c.member_level_id)):
            combo.setCurrentIndex(max(0, combo.findData(value)))
            if not self.choices_loaded:
                self._wanted[combo.objectName()] = value
        for edit, text in ((self.referrer, c.referrer), (self.card_no, c.card_no), (self.file_no, c.file_no),
                           (self.id_card, c.id_card), (self.wechat, c.wechat), (self.qq, c.qq),
                           (self.region, c.region), (self.address, c.address), (self.occupation, c.occupation)):
            edit.setText(text)
        self._hide_birthday(c.birthday_hidden)
        self.birthday.setText(c.birthday.isoformat() if c.birthday else "")
        self.age.setText("" if c.age is None else str(c.age))
        self.sms_opt_in.setChecked(c.sms_opt_in)
        self.notes.setPlainText(c.notes)

    def show_errors(self, errors: dict[str, str]) -> list[str]:
        placed: set[str] = set()
        for form in self.forms:
            for key in errors:
                if form.has_field(key):
                    placed.add(key)
            form.show_errors({k: v for k, v in errors.items() if form.has_field(k)})
        return [v for k, v in errors.items() if k not in placed]

    def clear_errors(self) -> None:
        for form in self.forms:
            form.clear_errors()

    def error_text(self, key: str) -> str:
        return next((f.error_text(key) for f in self.forms if f.has_field(key)), "")

    def clear(self) -> None:
        self.clear_errors()
        self.hidden_mobile = ""
        self.mobile.setToolTip("")
        for edit in self.findChildren(QLineEdit):
            edit.clear()
        self._hide_birthday(False)
        self.notes.clear()
        for combo in (self.gender, self.channel, self.info_source, self.cs_staff, self.developer, self.member_level):
            combo.setCurrentIndex(0)
        self.sms_opt_in.setChecked(True)
