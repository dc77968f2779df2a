"""Caller-ID through the vendor DLL: a Python fake DLL, a compiled C fake firing from its own thread, errors."""

from __future__ import annotations

import ctypes
import gc
import logging
import shutil
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devices.callerid import MISSED, OFFHOOK, ONHOOK, RECORDING, RING, Call, CallerIdError, LineEvent
from devices.callerid_dll import FAMILIES, DllCallerId, check_dll

NOW = datetime(2026, 11, 23, 9, 20)
RECORD_PATH = "D:\\录音\\张三 2026-11-23 0920.wav"


class FakeDll:
    """One family's DLL functions as plain Python functions (ctypes may set argtypes on them).

    The registered ctypes callback is kept in ``callback``; ``fire`` calls it like the DLL, so the
    arguments go through ctypes' conversion to the C types.
    """

    def __init__(self, family: str, *, init_result: int = 1, devices: int = 1) -> None:
        self.family = family
        self.callback: Any = None
        self.freed = 0
        self.number, self.name, self.time, self.path = b"", b"", b"", b""
        calls: dict[str, Any] = {}

        def init(*_hwnd: Any) -> int:
            return init_result

        def count() -> int:
            return devices

        def free() -> int:
            self.freed += 1
            return 0

        def set_callback(fn: Any) -> int:
            self.callback = fn
            return 0

        def caller(_line: int, number: Any, *more: Any) -> int:  # (line, buf [, size | name, time])
            number.value = self.number
            if len(more) == 2:
                more[0].value, more[1].value = self.name, self.time
            return 1

        def record_path(_line: int, buffer: Any) -> int:
            buffer.value = self.path
            return 0

        def clear_path(_line: int) -> int:
            self.path = b""
            return 0

        if family == "USBBox":
            calls = {"UsbBox_EnableDevice": init, "UsbBox_GetDeviceCount": count, "UsbBox_DisableDevice": free,
                     "UsbBox_EventCallBack": set_callback, "UsbBox_GetCallerNumber": caller,
                     "UsbBox_GetRecordFilePath": record_path, "UsbBox_ClearRecordFilePath": clear_path}
        elif family == "AD101":
            calls = {"AD101_InitDevice": init, "AD101_GetDevice": count, "AD101_FreeDevice": free,
                     "AD101_SetEventCallbackFun": set_callback, "AD101_GetCallerID": caller}
        else:
            calls = {"AD800_Init": init, "AD800_GetTotalDev": count, "AD800_Free": free,
                     "AD800_SetCallbackFun": set_callback, "AD800_GetCallerId": caller}
        for name, fn in calls.items():
            setattr(self, name, fn)

    def fire(self, event: int, line: int = 0, param: int = 0) -> None:
        if self.family == "USBBox":
            self.callback(event, line, param, 12345678)
        else:
            self.callback(line, event, param)


class Listener:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.events: list[LineEvent] = []
        self.errors: list[Exception] = []
        self.threads: set[int] = set()

    def call(self, call: Call) -> None:
        self.threads.add(threading.get_ident())
        self.calls.append(call)

    def event(self, event: LineEvent) -> None:
        self.threads.add(threading.get_ident())
        self.events.append(event)


def started(family: str, fake: FakeDll | None = None) -> tuple[DllCallerId, FakeDll, Listener]:
    fake = fake or FakeDll(family)
    heard = Listener()
    adapter = DllCallerId("vendor.dll", heard.call, heard.errors.append, on_event=heard.event, family=family,
                          loader=lambda _path: fake, now=lambda: NOW, detect_timeout=0)
    adapter.start()
    return adapter, fake, heard


# --- the Python fake -------------------------------------------------------------------------------


@pytest.mark.parametrize("family", ["USBBox", "AD101", "AD800"])
def test_caller_number_is_normalised(family: str) -> None:
    adapter, fake, heard = started(family)
    assert adapter.running and adapter.devices == 1 and adapter.cid_command == ""
    fake.number = b" 138-0013 8000 "
    fake.fire(FAMILIES[family].caller_id)
    assert heard.calls == [Call("13800138000", NOW)]


@pytest.mark.parametrize(("raw", "private", "unavailable"), [(b"P", True, False), (b"p", True, False),
                                                             (b"O", False, True), (b"", False, True)])
