"""The commands' human output: counts through ngettext ("1 validation", "2 validations"), and in
the active language (the project's LANGUAGE_CODE, as Django runs commands)."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from django_cedula.models import CedulaInfo

from .conftest import ago, set_row

pytestmark = pytest.mark.django_db
Status = CedulaInfo.Status


def run(name: str, *args: str, language: str = "en") -> str:
    out = io.StringIO()
    with translation.override(language):
        call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def one_lost_row(registered: Callable[..., Any], settings: Any) -> Any:
    """One pending row whose job was lost long ago: the sweep re-queues it."""
    settings.CEDULA_SWEEP = {"PENDING_AFTER": 600}
    user = registered(cedula="1000000001")
    set_row(user, status=Status.PENDING, requested_at=ago(hours=1), updated_at=ago(hours=1))
    return user


@pytest.mark.usefixtures("one_lost_row")
def test_sweep_counts_one_validation_in_the_singular() -> None:
    assert run("cedula_sweep", "--dry-run").startswith(
        "Would re-queue 1 validation (dry run: nothing changed).\n"
    )
    assert run("cedula_sweep").startswith("Re-queued 1 validation.\n")


@pytest.mark.usefixtures("one_lost_row")
def test_sweep_in_spanish() -> None:
    assert run("cedula_sweep", language="es").startswith("Se volvió a poner en cola 1 validación.\n")


def test_revalidate_counts_one_user_in_the_singular_and_in_spanish(registered: Callable[..., Any]) -> None:
    user = registered(cedula="1000000001", username="ana")
    set_row(user, status=Status.ERROR, requested_at=ago(days=3), updated_at=ago(days=3))

    assert run("cedula_revalidate", "--user", "ana", "--dry-run").startswith(
        "Dry run: would queue 1 of 1 user; nothing was changed.\n"
    )
    output = run("cedula_revalidate", "--user", "ana", language="es")
    assert output.startswith("Se pusieron en cola 1 de 1 usuario.\n")


def test_stats_in_spanish() -> None:
    output = run("cedula_stats", language="es")

    assert output.startswith("estado")
    assert "Pendiente más antigua: ninguna" in output
    assert "Últimas 24 horas (por último cambio):" in output
    assert "Resoluciones de captcha" in output


def test_an_invalid_number_is_refused_in_spanish() -> None:
    with translation.override("es"), pytest.raises(CommandError) as caught:
        call_command("cedula_lookup", "12-AB", stdout=io.StringIO())
    assert str(caught.value) == (
        "Cédula inválida: el número de cédula solo lleva dígitos "
        "(puntos, espacios y guiones pueden separarlos)."
    )
