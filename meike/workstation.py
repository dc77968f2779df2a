"""Settings of this PC (not of the clinic): which receipt printer and caller-ID box are attached to it.

Kept as JSON in the user's config directory, so each workstation of a clinic has its own printer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from devices.callerid import CallerIdSetting, compile_pattern
from devices.printer import KINDS, PrinterSetting
from meike import paths
from meike.errors import ValidationError


def _file() -> Path:
    return paths.config_dir() / "workstation.json"


def printer_setting() -> PrinterSetting:
    try:
        data = json.loads(_file().read_text(encoding="utf-8"))
        raw = data.get("printer", {})
        return PrinterSetting(str(raw.get("kind", "none")), str(raw.get("target", "")), int(raw.get("width_mm", 80)))
    except (OSError, ValueError, AttributeError):
        return PrinterSetting()


def save_printer_setting(kind: str, target: str, width_mm: int) -> PrinterSetting:
    errors: dict[str, str] = {}
    if kind not in KINDS:
        errors["printer_kind"] = "请选择打印机类型"
    if width_mm not in (58, 80):
        errors["printer_width"] = "纸宽只能是 58 或 80 毫米"
    if kind != "none" and not target.strip():
        errors["printer_target"] = "请填写打印机地址"
    if errors:
        raise ValidationError(errors)
    setting = PrinterSetting(kind, target.strip(), width_mm)
    path = _file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data["printer"] = {"kind": kind, "target": setting.target, "width_mm": width_mm}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return setting


def callerid_setting() -> CallerIdSetting:
    """This PC's caller-ID box (来电盒); an empty port means none is attached."""
    try:
        raw = json.loads(_file().read_text(encoding="utf-8")).get("callerid", {})
        return CallerIdSetting(str(raw.get("port", "")), str(raw.get("pattern", "")))
    except (OSError, ValueError, AttributeError):
        return CallerIdSetting()


def save_callerid_setting(port: str, pattern: str = "") -> CallerIdSetting:
    """Save the caller-ID port and line pattern; a pattern must compile and name a ``number`` group."""
    pattern = pattern.strip()
    if pattern:
        try:
            compile_pattern(pattern)
        except ValueError as e:
            raise ValidationError({"callerid_pattern": str(e)}) from None
    setting = CallerIdSetting(port.strip(), pattern)
    path = _file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data["callerid"] = {"port": setting.port, "pattern": setting.pattern}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return setting
