"""系统管理 → 来电盒与录音: this PC's caller-ID device (a modem / text box on a port, or a USB box through
its vendor DLL), the lines it prints for the handset, and how calls are recorded."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QPushButton, QSpinBox, QWidget

from devices.callerid_dll import FAMILIES
from meike import workstation
from meike.workstation import CALLERID_KINDS, RECORDING_MODES
from ui.operations import Op
from ui.operations import settings as ops
from ui.tasks import error_text
from ui.widgets.device_settings import DeviceSettings, Test


class CallerIdSettings(DeviceSettings):
    """来电盒与录音: this PC's caller-ID device (a modem / text box on a port, or a USB box through its
    vendor DLL), the lines it prints for the handset, and how calls are recorded."""

    saved_text = "已保存（重新登录后生效）"
    SAVE_BEFORE_TEST = False  # the box as typed is tried; saving is 保存's

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("callerid", parent)
        current = workstation.callerid_setting()
        recording = workstation.recording_setting()
        self.kind = QComboBox(objectName="callerid_kind")
        for code, label in CALLERID_KINDS.items():
            self.kind.addItem(label, code)
        self.kind.setCurrentIndex(max(0, self.kind.findData(current.kind)))
        self.port = QLineEdit(current.port, objectName="callerid_port")
        self.port.setPlaceholderText("例如 COM3、/dev/ttyACM0；留空表示本机没有来电盒")
        self.pattern = QLineEdit(current.pattern, objectName="callerid_pattern")
        self.pattern.setPlaceholderText(r"调制解调器留空；自带格式的来电盒填正则，如 ^CID:(?P<number>\d+)")
        self.offhook = QLineEdit(current.offhook_pattern, objectName="callerid_offhook")
        self.offhook.setPlaceholderText("留空：识别 OFFHOOK、摘机 等常见写法")
        self.onhook = QLineEdit(current.onhook_pattern, objectName="callerid_onhook")
        self.onhook.setPlaceholderText("留空：识别 ONHOOK、HANGUP、挂机 等常见写法")
        self.family = QComboBox(objectName="callerid_family")
        for code, profile in FAMILIES.items():
            self.family.addItem(f"{code}（{profile.dll_name}）", code)
        self.family.setCurrentIndex(max(0, self.family.findData(current.family)))
        self.dll = QLineEdit(current.dll_path, objectName="callerid_dll")
        self.dll.setPlaceholderText(r"厂商驱动的位置，例如 C:\USBBox\USBBoxProtocol.dll")
        self.recording_mode = QComboBox(objectName="recording_mode")
        for code, label in RECORDING_MODES.items():
            self.recording_mode.addItem(label, code)
        self.recording_mode.setCurrentIndex(max(0, self.recording_mode.findData(recording.mode)))
        self.recording_device = QComboBox(objectName="recording_device")
        self.recording_device.addItem("系统默认录音设备", None)
        if recording.device is not None:
            self.recording_device.addItem(f"设备 {recording.device}", recording.device)
            self.recording_device.setCurrentIndex(1)
        self.devices_button = QPushButton("查找声卡", objectName="recording_devices")
        self.devices_button.clicked.connect(self.find_devices)
        device_row = QWidget()
        device_layout = QHBoxLayout(device_row)
        device_layout.setContentsMargins(0, 0, 0, 0)
        device_layout.addWidget(self.recording_device, 1)
        device_layout.addWidget(self.devices_button)
        self.recording_folder = QLineEdit(recording.folder, objectName="recording_folder")
        self.recording_folder.setPlaceholderText(f"留空：{recording.folder_path()}")
        self.recording_silence = QSpinBox(objectName="recording_silence")
        self.recording_silence.setRange(1, 120)
        self.recording_silence.setSuffix(" 秒")
        self.recording_silence.setValue(recording.silence_s)
        self.form.add_field("callerid_kind", "来电盒类型", self.kind)
        self.form.add_field("callerid_port", "端口", self.port)
        self.form.add_field("callerid_pattern", "行格式", self.pattern)
        self.form.add_field("callerid_offhook", "摘机行", self.offhook)
        self.form.add_field("callerid_onhook", "挂机行", self.onhook)
        self.form.add_field("callerid_family", "型号", self.family)
        self.form.add_field("callerid_dll", "驱动 DLL", self.dll)
        self.form.add_field("recording_mode", "录音方式", self.recording_mode)
        self.form.add_field("recording_device", "录音设备", device_row)
        self.form.add_field("recording_folder", "录音文件夹", self.recording_folder)
        self.form.add_field("recording_silence", "静音多久算挂机", self.recording_silence)
        self.kind.currentIndexChanged.connect(self._enable)
        self.recording_mode.currentIndexChanged.connect(self._enable)
        self._enable()
        self.finish("来电盒按电脑分别设置：支持 AT 命令的语音调制解调器（AT+VCID=1）、输出文本行的来电盒，"
                    "以及用厂商驱动的 USB 录音盒（仅 Windows）。来电时右上角弹出顾客资料；"
                    "能报告摘机、挂机的设备会记下接听与未接。电脑线路输入录音从来电开始，"
                    "听到忙音或长时间静音即结束。保存后重新登录生效。", "测试连接")

    def _enable(self) -> None:
        dll = self.kind.currentData() == "dll"
        for widget in (self.port, self.pattern, self.offhook, self.onhook):
            widget.setEnabled(not dll)
        self.family.setEnabled(dll)
        self.dll.setEnabled(dll)
        linein = self.recording_mode.currentData() == "linein"
        for widget in (self.recording_device, self.devices_button, self.recording_silence):
            widget.setEnabled(linein)
        self.recording_folder.setEnabled(self.recording_mode.currentData() != "none")

    def find_devices(self) -> None:
        """The sound card's inputs, listed off the GUI thread (PortAudio may take a moment)."""

        def listed(devices: list[Any]) -> None:
            current = self.recording_device.currentData()
            self.recording_device.clear()
            self.recording_device.addItem("系统默认录音设备", None)
            for device in devices:
                if device.inputs > 0:
                    self.recording_device.addItem(f"{device.index}：{device.name}", device.index)
            self.recording_device.setCurrentIndex(max(0, self.recording_device.findData(current)))
            self.status.setText(f"找到 {self.recording_device.count() - 1} 个录音设备")

        def failed(exc: Exception) -> None:
            text = error_text(exc)
            self.status.setText(text if type(exc).__module__.startswith("devices.") else f"无法列出声卡：{text}")

        self.status.setText("正在查找声卡…")
        ops.sound_inputs(self).success(listed).failure(failed).busy(self.devices_button).run()

    def store(self) -> Op[Any]:
        """Both settings are checked first and written only when both are right: never half-saved."""
        return ops.save_callerid(
            self,
            {"port": self.port.text(), "pattern": self.pattern.text(), "kind": self.kind.currentData(),
             "dll_path": self.dll.text(), "family": self.family.currentData(),
             "offhook_pattern": self.offhook.text(), "onhook_pattern": self.onhook.text()},
            {"mode": self.recording_mode.currentData(), "device": self.recording_device.currentData(),
             "folder": self.recording_folder.text(), "silence_s": self.recording_silence.value()})

    def start_test(self) -> Test | None:
        """Open the port and send ATZ (or load the box's DLL) off the GUI thread; the answer in plain words."""
        if self.kind.currentData() == "dll":
            path, family = self.dll.text().strip(), self.family.currentData()
            if not path:
                self.form.show_errors({"callerid_dll": "请填写厂商驱动 DLL 的位置"})
                return None
            self.form.clear_errors()
            return (f"正在加载 {path}…", ops.test_callerid_dll(self, path, family), str)
        port = self.port.text().strip()
        if not port:
            self.form.show_errors({"callerid_port": "请填写端口"})
            return None
        self.form.clear_errors()
        return (f"正在连接 {port}…", ops.test_callerid(self, port), str)
