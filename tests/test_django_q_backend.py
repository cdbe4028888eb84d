"""The Django-Q2 backend against Django-Q2's real ORM broker and schedule table."""

from __future__ import annotations

import ast
import datetime
import logging
from typing import Any

import pytest
from django.utils import timezone
from django_q.models import OrmQ, Schedule
from django_q.signing import SignedPackage

from django_cedula.backends import TASK_PATH, ValidationJob, get_backend
from django_cedula.backends.django_q import DjangoQBackend
from django_cedula.exceptions import ConfigurationError

pytestmark = pytest.mark.django_db


@pytest.fixture
def backend(settings: Any) -> DjangoQBackend:
    settings.CEDULA_TASKS = {
        "BACKEND": "django_cedula.backends.django_q.DjangoQBackend",
        "OPTIONS": {"timeout": 45},
    }
    loaded = get_backend()
    assert isinstance(loaded, DjangoQBackend)
    return loaded


def test_a_job_for_now_goes_to_the_broker_with_ack_failure(backend: DjangoQBackend) -> None:
    backend.enqueue(ValidationJob(user_id=5, attempt=1))
    (queued,) = OrmQ.objects.all()
    task = SignedPackage.loads(queued.payload)
    assert task["func"] == TASK_PATH
    assert task["args"] == (5, 1)
    assert task["ack_failure"] is True  # the package retries by itself; Django-Q2 must not
    assert task["timeout"] == 45
    assert task["group"] == "django_cedula"
    assert task["name"] == "django_cedula:5:1"


def test_a_delayed_job_is_a_one_off_schedule_named_per_user_and_attempt(backend: DjangoQBackend) -> None:
    before = timezone.now()
    backend.enqueue(ValidationJob(user_id=5, attempt=3, delay=300))
    (scheduled,) = Schedule.objects.all()
    assert scheduled.name == "django_cedula:5:3"
    assert scheduled.func == TASK_PATH
    assert scheduled.schedule_type == Schedule.ONCE
    assert scheduled.repeats == -1
    assert ast.literal_eval(scheduled.args) == (5, 3)
    assert ast.literal_eval(scheduled.kwargs)["q_options"]["ack_failure"] is True
    assert before + datetime.timedelta(seconds=300) <= scheduled.next_run
    assert scheduled.next_run <= timezone.now() + datetime.timedelta(seconds=300)
    assert OrmQ.objects.count() == 0


