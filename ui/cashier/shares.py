"""业绩分配: who shares the consultant's, the doctor's and the developer's performance of an unpaid order."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSpinBox, QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.services.cashier import ShareSpec
from meike.services.performance import ROLE_LABELS, SHARED_ROLES
from ui.cashier.common import CashierFormDialog
from ui.operations import Op
from ui.operations import cashier as ops

PEOPLE_PER_ROLE = 3


class SharesDialog(CashierFormDialog):
    """Up to three people per role with their percent; a role left empty goes to its default person."""

    def __init__(self, clinic: Clinic, actor: Actor, order_id: int, parent: QWidget | None = None) -> None:
        super().__init__("cashier_shares", "业绩分配", parent, ok_text="保存", min_width=680)
        self.clinic, self.actor, self.order_id = clinic, actor, order_id
        self.version = 0
        self.rows: dict[str, list[tuple[QComboBox, QSpinBox]]] = {}
        self.finish_layout()
        self.load(ops.order_shares(self, clinic, actor, order_id), self._build)

    def _build(self, loaded: ops.SharesFacts) -> None:
        view, candidates = loaded.view, loaded.candidates
        self.version = view.version
        current: dict[str, list[tuple[int, int]]] = {}
        for share in view.shares:
            current.setdefault(share.role, []).append((share.staff_id, share.percent))
        for role in SHARED_ROLES:
            box = QWidget()
            line = QHBoxLayout(box)
            line.setContentsMargins(0, 0, 0, 0)
            pairs = []
            people = current.get(role, [])
            for i in range(PEOPLE_PER_ROLE):
                combo = QComboBox(objectName=f"cashier_shares_{role}_{i}")
                combo.addItem("（无）", None)
                for staff_id, name in candidates[role]:
                    combo.addItem(name, staff_id)
                spin = QSpinBox(objectName=f"cashier_shares_{role}_{i}_pct", minimum=0, maximum=100, suffix=" %")
                if i < len(people):
                    staff_id, percent = people[i]
                    if combo.findData(staff_id) < 0:  # left the role or the clinic: still shown
                        combo.addItem(f"职员 #{staff_id}", staff_id)
                    combo.setCurrentIndex(combo.findData(staff_id))
                    spin.setValue(percent)
                combo.currentIndexChanged.connect(lambda _i, c=combo, sp=spin, r=role: self._picked(r, c, sp))
                line.addWidget(combo, 2)
                line.addWidget(spin, 1)
                pairs.append((combo, spin))
            self.rows[role] = pairs
            default = view.defaults.get(role)
            self.form.add_field(f"shares_{role}", f"{ROLE_LABELS[role]}业绩", box)
            self.form.addRow("", QLabel(f"不填则全部归 {default}" if default else "不填则不计入任何人",
                                        objectName=f"cashier_shares_{role}_default"))
        percents = "\n".join(f"{name}：咨询 {c}%　医生 {d}%　开发 {v}%" for name, c, d, v in view.item_percents)
        self.form.addRow("项目业绩比例", QLabel(percents, objectName="cashier_shares_items"))
        self.form.add_field("shares", "", QLabel("每一类业绩的比例合计应为 100%；科室业绩总是按收费金额全额计入"))

    def _picked(self, role: str, combo: QComboBox, spin: QSpinBox) -> None:
        """A newly picked person gets what is left of the role's 100%."""
        if combo.currentData() is None:
            spin.setValue(0)
        elif spin.value() == 0:
            used = sum(sp.value() for c, sp in self.rows[role] if sp is not spin and c.currentData() is not None)
            spin.setValue(max(0, 100 - used))

    def specs(self) -> list[ShareSpec]:
        return [ShareSpec(role, combo.currentData(), spin.value())
                for role, pairs in self.rows.items() for combo, spin in pairs if combo.currentData() is not None]

    def action(self) -> Op[None]:
        return ops.set_order_shares(self, self.clinic, self.actor, self.order_id, self.specs(), self.version)
