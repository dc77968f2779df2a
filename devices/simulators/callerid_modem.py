"""A simulated caller-ID voice modem on a pseudo-terminal (Linux / macOS).

The adapter opens ``modem.port`` (the pty's slave) as a real serial port; the simulator answers AT
commands on the master side and, on ``ring()``, writes what a modem writes::

    RING / (blank) / DATE = MMDD / TIME = HHMM / NMBR = … [/ NAME = …] / RING
"""

from __future__ import annotations

import time
from datetime import datetime

from devices.simulators.pty_device import PtyDevice


class CallerIdModem(PtyDevice):
    """``style``: ``spaces`` (``NMBR = x``), ``compact`` (``NMBR=x``) or ``ddn`` (``DDN_NMBR=x``).

    ``vcid_error`` makes the modem refuse ``AT+VCID=1`` (an older chipset: the adapter falls back to
    ``AT#CID=1``); ``commands`` lists every command received.
    """

    encoding = "gb18030"  # a box's NAME line is Chinese

    def __init__(self, *, style: str = "spaces", vcid_error: bool = False, cid_error: bool = False) -> None:
        if style not in ("spaces", "compact", "ddn"):
            raise ValueError(f"unknown style {style!r}")
        super().__init__("callerid-modem")
        self.style, self.vcid_error, self.cid_error = style, vcid_error, cid_error
        self.commands: list[str] = []
        self._buffer = b""
        self._start()

    # --- the modem's side of the AT dialogue -------------------------------------------------------

    def _received(self, data: bytes) -> None:
        self._buffer += data
        while b"\r" in self._buffer:
            line, _, self._buffer = self._buffer.partition(b"\r")
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

    def hook(self, off: bool, *, style: str = "dle") -> float:
        """The handset goes off hook (picked up) or on hook (hung up), as the line reports it.

        ``dle``: a voice modem's V.253 shielded code (``<DLE>H`` / ``<DLE>h``); ``text``: a box
        printing its own line (``OFFHOOK`` / ``ONHOOK``); ``busy``: the far end hung up and the
        modem hears busy tone (``<DLE>b``).
        """
        if style == "dle":
            self._write("\x10H" if off else "\x10h")
        elif style == "text":
            self._write(("OFFHOOK" if off else "ONHOOK") + "\r\n")
        elif style == "busy":
            self._write("\x10b")
        else:
            raise ValueError(f"unknown style {style!r}")
        return time.perf_counter()
