"""One phone line's call, from ringing to hang-up, put together from whatever the devices report.

Sources differ in what they can tell: a voice modem gives RING and the caller's number; a box with
hook detection (the USB boxes' DLL, a box printing its own 摘机 / 挂机 lines, a voice modem's DLE
codes) also says when the handset went off and on hook; the PC's line-in recorder hears the busy
tone (忙音) the exchange plays after the other side hung up. ``CallTracker`` turns that stream into
the changes a call record needs: started, answered, ended (missed or not) and recording. It holds no
threads and no clock of its own: the owner feeds it in order and calls ``tick`` now and then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from devices.callerid import MISSED, OFFHOOK, ONHOOK, RECORDING, RING, Call, LineEvent

STARTED, ANSWERED, ENDED = "started", "answered", "ended"
RING_TIMEOUT = timedelta(seconds=8)  # China's ring cadence is 1 s on, 4 s off: two missed rings = stopped


@dataclass(frozen=True)
class CallChange:
    """What happened to ``call``: started / answered / ended (``missed``) / recording (``path``)."""

    kind: str
    call: Call
    at: datetime
    missed: bool = False
    path: str = ""


class CallTracker:
    """The lifecycle of the calls on one line.

    ``hook_detection``: the device reports off-hook / on-hook, so ringing that stops without an
    off-hook is a missed call. Without it, ringing that stops says nothing (someone may have picked
    up): the call stays open until an on-hook arrives from another source (the recorder's busy tone)
    or the next call starts.
    """

    def __init__(self, *, hook_detection: bool = False, ring_timeout: timedelta = RING_TIMEOUT) -> None:
        self.hook_detection = hook_detection
        self.ring_timeout = ring_timeout
        self.current: Call | None = None
        self.last: Call | None = None  # the call that ended last: a box reports its recording after hang-up
        self._answered = False
        self._ringing = False
        self._last_ring: datetime | None = None
        self._unannounced_ring: datetime | None = None  # a ring before any number arrived

    # --- what the devices say ------------------------------------------------------------------

    def call(self, call: Call, received: datetime | None = None) -> list[CallChange]:
        """The caller's number (or a withheld one) arrived: a new call starts.

        The same number again while it still rings is the same call (boxes that repeat caller-ID).
        ``received``: when the number reached us, on the same clock as the line events (the ring
        timing and the start are measured on it; ``call.at`` is the line's own clock, to the minute
        on a modem, and may be set wrong).
        """
        received = received or call.at
        if (self.current is not None and not self._answered and self._ringing
                and (call.number, call.private, call.unavailable)
                == (self.current.number, self.current.private, self.current.unavailable)):
            self._last_ring = max(self._last_ring or received, received)
            return []
        # The call started at its first ring when one came just before the number (the number comes
        # between the first and second ring), else when the number reached us.
        first = self._unannounced_ring
        start = first if first is not None and timedelta(0) <= received - first < self.ring_timeout else received
        changes = self._end(received, missed=False) if self.current is not None else []
        self.current, self._answered, self._ringing = call, False, True
        self._last_ring, self._unannounced_ring = received, None
        return [*changes, CallChange(STARTED, call, start)]

    def event(self, ev: LineEvent) -> list[CallChange]:
        if ev.kind == RING:
            return self._ring(ev.at)
        if ev.kind in (OFFHOOK, ONHOOK) and ev.source != "audio":
            self.hook_detection = True  # this line reports its hooks: silence after ringing = missed
        if ev.kind == OFFHOOK:
            if self.current is None or self._answered:
                return []  # picking up to dial out, or a repeated report
            self._answered, self._ringing = True, False
            return [CallChange(ANSWERED, self.current, ev.at)]
        if ev.kind == ONHOOK:
            if self.current is None:
                return []
            return self._end(ev.at, missed=not self._answered and self.hook_detection)
        if ev.kind == MISSED:
            if self.current is None or self._answered:
                return []
            return self._end(ev.at, missed=True)
        if ev.kind == RECORDING and ev.path:
            call = self.current or self.last
            return [CallChange(RECORDING, call, ev.at, path=ev.path)] if call is not None else []
        return []

    def tick(self, now: datetime) -> list[CallChange]:
        """Time passes: ringing that stopped ends an unanswered call when the line reports hooks."""
        if self.current is None or not self._ringing or self._last_ring is None:
            return []
        if now - self._last_ring < self.ring_timeout:
            return []
        self._ringing = False
        if self.hook_detection:
            return self._end(now, missed=True)
        return []

    # --- helpers -------------------------------------------------------------------------------

    def _ring(self, at: datetime) -> list[CallChange]:
        if self.current is not None and not self._answered:
            self._ringing, self._last_ring = True, at
            return []
        if self.current is not None:
            return []  # a ring while talking: call waiting, not a new call on this line
        # No number yet: caller-ID comes between the first and second ring. A second ring without
        # one means the line has no caller-ID service (or the box missed it): an unknown caller.
        if self._unannounced_ring is not None and at - self._unannounced_ring < self.ring_timeout:
            first = self._unannounced_ring
            return self.call(Call("", first, unavailable=True), at)
        self._unannounced_ring = at
        return []

    def _end(self, at: datetime, *, missed: bool) -> list[CallChange]:
        call = self.current
        assert call is not None
        self.last, self.current = call, None
        self._answered = self._ringing = False
        self._last_ring = None
        return [CallChange(ENDED, call, at, missed=missed)]
