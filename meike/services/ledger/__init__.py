"""Money documents and customer accounts: receipts, tenders, deposits 定金, prepaid 预存, coupons 券,
inpatient deposits 住院押金, arrears 欠款 and refunds from a balance.

- ``core``: receipts and their numbers, tenders, account entries, balances, supervisors;
- ``idempotent``: ``money_op``, the one idempotent money operation (a request's key bound to its target, run once);
- ``desk``: the customer-accounts desk (top-ups, coupons, refunds from a balance, what a customer holds).

Every movement of money is one receipt written in one transaction with its tenders and account
entries; a balance is the sum of its entries and is never allowed below zero. A repeated request
with the same idempotency key (double click, retry, crash replay) returns the first receipt and
moves nothing more.
"""

from meike.models import Receipt
from meike.models.ledger import (
    ACCOUNT_ARREARS,
    ACCOUNT_COUPON,
    ACCOUNT_DEPOSIT,
    ACCOUNT_INPATIENT,
    ACCOUNT_LABELS,
    ACCOUNT_PREPAID,
    ASSET_ACCOUNTS,
)
from meike.permissions import Right
from meike.services.ledger.core import (
    MAX_NOTE,
    RECEIPT_KINDS,
    ReceiptResult,
    Tender,
    account_of,
    balance,
    balances,
    check_key,
    empty_receipt,
    load_receipt,
    next_receipt_no,
    package_remaining,
    post,
    receipt_for_key,
    receipt_number,
    require_supervisor,
    supervisor_live,
    write_receipt,
)
from meike.services.ledger.desk import (
    AccountSummary,
    CouponView,
    PackageView,
    customer_accounts,
    refund_balance,
    sell_coupon,
    summary_in,
    top_up,
)
from meike.services.ledger.idempotent import (
    INVALID_KEY,
    TRANSIENT_ATTEMPTS,
    Target,
    check_target,
    money_op,
    once,
    receipt_answer,
    replayed_for,
    transient,
)

__all__ = [
    "ACCOUNT_ARREARS", "ACCOUNT_COUPON", "ACCOUNT_DEPOSIT", "ACCOUNT_INPATIENT", "ACCOUNT_LABELS", "ACCOUNT_PREPAID",
    "ASSET_ACCOUNTS", "INVALID_KEY", "MAX_NOTE", "RECEIPT_KINDS", "TRANSIENT_ATTEMPTS", "AccountSummary", "CouponView",
    "PackageView", "Receipt", "ReceiptResult", "Right", "Target", "Tender", "account_of", "balance", "balances", "check_key",
    "check_target", "customer_accounts", "empty_receipt", "load_receipt", "money_op", "next_receipt_no", "once",
    "package_remaining", "post", "receipt_answer", "receipt_for_key", "receipt_number", "replayed_for",
    "refund_balance", "require_supervisor", "sell_coupon", "summary_in", "supervisor_live", "top_up", "transient",
    "write_receipt",
]
