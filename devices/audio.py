"""Call recording from a PC line-in, playback of the recordings, and hang-up detection from the audio.

The sound card is reached through a small ``AudioBackend``: ``SounddeviceBackend`` (PortAudio through
sounddevice, imported only when a stream is opened, so this module imports without PortAudio) or
``FakeBackend`` (threads feeding a given signal, for tests and ``--simulate-devices``). Files are
written and read with soundfile (WAV, PCM_16, mono). Nothing here knows about Qt: callbacks run on
the backend's or the writer's thread and a GUI must hand them over to its own thread.

A line-in hears no loop current, so the end of a call is guessed from the sound: the Chinese busy
tone 忙音 (450 Hz, 0.35 s on / 0.35 s off) or a long silence. The dial tone 拨号音 is the same 450 Hz
without a cadence and must not count, nor the ring-back tone 回铃音 (1 s on / 4 s off).
"""

from __future__ import annotations

import logging
import math
import os
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import soundfile as sf

log = logging.getLogger(__name__)

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


# --- hang-up detection -----------------------------------------------------------------------------


class HangupDetector:
    """Feed it the call's audio; ``feed`` returns "busy" or "silence" once, when the call seems over.

    The audio is cut into 50 ms frames. A frame is *tone* when the Goertzel power at ``busy_hz``
    carries at least 60 % of the frame's energy (about ±7 Hz around 450 Hz) and the frame is not
    near-silent. The busy tone is ``busy_cycles`` full cycles of a tone run followed by a quieter
    gap, each 0.2–0.6 s (± half a frame); a continuous tone (the dial tone), a slow cadence (the
    ring-back tone) or gaps as loud as the tone (music) reset the count. "silence" is ``silence_s``
    seconds of frames whose RMS stays below ``silence_rms`` (int16 scale). After a detection it
    returns None until ``reset()``; ``result`` keeps the reason.
    """

    FRAME_S = 0.05
    TONE_SHARE = 0.6  # the tone bin's share of the frame energy for a tone frame
    GAP_LEVEL = 0.5  # a gap's RMS must stay below this part of the tone's RMS

    def __init__(self, samplerate: int, *, silence_s: float = 8.0, silence_rms: float = 200.0,
                 busy_hz: float = 450.0, busy_cycles: int = 3, tone_rms: float = 50.0,
                 on_s: tuple[float, float] = (0.2, 0.6), off_s: tuple[float, float] = (0.2, 0.6)) -> None:
        self.samplerate = samplerate
        self.frame = max(8, round(samplerate * self.FRAME_S))
        self.frame_s = self.frame / samplerate
        self.silence_rms, self.tone_rms, self.busy_cycles = silence_rms, tone_rms, busy_cycles
        self.on_s, self.off_s = on_s, off_s
        self._silence_frames = max(1, math.ceil(silence_s / self.frame_s - 1e-9))
        self._max_frames = math.floor(max(on_s[1], off_s[1]) / self.frame_s + 0.5) + 1
        # The Goertzel filter's output at busy_hz over one frame is this single DFT bin; with numpy a
        # precomputed kernel and one matrix product for all frames is far faster than the recursion.
        self._kernel = np.exp(-2j * np.pi * busy_hz * np.arange(self.frame) / samplerate)
        self.reset()

    def reset(self) -> None:
        self.result: str | None = None
        self._pending = np.zeros(0)
        self._quiet = 0  # consecutive frames below silence_rms
        self._in_tone = False
        self._run = 0  # frames in the current tone / gap run
        self._levels: list[float] = []  # RMS of the current run's frames (the first few)
        self._last_tone: float | None = None  # RMS of the last tone run if its length was right
        self._cycles = 0

    def feed(self, block: np.ndarray) -> str | None:
        if self.result is not None:
            return None
        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 2:
            x = x.mean(axis=1)
        buf = np.concatenate((self._pending, x)) if len(self._pending) else x
        count = len(buf) // self.frame
        self._pending = buf[count * self.frame:].copy()
        if not count:
            return None
        frames = buf[:count * self.frame].reshape(count, self.frame)
        frames = frames - frames.mean(axis=1, keepdims=True)  # a sound card's DC offset is no signal
        energy = np.einsum("ij,ij->i", frames, frames)
        tone = np.abs(frames @ self._kernel) ** 2
        share = np.divide(2 * tone, self.frame * energy, out=np.zeros(count), where=energy > 0)
        rms = np.sqrt(energy / self.frame)
        for s, level in zip(share.tolist(), rms.tolist(), strict=True):
            reason = self._frame(s, level)
            if reason is not None:
                self.result, self._pending = reason, np.zeros(0)
                return reason
        return None

    def _frame(self, share: float, level: float) -> str | None:
        self._quiet = self._quiet + 1 if level < self.silence_rms else 0
        if self._quiet >= self._silence_frames:
            return REASON_SILENCE
        is_tone = share >= self.TONE_SHARE and level >= self.tone_rms
        if is_tone != self._in_tone:
            self._end_run()
            self._in_tone, self._run, self._levels = is_tone, 0, []
        self._run += 1
        if self._run <= self._max_frames:
            self._levels.append(level)
        elif self._cycles or self._last_tone is not None:  # too long for a cadence: the dial tone, a pause
            self._cycles, self._last_tone = 0, None
        return REASON_BUSY if self._cycles >= self.busy_cycles else None

    def _end_run(self) -> None:
        low, high = self.on_s if self._in_tone else self.off_s
        seconds = self._run * self.frame_s
        fits = low - self.frame_s / 2 <= seconds <= high + self.frame_s / 2
        level = float(np.median(self._levels)) if self._levels else 0.0
        if self._in_tone:
            self._last_tone = level if fits else None
            if not fits:
                self._cycles = 0
        else:  # a gap ended: a tone starts
            if fits and self._last_tone is not None and level <= self._last_tone * self.GAP_LEVEL:
                self._cycles += 1
            else:
                self._cycles = 0
            self._last_tone = None


