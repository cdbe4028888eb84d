"""Source health: each source is in service or out of service, for the whole cluster.

The Registraduría changes its pages every election season. A lookup that fails because the page
changed fails the same way on every row, and each one costs a solve. So a run of failures that say
the *source* changed rather than that one lookup failed (:data:`~.results.CHANGE_SIGNS`: an answer
nobody can read, a fresh token the site refused, a form page without the fields, the site key or
the endpoint the scraper needs), ``CEDULA_SOURCE_HEALTH["OUT_AFTER"]`` of them in a row anywhere in
the cluster, takes the source out of service. A timeout, a block, a network error or a refused
proxy never counts, and never breaks a run either; an answer (found, not found, cancelled) ends it.

Out of service, a source costs nothing: no lookup is sent to it and no token solved for its page
(the chain skips it, the token supply leaves its page alone, and a lookup with no source left is
deferred by the job without counting an attempt). It comes back through

* a free probe (:meth:`~.scrapers.base.BaseScraper.probe`: a GET of the form page, no solve), at
  most every ``PROBE_EVERY`` seconds, which puts back a source taken out because of its form;
* one paid trial lookup once its back-off has passed (``TRIAL_AFTER`` seconds, doubling after each
  trial that fails the same way, up to ``TRIAL_MAX``), which puts back any source that answers;
* an operator: ``manage.py cedula_sources --resume SOURCE`` (:func:`put_back`).

Every transition is taken by one worker only (the cache's atomic ``add`` and ``delete``), which sends
:data:`~.signals.source_out_of_service` or :data:`~.signals.source_back_in_service` once for the
cluster; the package's own receivers mail the admins and queue the waiting rows.

While a source's run of bad answers is open, lookups of it are counted before they start
(:func:`admit`): no more than ``OUT_AFTER - 1`` may start before the run is decided, whatever the
number of workers, so the cost of a change stays bounded by the setting, not by the cluster's size.

Everything lives in the throttle's cache (``CEDULA_CACHE_ALIAS``) under ``django_cedula:health:``.
A cache that fails is logged and lets lookups go on: health saves money, it must not stop a site
whose cache blinked.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import re
import time
from collections.abc import Iterable
from typing import Any

from django.core.cache import BaseCache, caches

from . import throttle
from .conf import app_settings
from .privacy import redact
from .results import CHANGE_SIGNS, ProbeResult, ScrapeResult, ScrapeStatus
from .signals import source_back_in_service, source_out_of_service

logger = logging.getLogger(__name__)

PREFIX = "django_cedula:health:"
#: How much of an unexpected answer the kept sample holds (characters).
SAMPLE_LENGTH = 20_000
#: Seconds a count of lookups in flight during a run of bad answers is kept (a worker that died
#: mid-lookup never takes its own off: the count is forgotten after this long).
IN_FLIGHT_TTL = 600
#: Seconds a number counted in a run is remembered (the same number failing again is not a new sign).
RUN_TTL = 86_400
#: Seconds a run stays undecided before a row's last attempt may end on a sign of change: one
#: number failing alone, with no other number to tell, ends like any other failure after this long.
RUN_PATIENCE = 3600.0
#: Seconds a row's last attempt waits, uncounted, for an undecided run.
RUN_WAIT = 300.0
#: Seconds a job defers itself when a run is open and its lookups in flight could decide it (after
#: waiting :data:`DECIDING_PATIENCE` for them in place, polling every :data:`DECIDING_POLL`).
DECIDING_WAIT = 30.0
DECIDING_PATIENCE = 5.0
DECIDING_POLL = 0.5
#: Seconds at the least a job waits for an out-of-service source before it asks again.
MIN_OUT_WAIT = 30.0
#: Seconds the back-off of an outage is remembered after the source came back: a source that goes
#: out again soon (a change that only some answers show) goes on with the longer wait.
HISTORY_TTL = 86_400
#: The reason of a seasonal source (one that lives only around elections) that does not answer.
OFF_SEASON = "off_season"
#: What each sign of change means, for operators.
SIGN_TEXT = {
    ScrapeStatus.PARSE_ERROR.value: "answers that could not be read",
    ScrapeStatus.TOKEN_REFUSED.value: "fresh captcha tokens refused by the site",
    ScrapeStatus.FORM_CHANGED.value: "a form page without what the lookup needs",
    ScrapeStatus.PAGE_MOVED.value: "its page or its lookup answered HTTP 404 or 410",
    OFF_SEASON: "a seasonal source that does not answer (no DNS, no connection, HTTP 404 or 5xx)",
}
#: The reasons a free probe can undo: the form is whole again, the seasonal site answers again.
PROBE_CURABLE = frozenset({ScrapeStatus.FORM_CHANGED.value, OFF_SEASON})
# reCAPTCHA tokens and other long opaque strings: never in a kept sample.
_OPAQUE = re.compile(r"[A-Za-z0-9_\-]{40,}")
_UNREACHABLE = frozenset({ScrapeStatus.NETWORK_ERROR, ScrapeStatus.TIMEOUT, ScrapeStatus.PAGE_MOVED})


def sign_of(result: ScrapeResult, *, seasonal: bool = False) -> str:
    """The sign of change ``result`` is (the reason it would give), or ``""``. For a ``seasonal``
    source, not answering at all (a network error, a timeout, a page gone, an HTTP 5xx) is one too:
    out of its season the site has no DNS or a gateway's error page."""
    if (
        seasonal
        and not result.status.is_final
        and (result.status in _UNREACHABLE or result.http_status >= 500)
    ):
        return OFF_SEASON
    return result.status.value if result.status in CHANGE_SIGNS else ""


