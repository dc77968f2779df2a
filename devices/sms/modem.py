"""A GSM modem (短信猫) on a serial port sending SMS in PDU mode, with clear Chinese errors.

Public API::

    modem = GsmModem(port, *, baudrate=115200, timeout=5.0, send_timeout=40.0, smsc=None,
                     status_report=False, plain_type=TYPE_NATIONAL)
    modem.send(number, text) -> list[int]    # one TP-MR per part; raises SmsError
    modem.test_connection() -> str           # "短信猫就绪：…"; raises SmsError
    modem.close()
    modem_error(line) -> SmsError | None     # "+CMS ERROR: 330" → SmsError("CMS:330", …)
    CMS_ERRORS, CME_ERRORS                   # code → (Chinese message, retryable)

The port is opened (and the modem initialised: ``AT``, ``ATE0``, ``AT+CMEE=1``, ``AT+CPIN?``,
``AT+CMGF=0``) on first use and reopened after a timeout or an unplug, so one instance per port can
serve a sending queue for the life of the program. Calls are serialised by a lock. A part is sent as
``AT+CMGS=<len>`` → ``> `` → PDU + Ctrl-Z → ``+CMGS: <mr>`` / ``OK``. Every wait has a deadline: an
unplugged modem (OSError / SerialException) or a silent one raises a retryable ``SmsError``.
"""

from __future__ import annotations

import random
import re
import threading
import time
from typing import Any

from devices.sms import SmsError
from devices.sms.pdu import TYPE_NATIONAL, SubmitPart, encode_submit

CTRL_Z, ESC = b"\x1a", b"\x1b"

# 3GPP 27.005 §3.2.5 (0–127 network causes, 128–255 SMSC causes, 300–500 modem); 512+ are vendor
# codes (Wavecom / Sierra meanings, the most common in cheap Chinese modems).
CMS_ERRORS: dict[int, tuple[str, bool]] = {
    1: ("对方号码是空号", False),
    8: ("运营商禁止此卡发送短信（可能欠费停机）", False),
    10: ("此卡被限制发送短信", False),
    21: ("短信被网络拒收（可能欠费或被拦截）", False),
    27: ("对方手机暂时无法接收（关机或不在服务区）", True),
    28: ("网络无法识别对方号码", False),
    29: ("网络拒绝了短信业务", False),
    30: ("对方号码不存在", False),
    38: ("网络故障", True),
    41: ("网络暂时故障", True),
    42: ("网络拥塞", True),
    47: ("网络资源暂不可用", True),
    50: ("此卡未开通短信业务", False),
    69: ("网络不支持此业务", False),
    81: ("短信参考号无效", True),
    95: ("短信内容无效", False),
    96: ("短信缺少必要信息（PDU 格式错误）", False),
    111: ("网络协议错误", True),
    127: ("网络互通错误", True),
    128: ("短信中心不支持此类短信", False),
    144: ("短信中心不支持此编码", False),
    176: ("短信中心不支持此短信格式", False),
    192: ("短信中心忙", True),
    193: ("此卡未开通短信中心服务", False),
    194: ("短信中心系统故障", True),
    195: ("对方号码无效", False),
    196: ("对方号码被禁止接收短信", False),
    197: ("短信被判为重复而拒收", False),
    198: ("短信中心不支持此有效期格式", False),
    199: ("短信中心不支持此有效期", False),
    208: ("SIM 卡短信存储已满，请清理 SIM 卡上的短信", False),
    210: ("手机模块内部错误", True),
    211: ("短信存储空间已满", False),
    212: ("SIM 卡应用忙", True),
    255: ("短信中心未说明原因的错误", True),
    300: ("短信猫设备故障", True),
    301: ("短信服务被占用（可能有其他程序在使用短信猫）", True),
    302: ("短信猫不允许此操作（可能正忙）", True),
    303: ("短信猫不支持此操作", False),
    304: ("短信 PDU 参数无效", False),
    305: ("短信文本模式参数无效", False),
    310: ("未检测到 SIM 卡：请插好 SIM 卡后重启短信猫", False),
    311: ("SIM 卡设置了开机 PIN 码：请把卡插到手机上关闭 PIN 码", False),
    312: ("短信猫锁卡，需要 PH-SIM PIN 码", False),
    313: ("SIM 卡故障：请更换 SIM 卡", False),
    314: ("SIM 卡忙，请稍后重试", True),
    315: ("SIM 卡无效或损坏", False),
    316: ("SIM 卡已锁（需要 PUK 码）：请联系运营商解锁", False),
    317: ("SIM 卡需要 PIN2 码", False),
    318: ("SIM 卡需要 PUK2 码", False),
    320: ("短信猫存储器故障", True),
    321: ("短信存储位置无效", False),
    322: ("短信存储已满", False),
    330: ("未设置短信中心号码：请在短信猫设置中填写运营商的短信中心号码", False),
    331: ("没有网络信号：请检查天线，或 SIM 卡是否欠费停机", True),
    332: ("网络超时，稍后将重试", True),
    340: ("没有待确认的短信", False),
    500: ("短信猫未知错误", True),
    512: ("无法建立网络连接（信号弱或未注册到网络）", True),
    513: ("网络底层链路失败（信号弱或网络拒绝）", True),
    514: ("短信传输协议错误", True),
    515: ("短信猫正在初始化或处理上一条命令，请稍候", True),
    516: ("短信猫内部错误（厂商代码 516）", True),
    517: ("SIM 卡不支持 SIM 卡工具包功能", False),
    518: ("未收到 SIM 卡工具包指示，请稍后重试", True),
}

