"""Staff forms for acting on alerts: acknowledging a result or a symptom report, a follow-up note
on a check, and waiving a check. They only check the input; monitoring.alerts.services (and
symptom_reports) decide what is allowed, such as the reason a red result's "no action" needs."""

from __future__ import annotations

from django import forms

from monitoring.domain import acknowledging
from monitoring.models import Acknowledgement
from patients.form_fields import free_text
from patients.validators import NOTE_MAX_LENGTH
from submissions.forms import OpenedVersionMixin, SubmissionKeyMixin

NOTE_REQUIRED = "Write a note: what you did and what happens next."
Action = Acknowledgement.Action

# On a red or critical result "no action" is allowed, with a reason (a known chronic low the
# haematologist follows, say): removing it would only push nurses to "Other".
REVIEWED_SAY_WHY = "Reviewed: no action needed (say why)"
URGENT_NOTE_HELP = (
    f"Kept with your name and the time; it cannot be edited later. With “{REVIEWED_SAY_WHY}” "
    f"or “Other”, say why in at least {acknowledging.REASON_MIN_WORDS} words."
)


def _choices(actions) -> list[tuple[str, str]]:
    # No action is preselected: a nurse must say what was done, not accept a default.
    return [("", "Choose what was done"), *actions]


class AcknowledgeForm(SubmissionKeyMixin, forms.Form):
    """`AcknowledgeForm(data=None, *, tier=None, **form_kwargs)`. The choices fit the tier: an
    amber result offers every action; a red or critical one asks why if no action is needed.
    Without a tier (a check's follow-up) every action, as for amber. Render several on one
    page with `auto_id="ack-<pk>-%s"` so the field ids differ while the names (action, note,
    submission_key) stay what the acknowledge views read."""

    action = forms.ChoiceField(
        label="What was done",
        choices=_choices(Action.choices),
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

    def __init__(self, *args, tier: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if acknowledging.is_urgent_tier(tier):
            self.fields["action"].choices = _choices(
                (value, REVIEWED_SAY_WHY if value == Action.REVIEWED else label)
                for value, label in Action.choices
            )
            self.fields["note"].help_text = URGENT_NOTE_HELP


class SymptomAcknowledgeForm(AcknowledgeForm):
    """`SymptomAcknowledgeForm(data=None, **form_kwargs)`: what was done about a reported
    symptom. There is no "no action needed" for it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Action.choices)
        self.fields["action"].choices = _choices(
            (value, labels[value]) for value in acknowledging.SYMPTOM_ACTIONS
        )
        self.fields["note"].help_text = (
            "Kept with your name and the time; it cannot be edited later. The urgent tests "
            "stay open until their results come in."
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
