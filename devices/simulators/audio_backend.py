"""A fake sound card for ``devices.audio``: threads feeding a given signal (tests and ``--simulate-devices``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import numpy as np

from devices.audio.backend import AudioDevice, AudioError, InputCallback, OutputCallback, Stream

# --- a fake sound card -----------------------------------------------------------------------------

FAKE_DEVICES = (AudioDevice(0, "模拟线路输入 (Line In)", 2, 0, default_input=True), AudioDevice(1, "模拟扬声器", 0, 2))


class _FakeStream:
    """A stream whose audio runs ``body(stop_event)`` on a daemon thread; stop() returns promptly."""

    def __init__(self, body: Callable[[threading.Event], None], name: str) -> None:
        self._body, self._name = body, name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._body, args=(self._stop,), name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)

    def close(self) -> None:
        self.stop()

    @property
    def active(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def _pace(stop: threading.Event, due: float, seconds: float, speed: float) -> float:
    """Wait until ``seconds`` of audio at ``speed`` × real time have passed since ``due``; the new due time."""
    now = time.monotonic()
    if speed <= 0:
        return now
    due = max(due + seconds / speed, now - 0.5)  # after a long stall catch up a little, not in one burst
    stop.wait(max(0.0, due - now))
    return due


class FakeBackend:
    """A sound card made of threads, for tests and the ``--simulate-devices`` demo.

    Input streams feed ``signal`` (int16, mono or ``(n, channels)``) in blocks, paced at real time
    divided by ``speed`` (0: as fast as possible), then silence until stopped (with ``speed`` 0 the
    silence comes at real time: an endless stream as fast as possible would only fill the memory).
    ``fed`` counts the frames handed to input callbacks; ``signal_done`` is set once the whole
    signal was fed. Output streams pull frames at the same pace and append them to ``played``.
    """

    def __init__(self, signal: np.ndarray | None = None, *, speed: float = 1.0,
                 devices: Sequence[AudioDevice] = FAKE_DEVICES) -> None:
        self.signal = np.zeros((0, 1), np.int16) if signal is None else np.asarray(signal, np.int16)
        if self.signal.ndim == 1:
            self.signal = self.signal.reshape(-1, 1)
        self.speed = speed
        self._devices = list(devices)
        self.played: list[np.ndarray] = []
        self.fed = 0
        self.signal_done = threading.Event()

    def devices(self) -> list[AudioDevice]:
        return list(self._devices)

    def input_stream(self, device: int | None, samplerate: int, channels: int, blocksize: int,
                     callback: InputCallback) -> Stream:
        if device is not None and not any(d.index == device and d.inputs >= channels for d in self._devices):
            raise AudioError(f"无法打开录音设备 {device}：设备不存在或没有录音通道")
        signal = self.signal
        if signal.shape[1] != channels:
            signal = np.repeat(signal[:, :1], channels, axis=1)
        blocksize = blocksize or 512
        position = 0

        def feed(stop: threading.Event) -> None:
            nonlocal position
            due = time.monotonic()
            while not stop.is_set():
                if position < len(signal):
                    block = signal[position:position + blocksize].copy()
                    position += len(block)
                    speed = self.speed
                else:
                    self.signal_done.set()
                    block = np.zeros((blocksize, channels), np.int16)
                    speed = self.speed or 1.0
                callback(block)
                self.fed += len(block)
                due = _pace(stop, due, len(block) / samplerate, speed)

        return _FakeStream(feed, "fake-audio-in")

    def output_stream(self, samplerate: int, channels: int, blocksize: int, callback: OutputCallback, *,
                      finished: Callable[[], None] | None = None) -> Stream:
        blocksize = blocksize or 512

        def pull(stop: threading.Event) -> None:
            due = time.monotonic()
            while not stop.is_set():
                data = callback(blocksize)
                if data is not None and len(data):
                    self.played.append(np.array(data, np.int16).reshape(-1, channels))
                if data is None or len(data) < blocksize:
                    break
                due = _pace(stop, due, blocksize / samplerate, self.speed)
            if finished is not None:
                finished()

        return _FakeStream(pull, "fake-audio-out")