# 3GPP 27.007 §9.2 (the SIM codes 10–18 answer AT+CPIN? when the card is missing or locked).
CME_ERRORS: dict[int, tuple[str, bool]] = {
    0: ("短信猫模块故障", True),
    1: ("短信猫未连接", True),
    2: ("短信猫链路被占用", True),
    3: ("短信猫不允许此操作", False),
    4: ("短信猫不支持此操作", False),
    5: ("短信猫锁卡，需要 PH-SIM PIN 码", False),
    10: ("未检测到 SIM 卡：请插好 SIM 卡后重启短信猫", False),
    11: ("SIM 卡设置了开机 PIN 码：请把卡插到手机上关闭 PIN 码", False),
    12: ("SIM 卡已锁（需要 PUK 码）：请联系运营商解锁", False),
    13: ("SIM 卡故障：请更换 SIM 卡", False),
    14: ("SIM 卡忙，请稍后重试", True),
    15: ("SIM 卡无效或损坏", False),
    16: ("SIM 卡密码错误", False),
    17: ("SIM 卡需要 PIN2 码", False),
    18: ("SIM 卡需要 PUK2 码", False),
    20: ("存储已满", False),
    21: ("存储位置无效", False),
    22: ("未找到", False),
    23: ("存储器故障", True),
    24: ("内容过长", False),
    25: ("内容含无效字符", False),
    26: ("号码过长", False),
    27: ("号码含无效字符", False),
    30: ("没有网络信号：请检查天线，或 SIM 卡是否欠费停机", True),
    31: ("网络超时，稍后将重试", True),
    32: ("网络拒绝此卡（仅限紧急呼叫）：请检查 SIM 卡是否欠费停机", False),
    100: ("短信猫未知错误", True),
}

_FINAL_OK = ("OK",)
_ERROR_RE = re.compile(r"^\+(CMS|CME) ERROR:\s*(.+)$")
_CMGS_RE = re.compile(r"^\+CMGS:\s*(\d+)")


def _cms_fallback(code: int) -> tuple[str, bool]:
    if code < 128:
        return f"网络拒绝了短信（原因 {code}）", True
    if code < 256:
        return f"短信中心拒绝了短信（原因 {code}）", False
    return f"短信猫错误（代码 {code}）", True


def modem_error(line: str) -> SmsError | None:
    """The ``SmsError`` a final result line means (``ERROR``, ``+CMS ERROR: n``, ``+CME ERROR: n``)."""
    line = line.strip()
    if line in ("ERROR", "COMMAND NOT SUPPORT", "TOO MANY PARAMETERS"):
        return SmsError("ERROR", "短信猫返回 ERROR（没有给出原因）", True, detail=line)
    m = _ERROR_RE.match(line)
    if m is None:
        return None
    kind, value = m.group(1), m.group(2).strip()
    if not value.isdigit():  # AT+CMEE=2 style: the modem's own words
        return SmsError(f"{kind}:{value}", f"短信猫报告错误：{value}", True, detail=line)
    code = int(value)
    table = CMS_ERRORS if kind == "CMS" else CME_ERRORS
    message, retryable = table.get(code) or (
        _cms_fallback(code) if kind == "CMS" else (f"短信猫错误（代码 {code}）", True))
    return SmsError(f"{kind}:{code}", message, retryable, detail=line)


def _signal(rssi: int) -> str:
    if rssi == 99 or not 0 <= rssi <= 31:
        return "信号未知（可能没有接天线或不在服务区）"
    level = "很好" if rssi >= 20 else "良好" if rssi >= 15 else "一般" if rssi >= 10 else "弱"
    return f"信号 {rssi}/31（{-113 + 2 * rssi} dBm，{level}）"


