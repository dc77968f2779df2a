"""Bridge from the caller-ID adapter's reader thread to the GUI: look the caller up, record, pop up."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from devices.callerid import Call, CallerIdSetting, SerialCallerId
from meike.db import Clinic
from meike.permissions import Actor, Page, Right
from meike.rules.validation import mask_mobile
from meike.services import phone
from meike.services.phone import CallerCard
from ui.dialogs.caller_popup import CallerPopup
from ui.tasks import run_in_background


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

    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None,
                 adapter_factory: Callable[..., SerialCallerId] = SerialCallerId) -> None:
        super().__init__(parent)
        self.clinic, self.actor = clinic, actor
        self.parent_widget = parent
        self.adapter_factory = adapter_factory
        self.adapter: SerialCallerId | None = None
        self.popup = CallerPopup(None, can_register=actor.can_open(Page.REGISTRATION),
                                 can_open=actor.can_open(Page.CUSTOMERS))
        self.error: Exception | None = None
        self.call_arrived.connect(self.handle)
        self.device_failed.connect(self._failed)

    def start(self, setting: CallerIdSetting) -> None:
        """Open the port and initialise the modem in the background; ``started`` / ``device_failed`` tell."""
        self.stop()
        adapter = self.adapter_factory(setting.port, self.call_arrived.emit, self.device_failed.emit,
                                       pattern=setting.pattern or None, init=not setting.pattern)
        self.adapter = adapter

        def opened(_result: object) -> None:
            self.started.emit(adapter.cid_command or "")

        run_in_background(adapter.start, opened, self.device_failed.emit, owner=self)

    def stop(self) -> None:
        adapter, self.adapter = self.adapter, None
        if adapter is not None:
            adapter.stop()

    def close(self) -> None:
        self.stop()
        self.popup.close()
        self.popup.deleteLater()

    def _failed(self, exc: Exception) -> None:
        self.error = exc

    def handle(self, call: Call) -> None:
        """GUI thread: withheld numbers pop up at once; others after the card lookup (pool thread)."""
        number = phone.normalise_number(call.number)
        shown = number if self.actor.has_right(Right.VIEW_PRIVATE) else mask_mobile(number)
        if call.withheld:
            self._show(call, number, None, shown)
            return

        def looked_up(card: CallerCard | None) -> None:
            self._show(call, number, card, shown)

        run_in_background(lambda: phone.caller_card(self.clinic, self.actor, number), looked_up,
                          lambda exc: self._show(call, number, None, shown), owner=self)

    def _show(self, call: Call, number: str, card: CallerCard | None, shown: str) -> None:
        self.popup.show_call(call, number, card, shown)
        self.popup_shown.emit(self.popup)
        popup, customer_id = self.popup, card.customer_id if card is not None else None

        def recorded(call_id: int) -> None:
            if popup.call is call:
                popup.call_id = call_id
            self.call_recorded.emit(call_id)

        run_in_background(lambda: phone.record_call(self.clinic, self.actor, number, started_at=call.at,
                                                    customer_id=customer_id), recorded, self._failed, owner=self)
