"""Every system check, both ways: a broken setting fails with its id and a hint; a good one passes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.checks import CheckMessage
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_cedula import checks


def ids(messages: list[CheckMessage]) -> list[str]:
    return [message.id or "" for message in messages]


def all_messages() -> list[CheckMessage]:
    return [
        *checks.check_task_backend(),
        *checks.check_scraper(),
        *checks.check_retry_delays(),
        *checks.check_user_field(),
        *checks.check_values(),
        *checks.check_throttle(),
        *checks.check_sweep(),
    ]


@pytest.fixture
def good(settings: Any) -> Any:
    """A complete, valid configuration: Django-Q2 on its ORM broker and the replica's solver."""
    settings.CEDULA_TASK_BACKEND = "django_cedula.backends.django_q.DjangoQBackend"
    settings.CEDULA_SCRAPER = "django_cedula.scrapers.wsp.WspScraper"
    settings.CEDULA_CAPTCHA_SOLVER = "django_cedula.testing.captcha.ReplicaCaptchaSolver"
    settings.Q_CLUSTER = {"name": "t", "orm": "default", "timeout": 120, "retry": 180}
    settings.CEDULA_CAPTCHA_POOL = False  # the supply wants a shared cache (W009's tests turn it on)
    return settings


def test_a_good_configuration_passes(good: Any) -> None:
    assert all_messages() == []


def test_every_message_has_a_hint(good: Any) -> None:
    good.CEDULA_TASK_BACKEND = "nope.Nope"
    good.CEDULA_RETRY_DELAYS = "60"
    good.CEDULA_PAGE_TIMEOUT = -1
    messages = all_messages()
    assert messages
    assert all(message.hint for message in messages)


@pytest.mark.parametrize(
    "path", ["django_cedula.backends.nope.Backend", "django_cedula.models.CedulaInfo", 42]
)
def test_e001_backend_path(good: Any, path: object) -> None:
    good.CEDULA_TASK_BACKEND = path
    assert ids(checks.check_task_backend()) == ["django_cedula.E001"]


@pytest.mark.parametrize("options", [[], {"retries": 3}, {"timeout": -5}])
def test_e002_backend_options(good: Any, options: object) -> None:
    good.CEDULA_TASK_BACKEND_OPTIONS = options
    assert ids(checks.check_task_backend()) == ["django_cedula.E002"]


def test_e003_backend_app_missing(good: Any) -> None:
    good.INSTALLED_APPS = [app for app in good.INSTALLED_APPS if app != "django_q"]
    assert "django_cedula.E003" in ids(checks.check_task_backend())


@pytest.mark.parametrize("path", ["tests.nope.Scraper", "django_cedula.models.CedulaInfo", None])
def test_e004_scraper_path(good: Any, path: object) -> None:
    good.CEDULA_SCRAPER = path
    assert ids(checks.check_scraper()) == ["django_cedula.E004"]


def test_a_hand_written_scraper_class_is_accepted(good: Any) -> None:
    good.CEDULA_SCRAPER = "tests.misbehaving_scrapers.GarbageScraper"
    assert checks.check_scraper() == []


def test_e005_scraper_options(good: Any) -> None:
    good.CEDULA_SCRAPER_OPTIONS = ["x"]
    assert ids(checks.check_scraper()) == ["django_cedula.E005"]


@pytest.mark.parametrize("delays", ["60", [60, -1], [60, "300"], None, [True]])
def test_e006_retry_delays(good: Any, delays: object) -> None:
    good.CEDULA_RETRY_DELAYS = delays
    assert ids(checks.check_retry_delays()) == ["django_cedula.E006"]


@pytest.mark.parametrize("delays", [[], [0], [1.5, 30], (60, 300, 900)])
def test_e006_accepts_lists_of_numbers(good: Any, delays: object) -> None:
    good.CEDULA_RETRY_DELAYS = delays
    assert checks.check_retry_delays() == []


def test_e007_user_field(good: Any) -> None:
    good.CEDULA_USER_FIELD = "cedulla"
    (message,) = checks.check_user_field()
    assert message.id == "django_cedula.E007"
    assert "documento" in (message.hint or "")  # lists the model's fields
    good.CEDULA_USER_FIELD = "documento"
    assert checks.check_user_field() == []


