"""Every scraper, browser and HTTP-only, for both sources, against the real replica over HTTP: every
row of the outcome table and every fault give the expected status and fields.

The HTTP variants are unit tests (no Chromium, tens of milliseconds a lookup); the browser variants
are marked ``browser`` and also run the HTTP scraper on the same case, on a reset replica, and
compare the two results field by field: the same status and the same data.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from django_cedula.results import DATA_FIELDS, ScrapeResult, ScrapeStatus
from django_cedula.scrapers.base import BaseScraper
from django_cedula.scrapers.consultacenso_http import ConsultaCensoHttpScraper
from django_cedula.scrapers.http import HttpScraper
from django_cedula.scrapers.wsp_http import WspHttpScraper
from django_cedula.testing.replica import OUTCOMES, FaultMode, OutcomeKind, Replica
from django_cedula.testing.replica.faults import VIGENCIA_FAULTS

S = ScrapeStatus
#: The status each kind of outcome ends in (Source B's "500 on GET" below: its app page is not retried).
TABLE_STATUS: dict[OutcomeKind, ScrapeStatus] = {
    OutcomeKind.FOUND: S.FOUND,
    OutcomeKind.NOT_FOUND: S.NOT_FOUND,
    OutcomeKind.CANCELLED: S.CANCELLED,
    OutcomeKind.UPDATING: S.NETWORK_ERROR,
    OutcomeKind.CURL_ERROR: S.TIMEOUT,
    OutcomeKind.CURL_ERROR_ONCE: S.TIMEOUT,  # the first lookup since the reset
    OutcomeKind.RELOAD_ONCE: S.FOUND,
    OutcomeKind.CAPTCHA_REJECT: S.TOKEN_REFUSED,  # the site refused the token posted
    OutcomeKind.BLOCK: S.BLOCKED,
    OutcomeKind.GET500: S.FOUND,
    OutcomeKind.SLOW: S.TIMEOUT,
    OutcomeKind.DROP: S.NETWORK_ERROR,
    OutcomeKind.GARBAGE: S.PARSE_ERROR,
    OutcomeKind.HUGE: S.PARSE_ERROR,
    OutcomeKind.GZIP_BOMB: S.PARSE_ERROR,
    OutcomeKind.DEEP_JSON: S.PARSE_ERROR,
}
FOUND = "1000000001"


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    number: str
    status: ScrapeStatus
    #: Source B's status where it differs.
    censo_status: ScrapeStatus | None = None
    fault: FaultMode | None = None
    times: int | None = None

    def expected(self, source: str) -> ScrapeStatus:
        return (self.censo_status or self.status) if source == "censo" else self.status

    def arrange(self, replica: Replica) -> None:
        if self.fault is not None:
            replica.set_fault(self.fault, times=self.times)


TABLE_CASES = [
    Case(
        f"table-{number}-{outcome.kind}",
        number,
        TABLE_STATUS[outcome.kind],
        S.NETWORK_ERROR if outcome.kind is OutcomeKind.GET500 else None,
    )
    for number, outcome in OUTCOMES.items()
] + [Case("table-any-other-number", "52123456", S.FOUND)]

FAULT_STATUS: dict[FaultMode, tuple[ScrapeStatus, ScrapeStatus | None, int | None]] = {
    # mode: (status, Source B's if different, times)
    FaultMode.SLOW: (S.TIMEOUT, None, None),
    FaultMode.DROP: (S.NETWORK_ERROR, None, None),
    FaultMode.GET500: (S.FOUND, S.NETWORK_ERROR, 1),  # A retries its form page once; B does not
    FaultMode.BLOCK: (S.BLOCKED, None, None),
    FaultMode.GARBAGE: (S.PARSE_ERROR, None, None),
    FaultMode.CURL_ERROR: (S.TIMEOUT, None, None),
    FaultMode.CAPTCHA_REJECT: (S.TOKEN_REFUSED, None, None),
    FaultMode.RELOAD: (S.NETWORK_ERROR, None, None),  # reloaded once, asked again: given up
    FaultMode.UPDATING: (S.NETWORK_ERROR, None, None),
    FaultMode.HUGE: (S.PARSE_ERROR, None, None),
    FaultMode.GZIP_BOMB: (S.PARSE_ERROR, None, None),
    FaultMode.DEEP_JSON: (S.PARSE_ERROR, None, None),
    FaultMode.FINGERPRINT: (S.FOUND, None, None),  # a browser, and curl_cffi with Chrome's headers, pass
    FaultMode.BLOCK_WSP: (S.BLOCKED, S.FOUND, None),  # the block of one source only (the chain's tests)
    FaultMode.BLOCK_CENSO: (S.FOUND, S.BLOCKED, None),
    # The form page's HTTP status says what happened (set for every request, they fire on page GETs).
    FaultMode.HTTP429: (S.BLOCKED, None, None),
    FaultMode.HTTP404: (S.PAGE_MOVED, None, None),
    FaultMode.HTTP410: (S.PAGE_MOVED, None, None),
    # An answer in ISO-8859-1, declared so: the accents of "BOGOTÁ" read as they were sent.
    FaultMode.LATIN1: (S.FOUND, None, None),
    # 1 MiB of unclosed HTML comments as the answer: read in linear time, unreadable (tests/hostile).
    FaultMode.HOSTILE_MARKUP: (S.PARSE_ERROR, None, None),
    # The site changed (tests/replica/test_change_faults.py): answers of a new shape, a new form, every
    # token refused.
    FaultMode.NEW_MARKUP: (S.PARSE_ERROR, None, None),
    FaultMode.NEW_MARKUP_WSP: (S.PARSE_ERROR, S.FOUND, None),  # one source's answers only
    FaultMode.NEW_MARKUP_CENSO: (S.FOUND, S.PARSE_ERROR, None),
    FaultMode.FORM_SHAPE: (S.FORM_CHANGED, None, None),
    FaultMode.REFUSE_TOKENS: (S.TOKEN_REFUSED, None, None),
    # The election-season site out of its season (tests/scrapers/test_elecciones.py): the census
    # sources answer as usual.
    FaultMode.ELECCIONES_OFFLINE: (S.FOUND, None, None),
    FaultMode.ELECCIONES_502: (S.FOUND, None, None),
}
#: The faults that end a lookup with a configuration error, raised rather than returned: a proxy on
#: the way asks for credentials (``tests/scrapers/test_http_statuses.py``).
CONFIG_FAULTS = frozenset({FaultMode.HTTP407})
FAULT_CASES = [
    Case(f"fault-{mode}", FOUND, status, censo, mode, times)
    for mode, (status, censo, times) in FAULT_STATUS.items()
] + [
    Case("fault-get500-twice", FOUND, S.NETWORK_ERROR, None, FaultMode.GET500, 2),
    Case("fault-reload-once", FOUND, S.FOUND, None, FaultMode.RELOAD, 1),
]
CASES = TABLE_CASES + FAULT_CASES


def test_every_fault_mode_and_table_kind_has_a_case() -> None:
    # The vigencia service's faults are no census page's (tests/scrapers/test_vigencia_precheck.py).
    assert {case.fault for case in FAULT_CASES} | CONFIG_FAULTS | set(VIGENCIA_FAULTS) >= set(FaultMode)
    assert {OUTCOMES[case.number].kind for case in TABLE_CASES if case.number in OUTCOMES} == set(OutcomeKind)


def http_scraper(replica: Replica, source: str, **options: Any) -> HttpScraper:
    """The HTTP scraper of ``source``, with the options of the replica's entry for it (its ``url``,
    the suite's ``page_timeout``) and ``options`` besides."""
    cls = WspHttpScraper if source == "wsp" else ConsultaCensoHttpScraper
    return cls(**replica.source(source, **options)["OPTIONS"])


