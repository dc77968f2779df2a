"""操作台: today's figures at a glance, computed off the GUI thread."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from meike.db import Clinic
from meike.permissions import Actor, Page
from meike.services import customers
from meike.services.customers import DashboardCounts
from ui.tasks import run_in_background

CARD_STYLE = "QFrame#%s { background: #f4f8fb; border: 1px solid #d5e3ee; border-radius: 8px; }"


class CountCard(QFrame):
    def __init__(self, key: str, title: str) -> None:
        super().__init__(objectName=f"count_{key}")
        self.setStyleSheet(CARD_STYLE % self.objectName())
        self.value = QLabel("…", objectName=f"count_{key}_value")
        self.value.setStyleSheet("font-size: 30px; font-weight: bold; color: #1f6fa8;")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(title))
        layout.addWidget(self.value)


class DashboardPage(QWidget):
    def __init__(self, clinic: Clinic, actor: Actor, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        actor.require_page(Page.DASHBOARD)
        self.clinic, self.actor = clinic, actor
        self.setObjectName("page_dashboard")
        self.cards = {
            "customers": CountCard("customers", "我能查看的顾客"),
            "registered_today": CountCard("registered_today", "今日新登记"),
        }
        grid = QGridLayout()
        for i, card in enumerate(self.cards.values()):
            grid.addWidget(card, 0, i)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"<h2>您好，{actor.label}</h2>"))
        layout.addLayout(grid)
        layout.addStretch(1)
        self.refresh()

    def refresh(self) -> None:
        run_in_background(lambda: customers.dashboard_counts(self.clinic, self.actor), self.show_counts)

    def show_counts(self, counts: DashboardCounts) -> None:
        self.cards["customers"].value.setText(str(counts.customers))
        self.cards["registered_today"].value.setText(str(counts.registered_today))
