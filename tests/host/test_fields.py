"""CedulaField and CedulaFormField: digits whatever the formatting, unique numbers, migrations."""

from __future__ import annotations

from io import StringIO

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, models, transaction
from django.utils import translation

from django_cedula.fields import WRITTEN_MAX_LENGTH, CedulaField, CedulaFormField
from django_cedula.numbers import MAX_LENGTH, validate_cedula_number
from tests.testapp.models import Registrant

WRITTEN = ["1000000001", "1 000 000 001", "1.000.000.001", "1000-000-001", " 1.000.000-001 ", 1000000001]


@pytest.mark.parametrize("typed", WRITTEN)
def test_assignment_normalises_a_cedula(typed: object) -> None:
    assert Registrant(cedula=typed).cedula == "1000000001"
    registrant = Registrant()
    registrant.cedula = typed
    assert registrant.cedula == "1000000001"


@pytest.mark.parametrize(("typed", "kept"), [(" 12a45 ", "12a45"), ("0123456", "0123456"), ("12", "12")])
def test_a_value_that_is_no_cedula_is_kept_as_typed_for_the_validator(typed: str, kept: str) -> None:
    registrant = Registrant(cedula=typed)
    assert registrant.cedula == kept
    with pytest.raises(ValidationError) as caught:
        registrant.full_clean()
    assert "Enter a valid cédula number" in str(caught.value.message_dict["cedula"])


@pytest.mark.django_db
def test_saved_and_looked_up_as_digits() -> None:
    registrant = Registrant.objects.create(cedula="1.000.000-001")
    assert Registrant.objects.values_list("cedula", flat=True).get(pk=registrant.pk) == "1000000001"
    assert Registrant.objects.filter(cedula="1 000 000 001").get() == registrant
    # Written straight into the instance's dict, past the attribute: pre_save still normalises.
    registrant.__dict__["cedula"] = "1.000.000.002"
    registrant.save()
    assert Registrant.objects.get(pk=registrant.pk).cedula == "1000000002"


@pytest.mark.django_db
@pytest.mark.parametrize("second", ["1000000001", "1 000 000 001", "1.000.000-001"])
def test_unique_refuses_the_same_number_written_another_way(second: str) -> None:
    Registrant.objects.create(cedula="1000000001")
    with pytest.raises(IntegrityError), transaction.atomic():
        Registrant.objects.create(cedula=second)
    with pytest.raises(ValidationError) as caught:
        Registrant(cedula=second).full_clean()
    assert "already exists" in str(caught.value.message_dict["cedula"])
    assert Registrant.objects.count() == 1


@pytest.mark.django_db
def test_empty_values_are_null_so_unique_allows_many_without_a_cedula() -> None:
    Registrant.objects.create(cedula="")
    Registrant.objects.create(cedula=None)
    Registrant.objects.create()
    assert list(Registrant.objects.values_list("cedula", flat=True)) == [None, None, None]


@pytest.mark.django_db
def test_a_model_form_refuses_a_duplicate_and_cleans_to_digits() -> None:
    class RegistrantForm(forms.ModelForm):  # type: ignore[type-arg]
        class Meta:
            model = Registrant
            fields = ["cedula"]

    form = RegistrantForm(data={"cedula": "1.000.000.001"})
    assert isinstance(form.fields["cedula"], CedulaFormField)
    assert form.is_valid(), form.errors
    assert form.save().cedula == "1000000001"
    duplicate = RegistrantForm(data={"cedula": "1 000 000 001"})
    assert not duplicate.is_valid()
    assert "already exists" in duplicate.errors["cedula"][0]
    empty = RegistrantForm(data={"cedula": ""})
    assert empty.is_valid(), empty.errors
    assert empty.cleaned_data["cedula"] is None


def test_the_form_field_cleans_to_digits_and_reports_the_validator_error() -> None:
    field = CedulaFormField()
    assert field.clean("1.020.304-050") == "1020304050"
    assert field.clean(" 1 020 304 050 ") == "1020304050"
    with pytest.raises(ValidationError) as caught:
        field.clean("0123456")
    assert caught.value.messages == ["Enter a valid cédula number: a cédula number does not start with 0."]
    with pytest.raises(ValidationError) as required:
        field.clean("")
    assert required.value.code == "required"
    with translation.override("es"):
        with pytest.raises(ValidationError) as spanish:
            field.clean("12")
        assert spanish.value.messages[0].startswith("Ingrese un número de cédula válido")


def test_the_form_field_lets_people_type_the_written_form() -> None:
    field = CedulaField().formfield()
    assert isinstance(field, CedulaFormField)
    attrs = field.widget.attrs
    assert attrs["maxlength"] == str(WRITTEN_MAX_LENGTH)
    assert attrs["inputmode"] == "numeric"
    assert field.clean("1 . 020 . 304 . 050") == "1020304050"  # longer than 10 as typed


def test_deconstruct_round_trips() -> None:
    field = CedulaField(unique=True, null=True, blank=True)
    field.set_attributes_from_name("cedula")
    _name, path, args, kwargs = field.deconstruct()
    assert path == "django_cedula.fields.CedulaField"
    assert kwargs == {"unique": True, "null": True, "blank": True}
    rebuilt = CedulaField(*args, **kwargs)
    assert rebuilt.max_length == MAX_LENGTH
    assert validate_cedula_number in rebuilt.validators
    assert isinstance(rebuilt, models.CharField)
    longer = CedulaField(max_length=12, verbose_name="número")
    assert longer.deconstruct()[3] == {"max_length": 12, "verbose_name": "número"}


@pytest.mark.django_db
def test_the_test_apps_migrations_match_the_models() -> None:
    out = StringIO()
    call_command("makemigrations", "testapp", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()
