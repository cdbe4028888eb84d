"""Run the demo: a real Django-Q2 cluster validates a few registrations while you watch.

    .venv/bin/python example_project/demo.py

It migrates a local SQLite database, starts ``manage.py qcluster``, registers one user
per demo cédula, prints each row's status as it changes until all are final, and stops
every process it started (also on Ctrl-C).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402

from django_cedula.models import CedulaInfo  # noqa: E402

DEMO_CEDULAS = {
    "1000000001": "found: a voting place",
    "1000000002": "not in the census",
    "1000000003": "cancelled (deceased)",
    "1000000004": "times out once, found on retry",
}


def main() -> int:
    call_command("migrate", verbosity=0)
    User = get_user_model()
    User.objects.filter(username__startswith="demo-").delete()
    cluster = subprocess.Popen(
        [sys.executable, str(ROOT / "example_project" / "manage.py"), "qcluster"],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for number in DEMO_CEDULAS:
            User.objects.create(username=f"demo-{number}", cedula=number)
        print(f"{'cédula':<12} {'expected':<32} status")
        last: dict[str, str] = {}
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for info in CedulaInfo.objects.filter(user__username__startswith="demo-").order_by("cedula"):
                line = f"{info.get_status_display()}"
                if info.status == CedulaInfo.Status.ACTIVE:
                    line += f" - {info.municipio}, {info.puesto}, mesa {info.mesa}"
                if last.get(info.cedula) != line:
                    last[info.cedula] = line
                    print(f"{info.cedula:<12} {DEMO_CEDULAS[info.cedula]:<32} {line}", flush=True)
            if not CedulaInfo.objects.exclude(status__in=CedulaInfo.FINAL_STATUSES).exists():
                print("All validations are final.")
                return 0
            time.sleep(1)
        print("Gave up waiting after 120 s.")
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        stop(cluster)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process we started and everything it started, gracefully first."""
    if process.poll() is None:
        # The cluster's own handler stops its workers; signalling the group would orphan them mid-stop.
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


if __name__ == "__main__":
    sys.exit(main())
