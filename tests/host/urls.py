"""A host's pages around the status card, for the card's script in a real browser
(``test_card_browser.py``): the card itself, the card pointed at answers that are not the status
view's JSON, a login page, and a "Try again" view as docs/host-pages.rst shows it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template import engines
from django.urls import include, path
from django.views.decorators.http import require_POST

from django_cedula.services import request_validation_decision

PAGE = """<!doctype html><html><head><style>[hidden] { display: none !important; }</style></head>
<body>{% load cedula %}<p id="message">{{ message }}</p>
{% cedula_status_card retry_url="/retry/" %}</body></html>"""

#: Where the card's script is pointed at by ``/card-at/<kind>/``, instead of the status view.
ANSWERS = {
    "redirect": lambda: HttpResponseRedirect("/accounts/login/?next=/cedula/status/"),
    "html": lambda: HttpResponse("<!doctype html><html><body>Welcome</body></html>"),
    "broken": lambda: HttpResponse("<html><body>Bad gateway</body></html>", status=502),
}


def card(request: HttpRequest) -> HttpResponse:
    message = request.session.pop("message", "")
    return HttpResponse(engines["django"].from_string(PAGE).render({"message": message}, request))


def card_at(request: HttpRequest, kind: str) -> HttpResponse:
    page = card(request)
    page.content = page.content.replace(
        b'data-cedula-status-url="/cedula/status/"', f'data-cedula-status-url="/answers/{kind}/"'.encode()
    )
    return page


@login_not_required
def answer(request: HttpRequest, kind: str) -> HttpResponse:
    served.append(request.path)
    return ANSWERS[kind]()


#: The paths served, in order: what the browser really fetched (a request it only began, as
#: Chromium reports a redirect it will not follow, never reaches the server).
served: list[str] = []


@login_not_required
def login_page(request: HttpRequest) -> HttpResponse:
    served.append(request.path)
    return HttpResponse("<!doctype html><html><body><form>Log in</form></body></html>")


@require_POST
def retry(request: HttpRequest) -> HttpResponse:
    """The "Try again" view of docs/host-pages.rst: the decision's reason becomes the message."""
    _info, decision = request_validation_decision(request.user)
    request.session["message"] = decision.value
    return redirect("/card/")


urlpatterns = [
    path("cedula/", include("django_cedula.urls")),
    path("card/", card),
    path("card-at/<str:kind>/", card_at),
    path("answers/<str:kind>/", answer),
    path("accounts/login/", login_page),
    path("retry/", retry),
]
