"""``manage.py cedula_sweep [--dry-run]``: re-queue validations whose job was lost."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext, ngettext

from ...sweeper import CHUNK_SIZE, candidates, sweep
from ..console import ProgressBar, bounded_int

#: The most rows read per query: a chunk is held in memory, and read again after each update.
MAX_CHUNK_SIZE = 10_000


def purge_lines(raw_responses: int, places: int, *, dry_run: bool) -> list[str]:
    """The purge's counts as sentences (for this command and ``cedula_sweep``)."""
    if dry_run:
        raw = ngettext(
            "%(count)d raw answer would be blanked (older than CEDULA_PRIVACY's RAW_RESPONSE_DAYS)",
            "%(count)d raw answers would be blanked (older than CEDULA_PRIVACY's RAW_RESPONSE_DAYS)",
            raw_responses,
        )
        place = ngettext(
            "%(count)d voting place would be blanked (older than CEDULA_PRIVACY's PLACE_DAYS)",
            "%(count)d voting places would be blanked (older than CEDULA_PRIVACY's PLACE_DAYS)",
            places,
        )
    else:
        raw = ngettext(
            "%(count)d raw answer blanked (older than CEDULA_PRIVACY's RAW_RESPONSE_DAYS)",
            "%(count)d raw answers blanked (older than CEDULA_PRIVACY's RAW_RESPONSE_DAYS)",
            raw_responses,
        )
        place = ngettext(
            "%(count)d voting place blanked (older than CEDULA_PRIVACY's PLACE_DAYS)",
            "%(count)d voting places blanked (older than CEDULA_PRIVACY's PLACE_DAYS)",
            places,
        )
    return [raw % {"count": raw_responses}, place % {"count": places}]


class Command(BaseCommand):
    help = (
        "Queue again the validations whose job was lost: rows pending longer than "
        'CEDULA_SWEEP["PENDING_AFTER"] (the broker was down), retrying that long past their '
        'next_attempt_at, or processing longer than CEDULA_SWEEP["PROCESSING_AFTER"] (the worker died). '
        'Safe to run often, e.g. from cron every 10 minutes; CEDULA_SWEEP["SCHEDULE"] = True makes '
        "Django-Q2 run it instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be re-queued; change nothing"
        )
        parser.add_argument("--json", action="store_true", help="print the counts as JSON")
        parser.add_argument(
            "--chunk-size",
            type=bounded_int(1, MAX_CHUNK_SIZE),
            default=CHUNK_SIZE,
            help=f"rows read per query, 1 to {MAX_CHUNK_SIZE} (default {CHUNK_SIZE})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The total is only counted for a bar someone can see.
        total = sum(queryset.count() for queryset in candidates().values()) if self.stdout.isatty() else 0
        with ProgressBar(self.stdout, total, label=gettext("rows")) as progress:
            report = sweep(
                dry_run=options["dry_run"], chunk_size=options["chunk_size"], progress=progress.advance
            )
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        if report.dry_run:
            summary = ngettext(
                "Would re-queue %(count)d validation (dry run: nothing changed).",
                "Would re-queue %(count)d validations (dry run: nothing changed).",
                report.requeued,
            )
        else:
            summary = ngettext(
                "Re-queued %(count)d validation.", "Re-queued %(count)d validations.", report.requeued
            )
        self.stdout.write(summary % {"count": report.requeued})
        # The statuses by their values, as --status of cedula_revalidate and the JSON name them.
        self.stdout.write(f"  pending:    {report.pending}")
        self.stdout.write(f"  retrying:   {report.retrying}")
        self.stdout.write(f"  processing: {report.processing}")
        if report.lost:
            self.stdout.write(
                "  "
                + ngettext(
                    "%(count)d processing row had no attempt left and ended as error (lost)",
                    "%(count)d processing rows had no attempt left and ended as error (lost)",
                    report.lost,
                )
                % {"count": report.lost}
            )
        if report.recovered:
            self.stdout.write(
                "  "
                + ngettext(
                    "%(count)d processing row's answer, kept through a database outage, was stored "
                    "(no new lookup)",
                    "%(count)d processing rows' answers, kept through a database outage, were stored "
                    "(no new lookup)",
                    report.recovered,
                )
                % {"count": report.recovered}
            )
        if report.deferred:
            self.stdout.write(
                "  "
                + ngettext(
                    "%(count)d stale row deferred: re-queued recently, still waiting",
                    "%(count)d stale rows deferred: re-queued recently, still waiting",
                    report.deferred,
                )
                % {"count": report.deferred}
            )
        if report.changed:
            self.stdout.write(
                "  "
                + ngettext(
                    "%(count)d row changed while sweeping and was left alone",
                    "%(count)d rows changed while sweeping and were left alone",
                    report.changed,
                )
                % {"count": report.changed}
            )
        if report.enqueue_failures:
            self.stderr.write(
                "  "
                + ngettext(
                    "%(count)d could not be queued (is the broker up?); the next sweep retries",
                    "%(count)d could not be queued (is the broker up?); the next sweep retries",
                    report.enqueue_failures,
                )
                % {"count": report.enqueue_failures}
            )
        if report.purged_raw_responses or report.purged_places:
            for line in purge_lines(
                report.purged_raw_responses, report.purged_places, dry_run=report.dry_run
            ):
                self.stdout.write("  " + line)
        if report.probed:
            self.stdout.write(
                "  "
                + gettext("sources out of service probed: %(probed)s; back in service: %(resumed)s")
                % {
                    "probed": ", ".join(report.probed),
                    "resumed": ", ".join(report.resumed) or gettext("none"),
                }
            )
