"""A simulated caller-ID voice modem on a pseudo-terminal (Linux / macOS).

The adapter opens ``modem.port`` (the pty's slave) as a real serial port; the simulator answers AT
commands on the master side and, on ``ring()``, writes what a modem writes::

    RING / (blank) / DATE = MMDD / TIME = HHMM / NMBR = … [/ NAME = …] / RING
"""

from __future__ import annotations

import os
import select
import threading
import time
import tty
from datetime import datetime


class CallerIdModem:
    """``style``: ``spaces`` (``NMBR = x``), ``compact`` (``NMBR=x``) or ``ddn`` (``DDN_NMBR=x``).

    ``vcid_error`` makes the modem refuse ``AT+VCID=1`` (an older chipset: the adapter falls back to
    ``AT#CID=1``); ``commands`` lists every command received.
    """

    def __init__(self, *, style: str = "spaces", vcid_error: bool = False, cid_error: bool = False) -> None:
        if style not in ("spaces", "compact", "ddn"):
            raise ValueError(f"unknown style {style!r}")
        self.style, self.vcid_error, self.cid_error = style, vcid_error, cid_error
        self.commands: list[str] = []
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation before the adapter opens it
        self.port = os.ttyname(self._slave)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="callerid-modem", daemon=True)
        self._thread.start()

    # --- the modem's side of the AT dialogue -------------------------------------------------------

    def _serve(self) -> None:
        buffer = b""
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self._master], [], [], 0.05)
                if not ready:
                    continue
                data = os.read(self._master, 1024)
            except OSError:  # unplugged / closed
                return
            if not data:
                return
            buffer += data
            while b"\r" in buffer:
                line, _, buffer = buffer.partition(b"\r")
                command = line.strip(b"\n ").decode("ascii", "replace")
                if command:
                    self.commands.append(command)
                    self._write(f"\r\n{self._answer(command)}\r\n")

    def _answer(self, command: str) -> str:
        upper = command.upper()
        if upper == "AT+VCID=1" and self.vcid_error:
            return "ERROR"
        if upper == "AT#CID=1" and self.cid_error:
            return "ERROR"
        return "OK" if upper.startswith("AT") else "ERROR"

    def _write(self, text: str) -> None:
        data = text.encode("gb18030")
        with self._lock:
            if self._master < 0:
                return
            os.write(self._master, data)

    # --- calls ---------------------------------------------------------------------------------

    def ring(self, number: str, when: datetime | None = None, *, name: str = "", final_ring: bool = True) -> float:
        """Announce a call; returns ``time.perf_counter()`` right after the number's line was written.

        ``number`` may be ``P`` (private) or ``O`` (unavailable). Without ``final_ring`` the record
        is left open, as between the first and the second ring of a real line.
        """
        when = when or datetime.now()
        sep = " = " if self.style == "spaces" else "="
        key = "DDN_NMBR" if self.style == "ddn" else "NMBR"
        self._write(f"RING\r\n\r\nDATE{sep}{when:%m%d}\r\nTIME{sep}{when:%H%M}\r\n")
        self._write(f"{key}{sep}{number}\r\n")
        sent = time.perf_counter()
        if name:
            self._write(f"NAME{sep}{name}\r\n")
        if final_ring:
            self._write("\r\nRING\r\n")
        return sent

    def send_line(self, text: str) -> float:
        """A line in a box's own format (for the configurable line pattern)."""
        self._write(text + "\r\n")
        return time.perf_counter()

    # --- unplugging ----------------------------------------------------------------------------

    def unplug(self) -> None:
        """The USB modem disappears: the adapter's next read fails."""
        self._stop.set()
        with self._lock:
            master, self._master = self._master, -1
        if master >= 0:
            os.close(master)
        self._thread.join(1)

    def close(self) -> None:
        self.unplug()
        if self._slave >= 0:
            os.close(self._slave)
            self._slave = -1

    def __enter__(self) -> CallerIdModem:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