def test_private_and_unavailable(raw: bytes, private: bool, unavailable: bool) -> None:
    _adapter, fake, heard = started("USBBox")
    fake.number = raw
    fake.fire(2)
    [call] = heard.calls
    assert (call.number, call.private, call.unavailable, call.withheld) == ("", private, unavailable, True)


def test_ad101_name_and_time_from_the_fsk_record() -> None:
    _adapter, fake, heard = started("AD101")
    fake.number, fake.name, fake.time = b"02167891234", "张三".encode("gbk"), b"11230915"
    fake.fire(0x09, line=1)
    assert heard.calls == [Call("02167891234", datetime(2026, 11, 23, 9, 15), "张三")]


def test_recording_path_in_gbk() -> None:
    _adapter, fake, heard = started("USBBox")
    fake.path = RECORD_PATH.encode("gbk")
    fake.fire(6, line=1)
    assert heard.events == [LineEvent(RECORDING, NOW, line=1, path=RECORD_PATH, source="dll")]
    assert fake.path == b""  # cleared once read, as the header recommends


def test_usbbox_line_events() -> None:
    _adapter, fake, heard = started("USBBox")
    # 0x10000 + 11: the event is a WORD, so ctypes hands the callback 11
    for event, param in [(0, 1), (4, 1), (4, 2), (0, 2), (0, 2), (0, 5), (0, 1), (0, 1), (0x10000 + 11, 0)]:
        fake.fire(event, line=3, param=param)
    assert [(e.kind, e.line, e.source) for e in heard.events] == [
        (RING, 3, "dll"), (RING, 3, "dll"), (OFFHOOK, 3, "dll"), (ONHOOK, 3, "dll"), (MISSED, 3, "dll")]


def test_ad101_line_events_ignore_a_polarity_flip() -> None:
    _adapter, fake, heard = started("AD101")
    for event, param in [(0x08, 7), (0x08, 8), (0x08, 7), (0x08, 4), (0x08, 5), (0x08, 2), (0x08, 3), (0xAA, 0)]:
        fake.fire(event, param=param)
    assert [e.kind for e in heard.events] == [RING, RING, OFFHOOK, ONHOOK, MISSED]


def test_ad800_line_events_and_unplugging() -> None:
    _adapter, fake, heard = started("AD800")
    for event, param in [(1, 3), (1, 1), (1, 2), (0, 1)]:
        fake.fire(event, param=param)
    assert [e.kind for e in heard.events] == [RING, OFFHOOK, ONHOOK] and heard.errors == []
    fake.fire(0, param=0)
    [error] = heard.errors
    assert isinstance(error, CallerIdError) and "断开" in str(error)


def test_usbbox_unplugged_reports_an_error() -> None:
    _adapter, fake, heard = started("USBBox")
    fake.fire(23)
    assert len(heard.errors) == 1 and isinstance(heard.errors[0], CallerIdError)


def test_unknown_events_are_ignored() -> None:
    _adapter, fake, heard = started("USBBox")
    fake.number = b"13800138000"
    for event in (1, 3, 5, 7, 9, 10, 20, 22, 50, 999):
        fake.fire(event, param=7)
    fake.fire(0, param=3)  # a state without a meaning here
    assert heard.calls == [] and heard.events == [] and heard.errors == []


def test_a_failing_listener_does_not_reach_the_dll(caplog: pytest.LogCaptureFixture) -> None:
    def boom(_value: object) -> None:
        raise RuntimeError("listener broke")

    fake = FakeDll("USBBox")
    adapter = DllCallerId("vendor.dll", boom, boom, on_event=boom, family="USBBox", loader=lambda _p: fake,
                          detect_timeout=0)
    adapter.start()
    fake.number = b"13800138000"
    with caplog.at_level(logging.ERROR, logger="devices.callerid_dll"):
        fake.fire(2)
        fake.fire(11)
        fake.fire(23)
    assert [r.exc_info[1].args for r in caplog.records if r.exc_info] == [("listener broke",)] * 3
    adapter.on_call = (heard := Listener()).call
    fake.fire(2)
    assert [c.number for c in heard.calls] == ["13800138000"]


def test_stop_frees_once_and_later_events_are_ignored() -> None:
    adapter, fake, heard = started("USBBox")
    adapter.stop()
    adapter.stop()
    assert fake.freed == 1 and not adapter.running
    fake.number = b"13800138000"
    fake.fire(2)
    assert heard.calls == []