# --- recording ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    """A finished recording. ``reason``: "stopped", "busy", "silence" or "error" (then ``error`` says why)."""

    path: Path
    seconds: float
    reason: str
    error: str = ""


_END = object()


class _Take:
    """The state of one recording in progress, shared by the recorder, the audio callback and the writer."""

    def __init__(self, path: Path, file: sf.SoundFile, detector: HangupDetector | None) -> None:
        self.path, self.file, self.detector = path, file, detector
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.stream: Stream | None = None
        self.thread: threading.Thread | None = None
        self.frames = 0
        self.reason: str | None = None
        self.error: AudioError | None = None

    def put(self, block: np.ndarray) -> None:  # the audio callback: nothing slow here
        if self.error is None:
            self.queue.put(block)


def _sync(file: sf.SoundFile) -> None:
    """Flush and rewrite the WAV header's lengths, so that a crash leaves a file any player can read."""
    file.flush()
    try:
        sf._snd.sf_command(file._file, _SFC_UPDATE_HEADER_NOW, sf._ffi.NULL, 0)
    except AttributeError:  # soundfile's internals changed: libsndfile still reads the file, others may not
        pass


def _private_folder(folder: Path) -> None:
    """Make ``folder`` (0700 on POSIX when this program makes it; a folder the clinic chose keeps its mode)."""
    if not folder.is_dir():
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.name == "posix":
            os.chmod(folder, 0o700)


def check_name(name: str) -> None:
    """AudioError unless ``name`` can be a recording's file name (no folders, nothing Windows refuses)."""
    if not name.strip() or name.strip(". ") == "" or _BAD_NAME.search(name):
        raise AudioError(f"录音文件名不能为空，也不能包含 \\ / : * ? \" < > | 等字符：{name!r}")


