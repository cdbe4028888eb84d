"""The first hour of a new user, as docs/installation.rst tells it, on a site ``startproject`` made.

Nothing here is written for the test: the accounts model, the settings blocks and the commands are
read from docs/installation.rst (the code block after the comments ``.. accounts-models``,
``.. replica-settings``, ``.. replica-commands`` and ``.. production-settings``). The one
substitution is the replica's port: the documented ``8765`` becomes the free port the replica
started with (``--port 0``), which its banner prints in the ``"url"`` option of its
``CEDULA_SOURCES`` entry. The site keeps startproject's SQLite database in ``tmp_path``.

The replica, ``manage.py qcluster`` and every other command run as real processes, with
``PYTHONPATH`` set to this checkout so that they import this tree's package.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from django_cedula.conf import REMOVED_SETTINGS
from django_cedula.testing.replica import OUTCOMES, OutcomeKind
from example_project.demo import ROOT, Service, still_running

from ..log_privacy import GUARD

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

INSTALLATION = ROOT / "docs" / "installation.rst"
#: The port the documentation starts the replica on; the test's replica runs on a free one instead.
DOCUMENTED_PORT = "8765"
#: A found number of the replica's own table (its first).
FOUND = next(number for number, outcome in OUTCOMES.items() if outcome.kind is OutcomeKind.FOUND)
#: How long the whole validation may take once the user is saved (seconds on the replica).
FINAL_TIMEOUT = 60.0
#: A stand-in key for the production block's check; it must never be printed.
FAKE_KEY = "fake-2captcha-key-for-the-check-only"
DJANGO_Q = "django_cedula.backends.django_q.DjangoQBackend"
WSP = "django_cedula.scrapers.wsp.WspScraper"


# -- the documentation --------------------------------------------------------------------------


def documented_block(marker: str, language: str) -> str:
    """The literal ``.. code-block:: <language>`` that follows the comment ``.. <marker>``."""
    lines = INSTALLATION.read_text(encoding="utf-8").splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == f".. {marker}"]
    assert len(starts) == 1, f"docs/installation.rst has {len(starts)} '.. {marker}' comments, not one"
    directive = next(
        i for i in range(starts[0] + 1, len(lines)) if lines[i].strip().startswith(".. code-block::")
    )
    assert lines[directive].strip() == f".. code-block:: {language}", lines[directive]
    indent = len(lines[directive]) - len(lines[directive].lstrip())
    body: list[str] = []
    for line in lines[directive + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        body.append(line)
    return textwrap.dedent("\n".join(body)).strip("\n") + "\n"


def block_settings(block: str) -> dict[str, object]:
    """The ``CEDULA_*`` settings a documented block sets, run as Python after startproject's
    settings (stood in for by the few names the block extends)."""
    namespace: dict[str, object] = {"INSTALLED_APPS": [], "DATABASES": {"default": {}}}
    exec(compile(block, "docs/installation.rst", "exec"), namespace)
    return {name: value for name, value in namespace.items() if name.startswith("CEDULA_")}


def assert_current_settings_only(block: str) -> None:
    """No setting of an earlier version, anywhere in the block, comments included."""
    for name in REMOVED_SETTINGS:
        assert not re.search(rf"\bCEDULA_{name}\b", block), f"the block names CEDULA_{name}"


def documented_commands(marker: str) -> list[list[str]]:
    """The ``python manage.py ...`` commands of a documented shell block, comments left out."""
    commands = []
    for line in documented_block(marker, "sh").splitlines():
        command = line.split("#", 1)[0].split()
        if command:
            assert command[:2] == ["python", "manage.py"], line
            commands.append(command[2:])
    return commands


# -- the site -----------------------------------------------------------------------------------


def environment(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.pop("TWOCAPTCHA_API_KEY", None)
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run(
    argv: list[str], cwd: Path, env: Mapping[str, str], *, ok: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120
    )
    if ok:
        assert result.returncode == 0, f"{argv[1:]} failed:\n{result.stdout}{result.stderr}"
    return result


def manage(
    site: Path, *args: str, env: Mapping[str, str], ok: bool = True
) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "manage.py", *args], site, env, ok=ok)


def new_site(directory: Path, settings_block: str, env: Mapping[str, str]) -> Path:
    """``startproject mysite``, ``startapp accounts`` with the documented model, then the block."""
    run([sys.executable, "-m", "django", "startproject", "mysite"], directory, env)
    site = directory / "mysite"
    manage(site, "startapp", "accounts", env=env)
    (site / "accounts" / "models.py").write_text(
        documented_block("accounts-models", "python"), encoding="utf-8"
    )
    settings = site / "mysite" / "settings.py"
    settings.write_text(settings.read_text(encoding="utf-8") + "\n" + settings_block, encoding="utf-8")
    return site


@contextlib.contextmanager
def service(
    name: str, argv: list[str], env: Mapping[str, str], log_dir: Path, *, scan: bool = True
) -> Iterator[Service]:
    """``argv`` running as ``name``; stopped at the end, and its log scanned for full cédulas
    (``scan=False`` for the replica, whose banner lists its table of test numbers on purpose)."""
    started = Service.start(name, argv, env, log_dir)
    try:
        yield started
    finally:
        if started.process.returncode is None:  # not stopped (and reaped) by the test already
            started.stop()
        if scan:
            GUARD.scan(started.log_path.read_text(errors="replace"), f"{GUARD.where} [{name} log]")


def wait_for_line(running: Service, pattern: str, timeout: float = 30.0) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, running.log_path.read_text(errors="replace"), flags=re.MULTILINE)
        if match:
            return match
        assert running.running, f"the {running.name} exited:\n{running.log_tail()}"
        time.sleep(0.1)
    raise AssertionError(
        f"no {pattern!r} from the {running.name} within {timeout:.0f} s:\n{running.log_tail()}"
    )


def cedula_row(database: Path) -> tuple[str, str, str] | None:
    """``(status, municipio, mesa)`` of the site's one CedulaInfo row, read without Django."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
        row = db.execute("SELECT status, municipio, mesa FROM django_cedula_cedulainfo").fetchone()
    return None if row is None else (str(row[0]), str(row[1]), str(row[2]))


