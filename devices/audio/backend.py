"""The sound card behind a small ``AudioBackend``: PortAudio through sounddevice (imported only when a
stream is opened, so this imports without PortAudio)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

NO_PORTAUDIO = "未找到 PortAudio 声音库（Linux 请安装 libportaudio2）"
STOPPED, PLAYING, PAUSED = "stopped", "playing", "paused"
# Recording.reason
REASON_STOPPED, REASON_BUSY, REASON_SILENCE, REASON_ERROR = "stopped", "busy", "silence", "error"
_BAD_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]')  # path separators and what Windows refuses in a file name
_SFC_UPDATE_HEADER_NOW = 0x1060  # libsndfile's sf_command code; soundfile does not export it


class AudioError(Exception):
    """The sound card or a recording could not be used; the message is shown as it is."""


@dataclass(frozen=True)
class AudioDevice:
    """A sound device as the backend lists it; ``inputs`` / ``outputs`` are channel counts."""

    index: int
    name: str
    inputs: int
    outputs: int
    default_input: bool = False


class Stream(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


InputCallback = Callable[[np.ndarray], None]
OutputCallback = Callable[[int], "np.ndarray | None"]


class AudioBackend(Protocol):
    """Where the sound comes from and goes to.

    ``input_stream`` calls ``callback`` on the backend's thread with int16 frames shaped
    ``(n, channels)`` (the callback's own copy). ``output_stream`` asks ``callback(n)`` for up to ``n``
    int16 frames shaped ``(k, channels)``; fewer than ``n`` or ``None`` ends the stream after them, and
    ``finished()`` is called on the backend's thread once the stream has ended (played out, or stopped).
    Both raise AudioError when the device cannot be opened.
    """

    def devices(self) -> list[AudioDevice]: ...

    def input_stream(self, device: int | None, samplerate: int, channels: int, blocksize: int,
                     callback: InputCallback) -> Stream: ...

    def output_stream(self, samplerate: int, channels: int, blocksize: int, callback: OutputCallback, *,
                      finished: Callable[[], None] | None = None) -> Stream: ...


# --- PortAudio through sounddevice ---------------------------------------------------------------


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as e:  # the module is there, the PortAudio library is not
        raise AudioError(NO_PORTAUDIO) from e
    except ImportError as e:
        raise AudioError("未找到 PortAudio 声音库：没有安装 sounddevice（pip install sounddevice）") from e
    return sounddevice


class _SounddeviceStream:
    """An sd.InputStream / sd.OutputStream whose PortAudio errors come out as AudioError."""

    def __init__(self, stream: Any, sd: Any, what: str) -> None:
        self._stream, self._sd, self._what = stream, sd, what

    def _call(self, method: str) -> None:
        try:
            getattr(self._stream, method)()
        except self._sd.PortAudioError as e:
            raise AudioError(f"{self._what}出错：{e}") from e

    def start(self) -> None:
        self._call("start")

    def stop(self) -> None:
        self._call("stop")

    def close(self) -> None:
        self._call("close")


class SounddeviceBackend:
    """The PC's sound card through PortAudio (``sounddevice``), imported when first needed."""

    def devices(self) -> list[AudioDevice]:
        sd = _sounddevice()
        try:
            listed = sd.query_devices()
            hostapis = [api["name"] for api in sd.query_hostapis()]
        except sd.PortAudioError as e:
            raise AudioError(f"无法列出声音设备：{e}") from e
        try:
            default_in = sd.default.device[0]
            if default_in is None or default_in < 0:
                default_in = sd.query_devices(kind="input")["index"]
        except (sd.PortAudioError, KeyError, TypeError, ValueError):  # no default input device
            default_in = -1
        result = []
        for index, info in enumerate(listed):
            name = info["name"]
            if 0 <= info.get("hostapi", -1) < len(hostapis):  # Windows lists a card once per host API
                name = f"{name} ({hostapis[info['hostapi']]})"
            result.append(AudioDevice(index, name, int(info["max_input_channels"]),
                                      int(info["max_output_channels"]), index == default_in))
        return result

    def input_stream(self, device: int | None, samplerate: int, channels: int, blocksize: int,
                     callback: InputCallback) -> Stream:
        sd = _sounddevice()

        def on_audio(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            callback(indata.copy())  # PortAudio reuses the buffer

        try:
            stream = sd.InputStream(device=device, samplerate=samplerate, channels=channels, blocksize=blocksize,
                                    dtype="int16", callback=on_audio)
        except (sd.PortAudioError, ValueError) as e:
            raise AudioError(f"无法打开录音设备 {'默认设备' if device is None else device}：{e}") from e
        return _SounddeviceStream(stream, sd, "录音设备")

    def output_stream(self, samplerate: int, channels: int, blocksize: int, callback: OutputCallback, *,
                      finished: Callable[[], None] | None = None) -> Stream:
        sd = _sounddevice()

        def on_audio(outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
            data = callback(frames)
            n = 0 if data is None else len(data)
            if n:
                outdata[:n] = data
            if n < frames:
                outdata[n:] = 0
                raise sd.CallbackStop

        try:
            stream = sd.OutputStream(samplerate=samplerate, channels=channels, blocksize=blocksize, dtype="int16",
                                     callback=on_audio, finished_callback=finished)
        except (sd.PortAudioError, ValueError) as e:
            raise AudioError(f"无法打开放音设备：{e}") from e
        return _SounddeviceStream(stream, sd, "放音设备")


def default_backend() -> AudioBackend:
    return SounddeviceBackend()
