"""Form fields that apply the input rules (monitoring.domain.input_rules) where Django's own
fields are looser: dates in the clinic's order only when unambiguous and within a sane range,
numbers in the digits 0-9 only, and free text without control characters or formulas."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone, translation

from monitoring.domain.input_rules import (
    birth_date_problem,
    clinical_date_problem,
    non_ascii_digits,
    typed_date,
)

from .models import date_order_of_locale
from .validators import MULTI_LINE_TEXT, SINGLE_LINE_TEXT


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class TypedDateField(forms.DateField):
    """ISO (2024-02-03) always; the clinic's own order (its date format, the active language)
    only when the day is over 12 or equals the month. `kind`: "birth" (1900 to today),
    "clinical" (1990 to a year ahead: courses, samples, filters) or None (no range)."""

    widget = DateInput

    def __init__(self, *, kind: str | None = "clinical", **kwargs):
        self.kind = kind
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if hasattr(value, "year"):
            return value
        day, problem = typed_date(str(value), date_order_of_locale(translation.get_language()))
        if problem:
            raise ValidationError(problem, code="invalid")
        return day

    def validate(self, value) -> None:
        super().validate(value)
        if value is None or self.kind is None:
            return
        today = timezone.localdate()  # the clinic's zone: accounts' middleware activates it
        check = birth_date_problem if self.kind == "birth" else clinical_date_problem
        if problem := check(value, today=today):
            raise ValidationError(problem, code="out_of_range")


class _AsciiDigits:
    def to_python(self, value):
        if isinstance(value, str) and non_ascii_digits(value):
            raise ValidationError("Write the number with the digits 0-9.", code="digits")
        return super().to_python(value)


class AsciiIntegerField(_AsciiDigits, forms.IntegerField):
    """Python's int() reads "٤٥" as 45; a clinic's record should show what was meant."""


class AsciiDecimalField(_AsciiDigits, forms.DecimalField):
    pass


def free_text(field: forms.CharField, *, multi_line: bool = False) -> forms.CharField:
    """`field` with the free-text rules: no control characters, no spreadsheet formula."""
    field.validators.extend(MULTI_LINE_TEXT if multi_line else SINGLE_LINE_TEXT)
    return field


def model_form_field(db_field, **kwargs):
    """A ModelForm's formfield_callback: the rule-keeping field for each kind of column."""
    if isinstance(db_field, models.DateField) and not isinstance(db_field, models.DateTimeField):
        kind = "birth" if db_field.name == "date_of_birth" else "clinical"
        return db_field.formfield(form_class=TypedDateField, kind=kind, **kwargs)
    if isinstance(db_field, models.DecimalField):
        return db_field.formfield(form_class=AsciiDecimalField, **kwargs)
    if isinstance(db_field, models.IntegerField):
        return db_field.formfield(form_class=AsciiIntegerField, **kwargs)
    return db_field.formfield(**kwargs)
