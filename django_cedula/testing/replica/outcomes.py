# ruff: noqa: E501
# (The docstring carries the documentation table verbatim; its rows are longer than a code line.)
"""What the replica answers for each cédula number: the outcome table.

Here too: the types an outcome is made of (:class:`OutcomeKind`, :class:`Outcome`, :class:`Place`,
:class:`Novedad`) and the places of numbers outside the table (:func:`derived_place`).

Numbers in :data:`OUTCOMES` get the outcome the table names; every other well-formed number
(3 to 10 digits, no leading zero) is found, with a voting place derived from a hash of the
number (:func:`derived_place`), so benchmarks can use as many numbers as they like and get the
same answer every time. Both sources (A, the "wsp" page, and B, "consultacenso") follow the
same table, and so does the vigencia service (the pre-check's, :mod:`.vigencia_endpoints`): it
answers "Vigente (Vivo)" for every number but those the table gives a vigencia of its own
(``Outcome.vigencia``) and those cancelled by death ("Cancelada por Muerte", with the novedad's date).

OUTCOME TABLE (kept equal to :func:`outcome_table_markdown` by the replica's tests):

| Number | Outcome | What the replica does |
|---|---|---|
| 1000000001 | found | BOGOTÁ D.C. / BOGOTÁ. D.C. / COLEGIO DISTRITAL JOSÉ MARTÍ - SEDE A / CALLE 26 SUR No. 14-60 / mesa 12 |
| 1000000002 | found | ANTIOQUIA / MEDELLÍN / INSTITUCIÓN EDUCATIVA MARCO FIDEL SUÁREZ / CARRERA 65 # 48-120 / mesa 7 (B: upper-case keys) |
| 1000000003 | found | VALLE / SANTIAGO DE CALI / UNIVERSIDAD DEL VALLE - SEDE MELÉNDEZ / CALLE 13 No. 100-00 / mesa 23 |
| 1000000004 | found | NARIÑO / SAN ANDRÉS DE TUMACO / I.E. ITI SAN JUDAS TADEO - SEDE No. 2 / AV. LA PLAYA # 2-15 BARRIO EL BAJITO / mesa 3 (B: upper-case keys) |
| 1000000005 | found | NORTE DE SANTANDER / CÚCUTA / COLEGIO SAGRADO CORAZÓN DE JESÚS / AVENIDA 0 # 11-56 - LA PLAYA / mesa 15 (A: MESA and DIRECCIÓN columns swapped) |
| 1000000010 | not found | "El documento consultado no se encuentra en el censo para esta elección." |
| 1000000020 | cancelled (deceased) | Cancelada por Muerte |
| 1000000021 | cancelled (other) | Cancelada por Doble Cedulación |
| 1000000022 | cancelled (other) | Cancelada por Falsa Identidad |
| 1000000023 | cancelled (other) | Cancelada por Suplantación |
| 1000000024 | cancelled (other) | Cancelada por Menoría de Edad |
| 1000000025 | cancelled (other) | Cancelada por Extranjería |
| 1000000026 | cancelled (other) | Cancelada por Mala Elaboración |
| 1000000027 | cancelled (other) | Vigente con Pérdida o Suspensión de los Derechos Políticos |
| 1000000028 | cancelled (other) | no se encuentra habilitado para votar |
| 1000000030 | cancelled (other) | Baja por Pérdida o Suspensión de los Derechos Políticos |
| 1000000031 | cancelled (other) | Baja por trashumancia |
| 1000000032 | cancelled (other) | Pendiente por Solicitud en proceso |
| 1000000040 | en actualización (transient) | always "La información se encuentra en actualización. Por favor intente más tarde." |
| 1000000041 | curl error (transient) | always "Curl error: Operation timed out after 15008 milliseconds with 0 bytes received" |
| 1000000042 | reload once | first lookup in a session answers reload; after the page reload, found |
| 1000000043 | captcha rejected | always rejects the captcha, even the valid token |
| 1000000044 | curl error once | the first lookup since start or reset() answers the curl error; later lookups are found |
| 1000000050 | block page | the F5 block page (HTTP 200, HTML) instead of an answer |
| 1000000051 | 500 on GET | first lookup in a session answers reload and the reloaded page (next GET) answers 500 once; then found |
| 1000000052 | slow | the answer (found) comes after slow_seconds (default 30) |
| 1000000053 | dropped connection | the server closes the socket without answering |
| 1000000054 | garbage | an unparseable answer (A: broken markup in data.message; B: broken JSON) |
| 1000000055 | huge answer | a found answer padded to huge_bytes (default 20 MiB) |
| 1000000056 | gzip bomb | a found answer padded to bomb_bytes (default 100 MiB), sent gzip-compressed (about 100 KiB) |
| 1000000057 | deep JSON | JSON nested deep_json_depth (default 50,000) levels deep |
| 1000000060 | found | found with over-long fields: departamento of 130 characters, mesa of 41 |
| 1000000061 | cancelled (other) | cancelled with over-long fields: novedad of 315 characters, fecha_novedad of 65 |
| 1000000090 | not found | not in the census; vigencia "Vigente (Vivo)": alive, not registered to vote |
| 1000000091 | not found | not in the census; vigencia "Cedula no Existe": no cédula has this number |
| 1000000092 | cancelled (deceased) | Cancelada por Muerte; vigencia "Cancelada por Muerte", fecha 02/08/2023 |
| 1000000093 | found | found (CAUCA / POPAYÁN, mesa 9); vigencia "Sin datos para consultar" |
| any other | found | a voting place derived from the number (same number, same place) |
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
from collections.abc import Mapping

__all__ = [
    "CURL_ERROR_TEXT",
    "LONG_DEPARTAMENTO",
    "LONG_FECHA",
    "LONG_MESA",
    "LONG_NOVEDAD",
    "NOT_FOUND_TEXT",
    "OUTCOMES",
    "UPDATING_TEXT",
    "Novedad",
    "Outcome",
    "OutcomeKind",
    "Place",
    "derived_place",
    "outcome_for",
    "outcome_table_markdown",
]

# -- the outcome model: what kinds of outcome there are and what an outcome carries


class OutcomeKind(str, enum.Enum):
    """What the outcome table says about a number."""

    FOUND = "found"
    NOT_FOUND = "not_found"
    CANCELLED = "cancelled"
    UPDATING = "updating"
    CURL_ERROR = "curl_error"
    CURL_ERROR_ONCE = "curl_error_once"
    RELOAD_ONCE = "reload_once"
    CAPTCHA_REJECT = "captcha_reject"
    BLOCK = "block"
    GET500 = "get500"
    SLOW = "slow"
    DROP = "drop"
    GARBAGE = "garbage"
    HUGE = "huge"
    GZIP_BOMB = "gzip_bomb"
    DEEP_JSON = "deep_json"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Place:
    """A voting place as the sources show it: upper case, accents, ``No.``, ``#`` and dashes."""

    departamento: str
    municipio: str
    puesto: str
    direccion: str
    mesa: str
    lat: float
    lng: float


