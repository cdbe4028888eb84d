"""The site after a change, as pure functions (no state, no I/O): the pages and answers of the faults
``form_shape`` and ``new_markup`` (:class:`~.faults.FaultMode`).

They are what the Registraduría has done between election seasons (``_censoResultado.php`` became
``consultar.php`` with a field ``numdoc``, then today's page with an AJAX answer): the same facts in
a shape the package's readers were not written for. Well-formed on purpose: a reader must fail on
them because their shape is new, not because they are broken.
"""

from __future__ import annotations

from typing import Any

from .censo_pages import censo_page
from .outcomes import NOT_FOUND_TEXT, Outcome, OutcomeKind, derived_place
from .site_pages import JsonObject
from .site_pages import escape as _e
from .wsp_pages import wsp_form_page

#: Source A's field for the number after the ``form_shape`` change (the name an older page used).
CHANGED_NUIP_ID = "numdoc"
#: Source B's API path after the ``form_shape`` change (not served by the replica).
CHANGED_CENSO_API_PATH = "/consultacenso/api/v2/"


def wsp_changed_form_page(*, token: str, site_key: str, recaptcha_src: str) -> str:
    """Source A's form under ``form_shape``: ``#nuip`` renamed ``#numdoc``, and the site key moved from
    ``div.g-recaptcha[data-sitekey]`` to ``div.captcha-frame[data-site-key]``."""
    page = wsp_form_page(token=token, site_key=site_key, recaptcha_src=recaptcha_src)
    return (
        page.replace('for="nuip"', f'for="{CHANGED_NUIP_ID}"')
        .replace('id="nuip" name="nuip"', f'id="{CHANGED_NUIP_ID}" name="{CHANGED_NUIP_ID}"')
        .replace("getElementById('nuip')", f"getElementById('{CHANGED_NUIP_ID}')")
        .replace('<div class="g-recaptcha" data-sitekey=', '<div class="captcha-frame" data-site-key=')
    )


def censo_changed_page(*, site_key: str, recaptcha_src: str) -> str:
    """Source B's page under ``form_shape``: its script posts to :data:`CHANGED_CENSO_API_PATH`."""
    return censo_page(site_key=site_key, recaptcha_src=recaptcha_src, api_base=CHANGED_CENSO_API_PATH)


def _facts(cedula: str, outcome: Outcome) -> dict[str, Any]:
    """What the new answers say about ``cedula``, under their own names."""
    if outcome.kind is OutcomeKind.NOT_FOUND:
        return {"persona": None, "aviso": NOT_FOUND_TEXT}
    if outcome.kind is OutcomeKind.CANCELLED and outcome.novedad is not None:
        return {"persona": {"documento": cedula, "anotacion": outcome.novedad.text}}
    place = outcome.place or derived_place(cedula)
    return {
        "persona": {
            "documento": cedula,
            "departamentoNombre": place.departamento,
            "municipioNombre": place.municipio,
            "puestoNombre": place.puesto,
            "puestoDireccion": place.direccion,
            "mesaNumero": place.mesa,
        }
    }


def wsp_new_markup_answer(cedula: str, outcome: Outcome) -> JsonObject:
    """Source A's answer under ``new_markup``: ``{"estado", "resultado": {"html"}}``, the place in a
    ``<dl>`` rather than ``table#consulta``."""
    facts = _facts(cedula, outcome)
    person = facts.get("persona")
    if person is None:
        html = f'<p class="aviso">{_e(facts["aviso"])}</p>'
    else:
        items = "".join(f"<dt>{_e(key)}</dt><dd>{_e(str(value))}</dd>" for key, value in person.items())
        html = f'<dl class="lugar-votacion">{items}</dl>'
    return {"estado": "ok", "resultado": {"html": html}}


def censo_new_markup_answer(cedula: str, outcome: Outcome) -> JsonObject:
    """Source B's answer under ``new_markup``: ``{"estado", "resultado": {"persona": {...}}}`` with
    camelCase keys none of the reader's names match."""
    facts = _facts(cedula, outcome)
    answer: JsonObject = {"estado": "OK", "resultado": {"persona": facts["persona"]}}
    if "aviso" in facts:
        answer["aviso"] = facts["aviso"]
    return answer
