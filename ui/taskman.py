"""The window's one way to do work off the GUI thread (DESIGN.md, Layers; after Anki's ``taskman``).

Three lanes, each a thread pool owned here and nowhere else:

- ``DB``: one worker thread. Every action that writes (a payment, a registration, a reminder done)
  runs here, one after another, so two clicks never race each other into SQLite's write lock and a
  busy database makes the *action* wait, never the window.
- ``READ``: two threads for lists, searches and counts; reads run in parallel with each other and with
  the writer (SQLite in WAL mode, PostgreSQL: both safe).
- ``IO``: printers, devices and files (a network printer that takes 5 s, a serial port).

A job's result or error comes back on the GUI thread. A job whose asking widget was destroyed meanwhile
has its result dropped (the widget is gone; the job's work is not undone). ``wait_idle`` lets tests
and the window's close wait until the lanes are empty while the event loop keeps running.
"""

from __future__ import annotations

import collections
import enum
import logging
import time
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class Lane(enum.Enum):
    DB = "db"
    READ = "read"
    IO = "io"


_THREADS = {Lane.DB: 1, Lane.READ: 2, Lane.IO: 4}


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Job(QRunnable):
    """One piece of work. Its function, result and error are kept on the job, never in the worker's own
    variables, and the job is let go on the GUI thread only (``TaskManager._finished``): a closure that
    holds the last reference to a widget must not destroy it on a worker thread (that crashes Qt)."""

    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the Python side owns it (kept until the GUI thread lets it go)
        self._fn = fn
        self._relay = relay
        self.result: Any = None
        self.error: BaseException | None = None

    def run(self) -> None:  # worker thread: never touch widgets here
        try:
            self.result = self._fn()
        except BaseException as exc:  # noqa: BLE001 (reported to the GUI thread, shown in words there)
            self.error = exc
        self._emit(self._relay.failed if self.error is not None else self._relay.done, self)

    @staticmethod
    def _emit(signal: Any, value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the application quit while the job ran: nobody is waiting any more
            pass


class TaskManager:
    """The lanes and the jobs in flight (one per program)."""

    def __init__(self) -> None:
        self._pools: dict[Lane, QThreadPool] = {}
        for lane, threads in _THREADS.items():
            pool = QThreadPool()
            pool.setMaxThreadCount(threads)
            pool.setExpiryTimeout(-1 if lane is Lane.DB else 30_000)
            self._pools[lane] = pool
        self._live: dict[_Relay, _Job] = {}
        # Finished jobs, let go on the GUI thread a while after they answered (by then their worker has
        # long left run(), so the worker never drops the last reference to what a job's closure holds).
        self._finished: collections.deque[_Job] = collections.deque(maxlen=256)

    def run(self, lane: Lane, fn: Callable[[], Any], on_done: Callable[[Any], None] | None = None,
            on_error: Callable[[BaseException], None] | None = None, *, owner: QObject | None = None) -> None:
        """Run ``fn`` on ``lane``; ``on_done(result)`` or ``on_error(exception)`` later on the GUI thread
        (dropped when ``owner`` was destroyed meanwhile). An error without ``on_error`` is logged."""
        relay = _Relay()

        def finish(callback: Callable[[Any], None] | None, job: _Job, failed: bool) -> None:
            self._finished.append(job)  # the oldest finished job is let go here, on the GUI thread
            self._live.pop(relay, None)
            relay.deleteLater()
            value = job.error if failed else job.result
            if owner is not None and not shiboken6.isValid(owner):
                return
            if callback is None:
                if failed:
                    log.error("background job failed with nobody to tell", exc_info=value)
                return
            callback(value)

        relay.done.connect(lambda job: finish(on_done, job, False))
        relay.failed.connect(lambda job: finish(on_error, job, True))
        job = _Job(fn, relay)
        self._live[relay] = job
        self._pools[lane].start(job)

    def pending(self) -> int:
        """Jobs started whose result has not yet been handed back on the GUI thread."""
        return len(self._live)

    def wait_idle(self, timeout_s: float = 30.0) -> bool:
        """Keep the event loop turning until every job has finished and been handed back (tests, the
        window's close). False if ``timeout_s`` passed first."""
        deadline = time.monotonic() + timeout_s
        app = QCoreApplication.instance()
        while self._live:
            if time.monotonic() > deadline:
                return False
            for pool in self._pools.values():
                pool.waitForDone(5)
            if app is not None:
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 5)
        return True

    def shutdown(self, timeout_ms: int = 5000) -> None:
        for pool in self._pools.values():
            pool.clear()
            pool.waitForDone(timeout_ms)


_manager: TaskManager | None = None


def manager() -> TaskManager:
    global _manager
    if _manager is None:
        _manager = TaskManager()
    return _manager
