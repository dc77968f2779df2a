"""Recording a call from the line-in to a WAV file, written on its own thread, ended by a hang-up."""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf  # type: ignore[import-untyped]  # no stubs

from devices.audio.backend import (
    _BAD_NAME,
    _SFC_UPDATE_HEADER_NOW,
    REASON_ERROR,
    REASON_STOPPED,
    AudioBackend,
    AudioError,
    Stream,
    default_backend,
)
from devices.audio.hangup import HangupDetector

log = logging.getLogger(__name__)

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
