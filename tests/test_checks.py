"""Every system check, both ways: a broken setting fails with its id and a hint; a good one passes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import CheckMessage
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_cedula import checks
from django_cedula.conf import REMOVED_SETTINGS

DJANGO_Q = "django_cedula.backends.django_q.DjangoQBackend"
INLINE = "django_cedula.backends.inline.InlineBackend"
DJANGO_TASKS = "django_cedula.backends.django_tasks.DjangoTasksBackend"
CELERY = "django_cedula.backends.celery.CeleryBackend"
WSP = "django_cedula.scrapers.wsp.WspScraper"
FAKE = "django_cedula.testing.scrapers.FakeScraper"
REPLICA_SOLVER = "django_cedula.testing.captcha.ReplicaCaptchaSolver"
TWOCAPTCHA = "django_cedula.captcha.twocaptcha.TwoCaptchaSolver"


def part(path: object, /, **options: Any) -> dict[str, Any]:
    """``{"BACKEND": path, "OPTIONS": options}``: a task backend, a source or a solver."""
    return {"BACKEND": path, "OPTIONS": options}


def ids(messages: list[CheckMessage]) -> list[str]:
    return [message.id or "" for message in messages]


def text(messages: list[CheckMessage]) -> str:
    return " ".join(f"{message.msg} {message.hint}" for message in messages)


def all_messages() -> list[CheckMessage]:
    return [
        *checks.check_removed_settings(),
        *checks.check_task_backend(),
        *checks.check_sources(),
        *checks.check_captcha(),
        *checks.check_retry_delays(),
        *checks.check_user_field(),
        *checks.check_values(),
        *checks.check_throttle(),
        *checks.check_sweep(),
    ]


@pytest.fixture
def good(settings: Any) -> Any:
    """A complete, valid configuration: Django-Q2 on its ORM broker and the replica's solver."""
    settings.CEDULA_TASKS = part(DJANGO_Q)
    settings.CEDULA_SOURCES = [part(WSP)]
    settings.CEDULA_CAPTCHA_SOLVER = part(REPLICA_SOLVER)
    settings.Q_CLUSTER = {"name": "t", "orm": "default", "timeout": 120, "retry": 180}
    # The supply wants a shared cache (W009's tests turn it on).
    settings.CEDULA_TOKEN_SUPPLY = {"ENABLED": False}
    return settings


def test_a_good_configuration_passes(good: Any) -> None:
    assert all_messages() == []


def test_every_message_has_a_hint(good: Any) -> None:
    good.CEDULA_TASKS = part("nope.Nope")
    good.CEDULA_RETRY_DELAYS = "60"
    good.CEDULA_SOURCES = [part(WSP, page_timeout=-1)]
    good.CEDULA_SCRAPER = WSP
    messages = all_messages()
    assert messages
    assert all(message.hint for message in messages)


@pytest.mark.parametrize(
    "path", ["django_cedula.backends.nope.Backend", "django_cedula.models.CedulaInfo", 42]
)
def test_e001_backend_path(good: Any, path: object) -> None:
    good.CEDULA_TASKS = part(path)
    assert ids(checks.check_task_backend()) == ["django_cedula.E001"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (DJANGO_Q, 'expected {"BACKEND": ..., "OPTIONS": {...}}, not str'),
        ([part(DJANGO_Q)], "not list"),
        ({"OPTIONS": {}}, "BACKEND must be a dotted path"),
        ({"BACKEND": DJANGO_Q, "OPTION": {}}, "unknown keys ['OPTION']"),
        ({"BACKEND": DJANGO_Q, "OPTIONS": []}, "OPTIONS must be a dict, not list"),
        ({"BACKEND": DJANGO_Q, "OPTIONS": None}, "OPTIONS must be a dict, not NoneType"),
    ],
)
def test_e001_tasks_not_backend_and_options(good: Any, value: object, words: str) -> None:
    good.CEDULA_TASKS = value
    (message,) = checks.check_task_backend()
    assert message.id == "django_cedula.E001"
    assert message.msg.startswith("CEDULA_TASKS: ")
    assert words in message.msg
    assert DJANGO_Q in (message.hint or "")


def test_the_options_may_be_left_out(good: Any) -> None:
    good.CEDULA_TASKS = {"BACKEND": DJANGO_Q}
    good.CEDULA_SOURCES = [{"BACKEND": WSP}]
    good.CEDULA_CAPTCHA_SOLVER = {"BACKEND": REPLICA_SOLVER}
    assert all_messages() == []


@pytest.mark.parametrize("options", [{"retries": 3}, {"timeout": -5}])
def test_e002_backend_options(good: Any, options: dict[str, Any]) -> None:
    good.CEDULA_TASKS = part(DJANGO_Q, **options)
    assert ids(checks.check_task_backend()) == ["django_cedula.E002"]


def test_e003_backend_app_missing(good: Any) -> None:
    good.INSTALLED_APPS = [app for app in good.INSTALLED_APPS if app != "django_q"]
    assert "django_cedula.E003" in ids(checks.check_task_backend())


@pytest.mark.parametrize("path", ["tests.nope.Scraper", "django_cedula.models.CedulaInfo", None])
def test_e004_scraper_path(good: Any, path: object) -> None:
    good.CEDULA_SOURCES = [part(path)]
    assert ids(checks.check_sources()) == ["django_cedula.E004"]