# --- errors ----------------------------------------------------------------------------------------


def test_missing_dll_names_the_path(tmp_path: Path) -> None:
    path = str(tmp_path / "AD101Device.dll")
    adapter = DllCallerId(path, lambda _c: None)
    with pytest.raises(CallerIdError, match="无法加载来电盒驱动") as raised:
        adapter.start()
    assert path in str(raised.value) and not adapter.running
    with pytest.raises(CallerIdError, match="无法加载"):
        check_dll(path)


def test_init_failure() -> None:
    fake = FakeDll("AD101", init_result=0)
    with pytest.raises(CallerIdError, match="初始化失败"):
        started("AD101", fake)


@pytest.mark.parametrize("family", ["USBBox", "AD101", "AD800"])
def test_no_box_plugged_in(family: str) -> None:
    fake = FakeDll(family, devices=0)
    with pytest.raises(CallerIdError, match="没有检测到"):
        started(family, fake)
    assert fake.freed == 1
    fake.number = b"13800138000"
    fake.fire(FAMILIES[family].caller_id)  # the DLL may still hold the callback: it must stay harmless


def test_a_dll_of_another_family() -> None:
    with pytest.raises(CallerIdError, match="缺少函数 UsbBox_EnableDevice"):
        started("USBBox", FakeDll("AD101"))


def test_unknown_family() -> None:
    with pytest.raises(CallerIdError, match="未知的来电盒型号"):
        DllCallerId("x.dll", lambda _c: None, family="AD999")


def test_check_dll() -> None:
    fake = FakeDll("USBBox", devices=2)
    assert check_dll("vendor.dll", "USBBox", loader=lambda _p: fake) == "连接成功：检测到 2 台 USBBox 来电盒"
    assert fake.freed == 1
    with pytest.raises(CallerIdError, match="没有检测到"):
        check_dll("vendor.dll", "USBBox", loader=lambda _p: FakeDll("USBBox", devices=0), detect_timeout=0)


# --- a real shared library -------------------------------------------------------------------------

FAKE_C = r"""
#include <pthread.h>
#include <string.h>

typedef void (*usb_cb)(unsigned short, int, unsigned int, unsigned int);
typedef void (*line_cb)(int, int, int);

static usb_cb usb_callback;
static line_cb ad101_callback;
static int enabled, freed, devices = 1;
static char caller[128], path[1024];

int UsbBox_EnableDevice(void) { enabled = 1; return 0; }
int UsbBox_DisableDevice(void) { enabled = 0; freed++; return 0; }
int UsbBox_GetDeviceCount(void) { return enabled ? devices : 0; }
int UsbBox_EventCallBack(usb_cb fn) { usb_callback = fn; return 0; }
int UsbBox_GetCallerNumber(int line, char *out) { strcpy(out, caller); return 0; }
int UsbBox_GetRecordFilePath(int line, char *out) { strcpy(out, path); return 0; }
int UsbBox_ClearRecordFilePath(int line) { path[0] = 0; return 0; }

int AD101_InitDevice(void *hwnd) { return hwnd == 0; }
int AD101_GetDevice(void) { return devices; }
void AD101_FreeDevice(void) { freed++; }
void AD101_SetEventCallbackFun(line_cb fn) { ad101_callback = fn; }
int AD101_GetCallerID(int line, char *number, char *name, char *time) {
    strcpy(number, caller); name[0] = 0; time[0] = 0; return (int)strlen(caller);
}

void Fake_SetCaller(const char *text) { strncpy(caller, text, sizeof caller - 1); }
void Fake_SetPath(const char *text) { strncpy(path, text, sizeof path - 1); }
void Fake_SetDevices(int n) { devices = n; }
int Fake_FreeCount(void) { return freed; }

struct shot { int event, line; unsigned int param; };

static void *fire(void *arg) {
    struct shot *s = arg;
    if (usb_callback) usb_callback((unsigned short)s->event, s->line, s->param, 12345678u);
    if (ad101_callback) ad101_callback(s->line, s->event, (int)s->param);
    return 0;
}

/* Calls the callback from a new thread, as the vendor DLL does from its own, and waits for it. */
int Fake_Fire(int event, int line, unsigned int param) {
    struct shot s = {event, line, param};
    pthread_t thread;
    if (pthread_create(&thread, 0, fire, &s) != 0) return -1;
    return pthread_join(thread, 0);
}
"""


