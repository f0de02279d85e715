from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from audit.display import ACTION_LABELS
from audit.selectors import TrailFilters
from patients.form_fields import TypedDateField, free_text


class TrailFilterForm(forms.Form):
    """The lead's filters, from the query string. Every field is optional."""

    hospital_number = free_text(
        forms.CharField(label="Hospital number", max_length=32, required=False)
    )
    actor = free_text(forms.CharField(label="User name", max_length=150, required=False))
    action = forms.TypedChoiceField(
        label="What happened",
        choices=[("", "Anything"), *ACTION_LABELS.items()],
        coerce=int,
        empty_value=None,
        required=False,
    )
    # Within the sane range, so the day after date_to can always be counted.
    date_from = TypedDateField(label="From", required=False)
    date_to = TypedDateField(label="To", required=False)

    def __init__(self, *args, for_one_patient: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if for_one_patient:
            del self.fields["hospital_number"]

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("The start date is after the end date.")
        return data

    def filters(self) -> TrailFilters:
        data = self.cleaned_data
        return TrailFilters(
            hospital_number=data.get("hospital_number", "").strip(),
            actor=data["actor"].strip(),
            action=data["action"],
            date_from=data["date_from"],
            date_to=data["date_to"],
        )