@pytest.mark.parametrize("path", ["tests.nope.Solver", "django_cedula.scrapers.wsp.WspScraper"])
def test_e008_solver(good: Any, path: str) -> None:
    good.CEDULA_CAPTCHA_SOLVER = path
    assert ids(checks.check_scraper()) == ["django_cedula.E008"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CEDULA_AUTO_VALIDATE", "yes"),
        ("CEDULA_PAGE_TIMEOUT", 0),
        ("CEDULA_LOOKUP_TIMEOUT", "120"),
        ("CEDULA_MIN_LOOKUP_INTERVAL", -1),
        ("CEDULA_BROWSER_IDLE_TIMEOUT", None),
        ("CEDULA_RAW_RESPONSE_MAX_LENGTH", 1.5),
        ("CEDULA_STORE_RAW_RESPONSE", 1),
        ("CEDULA_SOURCE_URL", "wsp.registraduria.gov.co"),
        ("CEDULA_BROWSER_ENDPOINT", "localhost:9222"),
        ("CEDULA_BROWSER_ARGS", "--no-sandbox"),
        ("CEDULA_BROWSER_PROXY", {"host": "x"}),
        ("CEDULA_BROWSER_HEADLESS", "false"),
        ("CEDULA_ELECTION", "current"),
        ("CEDULA_CAPTCHA_SOLVER_OPTIONS", "key"),
        ("CEDULA_RATE_LIMIT", "12 per minute"),
        ("CEDULA_RATE_LIMIT", 12),
        ("CEDULA_BLOCK_COOLDOWN", -1),
        ("CEDULA_REFRESH_COOLDOWN", "1h"),
        ("CEDULA_SWEEP_PENDING_AFTER", 0),
        ("CEDULA_SWEEP_SCHEDULE", "yes"),
        ("CEDULA_REVALIDATE_ON_CHANGE", None),
    ],
)
def test_e009_wrong_types_and_values(good: Any, name: str, value: object) -> None:
    setattr(good, name, value)
    messages = [*checks.check_values(), *checks.check_scraper()]
    assert ids(messages) == ["django_cedula.E009"]
    assert name in messages[0].msg


def test_e010_browser_executable(good: Any, tmp_path: Any) -> None:
    good.CEDULA_BROWSER_EXECUTABLE = str(tmp_path / "chromium")
    assert ids(checks.check_values()) == ["django_cedula.E010"]
    good.CEDULA_BROWSER_EXECUTABLE = "/bin/sh"
    assert checks.check_values() == []


def test_w001_no_timeout(good: Any) -> None:
    good.Q_CLUSTER = {"orm": "default"}
    assert ids(checks.check_task_backend()) == ["django_cedula.W001"]


def test_w001_retry_not_above_timeout(good: Any) -> None:
    good.Q_CLUSTER = {"orm": "default", "timeout": 120, "retry": 120}
    assert ids(checks.check_task_backend()) == ["django_cedula.W001"]
    good.CEDULA_TASK_BACKEND_OPTIONS = {"timeout": 60}  # the job's own timeout counts
    assert checks.check_task_backend() == []


def test_w001_no_room_for_a_rate_limited_wait(good: Any) -> None:
    good.CEDULA_LOOKUP_TIMEOUT = 20
    good.CEDULA_RATE_LIMIT = "12/m"
    good.Q_CLUSTER = {"orm": "default", "timeout": 40, "retry": 120}
    messages = checks.check_task_backend()
    assert ids(messages) == ["django_cedula.W001"]
    # 20 s lookup + 5 s for the throttle's lock + 30 s sleep for a turn + 15 s overhead
    assert "above 70" in (messages[0].hint or "")
    good.Q_CLUSTER = {"orm": "default", "timeout": 71, "retry": 120}
    assert checks.check_task_backend() == []
    good.CEDULA_RATE_LIMIT = None
    good.Q_CLUSTER = {"orm": "default", "timeout": 40, "retry": 120}
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
    good.CEDULA_TASK_BACKEND = "django_cedula.backends.inline.InlineBackend"
    assert ids(checks.check_task_backend()) == ["django_cedula.W004"]
    good.CEDULA_RETRY_DELAYS = [0, 0]
    assert checks.check_task_backend() == []


