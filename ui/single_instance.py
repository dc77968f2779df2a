"""One Meike per clinic database on a PC: a second start hands over to the running one and ends.

A ``QLockFile`` in the data folder says a Meike has the database open (Qt removes the lock of a
process that died); the running one listens on a ``QLocalServer`` named after the database and the
Windows user, and a second start (a second double-click of the shortcut) asks it to bring its window
forward. On Windows the running program also holds the named mutex ``Global\\MeikeRunning`` that the
installer checks before it replaces the program's files.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import sys
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

ACTIVATE = b"activate\n"
INSTALLER_MUTEXES = ("Global\\MeikeRunning", "MeikeRunning")


def _key(database_url: str) -> str:
    return hashlib.sha256(database_url.encode("utf-8")).hexdigest()[:16]


class SingleInstance(QObject):
    """``acquire()`` True: this is the one (listen for ``activated``); False: another one was told."""

    activated = Signal()

    def __init__(self, folder: Path, database_url: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        folder.mkdir(parents=True, exist_ok=True)
        key = _key(database_url)
        self.lock = QLockFile(str(folder / f"meike-{key}.lock"))
        self.lock.setStaleLockTime(0)  # never stale by age: only when its process is gone
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 (no user name in the environment)
            user = "user"
        self.server_name = f"meike-{key}-{_key(user)[:8]}"
        self.server: QLocalServer | None = None
        self.handed_over = False  # acquire() failed and the running one answered
        self.problem = ""  # acquire() failed for another reason than a running Meike: what to tell
        self._mutexes: list[int] = []

    def acquire(self, *, handover_timeout_ms: int = 3000) -> bool:
        if self.lock.tryLock(100):
            self._listen()
            self._hold_installer_mutex()
            return True
        if self.lock.error() != QLockFile.LockError.LockFailedError:  # no rights in the folder, a full disk
            self.problem = (f"无法在数据文件夹 {Path(self.lock.fileName()).parent} 中写入文件（没有写入权限或磁盘已满），"
                            "美客不能启动。请联系维护人员检查这个文件夹的权限。")
            log.error("cannot take the lock %s: %s", self.lock.fileName(), self.lock.error())
            return False
        self.handed_over = self.tell_running(handover_timeout_ms)
        log.info("another Meike has this database open; %s",
                 "asked it to come forward" if self.handed_over else "it did not answer")
        return False

    def tell_running(self, timeout_ms: int = 3000) -> bool:
        """Ask the running instance to bring its window forward; False when nobody answered."""
        socket = QLocalSocket()
        socket.connectToServer(self.server_name)
        if not socket.waitForConnected(timeout_ms):
            return False
        written = socket.write(ACTIVATE) == len(ACTIVATE)
        socket.flush()  # usually writes it all at once; otherwise wait for the rest
        while written and socket.bytesToWrite() > 0:
            written = socket.waitForBytesWritten(timeout_ms)
        socket.disconnectFromServer()
        return written

    def _listen(self) -> None:
        QLocalServer.removeServer(self.server_name)  # a socket file left by a crashed run (Unix)
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.server_name):
            log.warning("cannot listen for a second start: %s", server.errorString())
            return
        server.newConnection.connect(self._connection)
        self.server = server

    def _connection(self) -> None:
        assert self.server is not None
        while (socket := self.server.nextPendingConnection()) is not None:
            socket.setParent(self)
            socket.readyRead.connect(self._ready_read)
            socket.disconnected.connect(socket.deleteLater)
            if socket.bytesAvailable():
                self._read(socket)

    def _ready_read(self) -> None:
        socket = self.sender()
        if isinstance(socket, QLocalSocket):
            self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        if bytes(socket.readAll().data()).startswith(ACTIVATE.strip()):
            self.activated.emit()

    def _hold_installer_mutex(self) -> None:
        if sys.platform != "win32":
            return
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
        kernel32.CreateMutexW.restype = ctypes.c_void_p
        for name in INSTALLER_MUTEXES:
            handle = kernel32.CreateMutexW(None, False, name)
            if handle:
                self._mutexes.append(handle)

    def release(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None
        for socket in self.findChildren(QLocalSocket):
            socket.abort()
            socket.deleteLater()
        if self.lock.isLocked():
            self.lock.unlock()
        if self._mutexes:
            import ctypes

            for handle in self._mutexes:
                ctypes.windll.kernel32.CloseHandle(ctypes.c_void_p(handle))  # type: ignore[attr-defined]
            self._mutexes.clear()
