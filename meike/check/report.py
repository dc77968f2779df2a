"""What ``--check`` found: findings by kind (``TITLES``), the report and how it is printed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby

MAX_DETAILS = 20  # findings listed per check; the rest are counted

TITLES = {
    "integrity": "数据库文件损坏（SQLite 完整性检查）",
    "foreign_key": "引用了不存在的记录（外键检查）",
    "receipt_tenders": "收据金额与支付明细不符",
    "receipt_balance": "收据收支不平",
    "money_total": "收款总额与销售、账户、欠款合计不符",
    "receipt_numbers": "收据号重复、缺号或格式错误",
    "receipt_counter": "收据计数器与当天收据数不符",
    "negative_balance": "账户余额为负",
    "coupon": "券余额异常",
    "entry": "账户流水不完整",
    "order_amounts": "业务单金额对不上",
    "overpaid": "业务单已付金额超过应收",
    "order_receipt": "已结单的业务单缺少结单收据",
    "package": "疗程次数异常",
    "grant": "赠送金额异常（只有券可以赠送）",
    "day_close": "日结数据与当天流水不符",
    "day_close_audit": "日结记录与操作日志不符",
    "receipt_audit": "收据与操作日志不符",
    "performance": "科室业绩异常",
    "receipt_entries": "充值收据与账户入账不符",
    "order_lines": "业务单金额与明细合计不符",
    "order_unpaid_money": "未结单的业务单有收款记录",
    "order_duplicate": "同一业务单有多张结单或退单收据",
    "order_void": "退单不完整",
    "course_sale": "疗程与售出它的业务单明细不符",
    "course_use": "疗程划扣与业务单明细不符",
    "shown": "收费界面显示的余额与账户流水不符",
    "audit_chain": "审计日志被改动",
    "reminder_scope": "提醒记录的查看范围与顾客资料不一致",
    "reminder_tally": "操作台提醒数量的累计与提醒记录不符",
    "revision": "数据库版本与程序不符，账目未检查",
}


@dataclass(frozen=True)
class Finding:
    code: str  # a key of TITLES
    detail: str

    @property
    def title(self) -> str:
        return TITLES.get(self.code, self.code)


@dataclass
class CheckReport:
    database: str
    checked_at: datetime
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # what was checked: label → number
    sqlite: bool = False
    omitted: dict[str, int] = field(default_factory=dict)  # code → findings beyond MAX_DETAILS

    @property
    def ok(self) -> bool:
        return not self.findings

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def add(self, code: str, details: list[str]) -> None:
        self.findings.extend(Finding(code, d) for d in details[:MAX_DETAILS])
        if len(details) > MAX_DETAILS:
            self.omitted[code] = self.omitted.get(code, 0) + len(details) - MAX_DETAILS

    def render(self) -> str:
        lines = [f"美客数据检查  {self.checked_at:%Y-%m-%d %H:%M:%S}", f"数据库：{self.database}"]
        checked = "，".join(f"{label} {n:,}" for label, n in self.counts.items())
        lines.append(f"已检查：{checked}")
        if self.sqlite:
            integrity = "未通过" if "integrity" in self.codes() else "通过"
            foreign = "未通过" if "foreign_key" in self.codes() else "通过"
            lines.append(f"SQLite 完整性检查：{integrity}；外键检查：{foreign}")
        if self.ok:
            lines.append("结果：未发现问题。")
            return "\n".join(lines) + "\n"
        total = len(self.findings) + sum(self.omitted.values())
        lines.append(f"结果：发现 {total} 个问题。")
        for code, group in groupby(self.findings, key=lambda f: f.code):
            items = list(group)
            lines.append("")
            lines.append(f"【{TITLES.get(code, code)}】")
            lines += [f"  - {f.detail}" for f in items]
            if self.omitted.get(code):
                lines.append(f"  …… 另有 {self.omitted[code]} 处同类问题")
        lines.append("")
        lines.append("请联系技术支持；数据有误时可从备份恢复（恢复前会自动再备份当前数据库）。")
        return "\n".join(lines) + "\n"
