"""When something goes wrong that nobody caught: log it, tell the user in Chinese, keep the program going.

``install()`` sets ``sys.excepthook`` (PySide6 calls it for an exception raised in a slot or an
overridden Qt method), listens to uncaught errors of other threads (``meike.logs``) and routes Qt's
own warnings into the log. The dialog says what happened, that what was saved is not lost and where
the log is; 复制详情 copies the technical details (never shown on screen) for whoever maintains it.
"""

from __future__ import annotations

import logging
import platform
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, QtMsgType, Signal, qInstallMessageHandler
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import meike
from meike import logs
from meike.errors import AccountChanged

log = logging.getLogger(__name__)
qt_log = logging.getLogger("qt")

MESSAGE = ("美客遇到了一个意外错误，刚才的操作可能没有完成。\n"
           "已经保存的数据不会丢失，您可以继续使用；如果问题反复出现，请重新启动美客。")


class CrashDialog(QDialog):
    """程序出错: what happened in words, where the log is, and 复制详情 for the technical details."""

    def __init__(self, details: str, log_path: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crash_dialog")
        self.setWindowTitle("程序出错")
        self.details = details
        self.count = 1
        self.answered = False  # until 继续使用 (or closed): later errors are added to this dialog
        self.finished.connect(lambda _result: setattr(self, "answered", True))
        layout = QVBoxLayout(self)
        self.message = QLabel(MESSAGE, objectName="crash_message")
        self.message.setWordWrap(True)
        layout.addWidget(self.message)
        where = f"详细情况已记录在日志文件：\n{log_path}" if log_path else "详细情况未能写入日志文件。"
        self.where = QLabel(where, objectName="crash_log_path")
        self.where.setWordWrap(True)
        self.where.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.where)
        self.repeats = QLabel("", objectName="crash_repeats")
        self.repeats.hide()
        layout.addWidget(self.repeats)
        buttons = QDialogButtonBox(objectName="crash_buttons")
        self.copy_button = QPushButton("复制详情", objectName="crash_copy")
        self.copy_button.setToolTip("把技术细节复制到剪贴板，发给维护人员")
        self.copy_button.clicked.connect(self.copy_details)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        ok = buttons.addButton("继续使用", QDialogButtonBox.ButtonRole.AcceptRole)
        ok.setObjectName("crash_ok")
        ok.setDefault(True)
        buttons.accepted.connect(self.accept)
        layout.addWidget(buttons)
        self.setMinimumWidth(440)

    def again(self, details: str) -> None:
        """Another error while the dialog is open: counted, its details added."""
        self.count += 1
        self.details += "\n\n" + details
        self.repeats.setText(f"之后又发生了 {self.count - 1} 次错误。")
        self.repeats.show()

    def copy_details(self) -> None:
        QApplication.clipboard().setText(self.details)
        self.copy_button.setText("已复制")


def describe(exc_type: type[BaseException], value: BaseException, tb: TracebackType | None) -> str:
    """The technical details: version, system, thread and the traceback."""
    lines = [f"美客 {meike.__version__}  Python {platform.python_version()}  {platform.platform()}",
             f"线程：{threading.current_thread().name}", ""]
    lines += traceback.format_exception(exc_type, value, tb)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines).rstrip()


class CrashReporter(QObject):
    """Shows one crash dialog at a time on the GUI thread, whichever thread the error came from."""

    reported = Signal(str)

    def __init__(self, app: QApplication) -> None:
        super().__init__(app)
        self.dialog: CrashDialog | None = None
        self.reported.connect(self._show)

    def excepthook(self, exc_type: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, value, tb)
            return
        if issubclass(exc_type, AccountChanged):  # no error: the main window logs the user out and says why
            log.info("the account changed since the login: logging out")
            return
        log.critical("uncaught error", exc_info=(exc_type, value, tb))
        self.reported.emit(describe(exc_type, value, tb))

    def thread_error(self, args: threading.ExceptHookArgs) -> None:
        """Another thread (already logged by ``meike.logs``)."""
        if issubclass(args.exc_type, AccountChanged):
            return
        value = args.exc_value or args.exc_type()
        self.reported.emit(describe(args.exc_type, value, args.exc_traceback))

    def _show(self, details: str) -> None:
        dialog = self.dialog
        if dialog is not None and shiboken6.isValid(dialog) and not dialog.answered:
            dialog.again(details)  # on screen, or held back by the idle lock until the unlock
            return
        parent = QApplication.activeWindow()
        self.dialog = dialog = CrashDialog(details, logs.log_file(), parent)
        dialog.finished.connect(lambda _result: QTimer.singleShot(0, self._end_if_windowless))
        dialog.open()

    def _end_if_windowless(self) -> None:
        """After the dialog: a program that keeps running with no window at all (its login or main window
        failed) ends instead of staying on invisibly, holding the clinic's database."""
        app = QApplication.instance()
        if not isinstance(app, QApplication) or app.quitOnLastWindowClosed():
            return  # Qt ends the program by itself when the last window closes
        if not any(w.isVisible() and w is not self.dialog for w in QApplication.topLevelWidgets()
                   if isinstance(w, (QMainWindow, QDialog))):
            log.warning("no window is left after an error: the program ends")
            app.quit()


def report_fatal(exc_type: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
    """An error the program cannot go on after (its window could not be built): logged, then the dialog,
    waited for, so the caller can end the program instead of running on without a window."""
    if exc_type is None or value is None:
        return
    log.critical("fatal error", exc_info=(exc_type, value, tb))
    dialog = CrashDialog(describe(exc_type, value, tb), logs.log_file())
    dialog.message.setText("美客遇到了一个意外错误，无法打开主窗口，程序将关闭。\n已经保存的数据不会丢失。")
    dialog.exec()


def _qt_message(kind: QtMsgType, context: object, message: str) -> None:
    level = {QtMsgType.QtDebugMsg: logging.DEBUG, QtMsgType.QtInfoMsg: logging.INFO,
             QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
             QtMsgType.QtFatalMsg: logging.CRITICAL}.get(kind, logging.WARNING)
    qt_log.log(level, "%s", message)


def install(app: QApplication) -> CrashReporter:
    """Route uncaught errors (GUI thread and others) and Qt's messages to the log and the crash dialog."""
    reporter: CrashReporter | None = getattr(app, "crash_reporter", None)
    if reporter is None:
        reporter = CrashReporter(app)
        app.crash_reporter = reporter  # type: ignore[attr-defined]
    logs.on_thread_error(reporter.thread_error)
    qInstallMessageHandler(_qt_message)
    sys.excepthook = reporter.excepthook
    return reporter
