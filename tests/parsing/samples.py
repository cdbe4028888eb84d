"""Sample answers of the Registraduría's census lookups, written from /work/shared/REGISTRADURIA.md.

They imitate the captured shapes (table#consulta with data-th cells, a stray closing tag,
trailing notices, PHP-style JSON escaping) with invented people and places.
"""

from __future__ import annotations

import json
from typing import Any

CEDULA = "1020304050"


def php_json(payload: Any) -> str:
    """``payload`` encoded the way PHP's json_encode does by default (``\\u00f3``, ``\\/``)."""
    return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).replace("/", "\\/")


def wsp_ok(message: str) -> str:
    """A wsp ``success: true`` answer carrying ``message``."""
    return php_json({"success": True, "data": {"message": message}})


def wsp_fail(message: str) -> str:
    """A wsp ``success: false`` answer carrying ``message``."""
    return php_json({"success": False, "data": {"message": message}})


# After a found answer the page adds a salutation and a notice. This notice deliberately
# uses words a text-only classifier would trip over; the table must win.
NOTICE = """
<h3>Señor Ciudadano:</h3>
<h4>Recuerde que si su cédula fue cancelada por muerte o no se encuentra habilitado para votar,
   la información se encuentra en actualización permanente. Si su documento no se encuentra en
   el censo, acérquese a la Registraduría.</h4>
"""

FOUND_MESSAGE = f"""
<div class="table-responsive">
  <table class="table table-striped table-bordered" id="consulta">
    <thead>
      <tr>
        <th>NUIP</th>
        <th>DEPARTAMENTO</th>
        <th>MUNICIPIO</th>
        <th>PUESTO</th>
        <th>DIRECCIÓN</th>
        <th>MESA</th>
      </tr>
    </thead>
    <tbody>
      <tr>
        <td data-th="NUIP">{CEDULA}</td>
        <td data-th="DEPARTAMENTO">BOGOTÁ D.C.</td>
        <td data-th="MUNICIPIO">BOGOTÁ. D.C.</td>
        <td data-th="PUESTO">COL. DISTRITAL REPÚBLICA DE CHILE - SEDE B</td>
        <td data-th="DIRECCIÓN">CALLE 80 No. 69 - 45   INT.&nbsp;#2</td>
        <td data-th="MESA"><b> 12 </b></td></td>
      </tr>
    </tbody>
  </table>
</div></div>
{NOTICE}
"""

FOUND_VALUES = {
    "departamento": "BOGOTÁ D.C.",
    "municipio": "BOGOTÁ. D.C.",
    "puesto": "COL. DISTRITAL REPÚBLICA DE CHILE - SEDE B",
    "direccion": "CALLE 80 No. 69 - 45 INT. #2",
    "mesa": "12",
}

# Same answer, columns in another order, DIRECCION without its accent.
FOUND_REORDERED_MESSAGE = f"""
<div class="table-responsive"><table id="consulta">
<thead><tr><th>MESA</th><th>DIRECCION</th><th>PUESTO</th><th>NUIP</th><th>MUNICIPIO</th><th>DEPARTAMENTO</th></tr></thead>
<tbody><tr>
<td data-th="MESA"><b>12</b></td>
<td data-th="DIRECCION">CALLE 80 No. 69 - 45 INT. #2</td>
<td data-th="PUESTO">COL. DISTRITAL REPÚBLICA DE CHILE - SEDE B</td>
<td data-th="NUIP">{CEDULA}</td>
<td data-th="MUNICIPIO">BOGOTÁ. D.C.</td>
<td data-th="DEPARTAMENTO">BOGOTÁ D.C.</td>
</tr></tbody></table></div>
"""

# Header text only: no data-th on the cells, again in another order.
FOUND_HEADERS_ONLY_MESSAGE = f"""
<table id="consulta">
  <tr><th>Municipio</th><th>Mesa</th><th>Departamento</th><th>Nuip</th><th>Dirección</th><th>Puesto</th></tr>
  <tr><td>MEDELLÍN</td><td><b>7</b></td><td>ANTIOQUIA</td><td>{CEDULA}</td>
      <td>CARRERA 43A # 1 SUR - 100</td><td>I.E. MARÍA AUXILIADORA</td></tr>
</table>
"""

# data-th only: no header row at all, cells in yet another order.
FOUND_DATA_TH_ONLY_MESSAGE = f"""
<table class="table" id="consulta"><tbody><tr>
  <td data-th="PUESTO">ESC. RURAL LA ESPERANZA</td>
  <td data-th="NUIP">{CEDULA}</td>
  <td data-th="MESA"><b>3</b></td>
  <td data-th="DEPARTAMENTO">NARIÑO</td>
  <td data-th="DIRECCIÓN">VDA. EL ROSAL KM 5 VÍA A IPIALES</td>
  <td data-th="MUNICIPIO">TÚQUERRES</td>
</tr></tbody></table>
"""

