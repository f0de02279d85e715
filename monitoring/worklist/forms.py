"""Staff forms for acting on alerts: acknowledging a result, a follow-up note on a check, and
waiving a check. They only check the input; monitoring.alerts.services decides what is allowed."""

from __future__ import annotations

from django import forms

from monitoring.models import Acknowledgement
from submissions.forms import OpenedVersionMixin, SubmissionKeyMixin

NOTE_REQUIRED = "Write a note: what you did and what happens next."


class AcknowledgeForm(SubmissionKeyMixin, forms.Form):
    # No action is preselected: a nurse must say what was done, not accept a default.
    action = forms.ChoiceField(
        label="What was done",
        choices=[("", "Choose what was done"), *Acknowledgement.Action.choices],
        error_messages={"required": "Choose what was done."},
    )
    note = forms.CharField(
        label="Note",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept with your name and the time; it cannot be edited later.",
        error_messages={"required": NOTE_REQUIRED},
    )


class FollowUpForm(OpenedVersionMixin, AcknowledgeForm):
    """The same fields for a check: the note does not close the check, a result or a waiver
    does."""


class WaiveForm(SubmissionKeyMixin, OpenedVersionMixin, forms.Form):
    reason = forms.CharField(
        label="Why is this check waived?",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: done at another hospital, patient in hospital.",
        error_messages={"required": "Say why the check is waived."},
    )
