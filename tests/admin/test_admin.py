"""The admin of cédula validations: list, filters, search, read-only pages, permissions, the action."""

from __future__ import annotations

import datetime
import re
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_cedula.admin import CedulaInfoAdmin, StatusCount, format_full_time
from django_cedula.models import CedulaInfo
from django_cedula.testing.backends import RecordingBackend
from django_cedula.testing.scrapers import FakeScraper

from .conftest import grant

pytestmark = pytest.mark.django_db

Status = CedulaInfo.Status
CHANGELIST = "admin:django_cedula_cedulainfo_changelist"
MakeRow = Callable[..., CedulaInfo]


def change_url(info: CedulaInfo) -> str:
    return reverse("admin:django_cedula_cedulainfo_change", args=[info.pk])


def listed_pks(response: Any) -> set[int]:
    return {row.pk for row in response.context["cl"].result_list}


# The list ------------------------------------------------------------------------------------


def test_changelist_shows_the_count_per_status(staff_client: Client, make_row: MakeRow) -> None:
    make_row("1020304050")
    make_row("1020304051")
    make_row("1020304052", status=Status.ERROR)
    make_row("1020304053", status=Status.NOT_FOUND)

    response = staff_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    counts = response.context["cedula_status_counts"]
    # In the order of the choices, only the statuses that occur.
    assert [(item.status, item.count) for item in counts] == [
        (Status.ACTIVE, 2),
        (Status.NOT_FOUND, 1),
        (Status.ERROR, 1),
    ]
    html = response.content.decode()
    assert "4 validations:" in html
    assert re.search(r'data-status="active"><a href="\?status__exact=active">Active</a>: 2<', html)
    assert re.search(r'data-status="error"><a href="\?status__exact=error">Error</a>: 1<', html)
    assert 'data-status="pending"' not in html


def test_status_counts_cover_the_whole_table_and_mark_the_selected_status(
    staff_client: Client, make_row: MakeRow
) -> None:
    make_row("1020304050")
    make_row("1020304052", status=Status.ERROR)

    response = staff_client.get(reverse(CHANGELIST), {"status__exact": "error"})

    assert len(response.context["cl"].result_list) == 1
    counts: list[StatusCount] = response.context["cedula_status_counts"]
    assert {item.status: (item.count, item.selected) for item in counts} == {
        "active": (1, False),
        "error": (1, True),
    }


def test_changelist_masks_the_number(staff_client: Client, make_row: MakeRow) -> None:
    make_row("1020304050", username="ana")

    response = staff_client.get(reverse(CHANGELIST))

    html = response.content.decode()
    assert "******4050" in html
    assert "1020304050" not in html
    assert "ana" in html


def test_changelist_columns(staff_client: Client, make_row: MakeRow) -> None:
    info = make_row(
        "1020304050",
        username="ana",
        departamento="ANTIOQUIA",
        municipio="MEDELLÍN",
        puesto="IE SAN JOSÉ",
        mesa="7",
    )
    CedulaInfo.objects.filter(pk=info.pk).update(
        updated_at=datetime.datetime(2026, 12, 1, 9, 0, 7, tzinfo=datetime.timezone.utc)
    )

    response = staff_client.get(reverse(CHANGELIST))

    html = response.content.decode()
    # Six narrow columns (with the checkbox): the list fits 1280 pixels with the filter sidebar.
    assert response.context["cl"].list_display == [
        "action_checkbox",
        "user",
        "masked_cedula",
        "status_label",
        "place",
        "updated_at_full",
    ]
    headers = re.findall(r'<th scope="col" class="[^"]*\b(column-[\w]+)', html)
    assert headers == [
        "column-user",
        "column-masked_cedula",
        "column-status_label",
        "column-place",
        "column-updated_at_full",
    ]
    for header in (
        ">User</a>",
        ">Cédula</a>",
        ">Status</a>",
        ">Municipality, department</a>",
        ">Updated at</a>",
    ):
        assert header in html, header
    assert '<td class="field-place">MEDELLÍN, ANTIOQUIA</td>' in html
    # The full time, to the second, in the current time zone (America/Bogota in the tests).
    assert '<td class="field-updated_at_full">2026-12-01 04:00:07 -05</td>' in html
    assert '<td class="field-status_label">Active</td>' in html
    # The polling station and the table are on the row's page only.
    assert "IE SAN JOSÉ" not in html
    assert "field-mesa" not in html


