"""``--screenshot DIR``: log in to the demo clinic, render every page offscreen to PNG files, exit."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from meike.clinic_setup import database_url, open_clinic
from meike.services import accounts, system
from ui.account_manager import AccountManager
from ui.dialogs.login import LoginDialog
from ui.main_window import MainWindow
from ui.taskman import manager as task_manager


def _save(widget: QWidget, path: Path) -> Path:
    widget.show()
    QApplication.processEvents()
    if not widget.grab().save(str(path)):
        raise OSError(f"cannot write {path}")
    return path


def render_all(folder: Path, *, database: str | None = None, size: tuple[int, int] = (1280, 800)) -> int:
    """Write login.png, one ``page_<name>.png`` per page ``gl`` may open, and account_manager.png."""
    folder.mkdir(parents=True, exist_ok=True)
    clinic = open_clinic(database_url(database, demo_mode=True), demo_mode=True)
    name = system.get(clinic, "clinic.name")
    written: list[Path] = []
    login = LoginDialog(clinic, name)
    login.user.setText("gl")
    written.append(_save(login, folder / "login.png"))
    login.close()

    gl = accounts.authenticate(clinic, "gl", "123")
    window = MainWindow(clinic, gl, name)
    window.resize(*size)
    window.show()
    for page in gl.pages:
        window.open_page(page)
        task_manager().wait_idle(10)  # the pages' reads and counts (ui/taskman.py)
        QApplication.processEvents()
        written.append(_save(window, folder / f"page_{page.value}.png"))
    window.close()

    admin = accounts.authenticate(clinic, "admin", "admin")
    manager = AccountManager(clinic, admin, name)
    manager.resize(*size)
    task_manager().wait_idle()  # the accounts are read off the GUI thread
    manager.table.selectRow(manager.row_of("kf"))
    written.append(_save(manager, folder / "account_manager.png"))
    manager.close()
    clinic.dispose()
    for path in written:
        print(path)
    return 0
