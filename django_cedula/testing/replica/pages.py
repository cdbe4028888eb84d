"""The markup and JSON the replica answers with, as pure functions (no state, no I/O).

Page content is in Spanish because it mimics the real sites; see ``/work/shared/REGISTRADURIA.md``
for what is known about them. Where the real markup was never captured (not found, cancelled,
Source B) the shapes here are the best public guess, kept deliberately untidy so that clients
parse by header text, ``data-th`` or key name rather than by position or exact case.
"""

from __future__ import annotations

import functools
import gzip
import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from .constants import CENSO_ELECTIONS, WSP_ELECTIONS
from .outcomes import CURL_ERROR_TEXT, NOT_FOUND_TEXT, UPDATING_TEXT, Novedad, Place

__all__ = [
    "CAPTCHA_TEXT",
    "CURL_ERROR_TEXT",
    "INVALID_NUIP_TEXT",
    "NOT_FOUND_TEXT",
    "UPDATING_TEXT",
]

CAPTCHA_TEXT = "Marque el cuadro de verificación o captcha! Debe confirmar que no es un robot."
INVALID_NUIP_TEXT = "Por favor ingrese un número de documento válido, sin puntos ni espacios."
FOUND_NOTICE = (
    "Recuerde que el censo electoral se cierra dos meses antes de cada elección. "
    "Si realizó una inscripción de cédula, el nuevo puesto aparecerá cuando ésta quede en firme."
)
CENSO_CAPTCHA_TEXT = 'Captcha inválido. Marque la casilla "No soy un robot" e intente nuevamente.'
CENSO_RELOAD_TEXT = "La sesión ha expirado. Recargue la página."
CENSO_INVALID_TEXT = "El número de documento no es válido."
CENSO_BAD_REQUEST_TEXT = "Solicitud inválida."

JsonObject = dict[str, Any]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


# ---------------------------------------------------------------------------------------------
# Source A: the "wsp" page.


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


# ---------------------------------------------------------------------------------------------
# Source B: the "consultacenso" single-page app.


def censo_page(*, site_key: str, recaptcha_src: str, api_base: str) -> str:
    """The single-page app: a form whose script loads the elections and posts JSON lookups."""
    return f"""<!DOCTYPE html>
<html lang="es">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Consulta de Censo Electoral | Registraduría Nacional del Estado Civil</title>
  <style>
    body {{ font-family: Roboto, Arial, sans-serif; margin: 0; background: #f4f6f9; color: #222; }}
    .app {{ max-width: 720px; margin: 32px auto; background: #fff; padding: 24px; border-radius: 8px; }}
    label {{ display: block; margin-top: 12px; font-weight: bold; }}
    input, select {{ width: 100%; padding: 8px; margin-top: 4px; box-sizing: border-box; }}
    button {{ margin-top: 16px; padding: 10px 24px; background: #0d47a1; color: #fff; border: 0; }}
    .resultado {{ margin-top: 20px; }}
    .error {{ color: #b00020; }}
  </style>
  <script src="{_e(recaptcha_src)}" async defer></script>
</head>
<body>
  <div id="app" class="app">
    <h1>Consulta tu lugar de votación</h1>
    <form id="consultaForm" novalidate>
      <label for="documento">Número de documento</label>
      <input id="documento" name="documento" type="text" inputmode="numeric" maxlength="10"
             autocomplete="off">
      <label for="eleccion">Elección</label>
      <select id="eleccion" name="eleccion"></select>
      <div class="g-recaptcha" data-sitekey="{_e(site_key)}"></div>
      <button id="submitBtn" type="submit">Consultar</button>
    </form>
    <div id="resultado" class="resultado" aria-live="polite"></div>
  </div>
  <script>
  (function () {{
    'use strict';
    var API = {json.dumps(api_base)};
    var form = document.getElementById('consultaForm');
    var select = document.getElementById('eleccion');
    var button = document.getElementById('submitBtn');
    var resultado = document.getElementById('resultado');
    function pick(object, key) {{
      if (!object) {{ return undefined; }}
      return object[key] !== undefined ? object[key] : object[key.toUpperCase()];
    }}
    function text(value) {{
      var span = document.createElement('span');
      span.textContent = value === undefined || value === null ? '' : String(value);
      return span.innerHTML;
    }}
    fetch(API + 'elecciones', {{credentials: 'same-origin'}})
      .then(function (response) {{ return response.json(); }})
      .then(function (answer) {{
        (answer.data || []).forEach(function (item) {{
          var option = document.createElement('option');
          option.value = item.id;
          option.textContent = item.nombre;
          select.appendChild(option);
        }});
      }})
      .catch(function () {{
        resultado.innerHTML = '<p class="error">No fue posible cargar las elecciones.</p>';
      }});
    form.addEventListener('submit', function (event) {{
      event.preventDefault();
      resultado.innerHTML = '';
      button.disabled = true;
      var body = {{
        documento: document.getElementById('documento').value.trim(),
        eleccionId: parseInt(select.value || '0', 10),
        captchaToken: window.grecaptcha ? window.grecaptcha.getResponse() : ''
      }};
      fetch(API + 'consulta', {{
        method: 'POST',
        credentials: 'same-origin',
        headers: {{'Content-Type': 'application/json', 'Accept': 'application/json'}},
        body: JSON.stringify(body)
      }})
        .then(function (response) {{ return response.text(); }})
        .then(function (raw) {{
          var answer;
          try {{ answer = JSON.parse(raw); }} catch (error) {{
            resultado.innerHTML = '<div class="error">' + raw + '</div>';
            return;
          }}
          if (answer.reload) {{ window.location.reload(); return; }}
          if (!answer.ok) {{
            resultado.innerHTML = '<p class="error">' + text(answer.error || answer.mensaje) + '</p>';
            if (window.grecaptcha) {{ window.grecaptcha.reset(); }}
            return;
          }}
          if (answer.encontrado) {{
            var d = answer.data;
            resultado.innerHTML = '<table id="tablaResultado"><tbody>' +
              '<tr><th>Documento</th><td>' + text(pick(d, 'nuip')) + '</td></tr>' +
              '<tr><th>Departamento</th><td>' + text(pick(d, 'nom_depto')) + '</td></tr>' +
              '<tr><th>Municipio</th><td>' + text(pick(d, 'nom_mun')) + '</td></tr>' +
              '<tr><th>Puesto</th><td>' + text(pick(d, 'nom_puesto')) + '</td></tr>' +
              '<tr><th>Dirección</th><td>' + text(pick(d, 'direccion')) + '</td></tr>' +
              '<tr><th>Mesa</th><td>' + text(pick(d, 'mesa')) + '</td></tr>' +
              '</tbody></table>';
          }} else if (answer.novedad) {{
            resultado.innerHTML = '<p class="novedad">' + text(answer.novedad) + '</p>';
          }} else {{
            resultado.innerHTML = '<p class="mensaje">' + text(answer.mensaje) + '</p>';
          }}
        }})
        .catch(function () {{ resultado.innerHTML = '<p class="error">Error de conexión.</p>'; }})
        .then(function () {{ button.disabled = false; }});
    }});
  }})();
  </script>
</body>
</html>
"""


