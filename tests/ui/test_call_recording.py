"""Calls followed to their end through the window: answered and recorded from line-in until the busy
tone, missed calls and recordings reported by a USB box, playback on the phone page, the settings."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import Qt

from devices.audio import FakeBackend
from devices.callerid import MISSED, OFFHOOK, ONHOOK, RECORDING, Call, CallerIdSetting, LineEvent
from devices.simulators.phone_audio import call_audio, voice
from meike import clock, workstation
from meike.db import Clinic
from meike.models import CallRecord
from meike.permissions import Actor, Page
from meike.services import customers, phone
from meike.workstation import RecordingSetting
from tests.ui.waiting import settle
from ui.main_window import MainWindow
from ui.phone.listener import PhoneListener

pytestmark = pytest.mark.gui


def _record(clinic: Clinic, call_id: int) -> CallRecord:
    with clinic.read() as s:
        record = s.get(CallRecord, call_id)
        assert record is not None
        s.expunge(record)
        return record


@pytest.fixture
def modem() -> Iterator[object]:
    if sys.platform == "win32":
        pytest.skip("the modem simulator needs a pseudo-terminal")
    from devices.simulators.callerid_modem import CallerIdModem

    m = CallerIdModem()
    yield m
    m.close()


def test_an_answered_call_is_recorded_from_line_in_until_the_busy_tone(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor, modem, tmp_path: Path) -> None:
    cid = customers.register_customer(demo_clinic, gl, name="林晚", mobile="13677778888")
    audio = FakeBackend(call_audio(ringing=1.0, talking=3.0, busy=3.0), speed=3.0)
    window = MainWindow(demo_clinic, gl, callerid=CallerIdSetting(modem.port),
                        recording=RecordingSetting("linein", folder=str(tmp_path), silence_s=8), audio_backend=audio)
    qtbot.addWidget(window)
    listener = window.phone_listener
    assert listener is not None
    with qtbot.waitSignal(listener.started, timeout=5000):
        pass
    with qtbot.waitSignal(listener.call_recorded, timeout=5000) as recorded:
        modem.ring("13677778888")
    call_id = recorded.args[0]
    assert listener.recorder is not None and listener.recorder.recording  # recording since the ring
    modem.hook(True)  # picked up
    qtbot.waitUntil(lambda: _record(demo_clinic, call_id).answered_at is not None, timeout=5000)
    # The caller hangs up: the exchange plays busy tone, the recorder hears it and the call ends.
    qtbot.waitUntil(lambda: _record(demo_clinic, call_id).recording_path != "", timeout=10000)
    record = _record(demo_clinic, call_id)
    assert record.customer_id == cid and not record.missed
    assert record.ended_at is not None and record.ended_at >= record.answered_at >= record.started_at
    path = Path(record.recording_path)
    assert path.is_file() and tmp_path in path.parents
    assert "13677778888" not in str(path) and path.name.endswith("-尾号8888.wav")  # a folder listing reveals nothing
    info = soundfile.info(str(path))
    assert info.samplerate == 8000 and info.frames / 8000 >= 4.0  # ringing and talk at least
    assert listener.recorder is None

    page = window.open_page(Page.PHONE)
    page.refresh()
    qtbot.waitUntil(lambda: page.model.rowCount() > 0, timeout=5000)
    row = next(r for r in range(page.model.rowCount()) if page.model.rows[r].id == call_id)
    assert page.model.data(page.model.index(row, 5)) == "已接"
    assert page.model.data(page.model.index(row, 6)) == "有"
    page.select_row(row)
    assert page.player.title.text() == f"录音：{path.name}" and page.player.play_button.isEnabled()


class FakeBox:
    """Stands in for a USB box's DLL adapter: the test fires what the DLL would report."""

    def __init__(self, setting: CallerIdSetting, on_call: Callable[[Call], None],
                 on_error: Callable[[Exception], None], on_event: Callable[[LineEvent], None]) -> None:
        self.setting, self.on_call, self.on_event = setting, on_call, on_event
        self.cid_command = ""

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


