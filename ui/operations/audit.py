"""操作日志 (the administrator's audit viewer): a page of lines, the chain check, 以当前日志为准, export."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QWidget

from meike.db import Clinic
from meike.permissions import Actor
from meike.services import audit
from meike.services.audit import AuditFilter, AuditLine, ChainReport
from ui.operations import Op, read


@dataclass(frozen=True)
class AuditPage:
    lines: list[AuditLine]
    total: int  # lines matching the filter in all


def search(parent: QWidget, clinic: Clinic, actor: Actor, flt: AuditFilter, offset: int, limit: int) -> Op[AuditPage]:
    """The next ``limit`` lines from ``offset`` (newest first), and how many match."""
    return read(parent, lambda: AuditPage(audit.search(clinic, actor, flt, offset=offset, limit=limit),
                                          audit.count_matching(clinic, actor, flt)))


def verify_chain(parent: QWidget, clinic: Clinic, actor: Actor) -> Op[ChainReport]:
    """校验日志完整性: the whole chain, and its end against the anchors outside the database."""
    return read(parent, lambda: audit.verify_chain(clinic, actor))


def accept_log(parent: QWidget, clinic: Clinic, actor: Actor) -> Op[None]:
    """以当前日志为准 (audited with the anchor it replaces)."""
    from meike.services import audit_guard

    def job() -> None:
        audit_guard.accept(clinic, actor)

    return Op(parent, job)


def export(parent: QWidget, clinic: Clinic, actor: Actor, flt: AuditFilter, path: Path) -> Op[int]:
    """导出 Excel (the export itself is logged): the lines written."""
    return Op(parent, lambda: audit.export_xlsx(clinic, actor, flt, path))
