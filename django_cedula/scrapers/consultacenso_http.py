"""Source B, the "consultacenso" app's JSON API, over plain HTTP (opt-in; see :mod:`.http`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from urllib.parse import urljoin

from ..results import ScrapeResult, ScrapeStatus
from .http import BrowserLikeClient, Fetched, HttpScraper, OpenedForm, SourceTimeout, SourceUnreachable
from .parsing import oversized_answer, parse_consultacenso_response, read_form_page
from .solving import CENSO_URL, CaptchaSolve, api_base, asks_for_reload, censo_form_problem, election_id


class ConsultaCensoHttpScraper(HttpScraper):
    """Looks a number up through the consultacenso app's JSON API without a browser, as
    :class:`~django_cedula.scrapers.consultacenso.ConsultaCensoScraper` does with one.

    GETs the app's page for its reCAPTCHA site key (a page without ``#documento``, the site key or
    the API the scraper posts to is ``form_changed``, before any solve), starts the solve, asks (as
    the app's script does on load) for the election list, then posts
    ``{"documento", "eleccionId", "captchaToken"}`` to ``back/api/consulta``.
    A ``reload`` answer gets the page again and a fresh captcha token, once.

    Select it with an entry
    ``{"BACKEND": "django_cedula.scrapers.consultacenso_http.ConsultaCensoHttpScraper"}`` of
    ``CEDULA_SOURCES`` and ``pip install 'django-cedula[http]'``; its options are
    :class:`~.http.HttpScraper`'s.
    """

    default_url = CENSO_URL
    source_name = "consultacenso-http"

    async def lookup(
        self, client: BrowserLikeClient, url: str, cedula: str, captcha: CaptchaSolve
    ) -> ScrapeResult:
        for attempt in (1, 2):
            opened = await self.open_form(client, url, reload="script" if attempt == 2 else "")
            if isinstance(opened, ScrapeResult):
                return opened
            await captcha.begin(opened.form.site_key, url)
            api = api_base(opened.url)
            # The app's script asks for the election list as the page loads; what it answers does
            # not matter to the lookup (as in the browser, a failure there only shows in the page).
            elections = asyncio.ensure_future(client.fetch(urljoin(api, "elecciones"), opened.url))
            try:
                token = await captcha.token()
            finally:
                await _settle(elections)
            payload = {"documento": cedula, "eleccionId": election_id(self.election), "captchaToken": token}
            answer = await client.fetch(
                urljoin(api, "consulta"),
                opened.url,
                method="POST",
                body=json.dumps(payload, separators=(",", ":")).encode(),
                content_type="application/json",
                accept="application/json",
            )
            if answer.truncated:
                return oversized_answer(answer.text)
            if attempt == 1 and asks_for_reload(answer.text):
                captcha.restart(url)
                continue
            result = parse_consultacenso_response(answer.text, http_status=answer.status, cedula=cedula)
            return self.failed_answer(result, answer.status, retry_after=answer.retry_after)
        return ScrapeResult(status=ScrapeStatus.NETWORK_ERROR, error="the app asked for a reload twice")

    async def open_form(
        self, client: BrowserLikeClient, url: str, *, reload: str
    ) -> OpenedForm | ScrapeResult:
        """Load the app's page and check it has what a lookup needs (:func:`~.solving.censo_form_problem`)."""
        page = await client.navigate(url, reload=reload)
        failure = self.failed_page(page.text, page.status, "the app's page", retry_after=page.retry_after)
        if failure is not None:
            return failure
        form = read_form_page(page.text)
        problem = censo_form_problem(form, page.text, page.url)
        if problem:
            return self.form_changed(problem, page.text)
        return OpenedForm(page.url, form, page.text)


async def _settle(task: asyncio.Future[Fetched]) -> None:
    """Let the election list's request finish (or fail) before the lookup goes on."""
    with contextlib.suppress(SourceTimeout, SourceUnreachable, asyncio.CancelledError):
        await task
