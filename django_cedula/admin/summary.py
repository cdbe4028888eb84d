"""The line above the validations' list: how many rows have each status, and today's captcha spend.

:class:`~.cedula_info.CedulaInfoAdmin` computes them (``status_counts``, ``spend_summary``);
its ``change_list.html`` template shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext, ngettext

from ..management.commands import cedula_stats


@dataclass(frozen=True)
class StatusCount:
    """One status of the changelist's summary: its label, how many rows have it, and its filter."""

    status: str
    label: str
    count: int
    query: str
    selected: bool


@dataclass(frozen=True)
class SpendSummary:
    """Today's captcha spend for the changelist: its figures as short texts, and a link to the
    spend by day (``None`` for staff who may not see it)."""

    figures: list[str]
    url: str | None


def spend_summary_figures(today: dict[str, Any], price_per_1000: float) -> list[str]:
    """The figures of one period (as :func:`~django_cedula.management.commands.cedula_stats.spend_figures`
    gives them) as short translated texts."""
    ratio = today["solves_per_final_validation"]
    return [
        ngettext("%(count)d solve", "%(count)d solves", today["requested"]) % {"count": today["requested"]},
        ngettext("%(count)d token used", "%(count)d tokens used", today["used"]) % {"count": today["used"]},
        ngettext("%(count)d expired", "%(count)d expired", today["expired"]) % {"count": today["expired"]},
        ngettext("%(count)d refused", "%(count)d refused", today["refused"]) % {"count": today["refused"]},
        gettext("no final validation yet")
        if ratio is None
        else gettext("%(ratio)s solves per final validation") % {"ratio": cedula_stats.format_ratio(ratio)},
        gettext("estimated cost %(cost)s at %(price)s")
        % {
            "cost": cedula_stats.format_cost(today["estimated_cost"]),
            "price": cedula_stats.format_price(price_per_1000),
        },
    ]
