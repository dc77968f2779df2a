"""系统管理: the dictionaries, each a list with a right-click menu (添加 / 编辑 / 停用 / 删除)."""
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
    QPushButton,
    QSpinBox,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.errors import MeikeError, ValidationError
from meike.money import format_fen
from meike.permissions import Actor
from meike.services import dictionaries, system
from meike.services.dictionaries import KIND_LABELS, PAYMENT_KINDS, STAFF_ROLES, Entry, Kind
from ui.dialogs.dictionary_entry import EntryDialog, format_discount
from ui.dialogs.promotion import PromotionsTab
from ui.pages.base import PageWidget
from ui.widgets import messages
from ui.widgets.device_settings import DeviceSettings
from ui.widgets.form import ErrorForm

COLUMNS: dict[Kind, list[str]] = {
    Kind.ITEM: ["名称", "拼音码", "单价", "最低价", "单位", "分类", "科室", "状态"],
    Kind.STAFF: ["姓名", "部门", "岗位", "电话", "状态"],
    Kind.MEMBER_LEVEL: ["名称", "折扣", "状态"],
    Kind.PAYMENT_METHOD: ["名称", "类型", "状态"],
}


def _cells(e: Entry) -> list[str]:
    f = e.fields
    state = "正常" if e.is_active else "已停用"
    if e.kind is Kind.ITEM:
        return [e.name, f["pinyin_code"], format_fen(f["price_fen"]), format_fen(f["min_price_fen"]), f["unit"],
                f["category_name"], f["department_name"], state]
    if e.kind is Kind.STAFF:
        return [e.name, f["department_name"], "、".join(label for code, label in STAFF_ROLES.items() if code in f["roles"]), f["mobile"], state]
    if e.kind is Kind.MEMBER_LEVEL:
        permille = f["discount_permille"]
        return [e.name, "不打折" if permille == 1000 else f"{format_discount(permille)}%", state]
    if e.kind is Kind.PAYMENT_METHOD:
        return [e.name, PAYMENT_KINDS.get(f["kind"], f["kind"]), state]
    return [e.name, state]


