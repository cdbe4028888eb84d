"""Source A, the "wsp" page: its lookup form and its JSON answers, as pure functions (no state, no I/O).

Page content is in Spanish because it mimics the real site; see ``/work/shared/REGISTRADURIA.md``
for what is known about it. Where the real markup was never captured (not found, cancelled) the
shapes here are the best public guess, kept deliberately untidy so that clients parse by header
text or ``data-th`` rather than by position.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from .outcomes import NOT_FOUND_TEXT, Novedad, Place
from .site_pages import JsonObject
from .site_pages import escape as _e  # short: the templates call it on every value

#: The election selector of Source A: ``-1`` is the current voting place.
WSP_ELECTIONS: tuple[tuple[str, str], ...] = (
    ("-1", "LUGAR DE VOTACIÓN ACTUAL"),
    ("66", "CONSULTAS POPULARES, INTERNAS O INTERPARTIDISTAS 2026"),
    ("67", "CONGRESO DE LA REPÚBLICA 2026"),
    ("68", "PRESIDENTE Y VICEPRESIDENTE DE LA REPÚBLICA 2026"),
)


CAPTCHA_TEXT = "Marque el cuadro de verificación o captcha! Debe confirmar que no es un robot."
INVALID_NUIP_TEXT = "Por favor ingrese un número de documento válido, sin puntos ni espacios."
FOUND_NOTICE = (
    "Recuerde que el censo electoral se cierra dos meses antes de cada elección. "
    "Si realizó una inscripción de cédula, el nuevo puesto aparecerá cuando ésta quede en firme."
)


def wsp_form_page(*, token: str, site_key: str, recaptcha_src: str) -> str:
    """The lookup form, with a fresh ``token`` and the page's own submit script."""
    options = "\n".join(
        f'\t\t\t\t\t<option value="{_e(value)}"{" selected" if value == "-1" else ""}>{_e(name)}</option>'
        for value, name in WSP_ELECTIONS
    )
    return f"""<!DOCTYPE html>
<html lang="es">
<head>
\t<meta charset="utf-8">
\t<meta name="viewport" content="width=device-width, initial-scale=1">
\t<title>Consulta Lugar de Votación - Registraduría Nacional del Estado Civil</title>
\t<style>
\t\tbody {{ font-family: Arial, Helvetica, sans-serif; margin: 0; color: #333; }}
\t\theader {{ background: #003b71; color: #fff; padding: 12px 24px; }}
\t\t.container {{ max-width: 860px; margin: 24px auto; padding: 0 16px; }}
\t\t.form-group {{ margin-bottom: 14px; }}
\t\t.form-control {{ display: block; width: 100%; max-width: 420px; padding: 6px; font-size: 15px; }}
\t\t.btn {{ background: #003b71; color: #fff; border: 0; padding: 8px 22px; cursor: pointer; }}
\t\t.btn[disabled] {{ opacity: .6; }}
\t\t.alert {{ padding: 10px 14px; margin-top: 16px; border: 1px solid #e0b4b4; background: #fff6f6; }}
\t\ttable {{ border-collapse: collapse; margin-top: 16px; }}
\t\tth, td {{ border: 1px solid #ccc; padding: 6px 10px; text-align: left; }}
\t</style>
\t<script src="{_e(recaptcha_src)}" async defer></script>
</head>
<body>
\t<header>
\t\t<h1>Registraduría Nacional del Estado Civil</h1>
\t</header>
\t<main class="container">
\t\t<h2>Consulta de lugar de votación</h2>
\t\t<p>Digite su número de cédula sin puntos ni espacios y seleccione la elección.</p>
\t\t<form id="form" name="form" method="post" autocomplete="off">
\t\t\t<input type="hidden" name="token" id="token" value="{_e(token)}">
\t\t\t<div class="form-group">
\t\t\t\t<label for="nuip">Número de documento</label>
\t\t\t\t<input type="text" class="form-control" id="nuip" name="nuip" maxlength="10" required>
\t\t\t</div>
\t\t\t<div class="form-group">
\t\t\t\t<label for="tipo">Elección</label>
\t\t\t\t<select class="form-control" id="tipo" name="tipo">
{options}
\t\t\t\t</select>
\t\t\t</div>
\t\t\t<div class="form-group">
\t\t\t\t<div class="g-recaptcha" data-sitekey="{_e(site_key)}"></div>
\t\t\t</div>
\t\t\t<input type="submit" class="btn" id="enviar" name="enviar" value="Consultar">
\t\t</form>
\t\t<div id="success"></div>
\t</main>
\t<script>
\t(function () {{
\t\t'use strict';
\t\tvar form = document.getElementById('form');
\t\tvar success = document.getElementById('success');
\t\tvar enviar = document.getElementById('enviar');
\t\tfunction showError(message) {{
\t\t\tsuccess.innerHTML = '<div class="alert alert-danger" role="alert">' + message + '</div>';
\t\t}}
\t\tform.addEventListener('submit', function (event) {{
\t\t\tevent.preventDefault();
\t\t\tsuccess.innerHTML = '';
\t\t\tvar data = new FormData();
\t\t\tdata.append('nuip', document.getElementById('nuip').value.trim());
\t\t\tdata.append('tipo', document.getElementById('tipo').value);
\t\t\tdata.append('token', document.getElementById('token').value);
\t\t\tdata.append('g-recaptcha-response', window.grecaptcha ? window.grecaptcha.getResponse() : '');
\t\t\tenviar.disabled = true;
\t\t\tfetch(window.location.href, {{method: 'POST', body: data, credentials: 'same-origin'}})
\t\t\t\t.then(function (response) {{ return response.text(); }})
\t\t\t\t.then(function (text) {{
\t\t\t\t\tvar answer;
\t\t\t\t\ttry {{
\t\t\t\t\t\tanswer = JSON.parse(text);
\t\t\t\t\t}} catch (error) {{
\t\t\t\t\t\t// Not JSON: the firewall answered with its own page; show it as it came.
\t\t\t\t\t\tsuccess.innerHTML = text;
\t\t\t\t\t\treturn;
\t\t\t\t\t}}
\t\t\t\t\tif (answer.reload) {{
\t\t\t\t\t\twindow.location.reload();
\t\t\t\t\t\treturn;
\t\t\t\t\t}}
\t\t\t\t\tvar message = answer.data && answer.data.message ? answer.data.message : '';
\t\t\t\t\tif (answer.success) {{
\t\t\t\t\t\tsuccess.innerHTML = message;
\t\t\t\t\t}} else {{
\t\t\t\t\t\tshowError(message || 'Ocurrió un error. Intente nuevamente.');
\t\t\t\t\t\tif (window.grecaptcha) {{ window.grecaptcha.reset(); }}
\t\t\t\t\t}}
\t\t\t\t}})
\t\t\t\t.catch(function () {{
\t\t\t\t\tshowError('Error de conexión. Intente nuevamente.');
\t\t\t\t}})
\t\t\t\t.then(function () {{
\t\t\t\t\tenviar.disabled = false;
\t\t\t\t}});
\t\t}});
\t}})();
\t</script>
</body>
</html>
"""


