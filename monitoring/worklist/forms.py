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


class IdListField(forms.Field):
    """Ticked checkboxes sharing one name: a list of ids. Anything that is not a whole number
    is refused (an edited page), never a 500."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int]:
        try:
            return sorted({int(item) for item in value or []})
        except (TypeError, ValueError):
            raise forms.ValidationError("The choice of checks was not understood.") from None


class BulkActionForm(SubmissionKeyMixin, forms.Form):
    """The worklist's bar for the checks ticked on the page: one waiver reason, or one
    follow-up note, for all of them."""

    WAIVE = "waive"
    NOTE = "note"

    what = forms.ChoiceField(
        label="Do this with the ticked checks",
        choices=[(NOTE, "Add a follow-up note"), (WAIVE, "Waive them")],
        widget=forms.RadioSelect,
        initial=NOTE,
        error_messages={"required": "Choose what to do with the ticked checks."},
    )
    action = forms.ChoiceField(
        label="What was done",
        required=False,
        choices=[("", "Choose what was done"), *Acknowledgement.Action.choices],
    )
    text = free_text(
        forms.CharField(
            label="Note or reason (one for all the ticked checks)",
            max_length=NOTE_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 2}),
            error_messages={"required": "Write the note, or the reason for waiving."},
        ),
        multi_line=True,
    )
    check = IdListField(required=False)
    overdue_of = IdListField(required=False)

    def clean(self):
        cleaned = super().clean()
        if (
            not cleaned.get("check")
            and not cleaned.get("overdue_of")
            and "check" not in self.errors
        ):
            self.add_error(None, "Tick at least one check first.")
        if cleaned.get("what") == self.NOTE and not cleaned.get("action"):
            self.add_error("action", "Choose what was done.")
        return cleaned
