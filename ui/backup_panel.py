"""数据备份: the backup list with each backup's date and counts; the folder, retention and 立即备份 for the
administrator and for 系统管理 with the right 数据备份 (a backup is every number in full); 恢复 in the
administrator's window, after a confirmation that lists what the backup does not hold. Backups run off
the GUI thread."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from meike import backup
from meike.backup import BackupInfo, BackupSettings, BackupSummary, RestoreLosses
from meike.db import Clinic
from meike.errors import ValidationError
from meike.permissions import Actor
from ui.operations import backup as ops
from ui.tasks import error_text
from ui.widgets import messages
from ui.widgets.form import ErrorForm
from ui.widgets.tables import read_only

COLUMNS = ["时间", "类型", "大小"]


def _size(n: int) -> str:
    return f"{n / 1_048_576:.1f} MB" if n >= 1_048_576 else f"{max(1, n // 1024)} KB"


class BackupPanel(QWidget):
    """``configure``: the settings form and 立即备份 when the user may (``backup.can_manage``), otherwise a
    note saying who may; ``can_restore``: 恢复 (administrator)."""

    restored = Signal(str)  # the safety copy's name: the program should restart now

    def __init__(self, clinic: Clinic, actor: Actor, *, configure: bool, can_restore: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.setObjectName("backup_panel")
        self.infos: list[BackupInfo] = []
        self.folder_path: Path | None = None  # known after the first ``reload``
        self.outcome: bool | None = None  # the last 恢复: True restored, False declined or failed
        self._form_filled = False
        self.path = clinic.path
        layout = QVBoxLayout(self)
        self.status = QLabel(objectName="backup_status", wordWrap=True)
        if self.path is None:
            layout.addWidget(QLabel("本诊所的数据库在 PostgreSQL 服务器上：请用服务器的备份（pg_dump）。"
                                    "本程序的自动备份只用于单机（SQLite）数据库。", wordWrap=True))
            layout.addStretch(1)
            return
        self.form = ErrorForm()
        self.note = QLabel(objectName="backup_rights_note", wordWrap=True)
        self.note.setStyleSheet("color: #888;")
        manage = configure and backup.can_manage(actor)
        if configure and not manage:
            self.note.setText("备份里是诊所的全部资料（包括完整的手机号和身份证号），所以选择备份文件夹和立即备份只有"
                              "管理员或有“数据备份”权限的账号可以操作。自动备份照常进行。")
            layout.addWidget(self.note)
        self.manage = manage
        if manage:
            settings = BackupSettings()  # the clinic's are filled in by the first ``reload``
            self.enabled = QCheckBox("每天自动备份，退出程序时也备份", objectName="backup_enabled")
            self.enabled.setChecked(settings.enabled)
            self.folder = QLineEdit(settings.folder, objectName="backup_folder",
                                    placeholderText=f"留空：{settings.folder_for(self.path)}")
            browse = QPushButton("选择…", objectName="backup_browse")
            browse.clicked.connect(self._browse)
            folder_box = QWidget()
            row = QHBoxLayout(folder_box)
            row.setContentsMargins(0, 0, 0, 0)
            row.addWidget(self.folder, 1)
            row.addWidget(browse)
            self.daily = QSpinBox(objectName="backup_daily", minimum=1, maximum=365, value=settings.daily)
            self.monthly = QSpinBox(objectName="backup_monthly", minimum=0, maximum=120, value=settings.monthly)
            self.form.add_field("backup_enabled", "自动备份", self.enabled)
            self.form.add_field("backup_folder", "备份文件夹", folder_box)
            self.form.add_field("backup_daily", "保留每日备份（天）", self.daily)
            self.form.add_field("backup_monthly", "保留每月备份（月）", self.monthly)
            layout.addLayout(self.form)
        self.table = QTableWidget(0, len(COLUMNS), objectName="backup_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        read_only(self.table)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self.show_summary)
        self.summary = QLabel(objectName="backup_summary", wordWrap=True)
        buttons = QHBoxLayout()
        self.save_button = QPushButton("保存设置", objectName="backup_save")
        self.backup_button = QPushButton("立即备份", objectName="backup_now")
        self.restore_button = QPushButton("用所选备份恢复…", objectName="backup_restore")
        for button, shown in ((self.save_button, manage), (self.backup_button, manage),
                              (self.restore_button, can_restore)):
            button.setVisible(shown)
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.save_button.clicked.connect(self.save)
        self.backup_button.clicked.connect(self.backup_now)
        self.restore_button.clicked.connect(lambda: self.restore())
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.status)
        self.reload()

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "选择备份文件夹", self.folder.text())
        if chosen:
            self.folder.setText(chosen)

    def reload(self) -> None:
        """Read the settings and the list of backups (off the GUI thread)."""
        if self.path is None:
            return
        ops.status(self, self.clinic, self.path).success(self._show).failure(
            lambda e: self.status.setText(error_text(e))).run()

    def _show(self, found: ops.Backups) -> None:
        if self.manage and not self._form_filled:  # once: later reloads keep what is being typed
            self._form_filled = True
            settings = found.settings
            self.enabled.setChecked(settings.enabled)
            self.folder.setText(settings.folder)
            self.folder.setPlaceholderText(f"留空：{found.folder}")
            self.daily.setValue(settings.daily)
            self.monthly.setValue(settings.monthly)
        self.folder_path = found.folder
        self.infos = found.infos
        self.table.setRowCount(len(self.infos))
        for r, info in enumerate(self.infos):
            for c, text in enumerate([f"{info.taken_at:%Y-%m-%d %H:%M:%S}", info.label, _size(info.size)]):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.summary.setText(f"备份文件夹：{self.folder_path}　共 {len(self.infos)} 个备份" if self.infos
                             else f"备份文件夹：{self.folder_path}　还没有备份")

    def current(self) -> BackupInfo | None:
        row = self.table.currentRow()
        return self.infos[row] if 0 <= row < len(self.infos) else None

    def show_summary(self) -> None:
        info = self.current()
        if info is None:
            return
        ops.describe(self, info.path).success(lambda s: self._summary(info, s)).failure(
            lambda e: self.summary.setText(error_text(e))).run()

    def _summary(self, info: BackupInfo, s: BackupSummary) -> None:
        if info is not self.current():  # another row was chosen meanwhile
            return
        counts = "、".join(f"{label} {value:,}" for label, value in (
            ("顾客", s.customers), ("到诊", s.visits), ("收费单", s.orders), ("收据", s.receipts))
            if value is not None)
        last = f"　最后营业日 {s.last_business_date:%Y-%m-%d}" if s.last_business_date else ""
        self.summary.setText(f"{s.taken_at:%Y-%m-%d %H:%M:%S} 的{info.label}：{counts}{last}"
                             f"　数据库版本 {s.revision or '未知'}")

    def save(self) -> None:
        self.form.clear_errors()
        settings = BackupSettings(self.folder.text(), self.daily.value(), self.monthly.value(),
                                  self.enabled.isChecked())
        ops.save_settings(self, self.clinic, self.actor, settings).success(self._saved).failure(
            self._refused).run()

    def _saved(self, _saved: BackupSettings) -> None:
        self.status.setText("备份设置已保存")
        self.reload()

    def _refused(self, error: Exception) -> None:
        if isinstance(error, ValidationError):
            self.status.setText("；".join(self.form.show_errors(error.errors)))
        else:
            self.status.setText(error_text(error))

    def backup_now(self) -> None:
        self.status.setText("正在备份并校验…")

        def done(info: BackupInfo) -> None:
            self.reload()
            self.status.setText(f"备份完成并已校验：{info.path.name}（{_size(info.size)}）")

        def failed(exc: Exception) -> None:
            self.status.setText(f"备份失败：{error_text(exc)}")

        ops.backup_now(self, self.clinic, self.actor).success(done).failure(failed).busy(self.backup_button).run()

    @staticmethod
    def confirmation(info: BackupInfo, losses: RestoreLosses | Exception) -> str:
        """The restore question: which backup, and what the current data holds that it does not."""
        head = f"用 {info.taken_at:%Y-%m-%d %H:%M:%S} 的{info.label}替换现在的全部数据？"
        if isinstance(losses, Exception):
            lost = f"\n\n无法比较现在的数据和这个备份（{error_text(losses)}）：备份之后的收据、顾客和日结都会丢失。"
        else:
            lost = ("\n\n备份之后没有新的收据、顾客、到诊或日结。" if losses.nothing else
                    "\n\n恢复后，备份之后的这些数据将丢失：\n" + "\n".join(f"· {line}" for line in losses.lines())
                    + "\n以及备份之后对已有资料的修改。")
        return (head + lost + "\n\n现在的数据会先备份一份（恢复前备份），收据号接着现在的往下编，不会重复。"
                "恢复后程序将关闭，请重新打开。")

    def restore(self, *, confirm: bool = True) -> None:
        """Replace the clinic's data with the selected backup (the current data is backed up first).
        The answer is ``outcome`` (and ``restored`` on success)."""
        info = self.current()
        if info is None:
            self.status.setText("请先在列表中选择一个备份")
            self.outcome = False
            return
        self.outcome = None
        if not confirm:
            self._restore(info)
            return
        ops.restore_losses(self, self.clinic, self.actor, info.path).success(
            lambda losses: self._ask(info, losses)).failure(lambda e: self._ask(info, e)).busy(
            self.restore_button).run()

    def _ask(self, info: BackupInfo, losses: RestoreLosses | Exception) -> None:
        if not messages.ask(self, "恢复备份", self.confirmation(info, losses)):
            self.outcome = False
            return
        self._restore(info)

    def _restore(self, info: BackupInfo) -> None:
        def done(safety: Path | None) -> None:
            name = safety.name if safety else ""
            self.outcome = True
            self.status.setText(f"已恢复到 {info.taken_at:%Y-%m-%d %H:%M:%S} 的备份；恢复前的数据已备份为 {name}")
            self.restored.emit(name)

        def failed(exc: Exception) -> None:
            self.outcome = False
            self.status.setText(f"恢复失败：{error_text(exc)}")

        self.status.setText("正在恢复…")
        ops.restore(self, self.clinic, self.actor, info.path).success(done).failure(failed).run()
