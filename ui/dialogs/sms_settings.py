"""系统管理 → 短信模板 and 短信通道: the templates list with its editor, the channel with 测试连接."""
# gui-thread: not yet moved to ui/operations (issue 15)

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction, QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from devices.sms import SmsError
from meike import sms_jobs
from meike.db import Clinic
from meike.errors import MeikeError
from meike.models.sms import MESSAGE_KINDS
from meike.permissions import Actor
from meike.services import sms
from meike.services.sms import BAUD_RATES, CHANNEL_LABELS, FIELDS, KIND_LABELS, Template
from ui.widgets import messages
from ui.widgets.device_settings import DeviceSettings
from ui.widgets.form_dialog import FormDialog

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

    def save(self) -> None:
        self.saved_id = sms.save_template(self.clinic, self.actor, self.template.id if self.template else None, {
            "kind": self.kind.currentData(), "name": self.name.text(), "body": self.body.toPlainText(),
            "aliyun_code": self.aliyun_code.text(), "tencent_code": self.tencent_code.text(),
            "active": self.active.isChecked()})


class SmsTemplatesTab(QWidget):
    """短信模板: a list with 添加 / 编辑 / 停用 / 删除 (buttons and the right-click menu)."""

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.setObjectName("sms_templates")
        self.templates: list[Template] = []
        self.dialog: SmsTemplateDialog | None = None
        self.model = QStandardItemModel(0, len(TEMPLATE_COLUMNS), self)
        self.model.setHorizontalHeaderLabels(TEMPLATE_COLUMNS)
        self.view = QTableView(objectName="sms_templates_table")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        header = self.view.horizontalHeader()
        for column, width in enumerate((80, 120, 360, 140, 110)):
            header.resizeSection(column, width)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_context_menu)
        self.view.doubleClicked.connect(lambda index: self.edit(index.row()))

        self.act_add = QAction("添加模板", self, objectName="sms_template_add")
        self.act_edit = QAction("编辑", self, objectName="sms_template_edit")
        self.act_toggle = QAction("停用", self, objectName="sms_template_toggle")
        self.act_delete = QAction("删除", self, objectName="sms_template_delete")
        self.act_add.triggered.connect(self.add)
        self.act_edit.triggered.connect(lambda: self.edit(self.current_row()))
        self.act_toggle.triggered.connect(lambda: self.toggle(self.current_row()))
        self.act_delete.triggered.connect(lambda: self.delete(self.current_row()))
        buttons = QHBoxLayout()
        for action, name in ((self.act_add, "add"), (self.act_edit, "edit"), (self.act_toggle, "toggle"),
                             (self.act_delete, "delete")):
            button = QPushButton(action.text(), objectName=f"sms_template_{name}_button")
            button.clicked.connect(action.trigger)
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.status = QLabel(objectName="sms_templates_status")
        buttons.addWidget(self.status)
        intro = QLabel("预约提醒在预约前一天 9:00 发送，术后关怀在术后回访到期当天发送，生日祝福在生日当天发送；"
                       "每种类型使用第一个启用的模板。" + FIELD_HELP, wordWrap=True)
        intro.setStyleSheet("color: #666;")
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(buttons)
        layout.addWidget(self.view, 1)
        self.reload()

    def reload(self, select_id: int | None = None) -> None:
        self.templates = sms.list_templates(self.clinic, self.actor, include_inactive=True)
        self.model.setRowCount(0)
        grey = QBrush(QColor("#999999"))
        for t in self.templates:
            cells = [t.kind_label, t.name, " ".join(t.body.split()), t.aliyun_code, t.tencent_code,
                     "启用" if t.active else "已停用"]
            items = []
            for text in cells:
                item = QStandardItem(text)
                item.setData(t.id, Qt.ItemDataRole.UserRole)
                if not t.active:
                    item.setForeground(grey)
                items.append(item)
            self.model.appendRow(items)
            if t.id == select_id:
                self.view.selectRow(self.model.rowCount() - 1)

    def current_row(self) -> int:
        rows = self.view.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def build_menu(self, row: int) -> QMenu:
        menu = QMenu(self)
        menu.setObjectName("sms_templates_menu")
        menu.addAction(self.act_add)
        if 0 <= row < len(self.templates):
            self.view.selectRow(row)
            self.act_toggle.setText("启用" if not self.templates[row].active else "停用")
            for action in (self.act_edit, self.act_toggle, self.act_delete):
                menu.addAction(action)
        return menu

    def _on_context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        self.build_menu(index.row() if index.isValid() else -1).exec(self.view.viewport().mapToGlobal(pos))

    def _open(self, template: Template | None) -> SmsTemplateDialog:
        dialog = SmsTemplateDialog(self.clinic, self.actor, template, self)
        dialog.accepted.connect(lambda: (self.reload(dialog.saved_id),
                                         self.status.setText(f"已保存“{dialog.name.text().strip()}”")))
        self.dialog = dialog
        dialog.open()
        return dialog

    def add(self) -> SmsTemplateDialog:
        return self._open(None)

    def edit(self, row: int) -> SmsTemplateDialog | None:
        return self._open(self.templates[row]) if 0 <= row < len(self.templates) else None

    def toggle(self, row: int) -> None:
        if 0 <= row < len(self.templates):
            t = self.templates[row]
            sms.set_template_active(self.clinic, self.actor, t.id, not t.active)
            self.reload(t.id)
            self.status.setText(f"已{'启用' if not t.active else '停用'}“{t.name}”")

    def delete(self, row: int) -> None:
        if not 0 <= row < len(self.templates):
            return
        t = self.templates[row]
        if not messages.ask(self, "删除", f"确定删除模板“{t.name}”吗？用过的模板只能停用。"):
            return
        try:
            sms.delete_template(self.clinic, self.actor, t.id)
        except MeikeError as e:
            self.status.setText(e.message)
            return
        self.reload()
        self.status.setText(f"已删除“{t.name}”")