# -- the tests ----------------------------------------------------------------------------------


@pytest.mark.browser  # the worker's scraper drives Chromium
def test_a_new_site_on_the_replica_validates_its_first_user(tmp_path: Path) -> None:
    started_at = time.monotonic()
    env = environment()
    replica_argv = [sys.executable, "-m", "django_cedula.testing.replica", "--port", "0"]
    with service("replica", replica_argv, env, tmp_path, scan=False) as replica:
        url = wait_for_line(
            replica, r'^ +"OPTIONS": \{"url": "(http://127\.0\.0\.1:\d+/censo/consultar/)"\}\},$'
        )[1]
        port = url.split(":")[2].split("/")[0]
        block = documented_block("replica-settings", "python")
        assert f"--port {DOCUMENTED_PORT}" in block
        assert_current_settings_only(block)
        documented = block_settings(block)
        assert documented["CEDULA_SOURCES"] == [
            {"BACKEND": WSP, "OPTIONS": {"url": f"http://127.0.0.1:{DOCUMENTED_PORT}/censo/consultar/"}}
        ]
        assert documented["CEDULA_CAPTCHA_SOLVER"] == {
            "BACKEND": "django_cedula.testing.captcha.ReplicaCaptchaSolver"
        }
        assert documented["CEDULA_TASKS"] == {"BACKEND": DJANGO_Q}
        site = new_site(tmp_path, block.replace(f"127.0.0.1:{DOCUMENTED_PORT}", f"127.0.0.1:{port}"), env)

        commands = documented_commands("replica-commands")
        assert commands[0] == ["makemigrations", "accounts"]
        assert ["migrate"] in commands
        assert ["check"] in commands
        for command in commands:
            result = manage(site, *command, env=env)
            if command == ["check"]:
                assert result.stdout.strip() == "System check identified no issues (0 silenced).", (
                    result.stdout + result.stderr
                )
                assert result.stderr == ""

        qcluster = [sys.executable, str(site / "manage.py"), "qcluster"]
        with service("worker", qcluster, env, tmp_path) as worker:
            wait_for_line(worker, r"Q Cluster \S+ \[mysite\] running\.")
            # As the documentation's step 6: the user, then their authorization (no lookup before).
            create = (
                "from accounts.models import User; "
                "from django_cedula.services import record_consent; "
                f"user = User.objects.create_user('ana', password='a-long-password-1', cedula='{FOUND}'); "
                "assert user.cedula_info.status == 'awaiting_consent', user.cedula_info.status; "
                "record_consent(user)"
            )
            manage(site, "shell", "-c", create, env=env)
            database = site / "db.sqlite3"
            deadline = time.monotonic() + FINAL_TIMEOUT
            row = cedula_row(database)
            while (row is None or row[0] != "active") and time.monotonic() < deadline:
                assert worker.running, worker.log_tail()
                time.sleep(0.25)
                row = cedula_row(database)
            place = OUTCOMES[FOUND].place
            assert place is not None
            assert row == ("active", place.municipio, place.mesa), worker.log_tail(40)
            # The documented LOGGING shows the package's lines in the worker's output, by user id.
            wait_for_line(worker, r"django_cedula\.job INFO Cédula validation for user 1 finished as active$")
            worker.remember_descendants()
            assert worker.stop() == 0, worker.log_tail()
        log = worker.log_path.read_text(errors="replace")
        assert re.search(r"Q Cluster \S+ has stopped\.", log), log[-2000:]
        assert still_running(worker.seen) == [], "the cluster left processes behind"
        assert FOUND not in log
    assert time.monotonic() - started_at < 240


