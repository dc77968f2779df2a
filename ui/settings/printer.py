"""系统管理 → 本机打印机: this PC's ESC/POS printer, saved per workstation, with a test page; and the
Chinese font its receipt / label PDFs embed (empty: found automatically, shown in the hint)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from meike import pdf_fonts, workstation
from meike.ports import PRINTER_KINDS
from ui.operations import Op
from ui.operations import settings as ops
from ui.widgets.device_settings import DeviceSettings, Test


class PrinterSettings(DeviceSettings):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("printer", parent)
        current = workstation.printer_setting()
        self.kind = QComboBox(objectName="printer_kind")
        for code, label in PRINTER_KINDS.items():
            self.kind.addItem(label, code)
        self.kind.setCurrentIndex(max(0, self.kind.findData(current.kind)))
        self.target = QLineEdit(current.target, objectName="printer_target")
        self.target.setPlaceholderText("例如 192.168.1.50:9100、/dev/ttyUSB0:9600、0416:5011、/dev/usb/lp0")
        self.paper_width = QComboBox(objectName="printer_width")
        self.paper_width.addItem("80 毫米", 80)
        self.paper_width.addItem("58 毫米", 58)
        self.paper_width.setCurrentIndex(max(0, self.paper_width.findData(current.width_mm)))
        self.pdf_font = QLineEdit(workstation.pdf_font_setting(), objectName="pdf_font")
        self.pdf_font.setPlaceholderText("留空：自动选择本机的中文 TrueType 字体")
        self.pdf_font.editingFinished.connect(self._precheck_font)
        self.pdf_font_browse = QPushButton("浏览…", objectName="pdf_font_browse")
        self.pdf_font_browse.clicked.connect(self.browse_font)
        self.pdf_font_hint = QLabel("自动选择：正在查找本机字体…", objectName="pdf_font_hint", wordWrap=True)
        self.pdf_font_hint.setStyleSheet("color: #888;")
        font_row = QWidget(objectName="pdf_font_row")
        font_box = QVBoxLayout(font_row)
        font_box.setContentsMargins(0, 0, 0, 0)
        font_line = QHBoxLayout()
        font_line.addWidget(self.pdf_font, 1)
        font_line.addWidget(self.pdf_font_browse)
        font_box.addLayout(font_line)
        font_box.addWidget(self.pdf_font_hint)
        self.form.add_field("printer_kind", "打印机类型", self.kind)
        self.form.add_field("printer_target", "地址", self.target)
        self.form.add_field("printer_width", "纸宽", self.paper_width)
        self.form.add_field("pdf_font", "PDF 中文字体", font_row)
        self.finish("小票打印机按电脑分别设置；未设置时收据生成 PDF。PDF 嵌入中文 TrueType 字体（如微软雅黑 msyh.ttc），"
                    "在没有中文字体的电脑上也能正常显示；留空时自动选择本机的字体。", "测试打印")
        # The search loads font files: off the GUI thread, once per process.
        ops.describe_automatic_font(self).success(lambda text: self.pdf_font_hint.setText(f"自动选择：{text}")).failure(
            lambda _exc: self.pdf_font_hint.setText("自动选择：无法查找本机字体")).run()

    def _precheck_font(self) -> None:
        """Load the typed font in the background, so that 保存 finds it checked already."""
        path = self.pdf_font.text().strip().strip('"').strip()
        if path:
            ops.check_font(self, path).failure(lambda _exc: None).run()

    def choose_font_file(self, start: str) -> str:
        """The file picked in the system's file dialog ('' when cancelled); tests replace this."""
        path, _filter = QFileDialog.getOpenFileName(self, "选择 PDF 中文字体", start,
                                                    "TrueType 字体 (*.ttf *.ttc);;所有文件 (*)")
        return path

    def browse_font(self) -> None:
        typed = self.pdf_font.text().strip().strip('"')
        folders = [Path(typed).expanduser().parent] if typed else []
        folders += [Path(d).expanduser() for d in pdf_fonts.FONT_DIRS]  # the system's font folder first
        start = next((str(d) for d in folders if d.is_dir()), "")
        path = self.choose_font_file(start)
        if path:
            self.pdf_font.setText(path)
            self._precheck_font()

    def store(self) -> Op[Any]:
        return ops.save_printer(self, self.kind.currentData(), self.target.text(), self.paper_width.currentData(),
                                self.pdf_font.text())

    def start_test(self) -> Test | None:
        if self.kind.currentData() == "none":
            self.status.setText("未设置打印机：收据将生成 PDF")
            return None
        return ("正在连接打印机…", ops.print_test_page(self), lambda _r: "测试页已发送，请查看打印机")