class SmsChannelSettings(DeviceSettings):
    """短信通道: GSM modem (port, baud), Aliyun or Tencent Cloud (keys, sign name, endpoint), daily limit.

    Secrets are never shown back: their boxes stay empty with a hint that one is saved (masked: at most
    its last 4 characters); left empty on saving, the saved secret is kept. They are stored sealed with
    this PC's key (``meike.secret_box``): ``secret_note`` says which PC can use them.
    """

    GROUPS = {"gsm": ("gsm_port", "gsm_baud"),
              "aliyun": ("aliyun_key_id", "aliyun_secret", "aliyun_sign", "aliyun_endpoint"),
              "tencent": ("tencent_secret_id", "tencent_secret_key", "tencent_app_id", "tencent_sign",
                          "tencent_endpoint")}

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__("sms_channel", parent)
        self.clinic, self.actor = clinic, actor
        self.channel = QComboBox(objectName="sms_channel_kind")
        for code, label in CHANNEL_LABELS.items():
            self.channel.addItem(label, code)
        self.daily_limit = QLineEdit(objectName="sms_channel_daily_limit")
        self.gsm_baud = QComboBox(objectName="sms_channel_gsm_baud")
        for rate in BAUD_RATES:
            self.gsm_baud.addItem(str(rate), rate)
        self.edits: dict[str, QLineEdit] = {}
        labels = {"gsm_port": ("端口", "例如 COM5、/dev/ttyUSB2"),
                  "aliyun_key_id": ("AccessKey ID", ""), "aliyun_secret": ("AccessKey Secret", ""),
                  "aliyun_sign": ("短信签名", "已审核的签名，不含【】"),
                  "aliyun_endpoint": ("服务地址", sms.ALIYUN_ENDPOINT),
                  "tencent_secret_id": ("SecretId", ""), "tencent_secret_key": ("SecretKey", ""),
                  "tencent_app_id": ("SdkAppId", "例如 1400000000"),
                  "tencent_sign": ("短信签名", "已审核的签名，不含【】"),
                  "tencent_endpoint": ("服务地址", sms.TENCENT_ENDPOINT)}
        self.form.add_field("channel", "短信通道", self.channel, required=True)
        self.form.add_field("daily_limit", "每日发送上限（条）", self.daily_limit, required=True)
        for key, (label, placeholder) in labels.items():
            edit = QLineEdit(objectName=f"sms_channel_{key}", placeholderText=placeholder)
            if key in sms.SECRET_FIELDS:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
            self.edits[key] = edit
            self.form.add_field(key, label, edit)
            if key == "gsm_port":
                self.form.add_field("gsm_baud", "波特率", self.gsm_baud)
        self.host_note = QLabel(objectName="sms_channel_host", wordWrap=True)
        self.host_note.setStyleSheet("color: #888;")
        self.form.addRow("", self.host_note)
        self.secret_note = QLabel(objectName="sms_channel_secret_note", wordWrap=True)
        self.secret_note.setStyleSheet("color: #888;")
        self.secret_note.setMinimumWidth(360)  # a wrapped label in a form row is otherwise squeezed narrow
        self.form.addRow("", self.secret_note)
        self.channel.currentIndexChanged.connect(lambda _i: self._show_channel())
        self.finish("短信通过短信猫（插在本机的 GSM 调制解调器，用一张手机卡发送）或短信平台发送。短信猫发送过多"
                    "会被运营商锁卡，请设置每日上限，超出的短信留到第二天发送；群发营销短信建议使用短信平台。", "测试连接")
        self.load()

    def load(self) -> None:
        view = sms.channel_settings(self.clinic, self.actor)
        st = view.settings
        self.channel.setCurrentIndex(max(0, self.channel.findData(st.channel)))
        self.daily_limit.setText(str(st.daily_limit))
        self.gsm_baud.setCurrentIndex(max(0, self.gsm_baud.findData(st.gsm_baud)))
        for key, edit in self.edits.items():
            if key in sms.SECRET_FIELDS:
                edit.clear()
                hint = view.secret_hints.get(key)
                edit.setPlaceholderText(f"{hint}，不修改请留空" if hint else "")
            else:
                edit.setText(str(getattr(st, key)))
        self.secret_note.setText(view.secret_note)
        here = view.hostname
        self.host_note.setText(f"短信猫插在 {st.gsm_host} 上，只有那台电脑发送短信" if st.gsm_host and st.gsm_host != here
                               else f"短信猫插在本机（{here}）上")
        self._show_channel()

    def _show_channel(self) -> None:
        current = self.channel.currentData()
        for channel, keys in self.GROUPS.items():
            for key in keys:
                widget = self.gsm_baud if key == "gsm_baud" else self.edits[key]
                self.form.setRowVisible(widget.parentWidget(), channel == current)
        self.form.setRowVisible(self.host_note, current == "gsm")
        self.form.setRowVisible(self.secret_note, current in ("aliyun", "tencent") and bool(self.secret_note.text()))

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {"channel": self.channel.currentData(), "daily_limit": self.daily_limit.text(),
                               "gsm_baud": self.gsm_baud.currentData()}
        out.update({key: edit.text() for key, edit in self.edits.items()})
        return out

    def store(self) -> None:
        sms.save_channel_settings(self.clinic, self.actor, self.values())
        self.load()

    def start_test(self) -> tuple[str, Callable[[], Any], Callable[[Any], str], Callable[[Exception], str]] | None:
        """Save, then test the saved channel off the GUI thread."""
        if not self.save():
            return None
        if self.channel.currentData() == "none":
            self.status.setText("未设置短信通道")
            return None
        clinic, actor = self.clinic, self.actor
        return (f"正在测试{self.channel.currentText()}…", lambda: sms_jobs.test_connection(clinic, actor),
                lambda message: str(message),
                lambda exc: exc.message if isinstance(exc, SmsError | MeikeError) else f"连接失败：{exc}")