def test_the_production_block_needs_the_2captcha_key_and_never_prints_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = environment()
    block = documented_block("production-settings", "python")
    assert block.splitlines()[1] == "import os"
    assert 'os.environ.get("TWOCAPTCHA_API_KEY")' in block
    assert_current_settings_only(block)
    monkeypatch.setenv("TWOCAPTCHA_API_KEY", FAKE_KEY)
    documented = block_settings(block)
    assert documented["CEDULA_SOURCES"] == [{"BACKEND": WSP}], "the real site: no url option"
    assert documented["CEDULA_CAPTCHA_SOLVER"] == {
        "BACKEND": "django_cedula.captcha.twocaptcha.TwoCaptchaSolver",
        "OPTIONS": {"api_key": FAKE_KEY},  # read from the environment
    }
    assert documented["CEDULA_TASKS"] == {"BACKEND": DJANGO_Q}
    assert documented["CEDULA_SWEEP"] == {"SCHEDULE": True}
    site = new_site(tmp_path, block, env)

    unset = manage(site, "check", env=env, ok=False)
    assert unset.returncode == 1
    assert "(django_cedula.E013) CEDULA_CAPTCHA_SOLVER:" in unset.stderr
    assert "HINT: Set the TWOCAPTCHA_API_KEY environment variable" in unset.stderr
    assert "KeyError" not in unset.stderr

    with_key = environment(TWOCAPTCHA_API_KEY=FAKE_KEY)
    manage(site, "makemigrations", "accounts", env=with_key)
    result = manage(site, "check", env=with_key)
    assert result.stdout.strip() == "System check identified no issues (0 silenced).", (
        result.stdout + result.stderr
    )
    for output in (unset.stdout, unset.stderr, result.stdout, result.stderr):
        assert FAKE_KEY not in output


def test_check_names_a_setting_of_an_earlier_version_and_a_misspelt_option(tmp_path: Path) -> None:
    """A site upgraded by hand: the documented replica block, plus what an earlier version's guide
    said (``CEDULA_SOURCE_URL``), then the url option misspelt: ``manage.py check`` names the
    replacement (E015) and the option the source refused (E005), never a value."""
    env = environment()
    block = documented_block("replica-settings", "python")
    old_url = "http://127.0.0.1:9/an-old-secret-path/"
    site = new_site(tmp_path, block + f'CEDULA_SOURCE_URL = "{old_url}"\n', env)

    old = manage(site, "check", env=env, ok=False)
    assert old.returncode == 1
    assert (
        '(django_cedula.E015) CEDULA_SOURCE_URL: is no longer read; use the "url" option of an entry '
        "of CEDULA_SOURCES"
    ) in old.stderr
    assert old_url not in old.stdout + old.stderr

    settings = site / "mysite" / "settings.py"
    text = settings.read_text(encoding="utf-8").replace(f'CEDULA_SOURCE_URL = "{old_url}"\n', "")
    settings.write_text(text.replace('"OPTIONS": {"url": ', '"OPTIONS": {"urll": '), encoding="utf-8")
    misspelt = manage(site, "check", env=env, ok=False)
    assert misspelt.returncode == 1
    assert "(django_cedula.E005) CEDULA_SOURCES[0]:" in misspelt.stderr
    assert "WspScraper got unknown options: 'urll'" in misspelt.stderr
    assert "E015" not in misspelt.stderr
    assert "/censo/consultar/" not in misspelt.stdout + misspelt.stderr