class DictionaryTable(QWidget):
    """One dictionary: a table, a filter box and the right-click menu."""

    def __init__(self, clinic: Clinic, actor: Actor, kind: Kind, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor, self.kind = clinic, actor, kind
        self.entries: list[Entry] = []
        self.dialog: EntryDialog | None = None
        self.setObjectName(f"dict_{kind.value}")
        self.model = QStandardItemModel(0, len(COLUMNS.get(kind, ["名称", "状态"])), self)
        self.model.setHorizontalHeaderLabels(COLUMNS.get(kind, ["名称", "状态"]))
        self.view = QTableView(objectName=f"dict_{kind.value}_table")
        self.view.setModel(self.model)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.verticalHeader().hide()
        self.view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._on_context_menu)
        self.view.doubleClicked.connect(lambda index: self.edit(index.row()))
        self.filter = QLineEdit(objectName=f"dict_{kind.value}_filter", placeholderText="按名称或拼音码筛选")
        self.filter.textChanged.connect(lambda _t: self.reload())
        self.show_inactive = QCheckBox("显示已停用", objectName=f"dict_{kind.value}_show_inactive")
        self.show_inactive.toggled.connect(lambda _c: self.reload())
        self.status = QLabel(objectName=f"dict_{kind.value}_status")
        hint = QLabel("右击列表：添加、编辑、停用、删除")
        hint.setStyleSheet("color: #888;")
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.show_inactive)
        top.addWidget(hint)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.status)

        self.act_add = QAction(f"添加{KIND_LABELS[kind]}", self, objectName="dict_add")
        self.act_edit = QAction("编辑", self, objectName="dict_edit")
        self.act_toggle = QAction("停用", self, objectName="dict_toggle")
        self.act_delete = QAction("删除", self, objectName="dict_delete")
        self.act_add.triggered.connect(self.add)
        self.act_edit.triggered.connect(lambda: self.edit(self.current_row()))
        self.act_toggle.triggered.connect(lambda: self.toggle(self.current_row()))
        self.act_delete.triggered.connect(lambda: self.delete(self.current_row()))
        self.reload()

    def reload(self, select_id: int | None = None) -> None:
        entries = dictionaries.list_entries(self.clinic, self.actor, self.kind,
                                            include_inactive=self.show_inactive.isChecked())
        needle = self.filter.text().strip().lower()
        if needle:
            entries = [e for e in entries
                       if needle in e.name.lower() or needle in str(e.fields.get("pinyin_code", ""))]
        self.entries = entries
        self.model.setRowCount(0)
        grey = QBrush(QColor("#999999"))
        for e in entries:
            row = []
            for text in _cells(e):
                item = QStandardItem(text)
                item.setData(e.id, Qt.ItemDataRole.UserRole)
                if not e.is_active:
                    item.setForeground(grey)
                row.append(item)
            self.model.appendRow(row)
            if e.id == select_id:
                self.view.selectRow(self.model.rowCount() - 1)
        self.status.setText(f"共 {len(entries)} 条")

    def current_row(self) -> int:
        rows = self.view.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def row_of(self, name: str) -> int:
        return next(i for i, e in enumerate(self.entries) if e.name == name)

    def build_menu(self, row: int) -> QMenu:
        """The right-click menu for a row (``-1``: empty space). Separate so tests can read it."""
        menu = QMenu(self)
        menu.setObjectName(f"dict_{self.kind.value}_menu")
        menu.addAction(self.act_add)
        has_row = 0 <= row < len(self.entries)
        if has_row:
            self.view.selectRow(row)
            entry = self.entries[row]
            self.act_toggle.setText("启用" if not entry.is_active else "停用")
            menu.addAction(self.act_edit)
            menu.addAction(self.act_toggle)
            menu.addSeparator()
            menu.addAction(self.act_delete)
        return menu

    def _on_context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        self.build_menu(index.row() if index.isValid() else -1).exec(self.view.viewport().mapToGlobal(pos))

    def _open(self, entry: Entry | None) -> EntryDialog:
        dialog = EntryDialog(self.clinic, self.actor, self.kind, entry, self)
        dialog.accepted.connect(lambda: self._saved(dialog))
        self.dialog = dialog
        dialog.open()
        return dialog

    def _saved(self, dialog: EntryDialog) -> None:
        self.reload(select_id=dialog.saved_id)
        self.status.setText(f"已保存“{dialog.name.text().strip()}”")

    def add(self) -> EntryDialog:
        return self._open(None)

    def edit(self, row: int) -> EntryDialog | None:
        if not 0 <= row < len(self.entries):
            return None
        return self._open(dictionaries.get_entry(self.clinic, self.actor, self.kind, self.entries[row].id))

    def toggle(self, row: int) -> None:
        if not 0 <= row < len(self.entries):
            return
        e = self.entries[row]
        dictionaries.set_entry_active(self.clinic, self.actor, self.kind, e.id, not e.is_active)
        self.reload(select_id=e.id)
        self.status.setText(f"已{'启用' if not e.is_active else '停用'}“{e.name}”")

    def delete(self, row: int) -> None:
        if not 0 <= row < len(self.entries):
            return
        e = self.entries[row]
        if not messages.ask(self, "删除", f"确定删除“{e.name}”吗？已被使用的条目只能停用。"):
            return
        try:
            dictionaries.delete_entry(self.clinic, self.actor, self.kind, e.id)
        except MeikeError as err:
            self.status.setText(err.message)
            return
        self.reload()
        self.status.setText(f"已删除“{e.name}”")


class SystemParameters(QWidget):
    """诊所名称, login lockout, post-op follow-up days."""

    FIELDS = [("clinic.name", "诊所名称"), ("login.max_failures", "连续输错密码几次后延迟登录"),
              ("login.lock_minutes", "登录延迟最长分钟数"), ("followup.postop_days", "术后回访天数（逗号分隔）"),
              ("security.idle_lock_minutes", "无操作自动锁屏（分钟，0 为不锁屏）")]

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.setObjectName("system_parameters")
        self.form = ErrorForm()
        self.edits: dict[str, QLineEdit] = {}
        values = system.all_values(clinic, actor)
        for key, label in self.FIELDS:
            edit = QLineEdit(str(values[key]), objectName="param_" + key.replace(".", "_"))
            self.edits[key] = edit
            self.form.add_field(key, label, edit, required=True)
        self.save_button = QPushButton("保存", objectName="param_save")
        self.save_button.clicked.connect(self.save)
        self.status = QLabel(objectName="param_status")
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        row = QHBoxLayout()
        row.addWidget(self.save_button)
        row.addWidget(self.status, 1)
        layout.addLayout(row)
        layout.addStretch(1)

    def save(self) -> None:
        try:
            saved = system.update(self.clinic, self.actor, {k: e.text() for k, e in self.edits.items()})
        except ValidationError as e:
            self.form.show_errors(e.errors)
            self.status.setText("未保存：请按红色提示修改")
            return
        self.form.clear_errors()
        for key, value in saved.items():
            self.edits[key].setText(str(value))
        self.status.setText("已保存")