NOT_FOUND_MESSAGE = """
<div class="alert alert-warning" role="alert">
  <p>El documento consultado no se encuentra en el censo para esta elección.</p>
</div>
"""


def cancelled_table(novedad: str, resolucion: str = "0456 DE 2019", fecha: str = "12/03/2019") -> str:
    """The best guess at the wsp markup of a cancelled cédula."""
    return f"""
<div class="table-responsive">
<table class="table table-striped" id="consulta">
  <thead><tr><th>NUIP</th><th>NOVEDAD</th><th>RESOLUCIÓN</th><th>FECHA NOVEDAD</th></tr></thead>
  <tbody><tr>
    <td data-th="NUIP">{CEDULA}</td>
    <td data-th="NOVEDAD">  {novedad} </td>
    <td data-th="RESOLUCIÓN">{resolucion}</td>
    <td data-th="FECHA NOVEDAD">{fecha}</td>
  </tr></tbody>
</table></div>
<h3>Señor Ciudadano:</h3>
<h4>Para mayor información acérquese a la Registraduría más cercana.</h4>
"""


# (novedad as the site writes it, is it a death?)
NOVEDADES = [
    ("Cancelada por Muerte", True),
    ("CANCELADA POR MUERTE", True),
    ("Cancelada por Doble Cedulación", False),
    ("Cancelada por Falsa Identidad", False),
    ("Cancelada por Suplantación", False),
    ("Cancelada por Menoría de Edad", False),
    ("Cancelada por Extranjería", False),
    ("Cancelada por Mala Elaboración", False),
    ("Vigente con Pérdida o Suspensión de los Derechos Políticos", False),
    ("Baja por Pérdida o Suspensión de los Derechos Políticos", False),
    ("Baja por trashumancia", False),
    ("Pendiente por Solicitud en proceso", False),
    ("no se encuentra habilitado para votar", False),
]

UPDATING_MESSAGE = (
    '<div class="alert alert-info">La información se encuentra en actualización. '
    "Por favor intente más tarde.</div>"
)

CAPTCHA_MESSAGE = "Marque el cuadro de verificación o captcha! Intente nuevamente."
CURL_TIMEOUT_MESSAGE = "Curl error: Operation timed out after 15008 milliseconds with 0 bytes received"
CURL_HOST_MESSAGE = "Curl error: Could not resolve host: censo.interno.example"

RELOAD = php_json({"success": False, "reload": True})

# F5 rejection page as the doc describes it: headings classed blocked/authenticate and a
# support ID. The words themselves are irrelevant to detection.
F5_BLOCK_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Request Rejected</title>
<style>body{font-family:sans-serif}.blocked{color:#a00}.authenticate{font-size:90%}</style>
</head>
<body>
<div class="container">
  <h1 class="blocked">The requested URL was rejected.</h1>
  <h2 class="authenticate">Please consult with your administrator.</h2>
  <p>Your support ID is: <span class="support">7391046602855310274</span></p>
  <p><a href="javascript:history.back();">[Go Back]</a></p>
</div>
</body>
</html>
"""

# The classic F5 rejection page has no classes, only the support ID.
F5_PLAIN_BLOCK_PAGE = (
    "<html><head><title>Request Rejected</title></head><body>The requested URL was rejected. "
    "Please consult with your administrator.<br><br>Your support ID is: 13609817361028349521"
    "<br><br><a href='javascript:history.back();'>[Go Back]</a></body></html>"
)

# Ordinary text that merely talks about blocking and challenges.
CHATTY_NOT_FOUND_MESSAGE = """
<div class="alert alert-warning">
  <p>El documento consultado no se encuentra en el censo para esta elección.</p>
  <p>Note: if your browser blocked pop-ups, allow them. Security challenge passed.</p>
  <p>Your support ID is not needed here.</p>
</div>
"""

CHATTY_PAGE = """<!DOCTYPE html><html><head><title>Aviso</title></head><body>
<div class="notice"><h1>Access blocked?</h1><p>Complete the challenge below. The request was blocked
because of unusual traffic.</p></div></body></html>
"""

# The wsp form page itself (what a GET returns): not an answer.
FORM_PAGE = """<!DOCTYPE html><html lang="es"><head><title>Consulta de lugar de votación</title>
<script src="https://www.google.com/recaptcha/api.js" async defer></script></head>
<body><form id="form-consulta" method="post">
<input type="text" id="nuip" name="nuip" maxlength="10">
<select id="tipo" name="tipo"><option value="-1">LUGAR DE VOTACIÓN ACTUAL</option></select>
<input type="hidden" id="token" name="token" value="0123456789abcdef0123456789abcdef">
<div class="g-recaptcha" data-sitekey="site-key-read-from-the-page"></div>
<input type="submit" id="enviar" value="Consultar">
</form><div id="success"></div></body></html>
"""
