"""``manage.py cedula_purge [--dry-run]``: blank what the retention limits of CEDULA_PRIVACY expire."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.translation import gettext

from ...conf import app_settings
from ...sweeper import CHUNK_SIZE, purge_expired
from ..console import bounded_int
from .cedula_sweep import MAX_CHUNK_SIZE, purge_lines


class Command(BaseCommand):
    help = (
        "Blank what the retention limits of CEDULA_PRIVACY expire: the source's raw answer "
        "RAW_RESPONSE_DAYS after the final answer, the voting place PLACE_DAYS after it (purged_at "
        "is set); the status and the dates stay. Every sweep (cedula_sweep, or its schedule) does "
        "the same; this runs it alone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be blanked; change nothing"
        )
        parser.add_argument("--json", action="store_true", help="print the counts as JSON")
        parser.add_argument(
            "--chunk-size",
            type=bounded_int(1, MAX_CHUNK_SIZE),
            default=CHUNK_SIZE,
            help=f"rows per UPDATE, 1 to {MAX_CHUNK_SIZE} (default {CHUNK_SIZE})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = purge_expired(dry_run=options["dry_run"], chunk_size=options["chunk_size"])
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        privacy = app_settings.PRIVACY
        never = gettext("never (kept as long as the row)")
        self.stdout.write(
            gettext("Retention: raw answers %(raw)s, voting places %(place)s.")
            % {
                "raw": never
                if privacy["RAW_RESPONSE_DAYS"] is None
                else gettext("%(days)s days") % {"days": f"{float(privacy['RAW_RESPONSE_DAYS']):g}"},
                "place": never
                if privacy["PLACE_DAYS"] is None
                else gettext("%(days)s days") % {"days": f"{float(privacy['PLACE_DAYS']):g}"},
            }
        )
        for line in purge_lines(report.raw_responses, report.places, dry_run=report.dry_run):
            self.stdout.write("  " + line)
        if report.dry_run:
            self.stdout.write(gettext("Dry run: nothing was changed."))