def censo_elections() -> JsonObject:
    """``GET back/api/elecciones``."""
    return {"ok": True, "data": [{"id": ident, "nombre": name} for ident, name in CENSO_ELECTIONS]}


def censo_found(cedula: str, place: Place, *, upper_keys: bool = False) -> JsonObject:
    """A found answer; with ``upper_keys`` the ``data``/``mapa`` keys are upper case and ``mesa`` an int."""
    data: dict[str, Any] = {
        "nuip": cedula,
        "nom_depto": place.departamento,
        "nom_mun": place.municipio,
        "nom_puesto": place.puesto,
        "direccion": place.direccion,
        "mesa": place.mesa,
    }
    mapa: dict[str, Any] = {
        "lat": place.lat,
        "lng": place.lng,
        "url": f"https://www.google.com/maps/search/?api=1&query={place.lat},{place.lng}",
    }
    if upper_keys:
        data = {key.upper(): value for key, value in data.items()}
        data["MESA"] = int(place.mesa)
        mapa = {key.upper(): value for key, value in mapa.items()}
    return {"ok": True, "encontrado": True, "data": data, "mapa": mapa}


def censo_novedad(cedula: str, novedad: Novedad) -> JsonObject:
    """A cancelled number: not found in the census, with the ``novedad`` text and its resolution."""
    return {
        "ok": True,
        "encontrado": False,
        "data": {"nuip": cedula, "resolucion": novedad.resolucion, "fecha_novedad": novedad.fecha},
        "novedad": novedad.text,
    }


def censo_message(text: str) -> JsonObject:
    """``ok`` but not found, with a ``mensaje``: the not-in-census sentence, or "en actualización"."""
    return {"ok": True, "encontrado": False, "data": None, "mensaje": text}


def censo_not_found() -> JsonObject:
    """Not in the census."""
    return censo_message(NOT_FOUND_TEXT)


def censo_updating() -> JsonObject:
    """Transient: the same shape as not found, told apart only by ``mensaje``."""
    return censo_message(UPDATING_TEXT)


def censo_error(text: str, **extra: Any) -> JsonObject:
    """``{"ok": false, "error": text, ...}``."""
    return {"ok": False, "error": text, **extra}


def censo_curl_error() -> JsonObject:
    """The upstream timed out (transient)."""
    return censo_error(CURL_ERROR_TEXT)


CENSO_GARBAGE = (
    b'{"ok":true,"encontrado":tru<br />\n<b>Fatal error</b>:  Allowed memory size of 134217728 bytes '
    b"exhausted (tried to allocate 20480 bytes) in <b>/var/www/html/back/api/consulta.php</b> on line "
    b"<b>88</b><br />\n"
)


def censo_json(payload: Mapping[str, Any]) -> bytes:
    """Encode Source B's answers (UTF-8, no escaping of accents)."""
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------------------------
# Oversized answers (both sources): a huge body, a gzip bomb, JSON nested very deep.

