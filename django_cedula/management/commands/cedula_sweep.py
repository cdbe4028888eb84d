"""``manage.py cedula_sweep [--dry-run]``: re-queue validations whose job was lost."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ...sweeper import CHUNK_SIZE, candidates, sweep
from ..utils import ProgressBar


class Command(BaseCommand):
    help = (
        "Queue again the validations whose job was lost: rows pending longer than "
        "CEDULA_SWEEP_PENDING_AFTER (the broker was down), retrying that long past their "
        "next_attempt_at, or processing longer than CEDULA_SWEEP_PROCESSING_AFTER (the worker died). "
        "Safe to run often, e.g. from cron every 10 minutes; CEDULA_SWEEP_SCHEDULE = True makes "
        "Django-Q2 run it instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be re-queued; change nothing"
        )
        parser.add_argument("--json", action="store_true", help="print the counts as JSON")
        parser.add_argument(
            "--chunk-size", type=int, default=CHUNK_SIZE, help=f"rows read per query (default {CHUNK_SIZE})"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # The total is only counted for a bar someone can see.
        total = sum(queryset.count() for queryset in candidates().values()) if self.stdout.isatty() else 0
        with ProgressBar(self.stdout, total, label="rows") as progress:
            report = sweep(
                dry_run=options["dry_run"], chunk_size=options["chunk_size"], progress=progress.advance
            )
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        verb = "Would re-queue" if report.dry_run else "Re-queued"
        self.stdout.write(
            f"{verb} {report.requeued} validations{' (dry run: nothing changed)' if report.dry_run else ''}."
        )
        self.stdout.write(f"  pending:    {report.pending}")
        self.stdout.write(f"  retrying:   {report.retrying}")
        self.stdout.write(f"  processing: {report.processing}")
        if report.lost:
            self.stdout.write(
                f"  {report.lost} processing rows had no attempt left and ended as error (lost)"
            )
        if report.deferred:
            self.stdout.write(f"  {report.deferred} stale rows deferred: re-queued recently, still waiting")
        if report.changed:
            self.stdout.write(f"  {report.changed} rows changed while sweeping and were left alone")
        if report.enqueue_failures:
            self.stderr.write(
                f"  {report.enqueue_failures} could not be queued (is the broker up?); the next sweep retries"
            )