@dataclasses.dataclass(frozen=True)
class Novedad:
    """A note on a cédula that keeps it out of the census (cancellation and the like)."""

    text: str
    resolucion: str = ""
    fecha: str = ""
    #: Whether the note means the holder died (the only cancellation with that meaning).
    deceased: bool = False


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The replica's answer for one number, before faults are applied."""

    kind: OutcomeKind
    #: One line for the documentation table.
    summary: str = ""
    #: The voting place; outcomes that end in a found answer always have one after :func:`outcome_for`.
    place: Place | None = None
    novedad: Novedad | None = None
    #: Source B: the ``data`` and ``mapa`` keys are upper case and ``mesa`` is a number, not a string.
    upper_keys: bool = False
    #: Source A: the MESA and DIRECCIÓN columns trade places, to catch parsers that count columns.
    swap_columns: bool = False
    #: What the vigencia service answers for the number, and its ``fecha``, when the table says
    #: (otherwise "Vigente (Vivo)", or "Cancelada por Muerte" for a cancellation by death).
    vigencia: str = ""
    vigencia_fecha: str = ""

    @property
    def label(self) -> str:
        """The short outcome name used in the documentation table."""
        if self.kind is OutcomeKind.CANCELLED and self.novedad is not None and self.novedad.deceased:
            return "cancelled (deceased)"
        return _LABELS[self.kind]