def test_a_row_without_a_place_shows_the_empty_value(staff_client: Client, make_row: MakeRow) -> None:
    make_row("1020304050", status=Status.NOT_FOUND, departamento="", municipio="")

    html = staff_client.get(reverse(CHANGELIST)).content.decode()

    assert '<td class="field-place">-</td>' in html


def test_the_list_is_sorted_by_place_and_by_time(staff_client: Client, make_row: MakeRow) -> None:
    cali = make_row("1020304050", municipio="CALI", departamento="VALLE")
    bogota = make_row("1020304051", municipio="BOGOTÁ D.C.", departamento="BOGOTÁ D.C.")
    columns = list(CedulaInfoAdmin.list_display)

    by_place = staff_client.get(reverse(CHANGELIST), {"o": str(columns.index("place") + 1)})
    assert [row.pk for row in by_place.context["cl"].result_list] == [bogota.pk, cali.pk]
    by_time = staff_client.get(reverse(CHANGELIST), {"o": str(columns.index("updated_at_full") + 1)})
    assert [row.pk for row in by_time.context["cl"].result_list] == [cali.pk, bogota.pk]


def test_filter_by_status(staff_client: Client, make_row: MakeRow) -> None:
    active = make_row("1020304050")
    failed = make_row("1020304051", status=Status.TIMEOUT)

    response = staff_client.get(reverse(CHANGELIST), {"status__exact": Status.TIMEOUT})

    assert listed_pks(response) == {failed.pk}
    assert active.pk not in listed_pks(response)


def test_filter_by_departamento_lists_only_real_values(staff_client: Client, make_row: MakeRow) -> None:
    antioquia = make_row("1020304050", departamento="ANTIOQUIA")
    make_row("1020304051", departamento="VALLE")
    make_row("1020304052", status=Status.NOT_FOUND, departamento="")

    response = staff_client.get(reverse(CHANGELIST), {"departamento": "ANTIOQUIA"})

    assert listed_pks(response) == {antioquia.pk}
    departamento_filter = next(
        spec for spec in response.context["cl"].filter_specs if spec.field_path == "departamento"
    )
    assert list(departamento_filter.lookup_choices) == ["ANTIOQUIA", "VALLE"]


@pytest.mark.parametrize("term", ["1020304050", "1.020.304.050", "1 020 304 050", " 1020304050 "])
def test_search_by_the_full_number(staff_client: Client, make_row: MakeRow, term: str) -> None:
    wanted = make_row("1020304050")
    make_row("1020304051")

    response = staff_client.get(reverse(CHANGELIST), {"q": term})

    assert listed_pks(response) == {wanted.pk}


def test_search_by_part_of_the_number_finds_nothing(staff_client: Client, make_row: MakeRow) -> None:
    make_row("1020304050")

    # An exact match only, which the column's index serves.
    assert listed_pks(staff_client.get(reverse(CHANGELIST), {"q": "4050"})) == set()


def test_search_by_username_and_email(staff_client: Client, make_row: MakeRow) -> None:
    ana = make_row("1020304050", username="ana.gomez", email="ana@example.co")
    luis = make_row("1020304051", username="luis", email="lperez@example.co")

    assert listed_pks(staff_client.get(reverse(CHANGELIST), {"q": "ana.gomez"})) == {ana.pk}
    assert listed_pks(staff_client.get(reverse(CHANGELIST), {"q": "lperez@"})) == {luis.pk}


def test_search_fields_follow_the_user_model(rf: Any) -> None:
    from django.contrib import admin

    model_admin = CedulaInfoAdmin(CedulaInfo, admin.site)
    assert model_admin.get_search_fields(rf.get("/")) == ["cedula__exact", "user__username", "user__email"]


