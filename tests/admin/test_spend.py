"""The captcha spend in the admin: today's line above the validations, and the read-only list by day."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_cedula.models import CaptchaSpend, CedulaInfo

from .conftest import grant

pytestmark = pytest.mark.django_db

Status = CedulaInfo.Status
CHANGELIST = "admin:django_cedula_cedulainfo_changelist"
SPEND_LIST = "admin:django_cedula_captchaspend_changelist"
MakeRow = Callable[..., CedulaInfo]


def utc_today() -> datetime.date:
    return timezone.now().astimezone(datetime.timezone.utc).date()


def spend_line(html: str) -> str:
    """The text of the spend line, tags removed and spaces collapsed."""
    match = re.search(r'<p id="cedula-spend-today">(.*?)</p>', html, re.S)
    assert match, "no spend line on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


@pytest.fixture
def today_spend() -> CaptchaSpend:
    CaptchaSpend.objects.create(
        day=utc_today() - datetime.timedelta(days=1), requested=500, used=480, expired=20
    )  # yesterday's: not in today's line
    return CaptchaSpend.objects.create(
        day=utc_today(), requested=10, delivered=9, used=7, expired=1, refused=2, failed=1
    )


def test_the_changelist_shows_today_s_spend(
    staff_client: Client, make_row: MakeRow, today_spend: CaptchaSpend, twocaptcha: Any
) -> None:
    for number in range(1020304050, 1020304054):
        make_row(str(number))  # four validations ended today (the fake scraper answers at once)
    make_row("1020304060", status=Status.PENDING)  # not final: not counted

    html = staff_client.get(reverse(CHANGELIST)).content.decode()

    assert spend_line(html) == (
        "Captcha today (UTC): 10 solves &middot; 7 tokens used &middot; 1 expired &middot; 2 refused "
        "&middot; 2.50 solves per final validation &middot; estimated cost 0.03 at "
        "CEDULA_CAPTCHA_SOLVER price_per_1000 = 3.0"
    )
    # This staff user may not view the spend by day: no link to it.
    assert reverse(SPEND_LIST) not in html


def test_the_line_links_to_the_spend_by_day_for_staff_who_may_view_it(
    staff_client: Client, make_user: Callable[..., Any], today_spend: CaptchaSpend
) -> None:
    staff = make_user(username="accountant", is_staff=True)
    grant(staff, "view_cedulainfo", "view_captchaspend")
    staff_client.force_login(staff)

    html = staff_client.get(reverse(CHANGELIST)).content.decode()

    assert f'<a href="{reverse(SPEND_LIST)}">spend by day</a>' in html
    assert "no final validation yet" in spend_line(html)


def test_an_empty_table_and_no_spend(staff_client: Client, twocaptcha: Any) -> None:
    html = staff_client.get(reverse(CHANGELIST)).content.decode()
    assert spend_line(html) == (
        "Captcha today (UTC): 0 solves &middot; 0 tokens used &middot; 0 expired &middot; 0 refused "
        "&middot; no final validation yet &middot; estimated cost 0.00 at "
        "CEDULA_CAPTCHA_SOLVER price_per_1000 = 3.0"
    )


def test_singular_forms_and_the_solver_s_price(
    staff_client: Client, settings: Any, twocaptcha: dict[str, Any]
) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = {
        **twocaptcha,
        "OPTIONS": {**twocaptcha["OPTIONS"], "price_per_1000": 15.0},
    }
    CaptchaSpend.objects.create(day=utc_today(), requested=1, used=1, expired=1, refused=1)
    line = spend_line(staff_client.get(reverse(CHANGELIST)).content.decode())
    assert line.startswith(
        "Captcha today (UTC): 1 solve &middot; 1 token used &middot; 1 expired &middot; 1 refused"
    )
    assert line.endswith("estimated cost 0.02 at CEDULA_CAPTCHA_SOLVER price_per_1000 = 15.0")


@pytest.mark.parametrize(
    "solver",
    [None, {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"}],
    ids=["no solver", "the replica's solver"],
)
def test_solves_cost_nothing_without_a_priced_solver(
    spend_viewer: Client, today_spend: CaptchaSpend, settings: Any, solver: dict[str, Any] | None
) -> None:
    settings.CEDULA_CAPTCHA_SOLVER = solver
    html = spend_viewer.get(reverse(SPEND_LIST)).content.decode()
    cells = re.findall(r'<td class="field-estimated_cost[^"]*">([^<]*)</td>', html)
    assert cells == ["0.00", "0.00"]
    assert "Estimated cost at CEDULA_CAPTCHA_SOLVER price_per_1000 = 0.0," in html


@pytest.mark.urls("tests.admin.urls")
def test_a_site_without_the_spend_admin_shows_the_line_without_a_link(
    client: Client, make_user: Callable[..., Any], today_spend: CaptchaSpend
) -> None:
    client.force_login(make_user(username="root", is_staff=True, is_superuser=True))
    response = client.get(reverse("host_admin:django_cedula_cedulainfo_changelist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "10 solves" in spend_line(html)
    assert "spend by day" not in html


# The spend by day ---------------------------------------------------------------------------


@pytest.fixture
def spend_viewer(client: Client, make_user: Callable[..., Any]) -> Client:
    """Staff who may view the spend (and nothing else)."""
    staff = make_user(username="spend-viewer", is_staff=True)
    grant(staff, "view_captchaspend")
    client.force_login(staff)
    return client


def test_the_spend_by_day_lists_every_counter_and_the_cost(
    spend_viewer: Client, today_spend: CaptchaSpend, twocaptcha: Any
) -> None:
    response = spend_viewer.get(reverse(SPEND_LIST))

    assert response.status_code == 200
    assert [row.day for row in response.context["cl"].result_list] == [
        utc_today(),
        utc_today() - datetime.timedelta(days=1),
    ]
    html = response.content.decode()
    for heading in (
        "Day",
        "Solves requested",
        "Tokens delivered",
        "Tokens used",
        "Tokens expired unused",
        "Tokens refused by the site",
        "Solves failed",
        "Estimated cost",
    ):
        assert heading in html, heading
    cells = re.findall(r'<td class="field-([a-z_]+)[^"]*">([^<]*)</td>', html)
    today_row = dict(cells[:7])
    assert today_row == {
        "requested": "10",
        "delivered": "9",
        "used": "7",
        "expired": "1",
        "refused": "2",
        "failed": "1",
        "estimated_cost": "0.03",
    }
    assert dict(cells[7:14])["estimated_cost"] == "1.50"  # yesterday's 500 solves
    assert (
        "Days in UTC. Estimated cost at CEDULA_CAPTCHA_SOLVER price_per_1000 = 3.0, in that price's currency."
        in html
    )
    assert reverse("admin:django_cedula_captchaspend_add") not in html  # no "Add" button
    assert 'name="action"' not in html  # no delete action


def test_the_spend_cannot_be_added_changed_or_deleted(
    client: Client, make_user: Callable[..., Any], today_spend: CaptchaSpend, twocaptcha: Any
) -> None:
    staff = make_user(username="spend-staff", is_staff=True)
    # Every permission of the model: the admin refuses adding, changing and deleting anyway.
    grant(staff, "view_captchaspend", "add_captchaspend", "change_captchaspend", "delete_captchaspend")
    superuser = make_user(username="root", is_staff=True, is_superuser=True)
    add_url = reverse("admin:django_cedula_captchaspend_add")
    change_url = reverse("admin:django_cedula_captchaspend_change", args=[today_spend.pk])
    delete_url = reverse("admin:django_cedula_captchaspend_delete", args=[today_spend.pk])
    form = {"day": utc_today().isoformat(), "requested": 0, "delivered": 0, "used": 0}

    for user in (staff, superuser):
        client.force_login(user)
        assert client.get(add_url).status_code == 403
        assert client.post(add_url, form).status_code == 403
        page = client.get(change_url)
        assert page.status_code == 200  # the day's page, read-only
        assert 'name="_save"' not in page.content.decode()
        assert "0.03" in page.content.decode()  # the estimated cost on the page too
        assert client.post(change_url, form).status_code == 403
        assert client.get(delete_url).status_code == 403
        assert client.post(delete_url, {"post": "yes"}).status_code == 403

    today_spend.refresh_from_db()
    assert (today_spend.requested, today_spend.used) == (10, 7)
    assert CaptchaSpend.objects.count() == 2


def test_the_spend_by_day_needs_its_view_permission(staff_client: Client, today_spend: CaptchaSpend) -> None:
    # staff_client may view validations, not the spend.
    assert staff_client.get(reverse(SPEND_LIST)).status_code == 403