class PrinterSettings(DeviceSettings):
    """本机小票打印机: this PC's ESC/POS printer, saved per workstation, with a test page; and the Chinese
    font its receipt / label PDFs embed (empty: found automatically, shown in the hint)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        from devices.printer import KINDS
        from meike import pdf_fonts, workstation
        from ui.tasks import run_in_background

        super().__init__("printer", parent)
        current = workstation.printer_setting()
        self.kind = QComboBox(objectName="printer_kind")
        for code, label in KINDS.items():
            self.kind.addItem(label, code)
        self.kind.setCurrentIndex(max(0, self.kind.findData(current.kind)))
        self.target = QLineEdit(current.target, objectName="printer_target")
        self.target.setPlaceholderText("例如 192.168.1.50:9100、/dev/ttyUSB0:9600、0416:5011、/dev/usb/lp0")
        self.width = QComboBox(objectName="printer_width")
        self.width.addItem("80 毫米", 80)
        self.width.addItem("58 毫米", 58)
        self.width.setCurrentIndex(max(0, self.width.findData(current.width_mm)))
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
        self.form.add_field("printer_width", "纸宽", self.width)
        self.form.add_field("pdf_font", "PDF 中文字体", font_row)
        self.finish("小票打印机按电脑分别设置；未设置时收据生成 PDF。PDF 嵌入中文 TrueType 字体（如微软雅黑 msyh.ttc），"
                    "在没有中文字体的电脑上也能正常显示；留空时自动选择本机的字体。", "测试打印")
        # The search loads font files: off the GUI thread, once per process.
        run_in_background(pdf_fonts.describe_automatic, lambda text: self.pdf_font_hint.setText(f"自动选择：{text}"),
                          lambda _exc: self.pdf_font_hint.setText("自动选择：无法查找本机字体"), owner=self)

    def _precheck_font(self) -> None:
        """Load the typed font in the background, so that 保存 finds it checked already."""
        from meike import pdf_fonts
        from ui.tasks import run_in_background

        path = self.pdf_font.text().strip().strip('"').strip()
        if path:
            run_in_background(lambda: pdf_fonts.font_problem(path), lambda _problem: None, owner=self)

    def choose_font_file(self, start: str) -> str:
        """The file picked in the system's file dialog ('' when cancelled); tests replace this."""
        from PySide6.QtWidgets import QFileDialog

        path, _filter = QFileDialog.getOpenFileName(self, "选择 PDF 中文字体", start,
                                                    "TrueType 字体 (*.ttf *.ttc);;所有文件 (*)")
        return path

    def browse_font(self) -> None:
        from pathlib import Path

        from meike import pdf_fonts

        typed = self.pdf_font.text().strip().strip('"')
        folders = [Path(typed).expanduser().parent] if typed else []
        folders += [Path(d).expanduser() for d in pdf_fonts.FONT_DIRS]  # the system's font folder first
        start = next((str(d) for d in folders if d.is_dir()), "")
        path = self.choose_font_file(start)
        if path:
            self.pdf_font.setText(path)
            self._precheck_font()

    def store(self) -> None:
        """The printer and the PDF font are both checked first and written only when both are right."""
        from meike import workstation

        def save(check: bool) -> None:
            errors: dict[str, str] = {}
            try:
                workstation.save_printer_setting(self.kind.currentData(), self.target.text(),
                                                 self.width.currentData(), check=check)
            except ValidationError as e:
                errors.update(e.errors)
            try:
                workstation.save_pdf_font_setting(self.pdf_font.text(), check=check)
            except ValidationError as e:
                errors.update(e.errors)
            if errors:
                raise ValidationError(errors)

        save(check=True)
        save(check=False)

    def start_test(self) -> tuple[str, Callable[[], Any], Callable[[Any], str], Callable[[Exception], str]] | None:
        from devices.printer import PrinterError
        from meike import workstation
        from meike.services import receipting

        if not self.save():
            return None
        setting = workstation.printer_setting()
        if setting.kind == "none":
            self.status.setText("未设置打印机：收据将生成 PDF")
            return None
        return ("正在连接打印机…", lambda: receipting.print_test_page(setting),
                lambda _r: "测试页已发送，请查看打印机",
                lambda exc: str(exc) if isinstance(exc, PrinterError) else f"打印失败：{exc}")


