"""The onboarding screen's forms: the upload, and the preview's confirmation."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from patients.form_fields import TypedDateField
from patients.forms import clinic_choice_limit
from patients.models import CsvDateOrder
from submissions.forms import SubmissionKeyMixin


class OnboardingUploadForm(forms.Form):
    """Only keeps the file for its preview: nothing is recorded until it is confirmed."""

    clinic = forms.ModelChoiceField(queryset=None)
    file = forms.FileField(label="CSV file", help_text="One row per patient, with their courses.")
    # No range here: the service refuses a date in the future with its reason, and any past
    # date is a tracking start a clinic may choose.
    tracking_from = TypedDateField(
        kind=None,
        label="Track from",
        required=False,
        help_text="Checks that fell overdue before this day are history, not work. Leave empty "
        "for the clinic's go-live date, or today if it has none.",
    )
    date_order = forms.ChoiceField(
        label="Dates in this file",
        choices=[("", "As the clinic's setting says"), *CsvDateOrder.choices],
        required=False,
        help_text="YYYY-MM-DD is always read; a date such as 03/02/2024 that could be "
        "either day or month is refused.",
    )

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        clinic_choice_limit(self.fields["clinic"], clinics)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.RESULT_IMPORT_MAX_BYTES
        if upload.size > limit:
            raise ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes. "
                "Split it into smaller files."
            )
        return upload


class OnboardingConfirmForm(SubmissionKeyMixin, forms.Form):
    """The preview's "Record" button: nothing to fill in but the one-time key."""