def test_a_hand_written_scraper_class_is_accepted(good: Any) -> None:
    good.CEDULA_SOURCES = [part("tests.misbehaving_scrapers.GarbageScraper")]
    assert checks.check_sources() == []


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (WSP, "must be a non-empty list, not str"),
        (part(WSP), "must be a non-empty list, not dict"),
        ([], "must be a non-empty list, not list"),
        (None, "must be a non-empty list, not NoneType"),
        ([WSP], '[0]: expected {"BACKEND": ..., "OPTIONS": {...}}, not str'),
        ([{"class": WSP, "options": {}}], "[0]: unknown keys ['class', 'options']"),
        ([part(WSP), {"BACKEND": WSP, "OPTIONS": ["x"]}], "[1]: OPTIONS must be a dict, not list"),
    ],
)
def test_e004_sources_not_a_list_of_backend_and_options(good: Any, value: object, words: str) -> None:
    good.CEDULA_SOURCES = value
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E004"
    assert message.msg.startswith("CEDULA_SOURCES")
    assert words in message.msg.replace("CEDULA_SOURCES[", "[").replace("CEDULA_SOURCES: ", "")
    assert '[{"BACKEND": "django_cedula.scrapers.wsp.WspScraper", "OPTIONS": {}}]' in (message.hint or "")


@pytest.mark.parametrize(
    "delays", ["60", [60, -1], [60, "300"], None, [True], [1e12], [float("inf")], [float("nan")], [10**400]]
)
def test_e006_retry_delays(good: Any, delays: object) -> None:
    good.CEDULA_RETRY_DELAYS = delays
    assert ids(checks.check_retry_delays()) == ["django_cedula.E006"]


@pytest.mark.parametrize("delays", [[], [0], [1.5, 30], (60, 300, 900), [7 * 24 * 3600]])
def test_e006_accepts_lists_of_numbers(good: Any, delays: object) -> None:
    good.CEDULA_RETRY_DELAYS = delays
    assert checks.check_retry_delays() == []


def test_e006_says_the_bound(good: Any) -> None:
    good.CEDULA_RETRY_DELAYS = [60, 1e12]
    (message,) = checks.check_retry_delays()
    assert "from 0 to 604800 (a week)" in message.msg


def test_e007_user_field(good: Any) -> None:
    good.CEDULA_USER_FIELD = "cedulla"
    (message,) = checks.check_user_field()
    assert message.id == "django_cedula.E007"
    assert "documento" in (message.hint or "")  # lists the model's fields
    good.CEDULA_USER_FIELD = "documento"
    assert checks.check_user_field() == []


@pytest.mark.parametrize("path", ["tests.nope.Solver", WSP])
def test_e008_solver(good: Any, path: str) -> None:
    good.CEDULA_CAPTCHA_SOLVER = part(path)
    assert ids(checks.check_captcha()) == ["django_cedula.E008"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (REPLICA_SOLVER, 'expected {"BACKEND": ..., "OPTIONS": {...}}, not str'),
        ({"BACKEND": REPLICA_SOLVER, "OPTIONS": "key"}, "OPTIONS must be a dict, not str"),
        ({"BACKEND": REPLICA_SOLVER, "options": {}}, "unknown keys ['options']"),
        ({"OPTIONS": {}}, "BACKEND must be a dotted path"),
    ],
)
def test_e008_solver_not_backend_and_options(good: Any, value: object, words: str) -> None:
    good.CEDULA_CAPTCHA_SOLVER = value
    (message,) = checks.check_captcha()
    assert message.id == "django_cedula.E008"
    assert message.msg.startswith("CEDULA_CAPTCHA_SOLVER: ")
    assert words in message.msg
    assert message.hint


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CEDULA_AUTO_VALIDATE", "yes"),
        ("CEDULA_LOOKUP_TIMEOUT", "120"),
        ("CEDULA_LOOKUP_TIMEOUT", 10**400),
        ("CEDULA_MIN_LOOKUP_INTERVAL", -1),
        ("CEDULA_RAW_RESPONSE_MAX_LENGTH", 1.5),
        ("CEDULA_STORE_RAW_RESPONSE", 1),
        ("CEDULA_RATE_LIMIT", "12 per minute"),
        ("CEDULA_RATE_LIMIT", 12),
        ("CEDULA_RATE_LIMIT", "1/0s"),
        ("CEDULA_RATE_LIMIT", "1/5ms"),
        ("CEDULA_RATE_LIMIT", "0/m"),
        ("CEDULA_BLOCK_COOLDOWN", -1),
        ("CEDULA_REFRESH_COOLDOWN", "1h"),
        ("CEDULA_REVALIDATE_ON_CHANGE", None),
        ("CEDULA_CACHE_ALIAS", ""),
        ("CEDULA_CACHE_ALIAS", ["default"]),
    ],
)
def test_e009_wrong_types_and_values(good: Any, name: str, value: object) -> None:
    setattr(good, name, value)
    messages = checks.check_values()
    assert ids(messages) == ["django_cedula.E009"]
    assert messages[0].msg.startswith(f"{name}: must be ")


