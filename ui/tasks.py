"""Running service calls off the GUI thread and handing results back on it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject
from sqlalchemy.exc import DBAPIError

from meike.db import NOT_SAVED, storage_error
from meike.errors import MeikeError, StorageError
from ui.taskman import Lane, manager

log = logging.getLogger(__name__)


class UnexpectedError(MeikeError):
    """A programming error or a library's failure, shown in words; its details are in the log."""


def user_error(exc: Exception) -> Exception:
    """What a window may show of a failure: the services' and the devices' own errors (in Chinese) as
    they are; a database error in words; anything else logged with its traceback and said in general
    terms (never an exception's English text on screen)."""
    if isinstance(exc, MeikeError) or type(exc).__module__.startswith(("devices.", "meike.ports")):
        return exc
    if isinstance(exc, DBAPIError):
        log.warning("database error in a background job", exc_info=exc)
        known = storage_error(exc)
        return known if known is not None else StorageError(f"读写数据库时出错，{NOT_SAVED}。详细情况已写入日志")
    log.error("unexpected error in a background job", exc_info=exc)
    return UnexpectedError("出现意外错误，刚才的操作没有完成（详细情况已写入日志）。已经保存的数据不受影响")


def error_text(exc: Exception) -> str:
    shown = user_error(exc)
    return shown.message if isinstance(shown, MeikeError) else str(shown)


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None],
                      on_error: Callable[[Exception], None] | None = None, *, owner: QObject | None = None,
                      lane: Lane = Lane.READ) -> None:
    """Run ``fn`` on a lane of the task manager (reads by default); ``on_done`` / ``on_error`` run on
    the GUI thread with the error already in words (``user_error``). With ``owner`` (the widget that
    asked), a result arriving after the owner was destroyed is dropped."""

    def failed(exc: BaseException) -> None:
        shown = user_error(exc) if isinstance(exc, Exception) else UnexpectedError("操作被中断")
        if on_error is not None:
            on_error(shown)

    manager().run(lane, fn, on_done, failed, owner=owner)
