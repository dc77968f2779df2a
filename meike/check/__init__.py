"""``main.py --check``: is the database sound, and do the books still add up? The one library of the
money invariants: ``--check`` runs it on a database, the crash harness (``bench/crashtest.py``) after
every kill, the money state machine test (``books``) after every step.

On SQLite, ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check`` (the only SQLite-specific
SQL here, marked below). Then, on any database, the invariants the cashier's code keeps (the same
ones ``tests/meike/test_money_state_machine.py`` checks after every step; one module a part):

* every receipt's tenders sum to its amount, and every receipt balances: money in through payment
  methods = sales it recognises (an order's total when settled, minus it when voided, plus price
  changes and refunds) + what went into customer accounts (free coupon value excluded) − arrears;
* receipt numbers are R{YYYYMMDD}-0001…n per business day: none malformed, duplicated or missing,
  and the day's counter says n;
* no account balance is below zero (deposit, prepaid, each coupon, inpatient deposit; arrears per
  order); coupon entries belong to the coupon's customer, arrears entries to an order;
* a settled order's payments + its arrears = its total + its adjustments (so nothing was paid beyond
  what it costs); a voided order nets to zero; an unpaid or cancelled order has no money;
* a course was bought once for its sessions, its remaining sessions are 0…sessions, and the sessions
  used (net of restored) are the course lines of settled orders;
* only a coupon's sale may grant value (赠送): a granted entry is a coupon's, on the receipt that sold
  it, and a coupon holds its face value = what was paid for it + what was granted;
* a closed day's stored report equals the report recomputed from its rows, every figure of it
  (each payment method, cashier and department by id, each account), and every close matches its
  "day.close" row in the audit log (a deleted or forged close is found);
* every receipt matches the audit row the same transaction wrote (number, cashier, amount, voided
  or not), so a receipt deleted with its day's counter lowered, or inserted past the program, shows;
* a department's performance of an order is never negative, and zero after a void;
* the audit log's hash chain is unbroken, its end matches the anchors kept outside the database (this
  PC's settings, the backups) and its triggers are in place (``meike.services.audit.verify_chain``).
"""

from __future__ import annotations

from meike.check.receipts import day_number_problems
from meike.check.report import MAX_DETAILS, TITLES, CheckReport, Finding
from meike.check.run import BOOKS, books, run_check
from meike.check.shown import shown

__all__ = ["BOOKS", "MAX_DETAILS", "TITLES", "CheckReport", "Finding", "books", "day_number_problems", "run_check",
           "shown"]