@pytest.mark.parametrize("rate", ["12/m", "1/5s", "100/h", "2/10 s", "12/minute", None])
def test_e009_accepts_rates(good: Any, rate: object) -> None:
    good.CEDULA_RATE_LIMIT = rate
    assert checks.check_values() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CEDULA_CACHE_ALIAS", ["default"]),
        ("CEDULA_RATE_LIMIT", "1/0s"),
        ("CEDULA_RATE_LIMIT", "1/5ms"),
        ("CEDULA_SWEEP", ["PENDING_AFTER"]),
        ("CEDULA_TOKEN_SUPPLY", "on"),
        ("CEDULA_SOURCES", [part(FAKE, outcomes="found")]),
        ("CEDULA_SOURCES", [part(WSP, page_timeout=10**400)]),
        ("CEDULA_TASKS", part(DJANGO_Q, timeout=10**400)),
        ("CEDULA_TASKS", part(DJANGO_TASKS, queue_name=["default"])),
        ("CEDULA_CAPTCHA_SOLVER", part(REPLICA_SOLVER, delay=10**400)),
    ],
)
@pytest.mark.parametrize("cache", ["locmem", "redis"])
def test_a_wrong_value_is_an_error_never_a_traceback(good: Any, name: str, value: object, cache: str) -> None:
    # A shared cache (not reached: no check connects) takes the checks down other paths.
    if cache == "redis":
        good.CACHES = REDIS_CACHES
        del good.CEDULA_RATE_LIMIT
    setattr(good, name, value)
    good.CEDULA_TOKEN_SUPPLY = {"ENABLED": True} if name != "CEDULA_TOKEN_SUPPLY" else value
    messages = all_messages()  # raises nothing
    assert [m for m in messages if m.is_serious()], "the wrong value is reported"


def test_e009_cache_alias_not_a_string_is_said_once(good: Any) -> None:
    good.CEDULA_CACHE_ALIAS = ["default"]
    (message,) = [m for m in all_messages() if m.is_serious()]
    assert message.id == "django_cedula.E009"
    assert message.msg == "CEDULA_CACHE_ALIAS: must be the name of a cache in CACHES, not ['default']"


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"page_timeout": 0}, "page_timeout must be more than 0 and finite"),
        ({"page_timeout": "30"}, "page_timeout must be a number of seconds"),
        ({"url": "wsp.registraduria.gov.co"}, "url must be an http:// or https:// URL"),
        ({"election": "current"}, "election must be a whole number"),
        ({"user_agent": ""}, "user_agent must be a non-empty string"),
        ({"proxy": {"host": "x"}}, "proxy: must have a 'server' key"),
        ({"browser": "headless"}, "browser must be a dict"),
        ({"browser": {"endpoint": "localhost:9222"}}, 'browser["endpoint"] must be a ws:// or http://'),
        ({"browser": {"args": "--no-sandbox"}}, 'browser["args"] must be a list of command-line flags'),
        ({"browser": {"headless": "false"}}, 'browser["headless"] must be True or False'),
        ({"browser": {"idle_timeout": -1}}, 'browser["idle_timeout"] must be seconds'),
        ({"browser": {"idle_timout": 60}}, "browser has unknown keys ['idle_timout']"),
    ],
)
def test_e005_a_source_refuses_a_wrong_value_by_name(good: Any, options: dict[str, Any], words: str) -> None:
    good.CEDULA_SOURCES = [part(WSP, **options)]
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E005"
    assert message.msg.startswith("CEDULA_SOURCES[0]: ")
    assert words in message.msg
    assert message.hint


@pytest.mark.parametrize("election", ["-1", -1, "3", 0])
def test_the_election_is_a_whole_number_as_text_or_not(good: Any, election: object) -> None:
    good.CEDULA_SOURCES = [part(WSP, election=election)]
    assert checks.check_sources() == []


def test_e010_browser_executable(good: Any, tmp_path: Any) -> None:
    good.CEDULA_SOURCES = [part(WSP, browser={"executable": str(tmp_path / "chromium")})]
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E010"
    assert message.msg.startswith('CEDULA_SOURCES[0]: browser["executable"] ')
    good.CEDULA_SOURCES = [part(WSP, browser={"executable": "/bin/sh"})]
    assert checks.check_sources() == []


def test_w001_no_timeout(good: Any) -> None:
    good.Q_CLUSTER = {"orm": "default"}
    assert ids(checks.check_task_backend()) == ["django_cedula.W001"]


def test_w001_retry_not_above_timeout(good: Any) -> None:
    good.Q_CLUSTER = {"orm": "default", "timeout": 120, "retry": 120}
    assert ids(checks.check_task_backend()) == ["django_cedula.W001"]
    good.CEDULA_TASKS = part(DJANGO_Q, timeout=100)  # the job's own timeout counts
    assert checks.check_task_backend() == []


def test_w001_no_room_for_a_rate_limited_wait(good: Any) -> None:
    good.CEDULA_LOOKUP_TIMEOUT = 20
    good.CEDULA_RATE_LIMIT = "12/m"
    good.Q_CLUSTER = {"orm": "default", "timeout": 85, "retry": 160}
    messages = checks.check_task_backend()
    assert ids(messages) == ["django_cedula.W001"]
    # 20 s lookup + 5 s for the throttle's lock + 30 s sleep for a turn + 15 s overhead + 45 s for
    # the store through a database outage
    assert "above 115" in (messages[0].hint or "")
    good.Q_CLUSTER = {"orm": "default", "timeout": 116, "retry": 160}
    assert checks.check_task_backend() == []
    good.CEDULA_RATE_LIMIT = None
    good.Q_CLUSTER = {"orm": "default", "timeout": 85, "retry": 160}
    assert checks.check_task_backend() == []


