"""SMS widgets: send to one customer from the grid and see it sent in the log, 群发 with its counts,
the templates tab and the channel tab's 测试连接 against the simulators."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot
from sqlalchemy import select, update

from devices.simulators.sms_platform import SmsPlatformServer
from meike import sms_jobs
from meike.db import Clinic
from meike.models import Customer
from meike.permissions import Actor, Page
from meike.services import accounts, sms
from meike.services.customers import CustomerQuery
from tests.conftest import make_user
from tests.ui.waiting import settle
from ui.dialogs.sms_send import BatchSmsDialog, SendSmsDialog
from ui.front_desk.customers import CustomersPage
from ui.phone.page import PhonePage
from ui.settings import SmsChannelSettings, SmsTemplateDialog, SmsTemplatesTab
from ui.widgets import messages

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the modem simulator needs a pseudo-terminal")
if sys.platform != "win32":
    from devices.simulators.gsm_modem import GsmModemSimulator


@pytest.fixture
def sim() -> Iterator[GsmModemSimulator]:
    s = GsmModemSimulator()
    yield s
    s.close()


@pytest.fixture
def desk(demo_clinic: Clinic) -> Actor:
    """A front-desk account with the phone and customer pages, all customers, numbers masked."""
    admin = accounts.authenticate(demo_clinic, "admin", "admin")
    return make_user(demo_clinic, admin, "smsdesk", pages=[Page.PHONE, Page.CUSTOMERS, Page.SETTINGS])


@pytest.fixture
def jobs(demo_clinic: Clinic, gl: Actor, sim: GsmModemSimulator) -> Iterator[sms_jobs.SmsJobs]:
    sms.save_channel_settings(demo_clinic, gl, {"channel": "gsm", "gsm_port": sim.port})
    running = sms_jobs.SmsJobs(demo_clinic, interval=60)
    running.start()
    yield running
    running.shutdown(wait=True)


def test_send_to_one_customer_from_the_grid_and_see_it_sent_in_the_log(
        qtbot: QtBot, demo_clinic: Clinic, desk: Actor, sim: GsmModemSimulator, jobs: sms_jobs.SmsJobs) -> None:
    customers_page = CustomersPage(demo_clinic, desk)
    qtbot.addWidget(customers_page)
    qtbot.waitUntil(lambda: customers_page.model.rowCount() > 0)  # the grid's first page, read off the GUI thread
    phone = PhonePage(demo_clinic, desk)
    qtbot.addWidget(phone)
    assert [phone.tabs.tabText(i) for i in range(phone.tabs.count())] == ["通话记录", "短信"]
    panel = phone.sms
    row = customers_page.model.rows[0]
    with demo_clinic.write() as s:
        s.execute(update(Customer).where(Customer.id == row.id).values(sms_opt_in=True))
        mobile = s.scalar(select(Customer.mobile).where(Customer.id == row.id))
    menu = customers_page.build_menu(0)
    action = next(a for a in menu.actions() if a.objectName() == "customer_send_sms")
    action.trigger()
    dialog = customers_page.dialog
    assert isinstance(dialog, SendSmsDialog)
    settle()  # the customer and the templates read
    assert "****" in dialog.customer_label.text()  # the mobile stays masked in the dialog
    dialog.template.setCurrentIndex(dialog.template.findText("通知：到店通知"))
    settle()
    assert dialog.text.toPlainText().startswith(f"{row.name}您好")
    dialog.text.setPlainText("")
    dialog.ok.click()  # empty text: refused, the dialog stays open with the error beside the field
    settle()
    assert dialog.isVisible() and dialog.form.error_text("text") == "请填写短信内容"
    dialog.text.setPlainText(f"{row.name}您好，您的检查报告已出，请来院领取。")
    assert dialog.length.text().endswith("1 条短信")
    dialog.ok.click()
    settle()
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: bool(panel.model.rows) and panel.model.rows[0].status == "sent", timeout=10000)
    assert sim.messages() == [(mobile, f"{row.name}您好，您的检查报告已出，请来院领取。")]
    index = panel.model.index(0, 1)
    assert panel.model.data(index) == mobile[:3] + "****" + mobile[-4:]
    assert panel.model.data(panel.model.index(0, 5)) == "已发送"
    qtbot.waitUntil(lambda: "已发送 1" in panel.counts.text() and "今日已发 1/300" in panel.counts.text())


def test_cancel_a_queued_message_from_the_log(qtbot: QtBot, demo_clinic: Clinic, gl: Actor) -> None:
    panel = PhonePage(demo_clinic, gl).sms
    qtbot.addWidget(panel)
    panel.send_button.click()
    dialog = panel.dialog
    assert isinstance(dialog, SendSmsDialog) and dialog.number is not None
    settle()
    dialog.number.setText("0571-8888 1234")
    dialog.text.setPlainText("您好")
    dialog.ok.click()
    settle()
    assert dialog.isVisible() and "手机号" in dialog.form.error_text("number")
    assert dialog.text.toPlainText() == "您好"  # nothing typed is lost
    dialog.number.setText("139 0000 1111")
    dialog.ok.click()
    settle()
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: len(panel.model.rows) == 1)
    panel.select_row(0)
    assert panel.cancel_button.isEnabled()
    actions = [a.objectName() for a in panel.build_menu(0).actions()]
    assert actions == ["sms_act_cancel"]
    panel.cancel_button.click()
    qtbot.waitUntil(lambda: bool(panel.model.rows) and panel.model.rows[0].status == "cancelled")
    settle()
    assert [a.objectName() for a in panel.build_menu(0).actions()] == ["sms_act_retry"]


def test_batch_dialog_shows_the_preview_and_opt_out_counts(qtbot: QtBot, demo_clinic: Clinic, gl: Actor,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    sms.ensure_default_templates(demo_clinic)
    with demo_clinic.write() as s:
        ids = list(s.scalars(select(Customer.id).order_by(Customer.id)))
        s.execute(update(Customer).values(sms_opt_in=True))
        s.execute(update(Customer).where(Customer.id.in_(ids[:3])).values(sms_opt_in=False))
        s.execute(update(Customer).where(Customer.id == ids[3]).values(mobile="02188889999"))
    dialog = BatchSmsDialog(demo_clinic, gl, CustomerQuery(tab="all"))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: "符合条件" in dialog.preview_label.text())
    settle()  # the templates read too
    total = len(ids)
    assert dialog.preview_label.text() == (f"符合条件 {total:,} 人：拒收短信 3 人，非手机号 1 人，"
                                           f"将发送 <b>{total - 4:,}</b> 条")
    dialog.ok.click()  # no template yet
    assert dialog.form.error_text("template") == "请选择模板"
    dialog.template.setCurrentIndex(dialog.template.findText("营销群发：会员活动"))
    assert "{姓名}" in dialog.text.toPlainText()
    asked: list[str] = []
    monkeypatch.setattr(messages, "ask", lambda _p, _t, text: asked.append(text) or True)
    with qtbot.waitSignal(dialog.accepted, timeout=10000):
        dialog.ok.click()
    assert asked == [f"确定向 {total - 4:,} 位顾客发送这条短信吗？"]
    assert dialog.queued is not None
    assert (dialog.queued.queued, dialog.queued.opted_out, dialog.queued.not_mobile) == (total - 4, 3, 1)
    # A narrower query counts again (in the background).
    dialog2 = BatchSmsDialog(demo_clinic, gl)
    qtbot.addWidget(dialog2)
    qtbot.waitUntil(lambda: "符合条件" in dialog2.preview_label.text())
    dialog2.search.setText("zzzzzz")
    qtbot.waitUntil(lambda: dialog2.preview_label.text().startswith("符合条件 0 人"))
    assert not dialog2.ok.isEnabled()


def test_templates_tab_edits_with_errors_beside_the_fields(qtbot: QtBot, demo_clinic: Clinic, gl: Actor) -> None:
    tab = SmsTemplatesTab(demo_clinic, gl)
    qtbot.addWidget(tab)
    settle()
    dialog = tab.add()
    assert isinstance(dialog, SmsTemplateDialog)
    dialog.name.setText("复查提醒")
    dialog.body.setPlainText("{客户}您好，请于")
    dialog.ok.click()
    settle()
    assert dialog.isVisible() and "未知字段 {客户}" in dialog.form.error_text("body")
    assert dialog.name.text() == "复查提醒"
    dialog.body.clear()
    dialog.findChild(type(dialog.ok), "sms_template_insert_0").click()
    dialog.body.insertPlainText("您好，请于{日期}来院复查。")
    dialog.aliyun_code.setText("SMS_778899")
    dialog.ok.click()
    settle()
    assert not dialog.isVisible()
    row = next(i for i, t in enumerate(tab.templates) if t.name == "复查提醒")
    assert tab.templates[row].body == "{姓名}您好，请于{日期}来院复查。"
    assert tab.model.item(row, 3).text() == "SMS_778899"
    tab.toggle(row)
    settle()
    assert tab.model.item(row, 5).text() == "已停用"


def test_channel_tab_test_button_shows_the_modem_status(qtbot: QtBot, demo_clinic: Clinic, desk: Actor,
                                                        sim: GsmModemSimulator) -> None:
    tab = SmsChannelSettings(demo_clinic, desk)
    qtbot.addWidget(tab)
    tab.show()
    settle()  # the saved channel read
    tab.channel.setCurrentIndex(tab.channel.findData("gsm"))
    assert tab.edits["gsm_port"].isVisible() and not tab.edits["aliyun_key_id"].isVisible()
    tab.daily_limit.setText("abc")
    tab.save_button.click()
    settle()
    assert tab.form.error_text("gsm_port").startswith("请填写短信猫的端口")
    assert tab.form.error_text("daily_limit") == "每日发送上限必须是整数"
    tab.daily_limit.setText("200")
    tab.edits["gsm_port"].setText(sim.port)
    tab.test_button.click()
    qtbot.waitUntil(lambda: tab.status.text().startswith("短信猫就绪"), timeout=10000)
    assert "SIM 卡正常" in tab.status.text() and "中国移动" in tab.status.text()
    assert sms.read_channel(demo_clinic).daily_limit == 200
    sim.remove_sim()
    tab.test_button.click()
    qtbot.waitUntil(lambda: "SIM" in tab.status.text() and not tab.status.text().startswith("正在"), timeout=10000)
    assert not tab.status.text().startswith("短信猫就绪")


def test_channel_tab_keeps_platform_secrets_hidden(qtbot: QtBot, demo_clinic: Clinic, desk: Actor) -> None:
    with SmsPlatformServer(aliyun=("LTAI-demo", "demo-secret-123456")) as server:
        tab = SmsChannelSettings(demo_clinic, desk)
        qtbot.addWidget(tab)
        settle()
        tab.channel.setCurrentIndex(tab.channel.findData("aliyun"))
        tab.edits["aliyun_key_id"].setText("LTAI-demo")
        tab.edits["aliyun_secret"].setText("demo-secret-123456")
        tab.edits["aliyun_sign"].setText("美客")
        tab.edits["aliyun_endpoint"].setText(server.url)
        tab.test_button.click()
        qtbot.waitUntil(lambda: "AccessKey 有效" in tab.status.text(), timeout=10000)
        secret = tab.edits["aliyun_secret"]
        assert secret.text() == "" and "已保存" in secret.placeholderText() and "3456" in secret.placeholderText()
        assert "demo-secret" not in secret.placeholderText()
        again = SmsChannelSettings(demo_clinic, desk)  # opened again: still not shown
        qtbot.addWidget(again)
        settle()
        assert again.edits["aliyun_secret"].text() == ""
        assert not any("demo-secret" in w.text() for w in again.findChildren(QLabel))


def test_templates_through_the_list_menu_add_edit_disable_delete(qtbot: QtBot, demo_clinic: Clinic, gl: Actor,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The shared list-with-menu tab (``ui/widgets/list_tab.py``) as the SMS templates use it."""
    monkeypatch.setattr(messages, "ask", lambda *a: True)
    tab = SmsTemplatesTab(demo_clinic, gl)
    qtbot.addWidget(tab)
    settle()
    assert [a.objectName() for a in tab.build_menu(-1).actions()] == ["sms_template_add"]
    tab.build_menu(-1)
    tab.act_add.trigger()
    dialog = tab.dialog
    assert isinstance(dialog, SmsTemplateDialog)
    dialog.name.setText("菜单模板")
    dialog.body.setPlainText("{姓名}您好")
    dialog.ok.click()
    settle()
    assert not dialog.isVisible() and tab.status.text() == "已保存“菜单模板”"
    row = next(i for i, t in enumerate(tab.templates) if t.name == "菜单模板")
    assert tab.current_row() == row  # the saved row is selected
    assert [a.objectName() for a in tab.build_menu(row).actions() if not a.isSeparator()] == [
        "sms_template_add", "sms_template_edit", "sms_template_toggle", "sms_template_delete"]
    tab.act_edit.trigger()
    dialog = tab.dialog
    assert isinstance(dialog, SmsTemplateDialog) and dialog.name.text() == "菜单模板"
    dialog.name.setText("菜单模板二")
    dialog.ok.click()
    settle()
    row = next(i for i, t in enumerate(tab.templates) if t.name == "菜单模板二")
    assert tab.model.item(row, 1).text() == "菜单模板二"
    tab.build_menu(row)
    assert tab.act_toggle.text() == "停用"
    tab.act_toggle.trigger()
    settle()
    assert tab.model.item(row, 5).text() == "已停用" and tab.status.text() == "已停用“菜单模板二”"
    tab.build_menu(row)
    assert tab.act_toggle.text() == "启用"
    tab.act_delete.trigger()
    settle()
    assert "菜单模板二" not in [t.name for t in tab.templates]
    assert tab.status.text() == "已删除“菜单模板二”"
    assert "菜单模板二" not in [t.name for t in sms.list_templates(demo_clinic, gl, include_inactive=True)]