def test_w005_no_solver(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER = None
    assert ids(checks.check_scraper()) == ["django_cedula.W005"]
    good.CEDULA_SCRAPER = "django_cedula.testing.scrapers.FakeScraper"  # needs no captcha
    assert checks.check_scraper() == []


# Django's own model checks ask every database what JSONField needs.
@pytest.mark.django_db(databases="__all__")
def test_manage_py_check_fails_with_the_id(good: Any) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

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
    good.CEDULA_TASK_BACKEND = "django_cedula.backends.inline.InlineBackend"
    assert ids(checks.check_throttle()) == ["django_cedula.W007"]


# Options checked against the class they configure (issue 11): unknown and missing names are
# errors with a hint naming what the class takes, and no option's value is ever quoted.


def test_e005_an_unknown_scraper_option(good: Any) -> None:
    good.CEDULA_SCRAPER_OPTIONS = {"bogus": 1}
    (message,) = checks.check_scraper()
    assert message.id == "django_cedula.E005"
    assert message.msg == (
        "CEDULA_SCRAPER_OPTIONS: django_cedula.scrapers.wsp.WspScraper does not take option 'bogus'"
    )
    assert message.hint == ("In CEDULA_SCRAPER_OPTIONS, remove or correct 'bogus'. WspScraper takes: url.")


def test_e005_names_the_options_a_scraper_takes(good: Any) -> None:
    good.CEDULA_SCRAPER = "django_cedula.testing.scrapers.FakeScraper"
    good.CEDULA_SCRAPER_OPTIONS = {"outcome": {}, "state_dir": "/tmp/x"}
    (message,) = checks.check_scraper()
    assert message.id == "django_cedula.E005"
    assert "'outcome'" in message.msg
    assert "FakeScraper takes: outcomes, state_dir." in (message.hint or "")
    good.CEDULA_SCRAPER_OPTIONS = {"outcomes": {}, "state_dir": "/tmp/x"}
    assert checks.check_scraper() == []


def test_e012_an_unknown_replica_solver_option(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"tokn": "x"}
    (message,) = checks.check_scraper()
    assert message.id == "django_cedula.E012"
    assert "ReplicaCaptchaSolver does not take option 'tokn'" in message.msg
    assert (
        "ReplicaCaptchaSolver takes: token, delay, latency_median, latency_p90, seed, fail, poll_interval."
        in (message.hint or "")
    )
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"token": "x", "delay": 0}
    assert checks.check_scraper() == []