def test_w002_redis_broker(good: Any) -> None:
    good.Q_CLUSTER = {"redis": {"host": "127.0.0.1"}, "timeout": 120, "retry": 180}
    assert ids(checks.check_task_backend()) == ["django_cedula.W002"]


def test_w003_sync_without_debug(good: Any) -> None:
    good.Q_CLUSTER = {**good.Q_CLUSTER, "sync": True}
    good.DEBUG = False
    assert ids(checks.check_task_backend()) == ["django_cedula.W003"]
    good.DEBUG = True
    assert checks.check_task_backend() == []


def test_w004_backend_cannot_defer(good: Any) -> None:
    good.CEDULA_TASKS = part(INLINE)
    assert ids(checks.check_task_backend()) == ["django_cedula.W004"]
    good.CEDULA_RETRY_DELAYS = [0, 0]
    assert checks.check_task_backend() == []


def test_w005_no_solver(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER = None
    assert ids(checks.check_sources()) == ["django_cedula.W005"]
    good.CEDULA_SOURCES = [part(FAKE)]  # needs no captcha
    assert checks.check_sources() == []


# Django's own model checks ask every database what JSONField needs.
@pytest.mark.django_db(databases="__all__")
def test_manage_py_check_fails_with_the_id(good: Any) -> None:
    good.CEDULA_RETRY_DELAYS = "60,300"
    with pytest.raises(SystemCheckError, match=r"django_cedula\.E006"):
        call_command("check")


def test_e011_cache_alias_must_name_a_cache(good: Any) -> None:
    good.CEDULA_CACHE_ALIAS = "throttle"
    messages = checks.check_throttle()
    assert ids(messages) == ["django_cedula.E011"]
    assert "'throttle' is not a cache in CACHES ('default')" in messages[0].msg
    assert messages[0].hint


def test_w006_rate_limit_on_a_process_local_cache(good: Any) -> None:
    good.CEDULA_RATE_LIMIT = "12/m"
    good.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert ids(checks.check_throttle()) == ["django_cedula.W006"]
    good.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://x"}
    }
    assert checks.check_throttle() == []
    good.CEDULA_RATE_LIMIT = None
    good.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    assert checks.check_throttle() == []


def test_w007_rate_limit_with_a_backend_that_cannot_defer(good: Any) -> None:
    good.CEDULA_RATE_LIMIT = "12/m"
    good.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"}}
    good.CEDULA_TASKS = part(INLINE)
    assert ids(checks.check_throttle()) == ["django_cedula.W007"]


# Each part validates its own options in its constructor, and the checks build it as a worker
# does: an unknown or missing option is named, a wrong value is named, and no option's value is
# ever quoted.


def test_e005_an_unknown_scraper_option(good: Any) -> None:
    good.CEDULA_SOURCES = [part(WSP, bogus=1)]
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E005"
    assert message.msg == (
        "CEDULA_SOURCES[0]: django_cedula.scrapers.wsp.WspScraper refused its OPTIONS: "
        "WspScraper got unknown options: 'bogus'"
    )
    assert message.hint == (
        "Check the OPTIONS in CEDULA_SOURCES[0] against the documentation of WspScraper (given: 'bogus')."
    )


def test_e005_names_the_option_a_scraper_does_not_take(good: Any) -> None:
    good.CEDULA_SOURCES = [part(FAKE, outcome={}, state_dir="/tmp/x")]
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E005"
    assert "FakeScraper got unknown options: 'outcome'" in message.msg
    assert "(given: 'outcome', 'state_dir')" in (message.hint or "")
    good.CEDULA_SOURCES = [part(FAKE, outcomes={}, state_dir="/tmp/x")]
    assert checks.check_sources() == []


def test_e005_an_http_option_on_a_browser_source(good: Any) -> None:
    good.CEDULA_SOURCES = [part(WSP, impersonate="chrome")]
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E005"
    assert "WspScraper got unknown options: 'impersonate'" in message.msg


def test_e005_a_part_that_fails_on_an_unexpected_value_is_named_by_the_exceptions_type(good: Any) -> None:
    good.CEDULA_SOURCES = [part(FAKE, outcomes="SECRET-OUTCOME")]
    (message,) = checks.check_sources()
    assert message.id == "django_cedula.E005"
    assert message.msg == (
        "CEDULA_SOURCES[0]: django_cedula.testing.scrapers.FakeScraper could not be built "
        "from its OPTIONS (AttributeError)"
    )
    assert "(given: 'outcomes')" in (message.hint or "")
    assert "SECRET" not in text([message])


def test_a_proxy_password_never_appears_in_a_check_message(good: Any) -> None:
    good.CEDULA_SOURCES = [
        part(WSP, proxy="http://proxyman:hunter2@proxy:3128", bogus=1),
        part(
            WSP, proxy={"server": "http://p:1", "username": "proxyman", "password": "hunter2"}, page_timeout=0
        ),
        part(WSP, proxy="http://proxyman:hunt/er2@proxy:3128"),
        part(WSP, proxy={"server": "http://p:1", "user": "proxyman", "password": "hunter2"}),
    ]
    messages = checks.check_sources()
    assert ids(messages) == ["django_cedula.E005"] * 4
    for fragment in ("hunter2", "hunt", "er2", "proxyman"):
        assert fragment not in text(messages)