@dataclasses.dataclass(frozen=True)
class SourceState:
    """What the cluster knows of one source's health (:func:`state`)."""

    source: str
    in_service: bool = True
    #: When it went out of service (seconds since the epoch), ``None`` in service.
    since: float | None = None
    #: The sign of change that took it out (``parse_error``, ``token_refused``, ``form_changed``,
    #: ``page_moved``, ``off_season``).
    reason: str = ""
    #: The last such failure's text (masked, no secret).
    detail: str = ""
    #: Signs of change seen in a row and not yet ended by an answer (in service), and when that run
    #: opened.
    streak: int = 0
    run_since: float | None = None
    #: Paid trial lookups made since it went out, and when the next one may run.
    trials: int = 0
    next_trial_at: float | None = None
    #: The last free probe of its form: when, whether the form had its shape, what was seen.
    probed_at: float | None = None
    probe_ok: bool | None = None
    probe_detail: str = ""

    @property
    def reason_text(self) -> str:
        return SIGN_TEXT.get(self.reason, self.reason)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Admission:
    """Whether a lookup may ask a source now (:func:`admit`)."""

    allowed: bool
    #: The lookup is the paid trial of an out-of-service source.
    trial: bool = False
    #: Seconds to wait before asking again, when not allowed.
    wait: float = 0.0
    #: Why not: ``out_of_service``, or ``deciding`` (a run of bad answers that the lookups in flight
    #: may decide).
    reason: str = ""
    #: The lookup is counted among those in flight during a run (:func:`report` takes it off).
    counted: bool = False


def _settings() -> dict[str, Any]:
    return app_settings.SOURCE_HEALTH


def enabled() -> bool:
    return int(_settings()["OUT_AFTER"]) > 0


def _cache() -> BaseCache:
    return caches[app_settings.CACHE_ALIAS]


def _key(source: str, part: str = "") -> str:
    return f"{PREFIX}{source}{':' + part if part else ''}"


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_state(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and throttle.is_time(value.get("since"))
        and isinstance(value.get("reason"), str)
        and _is_count(value.get("trials"))
        and throttle.is_time(value.get("next_trial_at"))
    )


def _is_probe(value: Any) -> bool:
    return isinstance(value, dict) and throttle.is_time(value.get("at")) and isinstance(value.get("ok"), bool)


def _is_sample(value: Any) -> bool:
    return (
        isinstance(value, dict) and throttle.is_time(value.get("at")) and isinstance(value.get("text"), str)
    )


def _is_run(value: Any) -> bool:
    return isinstance(value, str) and throttle.is_time(_as_float(value))


def _as_float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


# -- reading