@pytest.fixture
def fake_library(tmp_path: Path) -> Path:
    """The C fake compiled into a fresh shared library (own path: own state when loaded)."""
    if sys.platform == "win32":
        pytest.skip("the C fake is built with a Unix C compiler")
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no C compiler (cc / gcc / clang) found to build the fake vendor DLL")
    source, library = tmp_path / "fake_vendor.c", tmp_path / "libfake_vendor.so"
    source.write_text(FAKE_C)
    subprocess.run([compiler, "-shared", "-fPIC", "-pthread", "-o", str(library), str(source)],
                   check=True, capture_output=True)
    return library


@pytest.mark.parametrize("family", ["USBBox", "AD101"])
def test_real_library_calls_back_from_its_own_thread(fake_library: Path, family: str) -> None:
    test_side = ctypes.CDLL(str(fake_library))  # the same handle the adapter's default loader gets
    test_side.Fake_Fire.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_uint]
    heard = Listener()
    adapter = DllCallerId(str(fake_library), heard.call, heard.errors.append, on_event=heard.event,
                          family=family, now=lambda: NOW, detect_timeout=1)
    adapter.start()
    gc.collect()  # only the adapter holds the ctypes callback now
    profile = FAMILIES[family]

    test_side.Fake_SetCaller(b"139 1234-5678")
    assert test_side.Fake_Fire(profile.caller_id, 0, 0) == 0
    assert heard.calls == [Call("13912345678", NOW)]
    if family == "USBBox":
        test_side.Fake_SetPath(RECORD_PATH.encode("gbk"))
        test_side.Fake_Fire(6, 1, 0)
        test_side.Fake_Fire(0, 1, 2)
        test_side.Fake_Fire(11, 1, 0)
        assert [(e.kind, e.line, e.path) for e in heard.events] == [
            (RECORDING, 1, RECORD_PATH), (OFFHOOK, 1, ""), (MISSED, 1, "")]
    else:
        test_side.Fake_Fire(0x08, 0, 7)
        test_side.Fake_Fire(0xAA, 0, 0)
        assert [e.kind for e in heard.events] == [RING, MISSED]
    assert heard.threads and threading.get_ident() not in heard.threads

    adapter.stop()
    adapter.stop()
    assert test_side.Fake_FreeCount() == 1 and not adapter.running
    test_side.Fake_Fire(profile.caller_id, 0, 0)  # the DLL still holds the pointer: harmless, ignored
    assert len(heard.calls) == 1
    assert check_dll(str(fake_library), family) == f"连接成功：检测到 1 台 {family} 来电盒"


def test_real_library_without_a_box(fake_library: Path) -> None:
    test_side = ctypes.CDLL(str(fake_library))
    test_side.Fake_SetDevices(0)
    with pytest.raises(CallerIdError, match="没有检测到 USBBox 来电盒"):
        DllCallerId(str(fake_library), lambda _c: None, family="USBBox", detect_timeout=0.1).start()
    assert test_side.Fake_FreeCount() == 1


def test_on_windows_only_a_driver_in_an_administrators_folder_is_loaded() -> None:
    """This PC's settings live in a folder every Windows user may write: a DLL path there must not let
    one user run code as the next one who logs in to Meike."""
    from devices.callerid_dll import UNTRUSTED_DLL, untrusted_dll_reason

    env = {"ProgramFiles": r"C:\Program Files", "ProgramFiles(x86)": r"C:\Program Files (x86)",
           "SystemRoot": r"C:\Windows"}
    for trusted in (r"C:\Program Files (x86)\USBBox\USBBoxProtocol.dll", r"c:\program files\AD800\ad800.dll",
                    r"C:\Windows\System32\AD101Device.dll"):
        assert untrusted_dll_reason(trusted, platform="win32", environ=env) is None, trusted
    for untrusted in (r"C:\ProgramData\Meike\evil.dll", r"C:\Users\li\Downloads\USBBoxProtocol.dll",
                      r"C:\Program Files\..\ProgramData\x.dll", r"C:\Program Files Evil\x.dll", r"\\server\share\x.dll"):
        assert untrusted_dll_reason(untrusted, platform="win32", environ=env) == UNTRUSTED_DLL, untrusted
    assert untrusted_dll_reason("/tmp/libfake.so", platform="linux", environ=env) is None
