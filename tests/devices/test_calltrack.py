"""A call's lifecycle from the line's events, and the modem adapter's hook reports (DLE codes, box lines)."""

from __future__ import annotations

import queue
import sys
from datetime import datetime, timedelta

import pytest

from devices.callerid import MISSED, OFFHOOK, ONHOOK, RECORDING, RING, Call, LineEvent, SerialCallerId
from devices.calltrack import ANSWERED, ENDED, STARTED, CallTracker

T0 = datetime(2026, 11, 23, 10, 0, 0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def ev(kind: str, seconds: float, **kw: object) -> LineEvent:
    return LineEvent(kind, at(seconds), **kw)  # type: ignore[arg-type]


def kinds(changes: list) -> list[tuple[str, bool]]:  # type: ignore[type-arg]
    return [(c.kind, c.missed) for c in changes]


def test_answered_then_hung_up() -> None:
    t = CallTracker()
    call = Call("13800138000", at(0))
    assert kinds(t.call(call)) == [(STARTED, False)]
    assert t.event(ev(RING, 5)) == []
    answered = t.event(ev(OFFHOOK, 7))
    assert kinds(answered) == [(ANSWERED, False)] and answered[0].at == at(7) and answered[0].call is call
    ended = t.event(ev(ONHOOK, 95))
    assert kinds(ended) == [(ENDED, False)] and ended[0].at == at(95)
    assert t.current is None and t.last is call


def test_ringing_that_stops_is_missed_only_when_the_line_reports_hooks() -> None:
    blind = CallTracker()
    blind.call(Call("13800138000", at(0)))
    blind.event(ev(RING, 5))
    assert blind.tick(at(30)) == []  # someone may have picked up: nothing is claimed
    assert blind.current is not None

    hooks = CallTracker(hook_detection=True)
    hooks.call(Call("13800138000", at(0)))
    hooks.event(ev(RING, 5))
    assert hooks.tick(at(12)) == []  # the next ring is still due
    changes = hooks.tick(at(14))
    assert kinds(changes) == [(ENDED, True)]


def test_a_hook_report_teaches_the_tracker_that_the_line_has_hook_detection() -> None:
    t = CallTracker()
    t.call(Call("1", at(0)))
    t.event(ev(OFFHOOK, 3, source="modem"))
    t.event(ev(ONHOOK, 60, source="modem"))
    t.call(Call("2", at(100)))
    assert kinds(t.tick(at(120))) == [(ENDED, True)]


def test_the_recorders_busy_tone_does_not_count_as_hook_detection() -> None:
    t = CallTracker()
    t.call(Call("1", at(0)))
    assert kinds(t.event(ev(ONHOOK, 80, source="audio"))) == [(ENDED, False)]
    assert t.hook_detection is False


def test_a_box_reports_missed_calls_and_recordings_after_hang_up() -> None:
    t = CallTracker()
    t.call(Call("13800138000", at(0)))
    assert kinds(t.event(ev(MISSED, 20))) == [(ENDED, True)]
    t.call(Call("13912345678", at(60)))
    t.event(ev(OFFHOOK, 62))
    t.event(ev(ONHOOK, 120))
    rec = t.event(ev(RECORDING, 121, path="D:\\录音\\1.wav"))
    assert [(c.kind, c.path, c.call.number) for c in rec] == [(RECORDING, "D:\\录音\\1.wav", "13912345678")]


def test_rings_without_a_number_become_an_unknown_caller_on_the_second_ring() -> None:
    t = CallTracker()
    assert t.event(ev(RING, 0)) == []
    changes = t.event(ev(RING, 5))
    assert kinds(changes) == [(STARTED, False)]
    assert changes[0].call.unavailable and changes[0].call.at == at(0)


def test_repeated_caller_id_while_ringing_is_the_same_call_and_a_new_call_ends_the_old() -> None:
    t = CallTracker()
    t.call(Call("13800138000", at(0)))
    assert t.call(Call("13800138000", at(5))) == []
    t.event(ev(OFFHOOK, 6))
    changes = t.call(Call("13912345678", at(300)))  # the hang-up was never reported
    assert kinds(changes) == [(ENDED, False), (STARTED, False)]
    assert t.event(ev(OFFHOOK, 301))[0].call.number == "13912345678"


pty = pytest.mark.skipif(sys.platform == "win32", reason="the simulator needs a pseudo-terminal")


@pty
@pytest.mark.parametrize("style", ["dle", "text"])
def test_the_modem_adapter_reports_hooks_and_rings(style: str) -> None:
    from devices.simulators.callerid_modem import CallerIdModem

    modem = CallerIdModem()
    calls: queue.Queue[Call] = queue.Queue()
    events: queue.Queue[LineEvent] = queue.Queue()
    adapter = SerialCallerId(modem.port, calls.put, on_event=events.put)
    try:
        adapter.start()
        modem.ring("13800138000", T0)
        assert calls.get(timeout=3).number == "13800138000"
        assert events.get(timeout=3).kind == RING
        assert events.get(timeout=3).kind == RING  # the ring after the record
        modem.hook(True, style=style)
        picked = events.get(timeout=3)
        assert (picked.kind, picked.source) == (OFFHOOK, "modem")
        modem.hook(False, style=style)
        assert events.get(timeout=3).kind == ONHOOK
        modem.hook(False, style="busy") if style == "dle" else modem.send_line("挂机")
        assert events.get(timeout=3).kind == ONHOOK
        assert calls.empty()  # hook lines are not callers
    finally:
        adapter.stop()
        modem.close()


def test_dle_codes_split_across_reads_and_a_literal_dle() -> None:
    got: list[str] = []
    adapter = SerialCallerId("loop://", lambda _c: None, on_event=lambda e: got.append(e.kind))
    rest = adapter._shielded(b"abc\x10")
    assert rest == b"abc\x10" and got == []
    assert adapter._shielded(rest + b"H\x10\x10x\x10l") == b"abc\x10x"
    assert got == [OFFHOOK, ONHOOK]


def test_custom_hook_patterns() -> None:
    got: list[str] = []
    adapter = SerialCallerId("loop://", lambda _c: None, on_event=lambda e: got.append(e.kind),
                             offhook_pattern=r"^STATE:1$", onhook_pattern=r"^STATE:0$")
    adapter._line(b"STATE:1")
    adapter._line(b"OFFHOOK")  # the default words no longer apply
    adapter._line(b"STATE:0")
    assert got == [OFFHOOK, ONHOOK]


def test_the_call_starts_at_its_first_ring_on_the_receivers_clock() -> None:
    t = CallTracker()
    t.event(ev(RING, 0))
    started = t.call(Call("13800138000", datetime(2025, 1, 1, 9, 0)), received=at(2.5))  # a box with a wrong clock
    assert [(c.kind, c.at) for c in started] == [(STARTED, at(0))]
    t.event(ev(OFFHOOK, 10))
    t.event(ev(ONHOOK, 70))
    later = t.call(Call("13912345678", at(200)), received=at(200))  # no ring seen before it
    assert later[0].at == at(200)
