"""A device on a pseudo-terminal (Linux / macOS): what the caller-ID and GSM modem simulators share.

The adapter under test opens ``port`` (the pty's slave) as a real serial port; a thread reads what it
writes on the master side and hands each chunk to ``_received``; ``_write`` answers. ``unplug``
closes the master, as a USB device that disappears: the adapter's next read or write fails.
"""

from __future__ import annotations

import os
import select
import threading
import tty
from typing import Self


class PtyDevice:
    encoding = "ascii"  # of what the device writes

    def __init__(self, thread_name: str) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation before the adapter opens it
        self.port = os.ttyname(self._slave)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=thread_name, daemon=True)

    def _start(self) -> None:
        """Called by a subclass at the end of its ``__init__``."""
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(self._master, 4096)
            except (OSError, ValueError):  # unplugged / closed
                return
            if not data:
                return
            self._received(data)

    def _received(self, data: bytes) -> None:
        raise NotImplementedError

    def _write(self, text: str) -> None:
        with self._lock:
            if self._master >= 0:
                try:
                    os.write(self._master, text.encode(self.encoding))
                except OSError:
                    pass

    def _close_master(self) -> None:
        self._stop.set()
        with self._lock:
            master, self._master = self._master, -1
        if master >= 0:
            os.close(master)

    def unplug(self) -> None:
        """The USB device disappears: the adapter's next read or write fails."""
        self._close_master()
        if self._thread is not threading.current_thread():
            self._thread.join(1)

    def close(self) -> None:
        self.unplug()
        if self._slave >= 0:
            os.close(self._slave)
            self._slave = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
