from __future__ import annotations

from pathlib import Path
from typing import Any

from django.test import override_settings

from django_cedula.conf import DEFAULTS, app_settings

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_defaults_apply_when_a_setting_is_missing() -> None:
    assert app_settings.USER_FIELD == "cedula"
    assert app_settings.TASK_BACKEND == "django_cedula.backends.inline.InlineBackend"  # the tests' own
    assert DEFAULTS["TASK_BACKEND"] == "django_cedula.backends.django_q.DjangoQBackend"
    assert DEFAULTS["RETRY_DELAYS"] == [60, 300, 900]


def test_settings_are_read_lazily(settings: Any) -> None:
    settings.CEDULA_RETRY_DELAYS = [1, 2]
    assert app_settings.RETRY_DELAYS == [1, 2]
    with override_settings(CEDULA_RETRY_DELAYS=[]):
        assert app_settings.RETRY_DELAYS == []
    assert app_settings.RETRY_DELAYS == [1, 2]


def test_every_setting_has_a_property() -> None:
    for name in DEFAULTS:
        assert hasattr(app_settings, name), name


def test_every_setting_is_in_the_settings_reference() -> None:
    reference = (DOCS / "settings.rst").read_text()
    missing = [name for name in DEFAULTS if f"``CEDULA_{name}``" not in reference]
    assert missing == []
