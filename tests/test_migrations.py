from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_shipped_migrations_match_the_models() -> None:
    out = StringIO()
    call_command("makemigrations", "django_cedula", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_the_migration_depends_on_the_swappable_user_model() -> None:
    """A host's own user model must work: the migration may not name tests' or auth's user model."""
    from pathlib import Path

    import django_cedula.migrations

    source = (Path(django_cedula.migrations.__file__).parent / "0001_initial.py").read_text()
    assert "migrations.swappable_dependency(settings.AUTH_USER_MODEL)" in source
    assert "settings.AUTH_USER_MODEL" in source.split("'user'", 1)[1].split("\n", 1)[0]
    assert "testapp" not in source
