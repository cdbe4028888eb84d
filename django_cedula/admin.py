"""The Django admin for cédula validations, and an inline for the host's user admin.

:class:`CedulaInfoAdmin` is registered on ``django.contrib.admin.site`` when the admin is
installed. Every field is read-only: the data comes from the Registraduría, and the package's
jobs update rows with conditional queries that a form saving a stale copy would undo. Staff can
instead *validate again* the selected rows (an action, which needs the ``change`` permission of
the model), filter by status and department, and search by the full number or by user.
The list keeps to five columns (user, masked number ``******4050``, status, "municipality,
department", updated at) so that it fits a 1280-pixel screen with the filter sidebar; the full
number and every other field are on each row's page. Times are shown to the second with the zone
(:func:`format_full_time`), and every label is the model's verbose name.
``raw_response`` (the HTML the source answered) is shown only to users with the permission
``django_cedula.view_raw_response``. Only superusers may delete rows.

The holder's rights (:mod:`django_cedula.rights`) are two actions: *Export what is kept (JSON)*
(permission ``django_cedula.export_cedulainfo``) and *Forget the holder's data* (permission
``django_cedula.forget_cedulainfo``, after a confirmation page). *Record the holder's authorization*
(permission ``django_cedula.add_cedulaconsent``) records one given outside the site (on paper),
recorded by the staff member; :class:`CedulaConsentAdmin` lists them, read-only: they are the
site's proof. The voting place, on the list, the row's page and the inline, is shown only to staff
with ``django_cedula.view_cedulainfo`` (or ``change``): the admin shows neither without it.

To show a user's validation on the host's own user admin, add the read-only inline::

    from django.contrib.auth.admin import UserAdmin
    from django_cedula.admin import CedulaInfoInline

    @admin.register(User)
    class MyUserAdmin(UserAdmin):
        inlines = [CedulaInfoInline]

To replace the package's admin, ``admin.site.unregister(CedulaInfo)`` and register your own,
for instance a subclass of :class:`CedulaInfoAdmin`.

Above the list, a line gives today's captcha spend (UTC day): solves, tokens used, expired and
refused, solves per final validation and the estimated cost, and the pauses after a block still
running. :class:`CaptchaSpendAdmin` lists the spend day by day, read-only (the counters are
written by the package, never by hand).

The sections, in order: the typed admin base classes; who may see ``raw_response``; full times;
the groups of fields the row's page and the inline share; the summary line above the list;
:class:`CedulaInfoAdmin`; :class:`CedulaInfoInline`; :class:`CaptchaSpendAdmin`; and their
registration, when Django's admin autodiscovers this module.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, Model, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from .captcha import spend
from .captcha.base import price_per_1000
from .exceptions import InvalidCedulaError
from .management.commands import cedula_stats
from .models import CaptchaSpend, CedulaConsent, CedulaInfo, CedulaStatus
from .numbers import mask_cedula, normalize_cedula
from .results import NOVEDAD_FIELDS, PLACE_FIELDS
from .rights import export, forget
from .services import RequestDecision, record_consent, request_validation_batches
from .views import status_display

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts, _FieldsetSpec
    from django.db.models import Field
    from django.utils.functional import _StrOrPromise

# Base classes ---------------------------------------------------------------------------------
#
# Django's admin classes are subscriptable only for the type checker (at run time, only with
# django-stubs-ext's monkeypatch, which a host project need not install): each alias is the
# subscripted class for mypy and the plain class when the code runs.

if TYPE_CHECKING:
    CedulaInfoModelAdmin = admin.ModelAdmin[CedulaInfo]
    CedulaConsentModelAdmin = admin.ModelAdmin[CedulaConsent]
    CaptchaSpendModelAdmin = admin.ModelAdmin[CaptchaSpend]
    CedulaInfoStackedInline = admin.StackedInline[CedulaInfo, Any]
else:
    CedulaInfoModelAdmin = admin.ModelAdmin
    CedulaConsentModelAdmin = admin.ModelAdmin
    CaptchaSpendModelAdmin = admin.ModelAdmin
    CedulaInfoStackedInline = admin.StackedInline

# Who may see raw_response ---------------------------------------------------------------------

#: The permission that shows ``raw_response`` (declared in ``CedulaInfo.Meta.permissions``).
RAW_RESPONSE_PERMISSION = "django_cedula.view_raw_response"


def can_view_raw_response(request: HttpRequest) -> bool:
    """Whether the user of ``request`` may see what the source answered."""
    return request.user.has_perm(RAW_RESPONSE_PERMISSION)


# Full times -----------------------------------------------------------------------------------
#
# Django's admin shows a date-time field in the language's DATETIME_FORMAT, which in English drops
# the minutes of a round hour ("Dec. 1, 2026, 4 a.m.") and never shows the seconds or the zone. A
# validation's times are read to the second (when was it requested, answered, retried), so the
# package's admin pages show them as "2026-12-01 04:00:07 -05": in the current time zone (the
# project's TIME_ZONE unless a middleware activates another), whose name or offset ends the text.
# This applies to the package's admin only; the host's DATETIME_FORMAT is left alone.

#: The format of :func:`format_full_time` (Django's ``date`` filter syntax): ISO 8601's order,
#: which reads the same in every language, then the zone's abbreviation (``UTC``, ``CET``) or, for a
#: zone without one such as ``America/Bogota``, its offset (``-05``).
FULL_TIME_FORMAT = "Y-m-d H:i:s T"


def format_full_time(value: datetime.datetime | None) -> str | None:
    """``value`` in the current time zone as ``2026-12-01 04:00:07 -05``; ``None`` stays ``None``
    (the admin then shows its empty value)."""
    if value is None:
        return None
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return dateformat.format(value, FULL_TIME_FORMAT)


def full_time_display(model: type[Model], name: str) -> Callable[[Any, Any], str]:
    """An admin display method for the date-time field ``name`` of ``model``: headed by the field's
    own verbose name, sorted by the field, showing :func:`format_full_time` (the admin's empty value,
    ``-``, for no time: a read-only field would otherwise show ``None``).

    Set it on a ``ModelAdmin`` or an inline as ``<name>_full = full_time_display(Model, "<name>")``
    and list ``"<name>_full"`` in ``list_display`` or ``readonly_fields``.
    """
    field = model._meta.get_field(name)

    def display(model_admin: Any, obj: Any) -> str:
        text = format_full_time(getattr(obj, name))
        return str(model_admin.get_empty_value_display()) if text is None else text

    display.__name__ = f"{name}_full"
    display.__qualname__ = f"{name}_full"
    return admin.display(description=getattr(field, "verbose_name", name), ordering=name)(display)


# Field groups ---------------------------------------------------------------------------------
#
# Shared so that the row's page (CedulaInfoAdmin) and the host's user page (CedulaInfoInline) show
# the same place and record note fields, and the times in full.

IDENTITY_FIELDS = ("user", "cedula", "status", "vigencia")
#: The date-time fields, each shown through its ``<name>_full`` display of :class:`FullTimes`.
TIME_FIELDS = ("requested_at", "fetched_at", "next_attempt_at", "created_at", "updated_at", "purged_at")
ATTEMPT_FIELDS = (
    "requested_at_full",
    "fetched_at_full",
    "purged_at_full",
    "source",
    "retry_count",
    "next_attempt_at_full",
    "error_code",
    "error_message",
    "created_at_full",
    "updated_at_full",
)


class FullTimes:
    """Display methods for the date-time fields of ``CedulaInfo``, to the second with the zone
    (:func:`format_full_time`), for a ``ModelAdmin`` or inline to inherit."""

    requested_at_full = full_time_display(CedulaInfo, "requested_at")
    fetched_at_full = full_time_display(CedulaInfo, "fetched_at")
    next_attempt_at_full = full_time_display(CedulaInfo, "next_attempt_at")
    created_at_full = full_time_display(CedulaInfo, "created_at")
    updated_at_full = full_time_display(CedulaInfo, "updated_at")
    purged_at_full = full_time_display(CedulaInfo, "purged_at")


# The summary line above the list --------------------------------------------------------------
#
# How many rows have each status, and today's captcha spend: CedulaInfoAdmin computes them
# (status_counts, spend_summary); its change_list.html template shows them.


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


# The validations ------------------------------------------------------------------------------


class DepartamentoFilter(admin.AllValuesFieldListFilter):
    """The departamentos found, without the blank choice of rows that have none (yet)."""

    def __init__(
        self,
        field: Field[Any, Any],
        request: HttpRequest,
        params: dict[str, list[str]],
        model: type[Model],
        model_admin: admin.ModelAdmin[Any],
        field_path: str,
    ) -> None:
        super().__init__(field, request, params, model, model_admin, field_path)
        # Pending, failed and not-found rows have no departamento; an empty link in the
        # sidebar would only confuse, and the status filter already finds those rows.
        self.lookup_choices = self.lookup_choices.exclude(**{field.name: ""})


def _label(name: str) -> _StrOrPromise:
    """The verbose name of ``CedulaInfo``'s field ``name``: the one vocabulary of the admin."""
    return cast("_StrOrPromise", CedulaInfo._meta.get_field(name).verbose_name)  # type: ignore[union-attr]