class CallerIdSettings(DeviceSettings):
    """来电盒与录音: this PC's caller-ID device (a modem / text box on a port, or a USB box through its
    vendor DLL), the lines it prints for the handset, and how calls are recorded."""

    saved_text = "已保存（重新登录后生效）"

    def __init__(self, parent: QWidget | None = None) -> None:
        from devices.callerid_dll import FAMILIES
        from meike import workstation
        from meike.workstation import CALLERID_KINDS, RECORDING_MODES

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
        from devices.audio import AudioError, default_backend
        from ui.tasks import run_in_background

        def listed(devices: list) -> None:
            current = self.recording_device.currentData()
            self.recording_device.clear()
            self.recording_device.addItem("系统默认录音设备", None)
            for device in devices:
                if device.inputs > 0:
                    self.recording_device.addItem(f"{device.index}：{device.name}", device.index)
            self.recording_device.setCurrentIndex(max(0, self.recording_device.findData(current)))
            self.status.setText(f"找到 {self.recording_device.count() - 1} 个录音设备")

        def failed(exc: Exception) -> None:
            self.status.setText(str(exc) if isinstance(exc, AudioError) else f"无法列出声卡：{exc}")

        self.status.setText("正在查找声卡…")
        run_in_background(lambda: default_backend().devices(), listed, failed, owner=self)

    def store(self) -> None:
        """Both settings are checked first and written only when both are right: never half-saved."""
        from meike import workstation

        def save(check: bool) -> None:
            errors: dict[str, str] = {}
            try:
                workstation.save_callerid_setting(
                    self.port.text(), self.pattern.text(), kind=self.kind.currentData(), dll_path=self.dll.text(),
                    family=self.family.currentData(), offhook_pattern=self.offhook.text(),
                    onhook_pattern=self.onhook.text(), check=check)
            except ValidationError as e:
                errors.update(e.errors)
            try:
                workstation.save_recording_setting(self.recording_mode.currentData(),
                                                   self.recording_device.currentData(), self.recording_folder.text(),
                                                   self.recording_silence.value(), check=check)
            except ValidationError as e:
                errors.update(e.errors)
            if errors:
                raise ValidationError(errors)

        save(check=True)
        save(check=False)

    def start_test(self) -> tuple[str, Callable[[], Any], Callable[[Any], str], Callable[[Exception], str]] | None:
        """Open the port and send ATZ (or load the box's DLL) off the GUI thread; the answer in plain words."""
        from devices.callerid import CallerIdError, check_connection

        def failure(exc: Exception) -> str:
            return str(exc) if isinstance(exc, CallerIdError) else f"连接失败：{exc}"

        if self.kind.currentData() == "dll":
            from devices.callerid_dll import check_dll

            path, family = self.dll.text().strip(), self.family.currentData()
            if not path:
                self.form.show_errors({"callerid_dll": "请填写厂商驱动 DLL 的位置"})
                return None
            self.form.clear_errors()
            return (f"正在加载 {path}…", lambda: check_dll(path, family), lambda message: message, failure)
        port = self.port.text().strip()
        if not port:
            self.form.show_errors({"callerid_port": "请填写端口"})
            return None
        self.form.clear_errors()
        return (f"正在连接 {port}…", lambda: check_connection(port), lambda message: message, failure)


class SettingsPage(PageWidget):
    WATCHES = ("settings",)
    TABS = [Kind.ITEM, Kind.ITEM_CATEGORY, Kind.DEPARTMENT, Kind.STAFF, Kind.CHANNEL, Kind.INFO_SOURCE,
            Kind.MEMBER_LEVEL, Kind.PAYMENT_METHOD]

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("page_settings")
        self.tabs = QTabWidget(objectName="settings_tabs")
        self.tables: dict[Kind, DictionaryTable] = {}
        for kind in self.TABS:
            self.tables[kind] = DictionaryTable(clinic, actor, kind)
            self.tabs.addTab(self.tables[kind], KIND_LABELS[kind])
        self.promotions = PromotionsTab(clinic, actor)
        self.tabs.addTab(self.promotions, "促销活动")
        self.parameters = SystemParameters(clinic, actor)
        self.tabs.addTab(self.parameters, "系统参数")
        self.printer = PrinterSettings()
        self.tabs.addTab(self.printer, "本机打印机")
        self.callerid = CallerIdSettings()
        self.tabs.addTab(self.callerid, "来电盒与录音")
        from ui.dialogs.sms_settings import SmsChannelSettings, SmsTemplatesTab

        self.sms_templates = SmsTemplatesTab(clinic, actor)
        self.tabs.addTab(self.sms_templates, "短信模板")
        self.sms_channel = SmsChannelSettings(clinic, actor)
        self.tabs.addTab(self.sms_channel, "短信通道")
        from ui.backup_panel import BackupPanel

        self.backups = BackupPanel(clinic, actor, configure=True, can_restore=False)
        self.tabs.addTab(self.backups, "数据备份")
        # Pickers of other dictionaries change when one is edited.
        self.tabs.currentChanged.connect(self._refresh_current)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tabs)

    def _refresh_current(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if isinstance(widget, DictionaryTable):
            widget.reload()
