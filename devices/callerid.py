"""Caller-ID 来电显示: the records a voice modem prints between RINGs, and a pyserial adapter reading them.

A Hayes voice modem with caller-ID on (``AT+VCID=1``, older chipsets ``AT#CID=1``) prints::

    RING

    DATE = 1123
    TIME = 0915
    NMBR = 13800138000
    NAME = ZHANG SAN

    RING

Firmware varies: ``NMBR=`` without spaces, ``DDN_NMBR`` instead of ``NMBR``, ``P`` (private) or
``O`` (out of area / unavailable) instead of a number. Cheap boxes that print their own line format
are read with a configurable regular expression with a named group ``number`` (and optionally
``name``). ``DATE`` has no year: the year is taken from "now", minding Dec→Jan.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from meike.ports import CallerIdSetting, compile_pattern  # noqa: F401 (the port's setting, used here and by importers)

RECORD_RE = re.compile(r"^(DATE|TIME|NMBR|NAME|DDN_NMBR|MESG)\s*=\s*(.*)$")
INIT_COMMANDS = ("ATZ", "ATE0")
CID_COMMANDS = ("AT+VCID=1", "AT#CID=1")  # the second for older chipsets that answer ERROR to the first
PRIVATE, UNAVAILABLE = "P", "O"
DLE = 0x10
# V.253 shielded codes a voice modem sends as <DLE><code>: the local handset (H/h), an extension
# phone (P/p), the loop current broken by the far end hanging up (l), busy tone (b), ring (R).
DLE_EVENTS = {ord("H"): "offhook", ord("P"): "offhook", ord("h"): "onhook", ord("p"): "onhook",
              ord("l"): "onhook", ord("b"): "onhook", ord("R"): "ring"}
# Lines that boxes printing their own format use for the handset (configurable per box as well).
OFFHOOK_WORDS = re.compile(r"^\s*(OFF[-_ ]?HOOK|HOOK[-_ ]?OFF|摘机)\s*$", re.IGNORECASE)
ONHOOK_WORDS = re.compile(r"^\s*(ON[-_ ]?HOOK|HOOK[-_ ]?ON|HANG[-_ ]?UP|挂机)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Call:
    """One incoming call as the line announced it. ``number`` is empty when withheld or unavailable."""

    number: str
    at: datetime
    name: str = ""
    private: bool = False
    unavailable: bool = False

    @property
    def withheld(self) -> bool:
        return self.private or self.unavailable


# What a line reports besides the caller's number (LineEvent.kind).
RING, OFFHOOK, ONHOOK, MISSED, RECORDING = "ring", "offhook", "onhook", "missed", "recording"
LINE_EVENT_KINDS = (RING, OFFHOOK, ONHOOK, MISSED, RECORDING)


@dataclass(frozen=True)
class LineEvent:
    """A change on the phone line, from whichever source saw it.

    ``ring``: the phone rang (again); ``offhook``: the call was picked up; ``onhook``: the line was
    hung up (handset down, loop current broken, busy tone after the caller hung up); ``missed``: the
    box says the call ended unanswered; ``recording``: the box finished a recording, at ``path``.
    ``line`` is the box's channel (0 for single-line devices); ``source`` says who saw it, e.g.
    ``modem``, ``dll``, ``audio``.
    """

    kind: str
    at: datetime
    line: int = 0
    path: str = ""
    source: str = ""


class CallerIdError(Exception):
    """The port could not be opened or the modem refused caller-ID; the message is shown as it is."""


def call_time(mmdd: str, hhmm: str, now: datetime) -> datetime:
    """The call's time from the modem's ``DATE`` (MMDD) and ``TIME`` (HHMM), the year from ``now``.

    A date more than a day ahead of ``now`` belongs to last year (a call on 31 December read on
    1 January). Missing or malformed fields fall back to ``now``.
    """
    if not (len(mmdd) == 4 and mmdd.isdigit()):
        return now
    hour, minute = (int(hhmm[:2]), int(hhmm[2:])) if len(hhmm) == 4 and hhmm.isdigit() else (now.hour, now.minute)
    month, day = int(mmdd[:2]), int(mmdd[2:])
    for year in (now.year, now.year - 1):
        try:
            at = datetime(year, month, day, hour, minute)
        except ValueError:  # 29 February of a non-leap year, 13th month …
            continue
        if at <= now + timedelta(days=1):
            return at
    return now


class CallerIdParser:
    """Feed it lines; it returns a ``Call`` when a record is complete.

    A modem record is complete at the next ``RING`` or at ``flush()`` (the line went quiet), so a
    ``NAME`` after ``NMBR`` is not lost and nothing waits for the second ring. A line matching the
    custom pattern is a complete call by itself.
    """

    def __init__(self, *, pattern: str | re.Pattern[str] | None = None,
                 now: Callable[[], datetime] = datetime.now) -> None:
        self.pattern = compile_pattern(pattern) if isinstance(pattern, str) and pattern else pattern or None
        self._now = now
        self._fields: dict[str, str] = {}

    def feed(self, line: str) -> Call | None:
        line = line.strip()
        if not line:
            return None
        if self.pattern is not None:
            m = self.pattern.search(line)
            if m is not None:
                return self._custom(m)
        m = RECORD_RE.match(line)
        if m is not None:
            key, value = m.group(1), m.group(2).strip()
            if key in ("DATE", "TIME") and self._has_number():  # a new record without a RING between
                done = self.flush()
                self._fields[key] = value
                return done
            self._fields[key] = value
            return None
        return self.flush()  # RING, OK, anything else ends the record

    def flush(self) -> Call | None:
        fields, self._fields = self._fields, {}
        number = fields.get("NMBR") or fields.get("DDN_NMBR") or ""
        if not number:
            return None
        at = call_time(fields.get("DATE", ""), fields.get("TIME", ""), self._now())
        name = fields.get("NAME", "")
        if name.upper() in (PRIVATE, UNAVAILABLE):
            name = ""
        code = number.upper()
        if code == PRIVATE:
            return Call("", at, name, private=True)
        if code == UNAVAILABLE:
            return Call("", at, name, unavailable=True)
        return Call(_digits(number), at, name)

    def _has_number(self) -> bool:
        return bool(self._fields.get("NMBR") or self._fields.get("DDN_NMBR"))

    def _custom(self, m: re.Match[str]) -> Call:
        self._fields = {}
        number = (m.group("number") or "").strip()
        name = (m.groupdict().get("name") or "").strip()
        at = self._now()
        if number.upper() == PRIVATE:
            return Call("", at, name, private=True)
        if not number or number.upper() == UNAVAILABLE:
            return Call("", at, name, unavailable=True)
        return Call(_digits(number), at, name)


def _digits(number: str) -> str:
    """Keep a leading + and the digits (boxes print ``138-0013-8000``, ``138 0013 8000``)."""
    number = number.strip()
    return ("+" if number.startswith("+") else "") + re.sub(r"\D", "", number)


class SerialCallerId:
    """A caller-ID modem or box on a serial port (``COM3``, ``/dev/ttyACM0``, any pyserial URL).

    ``start()`` opens the port and, for a modem, switches caller-ID on (raises CallerIdError); a
    background thread then reads lines and calls ``on_call(Call)``. If the port disappears (USB
    unplugged) ``on_error(exc)`` is called once and the thread ends. Callbacks run on the reader
    thread: a GUI must hand them over to its own thread.
    """

    def __init__(self, port: str, on_call: Callable[[Call], None],
                 on_error: Callable[[Exception], None] | None = None, *, pattern: str | None = None,
                 init: bool = True, baudrate: int = 115200, quiet: float = 0.04, answer_timeout: float = 2.0,
                 now: Callable[[], datetime] = datetime.now, on_event: Callable[[LineEvent], None] | None = None,
                 offhook_pattern: str | None = None, onhook_pattern: str | None = None) -> None:
        self.port = port
        self.on_call, self.on_error, self.on_event = on_call, on_error, on_event
        self.parser = CallerIdParser(pattern=pattern, now=now)
        self._now = now
        self.offhook = re.compile(offhook_pattern) if offhook_pattern else OFFHOOK_WORDS
        self.onhook = re.compile(onhook_pattern) if onhook_pattern else ONHOOK_WORDS
        self.init, self.baudrate, self.quiet, self.answer_timeout = init, baudrate, quiet, answer_timeout
        self.cid_command: str | None = None  # the command the modem accepted
        self._serial: Any = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # --- opening ---------------------------------------------------------------------------------

    def open(self) -> None:
        import serial

        try:
            self._serial = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=self.quiet)
        except (serial.SerialException, OSError, ValueError) as e:
            raise CallerIdError(f"无法打开来电盒端口 {self.port}：{e}") from e

    def command(self, text: str) -> str:
        """Send one AT command; the modem's final answer (``OK`` / ``ERROR``), or '' on a timeout."""
        assert self._serial is not None, "open() first"
        self._serial.reset_input_buffer()
        self._serial.write(text.encode("ascii") + b"\r")
        self._serial.flush()
        deadline = time.monotonic() + self.answer_timeout
        buffer = b""
        while time.monotonic() < deadline:
            buffer += self._serial.read(self._serial.in_waiting or 1)
            for raw in re.split(rb"[\r\n]+", buffer):
                line = raw.decode("ascii", "replace").strip()
                if line in ("OK", "ERROR") or line.startswith(("+CME ERROR", "+CMS ERROR")):
                    return line
        return ""

    def initialise(self) -> str:
        """ATZ, ATE0, then caller-ID on: ``AT+VCID=1`` or, when refused, ``AT#CID=1``."""
        for text in INIT_COMMANDS:
            answer = self.command(text)
            if answer != "OK":
                raise CallerIdError(f"来电盒没有应答 {text}（{answer or '超时'}），请检查端口和连线")
        for text in CID_COMMANDS:
            if self.command(text) == "OK":
                self.cid_command = text
                return text
        raise CallerIdError("调制解调器不支持来电显示（AT+VCID=1 与 AT#CID=1 均被拒绝）")

    def start(self) -> None:
        self.open()
        try:
            if self.init:
                self.initialise()
        except Exception:
            self.close()
            raise
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"callerid-{self.port}", daemon=True)
        self._thread.start()

    # --- reading ---------------------------------------------------------------------------------

    def _run(self) -> None:
        buffer = b""
        ser = self._serial
        while not self._stop.is_set():
            try:
                chunk = ser.read(ser.in_waiting or 1)
            except Exception as e:  # SerialException / OSError: the port went away
                if not self._stop.is_set() and self.on_error is not None:
                    self.on_error(CallerIdError(f"来电盒端口 {self.port} 已断开：{e}"))
                break
            if not chunk:  # the line went quiet: a record without a following RING is complete
                if buffer.strip():
                    self._line(buffer)
                    buffer = b""
                self._deliver(self.parser.flush())
                continue
            buffer = self._shielded(buffer + chunk)
            *lines, buffer = re.split(rb"\r\n|\r|\n", buffer)
            for raw in lines:
                self._line(raw)
        self.close()

    def _shielded(self, data: bytes) -> bytes:
        """Take the <DLE> codes out of the stream (reported as line events); the rest is text.

        A DLE at the very end waits for its code in the next read; <DLE><DLE> is a literal DLE.
        """
        if DLE not in data:
            return data
        out, i = bytearray(), 0
        while i < len(data):
            byte = data[i]
            if byte != DLE:
                out.append(byte)
                i += 1
                continue
            if i + 1 == len(data):
                out.append(byte)  # incomplete: kept for the next read
                break
            code = data[i + 1]
            if code == DLE:
                out.append(DLE)
            elif code in DLE_EVENTS:
                self._event(DLE_EVENTS[code])
            i += 2
        return bytes(out)

    def _line(self, raw: bytes) -> None:
        text = raw.decode("gb18030", "replace")
        stripped = text.strip()
        if stripped.upper() == "RING":  # the record before it is complete: its caller first, then the ring
            self._deliver(self.parser.feed(text))
            self._event(RING)
            return
        if stripped and self.offhook.search(stripped):
            self._event(OFFHOOK)
            return
        if stripped and self.onhook.search(stripped):
            self._event(ONHOOK)
            return
        self._deliver(self.parser.feed(text))

    def _event(self, kind: str) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(LineEvent(kind, self._now(), source="modem"))
        except Exception:  # a failing listener must not kill the reader
            import logging

            logging.getLogger(__name__).exception("caller-ID line-event listener failed")

    def _deliver(self, call: Call | None) -> None:
        if call is not None:
            try:
                self.on_call(call)
            except Exception:  # a failing listener must not kill the reader
                import logging

                logging.getLogger(__name__).exception("caller-ID listener failed")

    # --- stopping --------------------------------------------------------------------------------

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        self._thread = None
        self.close()

    def close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            try:
                ser.close()
            except Exception:  # already gone
                pass

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()


def check_connection(port: str, *, timeout: float = 2.0) -> str:
    """Open the port and send ``ATZ``: a sentence for the settings page; CallerIdError when it fails."""
    adapter = SerialCallerId(port, lambda _c: None, answer_timeout=timeout)
    adapter.open()
    try:
        answer = adapter.command("ATZ")
    finally:
        adapter.close()
    if answer == "OK":
        return f"连接成功：{port} 上的来电盒应答 OK"
    raise CallerIdError(f"端口 {port} 已打开，但设备没有应答 ATZ（{answer or '超时'}）。"
                        "若是自带格式的来电盒（不用 AT 命令），请填写行格式并直接保存。")
