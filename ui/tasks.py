"""Running service calls off the GUI thread and handing results back on it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from sqlalchemy.exc import DBAPIError

from meike.db import NOT_SAVED, storage_error
from meike.errors import MeikeError, StorageError

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


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._fn = fn
        self._relay = relay

    def run(self) -> None:  # worker thread: never touch widgets here
        try:
            result = self._fn()
        except Exception as exc:  # reported to the GUI thread in words, shown there
            self._emit(self._relay.failed, user_error(exc))
        else:
            self._emit(self._relay.done, result)

    @staticmethod
    def _emit(signal: Any, value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the application quit while the job ran: nobody is waiting any more
            pass


_live: set[_Relay] = set()


def run_in_background(fn: Callable[[], Any], on_done: Callable[[Any], None],
                      on_error: Callable[[Exception], None] | None = None, *, owner: QObject | None = None) -> None:
    """Run ``fn`` on the shared thread pool; ``on_done`` / ``on_error`` run on the GUI thread.

    With ``owner`` (the widget that asked), a result arriving after the owner was destroyed is dropped.
    The relay itself stays alive until the job ends, so the worker never emits on a deleted object.
    """
    relay = _Relay()
    _live.add(relay)

    def finish(callback: Callable[[Any], None] | None, value: Any) -> None:
        _live.discard(relay)
        relay.deleteLater()
        if callback is None or (owner is not None and not shiboken6.isValid(owner)):
            return
        callback(value)

    relay.done.connect(lambda value: finish(on_done, value))
    relay.failed.connect(lambda exc: finish(on_error, exc))
    QThreadPool.globalInstance().start(_Job(fn, relay))