_LABELS: Mapping[OutcomeKind, str] = {
    OutcomeKind.FOUND: "found",
    OutcomeKind.NOT_FOUND: "not found",
    OutcomeKind.CANCELLED: "cancelled (other)",
    OutcomeKind.UPDATING: "en actualización (transient)",
    OutcomeKind.CURL_ERROR: "curl error (transient)",
    OutcomeKind.CURL_ERROR_ONCE: "curl error once",
    OutcomeKind.RELOAD_ONCE: "reload once",
    OutcomeKind.CAPTCHA_REJECT: "captcha rejected",
    OutcomeKind.BLOCK: "block page",
    OutcomeKind.GET500: "500 on GET",
    OutcomeKind.SLOW: "slow",
    OutcomeKind.DROP: "dropped connection",
    OutcomeKind.GARBAGE: "garbage",
    OutcomeKind.HUGE: "huge answer",
    OutcomeKind.GZIP_BOMB: "gzip bomb",
    OutcomeKind.DEEP_JSON: "deep JSON",
}


# -- the voting places of numbers outside the table: derived from a hash of the number, so the same
# number always gets the same place and benchmarks may use as many numbers as they like: the hash picks from these lists.
_DERIVED_PLACES: tuple[tuple[str, str, float, float], ...] = (
    ("BOGOTÁ D.C.", "BOGOTÁ. D.C.", 4.6097, -74.0817),
    ("ANTIOQUIA", "MEDELLÍN", 6.2442, -75.5812),
    ("VALLE", "SANTIAGO DE CALI", 3.4516, -76.5320),
    ("ATLÁNTICO", "BARRANQUILLA", 10.9685, -74.7813),
    ("SANTANDER", "BUCARAMANGA", 7.1193, -73.1227),
    ("BOLÍVAR", "CARTAGENA DE INDIAS", 10.3910, -75.4794),
    ("NARIÑO", "PASTO", 1.2136, -77.2811),
    ("BOYACÁ", "TUNJA", 5.5353, -73.3678),
    ("CÓRDOBA", "MONTERÍA", 8.7479, -75.8814),
    ("QUINDÍO", "ARMENIA", 4.5339, -75.6811),
    ("CAQUETÁ", "FLORENCIA", 1.6144, -75.6062),
    ("CHOCÓ", "QUIBDÓ", 5.6947, -76.6611),
)
_DERIVED_PUESTOS: tuple[str, ...] = (
    "COLEGIO DISTRITAL SAN JOSÉ",
    "INSTITUCIÓN EDUCATIVA SIMÓN BOLÍVAR - SEDE PRINCIPAL",
    "ESCUELA NORMAL SUPERIOR MARÍA AUXILIADORA",
    "UNIVERSIDAD PEDAGÓGICA NACIONAL",
    "COLISEO CUBIERTO LOS ÁLAMOS",
    "CONCENTRACIÓN ESCOLAR JOSÉ ANTONIO GALÁN",
    "I.E. TÉCNICO INDUSTRIAL No. 2",
    "SALÓN COMUNAL BARRIO LA ESPERANZA",
)
_DERIVED_DIRECCIONES: tuple[str, ...] = (
    "CALLE 45 No. 13-27",
    "CARRERA 7 # 32-16",
    "AVENIDA 68 No. 22-40 SUR",
    "DIAGONAL 23 # 5A-08",
    "TRANSVERSAL 78 No. 40B-15",
    "CALLE 10 # 4-55 CENTRO",
    "KILÓMETRO 2 VÍA AL MAR",
    "CARRERA 15 No. 100-69 - PISO 2",
)