class CedulaInfoAdmin(FullTimes, CedulaInfoModelAdmin):
    """Read-only list and pages of the validations, with a *Validate again* action.

    The list keeps to five columns, so that it fits a 1280-pixel screen with the filter sidebar
    open: user, masked number, status, place (municipality and department) and last change; the
    polling station, the table, the retries and everything else are on the row's page. Times are
    shown to the second, with the zone (:func:`format_full_time`); labels are the model's verbose
    names.
    """

    list_display = ("user", "masked_cedula", "status_label", "place", "updated_at_full")
    list_filter = ("status", "vigencia", ("departamento", DepartamentoFilter))
    list_select_related = ("user",)
    ordering = ("-updated_at",)
    search_help_text = _("The full cédula number, or part of the user's username or email.")
    actions = ("validate_again", "record_authorization", "export_holders", "forget_holders")
    readonly_fields = (*IDENTITY_FIELDS, *PLACE_FIELDS, *NOVEDAD_FIELDS, *ATTEMPT_FIELDS)
    #: The confirmation page of *Forget the holder's data*.
    forget_confirmation_template = "admin/django_cedula/cedulainfo/forget_confirmation.html"

    @admin.display(description=_label("status"), ordering="status")
    def status_label(self, obj: CedulaInfo) -> str:
        """The status; "not in the census" said apart when the pre-check found the cédula exists."""
        return status_display(obj)

    @admin.display(description=_label("cedula"), ordering="cedula")
    def masked_cedula(self, obj: CedulaInfo) -> str:
        """The number with all but its last digits hidden, for lists."""
        return mask_cedula(obj.cedula)

    @admin.display(
        description=format_lazy("{}, {}", _label("municipio"), _label("departamento")), ordering="municipio"
    )
    def place(self, obj: CedulaInfo) -> str | None:
        """Where the person votes, in one short column: "MEDELLÍN, ANTIOQUIA" (the polling station,
        its address and the table are on the row's page). ``None`` (shown as the admin's empty
        value) while the row has no place: pending, failed, not found or cancelled."""
        return ", ".join(part for part in (obj.municipio, obj.departamento) if part) or None

    @admin.display(description=_label("raw_response"))
    def raw_response_display(self, obj: CedulaInfo) -> SafeString:
        """The stored answer as escaped, preformatted text (it is the source's HTML, never rendered)."""
        return format_html("<pre>{}</pre>", obj.raw_response)

    # Permissions ----------------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Rows are created by the package when a validation is requested, never by hand.
        return False

    def has_change_permission(self, request: HttpRequest, obj: CedulaInfo | None = None) -> bool:
        # Staff may look, not edit: the data is the source's, and saving a form would write back
        # a stale copy over what a running job stores. "Validate again" is the way to change a row.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CedulaInfo | None = None) -> bool:
        # A deleted row loses the record of what the source said; "Validate again" is what staff
        # usually want. Deleting stays possible for superusers, e.g. to honour an erasure request.
        return bool(getattr(request.user, "is_superuser", False)) and super().has_delete_permission(
            request, obj
        )

    def has_revalidate_permission(self, request: HttpRequest) -> bool:
        """Who may run *Validate again*: users with the model's ``change`` permission."""
        # has_change_permission() is always False here, so the action asks the user directly.
        return request.user.has_perm(f"{self.opts.app_label}.change_{self.opts.model_name}")

    def has_export_permission(self, request: HttpRequest) -> bool:
        """Who may run *Export what is kept (JSON)*: ``django_cedula.export_cedulainfo``."""
        return request.user.has_perm(f"{self.opts.app_label}.export_{self.opts.model_name}")

    def has_forget_permission(self, request: HttpRequest) -> bool:
        """Who may run *Forget the holder's data*: ``django_cedula.forget_cedulainfo``."""
        return request.user.has_perm(f"{self.opts.app_label}.forget_{self.opts.model_name}")

    def has_record_authorization_permission(self, request: HttpRequest) -> bool:
        """Who may record an authorization given outside the site: ``django_cedula.add_cedulaconsent``."""
        return request.user.has_perm(f"{self.opts.app_label}.add_cedulaconsent")

    # Fields ---------------------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: CedulaInfo | None = None) -> _FieldsetSpec:
        fieldsets: list[tuple[_StrOrPromise | None, _FieldOpts]] = [
            (None, {"fields": IDENTITY_FIELDS}),
            (_("Voting place"), {"fields": PLACE_FIELDS}),
            (capfirst(_label("novedad")), {"fields": NOVEDAD_FIELDS}),
            (_("Attempts and errors"), {"fields": ATTEMPT_FIELDS}),
        ]
        if can_view_raw_response(request):
            fieldsets.append(
                (
                    capfirst(_label("raw_response")),
                    {"fields": ("raw_response_display",), "classes": ("collapse",)},
                )
            )
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: CedulaInfo | None = None) -> tuple[str, ...]:
        # Also read-only for a subclass that gives back the change permission.
        fields = tuple(self.readonly_fields)
        if can_view_raw_response(request):
            fields += ("raw_response_display",)
        return fields

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # Filters in the URL (?raw_response__contains=...) would let anyone probe the answers.
        if lookup.split("__", 1)[0] == "raw_response" and not can_view_raw_response(request):
            return False
        return super().lookup_allowed(lookup, value, request)

    # Search ---------------------------------------------------------------------------------

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        user_model = get_user_model()
        username = user_model.USERNAME_FIELD
        # cedula__exact, not "=cedula" (iexact): an exact match can use the column's index.
        fields = ["cedula__exact", f"user__{username}"]
        email = user_model.get_email_field_name()
        if email != username:
            try:
                user_model._meta.get_field(email)
            except FieldDoesNotExist:
                pass  # A custom user model without an email.
            else:
                fields.append(f"user__{email}")
        return fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[CedulaInfo], search_term: str
    ) -> tuple[QuerySet[CedulaInfo], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # Staff paste numbers as written on the card ("1.020.304.050", "1 020 304 050"); rows
        # store bare digits, and the admin would split the spaced form into separate terms.
        try:
            number = normalize_cedula(search_term.strip())
        except InvalidCedulaError:
            return results, may_have_duplicates
        if number != search_term.strip():
            results |= queryset.filter(cedula=number)
        return results, may_have_duplicates

    # Changelist -----------------------------------------------------------------------------

    def status_counts(self, request: HttpRequest) -> list[StatusCount]:
        """How many rows have each status that occurs, over all rows, in the order of the choices.

        One grouped query; the counts ignore the current filters and search so that staff see
        the state of the whole table at a glance (the filter sidebar can show filtered counts).
        """
        rows = self.get_queryset(request).order_by().values("status").annotate(count=Count("pk"))
        counts = {row["status"]: int(row["count"]) for row in rows}
        selected = request.GET.get("status__exact")
        return [
            StatusCount(
                status=status.value,
                label=str(status.label),
                count=counts[status.value],
                query=urlencode({"status__exact": status.value}),
                selected=status.value == selected,
            )
            for status in CedulaStatus
            if counts.get(status.value)
        ]

    def spend_summary(self, request: HttpRequest) -> SpendSummary:
        """Today's (UTC) captcha spend: three small queries (the day's row, the validations that
        ended today), no cache call."""
        stats = cedula_stats.collect_captcha_stats(periods={"today": 0}, supply=False)
        url = None
        spend_admin = self.admin_site._registry.get(CaptchaSpend)
        if spend_admin is not None and spend_admin.has_view_permission(request):
            url = reverse(
                f"{self.admin_site.name}:django_cedula_captchaspend_changelist",
                current_app=self.admin_site.name,
            )
        return SpendSummary(figures=spend_summary_figures(stats["today"], stats["price_per_1000"]), url=url)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        counts = self.status_counts(request)
        context = {
            "cedula_status_counts": counts,
            "cedula_total": sum(item.count for item in counts),
            "cedula_spend_today": self.spend_summary(request),
            # One cache call; nothing shown when none runs or the cache cannot be read.
            "cedula_pauses": cedula_stats.running_pauses(cedula_stats.collect_pauses()),
            # One cache read per source, and a count only when one is out of service.
            "cedula_sources_out": cedula_stats.out_of_service_notes(),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    # Actions --------------------------------------------------------------------------------

    @admin.action(description=_("Validate again"), permissions=["revalidate"])
    def validate_again(self, request: HttpRequest, queryset: QuerySet[CedulaInfo]) -> None:
        """Restart the validation of each selected row from the user's current number.

        Through the batch path, not one transaction per row: per 500 rows, one locking read, one
        ``UPDATE`` (one more per user whose number changed), and their jobs handed to the queue
        together once that transaction commits.
        """
        users = [info.user for info in queryset.select_related("user").order_by("pk")]
        # force: restart even while a validation is under way or within the cooldown,
        # which is what a person clicking this asks for.
        counts = request_validation_batches(users, force=True)
        requested = counts[RequestDecision.QUEUED]
        malformed = counts[RequestDecision.INVALID]
        without_number = counts[RequestDecision.NO_CEDULA]
        waiting = counts[RequestDecision.AWAITING_CONSENT]
        if waiting:
            self.message_user(
                request,
                ngettext(
                    "%(count)d validation waits for the holder's authorization: nothing was looked up. "
                    "Record it first.",
                    "%(count)d validations wait for their holder's authorization: nothing was looked up. "
                    "Record it first.",
                    waiting,
                )
                % {"count": waiting},
                messages.WARNING,
            )
        if requested:
            self.message_user(
                request,
                ngettext(
                    "Validation requested again for %(count)d cédula.",
                    "Validation requested again for %(count)d cédulas.",
                    requested,
                )
                % {"count": requested},
                messages.SUCCESS,
            )
        if malformed:
            self.message_user(
                request,
                ngettext(
                    "%(count)d user has a malformed cédula number; it was marked invalid and not looked up.",
                    "%(count)d users have a malformed cédula number; they were marked invalid and not "
                    "looked up.",
                    malformed,
                )
                % {"count": malformed},
                messages.WARNING,
            )
        if without_number:
            self.message_user(
                request,
                ngettext(
                    "%(count)d user no longer has a cédula number and was skipped.",
                    "%(count)d users no longer have a cédula number and were skipped.",
                    without_number,
                )
                % {"count": without_number},
                messages.WARNING,
            )

    @admin.action(
        description=_("Record the holder's authorization (given outside the site)"),
        permissions=["record_authorization"],
    )
    def record_authorization(self, request: HttpRequest, queryset: QuerySet[CedulaInfo]) -> None:
        """Record, for each selected row's holder, an authorization the site holds outside it (a
        signed form): method ``admin``, recorded by the staff member; rows waiting for it are queued."""
        recorded = 0
        for info in queryset.select_related("user").order_by("pk"):
            record_consent(info.user, method=CedulaConsent.Method.ADMIN, recorded_by=request.user)
            recorded += 1
        self.message_user(
            request,
            ngettext(
                "Authorization recorded for %(count)d holder.",
                "Authorization recorded for %(count)d holders.",
                recorded,
            )
            % {"count": recorded},
            messages.SUCCESS,
        )

    @admin.action(description=_("Export what is kept (JSON)"), permissions=["export"])
    def export_holders(self, request: HttpRequest, queryset: QuerySet[CedulaInfo]) -> HttpResponse:
        """A JSON file with :func:`~django_cedula.rights.export` of each selected row's holder: the
        answer to a request to know what is kept."""
        holders = [export(info.user) for info in queryset.select_related("user").order_by("pk")]
        response = HttpResponse(
            json.dumps({"holders": holders}, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="cedula-export-{stamp}.json"'
        return response

    @admin.action(description=_("Forget the holder's data"), permissions=["forget"])
    def forget_holders(self, request: HttpRequest, queryset: QuerySet[CedulaInfo]) -> HttpResponse | None:
        """:func:`~django_cedula.rights.forget` each selected row's holder, after a confirmation page:
        their authorizations withdrawn (the records kept as proof) and their rows deleted."""
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": _("Forget the holders' data?"),
                "opts": self.opts,
                "queryset": queryset.select_related("user").order_by("pk"),
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "media": self.media,
            }
            request.current_app = self.admin_site.name
            return TemplateResponse(request, self.forget_confirmation_template, context)
        forgotten = 0
        for info in queryset.select_related("user").order_by("pk"):
            forget(info.user)
            forgotten += 1
        self.message_user(
            request,
            ngettext(
                "Forgot %(count)d holder's data; their authorization records are kept as proof.",
                "Forgot %(count)d holders' data; their authorization records are kept as proof.",
                forgotten,
            )
            % {"count": forgotten},
            messages.SUCCESS,
        )
        return None


# The inline for the host's user admin ---------------------------------------------------------


class CedulaInfoInline(FullTimes, CedulaInfoStackedInline):
    """A user's validation, read-only, for the host's user admin (``inlines = [CedulaInfoInline]``).

    Shown to staff with the ``view`` (or ``change``) permission of cédula validations, and to no
    one else (Django's inline rule: the voting place is not for every staff member who may edit
    users); it never adds, changes or deletes a row, and never shows ``raw_response``. When
    :class:`~django_cedula.admin.CedulaInfoAdmin` is registered on the same admin site, a link
    leads to the full page. Times are shown to the second, with the zone.
    """

    model = CedulaInfo
    fk_name = "user"
    # The model's own name, also as the plural: a user has one validation.
    verbose_name = verbose_name_plural = CedulaInfo._meta.verbose_name
    can_delete = False
    show_change_link = True
    fields = readonly_fields = (
        "cedula",
        "status",
        "vigencia",
        *PLACE_FIELDS,
        *NOVEDAD_FIELDS,
        "requested_at_full",
        "fetched_at_full",
        "purged_at_full",
        "source",
        "retry_count",
        "error_code",
        "error_message",
    )

    def has_add_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        # The package creates the row when the user's validation is requested.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        # Saving the user must never write the row back over a job's result.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any | None = None) -> bool:
        return False


# The authorizations ---------------------------------------------------------------------------


class InForceFilter(admin.SimpleListFilter):
    """In force or withdrawn."""

    title = _("in force")
    parameter_name = "in_force"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, _StrOrPromise]]:
        return [("yes", _("In force")), ("no", _("Withdrawn"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(withdrawn_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(withdrawn_at__isnull=False)
        return queryset


class CedulaConsentAdmin(CedulaConsentModelAdmin):
    """The holders' authorizations, read-only: they are the site's proof (Decreto 1377 de 2013,
    art. 8) and are never edited or deleted by hand. They are recorded by the sign-up form,
    :func:`~django_cedula.services.record_consent` and the validations' *Record the holder's
    authorization* action; withdrawn by :func:`~django_cedula.services.withdraw_consent`."""

    list_display = ("user_ref", "user", "version", "method", "granted_at_full", "withdrawn_at_full")
    list_filter = ("method", "version", InForceFilter)
    list_select_related = ("user",)
    search_fields = ("user_ref",)
    search_help_text = _("The holder's id.")
    ordering = ("-granted_at", "-pk")
    fields = readonly_fields = (
        "user",
        "user_ref",
        "version",
        "text",
        "method",
        "recorded_by",
        "granted_at_full",
        "withdrawn_at_full",
    )
    granted_at_full = full_time_display(CedulaConsent, "granted_at")
    withdrawn_at_full = full_time_display(CedulaConsent, "withdrawn_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: CedulaConsent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: CedulaConsent | None = None) -> bool:
        return False


# The captcha spend by day ---------------------------------------------------------------------


class CaptchaSpendAdmin(CaptchaSpendModelAdmin):
    """The captcha spend, one row per UTC day, newest first, read-only: its counters are written
    by the package (:mod:`django_cedula.captcha.spend`), never by hand."""

    list_display = ("day", *spend.EVENTS, "estimated_cost")
    date_hierarchy = "day"
    ordering = ("-day",)
    fields = readonly_fields = ("day", *spend.EVENTS, "estimated_cost")

    @admin.display(description=_("estimated cost"))
    def estimated_cost(self, obj: CaptchaSpend) -> str:
        """The day's solves at the solver's ``price_per_1000``, in that price's currency."""
        return cedula_stats.format_cost(cedula_stats.estimated_cost(obj.requested, price_per_1000()))

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
            "cedula_price": cedula_stats.format_price(price_per_1000()),
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)


admin.site.register(CedulaInfo, CedulaInfoAdmin)
admin.site.register(CedulaConsent, CedulaConsentAdmin)
admin.site.register(CaptchaSpend, CaptchaSpendAdmin)
