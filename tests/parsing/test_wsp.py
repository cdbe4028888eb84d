"""Source A: classification of the wsp page's answers."""

from __future__ import annotations

import pytest

from django_cedula.results import ScrapeResult, ScrapeStatus
from django_cedula.scrapers.parsing import (
    ERROR_EXCERPT_CHARS,
    ReloadRequested,
    is_death_novedad,
    parse_wsp_message,
    parse_wsp_response,
)

from . import samples
from .samples import CEDULA


def place(result: ScrapeResult) -> dict[str, str]:
    return {
        "departamento": result.departamento,
        "municipio": result.municipio,
        "puesto": result.puesto,
        "direccion": result.direccion,
        "mesa": result.mesa,
    }


# --------------------------------------------------------------------------- found


def test_found_reads_every_field_and_keeps_the_sites_spelling() -> None:
    body = samples.wsp_ok(samples.FOUND_MESSAGE)
    result = parse_wsp_response(body, content_type="application/json", cedula=CEDULA)
    assert result.status is ScrapeStatus.FOUND
    assert place(result) == samples.FOUND_VALUES
    assert (result.novedad, result.resolucion, result.fecha_novedad, result.error) == ("", "", "", "")
    assert result.raw_html == body


def test_found_notice_after_the_table_does_not_override_it() -> None:
    # The sample notice mentions "cancelada por muerte", "en actualización" and
    # "no se encuentra en el censo"; only the table counts.
    assert "cancelada por muerte" in samples.NOTICE
    result = parse_wsp_message(samples.FOUND_MESSAGE)
    assert result.status is ScrapeStatus.FOUND
    assert result.novedad == ""


def test_found_with_columns_in_another_order() -> None:
    result = parse_wsp_response(samples.wsp_ok(samples.FOUND_REORDERED_MESSAGE))
    assert result.status is ScrapeStatus.FOUND
    assert place(result) == samples.FOUND_VALUES


def test_found_with_header_text_only() -> None:
    result = parse_wsp_message(samples.FOUND_HEADERS_ONLY_MESSAGE)
    assert result.status is ScrapeStatus.FOUND
    assert place(result) == {
        "departamento": "ANTIOQUIA",
        "municipio": "MEDELLÍN",
        "puesto": "I.E. MARÍA AUXILIADORA",
        "direccion": "CARRERA 43A # 1 SUR - 100",
        "mesa": "7",
    }


def test_found_with_data_th_only() -> None:
    result = parse_wsp_message(samples.FOUND_DATA_TH_ONLY_MESSAGE)
    assert result.status is ScrapeStatus.FOUND
    assert place(result) == {
        "departamento": "NARIÑO",
        "municipio": "TÚQUERRES",
        "puesto": "ESC. RURAL LA ESPERANZA",
        "direccion": "VDA. EL ROSAL KM 5 VÍA A IPIALES",
        "mesa": "3",
    }


def test_data_th_wins_over_the_header_above_the_cell() -> None:
    # Headers and data-th disagree about the order: data-th names the cell.
    message = samples.FOUND_MESSAGE.replace(
        "<th>DEPARTAMENTO</th>\n        <th>MUNICIPIO</th>",
        "<th>MUNICIPIO</th>\n        <th>DEPARTAMENTO</th>",
    )
    assert message != samples.FOUND_MESSAGE
    result = parse_wsp_message(message)
    assert (result.departamento, result.municipio) == ("BOGOTÁ D.C.", "BOGOTÁ. D.C.")


def test_found_survives_a_premature_table_close() -> None:
    message = samples.FOUND_MESSAGE.replace("</thead>", "</thead></table>")
    result = parse_wsp_message(message)
    assert result.status is ScrapeStatus.FOUND
    assert place(result) == samples.FOUND_VALUES


def test_found_without_json_wrapper_is_read_as_the_rendered_fragment() -> None:
    result = parse_wsp_response(samples.FOUND_MESSAGE, content_type="text/html")
    assert result.status is ScrapeStatus.FOUND
    assert result.mesa == "12"