# Read-only pages -----------------------------------------------------------------------------


def test_change_view_shows_every_field_read_only(staff_client: Client, make_row: MakeRow) -> None:
    info = make_row(
        "1020304050",
        departamento="ANTIOQUIA",
        municipio="MEDELLÍN",
        puesto="IE SAN JOSÉ",
        direccion="CALLE 10 # 20-30",
        mesa="7",
        source="wsp",
        retry_count=2,
    )

    response = staff_client.get(change_url(info))

    assert response.status_code == 200
    html = response.content.decode()
    for text in ("ANTIOQUIA", "MEDELLÍN", "IE SAN JOSÉ", "CALLE 10 # 20-30", "wsp"):
        assert text in html, text
    assert "1020304050" in html  # the full number is on the row's own page
    assert response.context["adminform"].form.fields == {}
    assert 'name="departamento"' not in html
    assert 'name="_save"' not in html
    # The fieldsets and the labels are the model's vocabulary.
    titles = [fieldset.name for fieldset in response.context["adminform"]]
    assert [str(title) if title else title for title in titles] == [
        None,
        "Voting place",
        "Record note",
        "Attempts and errors",
    ]
    for label in (
        "Department",
        "Municipality",
        "Polling station",
        "Address",
        "Voting table",
        "Date of the record note",
        "Answered by",
        "Retries",
    ):
        assert f"<label>{label}:</label>" in html, label


def test_change_view_shows_times_to_the_second_with_the_zone(staff_client: Client, make_row: MakeRow) -> None:
    info = make_row("1020304050")
    moment = datetime.datetime(2026, 12, 1, 9, 0, 0, tzinfo=datetime.timezone.utc)
    CedulaInfo.objects.filter(pk=info.pk).update(
        requested_at=moment,
        fetched_at=moment + datetime.timedelta(seconds=12),
        created_at=moment,
        updated_at=moment + datetime.timedelta(seconds=13),
        next_attempt_at=None,
    )

    html = staff_client.get(change_url(info)).content.decode()

    for text in (
        "<label>Requested at:</label>",
        '<div class="readonly">2026-12-01 04:00:00 -05</div>',
        "<label>Answered at:</label>",
        '<div class="readonly">2026-12-01 04:00:12 -05</div>',
        '<div class="readonly">2026-12-01 04:00:13 -05</div>',
        "<label>Next attempt at:</label>",
        '<div class="readonly">-</div>',  # no next attempt: the empty value, not "None"
    ):
        assert text in html, text
    assert "4 a.m." not in html
    assert '<div class="readonly">None</div>' not in html


def test_full_times_follow_the_current_time_zone() -> None:
    moment = datetime.datetime(2026, 12, 1, 9, 0, 7, tzinfo=datetime.timezone.utc)

    assert format_full_time(moment) == "2026-12-01 04:00:07 -05"
    with timezone.override(datetime.timezone.utc):
        assert format_full_time(moment) == "2026-12-01 09:00:07 UTC"
    with timezone.override(zoneinfo.ZoneInfo("Europe/Madrid")):
        assert format_full_time(moment) == "2026-12-01 10:00:07 CET"
    assert format_full_time(None) is None


def test_posting_the_change_form_changes_nothing(staff_client: Client, make_row: MakeRow) -> None:
    info = make_row("1020304050", departamento="ANTIOQUIA")

    response = staff_client.post(change_url(info), {"departamento": "VALLE", "status": "active"})

    assert response.status_code == 403
    info.refresh_from_db()
    assert info.departamento == "ANTIOQUIA"


def test_there_is_no_add_page(staff_client: Client, make_user: Callable[..., Any]) -> None:
    add_url = reverse("admin:django_cedula_cedulainfo_add")
    assert staff_client.get(add_url).status_code == 403
    user = make_user()
    assert staff_client.post(add_url, {"user": user.pk, "cedula": "1020304050"}).status_code == 403
    assert not CedulaInfo.objects.exists()


