"""Source B, the "consultacenso" single-page app: its page and its API's JSON answers, as pure
functions (no state, no I/O).

Page content is in Spanish because it mimics the real site; see ``/work/shared/REGISTRADURIA.md``
for what is known about it. Source B's answers were never captured: the shapes here are the best
public guess, kept deliberately untidy so that clients read by key name rather than exact case.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .outcomes import CURL_ERROR_TEXT, NOT_FOUND_TEXT, UPDATING_TEXT, Novedad, Place
from .site_pages import JsonObject
from .site_pages import escape as _e  # short: the template calls it on every value

#: The election list of Source B (``GET back/api/elecciones``): ``0`` is the current voting place.
CENSO_ELECTIONS: tuple[tuple[int, str], ...] = (
    (0, "LUGAR DE VOTACION ACTUAL"),
    (66, "CONSULTAS POPULARES, INTERNAS O INTERPARTIDISTAS 2026"),
    (67, "CONGRESO DE LA REPUBLICA 2026"),
    (68, "PRESIDENTE Y VICEPRESIDENTE DE LA REPUBLICA 2026"),
)


CENSO_CAPTCHA_TEXT = 'Captcha inválido. Marque la casilla "No soy un robot" e intente nuevamente.'
CENSO_RELOAD_TEXT = "La sesión ha expirado. Recargue la página."
CENSO_INVALID_TEXT = "El número de documento no es válido."
CENSO_BAD_REQUEST_TEXT = "Solicitud inválida."


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
