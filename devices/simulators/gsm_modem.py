"""A simulated GSM modem (短信猫) on a pseudo-terminal (Linux / macOS), sending SMS in PDU mode.

The adapter opens ``modem.port`` (the pty's slave) as a real serial port. The simulator answers
``AT``, ``ATE0/1``, ``AT+CMEE``, ``AT+CPIN?``, ``AT+CMGF``, ``AT+CSQ``, ``AT+COPS?``, ``AT+CSCA?``;
``AT+CMGS=<len>`` gets the ``> `` prompt, the PDU is read up to Ctrl-Z (ESC cancels), checked
against ``<len>``, decoded with ``devices.sms.pdu.decode_submit`` and kept in ``sent``; the answer
is ``+CMGS: <mr>`` / ``OK``.

Faults, settable at any time: ``fail_with`` (a ``+CMS ERROR`` code for every part from the
``fail_on_part``-th on), ``remove_sim()`` (``AT+CPIN?`` → ``+CME ERROR: 10``, ``AT+CMGS`` →
``+CMS ERROR: 310``), ``pin_required``, ``unplug_after`` (the pty is closed when the PDU of part
N+1 arrives: unplugged mid-send), ``mute_after`` (after N parts the modem never answers again).
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.simulators.pty_device import PtyDevice
from devices.sms.pdu import decode_submit


@dataclass(frozen=True)
class ReceivedPart:
    """One part the modem accepted: ``reference`` / ``total`` / ``seq`` from its UDH (None / 1 / 1)."""

    number: str
    text: str
    reference: int | None
    total: int
    seq: int
    mr: int
    pdu: str


class GsmModemSimulator(PtyDevice):
    """A modem that starts with echo on (like real ones) and numeric errors off."""

    def __init__(self, *, signal: int = 20, operator: str = "CHINA MOBILE", pin_required: bool = False,
                 fail_with: int | None = None, fail_on_part: int = 1, unplug_after: int | None = None,
                 mute_after: int | None = None) -> None:
        super().__init__("gsm-modem")
        self.signal, self.operator, self.pin_required = signal, operator, pin_required
        self.fail_with, self.fail_on_part = fail_with, fail_on_part
        self.unplug_after, self.mute_after = unplug_after, mute_after
        self.sim_present = True
        self.commands: list[str] = []
        self.sent: list[ReceivedPart] = []
        self.parts_received = 0  # every PDU, accepted or not
        self.echo, self.cmee, self.pdu_mode = True, 0, False
        self._mr = 0
        self._buffer = b""
        self._expected: int | None = None  # expected: the TPDU length announced by AT+CMGS
        self._start()

    # --- what the tests look at ----------------------------------------------------------------

    def messages(self) -> list[tuple[str, str]]:
        """(number, whole text) per message, the parts of a long one joined in ``seq`` order."""
        done: list[tuple[str, str]] = []
        groups: dict[tuple[str, int], list[ReceivedPart]] = {}
        for part in self.sent:
            if part.reference is None:
                done.append((part.number, part.text))
                continue
            group = groups.setdefault((part.number, part.reference), [])
            group.append(part)
            if len(group) == part.total:
                done.append((part.number, "".join(p.text for p in sorted(group, key=lambda p: p.seq))))
                del groups[(part.number, part.reference)]
        return done

    def remove_sim(self) -> None:
        self.sim_present = False

    def insert_sim(self) -> None:
        self.sim_present = True

    # --- the modem's side ------------------------------------------------------------------------

    def _received(self, data: bytes) -> None:
        if self.mute_after is not None and self.parts_received >= self.mute_after:
            return
        self._buffer += data
        while True:
            if self._expected is not None:
                end = min((i for i in (self._buffer.find(b"\x1a"), self._buffer.find(b"\x1b")) if i >= 0),
                          default=-1)
                if end < 0:
                    break
                pdu, cancel = self._buffer[:end], self._buffer[end:end + 1] == b"\x1b"
                self._buffer = self._buffer[end + 1:]
                length, self._expected = self._expected, None
                if not cancel:
                    self._pdu(pdu.decode("ascii", "replace").strip(), length)
                continue
            if b"\r" not in self._buffer:
                break
            raw, _, self._buffer = self._buffer.partition(b"\r")
            command = raw.strip(b"\n \x1a\x1b").decode("ascii", "replace")  # ESC / Ctrl-Z: ignored
            if not command:
                continue
            self.commands.append(command)
            if self.echo:
                self._write(command + "\r")
            self._expected = self._command(command)

    def _command(self, command: str) -> int | None:
        """Answer one command; the announced length when it opened PDU input."""
        upper = command.upper()
        if upper.startswith("AT+CMGS="):
            if not self.sim_present:
                self._error("CMS", 310)
                return None
            if not self.pdu_mode:
                self._error("CMS", 302)
                return None
            try:
                length = int(upper.split("=", 1)[1])
            except ValueError:
                self._error("CMS", 304)
                return None
            self._write("\r\n> ")
            return length
        if upper in ("ATE0", "ATE1"):
            self.echo = upper == "ATE1"
        elif upper.startswith("AT+CMEE="):
            self.cmee = int(upper[-1]) if upper[-1].isdigit() else 0
        elif upper == "AT+CPIN?":
            if not self.sim_present:
                self._error("CME", 10)
                return None
            self._info("+CPIN: SIM PIN" if self.pin_required else "+CPIN: READY")
        elif upper.startswith("AT+CMGF="):
            self.pdu_mode = upper.endswith("0")
        elif upper == "AT+CSQ":
            self._info(f"+CSQ: {self.signal},99")
        elif upper == "AT+COPS?":
            self._info(f'+COPS: 0,0,"{self.operator}",7' if self.operator and self.sim_present else "+COPS: 0")
        elif upper == "AT+CSCA?":
            self._info('+CSCA: "+8613800100500",145')
        elif not upper.startswith("AT"):
            self._write("\r\nERROR\r\n")
            return None
        self._write("\r\nOK\r\n")
        return None

    def _pdu(self, pdu: str, length: int) -> None:
        self.parts_received += 1
        if self.unplug_after is not None and self.parts_received > self.unplug_after:
            self._close_master()
            return
        if self.mute_after is not None and self.parts_received > self.mute_after:
            return
        if not self.sim_present:
            self._error("CMS", 310)
            return
        if self.fail_with is not None and self.parts_received >= self.fail_on_part:
            self._error("CMS", self.fail_with)
            return
        try:
            smsc_octets = int(pdu[:2], 16)
            if len(pdu) // 2 - 1 - smsc_octets != length:
                raise ValueError("length mismatch")
            decoded = decode_submit(pdu)
        except ValueError:
            self._error("CMS", 304)
            return
        self._mr = (self._mr + 1) % 256
        self.sent.append(ReceivedPart(decoded.number, decoded.text, decoded.reference, decoded.total,
                                      decoded.seq, self._mr, pdu))
        self._write(f"\r\n+CMGS: {self._mr}\r\n\r\nOK\r\n")

    def _info(self, line: str) -> None:
        self._write(f"\r\n{line}\r\n")

    def _error(self, kind: str, code: int) -> None:
        self._write(f"\r\n+{kind} ERROR: {code}\r\n" if self.cmee == 1 else "\r\nERROR\r\n")
