"""The secret box: platform keys (the SMS platforms' secrets) are kept in the database sealed with a key
that never enters it, so a copy of the database (a backup) does not give them away.

The key is this PC's: 32 random bytes in ``secret.key`` in the config folder (``meike.paths``), made on
first use. POSIX: the file is 0600 in a 0700 folder. Windows: the file holds the key sealed by DPAPI in
machine scope (``CryptProtectData`` with ``CRYPTPROTECT_LOCAL_MACHINE``): every Windows user of this PC
can open it, a copy of the file on another PC cannot. Values are sealed with ``cryptography``'s Fernet
(AES-128-CBC + HMAC-SHA256) under that key.

A sealed value reads ``enc1:<key id>:<token>``; the key id (8 hex digits of a hash of the key) names the
key that sealed it, so a value sealed on another PC, or under a key file that was lost, is recognised
(``SecretUnavailable``) rather than mistaken for a wrong token. A value without the prefix is clear text
from an older version: ``open_value`` passes it through and the first start seals it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from meike import paths
from meike.errors import MeikeError

log = logging.getLogger(__name__)

PREFIX = "enc1:"
KEY_FILE = "secret.key"
_RAW, _DPAPI = "raw1:", "dpapi1:"  # how the key file holds the key: as it is (POSIX) / sealed by DPAPI
_lock = threading.Lock()
_keys: dict[Path, bytes] = {}


class SecretUnavailable(MeikeError):
    """A sealed value that this PC cannot open: sealed on another PC, or the key file was lost or replaced."""


# --- the key --------------------------------------------------------------------------------------


def key_file() -> Path:
    return paths.config_dir() / KEY_FILE


def _dpapi(data: bytes, *, protect: bool) -> bytes:
    """Windows DPAPI in machine scope through ctypes (crypt32's CryptProtectData / CryptUnprotectData)."""
    import ctypes
    from ctypes import wintypes

    class Blob(ctypes.Structure):
        _fields_ = [("cbData", wintypes.DWORD), ("pbData", ctypes.POINTER(ctypes.c_char))]

    crypt32 = ctypes.WinDLL("crypt32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.LocalFree.argtypes, kernel32.LocalFree.restype = [ctypes.c_void_p], ctypes.c_void_p
    call = crypt32.CryptProtectData if protect else crypt32.CryptUnprotectData
    call.argtypes = [ctypes.POINTER(Blob), ctypes.c_wchar_p if protect else ctypes.c_void_p, ctypes.c_void_p,
                     ctypes.c_void_p, ctypes.c_void_p, wintypes.DWORD, ctypes.POINTER(Blob)]
    call.restype = wintypes.BOOL
    buffer = ctypes.create_string_buffer(data, len(data))
    given = Blob(len(data), ctypes.cast(buffer, ctypes.POINTER(ctypes.c_char)))
    out = Blob()
    ui_forbidden, local_machine = 0x1, 0x4
    flags = ui_forbidden | (local_machine if protect else 0)
    if not call(ctypes.byref(given), "Meike" if protect else None, None, None, None, flags, ctypes.byref(out)):
        raise ctypes.WinError(ctypes.get_last_error())  # type: ignore[attr-defined]
    try:
        return ctypes.string_at(out.pbData, out.cbData)
    finally:
        kernel32.LocalFree(ctypes.cast(out.pbData, ctypes.c_void_p))


def _windows() -> bool:
    return sys.platform == "win32"


def _encode_key(key: bytes) -> bytes:
    if _windows():
        return (_DPAPI + base64.b64encode(_dpapi(key, protect=True)).decode("ascii") + "\n").encode("ascii")
    return (_RAW + base64.b64encode(key).decode("ascii") + "\n").encode("ascii")


def _decode_key(text: str) -> bytes:
    text = text.strip()
    try:
        if text.startswith(_DPAPI):
            key = _dpapi(base64.b64decode(text[len(_DPAPI):], validate=True), protect=False)
        elif text.startswith(_RAW):
            key = base64.b64decode(text[len(_RAW):], validate=True)
        else:
            raise ValueError("unknown key file format")
    except (ValueError, binascii.Error, OSError) as e:
        raise SecretUnavailable("本机的密钥文件已损坏或来自另一台电脑，加密保存的平台密钥无法使用，请重新填写") from e
    if len(key) != 32:
        raise SecretUnavailable("本机的密钥文件已损坏，加密保存的平台密钥无法使用，请重新填写")
    return key


def _publish(path: Path, data: bytes) -> None:
    """Write the new key file unless another process just did (then theirs stands): no key is replaced."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # 0600
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if _windows():
            os.rename(tmp, path)  # refuses to replace an existing file on Windows
            paths.windows_acl(path)
        else:
            os.link(tmp, path)  # refuses to replace an existing file
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _key(*, create: bool, path: Path | None = None) -> bytes | None:
    """This PC's key (made when ``create`` and there is none yet); None when there is none."""
    path = path or key_file()
    with _lock:
        if path in _keys:
            return _keys[path]
        if not path.exists():
            if not create:
                return None
            _publish(path, _encode_key(os.urandom(32)))
            log.info("made this PC's key for the platform secrets")
        paths.private_file(path)
        key = _decode_key(path.read_text(encoding="ascii", errors="replace"))
        _keys[path] = key
        return key


def _key_id(key: bytes) -> str:
    return hashlib.sha256(b"meike secret box\0" + key).hexdigest()[:8]


def _fernet(key: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(key))


# --- sealing and opening -------------------------------------------------------------------------


def is_sealed(value: str) -> bool:
    return value.startswith(PREFIX)


def seal(plain: str, *, key_path: Path | None = None) -> str:
    """``plain`` sealed with this PC's key (made on first use). '' stays ''."""
    if not plain:
        return ""
    key = _key(create=True, path=key_path)
    assert key is not None
    return f"{PREFIX}{_key_id(key)}:{_fernet(key).encrypt(plain.encode('utf-8')).decode('ascii')}"


def key_matches(value: str) -> bool:
    """A sealed value this PC's key sealed (clear text and '' count as openable here too)."""
    if not is_sealed(value):
        return True
    try:
        key = _key(create=False)
    except SecretUnavailable:
        return False
    return key is not None and value[len(PREFIX):].split(":", 1)[0] == _key_id(key)


def open_value(value: str, *, key_path: Path | None = None) -> str:
    """The clear text of a stored value: a sealed one is opened with this PC's key, clear text (an older
    version's row) passes unchanged. ``SecretUnavailable`` when this PC cannot open it."""
    if not is_sealed(value):
        return value
    key_id, _, token = value[len(PREFIX):].partition(":")
    key = _key(create=False, path=key_path)
    if key is None or key_id != _key_id(key):
        raise SecretUnavailable("这个密钥是在另一台电脑上加密保存的（或本机的密钥文件丢失了），本机不能使用，请在本机重新填写")
    try:
        return _fernet(key).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError, ValueError) as e:
        raise SecretUnavailable("保存的密钥已损坏，无法使用，请重新填写") from e


def selftest(folder: Path) -> str:
    """``--selftest``: make a key file in ``folder`` (DPAPI on Windows), seal a value and open it again."""
    path = Path(folder) / KEY_FILE
    value = seal("美客自检", key_path=path)
    if "美客自检" in value or open_value(value, key_path=path) != "美客自检":
        raise RuntimeError("加密后取不回原文")
    return f"Fernet，密钥文件{'（DPAPI 本机范围）' if _windows() else '（0600）'}"


def forget_cached_keys() -> None:
    """Tests: read the key files again (another config folder, a key file removed)."""
    with _lock:
        _keys.clear()
