"""``manage.py cedula_revalidate``: validate chosen users' cédulas again."""

from __future__ import annotations

import collections
import logging
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, router, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy, ngettext

from ...conf import app_settings
from ...models import CedulaInfo, CedulaStatus
from ...services import (
    RequestDecision,
    RowState,
    authorized_user_ids,
    plan_for_value,
    plan_validation,
    request_validation_batch,
    request_validation_decision,
)
from ..console import MAX_DURATION, ProgressBar, bounded_int, duration_argument, shorten

logger = logging.getLogger("django_cedula.management")

#: Users handled per query and per transaction.
BATCH_SIZE = 500
#: The most users per batch: each batch is one ``IN`` list of ids (SQLite takes 32,766 parameters
#: at most, PostgreSQL 65,535) and one transaction holding their rows' locks.
MAX_BATCH_SIZE = 10_000

_SKIPS = (
    (RequestDecision.IN_PROGRESS, gettext_lazy("already under way")),
    (
        RequestDecision.COOLDOWN,
        gettext_lazy("requested within CEDULA_REFRESH_COOLDOWN, or failed a moment ago (use --force)"),
    ),
    (RequestDecision.NO_CEDULA, gettext_lazy("without a cédula")),
)


class Command(BaseCommand):
    help = (
        "Validate users' cédulas again. Choose the users with --status, --older-than and --user "
        "(combined, they must all match), or take every user with a cédula with --all. Validations "
        "under way, ones requested within CEDULA_REFRESH_COOLDOWN and ones that failed less than the "
        "first of CEDULA_RETRY_DELAYS ago are left alone unless --force. "
        "Users are read and requested in batches; each batch's jobs are queued when it commits."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--status",
            action="append",
            choices=CedulaStatus.values,
            metavar="STATUS",
            help=f"users whose validation has this status (repeatable): {', '.join(CedulaStatus.values)}",
        )
        parser.add_argument(
            "--older-than",
            metavar="DURATION",
            type=duration_argument,
            help=(
                "users whose last answer (fetched_at), or failing that last request (requested_at), "
                f"is older than this: 30d, 12h, 90m, 1d12h (at most {MAX_DURATION.days}d)"
            ),
        )
        parser.add_argument(
            "--user",
            action="append",
            metavar="ID_OR_USERNAME",
            help="this user, by primary key or username (repeatable); users without a row are included",
        )
        parser.add_argument(
            "--all",
            action="store_true",
            help="every user with a cédula, including users never validated; not combined with filters",
        )
        parser.add_argument("--force", action="store_true", help="restart even under way or in cooldown")
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be queued; change nothing"
        )
        parser.add_argument(
            "--batch-size",
            type=bounded_int(1, MAX_BATCH_SIZE),
            default=BATCH_SIZE,
            help=f"users per query and per transaction, 1 to {MAX_BATCH_SIZE} (default {BATCH_SIZE})",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        filtered = options["status"] or options["older_than"] or options["user"]
        if options["all"] and filtered:
            raise CommandError(
                gettext("--all takes every user; leave out --status, --older-than and --user.")
            )
        if not options["all"] and not filtered:
            raise CommandError(gettext("Choose users with --status, --older-than or --user, or pass --all."))
        using = router.db_for_write(CedulaInfo)
        user_ids, key = self._select(options, using)
        total = user_ids.count()
        force, dry_run = options["force"], options["dry_run"]
        counts: collections.Counter[RequestDecision] = collections.Counter()
        failed = 0
        now = timezone.now()
        users = get_user_model()._default_manager.all()
        field = _concrete_field(get_user_model(), app_settings.USER_FIELD)
        if field is not None:
            users = users.only("pk", field.name)  # a property may need more: then the whole user
        with ProgressBar(self.stdout, total, label=gettext("users")) as progress:
            for ids in _keyset_batches(user_ids, key, options["batch_size"]):
                if dry_run:
                    authorized = authorized_user_ids(ids, using=using)
                if dry_run and field is not None:
                    # Plain values, no model instances: a dry run over 100,000 users stays quick.
                    rows = _row_states(ids, using)
                    for pk, value in users.filter(pk__in=ids).values_list("pk", field.name):
                        allowed = authorized is None or pk in authorized
                        counts[
                            plan_for_value(value, rows.get(pk), force=force, now=now, authorized=allowed)
                        ] += 1
                elif dry_run:
                    rows = _row_states(ids, using)
                    for user in users.filter(pk__in=ids):
                        allowed = authorized is None or user.pk in authorized
                        counts[
                            plan_validation(user, rows.get(user.pk), force=force, now=now, authorized=allowed)
                        ] += 1
                else:
                    failed += self._request(
                        list(users.filter(pk__in=ids).order_by("pk")), counts, force=force, using=using
                    )
                progress.advance(len(ids))
        self._report(counts, failed, total, dry_run=dry_run)

    def _select(self, options: dict[str, Any], using: str) -> tuple[models.QuerySet[Any, Any], str]:
        """The chosen users' ids as a flat ``values_list``, and the column they are ordered by.

        Filters on the row drive from the ``CedulaInfo`` table, keyed by its unique ``user_id``,
        so that each batch is one index range whatever the database's join strategy.
        """
        user_model = get_user_model()
        users: models.QuerySet[Any] = user_model._default_manager.all()
        if options["all"]:
            field = _concrete_field(user_model, app_settings.USER_FIELD)
            if field is not None:  # a property cannot be filtered on: every user is read
                users = users.exclude(**{f"{field.name}__isnull": True})
                if field.empty_strings_allowed:
                    users = users.exclude(**{field.name: ""})
            return users.values_list("pk", flat=True), "pk"
        named = self._users_named(user_model, options["user"]) if options["user"] else None
        if not options["status"] and not options["older_than"]:
            return users.filter(pk__in=named).values_list("pk", flat=True), "pk"
        rows = CedulaInfo.objects.using(using).all()
        if named is not None:
            rows = rows.filter(user_id__in=named)
        if options["status"]:
            rows = rows.filter(status__in=options["status"])
        if options["older_than"]:
            cutoff = timezone.now() - options["older_than"]
            rows = rows.filter(
                models.Q(fetched_at__lt=cutoff)
                | models.Q(fetched_at__isnull=True, requested_at__lt=cutoff)
                | models.Q(fetched_at__isnull=True, requested_at__isnull=True, created_at__lt=cutoff)
            )
        return rows.values_list("user_id", flat=True), "user_id"

    def _users_named(self, user_model: type[Any], names: list[str]) -> list[Any]:
        """The primary keys of the users named by id or username; an unknown name is an error."""
        username = user_model.USERNAME_FIELD
        found: list[Any] = []
        for name in names:
            match = models.Q(**{username: name})
            pk = _as_primary_key(user_model, name)
            if pk is not None:
                match |= models.Q(pk=pk)
            pks = list(user_model._default_manager.filter(match).values_list("pk", flat=True))
            if not pks:
                raise CommandError(
                    gettext("No user has the id or username %(name)s.") % {"name": shorten(name)}
                )
            found += pks
        return found

    def _request(
        self, batch: list[Any], counts: collections.Counter[RequestDecision], *, force: bool, using: str
    ) -> int:
        """Request the batch's validations; returns how many failed."""
        # The whole batch at once: one locking read, one INSERT and one UPDATE, and its jobs handed
        # to the queue together when it commits.
        try:
            counts.update(request_validation_batch(batch, force=force, using=using))
        except Exception:
            logger.exception("cedula_revalidate: a batch failed; requesting its users one by one")
        else:
            return 0
        failed = 0
        # One at a time, each in its own savepoint, so that one failure does not undo the others.
        with transaction.atomic(using=using):
            for user in batch:
                try:
                    counts[request_validation_decision(user, force=force)[1]] += 1
                except Exception:
                    failed += 1
                    logger.exception("cedula_revalidate: could not request a validation for user %s", user.pk)
        return failed

    def _report(
        self, counts: collections.Counter[RequestDecision], failed: int, total: int, *, dry_run: bool
    ) -> None:
        queued = counts[RequestDecision.QUEUED]
        figures = {"queued": queued, "count": total}
        if dry_run:
            self.stdout.write(
                ngettext(
                    "Dry run: would queue %(queued)d of %(count)d user; nothing was changed.",
                    "Dry run: would queue %(queued)d of %(count)d users; nothing was changed.",
                    total,
                )
                % figures
            )
        else:
            self.stdout.write(
                ngettext(
                    "Queued %(queued)d of %(count)d user.", "Queued %(queued)d of %(count)d users.", total
                )
                % figures
            )
        invalid = counts[RequestDecision.INVALID]
        if invalid and dry_run:
            line = ngettext(
                "%(count)d would be marked invalid (malformed number, no lookup)",
                "%(count)d would be marked invalid (malformed number, no lookup)",
                invalid,
            )
            self.stdout.write("  " + line % {"count": invalid})
        elif invalid:
            line = ngettext(
                "%(count)d marked invalid (malformed number, no lookup)",
                "%(count)d marked invalid (malformed number, no lookup)",
                invalid,
            )
            self.stdout.write("  " + line % {"count": invalid})
        waiting = counts[RequestDecision.AWAITING_CONSENT]
        if waiting:
            line = (
                ngettext(
                    "%(count)d would wait for the holder's authorization (CEDULA_PRIVACY's REQUIRE_CONSENT), "
                    "not looked up",
                    "%(count)d would wait for their holders' authorization (CEDULA_PRIVACY's "
                    "REQUIRE_CONSENT), not looked up",
                    waiting,
                )
                if dry_run
                else ngettext(
                    "%(count)d waits for the holder's authorization (CEDULA_PRIVACY's REQUIRE_CONSENT), "
                    "not looked up",
                    "%(count)d wait for their holders' authorization (CEDULA_PRIVACY's REQUIRE_CONSENT), "
                    "not looked up",
                    waiting,
                )
            )
            self.stdout.write("  " + line % {"count": waiting})
        for decision, reason in _SKIPS:
            if counts[decision]:
                line = ngettext(
                    "%(count)d skipped: %(reason)s", "%(count)d skipped: %(reason)s", counts[decision]
                )
                self.stdout.write("  " + line % {"count": counts[decision], "reason": reason})
        if failed:
            line = ngettext(
                "%(count)d failed; see the log (django_cedula.management)",
                "%(count)d failed; see the log (django_cedula.management)",
                failed,
            )
            self.stderr.write("  " + line % {"count": failed})


def _keyset_batches(ids: models.QuerySet[Any, Any], key: str, size: int) -> Iterator[list[Any]]:
    """The values of the flat ``ids`` queryset, ``size`` at a time in ascending order of ``key``.

    Keyset pagination: no cursor stays open, memory is one batch, and rows changed between
    batches are neither skipped nor repeated.
    """
    last = None
    while True:
        page = ids if last is None else ids.filter(**{f"{key}__gt": last})
        batch = list(page.order_by(key)[:size])
        if not batch:
            return
        yield batch
        last = batch[-1]


def _row_states(user_ids: list[Any], using: str) -> dict[Any, RowState]:
    """The rows of ``user_ids`` by user id, as much as a request decision reads."""
    rows = CedulaInfo.objects.using(using).filter(user_id__in=user_ids)
    return {
        user_id: RowState(cedula, status, requested_at, updated_at)
        for user_id, cedula, status, requested_at, updated_at in rows.values_list(
            "user_id", "cedula", "status", "requested_at", "updated_at"
        )
    }


def _as_primary_key(model: type[Any], name: str) -> Any | None:
    """``name`` as a value of ``model``'s primary key, or ``None`` when it is not one.

    Written in ASCII only: Python's ``int()`` reads other scripts' digits (a full-width ``"１"`` is
    1) and underscores (``"1_0"`` is 10), so an integer key must be plain ASCII digits.
    """
    pk_field = model._meta.pk
    if not name.isascii() or pk_field is None:
        return None
    if isinstance(pk_field, models.IntegerField) and not name.isdigit():
        return None
    try:
        return pk_field.to_python(name)
    except ValidationError:  # not a primary key: a username only
        return None


def _concrete_field(model: type[Any], name: str) -> models.Field[Any, Any] | None:
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if isinstance(field, models.Field) and field.concrete else None
