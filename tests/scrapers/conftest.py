from __future__ import annotations

from typing import Any

import pytest

from django_cedula.testing.replica import Replica


def replica_solver(**options: Any) -> dict[str, Any]:
    """``CEDULA_CAPTCHA_SOLVER`` for the replica's solver with ``options``."""
    return {"BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver", "OPTIONS": options}


@pytest.fixture(params=["wsp", "censo"])
def source(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def replica_settings(cedula_replica: Replica, settings: Any, source: str) -> Replica:
    """Point the package's scraper and captcha solver at the replica, for ``source``."""
    for name, value in cedula_replica.django_settings(source).items():
        setattr(settings, name, value)
    cedula_replica.slow_seconds = 6  # past the page_timeout (4 s for the suite's replica sources)
    return cedula_replica