def browser_scraper(replica: Replica, source: str) -> BaseScraper:
    from django_cedula.scrapers.consultacenso import ConsultaCensoScraper
    from django_cedula.scrapers.wsp import WspScraper

    cls = WspScraper if source == "wsp" else ConsultaCensoScraper
    return cls(**replica.source(source)["OPTIONS"])


def run(replica: Replica, case: Case, scraper: BaseScraper) -> ScrapeResult:
    """``case`` on a replica in its state after the fixtures' reset."""
    replica.reset()
    replica.slow_seconds = 6  # past the page_timeout (4 s for the suite's replica sources)
    case.arrange(replica)
    return ScrapeResult.coerce(scraper.scrape_cedula(case.number))


def check(replica: Replica, case: Case, source: str, result: ScrapeResult) -> None:
    """The status the case expects, the outcome table's fields, and no full number in the error."""
    assert result.status is case.expected(source), result.error
    outcome = replica.outcome(case.number)
    if result.status is S.FOUND:
        assert outcome.place is not None
        place = outcome.place
        assert (result.departamento, result.municipio, result.puesto, result.direccion, result.mesa) == (
            place.departamento,
            place.municipio,
            place.puesto,
            place.direccion,
            place.mesa,
        )
    elif result.status is S.CANCELLED:
        assert outcome.novedad is not None
        assert result.novedad.lower() == outcome.novedad.text.lower()
        assert (result.resolucion, result.fecha_novedad) == (
            outcome.novedad.resolucion,
            outcome.novedad.fecha,
        )
    elif result.status.is_transient:
        assert result.error
        assert case.number not in result.error


