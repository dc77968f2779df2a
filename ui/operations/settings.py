"""系统管理 actions: the dictionaries, system parameters, promotions, SMS templates and channel, and this
PC's devices (printer, caller-ID box, recording) — one small function per user action."""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtWidgets import QWidget

from meike import pdf_fonts, sms_jobs, workstation
from meike.db import Clinic
from meike.errors import PermissionDenied, ValidationError
from meike.permissions import Actor, Right
from meike.services import accounts, dictionaries, promotions, receipting, sms, system
from meike.services.dictionaries import Entry, Kind
from meike.services.promotions import PromotionView
from meike.services.sms import ChannelView, Template
from ui.operations import Op, io, read

# --- dictionaries -----------------------------------------------------------------------------------


def list_entries(parent: QWidget | None, clinic: Clinic, actor: Actor, kind: Kind, *,
                 include_inactive: bool = False) -> Op[list[Entry]]:
    return read(parent, lambda: dictionaries.list_entries(clinic, actor, kind, include_inactive=include_inactive))


def entry_choices(parent: QWidget | None, clinic: Clinic, actor: Actor, kinds: tuple[Kind, ...]) -> Op[dict[Kind, list[Entry]]]:
    """The active entries of other dictionaries, for an editor's pickers."""
    return read(parent, lambda: {kind: dictionaries.list_entries(clinic, actor, kind) for kind in kinds})


def save_entry(parent: QWidget, clinic: Clinic, actor: Actor, kind: Kind, entry_id: int | None,
               values: dict[str, Any]) -> Op[int]:
    def save() -> int:
        if entry_id is None:
            return dictionaries.add_entry(clinic, actor, kind, values)
        dictionaries.update_entry(clinic, actor, kind, entry_id, values)
        return entry_id

    return Op(parent, save)


def set_entry_active(parent: QWidget, clinic: Clinic, actor: Actor, kind: Kind, entry_id: int,
                     active: bool) -> Op[None]:
    return Op(parent, lambda: dictionaries.set_entry_active(clinic, actor, kind, entry_id, active))


def delete_entry(parent: QWidget, clinic: Clinic, actor: Actor, kind: Kind, entry_id: int) -> Op[None]:
    return Op(parent, lambda: dictionaries.delete_entry(clinic, actor, kind, entry_id))


# --- system parameters ------------------------------------------------------------------------------


