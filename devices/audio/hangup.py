"""Hang-up detection from the sound: the busy tone 忙音 or a long silence (not the dial or ring-back tone)."""

from __future__ import annotations

import math

import numpy as np

from devices.audio.backend import REASON_BUSY, REASON_SILENCE

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
