"""Python's cyclic garbage collector runs on the GUI thread only.

Left to itself the collector runs in whichever thread happens to allocate, so a cycle holding a Qt
object (a widget captured by a finished background job's closure, say) can be destroyed from a
worker thread, which crashes Qt. Automatic collection is switched off and a timer on the GUI thread
collects instead: the young generation often (cheap), everything now and then.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GcGuard(QObject):
    def __init__(self, parent: QObject | None = None, *, interval_ms: int = 500, full_every: int = 120) -> None:
        super().__init__(parent)
        self.full_every, self.ticks = full_every, 0
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.collect)
        self.timer.start()

    def collect(self) -> None:
        self.ticks += 1
        gc.collect(2 if self.ticks % self.full_every == 0 else 0)

    def stop(self) -> None:
        self.timer.stop()
        gc.enable()