def number_digest(cedula: str) -> bytes:
    """The hash a number's derived answer is picked with."""
    # A hash, not the digits themselves, so that neighbouring numbers land in different places.
    return hashlib.sha256(f"django-cedula-replica:{cedula}".encode()).digest()


def derived_place(cedula: str) -> Place:
    """The voting place the replica gives a number outside the table; the same number, the same place."""
    digest = number_digest(cedula)
    departamento, municipio, lat, lng = _DERIVED_PLACES[digest[0] % len(_DERIVED_PLACES)]
    return Place(
        departamento=departamento,
        municipio=municipio,
        puesto=_DERIVED_PUESTOS[digest[1] % len(_DERIVED_PUESTOS)],
        direccion=_DERIVED_DIRECCIONES[digest[2] % len(_DERIVED_DIRECCIONES)],
        mesa=str(1 + digest[3] % 40),
        # A small offset so places in one municipio do not all share a map pin.
        lat=round(lat + (digest[4] - 128) / 10_000, 4),
        lng=round(lng + (digest[5] - 128) / 10_000, 4),
    )


# -- the table

NOT_FOUND_TEXT = "El documento consultado no se encuentra en el censo para esta elección."
UPDATING_TEXT = "La información se encuentra en actualización. Por favor intente más tarde."
CURL_ERROR_TEXT = "Curl error: Operation timed out after 15008 milliseconds with 0 bytes received"


# Values longer than CedulaInfo's columns (departamento 100, mesa 20, novedad 255, fecha_novedad 50):
# what storing an answer must survive (PostgreSQL refuses them; SQLite does not check).
LONG_DEPARTAMENTO = (
    "ARCHIPIÉLAGO DE SAN ANDRÉS, PROVIDENCIA Y SANTA CATALINA - CIRCUNSCRIPCIÓN ESPECIAL "
    "DE LAS ISLAS No. 88 - DELEGACIÓN DEPARTAMENTAL"
)
LONG_MESA = "MESA 012 - ZONA 99 - PUESTO 01 - COMUNA 4"
LONG_NOVEDAD = (
    "Cancelada por Doble Cedulación según la Resolución 0877 de 2008 de la Registraduría Delegada "
    "en lo Electoral; el documento fue retirado del censo electoral y su titular no podrá votar hasta "
    "que la novedad se resuelva ante la Dirección Nacional de Identificación, previa verificación "
    "de la información dactiloscópica"
)
LONG_FECHA = "02/11/2008 (fecha de la resolución; en firme desde el 15/12/2008)"


def _found(
    departamento: str,
    municipio: str,
    puesto: str,
    direccion: str,
    mesa: str,
    lat: float,
    lng: float,
    *,
    upper_keys: bool = False,
    swap_columns: bool = False,
) -> Outcome:
    place = Place(departamento, municipio, puesto, direccion, mesa, lat, lng)
    notes = []
    if upper_keys:
        notes.append("B: upper-case keys")
    if swap_columns:
        notes.append("A: MESA and DIRECCIÓN columns swapped")
    summary = f"{departamento} / {municipio} / {puesto} / {direccion} / mesa {mesa}"
    if notes:
        summary += f" ({'; '.join(notes)})"
    return Outcome(OutcomeKind.FOUND, summary, place=place, upper_keys=upper_keys, swap_columns=swap_columns)


def _cancelled(text: str, resolucion: str, fecha: str, *, deceased: bool = False) -> Outcome:
    return Outcome(OutcomeKind.CANCELLED, text, novedad=Novedad(text, resolucion, fecha, deceased))


