"""Names and defaults of the replica and its fixtures (no imports; the captcha tokens' format and
defaults live in :mod:`django_cedula.captcha.replica_tokens`)."""

from __future__ import annotations

#: A fixed string for ``Replica(valid_token=DEFAULT_VALID_TOKEN)`` / ``--valid-token``: only when so
#: configured does the replica accept a fixed token (on every use). By default it accepts only the tokens
#: its solver stand-ins issue, once each (:mod:`django_cedula.captcha.replica_tokens`).
DEFAULT_VALID_TOKEN = "replica-valid-token"

#: The reCAPTCHA site key the replica's pages carry. Shaped like a real v2 key (40 characters, ``6L...``)
#: so that clients reading ``data-sitekey`` see something plausible; it means nothing to Google.
DEFAULT_SITE_KEY = "6LdReplicaLocalSiteKeyForTestsOnly000000"

#: Seconds a "slow" answer takes unless told otherwise: longer than a typical client timeout.
DEFAULT_SLOW_SECONDS = 30.0

#: Bytes of a "huge" answer unless told otherwise (``Replica(huge_bytes=...)``).
DEFAULT_HUGE_BYTES = 20 * 1024 * 1024

#: Bytes a "gzip bomb" answer expands to unless told otherwise (``Replica(bomb_bytes=...)``); about a
#: thousandth of it goes over the wire.
DEFAULT_BOMB_BYTES = 100 * 1024 * 1024

#: How deep a "deep JSON" answer nests unless told otherwise (``Replica(deep_json_depth=...)``).
DEFAULT_DEEP_JSON_DEPTH = 50_000

#: Paths of the two sources, keeping the real sites' relative structure under one local host.
WSP_PATH = "/censo/consultar/"
CENSO_PATH = "/consultacenso/"
CENSO_ALT_PATH = "/consultacenso/consultar/"
CENSO_API_PATH = "/consultacenso/back/api/"
RECAPTCHA_PATH = "/recaptcha/"

#: The election selector of Source A: ``-1`` is the current voting place.
WSP_ELECTIONS: tuple[tuple[str, str], ...] = (
    ("-1", "LUGAR DE VOTACIÓN ACTUAL"),
    ("66", "CONSULTAS POPULARES, INTERNAS O INTERPARTIDISTAS 2026"),
    ("67", "CONGRESO DE LA REPÚBLICA 2026"),
    ("68", "PRESIDENTE Y VICEPRESIDENTE DE LA REPÚBLICA 2026"),
)

#: The election list of Source B (``GET back/api/elecciones``): ``0`` is the current voting place.
CENSO_ELECTIONS: tuple[tuple[int, str], ...] = (
    (0, "LUGAR DE VOTACION ACTUAL"),
    (66, "CONSULTAS POPULARES, INTERNAS O INTERPARTIDISTAS 2026"),
    (67, "CONGRESO DE LA REPUBLICA 2026"),
    (68, "PRESIDENTE Y VICEPRESIDENTE DE LA REPUBLICA 2026"),
)

#: The two sources' names, as :attr:`RequestRecord.source <.records.RequestRecord.source>` and
#: ``Replica.django_settings(source)`` spell them: Source A ("wsp") and Source B ("consultacenso").
WSP = "wsp"
CENSO = "censo"
