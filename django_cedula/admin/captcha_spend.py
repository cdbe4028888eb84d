"""The captcha spend by day, read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from ..captcha import spend
from ..conf import app_settings
from ..management.commands import cedula_stats
from ..models import CaptchaSpend
from .bases import CaptchaSpendModelAdmin


class CaptchaSpendAdmin(CaptchaSpendModelAdmin):
    """The captcha spend, one row per UTC day, newest first, read-only: its counters are written
    by the package (:mod:`django_cedula.captcha.spend`), never by hand."""

    list_display = ("day", *spend.EVENTS, "estimated_cost")
    date_hierarchy = "day"
    ordering = ("-day",)
    fields = readonly_fields = ("day", *spend.EVENTS, "estimated_cost")

    @admin.display(description=_("estimated cost"))
    def estimated_cost(self, obj: CaptchaSpend) -> str:
        """The day's solves at ``CEDULA_CAPTCHA_PRICE_PER_1000``, in that price's currency."""
        return cedula_stats.format_cost(
            cedula_stats.estimated_cost(obj.requested, app_settings.CAPTCHA_PRICE_PER_1000)
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CaptchaSpend | None = None) -> bool:
        # A hand edit would falsify the accounting, and a form saving a stale copy would undo the
        # counts written meanwhile (they are added with UPDATE ... SET n = n + k).
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CaptchaSpend | None = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            "cedula_price": cedula_stats.format_price(app_settings.CAPTCHA_PRICE_PER_1000),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)
