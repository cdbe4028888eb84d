"""The admin of cédula validations: read-only rows, their summary line, and *Validate again*.

Also who may see ``raw_response`` (:data:`RAW_RESPONSE_PERMISSION`), and the departamento filter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ..exceptions import InvalidCedulaError
from ..management.commands import cedula_stats
from ..models import CaptchaSpend, CedulaInfo, CedulaStatus
from ..numbers import mask_cedula, normalize_cedula
from ..services import RequestDecision, request_validation_batches
from .bases import CedulaInfoModelAdmin
from .fields import ATTEMPT_FIELDS, IDENTITY_FIELDS, NOVEDAD_FIELDS, PLACE_FIELDS, FullTimes
from .summary import SpendSummary, StatusCount, spend_summary_figures

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldOpts, _FieldsetSpec
    from django.db.models import Field, Model
    from django.utils.functional import _StrOrPromise

#: The permission that shows ``raw_response`` (declared in ``CedulaInfo.Meta.permissions``).
RAW_RESPONSE_PERMISSION = "django_cedula.view_raw_response"


def can_view_raw_response(request: HttpRequest) -> bool:
    """Whether the user of ``request`` may see what the source answered."""
    return request.user.has_perm(RAW_RESPONSE_PERMISSION)


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
    shown to the second, with the zone (:mod:`.times`); labels are the model's verbose names.
    """

    list_display = ("user", "masked_cedula", "status", "place", "updated_at_full")
    list_filter = ("status", ("departamento", DepartamentoFilter))
    list_select_related = ("user",)
    ordering = ("-updated_at",)
    search_help_text = _("The full cédula number, or part of the user's username or email.")
    actions = ("validate_again",)
    readonly_fields = (*IDENTITY_FIELDS, *PLACE_FIELDS, *NOVEDAD_FIELDS, *ATTEMPT_FIELDS)

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