class LineInRecorder:
    """Records the phone line from a sound card's line-in into ``folder/YYYY/MM/<name>.wav``.

    The audio callback only queues blocks; a writer thread writes them, syncs the file about every
    ``flush_s`` seconds and feeds a HangupDetector. On a busy tone or a long silence it calls
    ``on_hangup(reason)`` once, from the writer thread, and keeps recording: the owner decides when to
    ``stop()`` (not from inside ``on_hangup``). A write error (disk full) ends the writing, calls
    ``on_error`` once and makes the recording's reason "error".
    """

    def __init__(self, folder: Path, *, device: int | None = None, samplerate: int = 8000,
                 backend: AudioBackend | None = None, silence_s: float = 8.0, detect_hangup: bool = True,
                 on_hangup: Callable[[str], None] | None = None,
                 on_error: Callable[[AudioError], None] | None = None, flush_s: float = 1.0,
                 blocksize: int | None = None, now: Callable[[], datetime] = datetime.now) -> None:
        self.folder = Path(folder)
        self.device, self.samplerate = device, samplerate
        self.backend = backend if backend is not None else default_backend()
        self.silence_s, self.detect_hangup = silence_s, detect_hangup
        self.on_hangup, self.on_error = on_hangup, on_error
        self.flush_s = flush_s
        self.blocksize = blocksize or max(1, samplerate // 20)
        self._now = now
        self._lock = threading.Lock()
        self._take: _Take | None = None

    @property
    def recording(self) -> bool:
        return self._take is not None

    @property
    def path(self) -> Path | None:
        take = self._take
        return take.path if take is not None else None

    @property
    def hangup(self) -> str | None:
        """The hang-up the current recording heard ("busy" / "silence"), else None."""
        take = self._take
        return take.reason if take is not None else None

    def start(self, name: str) -> Path:
        """Open the file and the device and start recording; the file's path. AudioError when it cannot."""
        check_name(name)
        with self._lock:
            if self._take is not None:
                raise AudioError("正在录音，请先停止当前录音")
            holder: list[_Take] = []
            stream = self.backend.input_stream(self.device, self.samplerate, 1, self.blocksize,
                                               lambda block: holder[0].put(block) if holder else None)
            try:
                path, file = self._create_file(name)
            except AudioError:
                _quietly(stream.close)
                raise
            detector = HangupDetector(self.samplerate, silence_s=self.silence_s) if self.detect_hangup else None
            take = _Take(path, file, detector)
            take.stream = stream
            take.thread = threading.Thread(target=self._write, args=(take,), name="audio-writer", daemon=True)
            take.thread.start()
            holder.append(take)
            try:
                stream.start()
            except AudioError:
                _quietly(stream.close)
                take.queue.put(_END)
                take.thread.join()
                path.unlink(missing_ok=True)
                raise
            self._take = take
            return path

    def stop(self) -> Recording:
        """Stop the device, write what is queued, close the file; AudioError when nothing is recording."""
        take = self._take
        if take is not None and take.thread is threading.current_thread():
            raise AudioError("不能在录音线程（on_hangup 回调）里直接停止录音")
        with self._lock:
            take, self._take = self._take, None
        if take is None:
            raise AudioError("当前没有在录音")
        assert take.stream is not None and take.thread is not None
        for step in (take.stream.stop, take.stream.close):
            _quietly(step)
        take.queue.put(_END)
        take.thread.join()
        if take.error is not None:
            return Recording(take.path, take.frames / self.samplerate, REASON_ERROR, str(take.error))
        return Recording(take.path, take.frames / self.samplerate, take.reason or REASON_STOPPED)

    def _create_file(self, name: str) -> tuple[Path, sf.SoundFile]:
        """A new WAV file, its owner's only on POSIX (0600, folders 0700: a call is personal data)."""
        today = self._now()
        sub = self.folder / f"{today:%Y}" / f"{today:%m}"
        try:
            for folder in (self.folder, self.folder / f"{today:%Y}", sub):
                _private_folder(folder)
            path = sub / f"{name}.wav"
            number = 1
            while True:  # never overwrite an earlier recording
                try:
                    os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_BINARY", 0), 0o600))
                    break
                except FileExistsError:
                    number += 1
                    path = sub / f"{name}-{number}.wav"
            try:  # the empty file made above keeps its mode when libsndfile writes it
                file = sf.SoundFile(path, "w", samplerate=self.samplerate, channels=1, format="WAV", subtype="PCM_16")
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        except (OSError, sf.SoundFileError) as e:
            raise AudioError(f"无法创建录音文件 {sub / name}.wav：{e}") from e
        return path, file

    def _write(self, take: _Take) -> None:
        """The writer thread: blocks from the queue to the file, the detector, and the callbacks."""
        synced = time.monotonic()
        while (block := take.queue.get()) is not _END:
            if take.error is not None:
                continue
            try:
                take.file.write(block)
                take.frames += len(block)
                if time.monotonic() - synced >= self.flush_s:
                    _sync(take.file)
                    synced = time.monotonic()
            except (OSError, sf.SoundFileError) as e:
                take.error = AudioError(f"录音文件写入失败：{e}")
                _notify(self.on_error, take.error)
                continue
            if take.detector is not None and take.reason is None:
                reason = take.detector.feed(block)
                if reason is not None:
                    take.reason = reason
                    _notify(self.on_hangup, reason)
        try:
            take.file.close()
        except (OSError, sf.SoundFileError) as e:
            take.error = take.error or AudioError(f"录音文件保存失败：{e}")


def _quietly(step: Callable[[], None]) -> None:
    try:
        step()
    except AudioError:  # stopping a device that has gone away fails again; the recording still counts
        log.warning("closing the audio stream failed", exc_info=True)


def _notify(callback: Callable[..., None] | None, *args: Any) -> None:
    if callback is None:
        return
    try:
        callback(*args)
    except Exception:  # a failing listener must not kill the writer / the audio thread
        log.exception("audio listener failed")


# --- playback ----------------------------------------------------------------------------------


class Player:
    """Plays one recording at a time; the file is read in blocks from the output callback.

    ``position`` is where the next block is read from (a block ahead of the loudspeaker). When the
    last block is read the state goes back to "stopped" and the position to 0; once it has been
    played out ``on_finished()`` is called, once, from the backend's thread.
    """

    def __init__(self, backend: AudioBackend | None = None, *, on_finished: Callable[[], None] | None = None,
                 blocksize: int = 1024) -> None:
        self.backend = backend if backend is not None else default_backend()
        self.on_finished = on_finished
        self.blocksize = blocksize
        self._lock = threading.RLock()
        self._file: sf.SoundFile | None = None
        self._path: Path | None = None
        self._frame = 0
        self._state = STOPPED
        self._stream: Stream | None = None
        self._generation = 0  # bumped whenever a stream is abandoned; its late callbacks get None
        self._ended: int | None = None  # the generation whose stream read the file to its end
        self._stale: list[Stream] = []  # streams to close once we are off the backend's thread
        self._local = threading.local()

    # --- properties -------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def duration(self) -> float:
        with self._lock:
            return self._file.frames / self._file.samplerate if self._file is not None else 0.0

    @property
    def position(self) -> float:
        with self._lock:
            return self._frame / self._file.samplerate if self._file is not None else 0.0

    # --- control ----------------------------------------------------------------------------------

    def open(self, path: Path | str) -> float:
        """Open a recording (stopping the current one); its duration in seconds."""
        path = Path(path)
        self.close()
        if not path.is_file():
            raise AudioError(f"录音文件不存在：{path}")
        try:
            file = sf.SoundFile(path)
        except (OSError, sf.SoundFileError) as e:
            raise AudioError(f"录音文件无法读取：{path.name}（{e}）") from e
        with self._lock:
            self._file, self._path, self._frame, self._state = file, path, 0, STOPPED
        return file.frames / file.samplerate

    def play(self) -> None:
        with self._lock:
            if self._file is None:
                raise AudioError("请先打开录音文件")
            if self._state == PLAYING:
                return
            old, self._stream = self._stream, None
            self._generation += 1
            generation = self._generation
            if self._frame >= self._file.frames:
                self._frame = 0
            self._file.seek(self._frame)
            self._state = PLAYING
            samplerate, channels = self._file.samplerate, self._file.channels
        self._close_stream(old)
        try:
            stream = self.backend.output_stream(samplerate, channels, self.blocksize,
                                                lambda n: self._pull(n, generation),
                                                finished=lambda: self._finished(generation))
            stream.start()
        except AudioError:
            with self._lock:
                if generation == self._generation:
                    self._state = PAUSED if self._frame else STOPPED
            raise
        with self._lock:
            if generation == self._generation:
                self._stream = stream
                return
        self._close_stream(stream)  # stopped or paused while starting

    def pause(self) -> None:
        with self._lock:
            if self._state != PLAYING:
                return
            self._state = PAUSED
            self._generation += 1
            old, self._stream = self._stream, None
        self._close_stream(old)

    def stop(self) -> None:
        with self._lock:
            self._state, self._frame = STOPPED, 0
            self._generation += 1
            old, self._stream = self._stream, None
        self._close_stream(old)

    def seek(self, seconds: float) -> None:
        with self._lock:
            if self._file is None:
                return
            self._frame = min(max(0, round(seconds * self._file.samplerate)), self._file.frames)
            self._file.seek(self._frame)

    def close(self) -> None:
        self.stop()
        with self._lock:
            file, self._file, self._path = self._file, None, None
        if file is not None:
            file.close()

    # --- the backend's thread ---------------------------------------------------------------------

    def _pull(self, count: int, generation: int) -> np.ndarray | None:
        with self._lock:
            if generation != self._generation or self._state != PLAYING or self._file is None:
                return None
            try:
                data = self._file.read(count, dtype="int16", always_2d=True)
            except (OSError, sf.SoundFileError):
                log.exception("reading %s failed", self._path)
                data = None
            if data is not None and len(data) == count:
                self._frame += count
                return data
            self._state, self._frame, self._ended = STOPPED, 0, generation
            self._file.seek(0)
        return data

    def _finished(self, generation: int) -> None:
        with self._lock:
            if self._ended != generation or generation != self._generation:
                return  # paused, stopped, or played again meanwhile
            self._ended = None
        self._local.in_callback = True
        try:
            _notify(self.on_finished)
        finally:
            self._local.in_callback = False

    def _close_stream(self, stream: Stream | None) -> None:
        if getattr(self._local, "in_callback", False):  # PortAudio cannot stop a stream from its own callback
            if stream is not None:
                self._stale.append(stream)
            return
        stale, self._stale = self._stale, []
        for old in (*stale, stream):
            if old is not None:
                _quietly(old.stop)
                _quietly(old.close)