def state(source: str) -> SourceState:
    """The health of ``source`` as the cluster knows it (always in service while health is off:
    ``OUT_AFTER`` 0). Raises what the cache raises."""
    if not enabled():
        return SourceState(source)
    cache = _cache()
    keys = [_key(source, part) for part in ("", "streak", "probe", "run")]
    found = throttle.read_many(
        cache, keys, lambda value: _is_state(value) or _is_count(value) or _is_probe(value) or _is_run(value)
    )
    out: Any = found.get(keys[0])
    streak: Any = found.get(keys[1])
    probe: Any = found.get(keys[2])
    run: Any = found.get(keys[3])
    fields: dict[str, Any] = {"source": source}
    if _is_state(out):
        fields.update(
            in_service=False,
            since=float(out["since"]),
            reason=out["reason"],
            detail=str(out.get("detail", "")),
            trials=out["trials"],
            next_trial_at=float(out["next_trial_at"]),
        )
    if _is_count(streak):
        fields["streak"] = streak
    if _is_run(run):
        fields["run_since"] = _as_float(run)
    if _is_probe(probe):
        fields.update(
            probed_at=float(probe["at"]), probe_ok=probe["ok"], probe_detail=str(probe.get("detail", ""))
        )
    return SourceState(**fields)


def states(sources: Iterable[str]) -> list[SourceState]:
    return [state(source) for source in dict.fromkeys(sources)]


def out_of_service(sources: Iterable[str]) -> list[SourceState]:
    """The states of those of ``sources`` that are out of service (``[]`` when the cache fails:
    logged)."""
    try:
        return [found for found in states(sources) if not found.in_service]
    except Exception as exc:
        logger.error("Could not read the sources' health (%s: %s)", type(exc).__name__, exc)
        return []


def next_look(current: SourceState) -> float:
    """When something may bring an out-of-service source back without an operator: its trial, or,
    for a reason a probe can undo, its next free probe (seconds since the epoch)."""
    assert current.next_trial_at is not None
    when = current.next_trial_at
    if current.reason in PROBE_CURABLE:
        every = float(_settings()["PROBE_EVERY"])
        probe_at = (current.probed_at or current.since or 0.0) + every
        when = min(when, probe_at)
    return when


def must_wait(current: SourceState, now: float | None = None) -> bool:
    """Whether a lookup of ``current``'s source must wait: it is out of service and neither its
    trial nor a probe that could bring it back is due (read only: :func:`admit` and
    :func:`probe_due` take those turns)."""
    if current.in_service:
        return False
    now = time.time() if now is None else now
    return now < next_look(current)


def run_undecided(source: str, now: float | None = None) -> bool:
    """Whether ``source`` is out of service, or has an open run of signs of change that holds two
    numbers at least, younger than :data:`RUN_PATIENCE`, and has not taken it out yet: a row's last
    attempt that met such a sign waits for the run's decision instead of ending. One number failing
    alone never makes a row wait: that is its own page, and it ends as any failure would
    (``False`` too when the cache fails)."""
    if not enabled():
        return False
    try:
        current = state(source)
        numbers = _count(_cache(), _key(source, "numbers"))
    except Exception:
        return False
    if not current.in_service:
        return True
    now = time.time() if now is None else now
    young = current.run_since is not None and now - current.run_since < RUN_PATIENCE
    return current.streak > 0 and numbers >= 2 and young


def holds_page(page_url: str) -> bool:
    """Whether the token supply must not solve for ``page_url``: the page of a source out of service,
    or of one whose run of bad answers is open (a token solved now would likely be wasted). ``False``
    when the cache fails."""
    if not page_url or not enabled():
        return False
    try:
        return throttle.read(_cache(), _page_key(page_url), throttle.is_time) is not None
    except Exception:
        return False


