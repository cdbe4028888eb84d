"""Source A, the "wsp" census page, over plain HTTP (opt-in; see :mod:`.http`)."""

from __future__ import annotations

from ..results import ScrapeResult
from .http import (
    BrowserLikeClient,
    HttpScraper,
    OpenedForm,
    multipart_body,
    new_boundary,
    webkit_boundary,
)
from .parsing import ReloadRequested, oversized_answer, parse_wsp_response, read_form_page
from .solving import WSP_URL, CaptchaSolve, wsp_form_problem


class WspHttpScraper(HttpScraper):
    """Looks a number up on the wsp census page without a browser, as
    :class:`~django_cedula.scrapers.wsp.WspScraper` does with one.

    GETs the form (once more when it answers 500), reads the per-load ``#token`` and the reCAPTCHA
    site key from its HTML (a page without ``#nuip`` or the site key is ``form_changed``, before any
    solve), starts the solve, and posts ``nuip``, ``tipo``, ``token`` and ``g-recaptcha-response`` as
    multipart form data, as the page's script does (``X-Requested-With``, ``Origin``, ``Referer``).
    A ``reload`` answer gets the page again (fresh token, fresh captcha token), once.

    Select it with an entry ``{"BACKEND": "django_cedula.scrapers.wsp_http.WspHttpScraper"}`` of
    ``CEDULA_SOURCES`` and ``pip install 'django-cedula[http]'``; its options are
    :class:`~.http.HttpScraper`'s.
    """

    default_url = WSP_URL
    source_name = "wsp-http"

    async def lookup(
        self, client: BrowserLikeClient, url: str, cedula: str, captcha: CaptchaSolve
    ) -> ScrapeResult:
        for attempt in (1, 2):
            # The second load is the page's own script reloading it after a "reload" answer.
            opened = await self.open_form(client, url, reload="script" if attempt == 2 else "")
            if isinstance(opened, ScrapeResult):
                return opened
            form = opened.form
            await captcha.begin(form.site_key, url)
            captcha_token = await captcha.token()
            boundary = webkit_boundary(new_boundary())
            fields = [
                ("nuip", cedula),
                ("tipo", self.election),
                ("token", form.token),
                ("g-recaptcha-response", captcha_token),
            ]
            answer = await client.fetch(
                opened.url,
                opened.url,
                method="POST",
                body=multipart_body(fields, boundary),
                content_type=f"multipart/form-data; boundary={boundary}",
                requested_with=True,
            )
            if answer.truncated:
                return oversized_answer(answer.text)
            try:
                result = parse_wsp_response(
                    answer.text, http_status=answer.status, content_type=answer.content_type, cedula=cedula
                )
            except ReloadRequested as reload:
                if attempt == 2:
                    return reload.result
                captcha.restart(url)  # the token was spent on the refused submission
                continue
            return self.failed_answer(result, answer.status, retry_after=answer.retry_after)
        raise AssertionError("unreachable")

    async def open_form(
        self, client: BrowserLikeClient, url: str, *, reload: str
    ) -> OpenedForm | ScrapeResult:
        """Load the form and read it; a result instead when the page ends the lookup."""
        page = await client.navigate(url, reload=reload)
        if page.status >= 500:  # the site's GET occasionally answers 500 with a full page: retry once
            page = await client.navigate(url, reload="user")
        form = read_form_page(page.text)
        problem = wsp_form_problem(form)
        if form.blocked or problem:
            failure = self.failed_page(
                page.text, page.status, "the form page (retried once)", retry_after=page.retry_after
            )
            if failure is not None:
                return failure
            if problem:
                return self.form_changed(problem, page.text)
        return OpenedForm(page.url, form, page.text)