def test_only_superusers_delete(
    client: Client, staff_client: Client, make_row: MakeRow, make_user: Callable[..., Any]
) -> None:
    info = make_row("1020304050")
    delete_url = reverse("admin:django_cedula_cedulainfo_delete", args=[info.pk])
    staff = make_user(username="staff-with-delete", is_staff=True)
    grant(staff, "view_cedulainfo", "delete_cedulainfo")
    staff_client.force_login(staff)

    assert staff_client.get(delete_url).status_code == 403

    staff_client.force_login(make_user(username="root", is_staff=True, is_superuser=True))
    assert staff_client.get(delete_url).status_code == 200
    assert staff_client.post(delete_url, {"post": "yes"}).status_code == 302
    assert not CedulaInfo.objects.filter(pk=info.pk).exists()


# Raw responses -------------------------------------------------------------------------------

RAW = "<p>RAW-ANSWER-MARKER</p>"


def test_raw_response_is_hidden_without_the_permission(staff_client: Client, make_row: MakeRow) -> None:
    info = make_row("1020304050", raw_response=RAW)

    html = staff_client.get(change_url(info)).content.decode()

    assert "RAW-ANSWER-MARKER" not in html
    assert "Raw response" not in html


def test_raw_response_is_shown_escaped_with_the_permission(
    client: Client, make_row: MakeRow, make_user: Callable[..., Any]
) -> None:
    info = make_row("1020304050", raw_response=RAW)
    auditor = make_user(username="auditor", is_staff=True)
    grant(auditor, "view_cedulainfo", "view_raw_response")
    client.force_login(auditor)

    html = client.get(change_url(info)).content.decode()

    assert "<pre>&lt;p&gt;RAW-ANSWER-MARKER&lt;/p&gt;</pre>" in html
    assert RAW not in html  # never rendered as HTML


def test_raw_response_cannot_be_probed_through_url_filters(
    client: Client, staff_client: Client, make_row: MakeRow, make_user: Callable[..., Any]
) -> None:
    make_row("1020304050", raw_response=RAW)
    probe = {"raw_response__contains": "MARKER"}

    assert staff_client.get(reverse(CHANGELIST), probe).status_code == 400

    auditor = make_user(username="auditor", is_staff=True)
    grant(auditor, "view_cedulainfo", "view_raw_response")
    client.force_login(auditor)
    assert client.get(reverse(CHANGELIST), probe).status_code == 200


# "Validate again" ------------------------------------------------------------------------------


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def action_data(*rows: CedulaInfo) -> dict[str, Any]:
    return {"action": "validate_again", "_selected_action": [row.pk for row in rows]}


def run_action(client: Client, capture: Callable[..., Any], *rows: CedulaInfo) -> Any:
    # The admin's request commits in real life; here the queued jobs are run explicitly.
    with capture(execute=True):
        return client.post(reverse(CHANGELIST), action_data(*rows), follow=True)


def test_validate_again_runs_the_selected_rows_again(
    staff_client: Client, make_row: MakeRow, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    failed = make_row("1020304050", status=Status.TIMEOUT, retry_count=3, error_code="timeout")
    done = make_row("1020304051")
    untouched = make_row("1020304052", status=Status.ERROR)
    calls_before = len(FakeScraper.calls)

    response = run_action(staff_client, django_capture_on_commit_callbacks, failed, done)

    assert response.status_code == 200
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Validation requested again for 2 cédulas."
    ]
    assert sorted(FakeScraper.calls[calls_before:]) == ["1020304050", "1020304051"]
    for row in (failed, done):
        fresh = CedulaInfo.objects.get(pk=row.pk)
        assert fresh.status == Status.ACTIVE
        assert fresh.retry_count == 0
        assert fresh.error_code == ""
        assert fresh.requested_at is not None
        assert row.requested_at is not None
        assert fresh.requested_at > row.requested_at
    assert CedulaInfo.objects.get(pk=untouched.pk).status == Status.ERROR