def test_answer_for_another_number_is_rejected_without_leaking_either() -> None:
    result = parse_wsp_response(samples.wsp_ok(samples.FOUND_MESSAGE), cedula="79111222")
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "another number" in result.error
    assert CEDULA not in result.error
    assert "79111222" not in result.error
    assert "4050" in result.error


def test_found_table_missing_a_required_place_is_a_parse_error() -> None:
    # The trailing notice speaks of "en actualización" and novedades: it must not take over.
    message = samples.FOUND_MESSAGE.replace("COL. DISTRITAL REPÚBLICA DE CHILE - SEDE B", " ")
    result = parse_wsp_message(message)
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "lacks puesto" in result.error


def test_table_without_usable_columns_leaves_the_decision_to_the_text() -> None:
    message = (
        '<table id="consulta"><tr><th>NUIP</th><th>PUESTO</th></tr>'
        '<tr><td colspan="2">El documento consultado no se encuentra en el censo.</td></tr></table>'
    )
    assert parse_wsp_message(message).status is ScrapeStatus.NOT_FOUND


def test_empty_novedad_without_any_other_hint_is_a_parse_error() -> None:
    result = parse_wsp_message(samples.cancelled_table(" ", "", ""))
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "empty novedad" in result.error


# --------------------------------------------------------------------------- not found


@pytest.mark.parametrize(
    "message",
    [
        samples.NOT_FOUND_MESSAGE,
        "EL DOCUMENTO CONSULTADO NO SE ENCUENTRA EN EL CENSO PARA ESTA ELECCION.",
        "<p>El documento consultado no&nbsp;se   encuentra<br>\n en el Censo.</p>",
        "<div><span>No se encuentra</span> <b>registrado en el censo</b></div>",
    ],
)
def test_not_found(message: str) -> None:
    result = parse_wsp_response(samples.wsp_ok(message))
    assert result.status is ScrapeStatus.NOT_FOUND
    assert result.error == ""
    assert place(result) == dict.fromkeys(samples.FOUND_VALUES, "")


def test_not_found_sent_with_success_false_is_still_not_found() -> None:
    # Unverified shape: tolerate the site flagging a final answer as a failure.
    body = samples.wsp_fail(samples.NOT_FOUND_MESSAGE)
    result = parse_wsp_response(body)
    assert result.status is ScrapeStatus.NOT_FOUND
    assert result.raw_html == body


# --------------------------------------------------------------------------- cancelled


@pytest.mark.parametrize(("novedad", "death"), samples.NOVEDADES)
def test_cancelled_table(novedad: str, death: bool) -> None:
    result = parse_wsp_response(samples.wsp_ok(samples.cancelled_table(novedad)), cedula=CEDULA)
    assert result.status is ScrapeStatus.CANCELLED
    assert result.novedad == novedad
    assert result.resolucion == "0456 DE 2019"
    assert result.fecha_novedad == "12/03/2019"
    assert is_death_novedad(result.novedad) is death


@pytest.mark.parametrize(("novedad", "death"), samples.NOVEDADES)
def test_cancelled_sentence(novedad: str, death: bool) -> None:
    message = (
        f'<div class="alert alert-danger"><p>El documento consultado se encuentra <b>{novedad}</b>.</p></div>'
    )
    result = parse_wsp_message(message)
    assert result.status is ScrapeStatus.CANCELLED
    assert result.novedad == novedad
    assert is_death_novedad(result.novedad) is death


def test_cancelled_sentence_picks_resolution_and_date_and_ignores_the_generic_notice() -> None:
    message = (
        "<p>La cédula No. 1.020.304.050 fue CANCELADA POR DOBLE CEDULACIÓN mediante Resolución No. 0789 de "
        "2021, fecha novedad: 2021-06-30.</p><p>Usted no se encuentra habilitado para votar.</p>"
    )
    result = parse_wsp_message(message)
    assert result.status is ScrapeStatus.CANCELLED
    assert result.novedad == "CANCELADA POR DOBLE CEDULACIÓN"
    assert result.resolucion == "0789 de 2021"
    assert result.fecha_novedad == "2021-06-30"


