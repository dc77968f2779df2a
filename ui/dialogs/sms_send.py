"""发短信… to one customer (or a typed mobile) and 群发… to the customers of a grid query.

What the forms show (the customer, the templates, the channels) is read as they open; sending, the
count of a batch and a template's text are Ops (``ui/operations/sms.py``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from PySide6.QtCore import QDate, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QWidget,
)

from devices.sms.pdu import count_parts
from meike import clock
from meike.db import Clinic
from meike.errors import ValidationError
from meike.permissions import Actor
from meike.rules.customer_class import CLASS_LABELS
from meike.services.customers import TABS, CustomerQuery
from meike.services.sms import MAX_TEXT, BatchPreview, BatchResult, Template, fields_in
from ui.operations import sms as ops
from ui.tasks import error_text
from ui.widgets import messages
from ui.widgets.form_dialog import FormDialog
from ui.widgets.list_tab import submit_op


def length_text(text: str) -> str:
    """“35 字，1 条短信” under the text box (a long message is billed per part)."""
    n = len(text.strip())
    return f"{n} 字，{count_parts(text.strip()) if n else 0} 条短信" + ("（超出上限）" if n > MAX_TEXT else "")


def _template_combo(name: str, templates: list[Template], *, none_text: str | None) -> QComboBox:
    combo = QComboBox(objectName=name)
    if none_text is not None:
        combo.addItem(none_text, None)
    for t in templates:
        combo.addItem(f"{t.kind_label}：{t.name}", t.id)
    return combo


class SendSmsDialog(FormDialog):
    """发短信: to a customer in scope (their mobile, never shown in full without the right) or a number."""

    def __init__(self, clinic: Clinic, actor: Actor, customer_id: int | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("sms_send_dialog", "发短信", parent, ok_text="发送", min_width=520)
        self.clinic, self.actor, self.customer_id = clinic, actor, customer_id
        self.saved_id: int | None = None
        self.number: QLineEdit | None = None
        if customer_id is not None:
            self.customer_label = QLabel("正在读取…", objectName="sms_send_customer")
            self.form.add_field("customer", "顾客", self.customer_label)
        else:
            self.number = QLineEdit(objectName="sms_send_number", placeholderText="11 位手机号")
            self.form.add_field("number", "手机号", self.number, required=True)
        self.templates: list[Template] = []
        self.template = _template_combo("sms_send_template", [], none_text="（不用模板，直接输入）")
        self.form.add_field("template", "模板", self.template)
        self.text = QPlainTextEdit(objectName="sms_send_text", placeholderText="短信内容")
        self.text.setFixedHeight(110)
        self.form.add_field("text", "内容", self.text, required=True)
        self.length = QLabel(length_text(""), objectName="sms_send_length")
        self.length.setStyleSheet("color: #888;")
        self.form.addRow("", self.length)
        self.text.textChanged.connect(lambda: self.length.setText(length_text(self.text.toPlainText())))
        self.template.currentIndexChanged.connect(lambda _i: self.fill_from_template())
        self.finish_layout()
        self.ok.setEnabled(False)  # until the form is read
        ops.send_form(self, clinic, actor, customer_id).success(self._fill).failure(
            lambda exc: self.message.setText(error_text(exc))).run()

    def _fill(self, form: ops.SendForm) -> None:
        detail = form.customer
        if detail is not None:
            text = f"{detail.name}（{detail.card_no}）　{detail.mobile}"
            if not detail.sms_opt_in:
                text += "　<span style='color:#c0392b'>已设置拒收短信</span>"
            self.customer_label.setText(text)
        self.templates = form.templates
        for t in self.templates:
            self.template.addItem(f"{t.kind_label}：{t.name}", t.id)
        self.ok.setEnabled(True)

    def fill_from_template(self) -> None:
        """The chosen template's text, with this customer's name filled in (editable afterwards)."""
        template_id = self.template.currentData()
        if template_id is None:
            return
        body = next((t.body for t in self.templates if t.id == template_id), "")

        def rendered(text: str) -> None:
            self.text.setPlainText(text)
            used = [f for f in ("日期", "时间", "项目") if f in fields_in(body)]
            self.message.setText("模板中的" + "".join(f"{{{f}}}" for f in used) + "取自顾客的下一个预约，"
                                 "没有预约时为空，请检查内容" if used else "")

        ops.render(self, self.clinic, self.actor, template_id, self.customer_id, body).success(rendered).failure(
            lambda exc: self.message.setText(error_text(exc))).run()

    def submit(self) -> None:
        template = next((t for t in self.templates if t.id == self.template.currentData()), None)
        op = ops.send_one(self, self.clinic, self.actor, customer_id=self.customer_id,
                          number=self.number.text() if self.number is not None else "",
                          text=self.text.toPlainText(), template_id=template.id if template else None,
                          kind=template.kind if template else "manual")
        submit_op(self, self.form, op, self.message, done=lambda saved_id: setattr(self, "saved_id", saved_id))


class BatchSmsDialog(FormDialog):
    """群发: the customer grid's conditions, a template, the count before sending (opt-outs skipped)."""

    def __init__(self, clinic: Clinic, actor: Actor, query: CustomerQuery | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__("sms_batch_dialog", "群发短信", parent, ok_text="群发", min_width=620)
        self.clinic, self.actor = clinic, actor
        self.queued: BatchResult | None = None  # what 群发 queued, once it did
        self.preview: BatchPreview | None = None
        self._generation = 0
        query = query or CustomerQuery()
        today = clock.now().date()
        self.search = QLineEdit(query.text, objectName="sms_batch_search",
                                placeholderText="姓名 / 拼音首字母 / 手机号 / 卡号，留空表示全部")
        self.tab = QComboBox(objectName="sms_batch_tab")
        for key, label in TABS.items():
            self.tab.addItem(label, key)
        self.tab.setCurrentIndex(max(0, self.tab.findData(query.tab)))
        self.use_dates = QCheckBox("按日期", objectName="sms_batch_use_dates")
        self.use_dates.setChecked(query.date_from is not None or query.date_to is not None)
        self.date_from = QDateEdit(QDate(query.date_from or today - timedelta(days=30)), objectName="sms_batch_from",
                                   calendarPopup=True, displayFormat="yyyy-MM-dd")
        self.date_to = QDateEdit(QDate(query.date_to or today), objectName="sms_batch_to", calendarPopup=True,
                                 displayFormat="yyyy-MM-dd")
        self.channel = QComboBox(objectName="sms_batch_channel")
        self.channel.addItem("全部渠道", None)
        if query.channel_id is not None:  # kept until the channels are read
            self.channel.addItem("…", query.channel_id)
            self.channel.setCurrentIndex(1)
        self.customer_class = QComboBox(objectName="sms_batch_class")
        self.customer_class.addItem("全部类别", None)
        for c, label in CLASS_LABELS.items():
            self.customer_class.addItem(label, c.value)
        self.customer_class.setCurrentIndex(max(0, self.customer_class.findData(query.customer_class)))
        self._hidden = {"consultant_id": query.consultant_id, "cs_staff_id": query.cs_staff_id}
        dates = QWidget()
        row = QHBoxLayout(dates)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.use_dates, self.date_from, QLabel("至"), self.date_to):
            row.addWidget(w)
        row.addStretch(1)
        self.form.add_field("query_text", "查找", self.search)
        self.form.add_field("tab", "范围", self.tab)
        self.form.add_field("dates", "日期", dates)
        self.form.add_field("channel_id", "渠道", self.channel)
        self.form.add_field("customer_class", "顾客类别", self.customer_class)

        self.templates: list[Template] = []
        self.template = _template_combo("sms_batch_template", [], none_text="（请选择模板）")
        self.form.add_field("template", "模板", self.template, required=True)
        self.text = QPlainTextEdit(objectName="sms_batch_text", placeholderText="选择模板后显示内容；{姓名} 按每位顾客填写")
        self.text.setFixedHeight(90)
        self.form.add_field("text", "内容", self.text, required=True)
        self.preview_label = QLabel("正在统计人数…", objectName="sms_batch_preview", wordWrap=True)
        self.preview_button = QPushButton("重新统计", objectName="sms_batch_count")
        counter = QWidget()
        row = QHBoxLayout(counter)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.preview_label, 1)
        row.addWidget(self.preview_button)
        self.form.add_field("query", "人数", counter)
        self.finish_layout()

        self._debounce = QTimer(self, singleShot=True, interval=300)
        self._debounce.timeout.connect(self.update_preview)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        for combo in (self.tab, self.channel, self.customer_class):
            combo.currentIndexChanged.connect(lambda _i: self._debounce.start())
        self.use_dates.toggled.connect(lambda _c: self._debounce.start())
        self.date_from.dateChanged.connect(lambda _d: self._debounce.start())
        self.date_to.dateChanged.connect(lambda _d: self._debounce.start())
        self.preview_button.clicked.connect(self.update_preview)
        self.template.currentIndexChanged.connect(lambda _i: self._template_chosen())
        ops.batch_form(self, clinic, actor).success(self._fill).failure(
            lambda exc: self.message.setText(error_text(exc))).run()
        self.update_preview()

    def _fill(self, form: ops.BatchForm) -> None:
        chosen = self.channel.currentData()
        self.channel.blockSignals(True)  # the count already asked for this channel
        self.channel.clear()
        self.channel.addItem("全部渠道", None)
        for e in form.channels:
            self.channel.addItem(e.name, e.id)
        self.channel.setCurrentIndex(max(0, self.channel.findData(chosen)))
        self.channel.blockSignals(False)
        self.templates = [t for t in form.templates if t.kind in ("marketing", "manual", "birthday")]
        for t in self.templates:
            self.template.addItem(f"{t.kind_label}：{t.name}", t.id)

    def query(self) -> CustomerQuery:
        dates = self.use_dates.isChecked()
        return CustomerQuery(text=self.search.text(), tab=self.tab.currentData(),
                             date_from=self.date_from.date().toPython() if dates else None,
                             date_to=self.date_to.date().toPython() if dates else None,
                             channel_id=self.channel.currentData(), customer_class=self.customer_class.currentData(),
                             **self._hidden)

    def _template_chosen(self) -> None:
        template = self._current_template()
        if template is not None:
            self.text.setPlainText(template.body)

    def _current_template(self) -> Template | None:
        return next((t for t in self.templates if t.id == self.template.currentData()), None)

    def update_preview(self) -> None:
        """Count the customers in the background (a big clinic's list must not freeze the window)."""
        self._debounce.stop()
        self._generation += 1
        generation, query = self._generation, self.query()
        self.preview_label.setText("正在统计人数…")
        self.ok.setEnabled(False)

        def done(preview: BatchPreview) -> None:
            if generation != self._generation:
                return
            self.preview = preview
            self.preview_label.setText(
                f"符合条件 {preview.matched:,} 人：拒收短信 {preview.opted_out:,} 人，"
                f"非手机号 {preview.not_mobile:,} 人，将发送 <b>{preview.sendable:,}</b> 条")
            self.ok.setEnabled(preview.sendable > 0)

        def failed(exc: Exception) -> None:
            if generation == self._generation:
                self.preview_label.setText(error_text(exc))

        ops.preview_batch(self, self.clinic, self.actor, query).success(done).failure(failed).run()

    def submit(self) -> None:
        """Ask once, then queue in the background; on an error everything typed stays."""
        self.message.clear()
        self.form.clear_errors()
        template = self._current_template()
        if template is None:
            self.form.show_errors({"template": "请选择模板"})
            return
        count = self.preview.sendable if self.preview is not None else 0
        if not messages.ask(self, "群发短信", f"确定向 {count:,} 位顾客发送这条短信吗？"):
            return
        query, body = self.query(), self.text.toPlainText()
        body_arg = None if body.strip() == template.body else body
        kind = template.kind if template.kind in ("marketing", "manual", "birthday") else "marketing"
        self.message.setText("正在排队…")

        def failed(exc: Exception) -> None:
            self.message.clear()
            if isinstance(exc, ValidationError):
                self.message.setText("；".join(self.form.show_errors(exc.errors)))
            else:
                self.message.setText(error_text(exc))

        op = ops.send_batch(self, self.clinic, self.actor, query, template_id=template.id, body=body_arg, kind=kind)
        op.success(self._queued).failure(failed).run()

    def _queued(self, result: BatchResult) -> None:
        self.queued = result
        self.accept()

    def save(self) -> Any:  # submit() does the work
        raise NotImplementedError