def _page_key(page_url: str) -> str:
    return PREFIX + "page:" + hashlib.sha256(page_url.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _hold_page(page_url: str, held: bool) -> None:
    if not page_url:
        return
    if held:
        _cache().set(_page_key(page_url), time.time(), timeout=None)
    else:
        _cache().delete(_page_key(page_url))


def sample(source: str) -> dict[str, Any] | None:
    """The last unexpected answer kept for ``source``: ``{"at", "status", "error", "text"}`` (masked,
    bounded), or ``None``."""
    found = throttle.read(_cache(), _key(source, "sample"), _is_sample)
    return dict(found) if found else None


# -- before and after a lookup


def admit(source: str) -> Admission:
    """Whether a lookup may ask ``source`` now.

    In service with no open run: yes. During a run of bad answers: while the lookups in flight could
    not decide it on their own (at least one always may run). Out of service: only as the paid trial,
    once its back-off has passed and no other worker took it. A cache that fails lets the lookup go
    (logged).
    """
    if not enabled():
        return Admission(True)
    try:
        return _admit(source)
    except Exception as exc:
        logger.error("Could not read source %s's health (%s: %s): asking it", source, type(exc).__name__, exc)
        return Admission(True)


def _admit(source: str) -> Admission:
    cache = _cache()
    now = time.time()
    current = state(source)
    if not current.in_service:
        assert current.next_trial_at is not None
        if now >= current.next_trial_at:
            if cache.add(_key(source, "trial"), now, timeout=_trial_lock_ttl()):
                logger.warning("Source %s is out of service: this lookup is its trial", source)
                return Admission(True, trial=True)
            # Another worker's trial is under way: its answer decides for every waiting row.
            return Admission(
                False, wait=max(app_settings.LOOKUP_TIMEOUT, MIN_OUT_WAIT), reason="out_of_service"
            )
        wait = min(max(next_look(current) - now, MIN_OUT_WAIT), float(_settings()["TRIAL_MAX"]))
        return Admission(False, wait=wait, reason="out_of_service")
    if current.streak == 0:
        return Admission(True)
    # During a run, only as many lookups may be in flight as could still complete it: more would
    # pay for answers the run no longer needs. At least one may always run: a run of one number's
    # failures may never reach a decision otherwise.
    in_flight = throttle.count(cache, _key(source, "in_flight"), IN_FLIGHT_TTL)
    if in_flight <= max(int(_settings()["OUT_AFTER"]) - current.streak, 1):
        return Admission(True, counted=True)
    _decr(cache, _key(source, "in_flight"))
    return Admission(False, wait=DECIDING_WAIT, reason="deciding")


def _trial_lock_ttl() -> int:
    return int(app_settings.LOOKUP_TIMEOUT) + 120


def _decr(cache: BaseCache, key: str) -> None:
    try:
        if int(cache.decr(key)) < 0:
            cache.delete(key)
        else:
            cache.touch(key, IN_FLIGHT_TTL)
    except ValueError:  # gone (expired, or the run ended)
        pass


def report(
    source: str,
    result: ScrapeResult,
    *,
    cedula: str | None = None,
    trial: bool = False,
    counted: bool = False,
    page_url: str = "",
    seasonal: bool = False,
) -> SourceState | None:
    """Count ``result`` of a lookup of ``source`` toward its health.

    Returns the source's state when the row must not pay an attempt for this lookup: the source is
    out of service after it (this sign took it out, or it was out already), or it was the source's
    trial and got no answer. ``None`` otherwise. A cache that fails is logged.
    """
    if not enabled():
        return None
    try:
        return _report(source, result, cedula=cedula, trial=trial, page_url=page_url, seasonal=seasonal)
    except Exception as exc:
        logger.error(
            "Could not count a lookup toward source %s's health (%s: %s)", source, type(exc).__name__, exc
        )
        return None
    finally:
        if counted:
            # After the streak is counted: taking it off first would let one more lookup in.
            _decr_safely(source)


def _decr_safely(source: str) -> None:
    try:
        _decr(_cache(), _key(source, "in_flight"))
    except Exception as exc:
        logger.error("Could not update source %s's lookups in flight (%s)", source, type(exc).__name__)


def _report(
    source: str, result: ScrapeResult, *, cedula: str | None, trial: bool, page_url: str, seasonal: bool
) -> SourceState | None:
    cache = _cache()
    if result.status.is_final:
        _end_run(cache, source)
        _hold_page(page_url, held=False)
        if trial:
            _come_back(source, by="trial", page_url=page_url)
        # A lookup admitted before the source went out answered: only a trial, a probe or an
        # operator puts it back (answers that some lookups can still read must not flap it).
        return None
    sign = sign_of(result, seasonal=seasonal)
    if not sign:
        if trial:
            _after_trial(source, doubled=False)
            return state(source)
        return None
    keep_sample(source, result, cedula)
    _hold_page(page_url, held=True)
    if trial:
        _after_trial(source, doubled=True, detail=_detail(result, cedula))
        return state(source)
    current = state(source)
    if not current.in_service:
        return current
    if _new_in_run(cache, source, cedula):
        numbers = throttle.count(cache, _key(source, "numbers"), None)
    else:
        numbers = _count(cache, _key(source, "numbers"))
    streak = throttle.count(cache, _key(source, "streak"), None)
    needed = int(_settings()["OUT_AFTER"])
    # One number failing on its own says more about that number's page than about the source: a
    # run takes the source out only once it holds two numbers (or the setting asks for one sign).
    if streak < needed or numbers < min(2, needed):
        logger.warning(
            "Source %s: %s (%s in a row, %s numbers; out of service at %s in a row of two numbers or more)",
            source,
            sign,
            streak,
            numbers,
            needed,
        )
        return None
    _go_out(source, reason=sign, detail=_detail(result, cedula), page_url=page_url)
    return state(source)


#: The keys of an open run of bad answers (besides the per-number marks, which expire).
RUN_PARTS = ("streak", "numbers", "in_flight", "run")


def _end_run(cache: BaseCache, source: str, *more: str) -> None:
    cache.delete_many([_key(source, part) for part in (*RUN_PARTS, *more)])


def _count(cache: BaseCache, key: str) -> int:
    value = throttle.read(cache, key, _is_count)
    return int(value or 0)


def _new_in_run(cache: BaseCache, source: str, cedula: str | None) -> bool:
    """Whether ``cedula`` is a number the open run of ``source`` has not counted yet (the run is
    named by when it opened; a new run counts every number again)."""
    cache.add(_key(source, "run"), f"{time.time():.6f}", timeout=None)
    if not cedula:
        return True
    run = cache.get(_key(source, "run"))
    digest = hashlib.sha256(f"{run}:{cedula}".encode()).hexdigest()[:24]
    return bool(cache.add(_key(source, f"run:{digest}"), 1, timeout=RUN_TTL))


def _detail(result: ScrapeResult, cedula: str | None) -> str:
    return _clean(result.error or result.status.value, cedula)[:500]


def _clean(text: str, cedula: str | None) -> str:
    return _OPAQUE.sub("[…]", redact(text, cedula))


def keep_sample(source: str, result: ScrapeResult, cedula: str | None) -> None:
    """Keep ``result``'s answer as the source's last unexpected one: cédulas masked, long opaque
    strings (tokens) removed, cut to :data:`SAMPLE_LENGTH`. It may still hold a person's answer (a
    voting place): it is kept no longer than raw answers are (``CEDULA_PRIVACY["RAW_RESPONSE_DAYS"]``)."""
    text = _clean(result.raw_html[: SAMPLE_LENGTH * 2], cedula)[:SAMPLE_LENGTH]
    kept = {"at": time.time(), "status": result.status.value, "error": _detail(result, cedula), "text": text}
    days = app_settings.PRIVACY["RAW_RESPONSE_DAYS"]
    timeout = None if days is None else max(int(float(days) * 86_400), 1)
    _cache().set(_key(source, "sample"), kept, timeout=timeout)


def _backoff(trials: int) -> float:
    settings = _settings()
    backoff: float = min(float(settings["TRIAL_AFTER"]) * 2 ** min(trials, 30), float(settings["TRIAL_MAX"]))
    return backoff


def _go_out(source: str, *, reason: str, detail: str, page_url: str = "") -> None:
    """Take ``source`` out of service, once for the cluster: the worker whose ``add`` wins sends the
    signal. A source back from an outage within :data:`HISTORY_TTL` goes on with that outage's
    back-off."""
    now = time.time()
    cache = _cache()
    trials = _count(cache, _key(source, "history"))
    out = {
        "since": now,
        "reason": reason,
        "detail": detail,
        "trials": trials,
        "next_trial_at": now + _backoff(trials),
        "page_url": page_url,
    }
    if not cache.add(_key(source), out, timeout=None):
        return
    _end_run(cache, source, "trial")
    logger.error(
        "Source %s is out of service: %s (%s). No lookup or solve for it until a probe or a trial "
        "lookup shows it answers again, or an operator runs: manage.py cedula_sources --resume %s",
        source,
        SIGN_TEXT.get(reason, reason),
        detail,
        source,
    )
    _send(source_out_of_service, state(source))


def _after_trial(source: str, *, doubled: bool, detail: str = "") -> None:
    """A trial lookup that did not answer: the next one after the same back-off, or twice it when the
    source failed the same way again. The trial's lock is kept until then, so that no other worker
    starts a second trial on the state it read before this one."""
    cache = _cache()
    current = throttle.read(cache, _key(source), _is_state)
    if current is None:
        return  # put back meanwhile (an operator, a probe): nothing to write over
    trials = current["trials"] + 1 if doubled else current["trials"]
    backoff = _backoff(trials)
    updated = {**current, "trials": trials, "next_trial_at": time.time() + backoff}
    if detail:
        updated["detail"] = detail
    if throttle.read(cache, _key(source), _is_state) != current:
        return  # changed under us: the newer state wins
    cache.set(_key(source), updated, timeout=None)
    cache.set(_key(source, "trial"), time.time(), timeout=max(int(backoff), 1))
    logger.warning(
        "Source %s stays out of service after its trial lookup; next trial in %.0f s", source, backoff
    )


def _come_back(source: str, *, by: str, page_url: str = "") -> bool:
    """Put ``source`` back in service, once for the cluster: the worker whose ``delete`` removed the
    state sends the signal."""
    cache = _cache()
    current = state(source)
    if current.in_service:
        return False
    out = throttle.read(cache, _key(source), _is_state) or {}
    if not cache.delete(_key(source)):
        return False
    _end_run(cache, source, "trial")
    cache.set(_key(source, "history"), current.trials + 1, timeout=HISTORY_TTL)
    _hold_page(page_url or str(out.get("page_url", "")), held=False)
    logger.warning("Source %s is back in service (%s)", source, by)
    _send(source_back_in_service, current, by=by)
    return True


def put_back(source: str, *, by: str = "operator") -> bool:
    """Put ``source`` back in service now (``manage.py cedula_sources --resume``); ``False`` when it
    was in service already. The waiting rows are queued by the signal's receiver. An operator's
    resume forgets the outage's back-off (a new release is expected to read the pages)."""
    cache = _cache()
    _end_run(cache, source)
    back = _come_back(source, by=by)
    if by == "operator":
        cache.delete(_key(source, "history"))
    return back


def take_out(source: str, *, reason: str, detail: str) -> bool:
    """Take ``source`` out of service now, as a run of signs would (tests, and an operator's shell);
    ``False`` if it was out."""
    before = state(source)
    _go_out(source, reason=reason, detail=detail)
    return before.in_service


def probe_due(source: str, *, curable_only: bool = False) -> bool:
    """Whether this worker should probe ``source`` now: it is out of service and no probe ran in the
    last ``PROBE_EVERY`` seconds (taken by one worker: the cache's ``add``). With ``curable_only``,
    only when a probe could put it back (:data:`PROBE_CURABLE`): a job probes for that alone, the
    sweep for the operators' record too."""
    if not enabled():
        return False
    try:
        current = state(source)
        if current.in_service or (curable_only and current.reason not in PROBE_CURABLE):
            return False
        every = float(_settings()["PROBE_EVERY"])
        if current.probed_at is not None and time.time() - current.probed_at < every:
            return False
        return bool(_cache().add(_key(source, "probing"), time.time(), timeout=max(int(every), 1)))
    except Exception as exc:
        logger.error("Could not read source %s's health (%s: %s)", source, type(exc).__name__, exc)
        return False


def record_probe(source: str, probe: ProbeResult) -> bool:
    """Keep what a free probe of ``source``'s form saw; a form with its shape puts back a source that
    was out because of its form, or a seasonal one out of season (only a lookup can tell about
    answers and tokens). Returns whether the source is back in service."""
    cache = _cache()
    detail = _clean(probe.detail, None)[:500]
    cache.set(_key(source, "probe"), {"at": time.time(), "ok": probe.ok, "detail": detail}, timeout=None)
    current = state(source)
    if current.in_service:
        return False
    if probe.ok and current.reason in PROBE_CURABLE:
        return _come_back(source, by="probe")
    if not probe.ok and probe.status is ScrapeStatus.FORM_CHANGED and probe.raw_html:
        keep_sample(
            source,
            ScrapeResult(status=ScrapeStatus.FORM_CHANGED, error=detail, raw_html=probe.raw_html),
            None,
        )
    logger.info("Source %s probed: %s", source, "the form has its shape" if probe.ok else detail)
    return False


def _send(signal: Any, current: SourceState, **kwargs: Any) -> None:
    for receiver, response in signal.send_robust(
        sender=SourceState, source=current.source, state=current, **kwargs
    ):
        if isinstance(response, Exception):
            logger.error(
                "A receiver of a django_cedula signal (%s) failed for source %s: %s: %s",
                getattr(receiver, "__qualname__", receiver),
                current.source,
                type(response).__name__,
                response,
            )


def since_text(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(value))
