"""The election-season site and its API (infovotantes): the page and the API's JSON answers, as pure
functions (no state, no I/O).

Nothing of the real site was captured (its hosts had no DNS when this was written): the page is a
small single-page app whose script renders the reCAPTCHA widget after the document loads and asks the
API with the token as ``Authorization: Bearer``; the answers follow the shape peers' code reads
(``status``, ``status_code``, ``message``, ``data.{voter, is_in_census, novelty[], polling_place}``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .outcomes import Novedad, Place
from .site_pages import JsonObject
from .site_pages import escape as _e

#: The elections the replica's season knows (``election_code``); the first is :meth:`Replica.source`'s.
ELECCIONES_CODES: tuple[tuple[str, str], ...] = (
    ("territoriales", "AUTORIDADES TERRITORIALES 2027"),
    ("congreso", "CONGRESO DE LA REPÚBLICA"),
    ("presidencia", "PRESIDENTE Y VICEPRESIDENTE DE LA REPÚBLICA"),
)

#: The API's ``status_code`` for a number not in the census (with HTTP 404).
NOT_IN_CENSUS_CODE = 13

NOT_IN_CENSUS_TEXT = "El documento consultado no se encuentra en el censo electoral para esta elección."
TOKEN_TEXT = "Token de verificación inválido o expirado."
BAD_REQUEST_TEXT = "Solicitud inválida."
BAD_ELECTION_TEXT = "El código de elección no es válido."
BAD_NUMBER_TEXT = "El número de identificación no es válido."
GATEWAY_TEXT = "Tiempo de espera agotado consultando el servicio de censo."


def elecciones_page(*, site_key: str, recaptcha_src: str, api_url: str, with_widget: bool = True) -> str:
    """The season's page. Its script renders the captcha widget a moment after the document has
    loaded (as a single-page app does); without ``with_widget`` (the ``form_shape`` fault) it never
    does."""
    options = "".join(f'<option value="{_e(code)}">{_e(name)}</option>' for code, name in ELECCIONES_CODES)
    widget = json.dumps(site_key if with_widget else "")
    return f"""<!DOCTYPE html>
<html lang="es">
<head>
  <meta charset="utf-8">
  <title>Elecciones Colombia | Registraduría Nacional del Estado Civil</title>
</head>
<body>
  <main id="app">
    <h1>Consulta tu lugar de votación</h1>
    <form id="identificacion">
      <label for="documento">Número de cédula</label>
      <input id="documento" type="text" inputmode="numeric" maxlength="10">
      <label for="eleccion">Elección</label>
      <select id="eleccion">{options}</select>
      <div id="captcha"></div>
      <button type="submit">Consultar</button>
    </form>
    <pre id="resultado"></pre>
  </main>
  <script>
  (function () {{
    'use strict';
    var SITE_KEY = {widget};
    setTimeout(function () {{
      if (!SITE_KEY) {{ return; }}
      var box = document.getElementById('captcha');
      box.className = 'g-recaptcha';
      box.setAttribute('data-sitekey', SITE_KEY);
      var script = document.createElement('script');
      script.src = {json.dumps(recaptcha_src)};
      document.head.appendChild(script);
    }}, 150);
    document.getElementById('identificacion').addEventListener('submit', function (event) {{
      event.preventDefault();
      fetch({json.dumps(api_url)}, {{
        method: 'POST',
        headers: {{
          'Content-Type': 'application/json',
          'Authorization': 'Bearer ' + (window.grecaptcha ? window.grecaptcha.getResponse() : '')
        }},
        body: JSON.stringify({{
          identification: document.getElementById('documento').value.trim(),
          identification_type: 'CC',
          election_code: document.getElementById('eleccion').value,
          module: 'polling_place',
          platform: 'web'
        }})
      }})
        .then(function (response) {{ return response.text(); }})
        .then(function (raw) {{ document.getElementById('resultado').textContent = raw; }});
    }});
  }})();
  </script>
</body>
</html>
"""


#: A gateway's page for a host whose upstream is gone (the ``elecciones_502`` fault).
BAD_GATEWAY_PAGE = (
    "<html><head><title>502 Bad Gateway</title></head><body>"
    "<center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>"
)


def _envelope(ok: bool, code: int, message: str, data: Any) -> JsonObject:
    return {"status": ok, "status_code": code, "message": message, "data": data}


def _voter(cedula: str) -> JsonObject:
    return {"identification": cedula, "identification_type": "CC"}


def elecciones_found(cedula: str, place: Place) -> JsonObject:
    """In the census: where the holder votes."""
    return _envelope(
        True,
        0,
        "Consulta exitosa",
        {
            "voter": _voter(cedula),
            "is_in_census": True,
            "novelty": [],
            "polling_place": {
                "stand": place.puesto,
                "table": place.mesa,
                "place_address": {
                    "state": place.departamento,
                    "town": place.municipio,
                    "address": place.direccion,
                    "zone": "01",
                    "latitude": place.lat,
                    "longitude": place.lng,
                },
            },
        },
    )


def elecciones_novelty(cedula: str, novedad: Novedad) -> JsonObject:
    """A number with a novelty (cancelled, not entitled to vote): not in the census, the novelty said."""
    entry = {"name": novedad.text, "resolution": novedad.resolucion, "date": novedad.fecha}
    return _envelope(
        True,
        0,
        "Consulta exitosa",
        {"voter": _voter(cedula), "is_in_census": False, "novelty": [entry], "polling_place": None},
    )


def elecciones_not_found() -> JsonObject:
    """Not in the census: sent with HTTP 404."""
    return _envelope(False, NOT_IN_CENSUS_CODE, NOT_IN_CENSUS_TEXT, None)


def elecciones_error(message: str, code: int) -> JsonObject:
    """A refusal (a token, a request, an election code) or the API's own failure."""
    return _envelope(False, code, message, None)


def elecciones_new_markup(cedula: str, place: Place) -> JsonObject:
    """The ``new_markup`` fault: a well-formed answer of a shape the package cannot read."""
    return {"ok": True, "result": {"citizen": cedula, "site": {"name": place.puesto, "desk": place.mesa}}}


#: An unreadable answer (the ``garbage`` outcome): JSON cut short.
ELECCIONES_GARBAGE = b'{"status": true, "status_code": 0, "data": {"voter": {"identif'


def elecciones_json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")