def test_e012_an_unknown_replica_solver_option(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER = part(REPLICA_SOLVER, tokn="x")
    (message,) = checks.check_captcha()
    assert message.id == "django_cedula.E012"
    assert "ReplicaCaptchaSolver got unknown options: 'tokn'" in message.msg
    assert "documentation of ReplicaCaptchaSolver (given: 'tokn')" in (message.hint or "")
    good.CEDULA_CAPTCHA_SOLVER = part(REPLICA_SOLVER, token="x", delay=0)
    assert checks.check_captcha() == []


def test_e012_twocaptcha_without_its_api_key(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER = part(TWOCAPTCHA)
    (message,) = checks.check_captcha()
    assert message.id == "django_cedula.E012"
    assert "missing 1 required keyword-only argument: 'api_key'" in message.msg
    assert "(given: none)" in (message.hint or "")
    good.CEDULA_CAPTCHA_SOLVER = part(TWOCAPTCHA, api_key="k")
    assert checks.check_captcha() == []


@pytest.mark.parametrize("price", [-3, "3", float("inf"), True])
def test_e012_a_wrong_price(good: Any, price: object) -> None:
    good.CEDULA_CAPTCHA_SOLVER = part(TWOCAPTCHA, api_key="SECRET-KEY-1234", price_per_1000=price)
    (message,) = checks.check_captcha()
    assert message.id == "django_cedula.E012"
    assert "price_per_1000 must be a number of 0 or more" in message.msg
    assert "SECRET" not in text([message])


def test_e012_never_quotes_an_option_value(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER = part(TWOCAPTCHA, api_key="SECRET-KEY-1234", servr="SECRET-KEY-1234")
    (message,) = checks.check_captcha()
    assert "'servr'" in message.msg
    assert "SECRET" not in text([message])


@pytest.mark.parametrize(
    ("backend", "options", "named"),
    [
        (INLINE, {"wait_for_delay": True}, "'wait_for_delay'"),
        (DJANGO_TASKS, {"queue": "x"}, "'queue'"),
        (CELERY, {"queue_name": "x"}, "'queue_name'"),
        (DJANGO_Q, {"retries": 3}, "'retries'"),
    ],
)
def test_e002_an_unknown_backend_option(good: Any, backend: str, options: dict[str, Any], named: str) -> None:
    good.CEDULA_TASKS = part(backend, **options)
    (message,) = checks.check_task_backend()
    assert message.id == "django_cedula.E002"
    assert "refused its OPTIONS" in message.msg
    assert named in message.msg
    assert f"(given: {named})" in (message.hint or "")


def test_w001_a_job_timeout_below_the_lookup_without_a_rate_limit(good: Any) -> None:
    good.CEDULA_LOOKUP_TIMEOUT = 120
    good.CEDULA_MIN_LOOKUP_INTERVAL = 5
    good.CEDULA_RATE_LIMIT = None
    good.Q_CLUSTER = {"orm": "default", "timeout": 30, "retry": 180}
    (message,) = checks.check_task_backend()
    assert message.id == "django_cedula.W001"
    assert "job timeout (30 s) is not above the longest a job may run (185 s" in message.msg
    assert "45 s storing the outcome through a database outage" in message.msg
    assert "above 185" in (message.hint or "")
    good.Q_CLUSTER = {"orm": "default", "timeout": 185, "retry": 240}  # not above: still too short
    assert ids(checks.check_task_backend()) == ["django_cedula.W001"]
    good.Q_CLUSTER = {"orm": "default", "timeout": 205, "retry": 265}
    assert checks.check_task_backend() == []


def test_w001_counts_the_backend_timeout_option(good: Any) -> None:
    good.CEDULA_LOOKUP_TIMEOUT = 120
    good.CEDULA_TASKS = part(DJANGO_Q, timeout=100)  # overrides the cluster's 200
    good.Q_CLUSTER = {"orm": "default", "timeout": 200, "retry": 260}
    assert ids(checks.check_task_backend()) == ["django_cedula.W001"]


def test_w008_sweep_shorter_than_a_django_q_job_timeout(good: Any) -> None:
    good.Q_CLUSTER = {"orm": "default", "timeout": 300, "retry": 360}
    good.CEDULA_SWEEP = {"PROCESSING_AFTER": 240}
    (message,) = checks.check_sweep()
    assert message.id == "django_cedula.W008"
    assert 'CEDULA_SWEEP["PROCESSING_AFTER"] (240 s) is shorter than the longest a job may run (300 s' in (
        message.msg
    )
    assert "at least 300" in (message.hint or "")
    good.CEDULA_SWEEP = {"PROCESSING_AFTER": 300}
    assert checks.check_sweep() == []


def test_w008_sweep_shorter_than_a_lookup_on_a_queue_without_a_time_limit(good: Any) -> None:
    good.CEDULA_TASKS = part(CELERY)
    good.CEDULA_LOOKUP_TIMEOUT = 120
    good.CEDULA_MIN_LOOKUP_INTERVAL = 0
    good.CEDULA_RATE_LIMIT = "12/m"
    good.CEDULA_SWEEP = {"PROCESSING_AFTER": 130}
    (message,) = checks.check_sweep()
    assert message.id == "django_cedula.W008"
    # 120 s lookup + 7 s for a turn (the throttle's lock and its 2 s sleep) + 15 s overhead + 45 s
    # for the store through a database outage
    assert "longest a job may run (187 s" in message.msg
    good.CEDULA_SWEEP = {"PROCESSING_AFTER": 900}
    assert checks.check_sweep() == []


def test_w008_reads_the_default_when_the_key_is_left_out(good: Any) -> None:
    good.Q_CLUSTER = {"orm": "default", "timeout": 1000, "retry": 1100}
    good.CEDULA_SWEEP = {"SCHEDULE": True}  # PROCESSING_AFTER: 900, the default
    assert ids(checks.check_sweep()) == ["django_cedula.W008"]


def test_w007_reads_supports_defer_from_the_django_tasks_backend_instance(good: Any) -> None:
    # DjangoTasksBackend.supports_defer is a property: the class attribute is always truthy.
    good.CEDULA_RATE_LIMIT = "12/m"
    good.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"}}
    good.CEDULA_TASKS = part(DJANGO_TASKS, backend="immediate")  # runs at once: cannot defer
    assert ids(checks.check_throttle()) == ["django_cedula.W007"]
    good.CEDULA_TASKS = part(DJANGO_TASKS, backend="default")  # django-tasks-db: defers
    assert checks.check_throttle() == []


def test_w004_reads_supports_defer_from_the_django_tasks_backend_instance(good: Any) -> None:
    good.CEDULA_TASKS = part(DJANGO_TASKS, backend="immediate")
    assert ids(checks.check_task_backend()) == ["django_cedula.W004"]
    good.CEDULA_TASKS = part(DJANGO_TASKS, backend="default")
    assert checks.check_task_backend() == []


@pytest.mark.django_db(databases="__all__")
def test_manage_py_check_fails_on_an_unknown_scraper_option(good: Any) -> None:
    good.CEDULA_SOURCES = [part(WSP, bogus=1)]
    with pytest.raises(SystemCheckError, match=r"django_cedula\.E005"):
        call_command("check")


# --------------------------------------------------------------------------- removed settings (E015)


@pytest.mark.parametrize("name", sorted(REMOVED_SETTINGS))
def test_e015_a_removed_setting_names_its_replacement(good: Any, name: str) -> None:
    setattr(good, f"CEDULA_{name}", "anything")
    (message,) = checks.check_removed_settings()
    assert message.id == "django_cedula.E015"
    assert message.msg == f"CEDULA_{name}: is no longer read; use {REMOVED_SETTINGS[name]}"
    assert message.hint


#: Each removed setting with words of what replaces it.
REPLACEMENTS = [
    ("SCRAPER", "CEDULA_SOURCES"),
    ("SCRAPER_OPTIONS", '"OPTIONS" of each entry of CEDULA_SOURCES'),
    ("TASK_BACKEND", "CEDULA_TASKS"),
    ("TASK_BACKEND_OPTIONS", 'CEDULA_TASKS["OPTIONS"]'),
    ("SOURCE_URL", '"url" option'),
    ("ELECTION", '"election" option'),
    ("PAGE_TIMEOUT", '"page_timeout" option'),
    ("BROWSER_PROXY", '"proxy" option'),
    ("BROWSER_USER_AGENT", '"user_agent" option'),
    ("BROWSER_EXECUTABLE", '{"executable": ...}'),
    ("BROWSER_HEADLESS", '{"headless": ...}'),
    ("BROWSER_ARGS", '{"args": [...]}'),
    ("BROWSER_ENDPOINT", '{"endpoint": ...}'),
    ("BROWSER_IDLE_TIMEOUT", '{"idle_timeout": ...}'),
    ("CAPTCHA_SOLVER_OPTIONS", 'CEDULA_CAPTCHA_SOLVER["OPTIONS"]'),
    ("CAPTCHA_PRICE_PER_1000", '"price_per_1000" option of CEDULA_CAPTCHA_SOLVER'),
    ("CAPTCHA_POOL", 'CEDULA_TOKEN_SUPPLY["ENABLED"]'),
    ("CAPTCHA_TOKEN_MAX_AGE", 'CEDULA_TOKEN_SUPPLY["MAX_AGE"]'),
    ("CAPTCHA_POOL_MIN_TOKENS", 'CEDULA_TOKEN_SUPPLY["MIN_TOKENS"]'),
    ("SWEEP_PENDING_AFTER", 'CEDULA_SWEEP["PENDING_AFTER"]'),
    ("SWEEP_PROCESSING_AFTER", 'CEDULA_SWEEP["PROCESSING_AFTER"]'),
    ("SWEEP_SCHEDULE", 'CEDULA_SWEEP["SCHEDULE"]'),
]


@pytest.mark.parametrize(("name", "replacement"), REPLACEMENTS)
def test_e015_each_kind_of_removed_setting(good: Any, name: str, replacement: str) -> None:
    setattr(good, f"CEDULA_{name}", None)  # even None: set is set
    (message,) = checks.check_removed_settings()
    assert message.id == "django_cedula.E015"
    assert message.msg.startswith(f"CEDULA_{name}: is no longer read; use ")
    assert replacement in message.msg


def test_e015_every_removed_setting_is_covered() -> None:
    assert {name for name, _ in REPLACEMENTS} == set(REMOVED_SETTINGS)


def test_e015_never_quotes_the_old_value(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": "SECRET-KEY-1234"}
    good.CEDULA_BROWSER_PROXY = "http://proxyman:hunter2@proxy:3128"
    messages = checks.check_removed_settings()
    assert ids(messages) == ["django_cedula.E015"] * 2
    assert "SECRET" not in text(messages)
    assert "hunter2" not in text(messages)


def test_e015_each_removed_setting_is_reported(good: Any) -> None:
    good.CEDULA_SCRAPER = WSP
    good.CEDULA_TASK_BACKEND = DJANGO_Q
    good.CEDULA_CAPTCHA_POOL = False
    assert [m.msg.split(":")[0] for m in checks.check_removed_settings()] == [
        "CEDULA_TASK_BACKEND",
        "CEDULA_SCRAPER",
        "CEDULA_CAPTCHA_POOL",
    ]
    # The rest of the configuration is read as if they were not there.
    assert [m for m in all_messages() if m.id != "django_cedula.E015"] == []


@pytest.mark.django_db(databases="__all__")
def test_manage_py_check_fails_on_a_removed_setting(good: Any) -> None:
    good.CEDULA_SCRAPER = WSP
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert "(django_cedula.E015) CEDULA_SCRAPER: is no longer read; use CEDULA_SOURCES = " in str(
        raised.value
    )


# ------------------------------------------------------------- CEDULA_SWEEP and CEDULA_TOKEN_SUPPLY (E009)


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("CEDULA_SWEEP", {"PENDING_AFTER": 0}, '["PENDING_AFTER"] must be a positive, finite number'),
        ("CEDULA_SWEEP", {"PROCESSING_AFTER": float("inf")}, '["PROCESSING_AFTER"] must be a positive'),
        ("CEDULA_SWEEP", {"SCHEDULE": "yes"}, '["SCHEDULE"] must be True or False'),
        ("CEDULA_SWEEP", {"SCHEDULED": True}, "has unknown keys ['SCHEDULED']"),
        ("CEDULA_SWEEP", {"pending_after": 60}, "has unknown keys ['pending_after']"),
        ("CEDULA_SWEEP", 600, "must be a dict, not 600"),
        ("CEDULA_TOKEN_SUPPLY", {"MAX_AGE": 200}, '["MAX_AGE"] must be a positive number of seconds'),
        ("CEDULA_TOKEN_SUPPLY", {"MAX_AGE": 0}, '["MAX_AGE"] must be'),
        ("CEDULA_TOKEN_SUPPLY", {"MIN_TOKENS": -1}, '["MIN_TOKENS"] must be a whole number of tokens from 0'),
        ("CEDULA_TOKEN_SUPPLY", {"MIN_TOKENS": 1.5}, '["MIN_TOKENS"] must be'),
        ("CEDULA_TOKEN_SUPPLY", {"ENABLED": "yes"}, '["ENABLED"] must be True or False'),
        ("CEDULA_TOKEN_SUPPLY", {"ENABLED": False, "MIN_STOCK": 2}, "has unknown keys ['MIN_STOCK']"),
        ("CEDULA_TOKEN_SUPPLY", False, "must be a dict, not False"),
    ],
)  # fmt: skip
def test_e009_the_keys_of_a_group(good: Any, name: str, value: Any, words: str) -> None:
    setattr(good, name, value)
    (message,) = checks.check_values()
    assert message.id == "django_cedula.E009"
    assert message.msg.startswith(f"{name}: ")
    assert words in message.msg
    assert "Default: " in (message.hint or "") or "It takes " in (message.hint or "")


def test_e009_an_unknown_key_hint_lists_the_keys(good: Any) -> None:
    good.CEDULA_TOKEN_SUPPLY = {"MAX_AGES": 90}
    (message,) = checks.check_values()
    assert (message.hint or "").startswith("It takes ENABLED, MAX_AGE, MIN_TOKENS; default: ")


def test_e009_a_group_value_is_never_quoted_whole(good: Any) -> None:
    good.CEDULA_SWEEP = ["SECRET"]
    good.CEDULA_TOKEN_SUPPLY = {"SECRET-KEY": "SECRET-VALUE"}
    messages = checks.check_values()
    assert ids(messages) == ["django_cedula.E009"] * 2
    assert "SECRET-VALUE" not in text(messages)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CEDULA_SWEEP", {}),
        ("CEDULA_SWEEP", {"PENDING_AFTER": 60}),
        ("CEDULA_SWEEP", {"PENDING_AFTER": 60.5, "PROCESSING_AFTER": 1800, "SCHEDULE": True}),
        ("CEDULA_TOKEN_SUPPLY", {"MAX_AGE": 120, "MIN_TOKENS": 32, "ENABLED": False}),
        ("CEDULA_TOKEN_SUPPLY", {"MIN_TOKENS": 0}),
    ],
)
def test_e009_a_group_with_some_keys_passes(good: Any, name: str, value: Any) -> None:
    setattr(good, name, value)
    assert checks.check_values() == []


