"""What the cashier is shown: the services' balances and courses' remaining sessions against the rows.

The other checks read the rows; this one asks the services (``ledger.balances``,
``ledger.package_remaining``) customer by customer, so ``--check`` leaves it out (a million customers);
the crash harness and the money state machine test run it."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meike.check.report import CheckReport
from meike.models import AccountEntry, PackageUse
from meike.models.ledger import ACCOUNT_LABELS
from meike.services import ledger


def shown(s: Session, report: CheckReport, *, customers: Iterable[int] | None = None,
          packages: Iterable[int] | None = None) -> CheckReport:
    """``customers`` (default: every customer with account entries) and ``packages`` (default: none)."""
    entries = select(AccountEntry.customer_id, AccountEntry.account, func.sum(AccountEntry.amount_fen))
    if customers is not None:
        entries = entries.where(AccountEntry.customer_id.in_(list(customers)))
    sums: dict[int, dict[str, int]] = {}
    for customer_id, account, total in s.execute(entries.group_by(AccountEntry.customer_id, AccountEntry.account)):
        sums.setdefault(customer_id, {})[account] = int(total)
    details = []
    for customer_id, by_account in sorted(sums.items()):
        seen = ledger.balances(s, customer_id)
        details += [f"顾客 #{customer_id} {ACCOUNT_LABELS.get(account, account)}：流水合计 {total}，显示 {seen.get(account)}"
                    for account, total in sorted(by_account.items()) if seen.get(account) != total]
    wanted = list(packages or ())
    if wanted:
        left = dict(s.execute(select(PackageUse.package_id, func.sum(PackageUse.sessions))
                              .where(PackageUse.package_id.in_(wanted)).group_by(PackageUse.package_id)).tuples().all())
        for package_id in wanted:
            remaining = ledger.package_remaining(s, package_id)
            if remaining != int(left.get(package_id, 0)):
                details.append(f"疗程 #{package_id}：次数记录合计 {int(left.get(package_id, 0))}，显示 {remaining}")
    report.add("shown", details)
    return report
