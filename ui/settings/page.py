"""系统管理: the dictionaries, promotions, system parameters, this PC's devices, SMS and backups as tabs."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.services.dictionaries import KIND_LABELS, Kind
from ui.pages.base import PageWidget
from ui.settings.callerid import CallerIdSettings
from ui.settings.dictionaries import DictionaryTable
from ui.settings.parameters import SystemParameters
from ui.settings.printer import PrinterSettings
from ui.settings.promotions import PromotionsTab
from ui.settings.sms_channel import SmsChannelSettings
from ui.settings.sms_templates import SmsTemplatesTab


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

    def refresh(self) -> None:
        self._refresh_current(self.tabs.currentIndex())

    def _refresh_current(self, index: int) -> None:
        widget = self.tabs.widget(index)
        if isinstance(widget, DictionaryTable | PromotionsTab | SmsTemplatesTab):
            widget.reload()
