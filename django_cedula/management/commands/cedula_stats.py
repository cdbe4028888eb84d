"""``manage.py cedula_stats [--json]``: where validations stand, and what the captcha solves cost.

The captcha figures come from :class:`~django_cedula.models.CaptchaSpend`, one row per UTC day, so
their periods are days: *today* (the UTC day so far), the *last 7 days* (today and the six days
before) and *all time*. :func:`collect_captcha_stats` and :func:`spend_figures` are also what the
admin shows above the list of validations.
"""

from __future__ import annotations

import datetime
import json
import math
from collections.abc import Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ... import health, throttle
from ...captcha import spend
from ...captcha.base import price_per_1000
from ...captcha.supply import supply_status
from ...conf import app_settings
from ...models import FINAL_STATUSES, CaptchaSpend, CedulaInfo, CedulaStatus
from ...results import Vigencia
from ...scrapers.chain import configured_sources, source_names
from ...scrapers.vigencia import Precheck
from ..console import format_duration

#: Final states that mean the validation gave up.
FAILED_STATUSES = (CedulaStatus.ERROR, CedulaStatus.TIMEOUT, CedulaStatus.BLOCKED)
#: The window of the failure counts.
RECENT = datetime.timedelta(hours=24)
#: The periods of the captcha figures: their JSON key, and how many days before today (UTC) they
#: reach back (``None``: every day).
CAPTCHA_PERIODS: dict[str, int | None] = {"today": 0, "last_7_days": 6, "all_time": None}


