"""What a line-in hears during a simulated call: ringing, a conversation, then the busy tone 忙音.

Used by ``--simulate-devices`` and the tests, with ``devices.audio.FakeBackend`` standing in for the
sound card. The "voice" is a few harmonics with a syllable-like loudness; the busy tone is China's
450 Hz, 0.35 s on / 0.35 s off, which the recorder's hang-up detector listens for.
"""

from __future__ import annotations

import numpy as np

SAMPLERATE = 8000


def ring_back(seconds: float, samplerate: int = SAMPLERATE) -> np.ndarray:
    """Quiet line with the faint ring bursts a recorder on the line hears before pick-up."""
    t = np.arange(int(seconds * samplerate)) / samplerate
    on = (t % 5.0) < 1.0
    return (on * 300 * np.sin(2 * np.pi * 25 * t)).astype(np.int16)


def voice(seconds: float, samplerate: int = SAMPLERATE, *, seed: int = 1) -> np.ndarray:
    """Speech-like sound: a wandering pitch with harmonics, loudness rising and falling per syllable."""
    rng = np.random.default_rng(seed)
    n = int(seconds * samplerate)
    t = np.arange(n) / samplerate
    pitch = 180 + 40 * np.sin(2 * np.pi * 0.7 * t) + 15 * rng.standard_normal(n).cumsum() / np.sqrt(n)
    phase = 2 * np.pi * np.cumsum(pitch) / samplerate
    sound = sum(np.sin(k * phase) / k for k in (1, 2, 3, 5, 8))
    syllables = 0.55 + 0.45 * np.abs(np.sin(2 * np.pi * 2.8 * t + rng.uniform(0, np.pi)))
    return (sound * syllables * 4000).astype(np.int16)


def busy_tone(seconds: float, samplerate: int = SAMPLERATE) -> np.ndarray:
    t = np.arange(int(seconds * samplerate)) / samplerate
    on = (t % 0.7) < 0.35
    return (on * 6000 * np.sin(2 * np.pi * 450 * t)).astype(np.int16)


def call_audio(*, ringing: float = 3.0, talking: float = 6.0, busy: float = 4.0,
               samplerate: int = SAMPLERATE) -> np.ndarray:
    """A whole call as the line-in hears it."""
    return np.concatenate([ring_back(ringing, samplerate), voice(talking, samplerate), busy_tone(busy, samplerate)])