def parameters(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[dict[str, Any]]:
    return read(parent, lambda: system.all_values(clinic, actor))


def save_parameters(parent: QWidget, clinic: Clinic, actor: Actor, values: dict[str, str]) -> Op[dict[str, Any]]:
    return Op(parent, lambda: system.update(clinic, actor, values))


def clinic_name(parent: QWidget | None, clinic: Clinic) -> Op[str]:
    return read(parent, lambda: str(system.get(clinic, "clinic.name")))


# --- promotions -------------------------------------------------------------------------------------


def list_promotions(parent: QWidget | None, clinic: Clinic, actor: Actor, *,
                    include_finished: bool = False) -> Op[list[PromotionView]]:
    return read(parent, lambda: promotions.list_promotions(clinic, actor, include_finished=include_finished))


def add_promotion(parent: QWidget, clinic: Clinic, actor: Actor, *, name: str, item_id: int | None,
                  starts_on: date | None, ends_on: date | None, price_fen: int | None,
                  discount_permille: int | None, supervisor: tuple[str, str] | None) -> Op[int]:
    """``supervisor``: (user name, password) typed for a price below the item's minimum, checked here."""

    def add() -> int:
        approver = None
        if supervisor is not None:
            user, password = supervisor
            if not user.strip() or not password:
                raise ValidationError.single("supervisor", "请主管输入用户名和密码")
            try:
                approver = accounts.verify_supervisor(clinic, user, password, Right.APPROVE_PRICE)
            except PermissionDenied as e:
                raise ValidationError.single("supervisor", e.message) from None
        return promotions.add_promotion(clinic, actor, name=name, item_id=item_id, starts_on=starts_on,
                                        ends_on=ends_on, price_fen=price_fen, discount_permille=discount_permille,
                                        supervisor=approver)

    return Op(parent, add)


def stop_promotion(parent: QWidget, clinic: Clinic, actor: Actor, promotion_id: int) -> Op[None]:
    return Op(parent, lambda: promotions.stop_promotion(clinic, actor, promotion_id))


# --- SMS templates and channel ----------------------------------------------------------------------


def list_templates(parent: QWidget | None, clinic: Clinic, actor: Actor, *,
                   include_inactive: bool = False) -> Op[list[Template]]:
    return read(parent, lambda: sms.list_templates(clinic, actor, include_inactive=include_inactive))


def save_template(parent: QWidget, clinic: Clinic, actor: Actor, template_id: int | None,
                  values: dict[str, Any]) -> Op[int]:
    return Op(parent, lambda: sms.save_template(clinic, actor, template_id, values))


def set_template_active(parent: QWidget, clinic: Clinic, actor: Actor, template_id: int, active: bool) -> Op[None]:
    return Op(parent, lambda: sms.set_template_active(clinic, actor, template_id, active))


def delete_template(parent: QWidget, clinic: Clinic, actor: Actor, template_id: int) -> Op[None]:
    return Op(parent, lambda: sms.delete_template(clinic, actor, template_id))


def channel_settings(parent: QWidget | None, clinic: Clinic, actor: Actor) -> Op[ChannelView]:
    return read(parent, lambda: sms.channel_settings(clinic, actor))


def save_channel(parent: QWidget, clinic: Clinic, actor: Actor, values: dict[str, Any]) -> Op[ChannelView]:
    """Save the channel, then read it back as shown (secrets never come back, only their hints)."""

    def save() -> ChannelView:
        sms.save_channel_settings(clinic, actor, values)
        return sms.channel_settings(clinic, actor)

    return Op(parent, save)


def test_channel(parent: QWidget, clinic: Clinic, actor: Actor) -> Op[str]:
    return io(parent, lambda: str(sms_jobs.test_connection(clinic, actor)))


# --- this PC's devices (settings kept in a file of this PC) -----------------------------------------


def save_printer(parent: QWidget, kind: str, target: str, width_mm: int, pdf_font: str) -> Op[None]:
    """The printer and the PDF font are both checked first and written only when both are right."""

    def save(check: bool) -> None:
        errors: dict[str, str] = {}
        try:
            workstation.save_printer_setting(kind, target, width_mm, check=check)
        except ValidationError as e:
            errors.update(e.errors)
        try:
            workstation.save_pdf_font_setting(pdf_font, check=check)
        except ValidationError as e:
            errors.update(e.errors)
        if errors:
            raise ValidationError(errors)

    def run() -> None:
        save(check=True)
        save(check=False)

    return io(parent, run)


def print_test_page(parent: QWidget) -> Op[None]:
    return io(parent, lambda: receipting.print_test_page(workstation.printer_setting()))


def describe_automatic_font(parent: QWidget | None) -> Op[str]:
    """The font found on this PC (the search loads font files)."""
    return io(parent, pdf_fonts.describe_automatic).busy()


def check_font(parent: QWidget | None, path: str) -> Op[str | None]:
    """Load a typed font ahead of 保存 (the check is remembered)."""
    return io(parent, lambda: pdf_fonts.font_problem(path)).busy()


def save_callerid(parent: QWidget, callerid: dict[str, Any], recording: dict[str, Any]) -> Op[None]:
    """The caller-ID box and the recording, both checked first and written only when both are right."""

    def save(check: bool) -> None:
        errors: dict[str, str] = {}
        try:
            workstation.save_callerid_setting(check=check, **callerid)
        except ValidationError as e:
            errors.update(e.errors)
        try:
            workstation.save_recording_setting(check=check, **recording)
        except ValidationError as e:
            errors.update(e.errors)
        if errors:
            raise ValidationError(errors)

    def run() -> None:
        save(check=True)
        save(check=False)

    return io(parent, run)


def test_callerid(parent: QWidget, port: str) -> Op[str]:
    from devices.callerid import check_connection

    return io(parent, lambda: str(check_connection(port)))


def test_callerid_dll(parent: QWidget, path: str, family: str) -> Op[str]:
    from devices.callerid_dll import check_dll

    return io(parent, lambda: str(check_dll(path, family)))


def sound_inputs(parent: QWidget) -> Op[list[Any]]:
    """The sound card's devices (PortAudio may take a moment)."""
    from devices.audio import default_backend

    return io(parent, lambda: list(default_backend().devices()))
