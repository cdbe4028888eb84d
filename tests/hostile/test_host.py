"""Issue #20, what a new user trips on, as probes: the install they are told to run, the job timeout
a chain needs, ``cedula_lookup --json``'s fields, the README's example number on the replica, and
what free stand-in solves are said to cost.

The lookups go over HTTP to the replica (the HTTP-only scraper: no Chromium), with the replica's
captcha solver, whose solves are free.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import ERROR
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from django_cedula.captcha import spend
from django_cedula.checks import check_sources, check_task_backend
from django_cedula.models import CaptchaSpend, CedulaInfo
from django_cedula.numbers import normalize_cedula
from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers import http
from django_cedula.testing.replica import Replica
from django_cedula.testing.replica.outcomes import OutcomeKind, outcome_for

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
WSP = "django_cedula.scrapers.wsp.WspScraper"
WSP_HTTP = "django_cedula.scrapers.wsp_http.WspHttpScraper"
DJANGO_Q = "django_cedula.backends.django_q.DjangoQBackend"
REPLICA_SOLVER = {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"}


def http_source(replica: Replica) -> dict[str, Any]:
    """The HTTP-only scraper on the replica's Source A page, with the suite's page timeout."""
    return {"BACKEND": WSP_HTTP, "OPTIONS": {"url": replica.wsp_url, **replica.source_options}}


@pytest.fixture
def on_the_replica(cedula_replica: Replica, settings: Any) -> Replica:
    """The package pointed at the replica over HTTP, each lookup solving its own (free) captcha."""
    settings.CEDULA_SOURCES = [http_source(cedula_replica)]
    settings.CEDULA_CAPTCHA_SOLVER = REPLICA_SOLVER
    settings.CEDULA_TOKEN_SUPPLY = {"ENABLED": False}
    return cedula_replica


def lookup_json(number: str) -> tuple[dict[str, Any], int]:
    """``cedula_lookup NUMBER --json``: the printed JSON and the exit status."""
    out = io.StringIO()
    try:
        call_command("cedula_lookup", number, "--json", stdout=out)
    except CommandError as exc:
        return json.loads(out.getvalue()), exc.returncode
    return json.loads(out.getvalue()), 0


# -- installing before a release ------------------------------------------------------------------

#: ``pip install`` of the package from PyPI, where it is not yet: "django-cedula" or "django-cedula[x]".
REGISTRY_INSTALL = re.compile(r"""pip install\s+['"]?django-cedula(\[[^\]]*\])?['"]?(?!\s*@)(\s|$|`)""")


@pytest.mark.parametrize(
    "path", ["README.md", "docs/installation.rst", "docs/scraper.rst", "docs/host-pages.rst"]
)
def test_every_pip_install_of_the_package_says_how_before_a_release(path: str) -> None:
    # "pip install django-cedula" answers "No matching distribution found" until the first
    # release: each such line must come with the clone's form, or say it is for after a release.
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if not REGISTRY_INSTALL.search(line):
            continue
        around = " ".join(lines[max(number - 2, 0) : number + 3])
        assert re.search(r"release|\./django-cedula|from a clone", around), f"{path}:{number + 1}: {line}"


def test_the_installation_page_says_how_to_install_from_a_clone_or_a_wheel() -> None:
    text = (DOCS / "installation.rst").read_text(encoding="utf-8")
    assert ".. _install-before-a-release:" in text
    for command in (
        "git clone https://github.com/django-cedula/django-cedula.git",
        "pip install ./django-cedula",
        "python -m pip wheel --no-deps --wheel-dir dist .",
        'pip install "dist/django_cedula-',
        'pip install "django-cedula[2captcha,redis] @ git+https://github.com/django-cedula/django-cedula.git"',
    ):
        assert command in text, command
    # The first step of the replica's path installs from the clone, not from PyPI.
    replica_path = text.split(".. _try-on-the-replica:", 1)[1].split("2. Create the app", 1)[0]
    assert "pip install ./django-cedula" in replica_path
    assert not REGISTRY_INSTALL.search(replica_path)
    # The wheel's name as pip builds it from this version.
    import django_cedula

    assert f"dist/django_cedula-{django_cedula.__version__}-py3-none-any.whl" in text
    readme = README.read_text(encoding="utf-8")
    assert "docs/installation.rst#installing-before-a-release" in readme


