"""Python's cyclic garbage collector runs on the GUI thread only.

Left to itself the collector runs in whichever thread happens to allocate, so a cycle holding a Qt
object (a widget captured by a finished background job's closure, say) can be destroyed from a
worker thread, which crashes Qt. Automatic collection is switched off and a timer on the GUI thread
collects instead: the young generation often (cheap), everything now and then.

Everything alive once the window is up (modules, classes, the database mappings, the window itself)
is moved out of the collector's view (``settle_heap``, ``gc.freeze``): the full pass then scans only what
came after, and stays well under the 50 ms a window may pause (73 ms at 1M customers without it,
bench/responsiveness.py ``ui_full_gc_ms``).
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


def settle_heap() -> None:
    """Once the main window is up: collect what startup left, then freeze what is alive now (it lives as
    long as the program), so later full passes do not scan it again."""
    gc.collect()
    gc.freeze()