_OPERATORS = {"46000": "中国移动", "46002": "中国移动", "46004": "中国移动", "46007": "中国移动",
              "46008": "中国移动", "46001": "中国联通", "46006": "中国联通", "46009": "中国联通",
              "46003": "中国电信", "46005": "中国电信", "46011": "中国电信", "46015": "中国广电"}


def _operator(name: str) -> str:
    upper = name.upper()
    if name in _OPERATORS:
        return _OPERATORS[name]
    for key, label in (("MOBILE", "中国移动"), ("CMCC", "中国移动"), ("UNICOM", "中国联通"),
                       ("TELECOM", "中国电信"), ("CHN-CT", "中国电信"), ("CBN", "中国广电")):
        if key in upper:
            return label
    return name


class GsmModem:
    """A GSM modem on ``port`` (``COM5``, ``/dev/ttyUSB2``, any pyserial URL).

    ``timeout``: seconds for an AT command's answer and for the ``> `` prompt; ``send_timeout``:
    seconds for the network to accept a part (``+CMGS``). ``smsc``: the SMS centre number when the
    SIM has none. ``status_report`` asks for delivery reports (not read here; off by default so
    they do not pile up on the SIM).
    """

    def __init__(self, port: str, *, baudrate: int = 115200, timeout: float = 5.0,
                 send_timeout: float = 40.0, smsc: str | None = None, status_report: bool = False,
                 plain_type: int = TYPE_NATIONAL) -> None:
        self.port, self.baudrate = port, baudrate
        self.timeout, self.send_timeout = timeout, send_timeout
        self.smsc, self.status_report, self.plain_type = smsc, status_report, plain_type
        self._serial: Any = None
        self._buffer = b""
        self._lock = threading.Lock()
        self._reference = random.randrange(256)

    # --- public --------------------------------------------------------------------------------

    def send(self, number: str, text: str) -> list[int]:
        """Send ``text`` to ``number``; the message reference of each part. Raises ``SmsError``."""
        if not text:
            raise SmsError("EMPTY", "短信内容为空", False)
        with self._lock:
            self._reference = (self._reference + 1) % 256
            try:
                parts = encode_submit(number, text, reference=self._reference, smsc=self.smsc,
                                      status_report=self.status_report, plain_type=self.plain_type)
            except ValueError as e:
                raise SmsError("NUMBER", str(e), False) from None
            self._ensure_open()
            references: list[int] = []
            for part in parts:
                try:
                    references.append(self._send_part(part))
                except SmsError as e:
                    e.sent_parts = len(references)
                    raise
            return references

    def test_connection(self) -> str:
        """Open and initialise the modem; a sentence with SIM, signal and operator. Raises ``SmsError``."""
        with self._lock:
            self._ensure_open()
            signal, operator = "信号未知", "未知运营商"
            for line in self._command("AT+CSQ"):
                m = re.match(r"\+CSQ:\s*(\d+)", line)
                if m:
                    signal = _signal(int(m.group(1)))
            for line in self._command("AT+COPS?"):
                if line.startswith("+COPS:"):
                    fields = line.split(":", 1)[1].split(",")
                    operator = (_operator(fields[2].strip().strip('"')) if len(fields) >= 3
                                else "未注册到网络")
            return f"短信猫就绪：SIM 卡正常，{signal}，运营商 {operator}"

    def close(self) -> None:
        ser, self._serial = self._serial, None
        self._buffer = b""
        if ser is not None:
            try:
                ser.close()
            except Exception:  # already gone
                pass

    def __enter__(self) -> GsmModem:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- opening ---------------------------------------------------------------------------------

    def _ensure_open(self) -> None:
        if self._serial is not None:
            return
        import serial

        try:
            self._serial = serial.serial_for_url(self.port, baudrate=self.baudrate, timeout=0.1)
        except (serial.SerialException, OSError, ValueError) as e:
            raise SmsError("PORT", f"无法打开短信猫端口 {self.port}：请检查 USB 连线和端口设置", True,
                           detail=str(e)) from e
        try:
            self._write(ESC)  # leave the PDU input of a send aborted earlier; ignored otherwise
            self._serial.reset_input_buffer()
            self._initialise()
        except BaseException:
            self.close()
            raise

    def _initialise(self) -> None:
        try:
            self._command("AT", what="应答 AT（请检查端口、波特率和连线）")
        except SmsError as e:
            if e.code != "ERROR":
                raise
            self._command("AT", what="应答 AT（请检查端口、波特率和连线）")  # the first carried leftovers
        self._command("ATE0")
        try:
            self._command("AT+CMEE=1")
        except SmsError as e:  # an old modem without numeric errors still sends
            if e.code in ("TIMEOUT", "DISCONNECTED"):
                raise
        try:
            lines = self._command("AT+CPIN?")
        except SmsError as e:
            if e.code == "ERROR":
                raise SmsError("CPIN", "无法读取 SIM 卡状态：可能没有插 SIM 卡", False) from None
            raise
        state = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("+CPIN:")), "READY")
        if state.upper() not in ("READY", "SIM PIN2", "SIM PUK2"):
            code = {"SIM PIN": 11, "SIM PUK": 12, "PH-SIM PIN": 5}.get(state.upper())
            if code is not None:
                raise SmsError(f"CME:{code}", CME_ERRORS[code][0], False, detail=state)
            raise SmsError("CPIN", f"SIM 卡状态异常：{state}", False, detail=state)
        try:
            self._command("AT+CMGF=0")
        except SmsError as e:
            if e.code in ("TIMEOUT", "DISCONNECTED"):
                raise
            raise SmsError("PDU", "短信猫不支持 PDU 模式（AT+CMGF=0 被拒绝）", False, detail=e.detail) from None

    # --- the AT dialogue --------------------------------------------------------------------------

    def _send_part(self, part: SubmitPart) -> int:
        self._write(f"AT+CMGS={part.tpdu_length}\r".encode("ascii"))
        self._wait_prompt()
        self._write(part.pdu.encode("ascii") + CTRL_Z)
        for line in self._final(self.send_timeout, "确认发送短信"):
            m = _CMGS_RE.match(line)
            if m:
                return int(m.group(1))
        return -1  # OK without a reference: sent all the same

    def _command(self, text: str, *, what: str = "") -> list[str]:
        """Send one AT command; its information lines. Raises ``SmsError`` on an error or timeout."""
        self._write(text.encode("ascii") + b"\r")
        return [ln for ln in self._final(self.timeout, what or f"应答 {text}") if ln != text]

    def _final(self, timeout: float, what: str) -> list[str]:
        """Lines up to ``OK`` (returned without it) or an error result (raised)."""
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            line = self._line(deadline, what)
            if line in _FINAL_OK:
                return lines
            error = modem_error(line)
            if error is not None:
                raise error
            lines.append(line)

    def _wait_prompt(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            head = self._buffer.lstrip(b"\r\n ")
            if head.startswith(b">"):
                self._buffer = b""
                return
            m = re.search(rb"[\r\n]", head)
            if m is not None:
                raw, self._buffer = head[:m.start()], head[m.end():]
                error = modem_error(raw.decode("ascii", "replace"))
                if error is not None:
                    raise error
                continue  # an unsolicited line (+CMTI, ^RSSI …)
            if time.monotonic() >= deadline:
                self._cancel()
            self._fill(deadline, "给出 > 提示符")

    def _line(self, deadline: float, what: str) -> str:
        while True:
            head = self._buffer.lstrip(b"\r\n")
            m = re.search(rb"[\r\n]", head)
            if m is not None:
                self._buffer = head[m.end():]
                line = head[:m.start()].decode("ascii", "replace").strip()
                if line:
                    return line
                continue
            self._buffer = head
            self._fill(deadline, what)

    def _fill(self, deadline: float, what: str) -> None:
        if time.monotonic() >= deadline:
            self.close()  # the modem's state is unknown: reopen and initialise next time
            raise SmsError("TIMEOUT", f"短信猫没有{what}：已超时，稍后将重试", True)
        ser = self._serial
        if ser is None:
            raise SmsError("DISCONNECTED", f"短信猫端口 {self.port} 已关闭", True)
        try:
            chunk = ser.read(ser.in_waiting or 1)
        except Exception as e:  # SerialException / OSError: unplugged
            self.close()
            raise SmsError("DISCONNECTED", f"短信猫已断开（端口 {self.port}）：请检查 USB 连线，稍后将重试", True,
                           detail=str(e)) from e
        self._buffer += chunk

    def _write(self, data: bytes) -> None:
        ser = self._serial
        if ser is None:
            raise SmsError("DISCONNECTED", f"短信猫端口 {self.port} 已关闭", True)
        try:
            ser.write(data)
            ser.flush()
        except Exception as e:
            self.close()
            raise SmsError("DISCONNECTED", f"短信猫已断开（端口 {self.port}）：请检查 USB 连线，稍后将重试", True,
                           detail=str(e)) from e

    def _cancel(self) -> None:
        """ESC leaves the PDU input mode of a modem that answered late."""
        ser = self._serial
        if ser is not None:
            try:
                ser.write(ESC)
            except Exception:
                pass
