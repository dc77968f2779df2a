"""顾客详情 (double-click a customer row): profile, visits, consultations, treatments, reminders, charges.

The file and its lists are read off the GUI thread after the dialog opens; the lists are read again
whenever ``bus().changed`` says something they show changed — saved here, in one of the small forms, or
anywhere else in the program.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from meike.changes import Changes
from meike.db import Clinic
from meike.errors import ValidationError
from meike.money import yuan
from meike.permissions import Actor
from meike.services.customers import AppointmentRow, CustomerDetail
from meike.services.triage import VisitRow
from ui import geometry
from ui.front_desk.appointment import CancelAppointmentDialog, ChangeAppointmentDialog
from ui.front_desk.customer_form import CustomerForm
from ui.front_desk.records import ConsultationDialog, RejectVisitDialog, ReminderDialog, TreatmentDialog
from ui.operations import bus
from ui.operations import front_desk as ops
from ui.tasks import error_text
from ui.widgets.form import ERROR_STYLE
from ui.widgets.tables import read_only

ROW_ID = Qt.ItemDataRole.UserRole
OK_STYLE = "color: #1e7e34;"
REMINDER_STATUS = {"open": "待回访", "done": "已完成", "cancelled": "已取消"}
VISIT_COLUMNS = ["到诊时间", "类型", "现场咨询", "状态", "成交"]
CONSULTATION_COLUMNS = ["时间", "现场咨询", "意向项目", "咨询内容"]
TREATMENT_COLUMNS = ["日期", "项目", "数量", "单价", "医生", "收费状态", "备注"]
REMINDER_COLUMNS = ["类型", "到期日期", "负责人", "状态", "备注", "回访结果"]
CHARGE_COLUMNS = ["开单时间", "金额", "状态", "收据号", "付款时间"]


def _table(name: str, columns: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns), objectName=name)
    table.setHorizontalHeaderLabels(columns)
    read_only(table, fit_contents=True)
    table.setWordWrap(False)
    table.horizontalHeader().setMinimumSectionSize(80)
    return table


def _fill(table: QTableWidget, rows: Sequence[tuple[int, list[str]]]) -> None:
    table.setRowCount(len(rows))
    for i, (row_id, cells) in enumerate(rows):
        for j, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setToolTip(text if len(text) > 20 else "")
            if j == 0:
                item.setData(ROW_ID, row_id)
            table.setItem(i, j, item)


def _label(name: str, style: str = ERROR_STYLE) -> QLabel:
    label = QLabel(objectName=name, wordWrap=True)
    label.setStyleSheet(style)
    return label


# what each list shows, for bus().changed
LIST_WATCHES = ("customers", "visits", "records", "reminders", "money")


class CustomerDetailDialog(QDialog):
    """One customer's file, read after the dialog opens. A customer outside the actor's scope is not
    shown: the header says why (``load_error`` keeps the error) and nothing can be edited."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.clinic, self.actor, self.customer_id = clinic, actor, customer_id
        self.detail: CustomerDetail | None = None
        self._lists_asked = 0  # reads of the lists started: only the newest one's answer is shown
        self.load_error: Exception | None = None
        self.visits: list[VisitRow] = []
        self.consultation_dialog: ConsultationDialog | None = None
        self.treatment_dialog: TreatmentDialog | None = None
        self.reminder_dialog: ReminderDialog | None = None
        self.reject_dialog: RejectVisitDialog | None = None
        self.visit_menu: QMenu | None = None
        self.setObjectName("customer_detail")
        geometry.fit_to_screen(self, default=(980, 660))

        self.header = QLabel(objectName="detail_header", textFormat=Qt.TextFormat.RichText)
        self.header.setStyleSheet("font-size: 14px; padding: 4px 2px;")
        self.tabs = QTabWidget(objectName="detail_tabs")
        self.tabs.addTab(self._basic_tab(), "基本信息")
        self.visits_table = _table("visits_table", VISIT_COLUMNS)
        self.visits_message = _label("visits_message")
        self.tabs.addTab(self._list_tab("detail_visits", self.visits_table, self.visits_message,
                                        hint="右击一行可作废或恢复到诊"), "到诊记录")
        self.consultations_table = _table("consultations_table", CONSULTATION_COLUMNS)
        self.consultations_message = _label("consultations_message")
        self.consultation_add = QPushButton("添加", objectName="consultation_add")
        self.consultation_add.clicked.connect(self.add_consultation)
        self.tabs.addTab(self._list_tab("detail_consultations", self.consultations_table, self.consultations_message,
                                        self.consultation_add), "咨询记录")
        self.treatments_table = _table("treatments_table", TREATMENT_COLUMNS)
        self.treatments_message = _label("treatments_message")
        self.treatment_add = QPushButton("添加", objectName="treatment_add")
        self.treatment_add.clicked.connect(self.add_treatment)
        self.tabs.addTab(self._list_tab("detail_treatments", self.treatments_table, self.treatments_message,
                                        self.treatment_add, hint="添加后收费中心会出现一笔未付款记录"), "手术记录")
        self.reminders_table = _table("reminders_table", REMINDER_COLUMNS)
        self.reminders_message = _label("reminders_message")
        self.reminder_add = QPushButton("添加提醒", objectName="reminder_add")
        self.reminder_add.clicked.connect(self.add_reminder)
        self.tabs.addTab(self._list_tab("detail_reminders", self.reminders_table, self.reminders_message,
                                        self.reminder_add), "提醒")
        self.appointments_table = _table("appointments_table", ["预约时间", "意向项目", "状态", "备注"])
        self.appointments_message = _label("appointments_message")
        self.appointments: list[AppointmentRow] = []
        self.appointment_change = QPushButton("改约…", objectName="appointment_change_button")
        self.appointment_cancel = QPushButton("取消预约…", objectName="appointment_cancel_button")
        self.appointment_change.clicked.connect(self.change_appointment)
        self.appointment_cancel.clicked.connect(self.cancel_appointment)
        buttons = QWidget()
        row = QHBoxLayout(buttons)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.appointment_change)
        row.addWidget(self.appointment_cancel)
        self.appointment_dialog: QDialog | None = None
        self.tabs.addTab(self._list_tab("detail_appointments", self.appointments_table, self.appointments_message,
                                        buttons, hint="选中一条“已预约”后改约或取消"), "预约")
        self.charges_table = _table("charges_table", CHARGE_COLUMNS)
        self.charges_message = _label("charges_message")
        self.tabs.addTab(self._list_tab("detail_charges", self.charges_table, self.charges_message), "收费记录")

        self.visits_table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.visits_table.customContextMenuRequested.connect(self._visit_context_menu)
        self.reject_action = QAction("作废到诊…", self, objectName="visit_reject")
        self.reject_action.triggered.connect(self.reject_visit)
        self.restore_action = QAction("恢复到诊", self, objectName="visit_restore")
        self.restore_action.triggered.connect(self.restore_visit)

        close = QPushButton("关闭", objectName="detail_close")
        close.clicked.connect(self.close)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)
        self.header.setText("正在读取顾客档案…")
        self.setWindowTitle("顾客详情")
        self.tabs.setEnabled(False)
        ops.customer(self, clinic, actor, customer_id).success(self._loaded).failure(self._not_loaded).run()
        bus().changed.connect(self._bus_changed)

    def _loaded(self, detail: CustomerDetail) -> None:
        self.detail = detail
        self.tabs.setEnabled(True)
        self._show_detail()
        self.reload()

    def _not_loaded(self, error: Exception) -> None:
        self.load_error = error
        self.header.setText(f"<span style='color:#c0392b'>无法打开顾客详情：{error_text(error)}</span>")

    def _bus_changed(self, what: Changes) -> None:
        if self.detail is not None and what.touches(*LIST_WATCHES):
            self.reload()

    # -- layout ------------------------------------------------------------------------------------

    def _basic_tab(self) -> QWidget:
        tab = QWidget(objectName="detail_basic")
        self.form = CustomerForm(self.clinic, self.actor, prefix="detail")
        self.save_button = QPushButton("保存", objectName="detail_save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        self.basic_message = _label("detail_message")
        row = QHBoxLayout()
        row.addWidget(self.basic_message, 1)
        row.addWidget(self.save_button)
        layout = QVBoxLayout(tab)
        layout.addWidget(self.form)
        layout.addStretch(1)
        layout.addLayout(row)
        return tab

    def _list_tab(self, name: str, table: QTableWidget, message: QLabel, button: QWidget | None = None,
                  hint: str = "") -> QWidget:
        tab = QWidget(objectName=name)
        top = QHBoxLayout()
        if button is not None:
            top.addWidget(button)
        if hint:
            note = QLabel(hint)
            note.setStyleSheet("color: #7a8794;")
            top.addWidget(note)
        top.addStretch(1)
        layout = QVBoxLayout(tab)
        layout.addLayout(top)
        layout.addWidget(table, 1)
        layout.addWidget(message)
        return tab

    def _show_detail(self) -> None:
        d = self.detail
        assert d is not None
        self.setWindowTitle(f"顾客详情 — {d.name}（卡号 {d.card_no}）")
        self.header.setText(
            f"<b style='font-size:16px'>{d.name}</b>　卡号 {d.card_no}　手机 {d.mobile}　"
            f"<span style='color:#24445c'>{d.customer_class}</span>　现场咨询 {d.consultant or '—'}")
        self.form.load(d)

    @property
    def customer_label(self) -> str:
        return f"{self.detail.name}（卡号 {self.detail.card_no}）" if self.detail is not None else ""

    # -- lists -------------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read every list again, off the GUI thread (an older read answering late is dropped)."""
        self._lists_asked += 1
        asked = self._lists_asked

        def arrived(answer: ops.DetailLists) -> None:
            if asked == self._lists_asked:
                self._show_lists(answer)

        def failed(error: Exception) -> None:
            if asked == self._lists_asked:
                self._lists_failed(error)

        ops.detail_lists(self, self.clinic, self.actor, self.customer_id).success(arrived).failure(failed).run()

    def _lists_failed(self, error: Exception) -> None:
        self.visits_message.setText(error_text(error))

    def _show_lists(self, answer: ops.DetailLists) -> None:
        lists = answer.lists
        self.visits = lists["visits"]
        self.appointments = lists["appointments"]
        shown: list[tuple[QTableWidget, QLabel, QPushButton | None, str, list[tuple[int, list[str]]]]] = [
            (self.appointments_table, self.appointments_message, None, "appointments", [
                (a.id, [f"{a.appointment_at:%Y-%m-%d %H:%M}", a.items, a.status_label, a.notes])
                for a in self.appointments]),
            (self.visits_table, self.visits_message, None, "visits", [
                (v.id, [f"{v.arrived_at:%Y-%m-%d %H:%M}", v.visit_type_label, v.consultant,
                        "有效" if v.status == "active" else f"已作废：{v.reject_reason}",
                        "成交" if v.is_deal else "未成交"]) for v in self.visits]),
            (self.consultations_table, self.consultations_message, self.consultation_add, "consultations", [
                (c.id, [f"{c.created_at:%Y-%m-%d %H:%M}", c.consultant, c.items, c.content.replace("\n", " ")])
                for c in lists["consultations"]]),
            (self.treatments_table, self.treatments_message, self.treatment_add, "treatments", [
                (t.id, [f"{t.performed_on:%Y-%m-%d}", t.item_name, str(t.quantity), yuan(t.price_fen), t.doctor,
                        t.charge_status, t.notes]) for t in lists["treatments"]]),
            (self.reminders_table, self.reminders_message, self.reminder_add, "reminders", [
                (r.id, [r.kind_label, f"{r.due_date:%Y-%m-%d}", r.assignee, REMINDER_STATUS.get(r.status, r.status),
                        r.note, r.result]) for r in lists["reminders"]]),
            (self.charges_table, self.charges_message, None, "charges", [
                (c.id, [f"{c.created_at:%Y-%m-%d %H:%M}", yuan(c.total_fen), c.status, c.receipt_no,
                        f"{c.settled_at:%Y-%m-%d %H:%M}" if c.settled_at else ""]) for c in lists["charges"]]),
        ]
        for table, message, button, name, rows in shown:
            message.setText(answer.refused.get(name, ""))
            if button is not None and name in answer.refused:
                button.setEnabled(False)
            _fill(table, rows)

    def reload_appointments(self) -> None:
        self.reload()

    def _booked_appointment(self) -> AppointmentRow | None:
        row = self.appointments_table.currentRow()
        chosen = self.appointments[row] if 0 <= row < len(self.appointments) else None
        if chosen is None or chosen.status != "booked":
            self.appointments_message.setText("请先选择一条“已预约”的记录")
            return None
        return chosen

    def change_appointment(self) -> QDialog | None:
        chosen = self._booked_appointment()
        if chosen is None:
            return None
        self.appointment_dialog = ChangeAppointmentDialog(self.clinic, self.actor, chosen, self)
        self._open(self.appointment_dialog)
        return self.appointment_dialog

    def cancel_appointment(self) -> QDialog | None:
        chosen = self._booked_appointment()
        if chosen is None:
            return None
        self.appointment_dialog = CancelAppointmentDialog(self.clinic, self.actor, chosen, self)
        self._open(self.appointment_dialog)
        return self.appointment_dialog

    # -- 基本信息 ----------------------------------------------------------------------------------

    def save(self) -> None:
        """Save the profile off the GUI thread; errors go beside their fields and nothing typed is lost."""
        self.form.clear_errors()
        self.basic_message.setStyleSheet(ERROR_STYLE)
        self.basic_message.clear()
        if self.detail is None:
            return
        try:
            values = self.form.values()
        except ValidationError as e:
            self._not_saved(e)
            return
        ops.save_profile(self, self.clinic, self.actor, self.customer_id, values, self.detail.version).success(
            self._saved).failure(self._not_saved).run()  # the dialog is busy: Esc cannot close it mid-save

    def _saved(self, detail: CustomerDetail) -> None:
        self.detail = detail
        self._show_detail()
        self.basic_message.setStyleSheet(OK_STYLE)
        self.basic_message.setText("已保存")

    def _not_saved(self, error: Exception) -> None:
        if isinstance(error, ValidationError):
            self.basic_message.setText("；".join(self.form.show_errors(error.errors)) or "请按红字提示修改后再保存")
        else:
            self.basic_message.setText(error_text(error))

    # -- sub-dialogs -------------------------------------------------------------------------------

    def _open(self, dialog: QDialog) -> None:
        dialog.open()  # what it saves comes back through bus().changed: the lists read again

    def add_consultation(self) -> ConsultationDialog:
        self.consultation_dialog = ConsultationDialog(self.clinic, self.actor, self.customer_id, self.customer_label,
                                                      self, self.detail.consultant if self.detail else "")
        self._open(self.consultation_dialog)
        return self.consultation_dialog

    def add_treatment(self) -> TreatmentDialog:
        self.treatment_dialog = TreatmentDialog(self.clinic, self.actor, self.customer_id, self.customer_label, self)
        self._open(self.treatment_dialog)
        return self.treatment_dialog

    def add_reminder(self) -> ReminderDialog:
        self.reminder_dialog = ReminderDialog(self.clinic, self.actor, self.customer_id, self.customer_label,
                                              parent=self)
        self._open(self.reminder_dialog)
        return self.reminder_dialog

    # -- 到诊记录 menu -----------------------------------------------------------------------------

    def current_visit(self) -> VisitRow | None:
        row = self.visits_table.currentRow()
        selected = self.visits_table.selectionModel().hasSelection()
        return self.visits[row] if selected and 0 <= row < len(self.visits) else None

    def build_visit_menu(self, row: int) -> QMenu:
        """The right-click menu of visit ``row`` (selects it); tests trigger its actions directly."""
        if 0 <= row < len(self.visits):
            self.visits_table.selectRow(row)
        else:
            self.visits_table.clearSelection()
        visit = self.current_visit()
        self.reject_action.setEnabled(visit is not None and visit.status == "active")
        self.restore_action.setEnabled(visit is not None and visit.status != "active")
        menu = QMenu(self)
        menu.setObjectName("visit_menu")
        menu.addAction(self.reject_action)
        menu.addAction(self.restore_action)
        self.visit_menu = menu
        return menu

    def _visit_context_menu(self, pos: QPoint) -> None:
        index = self.visits_table.indexAt(pos)
        self.build_visit_menu(index.row() if index.isValid() else -1).popup(
            self.visits_table.viewport().mapToGlobal(pos))

    def reject_visit(self) -> RejectVisitDialog | None:
        visit = self.current_visit()
        if visit is None:
            return None
        label = f"{visit.arrived_at:%Y-%m-%d %H:%M}　{visit.visit_type_label}　{visit.consultant}"
        self.reject_dialog = RejectVisitDialog(self.clinic, self.actor, visit.id, label, self)
        self._open(self.reject_dialog)
        return self.reject_dialog

    def restore_visit(self) -> None:
        visit = self.current_visit()
        if visit is None:
            return
        ops.restore_visit(self, self.clinic, self.actor, visit.id).failure(
            lambda e: self.visits_message.setText(error_text(e))).busy(self.visits_table).run()
