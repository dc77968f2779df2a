"""Settings of this PC (not of the clinic): which receipt printer and caller-ID box are attached to it,
and the Chinese font its receipt PDFs embed.

Kept as JSON in the user's config directory, so each workstation of a clinic has its own printer
(the file is its owner's only on POSIX: ``meike.paths.write_private``).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from meike import paths, pdf_fonts
from meike.errors import ValidationError
from meike.ports import PRINTER_KINDS as KINDS
from meike.ports import CallerIdSetting, PrinterSetting, adapters, compile_pattern

CALLERID_KINDS = {"serial": "串口 / USB 调制解调器或文本来电盒", "dll": "USB 录音盒（厂商驱动 DLL，仅 Windows）"}


def _file() -> Path:
    return paths.config_dir() / "workstation.json"


def printer_setting() -> PrinterSetting:
    raw = _load().get("printer", {})
    try:
        return PrinterSetting(str(raw.get("kind", "none")), str(raw.get("target", "")), int(raw.get("width_mm", 80)))
    except (ValueError, TypeError, AttributeError):
        return PrinterSetting()


def save_printer_setting(kind: str, target: str, width_mm: int, *, check: bool = False) -> PrinterSetting:
    """Save this PC's receipt printer. ``check``: validate only, write nothing."""
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
    if not check:
        _store("printer", {"kind": kind, "target": setting.target, "width_mm": width_mm})
    return setting


def pdf_font_setting() -> str:
    """The font file set for this PC's receipt and label PDFs; '' means automatic."""
    raw = _load().get("pdf_font", {})
    return str(raw.get("path", "")) if isinstance(raw, dict) else ""


def save_pdf_font_setting(path: str, *, check: bool = False) -> str:
    """Set the PDF font file ('' for automatic). It must exist and be a Chinese TrueType font that
    reportlab can embed (Noto CJK / Source Han have PostScript outlines and are refused).
    ``check``: validate only, write nothing. Loads the font (a fraction of a second, once per file)."""
    path = path.strip().strip('"').strip()  # Windows' "copy as path" adds quotes
    if path:
        problem = pdf_fonts.font_problem(path)
        if problem is not None:
            raise ValidationError({"pdf_font": problem})
    if not check:
        _store("pdf_font", {"path": path})
    return path


def pdf_font_file() -> Path | None:
    """The font this PC's PDFs embed: the one set here when usable, else one found on the system,
    else None (STSong-Light, not embedded). The first call searches: call it off the GUI thread."""
    return pdf_fonts.font_for(pdf_font_setting())