def test_a_delayed_job_of_a_named_cluster_is_scheduled_for_that_cluster(
    backend: DjangoQBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Django-Q2's scheduler runs a schedule without a cluster only in a cluster without a name of
    its own: under ``Q_CLUSTER["cluster_name"]`` a retry scheduled without one would never run."""
    from django_q.conf import Conf

    backend.enqueue(ValidationJob(user_id=5, attempt=2, delay=60))
    assert Schedule.objects.get().cluster is None  # the tests' cluster has no name of its own
    Schedule.objects.all().delete()
    monkeypatch.setattr(Conf, "CLUSTER_NAME", "site-workers")
    backend.enqueue(ValidationJob(user_id=5, attempt=2, delay=60))
    assert Schedule.objects.get().cluster == "site-workers"


def test_the_same_attempt_cannot_be_scheduled_twice(
    backend: DjangoQBackend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="django_cedula")
    backend.enqueue(ValidationJob(user_id=5, attempt=2, delay=60))
    backend.enqueue(ValidationJob(user_id=5, attempt=2, delay=60))
    assert Schedule.objects.count() == 1
    assert "already scheduled" in caplog.text


def test_scheduling_an_attempt_again_sooner_brings_it_forward(backend: DjangoQBackend) -> None:
    """A row deferred until its source's trial (15 min) and queued at once when the source came back
    is lined up by the throttle for a minute from now: it must not wait for the old time."""
    backend.enqueue(ValidationJob(user_id=5, attempt=2, delay=900))
    backend.enqueue(ValidationJob(user_id=5, attempt=2, delay=60))
    (scheduled,) = Schedule.objects.all()
    assert scheduled.next_run <= timezone.now() + datetime.timedelta(seconds=60)
    backend.enqueue(ValidationJob(user_id=5, attempt=2, delay=600))  # a later time never pushes it back
    assert Schedule.objects.get().next_run <= timezone.now() + datetime.timedelta(seconds=60)


def test_uuid_keys_travel_as_text(backend: DjangoQBackend) -> None:
    import uuid

    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    backend.enqueue(ValidationJob(user_id=key, attempt=2, delay=60))  # type: ignore[arg-type]
    assert ast.literal_eval(Schedule.objects.get().args) == (str(key), 2)


def test_unknown_options_are_refused() -> None:
    with pytest.raises(TypeError, match="retries"):
        DjangoQBackend(retries=3)


def test_an_unknown_option_in_the_setting_is_refused_by_name_and_setting(settings: Any) -> None:
    settings.CEDULA_TASKS = {
        "BACKEND": "django_cedula.backends.django_q.DjangoQBackend",
        "OPTIONS": {"retries": 3},
    }
    with pytest.raises(ConfigurationError, match=r"^CEDULA_TASKS: .*DjangoQBackend.*'retries'") as refused:
        get_backend()
    assert "retries" in (refused.value.hint or "")


def test_the_backend_is_cached_and_rebuilt_when_the_setting_changes(settings: Any) -> None:
    settings.CEDULA_TASKS = {"BACKEND": "django_cedula.backends.django_q.DjangoQBackend"}
    first = get_backend()
    assert get_backend() is first
    settings.CEDULA_TASKS = {
        "BACKEND": "django_cedula.backends.django_q.DjangoQBackend",
        "OPTIONS": {"group": "other"},
    }
    second = get_backend()
    assert second is not first
    assert second.options == {"group": "other"}


@pytest.mark.django_db(transaction=True)
def test_many_jobs_are_queued_in_one_transaction(
    backend: DjangoQBackend, django_assert_max_num_queries: Any
) -> None:
    jobs = [ValidationJob(user_id=user_id, attempt=1) for user_id in range(1, 51)]
    # Outside a transaction the ORM broker would reconnect per job; inside one it only inserts.
    with django_assert_max_num_queries(len(jobs) + 4):
        backend.enqueue_many([*jobs, ValidationJob(user_id=99, attempt=2, delay=60)])
    tasks = [SignedPackage.loads(row.payload) for row in OrmQ.objects.order_by("id")]
    assert [task["args"] for task in tasks] == [(user_id, 1) for user_id in range(1, 51)]
    assert all(task["ack_failure"] is True for task in tasks)
    assert Schedule.objects.get().name == "django_cedula:99:2"


@pytest.mark.parametrize("value", [0, -1, 61, float("nan"), float("inf"), "5", True])
def test_enqueue_timeout_is_refused_by_name_unless_a_sane_number_of_seconds(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="enqueue_timeout must be a number of seconds"):
        DjangoQBackend(enqueue_timeout=value)


def test_enqueue_timeout_is_the_backend_s_not_a_django_q_option() -> None:
    backend = DjangoQBackend(enqueue_timeout=2)
    assert backend.enqueue_timeout == 2.0
    assert backend.options == {"enqueue_timeout": 2}
    assert "enqueue_timeout" not in backend.q_options  # never sent to Django-Q2 with the job
    assert DjangoQBackend().enqueue_timeout == 5.0


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"timeout": -5}, "timeout"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": "120"}, "timeout"),
        ({"timeout": True}, "timeout"),
        ({"cluster": ""}, "cluster"),
        ({"group": 7}, "group"),
    ],
)
def test_the_backend_refuses_a_wrong_option_when_it_is_built(options: dict[str, object], option: str) -> None:
    """The part validates its own options: a worker that builds it fails as ``manage.py check`` does."""
    from django_cedula.backends.django_q import DjangoQBackend
    from django_cedula.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match=rf"^{option} must be"):
        DjangoQBackend(**options)  # type: ignore[arg-type]