# One notice line of filler, as a template that repeats a block without end would print it; here
# already encoded as a JSON string's content (ASCII, PHP's escapes), so it can be repeated as is.
_FILLER_HTML = f"<h4>{_e(FOUND_NOTICE)}</h4>\n"
_FILLER_JSON = json.dumps(_FILLER_HTML)[1:-1].replace("/", "\\/")


def _padded(prefix: str, suffix: str, size: int, blank: bool) -> bytes:
    # ``prefix`` + filler + ``suffix``, ``size`` bytes long (never shorter than the two).
    filler = " " if blank else _FILLER_JSON
    room = max(0, size - len(prefix.encode()) - len(suffix.encode()))
    count, rest = divmod(room, len(filler))
    return (prefix + filler * count + " " * rest + suffix).encode()


def wsp_huge_answer(cedula: str, place: Place, size: int, *, blank: bool = False) -> bytes:
    """A found answer whose ``data.message`` goes on until the body has ``size`` bytes.

    The padding is notice lines, or spaces with ``blank`` (they compress a thousand times: the
    gzip bomb).
    """
    body = wsp_json(wsp_answer(True, wsp_found_message(cedula, place))).decode("ascii")
    assert body.endswith('"}}')
    return _padded(body[:-3], body[-3:], size, blank)


def censo_huge_answer(cedula: str, place: Place, size: int, *, blank: bool = False) -> bytes:
    """A found answer with an extra ``html`` key of padding, ``size`` bytes in all.

    See :func:`wsp_huge_answer`.
    """
    body = censo_json(censo_found(cedula, place)).decode("utf-8")
    assert body.endswith("}")
    return _padded(body[:-1] + ', "html": "', '"}', size, blank)


@functools.lru_cache(maxsize=4)
def gzip_bomb(body: bytes) -> bytes:
    """``body`` gzip-compressed (a blank-padded answer shrinks about a thousand times)."""
    return gzip.compress(body, compresslevel=9, mtime=0)


def nested_json(prefix: str, depth: int, suffix: str) -> bytes:
    """``prefix`` + ``depth`` nested JSON arrays + ``suffix``: valid JSON that recursive readers choke on."""
    return (prefix + "[" * depth + "]" * depth + suffix).encode("ascii")


def wsp_deep_json(depth: int) -> bytes:
    """Source A: ``data.message`` is an array nested ``depth`` deep."""
    return nested_json('{"success":true,"data":{"message":', depth, "}}")


def censo_deep_json(depth: int) -> bytes:
    """Source B: ``data`` is an array nested ``depth`` deep."""
    return nested_json('{"ok":true,"encontrado":true,"data":', depth, "}")


# ---------------------------------------------------------------------------------------------
# Pages shared by both sources.


def block_page(support_id: str) -> str:
    """The F5 firewall's rejection page (answered with HTTP 200), with its support ID."""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Request Rejected</title>
<style>
body {{ font-family: Verdana, sans-serif; background: #fafafa; }}
.blocked {{ color: #c00; font-size: 20px; }}
.authenticate {{ color: #333; font-size: 16px; }}
</style>
</head>
<body>
<div class="wrapper">
<h1 class="blocked">The requested URL was rejected. Please consult with your administrator.</h1>
<h2 class="authenticate">Your support ID is: <span class="support-id">{_e(support_id)}</span></h2>
<p><a href="javascript:history.back();">[Go Back]</a></p>
</div>
</body>
</html>
"""


def error_500_page(host: str) -> str:
    """The full error page a GET sometimes gets instead of the form."""
    return f"""<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>500 Internal Server Error</title>
</head><body>
<h1>Internal Server Error</h1>
<p>The server encountered an internal error or
misconfiguration and was unable to complete
your request.</p>
<p>Please contact the server administrator at
 webmaster@localhost to inform them of the time this error occurred,
 and the actions you performed just before this error.</p>
<p>More information about this error may be available
in the server error log.</p>
<hr>
<address>Apache Server at {_e(host)}</address>
</body></html>
"""


def not_found_page(path: str) -> str:
    """404 for paths the replica does not serve."""
    return (
        "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body>"
        f"<h1>Not Found</h1><p>The requested URL {_e(path)} was not found on this server.</p></body></html>"
    )


def index_page(*, wsp_url: str, censo_url: str, table_markdown: str) -> str:
    """The replica's home page: links to both sources and the outcome table (English: it is ours)."""
    rows = []
    for line in table_markdown.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows.append("<tr>" + "".join(f"<td>{_e(cell)}</td>" for cell in cells) + "</tr>")
    return f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>django-cedula replica</title></head>
<body>
<h1>django-cedula: local replica of the Registraduría census lookup</h1>
<ul>
<li>Source A ("wsp" page): <a href="{_e(wsp_url)}">{_e(wsp_url)}</a></li>
<li>Source B ("consultacenso" app): <a href="{_e(censo_url)}">{_e(censo_url)}</a></li>
</ul>
<h2>Outcome table</h2>
<table border="1" cellpadding="4">
<thead><tr><th>Number</th><th>Outcome</th><th>What the replica does</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</body>
</html>
"""
