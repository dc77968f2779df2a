"""Bridge from the caller-ID adapter's reader thread to the GUI: look the caller up, record, pop up.

Each call is followed from ringing to hang-up (``devices.calltrack.CallTracker``): the call record
gets its answer and end times, missed calls are marked, and the recording is attached — the box's
own file, or this PC's line-in recording, which starts with the call and ends at the hang-up (the
box's on-hook, or the busy tone the recorder hears).

While the window is locked a call is recorded as always, but the pop-up shows only "来电" and the
masked number; the card is looked up and shown after the unlock (``set_locked``).

The call records are written on the task manager's database lane (``ui/operations/phone.py``), in the
order the line reported them, and answered on the GUI thread; each announces what it changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QWidget

from devices.callerid import ONHOOK, RECORDING, Call, LineEvent, SerialCallerId
from devices.calltrack import ANSWERED, ENDED, STARTED, CallChange, CallTracker
from meike import clock
from meike.db import Clinic
from meike.permissions import Actor, Page, Right
from meike.ports import CallerIdSetting
from meike.rules.validation import mask_mobile
from meike.services.phone import CallerCard, normalise_number
from meike.workstation import RecordingSetting
from ui.operations import Op
from ui.operations import phone as ops
from ui.phone.caller_popup import CallerPopup
from ui.taskman import Lane, manager

log = logging.getLogger(__name__)
KEPT_CALLS = 8  # calls whose record id is remembered for later updates (answer, end, recording)


def make_adapter(setting: CallerIdSetting, on_call: Callable[[Call], None], on_error: Callable[[Exception], None],
                 on_event: Callable[[LineEvent], None]) -> Any:
    """The adapter for this PC's box: a serial modem / text box, or a USB box's vendor DLL."""
    if setting.kind == "dll":
        from devices.callerid_dll import DllCallerId

        return DllCallerId(setting.dll_path, on_call, on_error, on_event=on_event, family=setting.family,
                           now=clock.now)
    return SerialCallerId(setting.port, on_call, on_error, pattern=setting.pattern or None, init=not setting.pattern,
                          on_event=on_event, offhook_pattern=setting.offhook_pattern or None,
                          onhook_pattern=setting.onhook_pattern or None, now=clock.now)


class PhoneListener(QObject):
    """Owns the adapter; every call becomes a pop-up and a call record. Nothing here blocks the GUI.

    The adapter calls back on its own thread; the signals below are emitted there and delivered on
    the GUI thread (queued connections), where the lookup is handed to the thread pool.
    """

    call_arrived = Signal(object)  # Call (emitted on the reader thread)
    device_failed = Signal(object)  # Exception (reader thread, or the start job)
    started = Signal(str)  # the caller-ID command the modem accepted ('' for a box without AT commands)
    popup_shown = Signal(object)  # CallerPopup, once filled in and visible
    call_recorded = Signal(int)  # the call record's id
    line_event = Signal(object)  # LineEvent (emitted on the reader, DLL or recorder thread)
    call_changed = Signal(object)  # CallChange, once its record is written

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None,
                 adapter_factory: Callable[..., Any] = make_adapter,
                 recording: RecordingSetting | None = None, audio_backend: Any = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.parent_widget = parent
        self.adapter_factory = adapter_factory
        self.adapter: Any = None
        self.recording = recording or RecordingSetting()
        self.audio_backend = audio_backend  # None: the sound card (sounddevice)
        self.recorder: Any = None  # the line-in recorder of the call in progress
        self.tracker = CallTracker()
        self.popup = CallerPopup(None, can_register=actor.can_open(Page.REGISTRATION),
                                 can_open=actor.can_open(Page.CUSTOMERS))
        self.error: Exception | None = None
        self.closed = False  # answers of the database lane arriving after close() are dropped
        self.locked = False  # the window is locked: calls pop up without their card
        self.waiting: Call | None = None  # the last call that came while locked: its card follows the unlock
        # id(Call) → (Call, its record) of the latest calls. The record's id is set by the insert on the
        # database lane, where the later updates (queued behind it on the one writer) read it. The Call
        # is kept so that its id() is not reused meanwhile.
        self._ids: dict[int, tuple[Call, ops.CallRecord]] = {}
        self.call_arrived.connect(self.handle)
        self.line_event.connect(self.handle_event)
        self.device_failed.connect(self._failed)
        self._clock = QTimer(self, interval=1000)
        self._clock.timeout.connect(lambda: self._changes(self.tracker.tick(clock.now())))
        self._clock.start()

    def start(self, setting: CallerIdSetting) -> None:
        """Open the device in the background; ``started`` / ``device_failed`` tell."""
        self.stop()
        self.tracker = CallTracker(hook_detection=setting.kind == "dll")
        adapter = self.adapter_factory(setting, self.call_arrived.emit, self.device_failed.emit, self.line_event.emit)
        self.adapter = adapter

        def opened(_result: object) -> None:
            self.started.emit(adapter.cid_command or "")

        manager().run(Lane.IO, adapter.start, opened, self.device_failed.emit, owner=self)

    def stop(self) -> None:
        adapter, self.adapter = self.adapter, None
        if adapter is not None:
            adapter.stop()

    def close(self) -> None:
        self.closed = True
        self.stop()
        self._clock.stop()
        self._stop_recorder()
        self.popup.close()
        self.popup.deleteLater()

    def _failed(self, exc: Exception) -> None:
        self.error = exc

    def handle(self, call: Call) -> None:
        """GUI thread: a caller's number arrived (a new call, or the same call reported again)."""
        self._changes(self.tracker.call(call, clock.now()))

    def handle_event(self, event: LineEvent) -> None:
        """GUI thread: the line rang, was picked up or hung up, or the box finished a recording."""
        self._changes(self.tracker.event(event))

    def _changes(self, changes: list[CallChange]) -> None:
        for change in changes:
            record = self._record_of(change.call)
            if change.kind == STARTED:
                self._insert(change.call, change.at)
                self._popup(change.call)
                self._start_recorder(change.call, change.at)
            elif record is None:
                continue  # a call not followed from its start (or long gone)
            elif change.kind == ANSWERED:
                self._write(change, ops.answer_call(self.clinic, self.actor, record, change.at))
            elif change.kind == ENDED:
                path = self._stop_recorder()
                self._write(change, ops.finish_call(self.clinic, self.actor, record, change.at, change.missed))
                if path:
                    self._write(change, ops.attach_recording(self.clinic, self.actor, record, path))
            elif change.kind == RECORDING:
                self._write(change, ops.attach_recording(self.clinic, self.actor, record, change.path))

    def _record_of(self, call: Call) -> ops.CallRecord | None:
        known = self._ids.get(id(call))
        return known[1] if known is not None and known[0] is call else None

    def _write(self, change: CallChange, op: Op[bool]) -> None:
        """An update of the call's record, on the database lane after the record's insert."""

        def written(done: bool) -> None:
            if done and not self.closed:
                self.call_changed.emit(change)

        op.success(written).failure(self._write_failed).run()

    def _write_failed(self, exc: Exception) -> None:
        log.warning("call record write failed: %s", exc)
        if not self.closed:
            self.device_failed.emit(exc)

    # --- line-in recording -------------------------------------------------------------------------

    def _start_recorder(self, call: Call, at: datetime) -> None:
        if self.recording.mode != "linein":
            return
        self._stop_recorder()
        from devices.audio import AudioError, LineInRecorder

        def heard_hangup(reason: str) -> None:  # the recorder's writer thread
            self.line_event.emit(LineEvent(ONHOOK, clock.now(), source="audio"))

        recorder = LineInRecorder(self.recording.folder_path(), device=self.recording.device,
                                  backend=self.audio_backend, silence_s=float(self.recording.silence_s),
                                  on_hangup=heard_hangup)
        # the file's name shows only the last 4 digits: a folder listing is not a logged reveal (14/8)
        digits = "".join(ch for ch in call.number or "" if ch.isdigit())
        name = f"{at:%Y%m%d-%H%M%S}-" + (f"尾号{digits[-4:]}" if len(digits) >= 4 else "未知号码")
        try:
            recorder.start(name)
        except AudioError as exc:
            self.device_failed.emit(exc)
            return
        self.recorder = recorder

    def _stop_recorder(self) -> str:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return ""
        try:
            return str(recorder.stop().path)
        except Exception as exc:
            self.device_failed.emit(exc)
            return ""

    # --- the pop-up ----------------------------------------------------------------------------------

    def set_locked(self, locked: bool) -> None:
        """The window was locked or unlocked; after the unlock the card of a call that came meanwhile."""
        self.locked = locked
        waiting, self.waiting = self.waiting, None
        if not locked and waiting is not None:
            self._popup(waiting)

    def _show_locked(self, call: Call, number: str) -> None:
        self.waiting = call
        self.popup.show_locked(call, number, mask_mobile(number))
        self.popup_shown.emit(self.popup)
        self._take_call_id(call)

    def _take_call_id(self, call: Call) -> None:
        record = self._record_of(call)
        if record is not None and record.id is not None:  # written before the pop-up was filled in
            self.popup.call_id = record.id

    def _popup(self, call: Call) -> None:
        """Withheld numbers pop up at once; others after the card lookup (pool thread). While locked:
        the notice only, and no lookup until the unlock."""
        number = normalise_number(call.number)
        if self.locked:
            self._show_locked(call, number)
            return
        shown = number if self.actor.has_right(Right.VIEW_PRIVATE) else mask_mobile(number)
        if call.withheld:
            self._show(call, number, None, shown)
            return

        def looked_up(card: CallerCard | None) -> None:
            self._show(call, number, card, shown)

        ops.caller_card(None, self.clinic, self.actor, number).success(looked_up).failure(
            lambda _exc: self._show(call, number, None, shown)).run()

    def _show(self, call: Call, number: str, card: CallerCard | None, shown: str) -> None:
        if self.closed:  # the card arrived after the window closed
            return
        if self.locked:  # locked while the card was being looked up
            self._show_locked(call, number)
            return
        self.popup.show_call(call, number, card, shown)
        self.popup_shown.emit(self.popup)
        self._take_call_id(call)

    def _insert(self, call: Call, started_at: datetime) -> None:
        """The call record, written first on the database lane: every later update waits behind it.
        The customer is matched by the number there (a fact about the number, not about the card).
        ``started_at`` is this PC's clinic clock, like the answer and end times (a modem's own clock
        has minutes only and may be wrong)."""
        record = ops.CallRecord()
        self._ids[id(call)] = (call, record)
        while len(self._ids) > KEPT_CALLS:  # a box reports a recording after the hang-up, not days later
            del self._ids[next(iter(self._ids))]
        ops.record_call(self.clinic, self.actor, normalise_number(call.number), started_at, record).success(
            lambda call_id: self._on_recorded(call, call_id)).failure(self._write_failed).run()

    def _on_recorded(self, call: Call, call_id: int) -> None:
        """GUI thread; the Op announced the new record (the phone page and the caller's history refresh)."""
        if self.closed:
            return
        if self.popup.call is call:
            self.popup.call_id = call_id
        self.call_recorded.emit(call_id)
