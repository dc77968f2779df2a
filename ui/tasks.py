"""Running service calls off the GUI thread and handing results back on it."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal


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
        except Exception as exc:  # reported to the GUI thread, shown there
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self._emit(self._relay.failed, exc)
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
