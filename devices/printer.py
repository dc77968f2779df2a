"""ESC/POS receipt printers through python-escpos: network (port 9100), serial, USB, a file / device
node, or a Windows printer queue. ``open_printer`` turns the workstation's printer setting into a
printer object; the receipt bytes themselves come from ``meike.receipts``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from meike.ports import PRINTER_KINDS, PrinterError, PrinterSetting

if TYPE_CHECKING:
    from escpos.escpos import Escpos

KINDS = PRINTER_KINDS


def open_printer(setting: PrinterSetting) -> Escpos:
    """A connected printer for ``setting``; PrinterError with a clear message when it cannot be reached."""
    target = setting.target.strip()
    try:
        if setting.kind == "network":
            host, _, port = target.partition(":")
            from escpos.printer import Network

            return Network(host, int(port or 9100), timeout=5)
        if setting.kind == "serial":
            dev, _, baud = target.partition(":")
            from escpos.printer import Serial

            return Serial(devfile=dev, baudrate=int(baud or 9600), timeout=2)
        if setting.kind == "usb":
            vid, _, pid = target.partition(":")
            from escpos.printer import Usb

            return Usb(int(vid, 16), int(pid, 16))
        if setting.kind == "file":
            from escpos.printer import File

            return File(target)
        if setting.kind == "win32":
            from escpos.printer import Win32Raw

            return Win32Raw(target)
    except PrinterError:
        raise
    except ValueError:
        raise PrinterError(f"打印机地址格式不对：{target or '（空）'}") from None
    except Exception as e:  # the library raises its own device errors, OSError, usb.core errors …
        raise PrinterError(f"无法连接打印机 {target}：{e}") from e
    raise PrinterError("没有设置小票打印机")


def send(setting: PrinterSetting, data: bytes) -> None:
    printer = open_printer(setting)
    try:
        printer._raw(data)
    except Exception as e:
        raise PrinterError(f"打印失败：{e}") from e
    finally:
        try:
            printer.close()
        except Exception:  # noqa: S110 - closing a broken connection may fail again; the error above counts
            pass
