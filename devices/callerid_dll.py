"""Caller-ID through the vendor DLL of the Chinese USB caller-ID / recording boxes (AD101, AD800, USBBox).

The boxes are USB-HID devices driven by the vendor's Windows DLL, which calls an event callback from
its own thread; the recording boxes record each call themselves and report the file. ``DllCallerId``
loads the DLL with ctypes (``WinDLL`` on Windows; ``CDLL`` elsewhere, which only the tests use), opens
the boxes, registers the callback and turns its events into ``Call`` and ``LineEvent`` — the same
start / stop / running / on_call / on_error contract as ``devices.callerid.SerialCallerId``.

Where the numbers in ``FAMILIES`` come from:

* Confirmed by the vendor SDK (``USBBoxProtocol.h``, ``USBBoxProtocol.def``, the MFC demo
  ``UsbTestDlg.cpp`` and a sample DLL log, as republished in github.com/mrsaqibale/CLI_Bridge_AD102,
  folders ``EN/64BIT`` and ``EN/MFC_DEMO``): all function names and signatures used here. USBBox:
  callback ``void CALLBACK f(WORD wEventCode, int nReference, DWORD dwParam, DWORD dwDeviceID)``;
  events 0 state change (dwParam = CH_STATE_*: 1 on hook, 2 off hook, 3 ringing), 2 caller number,
  4 ring count, 6 new recording file, 11 missed call, 23 USB unplugged (the 2 / 6 / 11 of DEVICES.md);
  inside the callback the demo fetches the number with ``UsbBox_GetCallerNumber`` and the file with
  ``UsbBox_GetRecordFilePath``. AD101 (``AD101Device.dll``, also in the header's compatibility part):
  callback ``void CALLBACK f(int iLine, int iEvent, int iParam)``; events 0x08 line state (iParam 1-3
  on hook, 4-5 off hook, 7 ring on), 0x09 caller ID (read with ``AD101_GetCallerID``), 0xAA missed
  call; ``AD101_InitDevice`` returns a BOOL, ``AD101_GetDevice`` opens the boxes and returns how many.
  AD101 boxes do not record.
* Confirmed by the AD800Device.dll C# demo (github.com/kulius/.NET_odoo13_PhoneCallerID,
  ``Backup/demo/Form1.cs``): AD800 events 0 connection (param 0 = unplugged), 1 line status (1 off
  hook, 2 on hook, 3 ringing), 4 caller ID; ``AD800_Init`` returns 0 on failure. The AD800
  compatibility functions inside USBBoxProtocol.dll number caller ID 3 instead (no polarity event):
  with that DLL use the ``USBBox`` family, which the header recommends for new programs anyway.
* Assumptions, to check against the vendor's header and a real box: what ``UsbBox_EnableDevice``
  returns (not checked: the device count decides); that USBBox / AD800 boxes may be counted a moment
  after init (the count is polled for ``detect_timeout``); buffer sizes (128 bytes for numbers and
  names, 1024 for paths); a withheld number arriving as ``P`` (private), ``O`` (unavailable) or empty,
  as in FSK caller ID; AD101's time text as MMDDHHMM; strings in the ANSI code page (GBK).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devices.callerid import (
    MISSED,
    OFFHOOK,
    ONHOOK,
    PRIVATE,
    RECORDING,
    RING,
    UNAVAILABLE,
    Call,
    CallerIdError,
    LineEvent,
    _digits,
    call_time,
)

log = logging.getLogger(__name__)

TEXT_SIZE, PATH_SIZE = 128, 1024  # bytes handed to the DLL's getters
DETECT_TIMEOUT = 3.0  # seconds a USBBox / AD800 box may take to show up after init
ENCODING = "gb18030"  # the DLL's char* are in the ANSI code page: GBK on Chinese Windows


@dataclass(frozen=True)
class Profile:
    """How one DLL family is driven: function names, the callback's parameters, its event codes.

    ``callback`` lists the callback's parameters as (role, ctypes type); the roles ``event``,
    ``line`` and ``param`` are read, others ignored. ``caller_style`` says how the caller getter is
    called: ``usbbox`` (line, buf), ``ad800`` (line, buf, size) → BOOL, ``ad101`` (line, number,
    name, time). ``states`` maps the state event's param to RING / OFFHOOK / ONHOOK.
    """

    name: str
    dll_name: str  # the vendor's file name, a hint for the settings page
    init: str
    init_hwnd: bool  # init takes a window handle; NULL = callback mode
    init_checked: bool  # init returns BOOL (0 = failed); False: its return value is not checked
    count: str
    count_polled: bool  # the boxes are counted asynchronously after init
    free: str
    set_callback: str
    callback: tuple[tuple[str, Any], ...]
    caller_id: int
    read_caller: str
    caller_style: str
    state: int | None = None
    states: Mapping[int, str] = field(default_factory=dict)
    ring: int | None = None  # an event that is one more ring
    missed: int | None = None
    recording: int | None = None
    read_path: str = ""
    clear_path: str = ""
    unplugged: tuple[int, int | None] | None = None  # (event, param; None = any)


FAMILIES: dict[str, Profile] = {
    "AD101": Profile(
        "AD101", "AD101Device.dll", init="AD101_InitDevice", init_hwnd=True, init_checked=True,
        count="AD101_GetDevice", count_polled=False, free="AD101_FreeDevice",
        set_callback="AD101_SetEventCallbackFun",
        callback=(("line", ctypes.c_int), ("event", ctypes.c_int), ("param", ctypes.c_int)),
        caller_id=0x09, read_caller="AD101_GetCallerID", caller_style="ad101",
        state=0x08, states={1: ONHOOK, 2: ONHOOK, 3: ONHOOK, 4: OFFHOOK, 5: OFFHOOK, 7: RING},
        missed=0xAA),
    "AD800": Profile(
        "AD800", "AD800Device.dll", init="AD800_Init", init_hwnd=False, init_checked=True,
        count="AD800_GetTotalDev", count_polled=True, free="AD800_Free", set_callback="AD800_SetCallbackFun",
        callback=(("line", ctypes.c_int), ("event", ctypes.c_int), ("param", ctypes.c_int)),
        caller_id=4, read_caller="AD800_GetCallerId", caller_style="ad800",
        state=1, states={1: OFFHOOK, 2: ONHOOK, 3: RING}, unplugged=(0, 0)),
    "USBBox": Profile(
        "USBBox", "USBBoxProtocol.dll", init="UsbBox_EnableDevice", init_hwnd=False, init_checked=False,
        count="UsbBox_GetDeviceCount", count_polled=True, free="UsbBox_DisableDevice",
        set_callback="UsbBox_EventCallBack",
        callback=(("event", ctypes.c_ushort), ("line", ctypes.c_int), ("param", ctypes.c_uint32),
                  ("device", ctypes.c_uint32)),
        caller_id=2, read_caller="UsbBox_GetCallerNumber", caller_style="usbbox",
        state=0, states={1: ONHOOK, 2: OFFHOOK}, ring=4, missed=11, recording=6,
        read_path="UsbBox_GetRecordFilePath", clear_path="UsbBox_ClearRecordFilePath", unplugged=(23, None)),
}

_CALLER_ARGS = {
    "usbbox": (ctypes.c_int, ctypes.c_char_p),
    "ad800": (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint),
    "ad101": (ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p),
}


UNTRUSTED_DLL = ("来电盒驱动 DLL 必须放在只有管理员能改动的文件夹里（Program Files 或 Windows 文件夹），"
                 "以防被人替换成别的程序：请由管理员把厂商驱动装到 Program Files 下再选择它")


def untrusted_dll_reason(path: str, *, platform: str = sys.platform,
                         environ: dict[str, str] | None = None) -> str | None:
    """Why Meike will not load this DLL, or None. On Windows a DLL runs as whoever logs in to Meike, and
    this PC's settings live in a folder every Windows user may write: only a DLL in a folder that only
    administrators can change (Program Files, the Windows folder) is loaded."""
    if platform != "win32":
        return None
    import ntpath

    env = dict(os.environ) if environ is None else environ
    roots = [env.get(name, "") for name in ("ProgramFiles", "ProgramFiles(x86)", "ProgramW6432", "SystemRoot")]
    target = ntpath.normcase(ntpath.normpath(path))
    for root in filter(None, roots):
        prefix = ntpath.normcase(ntpath.normpath(root)).rstrip("\\") + "\\"
        if target.startswith(prefix):
            return None
    return UNTRUSTED_DLL


def _default_loader(path: str) -> Any:
    reason = untrusted_dll_reason(path)
    if reason is not None:
        raise OSError(reason)
    return ctypes.WinDLL(path) if sys.platform == "win32" else ctypes.CDLL(path)  # type: ignore[attr-defined,unused-ignore]


def _functype() -> Callable[..., Any]:
    """stdcall (``CALLBACK``) on Windows, cdecl elsewhere — the same on 64-bit Windows."""
    return ctypes.WINFUNCTYPE if sys.platform == "win32" else ctypes.CFUNCTYPE  # type: ignore[attr-defined,unused-ignore]


def _text(raw: bytes) -> str:
    return raw.decode(ENCODING, "replace").strip()


def dll_call(number: str, at: datetime, *, name: str = "", when: str = "") -> Call:
    """A ``Call`` from the strings the DLL gave, withheld numbers handled like the serial parser's."""
    number, name = number.strip(), name.strip()
    if name.upper() in (PRIVATE, UNAVAILABLE):
        name = ""
    if len(when) == 8 and when.isdigit():  # MMDDHHMM from the FSK record
        at = call_time(when[:4], when[4:], at)
    if number.upper() == PRIVATE:
        return Call("", at, name, private=True)
    digits = _digits(number)
    if number.upper() == UNAVAILABLE or not digits.lstrip("+"):
        return Call("", at, name, unavailable=True)
    return Call(digits, at, name)