def test_e014_hint_says_how_to_install_curl_cffi(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "curl_cffi_missing", lambda: True)
    settings.CEDULA_SOURCES = [{"BACKEND": WSP_HTTP}]
    (message,) = [message for message in check_sources() if message.level >= ERROR]
    assert message.id == "django_cedula.E014"
    # The [http] extra as pyproject.toml declares it (read as text: tomllib is Python 3.11+).
    declared = re.search(r'^http = \["([^"]+)"\]$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)
    assert declared is not None
    requirement = declared.group(1)
    hint = message.hint or ""
    assert f"pip install '{requirement}'" in hint  # what works before a release and after it
    assert "django-cedula[http]" in hint
    assert "'.[http]'" in hint


# -- the job timeout of a chain -------------------------------------------------------------------


def documented_chain_timeouts() -> list[tuple[int, float, int, int]]:
    """The rows of settings.rst's ``.. chain-timeouts`` table: sources, longest job, timeout, retry."""
    text = (DOCS / "settings.rst").read_text(encoding="utf-8")
    table = text.split(".. chain-timeouts", 1)[1].split("\n\n", 3)[2]
    cells = re.findall(r"^\s+(?:\* )?- (.+)$", table, re.MULTILINE)
    rows = [cells[i : i + 4] for i in range(4, len(cells), 4)]
    assert rows, "no rows in the chain-timeouts table"
    return [(int(n), float(longest.removesuffix(" s")), int(t), int(r)) for n, longest, t, r in rows]


def w001(settings: Any, sources: int, timeout: int, retry: int) -> list[str]:
    """W001's messages with ``sources`` entries and the documented defaults of the timings."""
    settings.CEDULA_TASKS = {"BACKEND": DJANGO_Q}
    settings.CEDULA_SOURCES = [{"BACKEND": WSP}] * sources
    settings.CEDULA_LOOKUP_TIMEOUT = 120.0
    settings.CEDULA_MIN_LOOKUP_INTERVAL = 5.0
    settings.CEDULA_RATE_LIMIT = "1/5s"
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": timeout, "retry": retry}
    return [message.msg for message in check_task_backend() if message.id == "django_cedula.W001"]


def test_the_documented_timeout_of_each_chain_passes_w001_and_a_shorter_one_does_not(settings: Any) -> None:
    rows = documented_chain_timeouts()
    assert [row[0] for row in rows] == [1, 2, 3]
    for sources, longest, timeout, retry in rows:
        assert w001(settings, sources, timeout, retry) == [], (sources, timeout)
        (message,) = w001(settings, sources, int(longest), int(longest) + 60)
        assert f"the longest a job may run ({longest:g} s" in message
    # The single source's row is the installation page's Q_CLUSTER, which the replica path runs.
    installation = (DOCS / "installation.rst").read_text(encoding="utf-8")
    _, _, single_timeout, single_retry = rows[0]
    assert f'"timeout": {single_timeout},' in installation
    assert f'"retry": {single_retry},' in installation


def test_every_page_that_suggests_a_chain_gives_its_timeout() -> None:
    timeouts = {sources: timeout for sources, _longest, timeout, _retry in documented_chain_timeouts()}
    for path in ("README.md", "docs/installation.rst", "docs/scraper.rst"):
        text = re.sub(r"\s+", " ", (ROOT / path).read_text(encoding="utf-8"))
        assert f"{timeouts[2]} for two sources" in text or f"{timeouts[2]} s for two sources" in text, path
        assert f"{timeouts[3]} for three" in text or f"{timeouts[3]} s for three" in text, path


# -- cedula_lookup --json --------------------------------------------------------------------------


class DownScraper:
    """A source that answers with a server error: its result carries the HTTP status, no name."""

    def scrape_cedula(self, cedula: str) -> ScrapeResult:
        return ScrapeResult(status=ScrapeStatus.NETWORK_ERROR, error="HTTP 503", http_status=503)

    def close(self) -> None:
        pass


def test_cedula_lookup_json_names_the_source_and_leaves_out_an_absent_http_status(
    on_the_replica: Replica,
) -> None:
    data, code = lookup_json("1000000001")
    assert code == 0
    assert data["status"] == "found"
    assert data["source"] == "wsp-http"
    assert "http_status" not in data
    out = io.StringIO()
    call_command("cedula_lookup", "1000000001", stdout=out)
    assert out.getvalue().splitlines()[:2] == ["status: found", "source: wsp-http"]


def test_cedula_lookup_json_gives_a_server_errors_status_as_a_number(settings: Any) -> None:
    settings.CEDULA_SOURCES = [{"BACKEND": f"{__name__}.DownScraper"}]
    data, code = lookup_json("1000000001")
    assert code == 1
    assert data["source"] == "down"
    assert data["http_status"] == 503


# -- the README's example, on the replica ---------------------------------------------------------


def test_the_readmes_example_number_is_where_the_readme_says_on_the_replica(
    on_the_replica: Replica,
    settings: Any,
    make_user: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    readme = README.read_text(encoding="utf-8")
    typed = re.search(r'User\.objects\.create\(username="ana", cedula="([^"]+)"\)', readme)
    shown = re.search(r"\('Active', '([^']+)'\)", readme)
    assert typed, "the README's example changed shape"
    assert shown, "the README's example changed shape"
    number, municipio = normalize_cedula(typed.group(1)), shown.group(1)
    outcome = outcome_for(number)
    assert outcome.kind is OutcomeKind.FOUND
    assert outcome.place is not None
    assert outcome.place.municipio == municipio
    # And for real: registered on a site pointed at the replica, the job stores that municipio.
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.backends.inline.InlineBackend"}
    with django_capture_on_commit_callbacks(execute=True):
        user = make_user(username="ana", cedula=typed.group(1))
    info = CedulaInfo.objects.get(user=user)
    assert (info.get_status_display(), info.municipio) == ("Active", municipio)


# -- what free stand-in solves cost ---------------------------------------------------------------


def test_the_replicas_free_solves_are_counted_at_no_cost(
    on_the_replica: Replica,
    settings: Any,
    make_user: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
    admin_client: Client,
) -> None:
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.backends.inline.InlineBackend"}
    with django_capture_on_commit_callbacks(execute=True):
        user = make_user(cedula="1000000003")
    assert CedulaInfo.objects.get(user=user).status == CedulaInfo.Status.ACTIVE
    spend.flush()
    assert CaptchaSpend.objects.get().requested >= 1

    out = io.StringIO()
    call_command("cedula_stats", "--json", stdout=out)
    captcha = json.loads(out.getvalue())["captcha"]
    assert captcha["price_per_1000"] == 0.0
    assert captcha["today"]["requested"] >= 1
    assert [captcha[period]["estimated_cost"] for period in ("today", "last_7_days", "all_time")] == [0.0] * 3
    out = io.StringIO()
    call_command("cedula_stats", stdout=out)
    assert "Estimated cost today: 0.00 at CEDULA_CAPTCHA_SOLVER price_per_1000 = 0.0" in out.getvalue()

    html = admin_client.get(reverse("admin:django_cedula_captchaspend_changelist")).content.decode()
    assert re.findall(r'<td class="field-estimated_cost[^"]*">([^<]*)</td>', html) == ["0.00"]
    summary = admin_client.get(reverse("admin:django_cedula_cedulainfo_changelist")).content.decode()
    assert "estimated cost 0.00 at CEDULA_CAPTCHA_SOLVER price_per_1000 = 0.0" in summary
