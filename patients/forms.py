"""Staff forms for patients and courses. They validate input; the services do the writing and
the model rules (the same ones the admin uses) decide what is allowed."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from monitoring.models import MonitoringProtocol
from submissions.forms import KEY_FIELD, VERSION_FIELD, OpenedVersionMixin, SubmissionKeyMixin

from .form_fields import AsciiIntegerField, DateInput, TypedDateField, free_text, model_form_field
from .models import Clinic, InfusionCourse, Patient
from .services import STATUS_CHANGES
from .validators import NOTE_MAX_LENGTH

__all__ = [
    "CourseCancelForm",
    "CourseEditForm",
    "CourseForm",
    "CourseGivenForm",
    "DateInput",
    "PatientEditForm",
    "PatientForm",
    "PatientStatusForm",
    "SchedulePreviewForm",
    "clinic_choice_limit",
]


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
        queryset=MonitoringProtocol.objects.alemtuzumab(),
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
            "baseline_override_reason",
        ]
        widgets = {
            "first_infusion_date": DateInput(),
            "days_reason": forms.TextInput(),
            "spacing_override_reason": forms.TextInput(),
            "baseline_override_reason": forms.TextInput(),
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


REASON_LABEL = "Reason for the change"
REASON_HELP = "Kept in the record's history with your name and the time."


def reason_field(label: str = REASON_LABEL, *, what: str = "this change") -> forms.CharField:
    """A required reason. Django strips the text, so one of only spaces is missing: refused
    beside the field, never stored."""
    return free_text(
        forms.CharField(
            label=label,
            max_length=255,
            help_text=REASON_HELP,
            error_messages={"required": f"Say why you are making {what}."},
        )
    )


class EditFormMixin(SubmissionKeyMixin, OpenedVersionMixin, forms.ModelForm):
    """An edit of a patient's record: the one-time key, the version the page was opened on,
    a reason, and only the fields the user changed go to the service."""

    reason = reason_field()

    def changes(self) -> dict:
        skip = {KEY_FIELD, VERSION_FIELD, "reason"}
        return {
            name: self.cleaned_data[name]
            for name in self.changed_data
            if name not in skip and name in self.cleaned_data
        }

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not self.changes():
            raise ValidationError("Nothing was changed: change a field, or go back.")
        return cleaned

    def _post_clean(self):
        # The model's rules run in the service, under its lock, on exactly the changed fields;
        # the form's own pass would only repeat them on an instance it mutates meanwhile.
        pass


class PatientEditForm(EditFormMixin):
    """Contact details, the named nurse (only among the nurses of the patient's clinic), the
    reminders, the tracking start and the protocol."""

    protocol = forms.ModelChoiceField(
        queryset=MonitoringProtocol.objects.alemtuzumab(), empty_label=None
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
            "email",
            "phone",
            "named_nurse",
            "email_reminders",
            "reminder_leads",
            "tracked_from",
            "protocol",
        ]
        widgets = {"tracked_from": DateInput()}
        help_texts = {
            "tracked_from": "Checks that fell overdue before this date are history, not work. "
            "Changing it re-plans the schedule.",
            "protocol": "Changing it re-plans the schedule.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["named_nurse"].queryset = self.instance.clinic.nurses.order_by(
            "last_name", "first_name", "username"
        )

    def clean_tracked_from(self):
        # Tracking that starts tomorrow would turn today's overdue checks into history
        # before anyone has looked at them.
        day = self.cleaned_data["tracked_from"]
        today = self.instance.clinic.today()
        if day is not None and day > today:
            raise ValidationError(
                f"The tracking start cannot be in the future (today is {today:%d %b %Y})."
            )
        return day


class PatientStatusForm(SubmissionKeyMixin, OpenedVersionMixin, forms.Form):
    status = forms.ChoiceField(
        label="New status",
        choices=[(status.value, status.label) for status in STATUS_CHANGES],
        help_text="Withdrawn, deceased or transferred: open checks and the reminders and "
        "alerts not yet sent are cancelled; the record and its history are kept.",
    )
    reason = reason_field(what="this change of status")


class CourseEditForm(EditFormMixin):
    """Move or correct a course: its dates, days and dose, with the reasons the course rules
    may ask for (a non-standard number of days, a course earlier than the label's spacing)."""

    class Meta:
        model = InfusionCourse
        formfield_callback = model_form_field
        fields = [
            "first_infusion_date",
            "days",
            "daily_dose_mg",
            "days_reason",
            "spacing_override_reason",
        ]
        widgets = {
            "first_infusion_date": DateInput(),
            "days_reason": forms.TextInput(),
            "spacing_override_reason": forms.TextInput(),
        }


class CourseCancelForm(SubmissionKeyMixin, OpenedVersionMixin, forms.Form):
    reason = reason_field("Why is the course cancelled?", what="the cancellation")


class CourseGivenForm(SubmissionKeyMixin, OpenedVersionMixin, forms.Form):
    """Record a planned course as given. The override is offered only when a baseline check is
    missing and the user is a clinician; the service decides either way."""

    baseline_override_reason = free_text(
        forms.CharField(
            label="Given without its baselines because",
            required=False,
            max_length=NOTE_MAX_LENGTH,
            widget=forms.Textarea(attrs={"rows": 2}),
            help_text="A nurse or the clinic lead only: why the course is given although a "
            "baseline check is not completed. Kept in the course's history with your name.",
        ),
        multi_line=True,
    )

    def __init__(self, *args, may_override: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not may_override:
            del self.fields["baseline_override_reason"]

    def clean_baseline_override_reason(self) -> str:
        # The field strips, so a reason of only spaces arrives empty; say so, as it was typed.
        typed = self.data.get(self.add_prefix("baseline_override_reason"), "")
        reason = self.cleaned_data["baseline_override_reason"]
        if typed and not reason:
            raise ValidationError(
                "The reason is only spaces: say in words why the course is given without its "
                "baseline checks."
            )
        return reason


class SchedulePreviewForm(forms.Form):
    """The what-if preview: a GET form, so it can change nothing."""

    first_day = TypedDateField(label="Proposed first day of the next course")
    days = AsciiIntegerField(
        label="Days",
        required=False,
        min_value=1,
        max_value=10,
        help_text="Leave empty for the standard: 5 for course 1, 3 for later courses.",
    )
    override = free_text(
        forms.CharField(
            label="Clinician's reason (only for a non-standard spacing or number of days)",
            required=False,
            max_length=255,
        )
    )
