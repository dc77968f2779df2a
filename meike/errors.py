"""Errors raised by services; their messages are Chinese and shown to the user as they are."""

from __future__ import annotations

from collections.abc import Iterator


class MeikeError(Exception):
    """Base class of every error a service reports to the user."""

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class ValidationError(MeikeError):
    """Bad input. ``errors`` maps a field name to the message shown next to that field."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("；".join(self.errors.values()))

    @classmethod
    def single(cls, field: str, message: str) -> ValidationError:
        return cls({field: message})


class PermissionDenied(MeikeError):
    """The acting user lacks the page, the right or the data scope for this action."""


class AccountChanged(PermissionDenied):
    """The acting user's account was disabled, deleted or changed (pages, rights, scope, department,
    password reset) since the login: nothing was done; the window logs the user out with this message."""


class NotFound(MeikeError):
    """The record does not exist (or is outside the user's data scope and so is not shown)."""


class LoginFailed(MeikeError):
    """Wrong user name or password, a disabled or a locked account."""


class ConflictError(MeikeError):
    """Someone else (another workstation) changed the record after it was opened here; nothing was saved."""


class StorageError(MeikeError):
    """The database could not be written (busy, disk full, read-only, unreachable): nothing of the
    operation was saved, and what was saved before is untouched. ``transient``: worth trying again."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it was raised from (``__cause__`` / ``__context__``) and a driver error under a
    SQLAlchemy one (``.orig``), outermost first."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop(0)
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        orig = getattr(e, "orig", None)
        todo += [orig if isinstance(orig, BaseException) else None, e.__cause__, e.__context__]
