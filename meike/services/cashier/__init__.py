"""Cashier desk 收费中心: orders 开单, payments 结单 / 分次支付, cancel 消单, void 退单, refunds 退款,
price changes 多退少补, courses 疗程, invoices 发票.

- ``items``: items for the order dialog and their prices (member discount, promotions);
- ``orders``: opening, cancelling and merging orders, invoices;
- ``shares``: 业绩分配 of an order;
- ``lists``: lists of orders and one order's detail;
- ``payments``: settling an order and collecting its arrears;
- ``corrections``: void, refunds and price changes of a settled order;
- ``common``: what they share (loading an order in scope, arrears, what a line is worth now).

Every function checks the page permission and the customer data scope. Money is integer fen; every
movement of money is one numbered receipt (``meike.services.ledger``) written in one transaction, and
every money request runs through ``ledger.money_op`` (its idempotency key bound to its target).
"""

from meike.services.cashier.common import (
    MAX_QUANTITY,
    MAX_REASON,
    STALE_ORDER,
    STATUS_LABELS,
    PayResult,
    line_net,
    load_order,
    order_arrears,
)
from meike.services.cashier.corrections import (
    VoidResult,
    package_refund_quote,
    refund_line,
    refund_package,
    refund_value,
    reprice_line,
    void,
)
from meike.services.cashier.items import ItemChoice, PriceQuote, find_items, member_price, price_quote, quote
from meike.services.cashier.lists import (
    OrderDetail,
    OrderLineView,
    OrderRow,
    count_orders,
    get_order,
    list_orders,
)
from meike.services.cashier.orders import (
    LineInput,
    LineSpec,
    cancel,
    merge_orders,
    open_order,
    open_order_in,
    register_invoice,
)
from meike.services.cashier.payments import pay, settle
from meike.services.cashier.shares import (
    SHARE_STAFF_ROLES,
    ShareSpec,
    SharesView,
    ShareView,
    order_shares,
    set_order_shares,
    share_candidates,
)
from meike.services.ledger import Tender, receipt_number

__all__ = [
    "MAX_QUANTITY", "MAX_REASON", "SHARE_STAFF_ROLES", "STALE_ORDER", "STATUS_LABELS", "ItemChoice", "LineInput",
    "LineSpec", "OrderDetail", "OrderLineView", "OrderRow", "PayResult", "PriceQuote", "ShareSpec", "ShareView",
    "SharesView", "Tender", "VoidResult", "cancel", "count_orders", "find_items", "get_order", "line_net",
    "list_orders", "load_order", "member_price", "merge_orders", "open_order", "open_order_in", "order_arrears",
    "order_shares", "package_refund_quote", "pay", "price_quote", "quote", "receipt_number", "refund_line",
    "refund_package", "refund_value", "register_invoice", "reprice_line", "set_order_shares", "settle",
    "share_candidates", "void",
]
