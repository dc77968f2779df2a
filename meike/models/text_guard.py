"""The last line before the database: no text longer than its column, no NUL, no lone surrogate.

The services clean every typed text (``meike.rules.text.clean_text``) and say in Chinese what is
wrong. This guard catches what a path may still hand over (a device's data, a value built from
others): PostgreSQL refuses a NUL byte and a VARCHAR overflow with a raw driver error, SQLite stores
both silently. Before every flush each new or changed string of a mapped row is checked against its
column; a bad one is a ``ValidationError`` naming the field, and nothing is written.
"""

from __future__ import annotations

from sqlalchemy import String, event, inspect
from sqlalchemy.orm import Session

from meike.errors import ValidationError

LABELS = {
    "name": "名称", "display_name": "姓名", "username": "用户名", "address": "地址", "notes": "备注",
    "note": "备注", "content": "内容", "items": "项目", "reason": "原因", "cancel_reason": "原因",
    "void_reason": "原因", "reject_reason": "原因", "result": "结果", "invoice_no": "发票号",
    "invoice_title": "发票抬头", "item_name": "项目名称", "number": "号码", "text": "短信内容",
    "body": "短信内容", "wechat": "微信", "qq": "QQ", "region": "地区", "occupation": "职业",
    "referrer": "介绍人", "file_no": "档案号", "card_no": "卡号", "mobile": "手机号", "unit": "单位",
    "pinyin_code": "拼音码", "inpatient_no": "住院号", "recording_path": "录音文件路径", "value": "设置值",
}
TABLE_LABELS = {("customers", "name"): "姓名", ("staff", "name"): "姓名", ("sms_templates", "name"): "模板名称",
                ("coupons", "name"): "券名称"}


def _problem(value: str, length: int | None, label: str) -> str | None:
    if length is not None and len(value) > length:
        return f"{label}不能超过 {length:,} 个字"
    for ch in value:
        if ch == "\x00" or "\ud800" <= ch <= "\udfff":
            return f"{label}含有无法保存的字符（U+{ord(ch):04X}）"
    return None


def check_row(obj: object, *, changed_only: bool) -> None:
    """Raise ValidationError for the first string attribute of ``obj`` its column cannot hold."""
    state = inspect(obj)
    assert state is not None  # a mapped row (the unit of work's own)
    for attr in state.mapper.column_attrs:
        column = attr.columns[0]
        if not isinstance(column.type, String):
            continue
        if changed_only:
            values = state.attrs[attr.key].history.added or ()
        else:
            values = (state.dict.get(attr.key),)
        for value in values:
            if isinstance(value, str):
                label = TABLE_LABELS.get((column.table.name, attr.key)) or LABELS.get(attr.key, "内容")
                problem = _problem(value, column.type.length, label)
                if problem is not None:
                    raise ValidationError.single(attr.key, problem)


def _guard_text(session: Session, _context: object, _instances: object) -> None:
    for obj in session.new:
        check_row(obj, changed_only=False)
    for obj in session.dirty:
        check_row(obj, changed_only=True)


event.listen(Session, "before_flush", _guard_text)
