"""The administrator's only window: accounts, their pages, data scope and supervisor rights."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from meike.db import Clinic
from meike.errors import ValidationError
from meike.permissions import (
    PAGE_LABELS,
    RIGHT_LABELS,
    SCOPE_LABELS,
    Actor,
    DataScope,
    Page,
    Right,
    page_code,
    right_code,
)
from meike.services import audit
from meike.services.accounts import AccountView
from ui import geometry
from ui.about import show_about
from ui.audit_viewer import AuditViewer
from ui.backup_panel import BackupPanel
from ui.dialogs.password import PasswordDialog
from ui.idle_lock import IdleLock
from ui.operations import accounts as ops
from ui.pages.base import need_admin
from ui.tasks import error_text
from ui.widgets import messages
from ui.widgets.form import ErrorForm
from ui.widgets.tables import read_only

ACTION_LABELS = audit.ACTION_LABELS


class AccountManager(QMainWindow):
    closed = Signal(bool)

    def __init__(self, clinic: Clinic, actor: Actor, clinic_name: str = "") -> None:
        super().__init__()
        need_admin(actor)
        self.clinic = clinic
        self.actor = actor
        self.current_id: int | None = None
        self.accounts: list[AccountView] = []
        self.setObjectName("account_manager")
        self.setWindowTitle(f"账号管理 — {clinic_name}" if clinic_name else "账号管理")

        self.table = QTableWidget(0, 5, objectName="account_table")
        self.table.setHorizontalHeaderLabels(["用户名", "姓名", "部门", "数据范围", "状态"])
        read_only(self.table)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_select)

        splitter = QSplitter()
        splitter.addWidget(self.table)
        self.editor = self._build_editor()
        splitter.addWidget(self.editor)
        splitter.setSizes([460, 640])

        self.audit_viewer = AuditViewer(clinic, actor)
        self.audit_table = self.audit_viewer.table

        tabs = QTabWidget(objectName="account_tabs")
        tabs.addTab(splitter, "账号与权限")
        tabs.addTab(self.audit_viewer, "操作日志")
        self.backup_panel = BackupPanel(clinic, actor, configure=True, can_restore=True)
        self.backup_panel.restored.connect(self._restored)
        tabs.addTab(self.backup_panel, "备份与恢复")
        tabs.currentChanged.connect(self._tab_shown)
        self.setCentralWidget(tabs)
        self._logging_out = False
        self.setup_menus()
        geometry.restore(self, actor.username)
        geometry.fit_to_screen(self, default=(1100, 680))
        self.reload()
        self.new_account()
        # the administrator's window locks like the staff's: an unattended PC must not hand out rights
        self.idle_lock = IdleLock(clinic, actor, self)  # the clinic's idle time, read off the GUI thread
        self.idle_lock.screen.logout.connect(self.logout)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        if hasattr(self, "idle_lock"):
            self.idle_lock.resize_cover()

    def setup_menus(self) -> None:
        menu = self.menuBar().addMenu("系统")
        logout = QAction("退出登录", self, objectName="action_logout")
        logout.triggered.connect(self.logout)
        quit_action = QAction("退出", self, objectName="action_quit")
        quit_action.triggered.connect(self.close)
        menu.addAction(logout)
        menu.addAction(quit_action)
        about = QAction("关于 美客", self, objectName="action_about")
        about.triggered.connect(lambda: show_about(self))
        self.menuBar().addMenu("帮助").addAction(about)

    def logout(self) -> None:
        self._logging_out = True
        self.close()

    # --- layout --------------------------------------------------------------------------------

    def _build_editor(self) -> QWidget:
        box = QWidget(objectName="account_editor")
        self.heading = QLabel(objectName="account_heading")
        self.username = QLineEdit(objectName="account_username")
        self.display_name = QLineEdit(objectName="account_display_name")
        self.department = QComboBox(objectName="account_department")
        self.staff = QComboBox(objectName="account_staff")
        self.scope = QComboBox(objectName="account_scope")
        for scope, label in SCOPE_LABELS.items():
            self.scope.addItem(label, scope.value)
        self.password = QLineEdit(objectName="account_password")
        self.confirm = QLineEdit(objectName="account_confirm")
        for w in (self.password, self.confirm):
            w.setEchoMode(QLineEdit.EchoMode.Password)
        self.form = ErrorForm()
        self.form.add_field("username", "用户名", self.username, required=True)
        self.form.add_field("display_name", "姓名", self.display_name)
        self.form.add_field("department_id", "部门", self.department)
        self.form.add_field("staff_id", "对应员工", self.staff)
        self.form.add_field("data_scope", "数据范围", self.scope)
        self.form.add_field("password", "密码", self.password, required=True)
        self.form.add_field("confirm", "确认密码", self.confirm, required=True)

        pages = QGroupBox("可以打开的页面")
        grid = QGridLayout(pages)
        self.page_boxes: dict[str, QCheckBox] = {}
        for i, page in enumerate(Page):
            cb = QCheckBox(PAGE_LABELS[page], objectName=f"grant_page_{page.value}")
            self.page_boxes[page_code(page)] = cb
            grid.addWidget(cb, i // 3, i % 3)
        rights = QGroupBox("权限（审批类由主管当场输入本人密码确认）")
        grid = QGridLayout(rights)
        self.right_boxes: dict[str, QCheckBox] = {}
        for i, right in enumerate(Right):
            cb = QCheckBox(RIGHT_LABELS[right], objectName=f"grant_right_{right.value}")
            self.right_boxes[right_code(right)] = cb
            grid.addWidget(cb, i // 3, i % 3)
        self.grants_error = QLabel(objectName="grants_error")

        self.btn_new = QPushButton("新建账号", objectName="account_new")
        self.btn_save = QPushButton("保存", objectName="account_save")
        self.btn_reset = QPushButton("重置密码", objectName="account_reset_password")
        self.btn_active = QPushButton("停用", objectName="account_toggle_active")
        self.btn_unlock = QPushButton("解除锁定", objectName="account_unlock")
        self.btn_delete = QPushButton("删除", objectName="account_delete")
        self.btn_new.clicked.connect(self.new_account)
        self.btn_save.clicked.connect(self.save)
        self.btn_reset.clicked.connect(self.reset_password)
        self.btn_active.clicked.connect(self.toggle_active)
        self.btn_unlock.clicked.connect(self.unlock)
        self.btn_delete.clicked.connect(self.delete)
        buttons = QHBoxLayout()
        for b in (self.btn_new, self.btn_save, self.btn_reset, self.btn_active, self.btn_unlock, self.btn_delete):
            buttons.addWidget(b)
        self.status = QLabel(objectName="account_status")

        layout = QVBoxLayout(box)
        layout.addWidget(self.heading)
        layout.addLayout(self.form)
        layout.addWidget(pages)
        layout.addWidget(rights)
        layout.addWidget(self.grants_error)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addStretch(1)
        return box

    def _fill_combos(self, found: ops.AccountList) -> None:
        for combo, entries in ((self.department, found.departments), (self.staff, found.staff)):
            chosen = combo.currentData()
            combo.clear()
            combo.addItem("（无）", None)
            for e in entries:
                combo.addItem(e.name, e.id)
            combo.setCurrentIndex(max(0, combo.findData(chosen)))

    # --- data ----------------------------------------------------------------------------------

    def reload(self, select_id: int | None = None) -> None:
        """Read the accounts (off the GUI thread); ``select_id``: then show that account."""
        ops.list_accounts(self, self.clinic, self.actor).success(lambda found: self._show_list(found, select_id)).run()

    def _show_list(self, found: ops.AccountList, select_id: int | None) -> None:
        self._fill_combos(found)
        self.accounts = found.accounts
        self.table.blockSignals(True)
        self.table.setRowCount(len(self.accounts))
        for row, a in enumerate(self.accounts):
            state = "停用" if not a.is_active else ("锁定" if a.locked_until else "正常")
            values = [a.username, a.display_name, a.department_name,
                      "管理员" if a.is_admin else SCOPE_LABELS[a.data_scope], state]
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, a.id)
                self.table.setItem(row, col, item)
            if select_id is not None and a.id == select_id:
                self.table.selectRow(row)
        self.table.blockSignals(False)
        if select_id is not None:
            self.show_account(select_id)

    def row_of(self, username: str) -> int:
        return next(i for i, a in enumerate(self.accounts) if a.username == username)

    def _on_select(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            self.show_account(self.accounts[rows[0].row()].id)

    def _account(self, user_id: int) -> AccountView | None:
        return next((a for a in self.accounts if a.id == user_id), None)

    def show_account(self, user_id: int) -> None:
        """The account as last read (``reload``) in the form."""
        a = self._account(user_id)
        if a is None:
            return
        self.current_id = a.id
        self.form.clear_errors()
        self.heading.setText(f"<b>编辑账号：{a.username}</b>" + ("（管理员）" if a.is_admin else ""))
        self.username.setText(a.username)
        self.display_name.setText(a.display_name)
        self.department.setCurrentIndex(max(0, self.department.findData(a.department_id)))
        self.staff.setCurrentIndex(max(0, self.staff.findData(a.staff_id)))
        self.scope.setCurrentIndex(self.scope.findData(a.data_scope.value))
        for code, cb in {**self.page_boxes, **self.right_boxes}.items():
            cb.setChecked(code in a.grants)
            cb.setEnabled(not a.is_admin)
        self.scope.setEnabled(not a.is_admin)
        self._password_rows(False)
        self.btn_active.setText("启用" if not a.is_active else "停用")
        self.btn_active.setEnabled(a.id != self.actor.user_id)
        self.btn_unlock.setEnabled(a.locked_until is not None)
        self.btn_delete.setEnabled(not a.is_admin)
        self.btn_reset.setEnabled(True)

    def new_account(self) -> None:
        self.current_id = None
        self.table.clearSelection()
        self.form.clear_errors()
        self.heading.setText("<b>新建账号</b>")
        for w in (self.username, self.display_name, self.password, self.confirm):
            w.clear()
        self.department.setCurrentIndex(0)
        self.staff.setCurrentIndex(0)
        self.scope.setCurrentIndex(self.scope.findData(DataScope.OWN.value))
        self.scope.setEnabled(True)
        for code, cb in {**self.page_boxes, **self.right_boxes}.items():
            cb.setChecked(code in (page_code(Page.DASHBOARD), page_code(Page.CUSTOMERS)))
            cb.setEnabled(True)
        self._password_rows(True)
        for b in (self.btn_reset, self.btn_active, self.btn_unlock, self.btn_delete):
            b.setEnabled(False)
        self.username.setFocus()

    def _password_rows(self, visible: bool) -> None:
        for w in (self.password, self.confirm):
            self.form.setRowVisible(w.parentWidget(), visible)

    def _grants(self) -> frozenset[str]:
        return frozenset(code for code, cb in {**self.page_boxes, **self.right_boxes}.items() if cb.isChecked())

    # --- actions -------------------------------------------------------------------------------

    def save(self) -> None:
        fields = ops.AccountFields(
            username=self.username.text(), display_name=self.display_name.text(),
            department_id=self.department.currentData(), staff_id=self.staff.currentData(),
            data_scope=self.scope.currentData(), grants=self._grants(),
        )
        if self.current_id is None:
            op = ops.create_account(self, self.clinic, self.actor, fields, self.password.text(), self.confirm.text())
            message = f"已新建账号 {fields.username}"
        else:
            op = ops.update_account(self, self.clinic, self.actor, self.current_id, fields)
            message = f"已保存 {fields.username}"
        op.success(lambda user_id: self._done(message, user_id)).failure(self._refused).busy(self.editor).run()

    def _done(self, message: str, select_id: int | None) -> None:
        self.status.setText(message)
        self.reload(select_id=select_id)

    def _refused(self, error: Exception) -> None:
        if isinstance(error, ValidationError):
            rest = self.form.show_errors(error.errors)
            self.status.setText("；".join(rest) if rest else "请按红色提示修改")
        else:
            self._said(error)

    def _said(self, error: Exception) -> None:
        """A refusal of a whole action (停用, 解除锁定, delete): said under the buttons."""
        self.status.setText(error_text(error))

    def reset_password(self) -> None:
        if self.current_id is None:
            return
        user_id = self.current_id
        dialog = PasswordDialog(
            f"重置 {self.username.text()} 的密码",
            lambda pw, confirm: ops.reset_password(dialog, self.clinic, self.actor, user_id, pw, confirm),
            self,
        )
        if messages.run(dialog):
            self.status.setText("密码已重置，账号锁定已解除")
            self.reload(select_id=user_id)

    def toggle_active(self) -> None:
        a = self._account(self.current_id) if self.current_id is not None else None
        if a is None:
            return
        ops.set_active(self, self.clinic, self.actor, a.id, not a.is_active).success(
            lambda _none: self._done(f"已{'启用' if not a.is_active else '停用'} {a.username}", a.id)).failure(
            self._said).busy(self.editor).run()

    def unlock(self) -> None:
        if self.current_id is not None:
            user_id = self.current_id
            ops.unlock(self, self.clinic, self.actor, user_id).success(
                lambda _none: self._done("已解除锁定", user_id)).failure(self._said).busy(self.editor).run()

    def delete(self) -> None:
        if self.current_id is None:
            return
        name = self.username.text()
        if not messages.ask(self, "删除账号", f"确定删除账号 {name} 吗？\n有业务记录的账号不能删除，只能停用。"):
            return

        def deleted(_none: None) -> None:
            self.new_account()
            self._done(f"已删除账号 {name}", None)

        ops.delete_account(self, self.clinic, self.actor, self.current_id).success(deleted).failure(
            self._said).busy(self.editor).run()

    def _restored(self, safety: str) -> None:
        """After a restore the program closes: every window must start again from the restored data."""
        messages.info(self, f"数据已恢复。恢复前的数据已备份为 {safety}。\n程序将关闭，请重新打开。", "恢复完成")
        self.close()

    def _tab_shown(self, index: int) -> None:
        if index == 1:  # 操作日志
            self.load_audit()

    def load_audit(self) -> None:
        self.audit_viewer.reload()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt override)
        geometry.save(self, self.actor.username)
        super().closeEvent(event)
        self.closed.emit(self._logging_out)
