"""系统管理 → 短信模板: the templates, a list with 添加 / 编辑 / 停用 / 删除 (buttons and the right-click
menu), and the dialog that edits one."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from meike.db import Clinic
from meike.models.sms import MESSAGE_KINDS
from meike.permissions import Actor
from meike.services.sms import FIELDS, KIND_LABELS, Template
from ui.operations import Op
from ui.operations import settings as ops
from ui.widgets.form_dialog import FormDialog
from ui.widgets.list_tab import ListTab, submit_op

TEMPLATE_COLUMNS = ["类型", "名称", "内容", "阿里云模板编号", "腾讯云模板 ID", "状态"]
FIELD_HELP = ("可用字段：" + " ".join(f"{{{f}}}" for f in FIELDS) + "。使用阿里云或腾讯云发送时，先在平台申请同样内容的模板，"
              "审核通过后把模板编号填在这里；平台模板的变量：阿里云 ${name} ${date} ${time} ${item} ${clinic}，"
              "腾讯云 {1} {2} … 依次对应正文中字段出现的顺序。")


class SmsTemplateDialog(FormDialog):
    """Add or edit a template; errors beside the fields, nothing typed lost on a refusal."""

    def __init__(self, clinic: Clinic, actor: Actor, template: Template | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("sms_template_dialog", "编辑短信模板" if template else "添加短信模板", parent, min_width=560)
        self.clinic, self.actor, self.template = clinic, actor, template
        self.saved_id: int | None = None
        self.kind = QComboBox(objectName="sms_template_kind")
        for kind in MESSAGE_KINDS:
            self.kind.addItem(KIND_LABELS[kind], kind)
        self.name = QLineEdit(objectName="sms_template_name")
        self.body = QPlainTextEdit(objectName="sms_template_body")
        self.body.setFixedHeight(100)
        inserts = QWidget()
        row = QHBoxLayout(inserts)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("插入字段："))
        for name in FIELDS:
            button = QPushButton(f"{{{name}}}", objectName=f"sms_template_insert_{FIELDS.index(name)}")
            button.clicked.connect(lambda _c=False, n=name: self.body.insertPlainText(f"{{{n}}}"))
            row.addWidget(button)
        row.addStretch(1)
        self.aliyun_code = QLineEdit(objectName="sms_template_aliyun", placeholderText="例如 SMS_123456789")
        self.tencent_code = QLineEdit(objectName="sms_template_tencent", placeholderText="例如 1234567")
        self.active = QCheckBox("启用", objectName="sms_template_active")
        self.active.setChecked(True)
        if template is not None:
            self.kind.setCurrentIndex(max(0, self.kind.findData(template.kind)))
            self.name.setText(template.name)
            self.body.setPlainText(template.body)
            self.aliyun_code.setText(template.aliyun_code)
            self.tencent_code.setText(template.tencent_code)
            self.active.setChecked(template.active)
        self.form.add_field("kind", "类型", self.kind, required=True)
        self.form.add_field("name", "名称", self.name, required=True)
        self.form.add_field("body", "内容", self.body, required=True)
        self.form.addRow("", inserts)
        self.form.add_field("aliyun_code", "阿里云模板编号", self.aliyun_code)
        self.form.add_field("tencent_code", "腾讯云模板 ID", self.tencent_code)
        self.form.add_field("active", "", self.active)
        help_label = QLabel(FIELD_HELP, wordWrap=True)
        help_label.setStyleSheet("color: #888;")
        self.form.addRow("", help_label)
        self.finish_layout()

    def submit(self) -> None:
        values = {"kind": self.kind.currentData(), "name": self.name.text(), "body": self.body.toPlainText(),
                  "aliyun_code": self.aliyun_code.text(), "tencent_code": self.tencent_code.text(),
                  "active": self.active.isChecked()}
        op = ops.save_template(self, self.clinic, self.actor, self.template.id if self.template else None, values)
        submit_op(self, self.form, op, self.message, done=lambda saved_id: setattr(self, "saved_id", saved_id))



class SmsTemplatesTab(ListTab):
    """短信模板: the templates of every kind, inactive ones greyed."""

    COLUMNS = TEMPLATE_COLUMNS

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        self.clinic, self.actor = clinic, actor
        super().__init__("sms_templates", "sms_template", "添加模板", parent, buttons=True, stretch=2)
        self.templates = self.rows
        header = self.view.horizontalHeader()
        for column, width in enumerate((80, 120, 360, 140, 110)):
            if column != 2:
                header.resizeSection(column, width)
        self.bar.addStretch(1)
        self.bar.addWidget(self.status)  # moved from under the list
        intro = QLabel("预约提醒在预约前一天 9:00 发送，术后关怀在术后回访到期当天发送，生日祝福在生日当天发送；"
                       "每种类型使用第一个启用的模板。" + FIELD_HELP, wordWrap=True)
        intro.setStyleSheet("color: #666;")
        self.outer.insertWidget(0, intro)
        self.reload()

    def load(self) -> Op[list[Any]]:
        return ops.list_templates(self, self.clinic, self.actor, include_inactive=True)  # type: ignore[return-value]

    def _loaded(self, rows: list[Any]) -> None:
        super()._loaded(rows)
        self.templates = self.rows

    def cells(self, row: Any) -> list[str]:
        t: Template = row
        return [t.kind_label, t.name, " ".join(t.body.split()), t.aliyun_code, t.tencent_code,
                "启用" if t.active else "已停用"]

    def delete_question(self, row: Any) -> str:
        return f"确定删除模板“{row.name}”吗？用过的模板只能停用。"

    def open_dialog(self, row: Any | None) -> QDialog:
        return SmsTemplateDialog(self.clinic, self.actor, row, self)

    def toggle_op(self, row: Any) -> Op[Any]:
        return ops.set_template_active(self, self.clinic, self.actor, row.id, not row.active)

    def delete_op(self, row: Any) -> Op[Any]:
        return ops.delete_template(self, self.clinic, self.actor, row.id)
