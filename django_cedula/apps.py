from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CedulaConfig(AppConfig):
    name = "django_cedula"
    verbose_name = _("Cédula validation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, receivers  # noqa: F401 - importing checks registers them

        receivers.connect()