#: The outcome table: cédula number -> outcome. Numbers not listed are found (see :func:`outcome_for`).
OUTCOMES: Mapping[str, Outcome] = {
    "1000000001": _found(
        "BOGOTÁ D.C.",
        "BOGOTÁ. D.C.",
        "COLEGIO DISTRITAL JOSÉ MARTÍ - SEDE A",
        "CALLE 26 SUR No. 14-60",
        "12",
        4.5981,
        -74.0799,
    ),
    "1000000002": _found(
        "ANTIOQUIA",
        "MEDELLÍN",
        "INSTITUCIÓN EDUCATIVA MARCO FIDEL SUÁREZ",
        "CARRERA 65 # 48-120",
        "7",
        6.2518,
        -75.5636,
        upper_keys=True,
    ),
    "1000000003": _found(
        "VALLE",
        "SANTIAGO DE CALI",
        "UNIVERSIDAD DEL VALLE - SEDE MELÉNDEZ",
        "CALLE 13 No. 100-00",
        "23",
        3.3740,
        -76.5330,
    ),
    "1000000004": _found(
        "NARIÑO",
        "SAN ANDRÉS DE TUMACO",
        "I.E. ITI SAN JUDAS TADEO - SEDE No. 2",
        "AV. LA PLAYA # 2-15 BARRIO EL BAJITO",
        "3",
        1.8067,
        -78.7647,
        upper_keys=True,
    ),
    "1000000005": _found(
        "NORTE DE SANTANDER",
        "CÚCUTA",
        "COLEGIO SAGRADO CORAZÓN DE JESÚS",
        "AVENIDA 0 # 11-56 - LA PLAYA",
        "15",
        7.8891,
        -72.4967,
        swap_columns=True,
    ),
    "1000000010": Outcome(OutcomeKind.NOT_FOUND, f'"{NOT_FOUND_TEXT}"'),
    "1000000020": _cancelled("Cancelada por Muerte", "4512", "15/03/2019", deceased=True),
    "1000000021": _cancelled("Cancelada por Doble Cedulación", "0877", "02/11/2008"),
    "1000000022": _cancelled("Cancelada por Falsa Identidad", "1290", "21/06/2011"),
    "1000000023": _cancelled("Cancelada por Suplantación", "3345", "09/09/2015"),
    "1000000024": _cancelled("Cancelada por Menoría de Edad", "0156", "30/01/2004"),
    "1000000025": _cancelled("Cancelada por Extranjería", "2788", "12/12/2012"),
    "1000000026": _cancelled("Cancelada por Mala Elaboración", "0931", "18/04/2001"),
    "1000000027": _cancelled(
        "Vigente con Pérdida o Suspensión de los Derechos Políticos", "5120", "07/07/2021"
    ),
    "1000000028": _cancelled("no se encuentra habilitado para votar", "", ""),
    "1000000030": _cancelled("Baja por Pérdida o Suspensión de los Derechos Políticos", "0412", "25/05/1998"),
    "1000000031": _cancelled("Baja por trashumancia", "1877", "10/10/2019"),
    "1000000032": _cancelled("Pendiente por Solicitud en proceso", "", ""),
    "1000000040": Outcome(OutcomeKind.UPDATING, f'always "{UPDATING_TEXT}"'),
    "1000000041": Outcome(OutcomeKind.CURL_ERROR, f'always "{CURL_ERROR_TEXT}"'),
    "1000000042": Outcome(
        OutcomeKind.RELOAD_ONCE, "first lookup in a session answers reload; after the page reload, found"
    ),
    "1000000043": Outcome(OutcomeKind.CAPTCHA_REJECT, "always rejects the captcha, even the valid token"),
    "1000000044": Outcome(
        OutcomeKind.CURL_ERROR_ONCE,
        "the first lookup since start or reset() answers the curl error; later lookups are found",
    ),
    "1000000050": Outcome(OutcomeKind.BLOCK, "the F5 block page (HTTP 200, HTML) instead of an answer"),
    "1000000051": Outcome(
        OutcomeKind.GET500,
        "first lookup in a session answers reload and the reloaded page (next GET) answers 500 once; "
        "then found",
    ),
    "1000000052": Outcome(OutcomeKind.SLOW, "the answer (found) comes after slow_seconds (default 30)"),
    "1000000053": Outcome(OutcomeKind.DROP, "the server closes the socket without answering"),
    "1000000054": Outcome(
        OutcomeKind.GARBAGE, "an unparseable answer (A: broken markup in data.message; B: broken JSON)"
    ),
    "1000000055": Outcome(OutcomeKind.HUGE, "a found answer padded to huge_bytes (default 20 MiB)"),
    "1000000056": Outcome(
        OutcomeKind.GZIP_BOMB,
        "a found answer padded to bomb_bytes (default 100 MiB), sent gzip-compressed (about 100 KiB)",
    ),
    "1000000057": Outcome(OutcomeKind.DEEP_JSON, "JSON nested deep_json_depth (default 50,000) levels deep"),
    "1000000060": dataclasses.replace(
        _found(
            LONG_DEPARTAMENTO,
            "SAN ANDRÉS",
            "INSTITUCIÓN EDUCATIVA FLOWERS HILL BILINGUAL SCHOOL - SEDE No. 1",
            "AVENIDA 20 DE JULIO # 1-23 SECTOR SARIE BAY",
            LONG_MESA,
            12.5847,
            -81.7006,
        ),
        summary=(
            f"found with over-long fields: departamento of {len(LONG_DEPARTAMENTO)} characters, "
            f"mesa of {len(LONG_MESA)}"
        ),
    ),
    "1000000061": dataclasses.replace(
        _cancelled(LONG_NOVEDAD, "0877", LONG_FECHA),
        summary=(
            f"cancelled with over-long fields: novedad of {len(LONG_NOVEDAD)} characters, "
            f"fecha_novedad of {len(LONG_FECHA)}"
        ),
    ),
    # The vigencia service's other answers (the pre-check's), and what the census says of each.
    "1000000090": Outcome(
        OutcomeKind.NOT_FOUND,
        'not in the census; vigencia "Vigente (Vivo)": alive, not registered to vote',
        vigencia="Vigente (Vivo)",
    ),
    "1000000091": Outcome(
        OutcomeKind.NOT_FOUND,
        'not in the census; vigencia "Cedula no Existe": no cédula has this number',
        vigencia="Cedula no Existe",
    ),
    "1000000092": dataclasses.replace(
        _cancelled("Cancelada por Muerte", "7021", "02/08/2023", deceased=True),
        summary='Cancelada por Muerte; vigencia "Cancelada por Muerte", fecha 02/08/2023',
        vigencia="Cancelada por Muerte",
        vigencia_fecha="02/08/2023",
    ),
    "1000000093": dataclasses.replace(
        _found("CAUCA", "POPAYÁN", "COLEGIO MAYOR DEL CAUCA", "CARRERA 5 No. 3-85", "9", 2.4411, -76.6063),
        summary='found (CAUCA / POPAYÁN, mesa 9); vigencia "Sin datos para consultar"',
        vigencia="Sin datos para consultar",
    ),
}


