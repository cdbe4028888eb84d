"""``manage.py cedula_stats [--json]``: where validations stand."""

from __future__ import annotations

import datetime
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db.models import Count, Min
from django.db.models.functions import Coalesce
from django.utils import timezone

from ...models import CedulaInfo, CedulaStatus
from ..utils import format_duration

#: Final states that mean the validation gave up.
FAILED_STATUSES = (CedulaStatus.ERROR, CedulaStatus.TIMEOUT, CedulaStatus.BLOCKED)
#: The window of the failure counts.
RECENT = datetime.timedelta(hours=24)


class Command(BaseCommand):
    help = (
        "Count validations per status (every status, zeros included), give the age of the oldest "
        "pending one, and count failures of the last 24 hours: rows that ended as error, timeout or "
        "blocked, and rows with an error kind set (including those still retrying), by their last change. "
        "A few aggregate queries: fast and constant in memory on any number of rows."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the figures as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        stats = collect_stats()
        if options["json"]:
            self.stdout.write(json.dumps(stats, indent=2))
        else:
            self._print(stats)

    def _print(self, stats: dict[str, Any]) -> None:
        labels = dict(CedulaStatus.choices)
        width = max(len(value) for value in labels)
        self.stdout.write(f"{'status':<{width}}  {'rows':>9}")
        for status, count in stats["statuses"].items():
            self.stdout.write(f"{status:<{width}}  {count:>9}  {labels[status]}")
        self.stdout.write(f"{'total':<{width}}  {stats['total']:>9}")
        self.stdout.write("")
        oldest = stats["oldest_pending"]
        if oldest is None:
            self.stdout.write("Oldest pending: none")
        else:
            age = format_duration(datetime.timedelta(seconds=oldest["age_seconds"]))
            self.stdout.write(f"Oldest pending: {age} (requested {oldest['since']})")
        recent = stats["last_24h"]
        self.stdout.write("Last 24 hours (by last change):")
        failed = ", ".join(f"{status} {count}" for status, count in recent["failed"].items())
        self.stdout.write(f"  failed: {sum(recent['failed'].values())} ({failed})")
        codes = ", ".join(f"{code} {count}" for code, count in recent["error_codes"].items())
        self.stdout.write(
            f"  with an error kind: {recent['with_error_code']}" + (f" ({codes})" if codes else "")
        )


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