def test_a_usb_box_reports_a_missed_call_and_an_answered_calls_recording(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor, tmp_path: Path) -> None:
    boxes: list[FakeBox] = []
    listener = PhoneListener(demo_clinic, gl, None, adapter_factory=lambda *a: boxes.append(FakeBox(*a)) or boxes[-1])
    try:
        with qtbot.waitSignal(listener.started, timeout=5000):
            listener.start(CallerIdSetting(kind="dll", dll_path="C:/USBBox/USBBoxProtocol.dll", family="USBBox"))
        box = boxes[0]
        now = clock.now()
        with qtbot.waitSignal(listener.call_recorded, timeout=5000) as first:
            box.on_call(Call("13800138000", now))
        box.on_event(LineEvent(MISSED, now, source="dll"))
        qtbot.waitUntil(lambda: _record(demo_clinic, first.args[0]).ended_at is not None, timeout=5000)
        missed = _record(demo_clinic, first.args[0])
        assert missed.missed and missed.answered_at is None

        wav = tmp_path / "box-0001.wav"
        soundfile.write(str(wav), voice(1.0), 8000, subtype="PCM_16")
        with qtbot.waitSignal(listener.call_recorded, timeout=5000) as second:
            box.on_call(Call("13912345678", now))
        box.on_event(LineEvent(OFFHOOK, now, source="dll"))
        box.on_event(LineEvent(ONHOOK, now, source="dll"))
        box.on_event(LineEvent(RECORDING, now, path=str(wav), source="dll"))  # the box reports after hang-up
        qtbot.waitUntil(lambda: _record(demo_clinic, second.args[0]).recording_path == str(wav), timeout=5000)
        answered = _record(demo_clinic, second.args[0])
        assert not answered.missed and answered.answered_at is not None and answered.ended_at is not None
        rows = {r.id: r for r in phone.list_calls(demo_clinic, gl)}
        assert rows[first.args[0]].outcome == "未接" and rows[second.args[0]].outcome == "已接"
    finally:
        listener.close()


def test_the_phone_page_plays_a_recording_in_the_program(qtbot, demo_clinic: Clinic, gl: Actor,  # type: ignore[no-untyped-def]
                                                         tmp_path: Path) -> None:
    from ui.phone.page import PhonePage

    samples = voice(1.5)
    wav = tmp_path / "call.wav"
    soundfile.write(str(wav), samples, 8000, subtype="PCM_16")
    call_id = phone.record_call(demo_clinic, gl, "13800138000", started_at=datetime(2026, 11, 23, 9, 0))
    phone.attach_recording(demo_clinic, gl, call_id, str(wav))
    gone = phone.record_call(demo_clinic, gl, "13800138001", started_at=datetime(2026, 11, 23, 8, 0))
    phone.attach_recording(demo_clinic, gl, gone, str(tmp_path / "moved-away.wav"))
    page = PhonePage(demo_clinic, gl)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=5000)
    audio = FakeBackend(speed=8.0)
    page.player.backend = audio
    page.select_row(0)
    player = page.player
    assert player.time.text() == "0:00 / 0:01"
    with qtbot.waitSignal(player.finished, timeout=5000):
        qtbot.mouseClick(player.play_button, Qt.MouseButton.LeftButton)
        assert player.play_button.text() == "暂停"
    assert player.play_button.text() == "播放" and player.state == "stopped"
    assert np.array_equal(np.concatenate(audio.played)[: len(samples), 0], samples)  # every sample, in order

    page.select_row(1)
    assert "录音文件不存在" in player.message.text() and not player.play_button.isEnabled()


def test_settings_for_a_usb_box_and_line_in_recording(qtbot, demo_clinic: Clinic, gl: Actor,  # type: ignore[no-untyped-def]
                                                       tmp_path: Path) -> None:
    from ui.settings import SettingsPage

    page = SettingsPage(demo_clinic, gl)
    qtbot.addWidget(page)
    tab = page.callerid
    tab.kind.setCurrentIndex(tab.kind.findData("dll"))
    assert not tab.port.isEnabled() and tab.dll.isEnabled()
    tab.recording_mode.setCurrentIndex(tab.recording_mode.findData("linein"))
    tab.recording_silence.setValue(2)
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert "DLL" in tab.form.error_text("callerid_dll")
    assert "3 到 60 秒" in tab.form.error_text("recording_silence")
    assert tab.recording_silence.value() == 2  # what was typed stays
    assert workstation.callerid_setting().kind == "serial"  # nothing half-saved

    tab.dll.setText(str(tmp_path / "USBBoxProtocol.dll"))  # the box is right now, the recording not yet
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert tab.form.error_text("recording_silence") and workstation.callerid_setting().kind == "serial"
    tab.recording_silence.setValue(10)
    tab.recording_folder.setText(str(tmp_path / "recordings"))
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert tab.form.error_text("callerid_dll") == ""
    saved = workstation.callerid_setting()
    assert (saved.kind, saved.dll_path, saved.family) == ("dll", str(tmp_path / "USBBoxProtocol.dll"), "USBBox")
    assert workstation.recording_setting() == RecordingSetting("linein", None, str(tmp_path / "recordings"), 10)
    qtbot.mouseClick(tab.test_button, Qt.MouseButton.LeftButton)  # the DLL is not there
    qtbot.waitUntil(lambda: "USBBoxProtocol.dll" in tab.status.text() and "正在" not in tab.status.text(),
                    timeout=5000)