def test_unlisted_cancellation_reason_is_cut_before_the_resolution() -> None:
    message = "<p>Cédula Cancelada por Hurto de Identidad según Resolución 12 de 2020</p>"
    result = parse_wsp_message(message)
    assert result.status is ScrapeStatus.CANCELLED
    assert result.novedad == "Cancelada por Hurto de Identidad"
    assert is_death_novedad(result.novedad) is False


def test_vertical_cancelled_table() -> None:
    message = (
        "<table><tr><th>NUIP</th><td>1020304050</td></tr>"
        "<tr><th>Novedad</th><td>Cancelada por Muerte</td></tr>"
        "<tr><th>Resolución No.</th><td>0001 DE 2024</td></tr>"
        "<tr><th>Fecha de la novedad</th><td>02/01/2024</td></tr></table>"
    )
    result = parse_wsp_message(message)
    assert result.status is ScrapeStatus.CANCELLED
    assert (result.novedad, result.resolucion, result.fecha_novedad) == (
        "Cancelada por Muerte",
        "0001 DE 2024",
        "02/01/2024",
    )


def test_novedad_table_saying_en_actualizacion_is_transient() -> None:
    message = samples.cancelled_table("La información se encuentra en actualización", "", "")
    result = parse_wsp_message(message)
    assert result.status is ScrapeStatus.NETWORK_ERROR
    assert result.status.is_transient


# --------------------------------------------------------------------------- transient and failures


def test_en_actualizacion_is_transient() -> None:
    body = samples.wsp_ok(samples.UPDATING_MESSAGE)
    result = parse_wsp_response(body)
    assert result.status is ScrapeStatus.NETWORK_ERROR
    assert result.status.is_transient
    assert "actualización" in result.error
    assert result.raw_html == body


def test_captcha_rejected_is_a_refused_token() -> None:
    # The site's captcha message answers a token we posted: refused (a change sign), not a failed solve.
    result = parse_wsp_response(samples.wsp_fail(samples.CAPTCHA_MESSAGE))
    assert result.status is ScrapeStatus.TOKEN_REFUSED
    assert "captcha" in result.error


def test_curl_timeout_is_a_timeout_and_keeps_small_figures() -> None:
    result = parse_wsp_response(samples.wsp_fail(samples.CURL_TIMEOUT_MESSAGE))
    assert result.status is ScrapeStatus.TIMEOUT
    assert "15008 milliseconds" in result.error


def test_other_curl_error_is_a_network_error() -> None:
    result = parse_wsp_response(samples.wsp_fail(samples.CURL_HOST_MESSAGE))
    assert result.status is ScrapeStatus.NETWORK_ERROR
    assert "resolve host" in result.error


def test_reload_raises_with_a_fallback_result() -> None:
    with pytest.raises(ReloadRequested) as caught:
        parse_wsp_response(samples.RELOAD)
    assert caught.value.result.status is ScrapeStatus.NETWORK_ERROR
    assert caught.value.result.raw_html == samples.RELOAD
    assert "reload" in str(caught.value)


def test_reload_with_success_true_is_an_answer() -> None:
    body = samples.php_json({"success": True, "reload": True, "data": {"message": samples.NOT_FOUND_MESSAGE}})
    assert parse_wsp_response(body).status is ScrapeStatus.NOT_FOUND


def test_unknown_refusal_is_a_parse_error_with_the_message() -> None:
    result = parse_wsp_response(samples.wsp_fail("Token inválido para la sesión"))
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "Token inválido" in result.error


# --------------------------------------------------------------------------- blocks


@pytest.mark.parametrize("page", [samples.F5_BLOCK_PAGE, samples.F5_PLAIN_BLOCK_PAGE])
def test_f5_block_page(page: str) -> None:
    result = parse_wsp_response(page, content_type="text/html; charset=utf-8")
    assert result.status is ScrapeStatus.BLOCKED
    assert result.raw_html == page


def test_block_classes_alone_are_enough() -> None:
    page = '<html><body><div class="panel blocked"><p>Acceso denegado</p></div></body></html>'
    assert parse_wsp_response(page).status is ScrapeStatus.BLOCKED