# Kinds whose answer never shows a voting place.
_NO_PLACE = frozenset(
    {OutcomeKind.NOT_FOUND, OutcomeKind.CANCELLED, OutcomeKind.UPDATING, OutcomeKind.CURL_ERROR}
)


def outcome_for(cedula: str) -> Outcome:
    """The table's outcome for ``cedula``, with a place filled in wherever the answer can end as found.

    ``cedula`` must already be a bare, well-formed number; the server refuses other input
    before asking.
    """
    outcome = OUTCOMES.get(cedula)
    if outcome is None:
        # Half of the unknown numbers answer Source B with upper-case keys: clients must not care.
        return Outcome(
            OutcomeKind.FOUND,
            "derived",
            place=derived_place(cedula),
            upper_keys=bool(number_digest(cedula)[6] & 1),
        )
    if outcome.place is None and outcome.kind not in _NO_PLACE:
        return dataclasses.replace(outcome, place=derived_place(cedula))
    return outcome


def outcome_table_markdown() -> str:
    """The outcome table as Markdown (the same text as this module's docstring shows)."""
    lines = ["| Number | Outcome | What the replica does |", "|---|---|---|"]
    for number, outcome in OUTCOMES.items():
        lines.append(f"| {number} | {outcome.label} | {outcome.summary} |")
    lines.append("| any other | found | a voting place derived from the number (same number, same place) |")
    return "\n".join(lines)