# --------------------------------------------------------------------------- the token supply (W009)

REDIS_CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/3",
    }
}


def test_w009_a_solver_without_a_shared_cache_means_no_token_supply(good: Any) -> None:
    good.CEDULA_TOKEN_SUPPLY = {"ENABLED": True}
    good.CEDULA_CAPTCHA_SOLVER = part(REPLICA_SOLVER)
    (message,) = [m for m in all_messages() if m.id == "django_cedula.W009"]
    assert "every lookup waits for a captcha solve of its own" in message.msg
    assert 'CEDULA_TOKEN_SUPPLY = {"ENABLED": False}' in (message.hint or "")


def test_w009_the_supply_is_on_by_default(good: Any) -> None:
    del good.CEDULA_TOKEN_SUPPLY
    assert "django_cedula.W009" in ids(all_messages())
    good.CEDULA_TOKEN_SUPPLY = {"MAX_AGE": 90}  # a key left out takes its default
    assert "django_cedula.W009" in ids(all_messages())


def test_w009_is_silent_with_a_shared_cache_or_the_supply_off(good: Any) -> None:
    good.CEDULA_TOKEN_SUPPLY = {"ENABLED": True}
    good.CEDULA_CAPTCHA_SOLVER = part(REPLICA_SOLVER)
    good.CACHES = REDIS_CACHES
    assert "django_cedula.W009" not in ids(all_messages())
    good.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    good.CEDULA_TOKEN_SUPPLY = {"ENABLED": False}
    assert "django_cedula.W009" not in ids(all_messages())


