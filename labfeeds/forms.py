"""The forms of the lab feeds' screens: matching or dismissing waiting results, and a lead's
lab connections, tokens and retention period. Each carries a one-time submission key."""

from __future__ import annotations

from django import forms
from django.utils.text import capfirst

from labfeeds.connections import SENDER_FIELDS
from labfeeds.models import ApiToken, LabConnection
from labfeeds.waiting import DISMISS_REASON_REQUIRED
from patients.form_fields import free_text, model_form_field
from patients.models import Clinic, Patient
from patients.validators import REASON_MAX_LENGTH
from submissions.forms import SubmissionKeyMixin


class WaitingMatchForm(SubmissionKeyMixin, forms.Form):
    """The patient chosen (and shown) on the confirm page; any patient of the group's clinic."""

    patient = forms.ModelChoiceField(
        queryset=Patient.objects.none(),
        widget=forms.HiddenInput,
        error_messages={
            "required": "Choose the patient these results are for.",
            "invalid_choice": "Choose a patient of the clinic these results are for.",
        },
    )

    def __init__(self, *args, clinic: Clinic, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["patient"].queryset = Patient.objects.filter(clinic=clinic).select_related(
            "clinic"
        )


class WaitingDismissForm(SubmissionKeyMixin, forms.Form):
    reason = free_text(
        forms.CharField(
            label="Why are these results dismissed?",
            max_length=REASON_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 3}),
            help_text="For example: not one of our patients, a test we do not monitor, sent "
            "again under the right number. Kept with your name and the time.",
            error_messages={"required": DISMISS_REASON_REQUIRED},
        ),
        multi_line=True,
    )


def _sender_field(name: str, help_text: str, *, required: bool = False) -> forms.CharField:
    column = LabConnection._meta.get_field(name)
    return free_text(
        forms.CharField(
            label=capfirst(column.verbose_name),
            max_length=column.max_length,
            required=required,
            help_text=help_text,
        )
    )


class ConnectionForm(SubmissionKeyMixin, forms.Form):
    """A connection's name and how its HL7 messages name it. A sender another connection has
    is refused by labfeeds.connections, beside the field."""

    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), empty_label=None)
    name = _sender_field("name", "How the screens name this lab.", required=True)
    hl7_sending_application = _sender_field(
        "hl7_sending_application", "As the lab's HL7 messages give it in MSH-3."
    )
    hl7_sending_facility = _sender_field(
        "hl7_sending_facility", "MSH-4. Leave empty for a lab that sends only FHIR."
    )
    assigning_authority = _sender_field(
        "assigning_authority",
        "PID-3.4 of the clinic's hospital numbers. Empty: any. A hospital number from another "
        "authority is never matched to one of the clinic's patients.",
    )

    def __init__(self, *args, clinics, connection: LabConnection | None = None, **kwargs):
        if connection is not None:
            kwargs.setdefault(
                "initial", {name: getattr(connection, name) for name in SENDER_FIELDS}
            )
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics
        if connection is not None:
            # A connection stays with its clinic: its messages and tokens are that clinic's.
            del self.fields["clinic"]


class ConnectionSwitchForm(SubmissionKeyMixin, forms.Form):
    active = forms.BooleanField(required=False, widget=forms.HiddenInput)


class TokenForm(SubmissionKeyMixin, forms.Form):
    name = free_text(
        forms.CharField(
            label="Name",
            max_length=120,
            help_text="Who will use it: “City lab FHIR feed”, “Hospital record system”.",
        )
    )
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices, initial=ApiToken.Scope.LAB)
    connection = forms.ModelChoiceField(
        queryset=LabConnection.objects.none(),
        required=False,
        empty_label="No connection (a record system's read token)",
        help_text="A lab's token posts results for its connection's clinic.",
    )
    clinic = forms.ModelChoiceField(
        queryset=Clinic.objects.none(),
        empty_label=None,
        required=False,
        help_text="For a read token; a lab's token is its connection's clinic's.",
    )

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics
        self.fields["connection"].queryset = LabConnection.objects.filter(
            clinic__in=clinics
        ).select_related("clinic")
        if len(self.fields["clinic"].queryset) == 1:
            self.fields["clinic"].widget = forms.HiddenInput()
            self.fields["clinic"].initial = self.fields["clinic"].queryset[0].pk

    def clean(self):
        cleaned = super().clean()
        connection = cleaned.get("connection")
        scope = cleaned.get("scope")
        clinic = cleaned.get("clinic")
        if scope == ApiToken.Scope.LAB and connection is None:
            self.add_error("connection", "A lab's token belongs to its lab connection.")
        if scope == ApiToken.Scope.READ and connection is not None:
            self.add_error("connection", "A record system's read token has no lab connection.")
        if connection is not None:
            # A lab's token is its connection's clinic's, whichever clinic was chosen.
            cleaned["clinic"] = connection.clinic
        elif clinic is None and "clinic" not in self.errors:
            self.add_error("clinic", "Choose the clinic whose records it reads.")
        return cleaned


class TokenRevokeForm(SubmissionKeyMixin, forms.Form):
    pass


class RetentionForm(SubmissionKeyMixin, forms.ModelForm):
    class Meta:
        model = Clinic
        fields = ["lab_message_retention_days"]
        formfield_callback = model_form_field
