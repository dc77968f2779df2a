"""收费中心: the cashier desk (page, order dialogs, customer accounts, 日结)."""
