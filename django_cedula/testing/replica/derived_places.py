"""The voting places of numbers outside the outcome table: derived from a hash of the number, so the
same number always gets the same place and benchmarks may use as many numbers as they like."""

from __future__ import annotations

import hashlib

from .outcome_model import Place

# Deterministic answers for numbers outside the table are picked from these lists.
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
