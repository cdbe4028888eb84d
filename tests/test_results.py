from __future__ import annotations

import pytest

from django_cedula.results import ScrapeResult, ScrapeStatus, is_death_novedad


def test_coerce_accepts_a_plain_dict_from_a_hand_written_scraper() -> None:
    result = ScrapeResult.coerce(
        {"status": "found", "departamento": "ANTIOQUIA", "mesa": 7, "novedad": None, "extra": "ignored"}
    )
    assert result.status is ScrapeStatus.FOUND
    assert result.departamento == "ANTIOQUIA"
    assert result.mesa == "7"
    assert result.novedad == ""


def test_coerce_returns_the_same_result_object() -> None:
    result = ScrapeResult(status="timeout")  # type: ignore[arg-type]
    assert result.status is ScrapeStatus.TIMEOUT
    assert ScrapeResult.coerce(result) is result


@pytest.mark.parametrize("bad", [{"status": "maybe"}, {"departamento": "X"}, "found", None])
def test_coerce_rejects_unknown_shapes(bad: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        ScrapeResult.coerce(bad)  # type: ignore[arg-type]


def test_final_and_transient_statuses() -> None:
    assert {s for s in ScrapeStatus if s.is_final} == {"found", "not_found", "cancelled", "nonexistent"}
    assert ScrapeStatus.CAPTCHA_FAILED.is_transient


@pytest.mark.parametrize(
    ("novedad", "death"),
    [
        ("Cancelada por Muerte", True),
        ("CANCELADA POR MUERTE", True),
        ("Titular fallecido", True),
        ("Cancelada por defunción", True),
        ("Cancelada por Doble Cedulación", False),
        ("Vigente con Pérdida o Suspensión de los Derechos Políticos", False),
        ("", False),
    ],
)
def test_is_death_novedad(novedad: str, death: bool) -> None:
    assert is_death_novedad(novedad) is death