def test_the_default_rate_limit_follows_the_cache(good: Any) -> None:
    """Unset, CEDULA_RATE_LIMIT is one lookup per 5 s with a shared cache and none with a local one;
    W006 (a limit on a process-local cache) is about a limit a host set, not this default."""
    from django_cedula.conf import app_settings

    del good.CEDULA_RATE_LIMIT
    assert app_settings.RATE_LIMIT is None
    assert "django_cedula.W006" not in ids(all_messages())
    good.CACHES = REDIS_CACHES
    assert app_settings.RATE_LIMIT == "1/5s"
    good.CEDULA_RATE_LIMIT = None
    assert app_settings.RATE_LIMIT is None


# E013: TwoCaptchaSolver with an API key that is None or empty fails manage.py check.


@pytest.fixture
def twocaptcha(good: Any) -> Any:
    """The good configuration with 2Captcha's solver and a key."""
    good.CEDULA_CAPTCHA_SOLVER = part(TWOCAPTCHA, api_key="k3y-that-must-never-show")
    return good


def test_a_key_passes(twocaptcha: Any) -> None:
    assert checks.check_captcha() == []
    assert checks.check_sources() == []


@pytest.mark.parametrize(
    ("key", "words"), [(None, "is not set"), ("", "is empty"), ("  ", "is empty"), (42, "string")]
)
def test_e013_no_key(twocaptcha: Any, key: object, words: str) -> None:
    twocaptcha.CEDULA_CAPTCHA_SOLVER = part(TWOCAPTCHA, api_key=key)
    [message] = checks.check_captcha()  # E013 alone: the option is there, E012 has nothing to say
    assert message.id == "django_cedula.E013"
    assert message.msg.startswith("CEDULA_CAPTCHA_SOLVER: the 2Captcha API key ('api_key') ")
    assert words in message.msg
    assert "TWOCAPTCHA_API_KEY" in (message.hint or "")


