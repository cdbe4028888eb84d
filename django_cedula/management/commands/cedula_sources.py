"""``manage.py cedula_sources``: each configured source's health, and what an operator does about it.

``cedula_sources [--json]`` lists every source of ``CEDULA_SOURCES`` (in or out of service, since
when, why, its trials, its last free probe) and the rows waiting for a source; ``cedula_sources
SOURCE --sample`` prints the last unexpected answer kept for it (to write the new reader from);
``--resume SOURCE`` puts it back in service at once (after an upgrade) and queues the waiting rows;
``--probe SOURCE`` looks at its form now, for free (a GET, no solve). The pre-check
(``CEDULA_PRECHECK``), whose health is kept alike under ``vigencia``, is listed after them when one is
configured; it has no form to probe.
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ... import health, services
from ...conf import app_settings
from ...models import CedulaInfo
from ...scrapers import get_scraper
from ...scrapers.base import probe, source_name
from ...scrapers.chain import ScraperChain, source_names
from ...scrapers.vigencia import Precheck
from ..console import format_duration

#: A probe that found the form changed, or a cache that could not be read.
EXIT_FAILURE = 1
#: A source that is not configured.
EXIT_UNKNOWN = 2


class Command(BaseCommand):
    help = (
        "Show each configured source's health: in or out of service, since when, why, its trial lookups, "
        "its last free probe, and the rows waiting for a source out of service. SOURCE --sample prints "
        "the last unexpected answer kept for SOURCE; --resume SOURCE puts it back in service now (after "
        "upgrading django-cedula) and queues the waiting rows; --probe SOURCE looks at its form now, for "
        "free. Exits 1 when the cache cannot be read or a probe fails, 2 for a source not configured."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", nargs="?", help="one source (with --sample)")
        parser.add_argument("--json", action="store_true", help="print the sources' health as JSON")
        parser.add_argument("--sample", action="store_true", help="print the answer kept for SOURCE")
        parser.add_argument("--resume", metavar="SOURCE", help="put SOURCE back in service now")
        parser.add_argument("--probe", metavar="SOURCE", help="look at SOURCE's form now (free)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["resume"]:
                self._resume(self._known(options["resume"]))
            elif options["probe"]:
                self._probe(self._known(options["probe"], probing=True))
            elif options["sample"]:
                if not options["source"]:
                    raise CommandError(_("--sample needs a SOURCE."), returncode=EXIT_UNKNOWN)
                self._sample(self._known(options["source"]))
            else:
                names = (self._known(options["source"]),) if options["source"] else self._names()
                self._list(names, as_json=options["json"])
        except CommandError:
            raise
        except Exception as exc:  # a cache that is down raises its client's own errors
            raise CommandError(
                _("The sources' health could not be read (%(error)s).") % {"error": type(exc).__name__},
                returncode=EXIT_FAILURE,
            ) from exc

    def _names(self, *, probing: bool = False) -> tuple[str, ...]:
        """The configured sources, then the pre-check's (unless ``probing``: it has no form)."""
        names = tuple(source_names())
        if not probing and app_settings.PRECHECK is not None and Precheck.source_name not in names:
            names = (*names, Precheck.source_name)
        return names

    def _known(self, source: str, *, probing: bool = False) -> str:
        names = self._names(probing=probing)
        if source not in names:
            raise CommandError(
                _("%(source)r is not a configured source; the configured ones: %(names)s.")
                % {"source": source[:40], "names": ", ".join(names) or _("none")},
                returncode=EXIT_UNKNOWN,
            )
        return source

    def _list(self, names: tuple[str, ...], *, as_json: bool) -> None:
        found = health.states(names)
        waiting = CedulaInfo.objects.waiting_for_sources().count()
        if as_json:
            data = {
                "health_enabled": health.enabled(),
                "rows_waiting": waiting,
                "sources": [
                    {**state.as_dict(), "reason_text": state.reason_text if state.reason else ""}
                    for state in found
                ],
            }
            self.stdout.write(json.dumps(data, indent=2))
            return
        if not health.enabled():
            self.stdout.write(_("Source health is off (CEDULA_SOURCE_HEALTH OUT_AFTER is 0)."))
        for state in found:
            for line in describe(state):
                self.stdout.write(line)
        self.stdout.write(
            ngettext(
                "%(count)d row waits for a source out of service.",
                "%(count)d rows wait for a source out of service.",
                waiting,
            )
            % {"count": waiting}
        )

    def _sample(self, source: str) -> None:
        kept = health.sample(source)
        if kept is None:
            self.stdout.write(_("No sample kept for %(source)s.") % {"source": source})
            return
        self.stdout.write(
            _("Last unexpected answer of %(source)s, kept %(at)s:")
            % {"source": source, "at": health.since_text(kept["at"])}
        )
        self.stdout.write(f"status: {kept.get('status', '')}")
        self.stdout.write(f"error: {kept.get('error', '')}")
        self.stdout.write("")
        self.stdout.write(kept["text"])

    def _resume(self, source: str) -> None:
        # Counted before: the receiver of source_back_in_service queues every one of them.
        waiting = CedulaInfo.objects.waiting_for_sources().count()
        if health.put_back(source):
            self.stdout.write(
                ngettext(
                    "Source %(source)s is back in service; %(count)d waiting row queued.",
                    "Source %(source)s is back in service; %(count)d waiting rows queued.",
                    waiting,
                )
                % {"source": source, "count": waiting}
            )
            return
        self.stdout.write(_("Source %(source)s was in service already.") % {"source": source})
        # Rows may still wait when the cache lost the sources' state (a flush, a restart): with no
        # source out of service, nothing will put one back, so they go now rather than after their wait.
        if waiting and not health.out_of_service(source_names()):
            queued = services.queue_waiting_rows(source=source)
            self.stdout.write(
                ngettext("%(count)d waiting row queued.", "%(count)d waiting rows queued.", queued)
                % {"count": queued}
            )

    def _probe(self, source: str) -> None:
        scraper = get_scraper()
        if isinstance(scraper, ScraperChain):
            scraper = scraper.scrapers[scraper.sources.index(source)]
        elif source_name(scraper) != source:  # pragma: no cover - source_names() names it
            raise CommandError(_("%(source)s is not configured.") % {"source": source})
        found = probe(scraper, source)
        if found.ok:
            self.stdout.write(_("Probe of %(source)s: the form has its shape.") % {"source": source})
        else:
            self.stdout.write(
                _("Probe of %(source)s: %(status)s: %(detail)s")
                % {
                    "source": source,
                    "status": found.status.value if found.status else "-",
                    "detail": found.detail or "-",
                }
            )
        for line in describe(health.state(source)):
            self.stdout.write(line)
        if not found.ok:
            raise CommandError(
                _("The probe of %(source)s failed.") % {"source": source}, returncode=EXIT_FAILURE
            )


