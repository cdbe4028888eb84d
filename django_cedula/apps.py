from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CedulaConfig(AppConfig):
    name = "django_cedula"
    verbose_name = _("Cédula validation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks, services, sweeper  # noqa: F401 - importing checks registers them

        services.connect_receivers()
        # The sweep's Django-Q2 schedule is kept in step with CEDULA_SWEEP["SCHEDULE"] after each
        # migrate, not here: ready() must not touch the database.
        post_migrate.connect(
            sweeper.schedule_after_migrate, sender=self, dispatch_uid="django_cedula.sweeper.schedule"
        )
