"""The form for marking a failed alert handled; monitoring.alerts.failed_alerts decides whether
it may be."""

from __future__ import annotations

from django import forms

from monitoring.alerts.failed_alerts import NOTE_REQUIRED
from patients.form_fields import free_text
from patients.validators import NOTE_MAX_LENGTH
from submissions.forms import SubmissionKeyMixin


class FailedAlertHandleForm(SubmissionKeyMixin, forms.Form):
    note = free_text(
        forms.CharField(
            label="What did you do instead?",
            max_length=NOTE_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 3}),
            help_text="For example: phoned the patient, told the duty nurse. Kept with your "
            "name and the time.",
            error_messages={"required": NOTE_REQUIRED},
        ),
        multi_line=True,
    )