def _table(headers: Sequence[str], cells: Sequence[tuple[str, str]]) -> str:
    # ``cells`` pairs each header with ready-made (escaped) cell content.
    head = "".join(f"<th>{_e(name)}</th>" for name in headers)
    body = "".join(f'\n\t\t\t<td data-th="{_e(name)}">{content}</td>' for name, content in cells)
    return (
        '<div class="table-responsive">\n'
        '\t<table id="consulta" class="table table-striped table-bordered">\n'
        f"\t\t<thead><tr>{head}</tr></thead>\n"
        f"\t\t<tbody><tr>{body}\n\t\t</tr></tbody>\n"
        "\t</table>\n"
        "</div>"
    )


def wsp_found_message(cedula: str, place: Place, *, swap_columns: bool = False) -> str:
    """``data.message`` of a found answer: the ``table#consulta`` plus the citizen notice."""
    cells = [
        ("NUIP", _e(cedula)),
        ("DEPARTAMENTO", _e(place.departamento)),
        ("MUNICIPIO", _e(place.municipio)),
        # Padding like the PHP template's: clients must strip it.
        ("PUESTO", f"\n\t\t\t\t{_e(place.puesto)}\n\t\t\t"),
        ("DIRECCIÓN", _e(place.direccion)),
        ("MESA", f"<b>{_e(place.mesa)}</b>"),
    ]
    if swap_columns:
        cells[4], cells[5] = cells[5], cells[4]
    table = _table([name for name, _ in cells], cells)
    # The captured answer closes one div too many.
    return f"{table}</div>\n<h3>Señor Ciudadano:</h3>\n<h4>{_e(FOUND_NOTICE)}</h4>"


def wsp_novedad_message(cedula: str, novedad: Novedad) -> str:
    """``data.message`` for a cancelled number: NUIP | NOVEDAD | RESOLUCIÓN | FECHA NOVEDAD."""
    cells = [
        ("NUIP", _e(cedula)),
        ("NOVEDAD", _e(novedad.text)),
        ("RESOLUCIÓN", _e(novedad.resolucion)),
        ("FECHA NOVEDAD", _e(novedad.fecha)),
    ]
    return _table([name for name, _ in cells], cells)


def wsp_not_found_message() -> str:
    """``data.message`` for a number that is not in the census."""
    return f'<div class="alert alert-warning" role="alert">\n\t<h4>{_e(NOT_FOUND_TEXT)}</h4>\n</div>'


def wsp_garbage_message(cedula: str) -> str:
    """``data.message`` that no parser should accept: a table cut short, then binary noise."""
    return (
        '<div class="table-responsive"><table id="consulta"><thead><tr><th>NUIP</th><th>DEPART'
        f'\x00\ufffd\ufffd<td data-th="NUIP">{_e(cedula)}</td><<//tr>&#\ufffd;%PDF-1.4 \x1b[0m\ufffd'
    )


def wsp_answer(success: bool, message: str) -> JsonObject:
    """``{"success": ..., "data": {"message": ...}}``."""
    return {"success": success, "data": {"message": message}}


WSP_RELOAD: Mapping[str, Any] = {"success": False, "reload": True}


def wsp_json(payload: Mapping[str, Any]) -> bytes:
    """Encode like PHP's ``json_encode`` defaults: ASCII with ``\\uXXXX`` escapes and ``\\/`` slashes."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/").encode("ascii")
