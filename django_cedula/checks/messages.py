"""What every check shares: a setting's raw value, messages with their stable ids, and loading a
dotted path or its options without raising (a check reports a problem, it never fails itself)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning
from django.utils.module_loading import import_string

from ..conf import DEFAULTS, app_settings
from ..loading import option_problems

ID = "django_cedula.{}"


def raw(name: str) -> Any:
    """The setting as the project wrote it (or its default), before ``app_settings`` reads it."""
    return getattr(settings, app_settings.setting_name(name), DEFAULTS[name])


def error(number: int, name: str, message: str, hint: str) -> Error:
    return Error(f"{app_settings.setting_name(name)}: {message}", hint=hint, id=ID.format(f"E{number:03d}"))


def warning(number: int, message: str, hint: str) -> Warning:
    return Warning(message, hint=hint, id=ID.format(f"W{number:03d}"))


def import_path(path: object) -> tuple[Any, str | None]:
    """What ``path`` names, or ``None`` with the problem in words."""
    if not isinstance(path, str) or not path:
        return None, "must be a dotted path (a string)"
    try:
        return import_string(path), None
    except ImportError as exc:
        return None, f"{path!r} cannot be imported ({exc})"


def options_error(number: int, name: str, cls: type, options: dict[str, Any]) -> Error | None:
    """The error for options ``cls`` does not take, or lacks; by name only (values may be secrets)."""
    problems = option_problems(cls, options)
    if not problems:
        return None
    return error(number, name, problems.describe(), problems.hint(app_settings.setting_name(name)))


def backend_doc_hint() -> str:
    return "See the backend's documentation for its options."
