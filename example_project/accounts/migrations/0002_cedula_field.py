# The cédula becomes a django_cedula CedulaField, unique: bare digits, one account per number.
# Existing rows are made to fit first: numbers normalised, empty values NULL (unique allows many),
# and of several accounts with the same number only the oldest keeps it.

import django_cedula.fields
from django.db import migrations, models

from django_cedula.exceptions import InvalidCedulaError
from django_cedula.numbers import MAX_LENGTH, normalize_cedula


def normalise_and_deduplicate(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    seen = set()
    for user in User.objects.using(schema_editor.connection.alias).order_by("pk").only("pk", "cedula"):
        value = (user.cedula or "").strip()
        try:
            value = normalize_cedula(value) if value else ""
        except InvalidCedulaError:
            pass  # kept as it is, for the validator to point out, unless it cannot fit the column
        if not value or value in seen or len(value) > MAX_LENGTH:
            value = None
        else:
            seen.add(value)
        if value != user.cedula:
            User.objects.using(schema_editor.connection.alias).filter(pk=user.pk).update(cedula=value)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
    ]

    operations = [
        migrations.AlterField(
            model_name='user',
            name='cedula',
            field=models.CharField(blank=True, max_length=20, null=True, verbose_name='cédula'),
        ),
        migrations.RunPython(normalise_and_deduplicate, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='user',
            name='cedula',
            field=django_cedula.fields.CedulaField(blank=True, error_messages={'unique': 'An account with this cédula is already registered.'}, null=True, unique=True, verbose_name='cédula'),
        ),
    ]