def _when(epoch: float | None, now: float) -> str:
    if epoch is None:
        return "-"
    delta = datetime.timedelta(seconds=abs(now - epoch))
    relative = _("%(time)s ago") if epoch <= now else _("in %(time)s")
    return f"{health.since_text(epoch)} ({relative % {'time': format_duration(delta)}})"


def describe(state: health.SourceState, now: float | None = None) -> list[str]:
    """``state`` as lines of text: a heading line, then indented details."""
    now = time.time() if now is None else now
    lines = []
    if state.in_service:
        lines.append(_("%(source)s: in service") % {"source": state.source})
        if state.streak:
            lines.append("  " + _("signs of change in a row: %(count)d") % {"count": state.streak})
    else:
        lines.append(
            _("%(source)s: OUT OF SERVICE since %(since)s")
            % {"source": state.source, "since": _when(state.since, now)}
        )
        lines.append(
            "  " + _("why: %(reason)s (%(detail)s)") % {"reason": state.reason_text, "detail": state.detail}
        )
        lines.append(
            "  "
            + _("trial lookups: %(count)d; next trial %(when)s")
            % {"count": state.trials, "when": _when(state.next_trial_at, now)}
        )
    if state.probed_at is None:
        lines.append("  " + _("last probe: none"))
    else:
        outcome = _("the form has its shape") if state.probe_ok else state.probe_detail or _("failed")
        lines.append(
            "  "
            + _("last probe: %(when)s, %(outcome)s")
            % {"when": _when(state.probed_at, now), "outcome": outcome}
        )
    return lines