class Command(BaseCommand):
    help = (
        "Count validations per status (every status, zeros included), give the age of the oldest "
        "pending one, and count failures of the last 24 hours: rows that ended as error, timeout or "
        "blocked, and rows with an error kind set (including those still retrying), by their last change. "
        "Then the captcha spend, from its day rows (days in UTC): today (the UTC day so far), the last "
        "7 days (today and the 6 days before) and all time: solves requested, tokens delivered, used, "
        "expired unused and refused by the site, solves failed, solves per final validation (solves "
        "requested / validations whose row reached a final status in the period, by its last change), "
        "the expired share of solves and an estimated cost (solves x the solver's price_per_1000 / "
        "1000, in that price's currency); and the token supply's live status, read from the cache "
        "('unavailable' when the cache cannot be read); and the pauses after a block still running, "
        "every source's and each source's of a CEDULA_SOURCES chain; and each source's health: in "
        "service, or out of service since when and why, and the rows waiting for a source (manage.py "
        "cedula_sources tells more); and the free pre-check (CEDULA_PRECHECK): the pre-checks made (rows "
        "with a vigencia), by answer, and the solves saved (rows its answer ended: no census lookup). "
        "A few aggregate queries: fast and constant in memory on any number of rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        stats = collect_stats()
        stats["captcha"] = collect_captcha_stats()
        stats["pauses"] = collect_pauses()
        stats["sources"] = collect_sources()
        stats["precheck"] = collect_precheck()
        if options["json"]:
            self.stdout.write(json.dumps(stats, indent=2))
        else:
            self._print(stats)

    def _print(self, stats: dict[str, Any]) -> None:
        # Statuses by their values (as --status and the JSON name them), then their labels.
        labels = dict(CedulaStatus.choices)
        heading, rows_heading, total = _("status"), _("rows"), _("total")
        width = max(len(heading), len(total), *(len(value) for value in labels))
        self.stdout.write(f"{heading:<{width}}  {rows_heading:>9}")
        for status, count in stats["statuses"].items():
            self.stdout.write(f"{status:<{width}}  {count:>9}  {labels[status]}")
        self.stdout.write(f"{total:<{width}}  {stats['total']:>9}")
        self.stdout.write("")
        oldest = stats["oldest_pending"]
        if oldest is None:
            self.stdout.write(_("Oldest pending: none"))
        else:
            age = format_duration(datetime.timedelta(seconds=oldest["age_seconds"]))
            self.stdout.write(
                _("Oldest pending: %(age)s (requested %(since)s)") % {"age": age, "since": oldest["since"]}
            )
        recent = stats["last_24h"]
        self.stdout.write(_("Last 24 hours (by last change):"))
        failed = ", ".join(f"{status} {count}" for status, count in recent["failed"].items())
        self.stdout.write(
            "  "
            + _("failed: %(count)d (%(statuses)s)")
            % {"count": sum(recent["failed"].values()), "statuses": failed}
        )
        codes = ", ".join(f"{code} {count}" for code, count in recent["error_codes"].items())
        self.stdout.write(
            "  "
            + _("with an error kind: %(count)d") % {"count": recent["with_error_code"]}
            + (f" ({codes})" if codes else "")
        )
        self.stdout.write("")
        for line in format_captcha(stats["captcha"]):
            self.stdout.write(line)
        self.stdout.write(format_pauses(stats["pauses"]))
        self.stdout.write(format_sources(stats["sources"]))
        self.stdout.write(format_precheck(stats["precheck"]))


def collect_stats(*, now: datetime.datetime | None = None) -> dict[str, Any]:
    """The figures ``cedula_stats`` prints, as a JSON-ready dict; four aggregate queries."""
    now = now or timezone.now()
    rows = CedulaInfo.objects.all()
    counted = dict(
        rows.order_by().values_list("status").annotate(count=Count("pk")).values_list("status", "count")
    )
    statuses = {status: counted.get(status, 0) for status in CedulaStatus.values}

    oldest = rows.filter(status=CedulaStatus.PENDING).aggregate(
        since=Min(Coalesce("requested_at", "created_at"))
    )["since"]
    since = now - RECENT
    recent = rows.filter(updated_at__gte=since)
    failed = dict(
        recent.filter(status__in=FAILED_STATUSES)
        .order_by()
        .values_list("status")
        .annotate(count=Count("pk"))
        .values_list("status", "count")
    )
    codes = dict(
        recent.exclude(error_code="")
        .order_by()
        .values_list("error_code")
        .annotate(count=Count("pk"))
        .values_list("error_code", "count")
    )
    return {
        "generated_at": now.isoformat(),
        "total": sum(statuses.values()),
        "statuses": statuses,
        "oldest_pending": None
        if oldest is None
        else {"since": oldest.isoformat(), "age_seconds": round((now - oldest).total_seconds(), 1)},
        "last_24h": {
            "since": since.isoformat(),
            "failed": {str(status): failed.get(status, 0) for status in FAILED_STATUSES},
            "with_error_code": sum(codes.values()),
            "error_codes": dict(sorted(codes.items())),
        },
    }


# Captcha spend ------------------------------------------------------------------------------


def start_of_day(day: datetime.date) -> datetime.datetime:
    """Midnight UTC at the start of ``day`` (the spend's days are UTC days)."""
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.timezone.utc)