def data(result: ScrapeResult) -> dict[str, str]:
    return {"status": result.status.value, **{name: getattr(result, name) for name in DATA_FIELDS}}


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_http_scraper(replica_settings: Replica, source: str, case: Case) -> None:
    # A slow answer (6 s) is given up sooner than a browser needs; every other case keeps the
    # suite's 4 s, which a gzip bomb's decompression on a loaded machine needs (1.5 s was not).
    page_timeout = 1.5 if "slow" in case.id else 4
    result = run(replica_settings, case, http_scraper(replica_settings, source, page_timeout=page_timeout))
    check(replica_settings, case, source, result)


@pytest.mark.browser
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_browser_scraper_and_the_http_one_agree(replica_settings: Replica, source: str, case: Case) -> None:
    browser = run(replica_settings, case, browser_scraper(replica_settings, source))
    check(replica_settings, case, source, browser)
    http = run(replica_settings, case, http_scraper(replica_settings, source))
    assert data(http) == data(browser)


def test_a_plain_client_is_refused_by_the_fingerprint_fault(replica_settings: Replica, source: str) -> None:
    replica_settings.set_fault("fingerprint")
    plain = http_scraper(replica_settings, source, impersonate=None, browser_headers=False).scrape_cedula(
        FOUND
    )
    assert plain.status is S.BLOCKED
    (refused,) = replica_settings.requests(answer="block")
    assert (refused.status, refused.fault, refused.kind) == (403, "fingerprint", "page")
    # Chrome's headers without Chrome's TLS pass the replica (it cannot see TLS): only the headers
    # are what it judges.
    assert http_scraper(replica_settings, source, impersonate=None).scrape_cedula(FOUND).status is S.FOUND
    assert http_scraper(replica_settings, source).scrape_cedula(FOUND).status is S.FOUND


def test_each_lookup_has_its_own_session(replica_settings: Replica, source: str) -> None:
    scraper = http_scraper(replica_settings, source)
    scraper.scrape_cedula("1000000001")
    scraper.scrape_cedula("1000000002")
    first, second = replica_settings.lookups()
    assert first.session
    assert second.session
    assert first.session != second.session


def test_the_http_scraper_sends_what_the_pages_script_sends(replica_settings: Replica, source: str) -> None:
    assert http_scraper(replica_settings, source).scrape_cedula("1000000001").status is S.FOUND
    (lookup,) = replica_settings.lookups()
    assert lookup.captcha_check == "accepted"
    assert lookup.election == ("-1" if source == "wsp" else "0")
    if source == "wsp":
        assert lookup.token  # the hidden #token of the page loaded just before
    else:
        assert replica_settings.count(kind="elecciones") == 1  # as the app's script asks on load
