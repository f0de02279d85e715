"""The portal's forms. They validate; the views call the services."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import (
    password_validators_help_text_html,
    validate_password,
)

from monitoring.alerts.symptom_reports import DETAILS_MAX_LENGTH
from monitoring.domain import symptoms
from patients.form_fields import free_text
from patients.models import Patient
from submissions.forms import SubmissionKeyMixin


class SetPasswordForm(forms.Form):
    """The password of a new patient account, checked by the site's password validators
    against the account it is for (so it may not resemble the patient's name or e-mail)."""

    password = forms.CharField(
        label="Choose a password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validators_help_text_html(),
    )
    password_again = forms.CharField(
        label="Type it again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.account = account  # an unsaved User with the username, e-mail and names

    def clean_password(self):
        password = self.cleaned_data["password"]
        validate_password(password, user=self.account)
        return password

    def clean(self):
        cleaned = super().clean()
        first, again = cleaned.get("password"), cleaned.get("password_again")
        if first and again is not None and first != again:
            self.add_error("password_again", "The two passwords are not the same.")
        return cleaned


def account_for(patient: Patient, username: str, email: str):
    return get_user_model()(
        username=username, email=email, first_name=patient.given_name, last_name=patient.family_name
    )


class ReminderPreferencesForm(SubmissionKeyMixin, forms.Form):
    email_reminders = forms.BooleanField(
        label="Send me e-mail reminders before my tests", required=False
    )
    reminder_leads = forms.ChoiceField(
        label="When to remind me",
        choices=Patient.ReminderLeads.choices,
        widget=forms.RadioSelect,
    )


class SymptomReportForm(SubmissionKeyMixin, forms.Form):
    symptoms = forms.MultipleChoiceField(
        label="What have you noticed?",
        choices=[(symptom.code, symptom.patient_label) for symptom in symptoms.SYMPTOMS],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one."},
    )
    details = free_text(
        forms.CharField(
            label="Tell us more (optional, unless you chose “something else”)",
            required=False,
            max_length=DETAILS_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 4}),
            help_text="When it started, and anything that makes it better or worse.",
        ),
        multi_line=True,
    )

    def clean(self):
        cleaned = super().clean()
        chosen = cleaned.get("symptoms") or []
        if symptoms.OTHER in chosen and not (cleaned.get("details") or "").strip():
            self.add_error("details", "Tell us what you have noticed.")
        return cleaned


class CalendarLinkForm(SubmissionKeyMixin, forms.Form):
    """Making or switching off the calendar link: the button's `action` is all it says."""


class CalendarAlarmForm(SubmissionKeyMixin, forms.Form):
    reminder_alarm = forms.BooleanField(
        label="Remind me at 9:00 the day before each test",
        required=False,
        help_text="Apple Calendar and most phone calendars show it; Google Calendar uses its "
        "own notification settings instead.",
    )


class InviteForm(SubmissionKeyMixin, forms.Form):
    """Sending a portal invitation: the patient's e-mail address is already on the record."""
