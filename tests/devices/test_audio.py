"""Line-in recording, playback and hang-up detection against the fake sound card; no Qt, no PortAudio."""

from __future__ import annotations

import builtins
import subprocess
import sys
import threading
import time
import types
import wave
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from devices.audio import (
    NO_PORTAUDIO,
    AudioError,
    FakeBackend,
    HangupDetector,
    LineInRecorder,
    Player,
    Recording,
    SounddeviceBackend,
)

SR = 8000
NOW = datetime(2026, 11, 23, 9, 15)


# --- signals -------------------------------------------------------------------------------------


def speech(seconds: float, seed: int = 1) -> np.ndarray:
    """Speech-like: syllables of 3–6 gliding tones between 200 and 3000 Hz, varying loudness, short pauses."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SR))
    pos = 0
    while pos < len(out):
        n = int(rng.uniform(0.12, 0.45) * SR)
        t = np.arange(n) / SR
        syllable = np.zeros(n)
        for _ in range(rng.integers(3, 7)):
            hz = rng.uniform(200, 3000) * (1 + rng.uniform(-0.1, 0.1) * t / t[-1])
            syllable += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * np.cumsum(hz) / SR + rng.uniform(0, 6.3))
        envelope = np.sin(np.pi * np.arange(n) / n) ** 0.5 * rng.uniform(500, 2000)
        out[pos:pos + n] = (syllable * envelope)[:len(out) - pos]
        pos += n + int(rng.uniform(0.03, 0.3) * SR)
    return out.astype(np.int16)


def music(seconds: float, seed: int = 2) -> np.ndarray:
    """Plucked notes of the tempered scale around A4 = 440 Hz with overtones, some followed by rests."""
    rng = np.random.default_rng(seed)
    notes = 440 * 2 ** (np.arange(-12, 13) / 12)
    parts: list[np.ndarray] = []
    while sum(map(len, parts)) < seconds * SR:
        t = np.arange(int(rng.uniform(0.25, 0.5) * SR)) / SR
        hz = rng.choice(notes)
        parts.append(2500 * sum(np.sin(2 * np.pi * hz * k * t) / k for k in (1, 2, 3, 4)) * np.exp(-3 * t))
        if rng.random() < 0.5:
            parts.append(np.zeros(int(rng.uniform(0.2, 0.5) * SR)))
    return np.concatenate(parts)[:int(seconds * SR)].astype(np.int16)


def tone(seconds: float, hz: float = 450.0, amp: float = 3000, on: float | None = None,
         off: float = 0.0) -> np.ndarray:
    """A sine; with ``on`` / ``off`` gated into a cadence (the busy tone is 0.35 / 0.35 s)."""
    t = np.arange(int(seconds * SR)) / SR
    x = amp * np.sin(2 * np.pi * hz * t)
    if on is not None:
        x *= (t % (on + off)) < on
    return x.astype(np.int16)


def busy(seconds: float, **kw: float) -> np.ndarray:
    return tone(seconds, on=0.35, off=0.35, **kw)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SR), np.int16)


def detect(x: np.ndarray, block: int = 400, **kw: float) -> tuple[str, float] | None:
    """The first detection and when (seconds into ``x``), feeding ``x`` in blocks."""
    detector = HangupDetector(SR, **kw)
    for i in range(0, len(x), block):
        reason = detector.feed(x[i:i + block])
        if reason is not None:
            return reason, (i + block) / SR
    return None


def wait_for(condition: Callable[[], object], timeout: float = 1.5) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


# --- the detector --------------------------------------------------------------------------------


def test_busy_tone_after_speech_is_busy_after_three_cycles() -> None:
    reason, at = detect(np.concatenate([speech(2), busy(5)]))
    assert reason == "busy"
    assert 2 + 3 * 0.7 <= at <= 2 + 3 * 0.7 + 0.2


@pytest.mark.parametrize(("on", "off"), [(0.25, 0.25), (0.5, 0.5), (0.55, 0.55), (0.3, 0.45)])
def test_busy_cadence_variants_within_limits(on: float, off: float) -> None:
    assert detect(tone(8, on=on, off=off))[0] == "busy"


@pytest.mark.parametrize(("on", "off"), [(0.1, 0.1), (0.75, 0.75), (0.35, 0.8), (1.0, 4.0)],
                         ids=["too-fast", "too-slow", "long-gap", "ringback"])
def test_other_cadences_are_not_busy(on: float, off: float) -> None:
    assert detect(tone(12, on=on, off=off)) is None


def test_dial_tone_is_not_busy() -> None:
    assert detect(tone(5)) is None
    assert detect(tone(20)) is None


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_speech_and_music_are_not_a_hangup(seed: int) -> None:
    assert detect(speech(10, seed)) is None
    assert detect(music(10, seed)) is None


def test_busy_tone_is_found_in_noise_and_at_low_level_but_not_at_440_hz() -> None:
    noise = np.random.default_rng(0).normal(0, 600, 5 * SR)
    assert detect((busy(5) + noise).astype(np.int16))[0] == "busy"
    assert detect(busy(5, amp=100))[0] == "busy"
    assert detect(busy(5, hz=440)) is None  # music's A4; the exchange's tone is 450 Hz ± 1 %


def test_silence_after_silence_s_then_once_until_reset() -> None:
    x = np.concatenate([speech(2), silence(3)])
    reason, at = detect(x, silence_s=1.0)
    assert reason == "silence" and 2.9 <= at <= 3.5  # speech ends on a short pause before 2 s
    detector = HangupDetector(SR, silence_s=1.0)
    results = [detector.feed(x[i:i + 400]) for i in range(0, len(x), 400)]
    assert [r for r in results if r] == ["silence"] and detector.result == "silence"
    detector.reset()
    assert detector.result is None and detector.feed(silence(1.1)) == "silence"


def test_quiet_line_noise_counts_as_silence() -> None:
    noise = np.random.default_rng(1).normal(0, 60, 3 * SR).astype(np.int16) + 400  # with a DC offset
    assert detect(noise, silence_s=2.0)[0] == "silence"


# --- recording -----------------------------------------------------------------------------------


def recorder(folder: Path, backend: FakeBackend, **kw: object) -> LineInRecorder:
    return LineInRecorder(folder, backend=backend, now=lambda: NOW, **kw)  # type: ignore[arg-type]


def test_recording_holds_exactly_the_samples_fed(tmp_path: Path) -> None:
    signal = speech(2)
    backend = FakeBackend(signal, speed=0)
    rec = recorder(tmp_path, backend)
    path = rec.start("20261123-091500-13800138000")
    assert rec.recording and path == tmp_path / "2026" / "11" / "20261123-091500-13800138000.wav"
    wait_for(backend.signal_done.is_set)
    result = rec.stop()
    assert not rec.recording
    data, samplerate = sf.read(path, dtype="int16")
    assert samplerate == SR and sf.info(str(path)).subtype == "PCM_16" and data.ndim == 1
    assert len(data) == backend.fed >= len(signal)
    np.testing.assert_array_equal(data[:len(signal)], signal)
    assert not data[len(signal):].any()  # then the silence the line gave until stop
    assert result == Recording(path, len(data) / SR, "stopped")


def test_busy_tone_after_speech_calls_on_hangup_once(tmp_path: Path) -> None:
    calls: list[str] = []
    backend = FakeBackend(np.concatenate([speech(2), busy(4), silence(10)]), speed=0)
    rec = recorder(tmp_path, backend, on_hangup=calls.append, silence_s=1.0)
    rec.start("busy")
    wait_for(backend.signal_done.is_set)  # the tone and the silence after it went through
    wait_for(lambda: calls)
    assert rec.hangup == "busy" and rec.recording  # the owner decides when to stop
    result = rec.stop()
    assert calls == ["busy"] and result.reason == "busy"
    assert result.seconds >= 16  # the tone and silence after the detection are kept


def test_silence_after_speech_calls_on_hangup(tmp_path: Path) -> None:
    calls: list[str] = []
    backend = FakeBackend(np.concatenate([speech(2), silence(1.5)]), speed=0)
    rec = recorder(tmp_path, backend, on_hangup=calls.append, silence_s=1.0)
    rec.start("silence")
    wait_for(lambda: calls)
    assert rec.stop().reason == "silence" and calls == ["silence"]


@pytest.mark.parametrize("signal", [tone(5), speech(10)], ids=["dial-tone", "speech"])
def test_no_hangup_on_dial_tone_or_speech(tmp_path: Path, signal: np.ndarray) -> None:
    calls: list[str] = []
    backend = FakeBackend(signal, speed=0)
    rec = recorder(tmp_path, backend, on_hangup=calls.append)
    rec.start("call")
    wait_for(backend.signal_done.is_set)
    result = rec.stop()
    assert calls == [] and result.reason == "stopped" and result.seconds >= len(signal) / SR


def test_no_detection_when_switched_off(tmp_path: Path) -> None:
    calls: list[str] = []
    backend = FakeBackend(busy(3), speed=0)
    rec = recorder(tmp_path, backend, on_hangup=calls.append, detect_hangup=False)
    rec.start("call")
    wait_for(backend.signal_done.is_set)
    assert rec.stop().reason == "stopped" and calls == []


def test_file_is_playable_while_recording(tmp_path: Path) -> None:
    rec = recorder(tmp_path, FakeBackend(speech(5), speed=1), flush_s=0.1)
    path = rec.start("live")

    def readable() -> bool:
        try:
            return sf.info(str(path)).frames > 0
        except sf.SoundFileError:
            return False

    try:
        wait_for(readable)
        time.sleep(0.15)  # one more flush: the header then counts what is on disk
        with wave.open(str(path)) as w:  # a strict reader trusts the header's lengths
            assert w.getnframes() > 0 and len(w.readframes(w.getnframes())) == 2 * w.getnframes()
        assert len(sf.read(path, dtype="int16")[0]) > 0
    finally:
        rec.stop()


def test_device_error_leaves_no_file(tmp_path: Path) -> None:
    rec = LineInRecorder(tmp_path, backend=FakeBackend(), device=7)
    with pytest.raises(AudioError, match="无法打开录音设备"):
        rec.start("call")
    assert not rec.recording and [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_start_twice_and_stop_without_recording(tmp_path: Path) -> None:
    rec = recorder(tmp_path, FakeBackend(speed=0))
    with pytest.raises(AudioError, match="没有在录音"):
        rec.stop()
    first = rec.start("a")
    with pytest.raises(AudioError, match="正在录音"):
        rec.start("b")
    assert rec.stop().path == first and not (first.parent / "b.wav").exists()


@pytest.mark.parametrize("name", ["../x", "a/b", "a\\b", "", " ", "..", "09:15"])
def test_names_that_are_not_plain_file_names_are_refused(tmp_path: Path, name: str) -> None:
    rec = recorder(tmp_path, FakeBackend(speed=0))
    with pytest.raises(AudioError, match="录音文件名"):
        rec.start(name)
    assert not rec.recording and list(tmp_path.iterdir()) == []


def test_an_earlier_recording_is_never_overwritten(tmp_path: Path) -> None:
    rec = recorder(tmp_path, FakeBackend(speed=0))
    first = rec.start("call")
    rec.stop()
    second = rec.start("call")
    rec.stop()
    assert (first.name, second.name) == ("call.wav", "call-2.wav")


def test_fake_input_stream_stops_promptly() -> None:
    blocks: list[np.ndarray] = []
    stream = FakeBackend(speech(60), speed=1).input_stream(None, SR, 1, 400, blocks.append)
    stream.start()
    wait_for(lambda: blocks)
    started = time.monotonic()
    stream.stop()
    stream.close()
    assert time.monotonic() - started < 0.2 and not stream.active  # type: ignore[attr-defined]
    assert blocks[0].dtype == np.int16 and blocks[0].shape == (400, 1)


# --- playback ------------------------------------------------------------------------------------


@pytest.fixture
def wav(tmp_path: Path) -> tuple[Path, np.ndarray]:
    data = speech(2, seed=5)
    path = tmp_path / "call.wav"
    sf.write(path, data, SR, subtype="PCM_16")
    return path, data


def played(backend: FakeBackend) -> np.ndarray:
    return np.concatenate(backend.played)[:, 0] if backend.played else np.zeros(0, np.int16)


def test_player_plays_exactly_the_file(wav: tuple[Path, np.ndarray]) -> None:
    path, data = wav
    finished = threading.Event()
    calls: list[int] = []
    backend = FakeBackend(speed=0)
    player = Player(backend, on_finished=lambda: (calls.append(1), finished.set()))
    assert player.open(path) == pytest.approx(2.0) and player.duration == pytest.approx(2.0)
    assert player.state == "stopped"
    player.play()
    assert finished.wait(1.5)
    np.testing.assert_array_equal(played(backend), data)
    assert calls == [1] and player.state == "stopped" and player.position == 0.0
    player.close()
    assert player.state == "stopped" and player.duration == 0.0


def test_player_plays_stereo_files(tmp_path: Path) -> None:
    data = np.stack([speech(1, seed=7), speech(1, seed=8)], axis=1)
    sf.write(tmp_path / "stereo.wav", data, SR, subtype="PCM_16")
    finished = threading.Event()
    backend = FakeBackend(speed=0)
    player = Player(backend, on_finished=finished.set)
    player.open(tmp_path / "stereo.wav")
    player.play()
    assert finished.wait(1.5)
    np.testing.assert_array_equal(np.concatenate(backend.played), data)


def test_pause_keeps_the_position_and_play_resumes(wav: tuple[Path, np.ndarray]) -> None:
    path, data = wav
    finished = threading.Event()
    backend = FakeBackend(speed=10)  # 2 s of audio in 0.2 s
    player = Player(backend, on_finished=finished.set, blocksize=400)
    player.open(path)
    player.play()
    assert player.state == "playing"
    wait_for(lambda: player.position >= 0.5)
    player.pause()
    assert player.state == "paused"
    paused_at = player.position
    time.sleep(0.03)
    assert player.position == paused_at and 0.5 <= paused_at < 2.0 and not finished.is_set()
    player.play()
    assert finished.wait(1.5)
    np.testing.assert_array_equal(played(backend), data)  # nothing lost or played twice


def test_seek_to_the_middle_then_play(wav: tuple[Path, np.ndarray]) -> None:
    path, data = wav
    finished = threading.Event()
    backend = FakeBackend(speed=0)
    player = Player(backend, on_finished=finished.set)
    player.open(path)
    player.seek(1.0)
    assert player.position == 1.0 and player.state == "stopped"
    player.play()
    assert finished.wait(1.5)
    np.testing.assert_array_equal(played(backend), data[SR:])


def test_seek_is_clamped_and_stop_goes_back_to_the_start(wav: tuple[Path, np.ndarray]) -> None:
    path, _ = wav
    player = Player(FakeBackend(speed=0))
    player.seek(1.0)  # nothing open: ignored
    player.open(path)
    player.seek(-3)
    assert player.position == 0.0
    player.seek(99)
    assert player.position == player.duration
    player.seek(1.5)
    player.stop()
    assert (player.state, player.position) == ("stopped", 0.0)


def test_position_never_exceeds_duration(wav: tuple[Path, np.ndarray]) -> None:
    path, _ = wav
    finished = threading.Event()
    player = Player(FakeBackend(speed=20), on_finished=finished.set, blocksize=333)
    duration = player.open(path)
    seen = []
    player.play()
    deadline = time.monotonic() + 1.5
    while not finished.is_set() and time.monotonic() < deadline:
        seen.append(player.position)
    assert finished.is_set() and seen and max(seen) <= duration and player.position == 0.0


def test_open_missing_or_broken_file(tmp_path: Path) -> None:
    player = Player(FakeBackend(speed=0))
    with pytest.raises(AudioError, match="录音文件不存在"):
        player.open(tmp_path / "gone.wav")
    (tmp_path / "broken.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(AudioError, match="录音文件无法读取"):
        player.open(tmp_path / "broken.wav")
    with pytest.raises(AudioError, match="请先打开"):
        player.play()


# --- the PortAudio backend without PortAudio -----------------------------------------------------


def test_missing_sounddevice_module_is_an_audio_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    backend = SounddeviceBackend()
    for call in (backend.devices, lambda: backend.input_stream(None, SR, 1, 400, print),
                 lambda: backend.output_stream(SR, 1, 400, lambda n: None)):
        with pytest.raises(AudioError, match="PortAudio"):
            call()
    with pytest.raises(AudioError, match="PortAudio"):
        LineInRecorder(tmp_path, backend=backend).start("call")
    assert list(tmp_path.iterdir()) == []


def test_missing_portaudio_library_is_an_audio_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kw: object) -> object:
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(AudioError) as caught:
        SounddeviceBackend().devices()
    assert str(caught.value) == NO_PORTAUDIO and "libportaudio2" in str(caught.value)


def test_importing_the_module_needs_neither_qt_nor_portaudio() -> None:
    code = ("import sys, devices.audio; "
            "assert not {'PySide6', 'sounddevice'} & set(sys.modules), sorted(sys.modules)")
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=30)


class _FakeSounddevice(types.ModuleType):
    """Just what SounddeviceBackend uses of the sounddevice module: streams keep their callbacks."""

    class PortAudioError(Exception):
        pass

    class CallbackStop(Exception):  # noqa: N818 - sounddevice's name
        pass

    class _Stream:
        def __init__(self, **kw: object) -> None:
            if kw.get("device") == 9:
                raise _FakeSounddevice.PortAudioError("Invalid device [PaErrorCode -9996]")
            self.kw = kw
            _FakeSounddevice.streams.append(self)

        def start(self) -> None:
            raise _FakeSounddevice.PortAudioError("Device unavailable")

        def stop(self) -> None: ...

        def close(self) -> None: ...

    InputStream = OutputStream = _Stream
    streams: list[_Stream] = []
    default = types.SimpleNamespace(device=[1, 2])

    def query_devices(self, kind: str | None = None) -> list[dict[str, object]]:
        return [{"name": "Speakers", "hostapi": 0, "max_input_channels": 0, "max_output_channels": 2},
                {"name": "Line In", "hostapi": 1, "max_input_channels": 2, "max_output_channels": 0}]

    def query_hostapis(self) -> list[dict[str, str]]:
        return [{"name": "MME"}, {"name": "Windows WASAPI"}]


def test_sounddevice_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    sd = _FakeSounddevice("sounddevice")
    _FakeSounddevice.streams.clear()
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    backend = SounddeviceBackend()
    assert [(d.index, d.name, d.inputs, d.default_input) for d in backend.devices()] == [
        (0, "Speakers (MME)", 0, False), (1, "Line In (Windows WASAPI)", 2, True)]
    with pytest.raises(AudioError, match="无法打开录音设备 9"):
        backend.input_stream(9, SR, 1, 400, print)

    blocks: list[np.ndarray] = []
    stream = backend.input_stream(1, SR, 1, 400, blocks.append)
    assert sd.streams[-1].kw["dtype"] == "int16"
    indata = np.ones((400, 1), np.int16)
    sd.streams[-1].kw["callback"](indata, 400, None, None)
    indata[:] = 7  # PortAudio reuses its buffer
    assert blocks[0].sum() == 400
    with pytest.raises(AudioError, match="Device unavailable"):
        stream.start()

    backend.output_stream(SR, 1, 4, lambda n: np.full((min(n, 3), 1), 5, np.int16))
    outdata = np.full((4, 1), 9, np.int16)
    with pytest.raises(sd.CallbackStop):
        sd.streams[-1].kw["callback"](outdata, 4, None, None)
    assert outdata[:, 0].tolist() == [5, 5, 5, 0]
