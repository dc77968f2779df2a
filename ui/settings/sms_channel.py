"""系统管理 → 短信通道: the GSM modem or the SMS platform that sends, with 测试连接."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit, QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.ports import ALIYUN_ENDPOINT, TENCENT_ENDPOINT
from meike.services.sms import BAUD_RATES, CHANNEL_LABELS, SECRET_FIELDS, ChannelView
from ui.operations import Op
from ui.operations import settings as ops
from ui.tasks import error_text
from ui.widgets.device_settings import DeviceSettings, Test


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
                  "aliyun_endpoint": ("服务地址", ALIYUN_ENDPOINT),
                  "tencent_secret_id": ("SecretId", ""), "tencent_secret_key": ("SecretKey", ""),
                  "tencent_app_id": ("SdkAppId", "例如 1400000000"),
                  "tencent_sign": ("短信签名", "已审核的签名，不含【】"),
                  "tencent_endpoint": ("服务地址", TENCENT_ENDPOINT)}
        self.form.add_field("channel", "短信通道", self.channel, required=True)
        self.form.add_field("daily_limit", "每日发送上限（条）", self.daily_limit, required=True)
        for key, (label, placeholder) in labels.items():
            edit = QLineEdit(objectName=f"sms_channel_{key}", placeholderText=placeholder)
            if key in SECRET_FIELDS:
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
        self.save_button.setEnabled(False)  # until the saved channel is read
        ops.channel_settings(self, clinic, actor).success(self.load).failure(
            lambda exc: self.status.setText(error_text(exc))).run()

    def load(self, view: ChannelView) -> None:
        st = view.settings
        self.channel.setCurrentIndex(max(0, self.channel.findData(st.channel)))
        self.daily_limit.setText(str(st.daily_limit))
        self.gsm_baud.setCurrentIndex(max(0, self.gsm_baud.findData(st.gsm_baud)))
        for key, edit in self.edits.items():
            if key in SECRET_FIELDS:
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
        self.save_button.setEnabled(True)

    def _show_channel(self) -> None:
        current = self.channel.currentData()
        for channel, keys in self.GROUPS.items():
            for key in keys:
                widget = self.gsm_baud if key == "gsm_baud" else self.edits[key]
                row = widget.parentWidget()  # the field's row (with its error line)
                if row is not None:
                    self.form.setRowVisible(row, channel == current)
        self.form.setRowVisible(self.host_note, current == "gsm")
        self.form.setRowVisible(self.secret_note, current in ("aliyun", "tencent") and bool(self.secret_note.text()))

    def values(self) -> dict[str, Any]:
        out: dict[str, Any] = {"channel": self.channel.currentData(), "daily_limit": self.daily_limit.text(),
                               "gsm_baud": self.gsm_baud.currentData()}
        out.update({key: edit.text() for key, edit in self.edits.items()})
        return out

    def store(self) -> Op[Any]:
        return ops.save_channel(self, self.clinic, self.actor, self.values())

    def stored(self, result: Any) -> None:
        self.load(result)

    def start_test(self) -> Test | None:
        """Test the saved channel (保存 ran first) off the GUI thread."""
        if self.channel.currentData() == "none":
            self.status.setText("未设置短信通道")
            return None
        return (f"正在测试{self.channel.currentText()}…", ops.test_channel(self, self.clinic, self.actor), str)
