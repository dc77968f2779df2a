"""顾客详情: profile edit, visits (reject / restore), consultation with 追单, treatment with a supervisor."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QLineEdit

from meike import clock
from meike.db import Clinic
from meike.errors import NotFound
from meike.models import Customer
from meike.permissions import Actor
from meike.services import accounts, audit, cashier, customers, dictionaries, followups, triage
from meike.services.dictionaries import Kind
from tests.ui.waiting import settle
from ui.front_desk.detail import CustomerDetailDialog
from ui.operations import bus

pytestmark = pytest.mark.gui


def staff_id(clinic: Clinic, actor: Actor, name: str) -> int:
    return next(e.id for e in dictionaries.list_entries(clinic, actor, Kind.STAFF) if e.name == name)


def cells(table, column: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [table.item(r, column).text() for r in range(table.rowCount())]


def open_detail(qtbot, clinic: Clinic, actor: Actor, cid: int) -> CustomerDetailDialog:  # type: ignore[no-untyped-def]
    dialog = CustomerDetailDialog(clinic, actor, cid)
    qtbot.addWidget(dialog)
    dialog.show()
    settle()  # the file and its lists arrive
    return dialog


def test_edit_basic_info_errors_in_place_then_saved(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    cid = customers.register_customer(demo_clinic, gl, name="林小雨", mobile="13811112222")
    dialog = open_detail(qtbot, demo_clinic, gl, cid)
    card_no = customers.get_customer(demo_clinic, gl, cid).card_no
    assert dialog.objectName() == "customer_detail"
    assert dialog.windowTitle() == f"顾客详情 — 林小雨（卡号 {card_no}）"
    assert "138****2222" in dialog.header.text() and "潜在客户" in dialog.header.text()
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == [
        "基本信息", "到诊记录", "咨询记录", "手术记录", "提醒", "预约", "收费记录"]
    assert dialog.form.name.text() == "林小雨" and dialog.form.mobile.text() == "138****2222"
    assert dialog.form.reveal_buttons["mobile"].isVisibleTo(dialog)  # gl may see it: one click, logged
    qtbot.mouseClick(dialog.form.reveal_buttons["mobile"], Qt.MouseButton.LeftButton)
    settle()
    assert dialog.form.mobile.text() == "13811112222" and not dialog.form.reveal_buttons["mobile"].isEnabled()

    dialog.form.id_card.setText("110105194912310021")  # wrong check digit
    dialog.form.wechat.setText("lxy_2024")
    with qtbot.assertNotEmitted(bus().changed):  # nothing written
        qtbot.mouseClick(dialog.findChild(type(dialog.save_button), "detail_save"), Qt.MouseButton.LeftButton)
        settle()
    assert dialog.form.error_text("id_card") == "身份证号校验位不正确，请核对"
    assert dialog.form.id_card.text() == "110105194912310021" and dialog.form.wechat.text() == "lxy_2024"

    dialog.form.id_card.setText("11010519491231002X")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    settle()
    assert dialog.form.error_text("id_card") == "" and dialog.basic_message.text() == "已保存"
    saved = customers.get_customer(demo_clinic, gl, cid)
    assert (saved.id_card, saved.wechat, saved.birthday, saved.birthday_hidden) == (
        "**************002X", "lxy_2024", None, True)
    assert dialog.form.id_card.text() == "**************002X"  # shown masked again after the save
    # The birthday is inside the ID number: hidden beside its mask, the age shown instead …
    assert dialog.form.birthday.text() == "" and dialog.form.birthday.isReadOnly()
    assert dialog.form.birthday.placeholderText() == "已隐藏（含在身份证号中）"
    assert dialog.form.age.text() == str(saved.age) and saved.age is not None and saved.age >= 76
    # … and shown with the ID card when gl reveals it (one logged reveal).
    qtbot.mouseClick(dialog.form.reveal_buttons["id_card"], Qt.MouseButton.LeftButton)
    settle()
    assert dialog.form.id_card.text() == "11010519491231002X" and dialog.form.birthday.text() == "1949-12-31"
    assert not dialog.form.birthday.isReadOnly()
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    [entry] = [a for a in audit.recent(demo_clinic, admin, entity="customer")
               if a.action == "customer.update" and a.entity_id == cid]
    assert entry.username == "gl" and entry.after["wechat"] == "***" and entry.after["id_card"] == "***"  # masked


def test_masked_values_left_alone_mean_unchanged(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    kf = accounts.authenticate(demo_clinic, "kf", "123")
    cid = customers.register_customer(demo_clinic, kf, name="许晴", mobile="13822223333",
                                      id_card="11010519491231002X")
    dialog = open_detail(qtbot, demo_clinic, kf, cid)
    assert dialog.form.mobile.text() == "138****3333" and "*" in dialog.form.id_card.text()
    dialog.form.occupation.setText("教师")
    dialog.save()
    settle()
    assert dialog.basic_message.text() == "已保存"
    assert not dialog.form.reveal_buttons["mobile"].isVisibleTo(dialog)  # kf has no right to see numbers
    saved = customers.get_customer(demo_clinic, gl, cid)
    assert saved.occupation == "教师"
    assert customers.reveal(demo_clinic, gl, cid, "mobile") == "13822223333"
    assert customers.reveal(demo_clinic, gl, cid, "id_card") == "11010519491231002X"


def test_nothing_shown_together_gives_the_id_card_back(qtbot, demo_clinic: Clinic) -> None:  # type: ignore[no-untyped-def]
    """Issue 14/1: the masked ID card (110105********002X) hid exactly the birth date the 生日 field
    showed beside it. Now the ID card shows its last 4 only and, with an ID card on file, the age
    stands for the birthday; saving other fields keeps the birthday the ID card gives."""
    kf = accounts.authenticate(demo_clinic, "kf", "123")
    cid = customers.register_customer(demo_clinic, kf, name="许晴", mobile="13822223333",
                                      id_card="11010519491231002X", address="北京市朝阳区")
    dialog = open_detail(qtbot, demo_clinic, kf, cid)
    shown = " ".join([dialog.windowTitle(), dialog.header.text()]
                     + [w.text() for w in dialog.findChildren(QLineEdit)]
                     + [w.text() for w in dialog.findChildren(QLabel)])
    assert dialog.form.id_card.text() == "**************002X"
    for part in ("110105", "1949", "12-31", "1231", "19491231"):
        assert part not in shown, part
    assert dialog.form.age.text() == str(customers.get_customer(demo_clinic, kf, cid).age)
    assert not dialog.form.reveal_buttons["id_card"].isVisibleTo(dialog)
    dialog.form.occupation.setText("护士")
    dialog.save()
    settle()
    assert dialog.basic_message.text() == "已保存"
    with demo_clinic.read() as s:
        c = s.get(Customer, cid)
        assert c is not None and (c.occupation, c.id_card, c.birthday) == ("护士", "11010519491231002X",
                                                                           date(1949, 12, 31))


def test_a_save_over_another_workstations_change_is_refused_and_keeps_the_form(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor) -> None:
    cid = customers.register_customer(demo_clinic, gl, name="周雅", mobile="13833334444")
    dialog = open_detail(qtbot, demo_clinic, gl, cid)
    # Meanwhile, at the front desk's PC:
    other = customers.get_customer(demo_clinic, gl, cid)
    values = {k: getattr(other, k) for k in ("name", "gender", "mobile", "occupation", "notes")}
    customers.update_customer(demo_clinic, gl, cid, dict(values, occupation="医生"), expected_version=other.version)
    dialog.form.occupation.setText("教师")
    dialog.save()
    settle()
    assert dialog.basic_message.text() != "已保存"
    assert "已被其他电脑修改" in dialog.basic_message.text() and dialog.form.occupation.text() == "教师"
    assert customers.get_customer(demo_clinic, gl, cid).occupation == "医生"  # nothing overwritten

def test_visit_reject_and_restore_from_the_menu(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    cid = customers.register_customer(demo_clinic, gl, name="钱多多", mobile="13500002222")
    triage.arrive(demo_clinic, gl, cid, consultant_id=staff_id(demo_clinic, gl, "王芳"), visit_type="first")
    dialog = open_detail(qtbot, demo_clinic, gl, cid)
    assert cells(dialog.visits_table, 1) == ["初诊"] and cells(dialog.visits_table, 3) == ["有效"]
    menu = dialog.build_visit_menu(0)
    actions = {a.objectName(): a for a in menu.actions()}
    assert actions["visit_reject"].isEnabled() and not actions["visit_restore"].isEnabled()
    actions["visit_reject"].trigger()
    settle()
    reject = dialog.reject_dialog
    assert reject is not None and reject.isVisible()
    reject.submit()  # no reason: refused beside the field
    settle()
    assert reject.form.error_text("reason") == "请填写作废原因" and reject.isVisible()
    reject.reason.setText("重复分诊")
    reject.submit()
    settle()
    assert cells(dialog.visits_table, 3) == ["已作废：重复分诊"]

    menu = dialog.build_visit_menu(0)
    actions = {a.objectName(): a for a in menu.actions()}
    assert not actions["visit_reject"].isEnabled() and actions["visit_restore"].isEnabled()
    actions["visit_restore"].trigger()
    settle()
    assert cells(dialog.visits_table, 3) == ["有效"]
    assert triage.list_visits(demo_clinic, gl, cid)[0].status == "active"


def test_consultation_with_a_chase_reminder(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    cid = customers.register_customer(demo_clinic, gl, name="赵雅", mobile="13655556666")
    dialog = open_detail(qtbot, demo_clinic, gl, cid)
    qtbot.mouseClick(dialog.consultation_add, Qt.MouseButton.LeftButton)
    settle()
    form = dialog.consultation_dialog
    assert form is not None and form.objectName() == "consultation_dialog" and form.isVisible()
    assert form.remind_date.date().toPython() == clock.now().date() + timedelta(days=3)
    assert form.assignee.currentData() == gl.user_id
    form.submit()  # no content
    settle()
    assert form.form.error_text("content") == "请填写咨询内容"
    form.consultant.setCurrentIndex(form.consultant.findText("王芳"))
    form.items.setText("双眼皮")
    form.content.setPlainText("想做双眼皮，担心恢复期")
    form.remind.setChecked(True)
    form.submit()
    settle()
    assert not form.isVisible()
    assert cells(dialog.consultations_table, 1) == ["王芳"]
    assert cells(dialog.consultations_table, 3) == ["想做双眼皮，担心恢复期"]
    due = (clock.now().date() + timedelta(days=3)).isoformat()
    assert [cells(dialog.reminders_table, c)[0] for c in range(5)] == ["追单", due, "总台", "待回访", "双眼皮"]

    qtbot.mouseClick(dialog.reminder_add, Qt.MouseButton.LeftButton)
    settle()
    extra = dialog.reminder_dialog
    assert extra is not None and extra.isVisible()
    extra.kind.setCurrentIndex(extra.kind.findData("postop"))
    extra.note.setText("复查")
    extra.submit()
    settle()
    assert sorted(cells(dialog.reminders_table, 0)) == ["术后回访", "追单"]


def test_treatment_below_minimum_needs_a_supervisor(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    cid = customers.register_customer(demo_clinic, gl, name="周周", mobile="13533334444")
    dialog = open_detail(qtbot, demo_clinic, gl, cid)
    qtbot.mouseClick(dialog.treatment_add, Qt.MouseButton.LeftButton)
    settle()
    form = dialog.treatment_dialog
    assert form is not None and form.objectName() == "treatment_dialog" and form.isVisible()
    assert form.followup.isChecked() and form.followup_days.text() == "2,7,15"
    assert not form.supervisor_visible()

    qtbot.keyClicks(form.item.lineEdit(), "syp")
    assert form.resolve_item().name == "双眼皮"  # type: ignore[union-attr]
    assert form.price.text() == "8800.00" and "最低价 ￥6,000.00" in form.price_hint.text()
    form.doctor.setCurrentIndex(form.doctor.findText("吴建国"))
    form.price.setText("5000")
    assert form.supervisor_visible()
    form.submit()
    settle()
    assert form.form.error_text("supervisor_password") == "低于最低价，请主管输入用户名和密码确认"
    form.supervisor_user.setText("gl")
    form.supervisor_password.setText("wrong")
    form.submit()
    settle()
    assert form.form.error_text("supervisor_password") == "主管用户名或密码错误"
    assert form.isVisible() and form.price.text() == "5000"
    form.supervisor_password.setText("123")
    form.submit()
    settle()
    assert not form.isVisible()

    assert [cells(dialog.treatments_table, c)[0] for c in range(6)] == [
        clock.now().date().isoformat(), "双眼皮", "1", "￥5,000.00", "吴建国", "未付款"]
    postop = [r for r in followups.list_for_customer(demo_clinic, gl, cid) if r.kind == "postop"]
    assert len(postop) == 3 and cells(dialog.reminders_table, 0) == ["术后回访"] * 3
    assert cells(dialog.charges_table, 1) == ["￥5,000.00"] and cells(dialog.charges_table, 2) == ["未付款"]
    unpaid = cashier.list_orders(demo_clinic, gl, status="new", text="13533334444")
    assert [o.total_fen for o in unpaid] == [500000]


def test_treatment_item_found_by_name_and_errors_in_place(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    cid = customers.register_customer(demo_clinic, gl, name="孙悦", mobile="13511112222")
    dialog = open_detail(qtbot, demo_clinic, gl, cid)
    form = dialog.add_treatment()
    settle()
    form.item.setEditText("没有这个")
    form.price.setText("abc")
    form.followup_days.setText("2, x")
    form.submit()
    settle()
    assert form.form.error_text("item_id").startswith("请从列表中选择项目")
    assert form.form.error_text("price_fen") == "金额格式不正确：不认识「a」，例如 1280 或 1,280.50"
    assert form.form.error_text("followup_days") == "回访天数格式如 2,7,15"
    form.item.setEditText("水光")
    form.resolve_item()
    assert form.price.text() == "1280.00"
    form.followup.setChecked(False)
    form.submit()  # no doctor
    settle()
    assert form.form.error_text("doctor_id") == "请选择医生"
    form.doctor.setCurrentIndex(form.doctor.findText("冯雪"))
    form.submit()
    settle()
    assert not form.isVisible()
    assert cells(dialog.treatments_table, 1) == ["水光针"] and dialog.reminders_table.rowCount() == 0


def test_detail_refuses_a_customer_out_of_scope(qtbot, demo_clinic: Clinic, gl: Actor) -> None:  # type: ignore[no-untyped-def]
    kf = accounts.authenticate(demo_clinic, "kf", "123")
    cid = customers.register_customer(demo_clinic, gl, name="外人", mobile="13900009999")
    dialog = CustomerDetailDialog(demo_clinic, kf, cid)
    qtbot.addWidget(dialog)
    settle()
    assert isinstance(dialog.load_error, NotFound)
    assert "无法打开顾客详情" in dialog.header.text() and not dialog.tabs.isEnabled()


def test_render_detail_tabs(qtbot, demo_clinic: Clinic, gl: Actor, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cid = customers.register_customer(demo_clinic, gl, name="林小雨", mobile="13811112222")
    triage.arrive(demo_clinic, gl, cid, consultant_id=staff_id(demo_clinic, gl, "王芳"))
    dialog = open_detail(qtbot, demo_clinic, gl, cid)
    form = dialog.add_treatment()
    settle()
    form.item.setEditText("syp")
    form.resolve_item()
    form.doctor.setCurrentIndex(form.doctor.findText("吴建国"))
    form.submit()
    settle()
    for index, name in ((0, "basic"), (3, "treatments"), (4, "reminders")):
        dialog.tabs.setCurrentIndex(index)
        assert not dialog.grab().isNull()
        assert dialog.grab().save(str(tmp_path / f"detail_{name}.png"))
    form = dialog.add_treatment()
    settle()
    qtbot.keyClicks(form.item.lineEdit(), "lb")
    form.resolve_item()
    form.price.setText("100")
    assert form.supervisor_visible()
    assert form.grab().save(str(tmp_path / "detail_treatment_dialog.png"))
    dialog.add_consultation().remind.setChecked(True)
    dialog.consultation_dialog.grab().save(str(tmp_path / "consultation.png"))  # type: ignore[union-attr]


def test_change_and_cancel_an_appointment_with_a_conflict_in_between(  # type: ignore[no-untyped-def]
        qtbot, demo_clinic: Clinic, gl: Actor) -> None:
    from datetime import datetime, timedelta

    from meike import clock
    from meike.services.customers import list_appointments

    at = (clock.now() + timedelta(days=2)).replace(hour=10, minute=0, second=0)
    cid = customers.register_customer(demo_clinic, gl, name="韩梅", mobile="13844445555", appointment_at=at,
                                      appointment_items="水光针")
    dialog = open_detail(qtbot, demo_clinic, gl, cid)
    assert cells(dialog.appointments_table, 2) == ["已预约"] and cells(dialog.appointments_table, 1) == ["水光针"]
    dialog.appointments_table.selectRow(0)
    change = dialog.change_appointment()
    settle()
    assert change is not None and change.isVisible()
    # Another PC moves the appointment first.
    other = list_appointments(demo_clinic, gl, cid)[0]
    customers.change_appointment(demo_clinic, gl, other.id, appointment_at=at + timedelta(hours=1), items="水光针",
                                 notes="顾客来电改时间", expected_version=other.version)
    change.items.setText("水光针+小气泡")
    qtbot.mouseClick(change.ok, Qt.MouseButton.LeftButton)
    settle()
    assert change.isVisible() and "已被其他电脑修改" in change.message.text()
    assert change.items.text() == "水光针+小气泡"  # nothing typed is lost
    change.reject()
    dialog.reload_appointments()
    settle()
    assert cells(dialog.appointments_table, 0) == [f"{at + timedelta(hours=1):%Y-%m-%d %H:%M}"]
    dialog.appointments_table.selectRow(0)
    cancel = dialog.cancel_appointment()
    settle()
    assert cancel is not None
    qtbot.mouseClick(cancel.ok, Qt.MouseButton.LeftButton)
    settle()
    assert cancel.form.error_text("reason") == "请填写取消原因"
    cancel.reason.setText("顾客临时出差")
    qtbot.mouseClick(cancel.ok, Qt.MouseButton.LeftButton)
    settle()
    assert not cancel.isVisible()
    assert cells(dialog.appointments_table, 2) == ["已取消"]
    assert "取消：顾客临时出差" in cells(dialog.appointments_table, 3)[0]
    dialog.appointments_table.selectRow(0)
    assert dialog.change_appointment() is None and dialog.appointments_message.text() == "请先选择一条“已预约”的记录"
    assert isinstance(at, datetime)
