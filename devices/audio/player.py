"""Playback of the recordings."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf  # type: ignore[import-untyped]  # no stubs

from devices.audio.backend import PAUSED, PLAYING, STOPPED, AudioBackend, AudioError, Stream, default_backend
from devices.audio.recorder import _notify, _quietly

log = logging.getLogger(__name__)

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
        return float(file.frames / file.samplerate)

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
                data: np.ndarray | None = self._file.read(count, dtype="int16", always_2d=True)
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
