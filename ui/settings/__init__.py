"""系统管理, one module per tab: the dictionaries (``dictionaries``, with the entry editor), 促销活动
(``promotions``), 系统参数 (``parameters``), this PC's printer (``printer``) and caller-ID box with
recording (``callerid``), 短信模板 (``sms_templates``) and 短信通道 (``sms_channel``); ``page`` puts them
in tabs. Every read and write goes through ``ui/operations/settings.py``."""

from __future__ import annotations

from ui.settings.callerid import CallerIdSettings
from ui.settings.dictionaries import DictionaryTable
from ui.settings.page import SettingsPage
from ui.settings.parameters import SystemParameters
from ui.settings.printer import PrinterSettings
from ui.settings.promotions import PromotionDialog, PromotionsTab
from ui.settings.sms_channel import SmsChannelSettings
from ui.settings.sms_templates import SmsTemplateDialog, SmsTemplatesTab

__all__ = ["CallerIdSettings", "DictionaryTable", "PromotionDialog", "PromotionsTab", "SettingsPage",
           "PrinterSettings", "SmsChannelSettings", "SmsTemplateDialog", "SmsTemplatesTab", "SystemParameters"]
