"""Staff forms for patients and courses. They validate input; the services do the writing and
the model rules (the same ones the admin uses) decide what is allowed."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from monitoring.models import MonitoringProtocol
from submissions.forms import SubmissionKeyMixin

from .form_fields import DateInput, model_form_field
from .models import Clinic, InfusionCourse, Patient

__all__ = ["CourseForm", "DateInput", "PatientForm", "clinic_choice_limit"]


def clinic_choice_limit(field: forms.ModelChoiceField, clinics) -> None:
    """Offer only the user's clinics; with just one there is nothing to choose, so hide it."""
    field.queryset = clinics
    options = list(clinics)
    if len(options) == 1:
        field.initial = options[0]
        field.widget = forms.HiddenInput()


class NurseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.username


class PatientForm(SubmissionKeyMixin, forms.ModelForm):
    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none())
    protocol = forms.ModelChoiceField(
        queryset=MonitoringProtocol.objects.all(),
        required=False,
        help_text="Leave empty for the clinic's default protocol.",
    )
    named_nurse = NurseChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label="None: the clinic's nurse group",
        help_text="Gets this patient's alerts; without one, every nurse of the clinic does.",
    )

    class Meta:
        model = Patient
        formfield_callback = model_form_field
        fields = [
            "clinic",
            "hospital_number",
            "given_name",
            "family_name",
            "date_of_birth",
            "sex",
            "email",
            "phone",
            "protocol",
            "named_nurse",
            "email_reminders",
            "reminder_leads",
        ]
        widgets = {"date_of_birth": DateInput()}

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        clinic_choice_limit(self.fields["clinic"], clinics)
        # Nurses of any of the user's clinics; the model's clean() refuses a nurse of a clinic
        # other than the patient's.
        self.fields["named_nurse"].queryset = (
            get_user_model()
            .objects.filter(nursing_clinics__in=clinics)
            .distinct()
            .order_by("last_name", "first_name", "username")
        )
        # A browser always sends the select's value; a post without it keeps the default.
        self.fields["reminder_leads"].required = False

    def clean_reminder_leads(self) -> str:
        return self.cleaned_data["reminder_leads"] or Patient.ReminderLeads.SEVEN_AND_ONE


class CourseForm(SubmissionKeyMixin, forms.ModelForm):
    """Course rules run in the model's clean(); an error about a field the form does not show
    (the course number) is shown at the top of the form instead of failing."""

    class Meta:
        model = InfusionCourse
        formfield_callback = model_form_field
        fields = [
            "first_infusion_date",
            "days",
            "daily_dose_mg",
            "status",
            "days_reason",
            "spacing_override_reason",
        ]
        widgets = {
            "first_infusion_date": DateInput(),
            "days_reason": forms.TextInput(),
            "spacing_override_reason": forms.TextInput(),
        }
        help_texts = {
            "days": "Leave empty for the standard: 5 days for course 1, 3 for later courses.",
            "daily_dose_mg": "As given, e.g. 12.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["days"].required = False

    def clean_days(self):
        days = self.cleaned_data.get("days")
        if days is None:
            return 5 if self.instance.number == 1 else 3
        return days

    def _update_errors(self, errors):
        if hasattr(errors, "error_dict"):
            shown: dict[str, list] = {}
            for name, messages in errors.error_dict.items():
                key = name if name in self.fields else NON_FIELD_ERRORS
                shown.setdefault(key, []).extend(messages)
            errors = ValidationError(shown)
        super()._update_errors(errors)
