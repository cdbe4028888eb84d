"""The validation state of each user's cédula."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .numbers import MAX_LENGTH


class CedulaStatus(models.TextChoices):
    """Where a validation stands. Also reachable as ``CedulaInfo.Status``."""

    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    RETRYING = "retrying", _("Waiting to retry")
    ACTIVE = "active", _("Active")
    NOT_FOUND = "not_found", _("Not in the census")
    CANCELLED_DECEASED = "cancelled_deceased", _("Cancelled (deceased)")
    CANCELLED_OTHER = "cancelled_other", _("Cancelled (other)")
    INVALID = "invalid", _("Invalid number")
    ERROR = "error", _("Error")
    TIMEOUT = "timeout", _("Timed out")
    BLOCKED = "blocked", _("Blocked by the source")


#: States no job will change again.
FINAL_STATUSES = frozenset(
    {
        CedulaStatus.ACTIVE,
        CedulaStatus.NOT_FOUND,
        CedulaStatus.CANCELLED_DECEASED,
        CedulaStatus.CANCELLED_OTHER,
        CedulaStatus.INVALID,
        CedulaStatus.ERROR,
        CedulaStatus.TIMEOUT,
        CedulaStatus.BLOCKED,
    }
)


class CedulaInfo(models.Model):
    """What the Registraduría said about one user's cédula, and where its validation stands."""

    Status = CedulaStatus
    FINAL_STATUSES = FINAL_STATUSES

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="cedula_info",
        verbose_name=_("user"),
    )
    cedula = models.CharField(_("cédula"), max_length=MAX_LENGTH, db_index=True)
    status = models.CharField(
        _("status"), max_length=20, choices=CedulaStatus.choices, default=CedulaStatus.PENDING, db_index=True
    )

    # The place and novedad fields keep the census's own (Spanish) names in code; their labels are
    # the one vocabulary the admin, the host pieces and the docs use: English here, Spanish in the
    # catalogue (departamento, municipio, puesto de votación, dirección, mesa; novedad, ...).
    departamento = models.CharField(_("department"), max_length=100, blank=True)
    municipio = models.CharField(_("municipality"), max_length=100, blank=True)
    puesto = models.CharField(_("polling station"), max_length=255, blank=True)
    direccion = models.CharField(_("address"), max_length=255, blank=True)
    mesa = models.CharField(_("voting table"), max_length=20, blank=True)

    novedad = models.CharField(_("record note"), max_length=255, blank=True)
    resolucion = models.CharField(_("resolution"), max_length=100, blank=True)
    fecha_novedad = models.CharField(
        _("date of the record note"), max_length=50, blank=True, help_text=_("As the source writes it.")
    )
    source = models.CharField(
        _("answered by"),
        max_length=40,
        blank=True,
        help_text=_("The source whose answer is stored (an entry of CEDULA_SCRAPER)."),
    )

    fetched_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    error_code = models.CharField(
        _("last error kind"), max_length=20, blank=True, help_text=_("timeout, network_error, blocked, ...")
    )
    error_message = models.TextField(_("last error"), blank=True)
    raw_response = models.TextField(_("raw response"), blank=True)
    retry_count = models.PositiveSmallIntegerField(_("retries"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    requested_at = models.DateTimeField(
        _("requested at"), null=True, blank=True, help_text=_("When this validation was last asked for.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, db_index=True)

    class Meta:
        verbose_name = _("cédula validation")
        verbose_name_plural = _("cédula validations")
        permissions = [("view_raw_response", _("Can view raw responses from the source"))]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.get_status_display()}"

    @property
    def is_final(self) -> bool:
        """Whether validation has ended (successfully or not); no job will change the row again."""
        return self.status in self.FINAL_STATUSES


class CaptchaSpend(models.Model):
    """What the captcha solves of one day (UTC) came to: one row a day, counters only.

    Written by :mod:`django_cedula.captcha.spend`; read by ``cedula_stats`` and the admin.
    """

    day = models.DateField(_("day"), unique=True)
    #: Solves asked of the service (by the token supply or by a lookup for itself).
    requested = models.PositiveIntegerField(_("solves requested"), default=0)
    #: Solves that came back with a token.
    delivered = models.PositiveIntegerField(_("tokens delivered"), default=0)
    #: Tokens a lookup sent to the site.
    used = models.PositiveIntegerField(_("tokens used"), default=0)
    #: Tokens thrown away unused once older than CEDULA_CAPTCHA_TOKEN_MAX_AGE.
    expired = models.PositiveIntegerField(_("tokens expired unused"), default=0)
    #: Tokens the site refused (reported to the service as incorrect where it supports it).
    refused = models.PositiveIntegerField(_("tokens refused by the site"), default=0)
    #: Solves that failed or gave up (no token).
    failed = models.PositiveIntegerField(_("solves failed"), default=0)

    class Meta:
        verbose_name = _("captcha spend")
        verbose_name_plural = _("captcha spend")
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day}: {self.requested} solves"
