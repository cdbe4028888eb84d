"""The Spanish catalogue in use by the models, the validator and the admin (its completeness and
its compilation: ``tests/test_catalogue.py``)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from django_cedula.models import CaptchaSpend, CedulaInfo
from django_cedula.numbers import validate_cedula_number

Status = CedulaInfo.Status


def test_status_labels_in_spanish() -> None:
    with translation.override("es"):
        labels = {status: str(status.label) for status in Status}
    assert labels == {
        Status.PENDING: "Pendiente",
        Status.PROCESSING: "En proceso",
        Status.RETRYING: "En espera de reintento",
        Status.ACTIVE: "Activa",
        Status.NOT_FOUND: "No está en el censo",
        Status.CANCELLED_DECEASED: "Cancelada (fallecimiento)",
        Status.CANCELLED_OTHER: "Cancelada (otra causa)",
        Status.INVALID: "Número inválido",
        Status.ERROR: "Error",
        Status.TIMEOUT: "Tiempo agotado",
        Status.BLOCKED: "Bloqueada por la fuente",
        Status.NONEXISTENT: "El número no existe",
        Status.AWAITING_CONSENT: "Esperando la autorización del titular",
    }


def test_model_names_in_spanish() -> None:
    with translation.override("es"):
        assert str(CedulaInfo._meta.verbose_name_plural) == "validaciones de cédula"
        assert str(CedulaInfo._meta.get_field("fetched_at").verbose_name) == "fecha de respuesta"


def test_validator_message_in_spanish() -> None:
    with translation.override("es"):
        with pytest.raises(ValidationError) as caught:
            validate_cedula_number("12-AB")
        # Read in Spanish: the message is lazy, translated when it is read.
        assert caught.value.messages[0].startswith("Ingrese un número de cédula válido: ")


@pytest.fixture
def spanish_client(settings: Any, staff_client: Client) -> Iterator[Client]:
    """The staff client, with the language chosen from Accept-Language as a Colombian host would.

    LocaleMiddleware activates the language in this thread and leaves it so after the response;
    it is put back afterwards, or later tests would get Spanish messages.
    """
    middleware = list(settings.MIDDLEWARE)
    middleware.insert(
        middleware.index("django.middleware.common.CommonMiddleware"),
        "django.middleware.locale.LocaleMiddleware",
    )
    settings.MIDDLEWARE = middleware
    staff_client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es-CO,es;q=0.9"
    language = translation.get_language()
    yield staff_client
    translation.activate(language)


@pytest.mark.django_db
def test_changelist_in_spanish(spanish_client: Client, make_row: Callable[..., CedulaInfo]) -> None:
    make_row("1020304050")
    make_row("1020304051", status=Status.NOT_FOUND)

    html = spanish_client.get(reverse("admin:django_cedula_cedulainfo_changelist")).content.decode()

    assert "2 validaciones:" in html
    assert ">Activa</a>: 1<" in html
    assert ">No está en el censo</a>: 1<" in html
    assert '<option value="validate_again">Validar de nuevo</option>' in html
    assert "Validaciones de cédula" in html  # the page title, capitalised by the admin
    assert "Active" not in html
    # The columns and the filters in the model's vocabulary.
    for text in (
        ">Usuario</a>",
        ">Cédula</a>",
        ">Estado</a>",
        ">Municipio, departamento</a>",
        ">Fecha de actualización</a>",
        "Por departamento",
        "Por estado",
    ):
        assert text in html, text


@pytest.mark.django_db
def test_change_page_in_spanish(spanish_client: Client, make_row: Callable[..., CedulaInfo]) -> None:
    info = make_row("1020304050", departamento="ANTIOQUIA", novedad="CANCELADA POR MUERTE")

    html = spanish_client.get(
        reverse("admin:django_cedula_cedulainfo_change", args=[info.pk])
    ).content.decode()

    for text in (
        'class="fieldset-heading">Lugar de votación</h2>',
        'class="fieldset-heading">Novedad</h2>',
        'class="fieldset-heading">Intentos y errores</h2>',
        "<label>Departamento:</label>",
        "<label>Puesto de votación:</label>",
        "<label>Mesa:</label>",
        "<label>Fecha de la novedad:</label>",
        "<label>Fecha de solicitud:</label>",
        "<label>Fuente de la respuesta:</label>",
    ):
        assert text in html, text


@pytest.mark.django_db
def test_action_message_in_spanish(
    spanish_client: Client,
    make_row: Callable[..., CedulaInfo],
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    info = make_row("1020304050")
    data = {"action": "validate_again", "_selected_action": [info.pk]}

    with django_capture_on_commit_callbacks(execute=True):
        response = spanish_client.post(
            reverse("admin:django_cedula_cedulainfo_changelist"), data, follow=True
        )

    assert "Se solicitó de nuevo la validación de 1 cédula." in response.content.decode()


@pytest.mark.django_db
def test_spend_in_spanish(
    spanish_client: Client, make_row: Callable[..., CedulaInfo], twocaptcha: Any
) -> None:
    today = timezone.now().astimezone(datetime.timezone.utc).date()
    CaptchaSpend.objects.create(day=today, requested=3, used=1, expired=1, refused=0)
    make_row("1020304050")

    html = spanish_client.get(reverse("admin:django_cedula_cedulainfo_changelist")).content.decode()

    assert "Captchas hoy (UTC):" in html
    for figure in (
        "3 resoluciones",
        "1 token usado",
        "1 vencido",
        "0 rechazados",
        "3.00 resoluciones por validación terminada",
        "costo estimado 0.01 a CEDULA_CAPTCHA_SOLVER price_per_1000 = 3.0",
    ):
        assert f'<span class="cedula-spend-figure">{figure}</span>' in html, figure
    with translation.override("es"):
        assert str(CaptchaSpend._meta.verbose_name) == "gasto en captchas"
        assert str(CaptchaSpend._meta.get_field("expired").verbose_name) == "tokens vencidos sin usar"
