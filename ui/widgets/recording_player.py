"""Playback of a call recording inside the program: play / pause, stop, a position slider, the time.

Sound goes out through ``devices.audio.Player`` (PortAudio via sounddevice; it reads the file in
blocks on the audio thread), so the GUI thread only polls the position. Without a sound card or
PortAudio the reason is shown and the file can still be opened from its folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

TICKS_PER_SECOND = 10


def clock_text(seconds: float) -> str:
    minutes, secs = divmod(int(max(0.0, seconds)), 60)
    return f"{minutes}:{secs:02d}"


class RecordingPlayer(QWidget):
    """``load(path)`` a call's recording; the buttons play it. ``backend``: the audio backend to use
    (None: the sound card), set before the first play."""

    finished = Signal()  # playback reached the end (delivered on the GUI thread)

    def __init__(self, parent: QWidget | None = None, *, backend: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("recording_player")
        self.backend = backend
        self.player: Any = None
        self.path: Path | None = None
        self.title = QLabel("录音", objectName="recording_title")
        self.play_button = QPushButton("播放", objectName="recording_play")
        self.stop_button = QPushButton("停止", objectName="recording_stop")
        self.folder_button = QPushButton("打开所在文件夹", objectName="recording_folder")
        self.slider = QSlider(Qt.Orientation.Horizontal, objectName="recording_position")
        self.time = QLabel("0:00 / 0:00", objectName="recording_time")
        self.message = QLabel(objectName="recording_message", wordWrap=True)
        self.play_button.clicked.connect(self.toggle)
        self.stop_button.clicked.connect(self.stop)
        self.folder_button.clicked.connect(self.open_folder)
        self.slider.sliderReleased.connect(lambda: self.seek(self.slider.value() / TICKS_PER_SECOND))
        self.finished.connect(self._at_end)
        self._timer = QTimer(self, interval=200)
        self._timer.timeout.connect(self._show_position)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        for widget in (self.play_button, self.stop_button, self.time):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.folder_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.slider)
        layout.addLayout(buttons)
        layout.addWidget(self.message)
        self.load(None)

    # --- what is loaded ------------------------------------------------------------------------------

    def load(self, path: str | None) -> None:
        """Show this recording (or none); playback of the previous one stops."""
        self._release()
        self.path = Path(path) if path else None
        self.message.clear()
        self.slider.setValue(0)
        exists = self.path is not None and self.path.is_file()
        for widget in (self.play_button, self.stop_button, self.slider):
            widget.setEnabled(exists)
        self.folder_button.setEnabled(exists)
        if self.path is None:
            self.title.setText("录音：无")
            self.time.setText("0:00 / 0:00")
            return
        self.title.setText(f"录音：{self.path.name}")
        if not exists:
            self.message.setText(f"录音文件不存在：{self.path}")
            return
        duration = self._duration(self.path)
        self.slider.setRange(0, int(duration * TICKS_PER_SECOND))
        self.time.setText(f"0:00 / {clock_text(duration)}")

    @staticmethod
    def _duration(path: Path) -> float:
        try:
            import soundfile  # type: ignore[import-untyped]

            info = soundfile.info(str(path))
            return info.frames / info.samplerate if info.samplerate else 0.0
        except Exception:  # unreadable: said when playing
            return 0.0

    # --- playing -------------------------------------------------------------------------------------

    def toggle(self) -> None:
        from devices.audio import AudioError

        if self.path is None:
            return
        try:
            if self.player is None:
                from devices.audio import Player, default_backend

                player = Player(self.backend or default_backend(), on_finished=self.finished.emit)
                duration = player.open(self.path)
                self.player = player
                self.slider.setRange(0, int(duration * TICKS_PER_SECOND))
            if self.player.state == "playing":
                self.player.pause()
                self._timer.stop()
                self.play_button.setText("播放")
            else:
                self.player.play()
                self._timer.start()
                self.play_button.setText("暂停")
            self.message.clear()
        except AudioError as e:
            self.message.setText(str(e))
        self._show_position()

    def stop(self) -> None:
        if self.player is not None:
            self.player.stop()
        self._timer.stop()
        self.play_button.setText("播放")
        self._show_position()

    def seek(self, seconds: float) -> None:
        if self.player is not None:
            self.player.seek(seconds)
        self._show_position()

    def open_folder(self) -> None:
        if self.path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.path.parent)))

    @property
    def state(self) -> str:
        return self.player.state if self.player is not None else "stopped"

    def _at_end(self) -> None:
        self._timer.stop()
        self.play_button.setText("播放")
        self._show_position()

    def _show_position(self) -> None:
        if self.player is None:
            return
        position, duration = self.player.position, self.player.duration
        if not self.slider.isSliderDown():
            self.slider.setValue(int(position * TICKS_PER_SECOND))
        self.time.setText(f"{clock_text(position)} / {clock_text(duration)}")

    def _release(self) -> None:
        self._timer.stop()
        player, self.player = self.player, None
        if player is not None:
            player.close()
        self.play_button.setText("播放")

    def closeEvent(self, event: Any) -> None:  # noqa: N802 (Qt override)
        self._release()
        super().closeEvent(event)
