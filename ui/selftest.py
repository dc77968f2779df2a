"""``Meike --selftest``: every part that a frozen build can be missing, tried inside the program itself.

One line per part (通过 / 失败 and why), exit status 1 when any part failed. PyInstaller only packs
what it can see imported; what a library loads by name or from a data file (a page, a barcode
module, the printers' capability file, a serial URL handler, a time zone, a database driver, Qt's
translations) shows up missing only when it is used, at a clinic. This runs each of them.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path


@dataclass(frozen=True)
class PartResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'通过' if self.ok else '失败'}  {self.name}{'：' + self.detail if self.detail else ''}"


def _database(work: Path) -> str:
    from alembic import command

    from meike.clinic_setup import upgrade
    from meike.db import Clinic, sqlite_url
    from meike.db.migrate import current_revision, head_revision, run

    clinic = Clinic.open(sqlite_url(work / "selftest.sqlite3"))
    try:
        run(clinic, command.upgrade, "0001")
        first = current_revision(clinic)
        upgrade(clinic, backup_dir=work / "backups")
        last = current_revision(clinic)
    finally:
        clinic.dispose()
    if first != "0001" or last != head_revision():
        raise RuntimeError(f"迁移停在 {last}")
    return f"{first} → {last}"


def _sample_receipt() -> object:
    from meike.receipts import ReceiptData, ReceiptLine, ReceiptTender

    return ReceiptData(
        clinic_name="美客示范诊所", receipt_no="R20261207-0001", business_date=date(2026, 12, 7),
        printed_at=datetime(2026, 12, 7, 10, 30), kind_label="收费收据", customer_name="自检顾客",
        card_no="A0001", cashier="收银员", lines=[ReceiptLine("双眼皮手术", 1, 880000, 0, 880000)],
        total_fen=880000, discount_fen=0, tenders=[ReceiptTender("微信", 880000)], arrears_fen=0)


def _receipt_pdf(work: Path) -> str:
    from meike import pdf_fonts, receipts

    font = pdf_fonts.system_font()  # a clinic PC's own Chinese TrueType font, embedded in the PDF
    path = receipts.render_pdf(_sample_receipt(), work / "receipt.pdf", font_file=font)  # type: ignore[arg-type]
    data = path.read_bytes()
    if not data.startswith(b"%PDF") or len(data) < 1000:
        raise RuntimeError("PDF 文件不完整")
    if font is not None and b"/FontFile2" not in data:
        raise RuntimeError(f"字体 {font.name} 没有嵌入")
    return f"{len(data):,} 字节，字体 {font.name if font else 'STSong-Light（未嵌入：本机没有中文 TrueType 字体）'}"


def _escpos() -> str:
    from escpos.printer import Dummy

    from meike import receipts

    data = receipts.escpos_bytes(_sample_receipt(), 58)  # type: ignore[arg-type]
    if "双眼皮".encode("gb18030") not in data:
        raise RuntimeError("小票内容缺少中文")
    Dummy(profile="TM-T88III")  # the printers' capability file (escpos/capabilities.json)
    return f"{len(data)} 字节"


def _pinyin() -> str:
    from meike.rules.pinyin import initials

    got = initials("张三丰")
    if got != "zsf":
        raise RuntimeError(f"张三丰 → {got}")
    return "张三丰 → zsf"


def _passwords() -> str:
    from argon2 import PasswordHasher

    hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    if not hasher.verify(hasher.hash("自检密码"), "自检密码"):
        raise RuntimeError("校验失败")
    return "argon2id"


def _scheduler() -> str:
    """The program's scheduler as ``ui.app`` makes it (``meike.scheduler.new_scheduler``); the self-test
    runs instead of the program, so this one is the only scheduler of the process."""
    from meike import clock
    from meike.scheduler import new_scheduler

    ran = threading.Event()
    scheduler = new_scheduler()
    scheduler.add_job(ran.set, "interval", seconds=3600, next_run_time=datetime.now(clock.CLINIC_TZ))
    scheduler.add_job(lambda: None, "cron", hour=3)  # triggers are found by name (entry points)
    scheduler.start()
    try:
        if not ran.wait(10):
            raise RuntimeError("定时任务没有运行")
    finally:
        scheduler.shutdown(wait=False)
    return "interval, cron"


def _serial() -> str:
    import serial

    port = serial.serial_for_url("loop://", timeout=1)
    try:
        port.write(b"RING\r\n")
        if port.read(6) != b"RING\r\n":
            raise RuntimeError("loop:// 没有回送数据")
    finally:
        port.close()
    for url in ("socket://127.0.0.1:9", "rfc2217://127.0.0.1:9"):  # their handlers are loaded by name
        serial.serial_for_url(url, do_not_open=True)
    return "loop://, socket://, rfc2217://"


def _time_zone() -> str:
    from importlib.resources import files
    from zoneinfo import ZoneInfo

    # The bundled tzdata itself: Windows has no system time-zone files to fall back on.
    if not (files("tzdata") / "zoneinfo" / "Asia" / "Shanghai").is_file():
        raise RuntimeError("缺少 tzdata 的 Asia/Shanghai")
    offset = datetime(2026, 12, 7, 12, tzinfo=ZoneInfo("Asia/Shanghai")).utcoffset()
    if offset is None or offset.total_seconds() != 8 * 3600:
        raise RuntimeError(f"Asia/Shanghai 偏移 {offset}")
    return "Asia/Shanghai（tzdata）"


def _postgresql() -> str:
    import psycopg
    from sqlalchemy import create_engine

    engine = create_engine("postgresql+psycopg://meike@127.0.0.1:1/meike")  # the dialect, no connection
    engine.dispose()
    return f"psycopg {psycopg.__version__}（{psycopg.pq.__impl__}）"


def _excel() -> str:
    from openpyxl import Workbook, load_workbook

    from meike import excel

    book = Workbook()
    excel.append_row(book.active, ["顾客", "=1+1", 100])
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    sheet = load_workbook(buffer).active
    if sheet["A1"].value != "顾客" or sheet["B1"].value != "=1+1" or sheet["C1"].value != 100:
        raise RuntimeError("读回的内容不对")
    if sheet["B1"].data_type == "f":
        raise RuntimeError("输入的文字被写成了公式")
    return "openpyxl"


def _secret_box(work: Path) -> str:
    from meike import secret_box  # cryptography's Fernet; DPAPI on Windows

    return secret_box.selftest(work)


def _audio() -> str:
    from devices import audio

    sd = audio._sounddevice()  # PortAudio itself: the library is loaded on import
    where = Path(str(getattr(sd, "_libname", "")))
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle and sys.platform in ("win32", "darwin") and Path(bundle) not in where.parents:
        raise RuntimeError(f"PortAudio 不是打包进来的那份：{where}")  # Linux uses libportaudio2
    return str(sd.get_portaudio_version()[1]).split(",")[0]


def _windows_printer() -> str:
    if sys.platform != "win32":
        return "不是 Windows，跳过"
    import win32print  # type: ignore[import-not-found]

    return f"默认打印机：{win32print.GetDefaultPrinter() or '无'}"


def _qt() -> str:
    from PySide6.QtWidgets import QApplication

    from ui.app import icon, install_chinese, make_application

    app = QApplication.instance() or make_application(sys.argv[:1])
    if not install_chinese(app):  # type: ignore[arg-type]
        raise RuntimeError("缺少 qtbase_zh_CN.qm")
    if icon().isNull():
        raise RuntimeError("缺少程序图标")
    from PySide6.QtCore import QLibraryInfo
    from PySide6.QtNetwork import QLocalServer  # single instance

    QLocalServer()
    plugin = {"win32": "qwindows.dll", "darwin": "libqcocoa.dylib"}.get(sys.platform, "libqxcb.so")
    platforms = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    if not (platforms / plugin).is_file():  # the self-test itself may run offscreen: the real one
        raise RuntimeError(f"缺少显示插件 {plugin}")
    return f"Qt {__import__('PySide6').__version__}，中文界面，图标"


def _pages() -> str:
    from ui.pages import import_all

    names = import_all()
    import ui.account_manager  # noqa: F401  (the administrator's window)
    import ui.phone.listener  # noqa: F401
    return f"{len(names)} 个页面"


PARTS: list[tuple[str, Callable[[Path], str]]] = [
    ("数据库迁移（从 0001 开始）", _database),
    ("收据 PDF（中文、条码）", _receipt_pdf),
    ("小票打印 ESC/POS", lambda _w: _escpos()),
    ("拼音首字母", lambda _w: _pinyin()),
    ("密码哈希", lambda _w: _passwords()),
    ("定时任务", lambda _w: _scheduler()),
    ("串口（来电盒、短信猫）", lambda _w: _serial()),
    ("时区", lambda _w: _time_zone()),
    ("PostgreSQL 驱动", lambda _w: _postgresql()),
    ("Excel 导出", lambda _w: _excel()),
    ("加密保存平台密钥", lambda w: _secret_box(w)),
    ("录音（声卡）", lambda _w: _audio()),
    ("Windows 打印机", lambda _w: _windows_printer()),
    ("Qt 界面", lambda _w: _qt()),
    ("所有页面", lambda _w: _pages()),
]


def run_parts(parts: list[tuple[str, Callable[[Path], str]]] | None = None) -> list[PartResult]:
    results: list[PartResult] = []
    with tempfile.TemporaryDirectory(prefix="meike-selftest-") as folder:
        for name, part in parts if parts is not None else PARTS:
            started = time.perf_counter()
            try:
                detail = part(Path(folder))
            except BaseException as exc:  # noqa: BLE001 (a missing module, a missing file: reported, go on)
                results.append(PartResult(name, False, f"{type(exc).__name__}: {exc}"))
                continue
            results.append(PartResult(name, True, f"{detail}（{(time.perf_counter() - started) * 1000:.0f} ms）"))
    return results


def selftest_main(argv: list[str]) -> int:
    """Print one line per part; 0 when all passed."""
    if sys.platform not in ("win32", "darwin") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the Qt part needs no screen
    import meike

    print(f"美客 {meike.__version__} 自检{'（打包版）' if getattr(sys, 'frozen', False) else ''}", flush=True)
    results = run_parts()
    for result in results:
        print(result.line(), flush=True)
    failed = [r for r in results if not r.ok]
    print(f"共 {len(results)} 项，{'全部通过' if not failed else f'{len(failed)} 项失败'}", flush=True)
    return 1 if failed else 0