def _load() -> dict[str, Any]:
    try:
        data = json.loads(_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _store(key: str, value: dict[str, Any]) -> None:
    path = _file()
    data = _load()
    data[key] = value
    paths.private_dir(path.parent)
    paths.write_private(path, json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8"))  # 0600


def callerid_setting() -> CallerIdSetting:
    """This PC's caller-ID box (来电盒); an empty port (or DLL) means none is attached."""
    raw = _load().get("callerid", {})
    if not isinstance(raw, dict):
        return CallerIdSetting()
    fields = {f: str(raw.get(f, default)) for f, default in (
        ("port", ""), ("pattern", ""), ("kind", "serial"), ("dll_path", ""), ("family", "USBBox"),
        ("offhook_pattern", ""), ("onhook_pattern", ""))}
    if fields["kind"] not in CALLERID_KINDS:
        fields["kind"] = "serial"
    return CallerIdSetting(**fields)


def save_callerid_setting(port: str, pattern: str = "", *, kind: str = "serial", dll_path: str = "",
                          family: str = "USBBox", offhook_pattern: str = "", onhook_pattern: str = "",
                          check: bool = False) -> CallerIdSetting:
    """Save the caller-ID box. Patterns must compile (the caller's line must name a ``number`` group).
    ``check``: validate only, write nothing."""
    devices = adapters()

    errors: dict[str, str] = {}
    pattern, offhook_pattern, onhook_pattern = pattern.strip(), offhook_pattern.strip(), onhook_pattern.strip()
    if kind not in CALLERID_KINDS:
        errors["callerid_kind"] = "请选择来电盒类型"
    if pattern:
        try:
            compile_pattern(pattern)
        except ValueError as e:
            errors["callerid_pattern"] = str(e)
    for key, value in (("callerid_offhook", offhook_pattern), ("callerid_onhook", onhook_pattern)):
        if value:
            try:
                re.compile(value)
            except re.error as e:
                errors[key] = f"不是有效的正则表达式：{e}"
    if kind == "dll":
        if family not in devices.callerid_families:
            errors["callerid_family"] = "请选择来电盒型号"
        if not dll_path.strip():
            errors["callerid_dll"] = "请填写厂商驱动 DLL 的位置"
        elif (untrusted := devices.dll_problem(dll_path.strip())) is not None:
            errors["callerid_dll"] = untrusted
    if errors:
        raise ValidationError(errors)
    setting = CallerIdSetting(port.strip(), pattern, kind, dll_path.strip(), family, offhook_pattern, onhook_pattern)
    if not check:
        _store("callerid", asdict(setting))
    return setting


RECORDING_MODES = {"none": "不录音", "box": "来电盒自带录音", "linein": "电脑线路输入（声卡）"}


@dataclass(frozen=True)
class RecordingSetting:
    """How this PC records calls: not at all, by the box (it reports each file), or from line-in."""

    mode: str = "none"
    device: int | None = None  # the sound card's input (None: the system default)
    folder: str = ""  # '' = the recordings folder beside the clinic's data
    silence_s: int = 8  # line-in: seconds of silence that end a call

    def folder_path(self) -> Path:
        return Path(self.folder) if self.folder.strip() else paths.data_dir() / "recordings"


def recording_setting() -> RecordingSetting:
    raw = _load().get("recording", {})
    if not isinstance(raw, dict):
        return RecordingSetting()
    try:
        device = raw.get("device")
        return RecordingSetting(str(raw.get("mode", "none")) if raw.get("mode") in RECORDING_MODES else "none",
                                int(device) if device is not None else None, str(raw.get("folder", "")),
                                int(raw.get("silence_s", 8)))
    except (TypeError, ValueError):
        return RecordingSetting()


def save_recording_setting(mode: str, device: int | None = None, folder: str = "",
                           silence_s: int = 8, *, check: bool = False) -> RecordingSetting:
    """Save how this PC records calls; the folder must be writable. ``check``: validate only."""
    errors: dict[str, str] = {}
    if mode not in RECORDING_MODES:
        errors["recording_mode"] = "请选择录音方式"
    if not 3 <= silence_s <= 60:
        errors["recording_silence"] = "静音挂断时间应在 3 到 60 秒之间"
    folder = folder.strip()
    if mode != "none" and folder:
        target = Path(folder)
        try:
            paths.private_dir(target, tighten=False)  # made here: 0700 / the PC's users only (Windows)
            probe = target / ".meike-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            errors["recording_folder"] = f"录音文件夹不能写入：{e.strerror or e}"
    if errors:
        raise ValidationError(errors)
    setting = RecordingSetting(mode, device if mode == "linein" else None, folder, silence_s)
    if not check:
        _store("recording", asdict(setting))
    return setting


# --- the audit log's anchor on this PC (``meike.services.audit_guard``) --------------------------------

_anchor_lock = threading.Lock()


def audit_anchors() -> dict[str, dict[str, Any]]:
    """Per database (``audit_guard.database_key``): the audit chain's end as last seen here, and restores."""
    raw = _load().get("audit_anchors", {})
    return {k: v for k, v in raw.items() if isinstance(v, dict)} if isinstance(raw, dict) else {}


def save_audit_anchor(database: str, entry: dict[str, Any]) -> None:
    with _anchor_lock:
        anchors = audit_anchors()
        anchors[database] = entry
        _store("audit_anchors", anchors)