def test_answer_talking_about_blocks_and_challenges_is_not_blocked() -> None:
    result = parse_wsp_response(samples.wsp_ok(samples.CHATTY_NOT_FOUND_MESSAGE))
    assert result.status is ScrapeStatus.NOT_FOUND


def test_json_whose_html_has_a_blocked_class_is_still_an_answer() -> None:
    message = samples.NOT_FOUND_MESSAGE.replace("alert-warning", "alert-warning blocked")
    assert parse_wsp_response(samples.wsp_ok(message)).status is ScrapeStatus.NOT_FOUND


def test_page_with_block_words_but_no_block_structure_is_not_blocked() -> None:
    result = parse_wsp_response(samples.CHATTY_PAGE)
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "not a JSON answer" in result.error


def test_too_many_requests_is_blocked() -> None:
    assert parse_wsp_response("<html><body>Slow down</body></html>", http_status=429).status is (
        ScrapeStatus.BLOCKED
    )


# --------------------------------------------------------------------------- HTTP and garbage


@pytest.mark.parametrize(
    "body",
    [samples.FORM_PAGE, samples.wsp_ok(samples.FOUND_MESSAGE), "", "Internal Server Error"],
)
def test_server_errors_are_network_errors(body: str) -> None:
    result = parse_wsp_response(body, http_status=500)
    assert result.status is ScrapeStatus.NETWORK_ERROR
    assert "500" in result.error


def test_block_page_with_a_5xx_is_still_a_block() -> None:
    assert parse_wsp_response(samples.F5_BLOCK_PAGE, http_status=503).status is ScrapeStatus.BLOCKED


def test_form_page_instead_of_an_answer_is_a_parse_error() -> None:
    result = parse_wsp_response(samples.FORM_PAGE, content_type="text/html")
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "text/html" in result.error


@pytest.mark.parametrize("body", ["", "   \n\t ", "\ufeff"])
def test_empty_body(body: str) -> None:
    result = parse_wsp_response(body)
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert "empty" in result.error
    assert result.raw_html == body


def test_garbage_is_a_bounded_parse_error_that_keeps_the_whole_body() -> None:
    body = "%%%garbage%%% " * 1000
    result = parse_wsp_response(body)
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert len(result.error) < ERROR_EXCERPT_CHARS + 100
    assert result.raw_html == body


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        ("[1, 2, 3]", "unexpected shape"),
        ('"a string"', "unexpected shape"),
        ('{"status": "ok"}', "success"),
        ('{"success": true}', "data.message"),
        ('{"success": true, "data": {}}', "data.message"),
        ('{"success": true, "data": {"message": 5}}', "data.message"),
        ('{"success": true, "data": {"message": ""}}', "no text"),
        ('{"success": true, "data": {"message": "<p>Consulta realizada</p>"}}', "unrecognised"),
        ('{"success": false}', "data.message"),
    ],
)
def test_json_of_the_wrong_shape(body: str, hint: str) -> None:
    result = parse_wsp_response(body)
    assert result.status is ScrapeStatus.PARSE_ERROR
    assert hint in result.error


@pytest.mark.parametrize("cedula", [CEDULA, "12345"])
def test_errors_never_carry_the_full_number(cedula: str) -> None:
    dotted = f"{int(cedula):,}".replace(",", ".")
    bodies = [
        f"Unexpected answer for {cedula} and {dotted}",
        samples.wsp_ok(f"<p>Documento {cedula}: consulta sin resultado conocido</p>"),
        samples.wsp_fail(f"Error interno consultando {cedula}"),
        f"[{cedula}]",
    ]
    for body in bodies:
        result = parse_wsp_response(body, cedula=cedula)
        assert result.status is ScrapeStatus.PARSE_ERROR, body
        assert cedula not in result.error
        assert dotted not in result.error
        assert cedula[-2:] in result.error


def test_long_numbers_are_masked_even_without_the_cedula() -> None:
    result = parse_wsp_response("Respuesta inesperada para 79111222")
    assert "79111222" not in result.error
    assert "****1222" in result.error
