"""Staff forms for therapy episodes and doses. They check the input; the services
(patients.therapies.services and .gates) decide what is allowed and refuse on the field named
here, so a refusal shows beside the field it is about."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from monitoring.domain import gates, therapies
from monitoring.models import MonitoringProtocol
from patients.form_fields import TypedDateField, free_text
from patients.models import StopReason, Therapy
from patients.validators import NOTE_MAX_LENGTH
from submissions.forms import OpenedVersionMixin, SubmissionKeyMixin

OVERRIDE_FIELD = "gate_override_reason"
OVERRIDE_HELP = (
    "A nurse or the clinic lead only: why it goes ahead although the gate is not met. Kept on "
    "the record with your name."
)


def override_field(label: str) -> forms.CharField:
    return free_text(
        forms.CharField(
            label=label,
            required=False,
            max_length=NOTE_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 2}),
            help_text=OVERRIDE_HELP,
        ),
        multi_line=True,
    )


class ProtocolChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return f"{therapies.therapy_of(obj.therapy).name}: {obj.name}"


class TherapyStartForm(SubmissionKeyMixin, forms.Form):
    """A therapy other than alemtuzumab (its episode opens with course 1)."""

    therapy = forms.ChoiceField(
        choices=[("", "Choose the therapy")]
        + [(value, label) for value, label in Therapy.choices if value != therapies.ALEMTUZUMAB]
    )
    started_on = TypedDateField(label="Started on")
    protocol = ProtocolChoiceField(
        queryset=MonitoringProtocol.objects.exclude(therapy=therapies.ALEMTUZUMAB).order_by(
            "therapy", "-is_default", "name"
        ),
        required=False,
        empty_label="The therapy's default protocol",
        help_text="What is checked and when; leave it for the clinic's default of the therapy.",
    )
    first_dose_on = TypedDateField(
        label="First dose on",
        required=False,
        help_text="Infusions and cladribine: the first one, planned; leave empty for the start "
        "day. Not asked for a therapy taken at home.",
    )
    gate_override_reason = override_field("Started although its gate is not met because")

    def clean(self):
        cleaned = super().clean()
        therapy, protocol = cleaned.get("therapy"), cleaned.get("protocol")
        if therapy and protocol is not None and protocol.therapy != therapy:
            self.add_error(
                "protocol",
                f"This protocol is for {therapies.therapy_of(protocol.therapy).name}: choose one "
                f"of {therapies.therapy_of(therapy).name}, or leave it for the default.",
            )
        # A therapy taken at home has no dose to plan: a day typed before switching is dropped.
        if therapy and not therapies.therapy_of(therapy).doses_in_clinic:
            cleaned["first_dose_on"] = None
        return cleaned


class TherapyStopForm(SubmissionKeyMixin, OpenedVersionMixin, forms.Form):
    stopped_on = TypedDateField(label="Stopped on")
    stop_reason = forms.ChoiceField(
        label="Why it stopped", choices=[("", "Choose the reason"), *StopReason.choices]
    )
    stop_note = free_text(
        forms.CharField(
            label="Note",
            required=False,
            max_length=NOTE_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 2}),
            help_text="Required for “Other”. Kept in the episode's history.",
        ),
        multi_line=True,
    )


class DosePlanForm(SubmissionKeyMixin, forms.Form):
    planned_on = TypedDateField(label="Planned for")


class DoseCancelForm(SubmissionKeyMixin, OpenedVersionMixin, forms.Form):
    cancelled_reason = free_text(
        forms.CharField(
            label="Why is the dose cancelled?",
            max_length=255,
            error_messages={"required": "Say why the dose is cancelled."},
        )
    )


class DoseChecklistForm(SubmissionKeyMixin, OpenedVersionMixin, forms.Form):
    """Natalizumab's pre-infusion checklist: each question answered yes or no at the chair."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for question in gates.CHECKLIST:
            self.fields[question.code] = forms.ChoiceField(
                label=question.text,
                choices=[(gates.YES, "Yes"), (gates.NO, "No")],
                widget=forms.RadioSelect,
                error_messages={"required": "Answer yes or no."},
            )

    def answers(self) -> dict[str, str]:
        return {code: self.cleaned_data[code] for code in gates.CHECKLIST_CODES}


class DoseGivenForm(SubmissionKeyMixin, OpenedVersionMixin, forms.Form):
    given_on = TypedDateField(label="Given on")
    gate_override_reason = override_field("Given although its gate is not met because")

    def clean_gate_override_reason(self) -> str:
        # The field strips, so a reason of only spaces arrives empty; say so, as it was typed.
        typed = self.data.get(self.add_prefix(OVERRIDE_FIELD), "")
        reason = self.cleaned_data[OVERRIDE_FIELD]
        if typed and not reason:
            raise ValidationError("The reason is only spaces: say in words why it goes ahead.")
        return reason