def test_validate_again_ignores_the_cooldown_and_reads_the_users_current_number(
    staff_client: Client, make_row: MakeRow, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    info = make_row("1020304050")
    info.user.cedula = "1.020.304.059"
    info.user.save()

    run_action(staff_client, django_capture_on_commit_callbacks, info)

    info.refresh_from_db()
    assert info.cedula == "1020304059"
    assert FakeScraper.calls[-1] == "1020304059"


def test_validate_again_reports_users_it_could_not_look_up(
    staff_client: Client, make_row: MakeRow, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    emptied = make_row("1020304050")
    emptied.user.cedula = ""
    emptied.user.save()
    malformed = make_row("1020304051")
    malformed.user.cedula = "12-AB"
    malformed.user.save()
    calls_before = len(FakeScraper.calls)

    response = run_action(staff_client, django_capture_on_commit_callbacks, emptied, malformed)

    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "1 user has a malformed cédula number; it was marked invalid and not looked up.",
        "1 user no longer has a cédula number and was skipped.",
    ]
    assert FakeScraper.calls[calls_before:] == []
    assert CedulaInfo.objects.get(pk=malformed.pk).status == Status.INVALID


def test_validate_again_needs_the_change_permission(
    client: Client,
    make_row: MakeRow,
    make_user: Callable[..., Any],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    info = make_row("1020304050")
    viewer = make_user(username="viewer", is_staff=True)
    grant(viewer, "view_cedulainfo")
    client.force_login(viewer)

    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert "validate_again" not in response.content.decode()

    calls_before = len(FakeScraper.calls)
    run_action(client, django_capture_on_commit_callbacks, info)
    assert FakeScraper.calls[calls_before:] == []


def test_the_action_is_offered_to_staff_with_the_change_permission(
    staff_client: Client, make_row: MakeRow
) -> None:
    make_row("1020304050")

    html = staff_client.get(reverse(CHANGELIST)).content.decode()

    assert '<option value="validate_again">Validate again</option>' in html
    assert "delete_selected" not in html  # superusers only


def test_validate_again_takes_a_bounded_number_of_queries_and_queues_the_rows_together(
    staff_client: Client,
    make_user: Callable[..., Any],
    recording_backend: type[RecordingBackend],
    django_capture_on_commit_callbacks: Callable[..., Any],
    django_assert_max_num_queries: Callable[..., Any],
) -> None:
    # Rows in the cooldown, finished or failed: "Validate again" restarts them all.
    users = [make_user(cedula=str(1_020_304_000 + index)) for index in range(51)]
    rows = list(CedulaInfo.objects.order_by("pk"))
    for index, row in enumerate(rows):
        status = (Status.ACTIVE, Status.ERROR, Status.TIMEOUT)[index % 3]
        CedulaInfo.objects.filter(pk=row.pk).update(status=status, retry_count=index % 3)
    recording_backend.reset()
    one, fifty = rows[:1], rows[1:]

    with CaptureQueriesContext(connection) as for_one, django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(reverse(CHANGELIST), action_data(*one))
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Validation requested again for 1 cédula."
    ]
    recording_backend.reset()
    staff_client.cookies.pop("messages", None)  # shown; the next request starts without them

    # Fifty rows cost no more queries than one: one locking read and one UPDATE for the lot.
    with (
        django_assert_max_num_queries(len(for_one)),
        django_capture_on_commit_callbacks(execute=True) as handed_over,
    ):
        response = staff_client.post(reverse(CHANGELIST), action_data(*fifty))

    assert response.status_code == 302
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Validation requested again for 50 cédulas."
    ]
    assert len(handed_over) == 1  # the fifty jobs reach the queue in one go (enqueue_many)
    assert sorted((job.user_id, job.attempt) for job in recording_backend.jobs) == [
        (user.pk, 1) for user in users[1:]
    ]
    restarted = CedulaInfo.objects.filter(pk__in=[row.pk for row in fifty])
    assert set(restarted.values_list("status", "retry_count")) == {(Status.PENDING, 0)}