def test_e012_twocaptcha_without_its_api_key(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER = "django_cedula.captcha.twocaptcha.TwoCaptchaSolver"
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {}
    (message,) = checks.check_scraper()
    assert message.id == "django_cedula.E012"
    assert "TwoCaptchaSolver needs option 'api_key'" in message.msg
    assert "add 'api_key'" in (message.hint or "")
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": "k"}
    assert checks.check_scraper() == []


def test_e012_never_quotes_an_option_value(good: Any) -> None:
    good.CEDULA_CAPTCHA_SOLVER = "django_cedula.captcha.twocaptcha.TwoCaptchaSolver"
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": "SECRET-KEY-1234", "servr": "SECRET-KEY-1234"}
    (message,) = checks.check_scraper()
    assert "'servr'" in message.msg
    assert "SECRET" not in f"{message.msg} {message.hint}"


@pytest.mark.parametrize(
    ("backend", "options", "takes"),
    [
        ("django_cedula.backends.inline.InlineBackend", {"wait_for_delay": True}, "wait_for_delays"),
        ("django_cedula.backends.django_tasks.DjangoTasksBackend", {"queue": "x"}, "queue_name"),
        ("django_cedula.backends.celery.CeleryBackend", {"queue_name": "x"}, "queue."),
        ("django_cedula.backends.django_q.DjangoQBackend", {"retries": 3}, "cluster, timeout, group"),
    ],
)
def test_e002_an_unknown_backend_option(good: Any, backend: str, options: object, takes: str) -> None:
    good.CEDULA_TASK_BACKEND = backend
    good.CEDULA_TASK_BACKEND_OPTIONS = options
    (message,) = checks.check_task_backend()
    assert message.id == "django_cedula.E002"
    assert "does not take option" in message.msg
    assert takes in (message.hint or "")


def test_e009_the_election_must_be_a_string(good: Any) -> None:
    good.CEDULA_ELECTION = -1
    (message,) = checks.check_values()
    assert message.id == "django_cedula.E009"
    assert "CEDULA_ELECTION" in message.msg
    good.CEDULA_ELECTION = "-1"
    assert checks.check_values() == []


def test_w001_a_job_timeout_below_the_lookup_without_a_rate_limit(good: Any) -> None:
    good.CEDULA_LOOKUP_TIMEOUT = 120
    good.CEDULA_MIN_LOOKUP_INTERVAL = 5
    good.CEDULA_RATE_LIMIT = None
    good.Q_CLUSTER = {"orm": "default", "timeout": 30, "retry": 180}
    (message,) = checks.check_task_backend()
    assert message.id == "django_cedula.W001"
    assert "job timeout (30 s) is not above the longest a job may run (140 s" in message.msg
    assert "above 140" in (message.hint or "")
    good.Q_CLUSTER = {"orm": "default", "timeout": 140, "retry": 180}  # not above: still too short
    assert ids(checks.check_task_backend()) == ["django_cedula.W001"]
    good.Q_CLUSTER = {"orm": "default", "timeout": 160, "retry": 220}
    assert checks.check_task_backend() == []


def test_w001_counts_the_backend_timeout_option(good: Any) -> None:
    good.CEDULA_LOOKUP_TIMEOUT = 120
    good.CEDULA_TASK_BACKEND_OPTIONS = {"timeout": 100}  # overrides the cluster's 200
    good.Q_CLUSTER = {"orm": "default", "timeout": 200, "retry": 260}
    assert ids(checks.check_task_backend()) == ["django_cedula.W001"]


def test_w008_sweep_shorter_than_a_django_q_job_timeout(good: Any) -> None:
    good.Q_CLUSTER = {"orm": "default", "timeout": 300, "retry": 360}
    good.CEDULA_SWEEP_PROCESSING_AFTER = 240
    (message,) = checks.check_sweep()
    assert message.id == "django_cedula.W008"
    assert "(240 s) is shorter than the longest a job may run (300 s" in message.msg
    assert "at least 300" in (message.hint or "")
    good.CEDULA_SWEEP_PROCESSING_AFTER = 300
    assert checks.check_sweep() == []


def test_w008_sweep_shorter_than_a_lookup_on_a_queue_without_a_time_limit(good: Any) -> None:
    good.CEDULA_TASK_BACKEND = "django_cedula.backends.celery.CeleryBackend"
    good.CEDULA_LOOKUP_TIMEOUT = 120
    good.CEDULA_MIN_LOOKUP_INTERVAL = 0
    good.CEDULA_RATE_LIMIT = "12/m"
    good.CEDULA_SWEEP_PROCESSING_AFTER = 130
    (message,) = checks.check_sweep()
    assert message.id == "django_cedula.W008"
    # 120 s lookup + 7 s for a turn (the throttle's lock and its 2 s sleep) + 15 s overhead
    assert "longest a job may run (142 s" in message.msg
    good.CEDULA_SWEEP_PROCESSING_AFTER = 900
    assert checks.check_sweep() == []


def test_w007_reads_supports_defer_from_the_django_tasks_backend_instance(good: Any) -> None:
    # DjangoTasksBackend.supports_defer is a property: the class attribute is always truthy.
    good.CEDULA_RATE_LIMIT = "12/m"
    good.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "t"}}
    good.CEDULA_TASK_BACKEND = "django_cedula.backends.django_tasks.DjangoTasksBackend"
    good.CEDULA_TASK_BACKEND_OPTIONS = {"backend": "immediate"}  # runs at once: cannot defer
    assert ids(checks.check_throttle()) == ["django_cedula.W007"]
    good.CEDULA_TASK_BACKEND_OPTIONS = {"backend": "default"}  # django-tasks-db: defers
    assert checks.check_throttle() == []


def test_w004_reads_supports_defer_from_the_django_tasks_backend_instance(good: Any) -> None:
    good.CEDULA_TASK_BACKEND = "django_cedula.backends.django_tasks.DjangoTasksBackend"
    good.CEDULA_TASK_BACKEND_OPTIONS = {"backend": "immediate"}
    assert ids(checks.check_task_backend()) == ["django_cedula.W004"]
    good.CEDULA_TASK_BACKEND_OPTIONS = {"backend": "default"}
    assert checks.check_task_backend() == []


@pytest.mark.django_db(databases="__all__")
def test_manage_py_check_fails_on_an_unknown_scraper_option(good: Any) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    good.CEDULA_SCRAPER_OPTIONS = {"bogus": 1}
    with pytest.raises(SystemCheckError, match=r"django_cedula\.E005"):
        call_command("check")


# --------------------------------------------------------------------------- the token supply (W009)

REDIS_CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/3",
    }
}


def test_w009_a_solver_without_a_shared_cache_means_no_token_supply(good: Any) -> None:
    good.CEDULA_CAPTCHA_POOL = True
    good.CEDULA_CAPTCHA_SOLVER = "django_cedula.testing.captcha.ReplicaCaptchaSolver"
    (message,) = [m for m in all_messages() if m.id == "django_cedula.W009"]
    assert "every lookup waits for a captcha solve of its own" in message.msg
    assert "CEDULA_CAPTCHA_POOL = False" in (message.hint or "")


