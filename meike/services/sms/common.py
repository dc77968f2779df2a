"""What the SMS parts share: labels, limits, the default templates, who may send."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Result

from meike.permissions import Actor, Page
from meike.rules.validation import mask_mobile

KIND_LABELS = {"appointment": "预约提醒", "postop": "术后关怀", "birthday": "生日祝福", "manual": "通知",
               "marketing": "营销群发"}
STATUS_LABELS = {"queued": "待发送", "sending": "发送中", "sent": "已发送", "failed": "失败", "cancelled": "已取消"}
CHANNEL_LABELS = {"none": "未设置", "gsm": "短信猫（GSM 调制解调器）", "aliyun": "阿里云短信", "tencent": "腾讯云短信"}
FIELDS = ("姓名", "日期", "时间", "项目", "诊所")
# Platform template variables: Aliyun ${name} …; Tencent {1} {2} … take them in the body's order.
PLATFORM_NAMES = {"姓名": "name", "日期": "date", "时间": "time", "项目": "item", "诊所": "clinic"}
BACKOFF_MINUTES = (1, 5, 15, 60, 60)
MAX_ATTEMPTS = 6
MAX_TEXT = 300
MAX_SETTING = 200  # one typed setting of the channel (a port, a key id, an address)
MAX_BATCH = 10_000
STALE_SENDING = timedelta(minutes=10)  # a claim older than this was left by a program that stopped
BAUD_RATES = (9600, 19200, 38400, 57600, 115200)
_FIELD_RE = re.compile(r"\{([^{}]*)\}")

DEFAULT_TEMPLATES = [
    ("appointment", "预约提醒", "{姓名}您好，您预约了{日期} {时间}到{诊所}（{项目}），请准时到店。如需改期请来电。"),
    ("postop", "术后关怀", "{姓名}您好，{诊所}提醒您：{项目}术后请保持清洁，避免辛辣饮食和剧烈运动，如有不适请随时来电。"),
    ("birthday", "生日祝福", "{姓名}您好，{诊所}全体员工祝您生日快乐，美丽常驻！"),
    ("manual", "到店通知", "{姓名}您好，{诊所}提醒您："),
    ("marketing", "会员活动", "{姓名}您好，{诊所}本月会员活动开始啦，详情请来电咨询。拒收请回复R"),
]


def _require_send(actor: Actor) -> None:
    actor.require_page(Page.PHONE)


def _require_templates_read(actor: Actor) -> None:
    if not (actor.can_open(Page.PHONE) or actor.can_open(Page.SETTINGS)):
        actor.require_page(Page.SETTINGS)


def _show_number(_actor: Actor, number: str) -> str:
    return mask_mobile(number)  # lists show masked numbers to everyone (a full one only by a logged reveal)


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE statement matched."""
    return int(cast("CursorResult[Any]", result).rowcount)
