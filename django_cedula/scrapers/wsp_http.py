"""Source A, the "wsp" census page, over plain HTTP (opt-in; see :mod:`.http`)."""

from __future__ import annotations

from ..results import ScrapeResult, ScrapeStatus
from .http import BrowserLikeClient, HttpScraper, multipart_body, new_boundary, webkit_boundary
from .parsing import FormPage, ReloadRequested, oversized_answer, parse_wsp_response, read_form_page
from .solving import WSP_URL, CaptchaSolve


class WspHttpScraper(HttpScraper):
    """Looks a number up on the wsp census page without a browser, as
    :class:`~django_cedula.scrapers.wsp.WspScraper` does with one.

    GETs the form (once more when it answers 500), reads the per-load ``#token`` and the reCAPTCHA
    site key from its HTML, and posts ``nuip``, ``tipo``, ``token`` and ``g-recaptcha-response`` as
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
            opened = await self._open(client, url, reload="script" if attempt == 2 else "")
            if isinstance(opened, ScrapeResult):
                return opened
            page_url, form = opened
            self.remember_site_key(form.site_key)
            captcha.start(form.site_key, url)
            captcha_token = await captcha.token()
            boundary = webkit_boundary(new_boundary())
            fields = [
                ("nuip", cedula),
                ("tipo", self.election),
                ("token", form.token),
                ("g-recaptcha-response", captcha_token),
            ]
            answer = await client.fetch(
                page_url,
                page_url,
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

    async def _open(
        self, client: BrowserLikeClient, url: str, *, reload: str
    ) -> tuple[str, FormPage] | ScrapeResult:
        """Load the form and read it; a result instead when the page ends the lookup."""
        page = await client.navigate(url, reload=reload)
        if page.status >= 500:  # the site's GET occasionally answers 500 with a full page: retry once
            page = await client.navigate(url, reload="user")
        form = read_form_page(page.text)
        if form.blocked or not (form.has("nuip") and form.site_key):
            failure = self.failed_page(
                page.text, page.status, "the form page (retried once)", retry_after=page.retry_after
            )
            if failure is not None:
                return failure
            missing = "#nuip field" if not form.has("nuip") else "reCAPTCHA site key"
            return ScrapeResult(
                status=ScrapeStatus.PARSE_ERROR,
                error=f"the form page has no {missing}",
                raw_html=page.text[:2000],
            )
        return page.url, form