def test_the_key_left_out_is_e012_alone(twocaptcha: Any) -> None:
    twocaptcha.CEDULA_CAPTCHA_SOLVER = part(TWOCAPTCHA)
    assert [m.id for m in checks.check_captcha()] == ["django_cedula.E012"]


def test_the_same_class_by_another_path(twocaptcha: Any) -> None:
    twocaptcha.CEDULA_CAPTCHA_SOLVER = part("django_cedula.captcha.twocaptcha.TwoCaptchaSolver", api_key=None)
    assert [m.id for m in checks.check_captcha()] == ["django_cedula.E013"]


@pytest.mark.parametrize(
    "solver", [None, part(REPLICA_SOLVER, api_key=None), part("nope.Nope", api_key=None), 42]
)
def test_other_solvers_are_not_its_business(twocaptcha: Any, solver: object) -> None:
    twocaptcha.CEDULA_CAPTCHA_SOLVER = solver
    assert "django_cedula.E013" not in ids(checks.check_captcha())


def test_options_not_a_dict_are_e008s(twocaptcha: Any) -> None:
    twocaptcha.CEDULA_CAPTCHA_SOLVER = {"BACKEND": TWOCAPTCHA, "OPTIONS": "k3y"}
    assert ids(checks.check_captcha()) == ["django_cedula.E008"]
    assert "k3y" not in text(checks.check_captcha())


@pytest.mark.django_db(databases="__all__")  # the model checks ask each database about JSON fields
def test_manage_py_check_fails_with_the_id_and_a_hint(twocaptcha: Any) -> None:
    twocaptcha.CEDULA_CAPTCHA_SOLVER = part(TWOCAPTCHA, api_key="")
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert "django_cedula.E013" in str(raised.value)
    assert "HINT: Set the TWOCAPTCHA_API_KEY environment variable" in str(raised.value)


def test_a_present_key_never_appears_in_any_message(twocaptcha: Any) -> None:
    # Any other problem reported with the key set must not echo it either.
    for options in ({"tokn": 1}, {"timeout": "slow"}, {"price_per_1000": -1}, {"polling_interval": 10**400}):
        twocaptcha.CEDULA_CAPTCHA_SOLVER = part(TWOCAPTCHA, api_key="k3y-that-must-never-show", **options)
        messages = [*checks.check_sources(), *checks.check_captcha()]
        assert "k3y-that-must-never-show" not in text(messages)