def estimated_cost(requested: int, price_per_1000: float) -> float:
    """``requested`` solves at ``price_per_1000``, rounded half up to cents."""
    cost = Decimal(requested) * Decimal(str(price_per_1000)) / 1000
    return float(cost.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def spend_figures(
    counters: Mapping[str, int], final_validations: int, price_per_1000: float
) -> dict[str, Any]:
    """One period's figures: the six counters, the validations that ended in it, and the ratios.

    ``solves_per_final_validation`` is solves requested / final validations (``None`` without any
    final validation); ``expired_share`` is tokens expired unused / solves requested (``None``
    without any solve). Both can be read against the goals: at most 1.10 solves per final
    validation, and few tokens expired.
    """
    requested = int(counters.get("requested", 0))
    expired = int(counters.get("expired", 0))
    return {
        **{event: int(counters.get(event, 0)) for event in spend.EVENTS},
        "final_validations": final_validations,
        "solves_per_final_validation": round(requested / final_validations, 2) if final_validations else None,
        "expired_share": round(expired / requested, 4) if requested else None,
        "estimated_cost": estimated_cost(requested, price_per_1000),
    }


def final_validations(starts: Mapping[str, datetime.date | None]) -> dict[str, int]:
    """How many rows reached a final status in each period (one query): rows whose status is final
    and whose last change (``updated_at``) falls on or after the period's first UTC midnight."""
    counts = CedulaInfo.objects.filter(status__in=FINAL_STATUSES).aggregate(
        **{
            name: Count("pk") if day is None else Count("pk", filter=Q(updated_at__gte=start_of_day(day)))
            for name, day in starts.items()
        }
    )
    return {name: int(counts[name] or 0) for name in starts}


def read_supply_status() -> dict[str, Any]:
    """The token supply's live status, with ``available``; ``{"available": False, "error": kind}``
    when it cannot be read (the cache is down or refuses), so that a report never fails for it."""
    try:
        status = supply_status()
    except Exception as exc:  # a cache that is down raises its client's own errors (redis, pymemcache...)
        return {"available": False, "error": type(exc).__name__}
    return {"available": True, **status}


def collect_captcha_stats(
    *,
    now: datetime.datetime | None = None,
    periods: Mapping[str, int | None] = CAPTCHA_PERIODS,
    supply: bool = True,
) -> dict[str, Any]:
    """The captcha section of ``cedula_stats``, JSON-ready: the price, each period's figures (its
    first UTC day as ``since``, ``None`` for all time) and, with ``supply``, the supply's status.

    Counts not yet written by this process (:func:`~django_cedula.captcha.spend.pending`) are
    included. Two queries per period and one for the validations."""
    now = now or timezone.now()
    today = now.astimezone(datetime.timezone.utc).date()
    price = price_per_1000()
    starts = {
        name: None if back is None else today - datetime.timedelta(days=back)
        for name, back in periods.items()
    }
    finals = final_validations(starts)
    stats: dict[str, Any] = {"price_per_1000": price, "days": "UTC"}
    for name, since in starts.items():
        stats[name] = {
            "since": None if since is None else since.isoformat(),
            **spend_figures(spend.totals(since), finals[name], price),
        }
    if supply:
        stats["supply"] = read_supply_status()
    return stats


def format_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def format_cost(value: float) -> str:
    return f"{value:.2f}"


def format_price(price: float) -> str:
    """The price the costs are estimated at, named as it is configured (the solver's option)."""
    return f"CEDULA_CAPTCHA_SOLVER price_per_1000 = {price}"


def format_supply(supply: Mapping[str, Any]) -> str:
    """The supply's status as one line of text."""
    if not supply.get("available"):
        return _("Token supply: unavailable (%(error)s: the cache could not be read).") % {
            "error": supply.get("error", "?")
        }
    state = _("on") if supply["enabled"] else _("off: each lookup solves for itself")
    details = ", ".join(
        [
            ngettext("%(count)d token ready", "%(count)d tokens ready", supply["stock"])
            % {"count": supply["stock"]},
            ngettext("%(count)d solve in flight", "%(count)d solves in flight", supply["in_flight"])
            % {"count": supply["in_flight"]},
            _("solve latency about %(seconds)s s") % {"seconds": supply["latency_estimate"]},
            ngettext("%(count)d target", "%(count)d targets", supply["targets"])
            % {"count": supply["targets"]},
        ]
    )
    return _("Token supply: %(state)s; %(details)s.") % {"state": state, "details": details}


def counter_label(event: str) -> str:
    """The name of counter ``event``: its field's verbose name ("tokens expired unused")."""
    field = CaptchaSpend._meta.get_field(event)
    return str(getattr(field, "verbose_name", event))


def format_captcha(captcha: Mapping[str, Any]) -> list[str]:
    """The captcha section of ``cedula_stats`` as lines of text: a table of the periods, the price
    the costs were estimated at, and the supply's status."""
    titles = {"today": _("today"), "last_7_days": _("last 7 days"), "all_time": _("all time")}
    periods = [name for name in titles if name in captcha]
    rows: list[tuple[str, list[str]]] = [
        (counter_label(event), [str(captcha[p][event]) for p in periods]) for event in spend.EVENTS
    ]
    rows += [
        (_("final validations"), [str(captcha[p]["final_validations"]) for p in periods]),
        (
            _("solves per final validation"),
            [format_ratio(captcha[p]["solves_per_final_validation"]) for p in periods],
        ),
        (_("expired share of solves"), [format_share(captcha[p]["expired_share"]) for p in periods]),
        (_("estimated cost"), [format_cost(captcha[p]["estimated_cost"]) for p in periods]),
    ]
    label_width = max(len(label) for label, _cells in rows)
    widths = [max(len(titles[p]), *(len(cells[i]) for _label, cells in rows)) for i, p in enumerate(periods)]
    lines = [
        _("Captcha solves (days in UTC; today since 00:00 UTC):"),
        "  "
        + " " * label_width
        + "".join(f"  {titles[p]:>{w}}" for p, w in zip(periods, widths, strict=True)),
    ]
    for label, cells in rows:
        lines.append(
            f"  {label:<{label_width}}" + "".join(f"  {c:>{w}}" for c, w in zip(cells, widths, strict=True))
        )
    lines.append(
        "  "
        + _("Estimated cost today: %(cost)s at %(price)s (in that price's currency).")
        % {
            "cost": format_cost(captcha["today"]["estimated_cost"]),
            "price": format_price(captcha["price_per_1000"]),
        }
    )
    if "supply" in captcha:
        lines.append(format_supply(captcha["supply"]))
    return lines


# Pauses after a block -----------------------------------------------------------------------


def collect_pauses(now: float | None = None) -> dict[str, Any]:
    """The pauses after a block, JSON-ready: seconds left of every source's (``every_source``: a
    single scraper's, or one that stops a whole chain) and of each source's of a ``CEDULA_SOURCES``
    chain (``sources``, in the chain's order), 0 where none runs; ``{"available": False, "error":
    kind}`` when the cache cannot be read, so that a report never fails for it. One cache call."""
    sources = configured_sources()
    try:
        found = throttle.pauses(sources, now)
    except Exception as exc:  # a cache that is down raises its client's own errors
        return {"available": False, "error": type(exc).__name__}
    return {
        "available": True,
        "every_source": round(found["every_source"], 1),
        "sources": {name: round(left, 1) for name, left in found["sources"].items()},
    }


def running_pauses(pauses: Mapping[str, Any]) -> list[str]:
    """The pauses still running as short texts, every source's first: "wsp for 9m 12s"."""
    if not pauses.get("available"):
        return []
    running = [(_("every source"), pauses["every_source"])] if pauses["every_source"] > 0 else []
    running += [(name, left) for name, left in pauses["sources"].items() if left > 0]
    return [
        _("%(source)s for %(left)s")
        % {"source": name, "left": format_duration(datetime.timedelta(seconds=math.ceil(left)))}
        for name, left in running
    ]


def format_pauses(pauses: Mapping[str, Any]) -> str:
    """The pauses after a block as one line of text."""
    if not pauses.get("available"):
        return _("Pauses after a block: unavailable (%(error)s: the cache could not be read).") % {
            "error": pauses.get("error", "?")
        }
    running = running_pauses(pauses)
    if not running:
        return _("Pauses after a block: none.")
    return _("Pauses after a block: %(pauses)s.") % {"pauses": ", ".join(running)}


# Source health --------------------------------------------------------------------------------


def collect_sources() -> dict[str, Any]:
    """Each configured source's health, JSON-ready: ``sources`` (in ``CEDULA_SOURCES``' order) maps
    its name to ``in_service``, ``since`` (ISO 8601, ``None`` in service), ``reason`` and
    ``reason_text``; ``rows_waiting`` counts the rows waiting for a source out of service (one
    query). ``{"available": False, "error": kind, "rows_waiting": n}`` when the cache cannot be read."""
    waiting = CedulaInfo.objects.waiting_for_sources().count()
    try:
        found = health.states(source_names())
    except Exception as exc:  # a cache that is down raises its client's own errors
        return {"available": False, "error": type(exc).__name__, "rows_waiting": waiting}
    return {
        "available": True,
        "sources": {
            state.source: {
                "in_service": state.in_service,
                "since": None
                if state.since is None
                else datetime.datetime.fromtimestamp(state.since, datetime.timezone.utc).isoformat(),
                "reason": state.reason,
                "reason_text": state.reason_text if state.reason else "",
            }
            for state in found
        },
        "rows_waiting": waiting,
    }


def format_sources(sources: Mapping[str, Any]) -> str:
    """The sources' health as one line of text."""
    waiting = ngettext("%(count)d row waiting", "%(count)d rows waiting", sources["rows_waiting"]) % {
        "count": sources["rows_waiting"]
    }
    if not sources.get("available"):
        return _("Sources: unavailable (%(error)s: the cache could not be read); %(waiting)s.") % {
            "error": sources.get("error", "?"),
            "waiting": waiting,
        }
    parts = [
        _("%(source)s in service") % {"source": name}
        if item["in_service"]
        else _("%(source)s out of service since %(since)s (%(reason)s)")
        % {"source": name, "since": item["since"], "reason": item["reason_text"]}
        for name, item in sources["sources"].items()
    ]
    return _("Sources: %(sources)s; %(waiting)s.") % {
        "sources": ", ".join(parts) or _("none"),
        "waiting": waiting,
    }


# The free pre-check ---------------------------------------------------------------------------

#: The pre-check's answers as the rows keep them (``CedulaInfo.vigencia``).
VIGENCIAS = tuple(vigencia.value for vigencia in Vigencia)


def collect_precheck() -> dict[str, Any]:
    """The pre-check's figures, JSON-ready (one query): whether one is configured; ``made``, the rows
    it answered (their ``vigencia`` is set), ``by_answer`` of them; ``solves_saved``, the rows its
    answer ended (source ``vigencia``, a final status: the census lookup and its solve were not
    needed); and the ``estimated_saving`` at the solver's ``price_per_1000``."""
    rows = CedulaInfo.objects.all()
    counts = rows.aggregate(
        made=Count("pk", filter=~Q(vigencia="")),
        saved=Count("pk", filter=Q(source=Precheck.source_name, status__in=FINAL_STATUSES)),
        **{vigencia: Count("pk", filter=Q(vigencia=vigencia)) for vigencia in VIGENCIAS},
    )
    saved = int(counts["saved"] or 0)
    return {
        "configured": app_settings.PRECHECK is not None,
        "made": int(counts["made"] or 0),
        "by_answer": {vigencia: int(counts[vigencia] or 0) for vigencia in VIGENCIAS},
        "solves_saved": saved,
        "estimated_saving": estimated_cost(saved, price_per_1000()),
    }


def format_precheck(precheck: Mapping[str, Any]) -> str:
    """The pre-check's figures as one line of text."""
    state = _("on") if precheck["configured"] else _("off")
    answers = ", ".join(f"{name} {count}" for name, count in precheck["by_answer"].items())
    return _(
        "Pre-check (vigencia): %(state)s; %(made)d made (%(answers)s), %(saved)d solves saved "
        "(about %(saving)s at %(price)s)."
    ) % {
        "state": state,
        "made": precheck["made"],
        "answers": answers,
        "saved": precheck["solves_saved"],
        "saving": format_cost(precheck["estimated_saving"]),
        "price": format_price(price_per_1000()),
    }


def out_of_service_notes() -> list[str]:
    """One sentence per source out of service, for the line above the admin's list of validations,
    then one about the rows waiting and what to run; ``[]`` when every source is in service or the
    cache cannot be read (logged by :func:`~django_cedula.health.out_of_service`)."""
    out = health.out_of_service(source_names())
    if not out:
        return []
    notes = [
        _("Source %(source)s is out of service since %(since)s: %(reason)s.")
        % {"source": state.source, "since": health.since_text(state.since), "reason": state.reason_text}
        for state in out
    ]
    waiting = CedulaInfo.objects.waiting_for_sources().count()
    notes.append(
        ngettext(
            "%(count)d row waits; none pays an attempt.",
            "%(count)d rows wait; none pays an attempt.",
            waiting,
        )
        % {"count": waiting}
    )
    notes.append(
        _(
            "Run manage.py cedula_sources %(source)s --sample to see what it answered, and after upgrading "
            "django-cedula: manage.py cedula_sources --resume %(source)s."
        )
        % {"source": out[0].source}
    )
    return notes
