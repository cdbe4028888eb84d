"""``CEDULA_SWEEP_PROCESSING_AFTER`` against the longest a job may run: W008."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage

from ..backends.base import describe_job_run
from .backend import load_backend
from .messages import raw, warning
from .values import positive


def check_sweep(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """W008: the sweeper must not take a job that still runs for one whose worker died."""
    after = raw("SWEEP_PROCESSING_AFTER")
    backend, _ = load_backend()
    if backend is None or not positive(after):
        return []  # E001, E002 or E009 says why
    limit = backend.job_time_limit()
    if limit is not None:
        # The queue kills a job at its limit: no job of this backend runs longer.
        longest: float | None = limit
        why = f"{type(backend).__name__}'s job timeout"
    else:
        longest = backend.longest_job_run()
        why = describe_job_run(backend.job_run_parts())
    if longest is None or after >= longest:
        return []
    return [
        warning(
            8,
            f"CEDULA_SWEEP_PROCESSING_AFTER ({after:g} s) is shorter than the longest a job may run "
            f"({longest:g} s: {why}): cedula_sweep would queue again a lookup that is still running, "
            "and pay for it twice.",
            f"Set CEDULA_SWEEP_PROCESSING_AFTER to at least {longest:g}, e.g. {max(900.0, 2 * longest):g} "
            "(the default is 900).",
        )
    ]