class DllCallerId:
    """A USB caller-ID / recording box through its vendor DLL (Windows).

    ``start()`` loads the DLL, opens the boxes and registers the callback (raises CallerIdError).
    The DLL then calls back on its own thread: a caller's number becomes ``on_call(Call)``; ringing,
    off / on hook, missed calls and finished recordings become ``on_event(LineEvent)``; an unplugged
    box ``on_error(CallerIdError)``. A GUI must hand them over to its own thread. Nothing raised by a
    listener reaches the DLL. Off / on hook are reported on a change only (the AD101 reports a
    polarity flip as a new off-hook state).
    """

    cid_command = ""  # the serial adapter's accepted AT command; a DLL box has none

    def __init__(self, dll_path: str, on_call: Callable[[Call], None],
                 on_error: Callable[[Exception], None] | None = None, *,
                 on_event: Callable[[LineEvent], None] | None = None, family: str = "AD101",
                 loader: Callable[[str], Any] | None = None, now: Callable[[], datetime] = datetime.now,
                 detect_timeout: float = DETECT_TIMEOUT) -> None:
        if family not in FAMILIES:
            raise CallerIdError(f"未知的来电盒型号 {family}，可选：{'、'.join(FAMILIES)}")
        self.dll_path, self.profile = dll_path, FAMILIES[family]
        self.on_call, self.on_error, self.on_event = on_call, on_error, on_event
        self.loader = loader or _default_loader
        self._now, self.detect_timeout = now, detect_timeout
        self.devices = 0  # boxes found by start()
        self._fns: dict[str, Any] = {}
        self._running = self._accepting = False
        self._offhook: dict[int, bool] = {}
        # The DLL keeps only a C pointer to the callback: this reference keeps the thunk alive for the
        # adapter's lifetime (also after stop(), in case the DLL's thread fires once more).
        self._callback: Any = None

    # --- opening ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._running:
            return
        p = self.profile
        callback_type = _functype()(None, *(kind for _role, kind in p.callback))
        fns = self._bind(self._load(), callback_type)
        self._callback = callback_type(self._on_dll_event)
        ok = fns["init"](None) if p.init_hwnd else fns["init"]()
        if p.init_checked and not ok:
            self._free(fns)
            raise CallerIdError(f"来电盒驱动初始化失败（{p.init} 返回 {ok}），请检查设备是否被其他程序占用")
        self._offhook.clear()
        self._fns, self._accepting = fns, True  # events may come while the boxes are being counted
        fns["set_callback"](self._callback)
        count = self._count(fns)
        if count <= 0:
            self._accepting = False
            self._free(fns)
            raise CallerIdError(f"没有检测到 {p.name} 来电盒，请检查 USB 连线后重试")
        self.devices, self._running = count, True

    def _load(self) -> Any:
        try:
            return self.loader(self.dll_path)
        except OSError as e:
            if str(e) == UNTRUSTED_DLL:
                raise CallerIdError(UNTRUSTED_DLL) from e
            raise CallerIdError(f"无法加载来电盒驱动 {self.dll_path}：{e}。"
                                "请确认文件存在，且与本程序同为 32 位或 64 位") from e

    def _bind(self, dll: Any, callback_type: Any) -> dict[str, Any]:
        p = self.profile
        wanted: dict[str, tuple[str, Any, tuple[Any, ...]]] = {
            "init": (p.init, ctypes.c_int, (ctypes.c_void_p,) if p.init_hwnd else ()),
            "count": (p.count, ctypes.c_int, ()),
            "free": (p.free, None, ()),
            "set_callback": (p.set_callback, None, (callback_type,)),
            "caller": (p.read_caller, ctypes.c_int, _CALLER_ARGS[p.caller_style]),
        }
        if p.read_path:
            wanted["path"] = (p.read_path, ctypes.c_int, (ctypes.c_int, ctypes.c_char_p))
        if p.clear_path:
            wanted["clear_path"] = (p.clear_path, ctypes.c_int, (ctypes.c_int,))
        fns = {}
        for role, (name, restype, argtypes) in wanted.items():
            try:
                fn = getattr(dll, name)
            except AttributeError:
                raise CallerIdError(f"{self.dll_path} 不是 {p.name} 来电盒的驱动：缺少函数 {name}") from None
            fn.restype, fn.argtypes = restype, list(argtypes)
            fns[role] = fn
        return fns

    def _count(self, fns: dict[str, Any]) -> int:
        deadline = time.monotonic() + (self.detect_timeout if self.profile.count_polled else 0)
        while True:
            count = int(fns["count"]())
            if count > 0 or time.monotonic() >= deadline:
                return count
            time.sleep(0.05)

    # --- events (on the DLL's thread) ------------------------------------------------------------

    def _on_dll_event(self, *args: int) -> None:
        try:
            values = {role: value for (role, _kind), value in zip(self.profile.callback, args, strict=True)}
            if self._accepting:
                self._dispatch(values["event"], values["line"], values["param"])
        except Exception:  # nothing may unwind into the DLL's C code
            log.exception("caller-ID DLL event %s failed", args)

    def _dispatch(self, event: int, line: int, param: int) -> None:
        p = self.profile
        at = self._now()
        if event == p.caller_id:
            self._deliver(self.on_call, self._read_call(line, at))
        elif event == p.state:
            self._state(line, p.states.get(param), at)
        elif event == p.ring:
            self._event(RING, at, line)
        elif event == p.missed:
            self._event(MISSED, at, line)
        elif event == p.recording:
            path = self._read_path(line)
            if path:
                self._event(RECORDING, at, line, path)
        elif p.unplugged is not None and event == p.unplugged[0] and p.unplugged[1] in (None, param):
            self._deliver(self.on_error, CallerIdError(f"{p.name} 来电盒已断开（USB），请检查连线"))

    def _read_call(self, line: int, at: datetime) -> Call:
        fns, style = self._fns, self.profile.caller_style
        number, name, when = (ctypes.create_string_buffer(TEXT_SIZE) for _ in range(3))
        if style == "ad101":
            fns["caller"](line, number, name, when)
        elif style == "ad800":
            if not fns["caller"](line, number, TEXT_SIZE - 1):
                number.value = b""
        else:
            fns["caller"](line, number)
        return dll_call(_text(number.value), at, name=_text(name.value), when=_text(when.value))

    def _read_path(self, line: int) -> str:
        fns = self._fns
        buffer = ctypes.create_string_buffer(PATH_SIZE)
        fns["path"](line, buffer)
        if "clear_path" in fns:  # the header recommends clearing it once read
            fns["clear_path"](line)
        return _text(buffer.value)

    def _state(self, line: int, kind: str | None, at: datetime) -> None:
        if kind in (OFFHOOK, ONHOOK):
            offhook = kind == OFFHOOK
            if self._offhook.get(line, False) == offhook:
                return
            self._offhook[line] = offhook
        if kind is not None:
            self._event(kind, at, line)

    def _event(self, kind: str, at: datetime, line: int, path: str = "") -> None:
        if self.on_event is not None:
            self._deliver(self.on_event, LineEvent(kind, at, line=line, path=path, source="dll"))

    @staticmethod
    def _deliver(listener: Callable[[Any], None] | None, value: Any) -> None:
        if listener is None:
            return
        try:
            listener(value)
        except Exception:  # a failing listener must not reach the DLL
            log.exception("caller-ID listener failed")

    # --- stopping --------------------------------------------------------------------------------

    def stop(self, timeout: float = 2.0) -> None:
        """Free the boxes; safe to call twice. ``timeout`` is unused (freeing is synchronous)."""
        self._accepting = False
        if self._running:
            self._running = False
            self._free(self._fns)

    def _free(self, fns: dict[str, Any]) -> None:
        try:
            fns["free"]()
        except Exception:
            log.exception("freeing the caller-ID DLL failed")

    @property
    def running(self) -> bool:
        return self._running


def check_dll(dll_path: str, family: str = "AD101", loader: Callable[[str], Any] | None = None, *,
              detect_timeout: float = DETECT_TIMEOUT) -> str:
    """Load the DLL and open the boxes: a sentence for the settings page; CallerIdError when it fails."""
    adapter = DllCallerId(dll_path, lambda _call: None, family=family, loader=loader,
                          detect_timeout=detect_timeout)
    adapter.start()
    try:
        count = adapter.devices
    finally:
        adapter.stop()
    return f"连接成功：检测到 {count} 台 {family} 来电盒"
