"""Call recording from a PC line-in, playback of the recordings, and hang-up detection from the audio.

The sound card is reached through a small ``AudioBackend``: ``SounddeviceBackend`` (PortAudio through
sounddevice, imported only when a stream is opened, so this module imports without PortAudio) or
``FakeBackend`` (threads feeding a given signal, for tests and ``--simulate-devices``). Files are
written and read with soundfile (WAV, PCM_16, mono). Nothing here knows about Qt: callbacks run on
the backend's or the writer's thread and a GUI must hand them over to its own thread.

A line-in hears no loop current, so the end of a call is guessed from the sound: the Chinese busy
tone 忙音 (450 Hz, 0.35 s on / 0.35 s off) or a long silence. The dial tone 拨号音 is the same 450 Hz
without a cadence and must not count, nor the ring-back tone 回铃音 (1 s on / 4 s off).

The parts: ``backend`` (the protocol and PortAudio), ``hangup``, ``recorder``, ``player``; the fake
sound card is ``devices.simulators.audio_backend``. Their public names are re-exported here.
"""

from __future__ import annotations

from devices.audio.backend import (
    NO_PORTAUDIO,
    PAUSED,
    PLAYING,
    REASON_BUSY,
    REASON_ERROR,
    REASON_SILENCE,
    REASON_STOPPED,
    STOPPED,
    AudioBackend,
    AudioDevice,
    AudioError,
    InputCallback,
    OutputCallback,
    SounddeviceBackend,
    Stream,
    _sounddevice,
    default_backend,
)
from devices.audio.hangup import (
    HangupDetector,
)
from devices.audio.player import (
    Player,
)
from devices.audio.recorder import (
    LineInRecorder,
    Recording,
    check_name,
)
from devices.simulators.audio_backend import (  # the fake sound card lives with the simulators
    FAKE_DEVICES,
    FakeBackend,
)

__all__ = [
    "PAUSED",
    "PLAYING",
    "REASON_BUSY",
    "REASON_ERROR",
    "REASON_SILENCE",
    "REASON_STOPPED",
    "STOPPED",
    "AudioBackend",
    "AudioDevice",
    "AudioError",
    "FAKE_DEVICES",
    "FakeBackend",
    "HangupDetector",
    "InputCallback",
    "LineInRecorder",
    "NO_PORTAUDIO",
    "OutputCallback",
    "Player",
    "Recording",
    "SounddeviceBackend",
    "Stream",
    "_sounddevice",
    "check_name",
    "default_backend",
]
