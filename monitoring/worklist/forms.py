"""Staff forms for acting on alerts: acknowledging a result, a follow-up note on a check, and
waiving a check. They only check the input; monitoring.alerts.services decides what is allowed."""

from __future__ import annotations

from django import forms

from monitoring.models import Acknowledgement
from patients.form_fields import free_text
from patients.validators import NOTE_MAX_LENGTH
from submissions.forms import OpenedVersionMixin, SubmissionKeyMixin

NOTE_REQUIRED = "Write a note: what you did and what happens next."


class AcknowledgeForm(SubmissionKeyMixin, forms.Form):
    # No action is preselected: a nurse must say what was done, not accept a default.
    action = forms.ChoiceField(
        label="What was done",
        choices=[("", "Choose what was done"), *Acknowledgement.Action.choices],
        error_messages={"required": "Choose what was done."},
    )
    note = free_text(
        forms.CharField(
            label="Note",
            max_length=NOTE_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 3}),
            help_text="Kept with your name and the time; it cannot be edited later.",
            error_messages={"required": NOTE_REQUIRED},
        ),
        multi_line=True,
    )


class FollowUpForm(OpenedVersionMixin, AcknowledgeForm):
    """The same fields for a check: the note does not close the check, a result or a waiver
    does."""


class WaiveForm(SubmissionKeyMixin, OpenedVersionMixin, forms.Form):
    reason = free_text(
        forms.CharField(
            label="Why is this check waived?",
            max_length=NOTE_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 3}),
            help_text="For example: done at another hospital, patient in hospital.",
            error_messages={"required": "Say why the check is waived."},
        ),
        multi_line=True,
    )
