"""Starting Meike: ``--check`` and ``--selftest`` print and end without a window; anything else opens it.

Nothing here imports Qt before it is needed, so ``--check`` runs on a server without a display. The
frozen build's console program ``meike-check`` is ``--check`` unless told ``--selftest``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

NO_DISPLAY = ("美客需要图形桌面才能打开窗口：请在桌面会话中启动（或设置 DISPLAY），"
              "只截图或测试时可设置 QT_QPA_PLATFORM=offscreen。")


def display_problem(argv: list[str], environ: dict[str, str] | None = None) -> str | None:
    """Why no window can open here, or None. ``--screenshot`` needs none: it renders offscreen."""
    env = os.environ if environ is None else environ
    if sys.platform in ("win32", "darwin") or env.get("QT_QPA_PLATFORM"):
        return None
    if "--screenshot" in argv:
        env["QT_QPA_PLATFORM"] = "offscreen"
        return None
    if env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"):
        return None
    return NO_DISPLAY


def _console_output() -> None:
    """The windowed Meike.exe has no stdout: for a console command, write to the console it was started
    from (cmd / PowerShell), else to logs/console.txt in the data folder."""
    if sys.stdout is not None and sys.stderr is not None:
        return
    stream = None
    if sys.platform == "win32":
        import ctypes

        if ctypes.windll.kernel32.AttachConsole(-1):  # type: ignore[attr-defined,unused-ignore]  # ATTACH_PARENT_PROCESS
            stream = open("CONOUT$", "w", encoding="utf-8", errors="replace")  # noqa: SIM115 (for the process)
    if stream is None:
        from meike import paths

        stream = open(paths.log_dir() / "console.txt", "w", encoding="utf-8")  # noqa: SIM115
    sys.stdout = sys.stdout or stream
    sys.stderr = sys.stderr or stream


def _is_check_program() -> bool:
    return bool(getattr(sys, "frozen", False)) and Path(sys.executable).stem.lower() == "meike-check"


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--selftest" in args or "--check" in args or _is_check_program():
        _console_output()
    if "--selftest" in args:
        from ui.selftest import selftest_main

        return selftest_main(args)
    if "--check" in args or _is_check_program():
        from meike.cli import check_main

        return check_main(args)
    problem = display_problem(args)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    try:
        from ui.app import run

        return run(args)
    except Exception as exc:  # noqa: BLE001 (before the window could say anything: a folder, a library)
        return _cannot_start(exc)


def check_program(argv: list[str] | None = None) -> int:
    """``meike-check`` (console): ``--check`` unless told ``--selftest``; the pip install's twin of the
    frozen build's meike-check.exe."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--selftest" in args:
        from ui.selftest import selftest_main

        return selftest_main(args)
    from meike.cli import check_main

    return check_main(args)


def _cannot_start(exc: Exception) -> int:
    """Say in Chinese why the program cannot start (no English traceback box), logging what can be."""
    import logging
    import traceback

    logging.getLogger(__name__).critical("cannot start", exc_info=exc)
    if isinstance(exc, OSError) and exc.filename:
        reason = f"无法读写 {exc.filename}（没有权限、文件夹不存在或磁盘已满）。"
    else:
        reason = "程序出现意外错误。"
    text = f"美客无法启动：{reason}\n已经保存的数据没有改动。请联系维护人员。"
    if sys.stderr is not None:
        print(text, file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
    try:
        from PySide6.QtWidgets import QApplication, QMessageBox

        app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 (a box needs one)
        QMessageBox.critical(None, "美客无法启动", text)
    except Exception:  # noqa: BLE001 (no Qt at all: the console line above is all there is)
        pass
    return 2
