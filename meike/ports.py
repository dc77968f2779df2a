"""Ports: what the clinic needs from hardware, as plain data types and small Protocols (DESIGN.md, Layers).

``devices/`` implements them and ``devices.plug()`` plugs its adapters in; the composition root calls it
(``ui/__init__.py`` for the program and its self-test, ``tests/conftest.py`` for the tests). ``meike/``
imports nothing from ``devices/``: a service asks ``adapters()`` for the printer, the SMS senders and the
caller-ID facts it needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

# --- receipt printer ----------------------------------------------------------------------------------

PRINTER_KINDS = {"none": "不打印（生成 PDF）", "network": "网络打印机 (IP:9100)", "serial": "串口",
                 "usb": "USB (VID:PID)", "file": "设备文件 (/dev/usb/lp0)", "win32": "Windows 打印机名称"}


class PrinterError(Exception):
    """The printer could not be opened or did not take the data; the message is shown as it is."""


@dataclass(frozen=True)
class PrinterSetting:
    kind: str = "none"
    target: str = ""
    width_mm: int = 80


# --- caller-ID box ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallerIdSetting:
    """This PC's caller-ID box.

    ``kind`` ``serial``: a modem or a box on ``port`` ('' = none) with, for boxes with their own
    format, a line ``pattern`` and the lines it prints when the handset goes off / on hook.
    ``kind`` ``dll``: a USB box driven by its vendor DLL (``dll_path``, ``family``; Windows only).
    """

    port: str = ""
    pattern: str = ""
    kind: str = "serial"
    dll_path: str = ""
    family: str = "USBBox"
    offhook_pattern: str = ""
    onhook_pattern: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.dll_path.strip()) if self.kind == "dll" else bool(self.port.strip())


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """A custom line pattern; ValueError with a clear message when it is not usable."""
    try:
        compiled = re.compile(pattern)
    except re.error as e:
        raise ValueError(f"行格式不是有效的正则表达式：{e}") from None
    if "number" not in compiled.groupindex:
        raise ValueError("行格式必须包含名为 number 的分组，例如 (?P<number>\\d+)")
    return compiled


# --- SMS ----------------------------------------------------------------------------------------------

ALIYUN_ENDPOINT = "https://dysmsapi.aliyuncs.com/"
TENCENT_ENDPOINT = "https://sms.tencentcloudapi.com/"


class SmsError(Exception):
    """A send failed. ``code``: ``CMS:330``, ``CME:10``, ``TIMEOUT``, ``DISCONNECTED``, a platform code…

    ``message`` is Chinese and shown as it is; ``retryable`` says whether sending the same message again
    later may succeed. ``sent_parts``: parts of a long message that had already gone out (modem only);
    ``detail``: the device's or platform's own words, for the log.
    """

    def __init__(self, code: str, message: str, retryable: bool, *, sent_parts: int = 0,
                 detail: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.retryable = code, message, retryable
        self.sent_parts, self.detail = sent_parts, detail

    def __repr__(self) -> str:
        return f"SmsError({self.code!r}, {self.message!r}, retryable={self.retryable})"


class Modem(Protocol):
    """A GSM modem (短信猫) on a serial port."""

    def send(self, number: str, text: str) -> list[int]: ...  # message references; raises SmsError

    def test_connection(self) -> str: ...

    def close(self) -> None: ...


class Platform(Protocol):
    """An SMS platform's client (阿里云, 腾讯云): approved templates only."""

    def send(self, phone: str, template: str, params: Mapping[str, str] | None = None) -> str: ...


# --- what devices/ plugs in ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Adapters:
    print_raw: Callable[[PrinterSetting, bytes], None]  # raises PrinterError
    sms_parts: Callable[[str], int]  # how many SMS a text needs (what the operator bills)
    modem: Callable[..., Modem]  # (port, *, baudrate, timeout, send_timeout)
    aliyun: Callable[..., Platform]  # (key_id, secret, sign, *, endpoint)
    tencent: Callable[..., Platform]  # (secret_id, secret_key, app_id, sign, *, endpoint)
    callerid_families: Collection[str]  # the USB boxes' vendor DLL families
    dll_problem: Callable[[str], str | None]  # why a caller-ID DLL will not be loaded, or None


_plugged: list[Adapters] = []


def plug(adapters: Adapters) -> None:
    """The composition root plugs the adapters in (again: the newest wins)."""
    _plugged[:] = [adapters]


def adapters() -> Adapters:
    if not _plugged:
        raise RuntimeError("no device adapters plugged in: the composition root calls devices.plug()")
    return _plugged[0]
