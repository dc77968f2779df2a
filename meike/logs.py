"""The program's log: a rotating file in the data folder's ``logs/``, fatal errors, uncaught thread errors.

Personal data stays out of it: messages name ids, never names or numbers, and the database engine
hides statement parameters from its errors (``meike.db.make_engine``). The folder is 0700 and every log
file 0600 on POSIX (``meike.paths``), the rotated ones too.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import threading
from collections.abc import Callable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import IO

from meike.paths import FILE_MODE, private_dir, private_file

LOG_FILE = "meike.log"
FAULT_FILE = "faults.log"
FORMAT = "%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s"
MAX_BYTES, BACKUP_COUNT = 2_000_000, 5

log = logging.getLogger(__name__)
_fault_file: IO[str] | None = None
_handler: PrivateRotatingFileHandler | None = None
ThreadErrorListener = Callable[[threading.ExceptHookArgs], None]
_thread_listeners: list[ThreadErrorListener] = []


class PrivateRotatingFileHandler(RotatingFileHandler):
    """A rotating log whose files are their owner's only (POSIX 0600): each new file is made so before
    the first line goes in."""

    def _open(self):  # type: ignore[no-untyped-def]  # the base's return type differs by Python version
        _touch_private(Path(self.baseFilename))
        return super()._open()


def _touch_private(path: Path) -> None:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, FILE_MODE))
    except OSError:
        pass  # the handler's own open says what is wrong
    private_file(path)


def setup(folder: Path, *, name: str = LOG_FILE, level: int = logging.INFO) -> Path:
    """Log to ``folder/name`` (2 MB × 6 files), fatal crashes to ``folder/faults.log``; returns the log.

    One process writes one file: the program names it after its database (one Meike per database runs
    on a PC), so rotating never renames a file another process holds open (Windows refuses that)."""
    global _fault_file, _handler
    private_dir(folder)
    path = folder / name
    root = logging.getLogger()
    if _handler is None or Path(_handler.baseFilename) != path.resolve():
        if _handler is not None:
            root.removeHandler(_handler)
            _handler.close()
        _handler = PrivateRotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8")
        _handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(_handler)
    if root.level == logging.NOTSET or root.level > level:
        root.setLevel(level)
    for noisy in ("sqlalchemy.engine", "apscheduler.executors.default", "apscheduler.scheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if _fault_file is None:  # a segfault in Qt or a driver: Python's traceback of every thread
        _touch_private(folder / FAULT_FILE)
        _fault_file = open(folder / FAULT_FILE, "a", encoding="utf-8")  # noqa: SIM115 (open for the process)
        faulthandler.enable(file=_fault_file, all_threads=True)
    threading.excepthook = thread_excepthook
    return path


def log_file() -> Path | None:
    return Path(_handler.baseFilename) if _handler is not None else None


def on_thread_error(listener: ThreadErrorListener) -> None:
    """Also tell ``listener`` (the window's crash dialog) about an uncaught error in a thread."""
    if listener not in _thread_listeners:
        _thread_listeners.append(listener)


def thread_excepthook(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    log.error("uncaught error in thread %s", name,
              exc_info=(args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback))
    for listener in list(_thread_listeners):
        try:
            listener(args)
        except Exception:  # noqa: BLE001 (a listener's own failure must not hide the first one)
            log.exception("thread error listener failed")


def shutdown() -> None:
    """Stop writing the log and fatal errors to their files (tests; the program keeps them to its end)."""
    global _fault_file, _handler
    if _handler is not None:
        logging.getLogger().removeHandler(_handler)
        _handler.close()
        _handler = None
    if _fault_file is not None:
        faulthandler.disable()
        _fault_file.close()
        _fault_file = None
    threading.excepthook = threading.__excepthook__
    _thread_listeners.clear()
