"""``manage.py cedula_lookup NUMBER [--json]``: one lookup with the configured scraper.

Under ``CEDULA_PRIVACY["REQUIRE_CONSENT"]`` a number is looked up only when it belongs to a user
whose authorization is in force (the number in the user field, ``CEDULA_USER_FIELD``, or on their
validation row), or with ``--holder-authorized``: the operator's statement that the site holds the
holder's authorization by other means. That statement is not recorded in the database (nothing
this command does is); it is logged, with the masked number and the operating-system user, as the
operator's responsibility.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models
from django.utils.translation import gettext

from ...conf import app_settings
from ...exceptions import InvalidCedulaError
from ...models import CedulaConsent, CedulaInfo
from ...numbers import normalize_cedula
from ...privacy import mask_cedula, redact
from ...results import ScrapeResult, ScrapeStatus
from ...scrapers import get_scraper
from ...scrapers.base import source_name

#: Exit status for a lookup that ended in a transient failure (timeout, blocked, ...).
EXIT_FAILURE = 1
#: Exit status for a number refused before any network traffic.
EXIT_INVALID = 2
#: Exit status for a number whose holder's authorization is required and not in force.
EXIT_NO_CONSENT = 3

logger = logging.getLogger("django_cedula.management")


def holders_authorized(cedula: str) -> bool:
    """Whether a user holding ``cedula`` (in the user field, when it is a column, or on their
    validation row) has an authorization in force."""
    user_ids: set[Any] = set(CedulaInfo.objects.filter(cedula=cedula).values_list("user_id", flat=True))
    user_model = get_user_model()
    try:
        field = user_model._meta.get_field(app_settings.USER_FIELD)
    except FieldDoesNotExist:
        field = None
    if isinstance(field, models.Field) and field.concrete:
        holders = user_model._default_manager.filter(**{field.name: cedula})
        user_ids.update(holders.values_list("pk", flat=True))
    return bool(user_ids) and CedulaConsent.objects.in_force().filter(user_id__in=user_ids).exists()


class Command(BaseCommand):
    help = (
        "Look one cédula up with the configured sources (CEDULA_SOURCES: one source, or a fallback chain) "
        "and print the result. "
        "Exits 0 for a final answer (found, not found, cancelled), 1 for a failure, 2 for an invalid number, "
        "3 for a number whose holder has not authorized the lookup (CEDULA_PRIVACY's REQUIRE_CONSENT). "
        "Nothing is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("number", help="the cédula; dots, spaces and dashes are ignored")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        parser.add_argument("--raw", action="store_true", help="include the source's raw answer")
        parser.add_argument(
            "--holder-authorized",
            action="store_true",
            help=(
                "look the number up although no user holding it has an authorization recorded: you "
                "state that the site holds the holder's authorization, and take responsibility for it "
                "(logged, not recorded)"
            ),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            cedula = normalize_cedula(options["number"])
        except InvalidCedulaError as exc:
            raise CommandError(
                gettext("Invalid cédula: %(reason)s.") % {"reason": exc}, returncode=EXIT_INVALID
            ) from exc
        self._check_authorization(cedula, declared=options["holder_authorized"])
        scraper = get_scraper()
        try:
            result = ScrapeResult.coerce(scraper.scrape_cedula(cedula))
        except Exception as exc:
            # A scraper should return failures as results; one that raises still gets a clear
            # message and exit status, never a traceback (and never the full number).
            first = (str(exc).strip().splitlines() or [""])[0]
            detail = redact(first, cedula)[:300]
            message = gettext("Lookup failed: the scraper raised %(error)s") % {"error": type(exc).__name__}
            raise CommandError(message + (f": {detail}" if detail else ""), returncode=EXIT_FAILURE) from exc
        if not result.source:
            # A single scraper may leave it to the job to name it; a chain names the entry that answered.
            result = dataclasses.replace(result, source=source_name(scraper))
        if options["json"]:
            data = self._as_json(result, raw=options["raw"])
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
        else:
            self.stdout.write(self._as_text(result, cedula))
        if not result.status.is_final:
            raise CommandError(
                gettext("Lookup failed: %(status)s.") % {"status": result.status.value},
                returncode=EXIT_FAILURE,
            )

    def _check_authorization(self, cedula: str, *, declared: bool) -> None:
        """No lookup without the holder's authorization (``CEDULA_PRIVACY["REQUIRE_CONSENT"]``)."""
        if not app_settings.REQUIRE_CONSENT or holders_authorized(cedula):
            return
        if declared:
            try:
                operator = getpass.getuser()
            except Exception:  # no user name in this environment
                operator = "unknown"
            logger.warning(
                "cedula_lookup of %s under --holder-authorized: the operator (%s) states the holder "
                "authorized it",
                mask_cedula(cedula),
                operator,
            )
            return
        raise CommandError(
            gettext(
                "No user holding this number has authorized the lookup (CEDULA_PRIVACY's "
                "REQUIRE_CONSENT). Record their authorization, or pass --holder-authorized if the site "
                "holds it by other means."
            ),
            returncode=EXIT_NO_CONSENT,
        )

    def _as_json(self, result: ScrapeResult, *, raw: bool) -> dict[str, Any]:
        """The result's fields as strings, ``http_status`` as a number and only when the source
        answered with a server error (0 means there was none), ``raw_html`` only with ``--raw``."""
        data: dict[str, Any] = result.as_dict()
        if not raw:
            del data["raw_html"]
        if result.http_status:
            data["http_status"] = result.http_status
        else:
            del data["http_status"]
        return data

    def _as_text(self, result: ScrapeResult, cedula: str) -> str:
        """The result as ``name: value`` lines, its error redacted."""
        # Names and values as the JSON output and ScrapeResult spell them, in every language.
        lines = [f"status: {result.status.value}", f"source: {result.source}"]
        fields = {
            ScrapeStatus.FOUND: ("departamento", "municipio", "puesto", "direccion", "mesa"),
            ScrapeStatus.CANCELLED: ("novedad", "resolucion", "fecha_novedad"),
        }.get(result.status, ())
        lines += [f"{name}: {getattr(result, name)}" for name in fields]
        if result.http_status:
            lines.append(f"http_status: {result.http_status}")
        if result.error:
            lines.append(f"error: {redact(result.error, cedula)}")
        return "\n".join(lines)