def test_w009_is_silent_with_a_shared_cache_or_the_pool_off(good: Any) -> None:
    good.CEDULA_CAPTCHA_POOL = True
    good.CEDULA_CAPTCHA_SOLVER = "django_cedula.testing.captcha.ReplicaCaptchaSolver"
    good.CACHES = REDIS_CACHES
    assert "django_cedula.W009" not in ids(all_messages())
    good.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    good.CEDULA_CAPTCHA_POOL = False
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


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CEDULA_CAPTCHA_TOKEN_MAX_AGE", 200),
        ("CEDULA_CAPTCHA_TOKEN_MAX_AGE", 0),
        ("CEDULA_CAPTCHA_POOL_MIN_TOKENS", -1),
        ("CEDULA_CAPTCHA_POOL_MIN_TOKENS", 1.5),
        ("CEDULA_CAPTCHA_POOL", "yes"),
        ("CEDULA_CAPTCHA_PRICE_PER_1000", -3),
    ],
)
def test_e009_the_supply_settings(good: Any, name: str, value: Any) -> None:
    setattr(good, name, value)
    assert any(m.id == "django_cedula.E009" and name in m.msg for m in all_messages())


# E013: TwoCaptchaSolver with an API key that is None or empty fails manage.py check.

TWOCAPTCHA = "django_cedula.captcha.twocaptcha.TwoCaptchaSolver"


@pytest.fixture
def twocaptcha(good: Any) -> Any:
    """The good configuration with 2Captcha's solver and a key."""
    good.CEDULA_CAPTCHA_SOLVER = TWOCAPTCHA
    good.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": "k3y-that-must-never-show"}
    return good


def test_a_key_passes(twocaptcha: Any) -> None:
    assert checks.check_captcha() == []
    assert checks.check_scraper() == []


@pytest.mark.parametrize(
    ("key", "words"), [(None, "is not set"), ("", "is empty"), ("  ", "is empty"), (42, "string")]
)
def test_e013_no_key(twocaptcha: Any, key: object, words: str) -> None:
    twocaptcha.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": key}
    [message] = checks.check_captcha()
    assert message.id == "django_cedula.E013"
    assert message.msg.startswith("CEDULA_CAPTCHA_SOLVER_OPTIONS: ")
    assert words in message.msg
    assert "TWOCAPTCHA_API_KEY" in (message.hint or "")
    assert checks.check_scraper() == []  # the option is there: E012 has nothing to say


def test_the_key_left_out_is_e012_alone(twocaptcha: Any) -> None:
    twocaptcha.CEDULA_CAPTCHA_SOLVER_OPTIONS = {}
    assert checks.check_captcha() == []
    assert [m.id for m in checks.check_scraper()] == ["django_cedula.E012"]


def test_the_same_class_by_another_path(twocaptcha: Any) -> None:
    twocaptcha.CEDULA_CAPTCHA_SOLVER = "django_cedula.captcha.twocaptcha.TwoCaptchaSolver"
    twocaptcha.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": None}
    assert [m.id for m in checks.check_captcha()] == ["django_cedula.E013"]


@pytest.mark.parametrize(
    "solver", [None, "django_cedula.testing.captcha.ReplicaCaptchaSolver", "nope.Nope", 42]
)
def test_other_solvers_are_not_its_business(twocaptcha: Any, solver: object) -> None:
    twocaptcha.CEDULA_CAPTCHA_SOLVER = solver
    twocaptcha.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": None}
    assert checks.check_captcha() == []


def test_options_not_a_dict_are_e009s(twocaptcha: Any) -> None:
    twocaptcha.CEDULA_CAPTCHA_SOLVER_OPTIONS = "k3y"
    assert checks.check_captcha() == []


@pytest.mark.django_db(databases="__all__")  # the model checks ask each database about JSON fields
def test_manage_py_check_fails_with_the_id_and_a_hint(twocaptcha: Any) -> None:
    twocaptcha.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": ""}
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert "django_cedula.E013" in str(raised.value)
    assert "HINT: Set the TWOCAPTCHA_API_KEY environment variable" in str(raised.value)


def test_a_present_key_never_appears_in_any_message(twocaptcha: Any) -> None:
    # Any other problem reported with the key set must not echo it either.
    twocaptcha.CEDULA_CAPTCHA_SOLVER_OPTIONS = {"api_key": "k3y-that-must-never-show", "tokn": 1}
    text = " ".join(f"{m.msg} {m.hint}" for m in [*checks.check_scraper(), *checks.check_captcha()])
    assert "k3y-that-must-never-show" not in text
