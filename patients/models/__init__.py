from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from monitoring.domain.input_rules import (
    DateOrder,
    birth_date_problem,
    hospital_number_clean,
    hospital_number_key,
)
from patients.course_rules import MAX_DAILY_DOSE_MG, MIN_DAILY_DOSE_MG, CourseFacts, course_problems
from patients.validators import (
    LONG_TEXT_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    SINGLE_LINE_TEXT,
    note_rules,
    single_line,
)
from submissions.models import Versioned

# Defined in their own module, registered (and imported by the rest of the app) from here.
from .therapies import StopReason, Therapy, TherapyDose, TherapyEpisode  # noqa: F401

# The order a clinic's date format writes day and month in, for dates typed into its forms.
DATE_ORDER_OF_LOCALE = {"en-gb": DateOrder.DAY_FIRST, "en-us": DateOrder.MONTH_FIRST}


def date_order_of_locale(language: str | None) -> str:
    return DATE_ORDER_OF_LOCALE.get((language or "").lower(), DateOrder.ISO_ONLY)


class CsvDateOrder(models.TextChoices):
    DAY_FIRST = DateOrder.DAY_FIRST, "Day first: 03/02/2024 is 3 February"
    MONTH_FIRST = DateOrder.MONTH_FIRST, "Month first: 03/02/2024 is 2 March"
    ISO_ONLY = DateOrder.ISO_ONLY, "Only YYYY-MM-DD"


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone name, e.g. Europe/London.")


class Clinic(models.Model):
    name = models.CharField(max_length=200, validators=SINGLE_LINE_TEXT)
    code = models.SlugField(
        max_length=32, unique=True, help_text="Short code used by imports and the command line."
    )
    time_zone = models.CharField(
        max_length=64,
        default="Europe/London",
        validators=[validate_time_zone],
        help_text="Decides what “today” is for this clinic's schedules and reminders.",
    )
    # A language code (settings.LANGUAGES): activated for the clinic's users and messages, it
    # picks Django's named date formats (DATE_FORMAT, DATETIME_FORMAT...) that templates use.
    date_locale = models.CharField(
        "date format",
        max_length=16,
        choices=settings.LANGUAGES,
        default="en-gb",
        help_text="How dates and times are written on screens and in messages. Staff and "
        "patients see a change the next time they sign in.",
    )
    # A lab's export need not follow the clinic's screens; ambiguous dates are refused anyway.
    csv_date_order = models.CharField(
        "dates in CSV imports",
        max_length=3,
        choices=CsvDateOrder.choices,
        default=CsvDateOrder.DAY_FIRST,
        help_text="How the lab's CSV files write dates with slashes. YYYY-MM-DD is always "
        "read; a date such as 03/02/2024 that could be either day or month is refused.",
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="clinics",
        help_text="Staff who work for this clinic; they see only its patients.",
    )
    nurses = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="nursing_clinics",
        help_text="The clinic's nurse group: alerted about patients who have no named nurse.",
    )
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="led_clinics",
        help_text="Receives escalations: urgent results nobody acknowledged, long-overdue checks.",
    )
    lab_message_retention_days = models.PositiveSmallIntegerField(
        "keep lab messages for (days)",
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Messages as the lab sent them are kept this long, then emptied; the "
        "results recorded from them stay.",
    )
    critical_escalation_hours = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(168)],
        help_text="A critical result not acknowledged within this many hours goes to the lead.",
    )
    red_escalation_hours = models.PositiveSmallIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(168)],
        help_text="A red result not acknowledged within this many hours goes to the lead.",
    )
    overdue_escalation_days = models.PositiveSmallIntegerField(
        default=14,
        validators=[MinValueValidator(1), MaxValueValidator(365)],
        help_text="A check still overdue this many days after it became overdue goes to the lead.",
    )
    quiet_hours_start = models.TimeField(
        default=time(21, 0), help_text="No reminders reach patients from this local time..."
    )
    quiet_hours_end = models.TimeField(default=time(8, 0), help_text="...until this local time.")
    digest_time = models.TimeField(
        default=time(8, 0), help_text="Local time of each nurse's daily digest e-mail."
    )
    # Patients already in follow-up when the clinic starts using the tracker: their checks
    # that fell overdue before this date are history, not work (Patient.tracked_from).
    go_live_date = models.DateField(
        "go-live date",
        null=True,
        blank=True,
        help_text="Patients onboarded from a spreadsheet are tracked from this date unless the "
        "import says otherwise; checks overdue before it are shown as history.",
    )
    # Patients ask first where to go; the clinic's name alone does not tell them.
    test_instructions = models.TextField(
        "where patients have their tests",
        blank=True,
        max_length=LONG_TEXT_MAX_LENGTH,
        validators=note_rules(LONG_TEXT_MAX_LENGTH),
        help_text="Shown to patients in the portal beside each test: where to go, opening "
        "hours, whether to book. Plain words, no abbreviations.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def today(self, now: datetime | None = None) -> date:
        """The clinic's calendar date at `now` (default: the current instant)."""
        return timezone.localdate(now, timezone=self.zone)

    def nurse_ids(self) -> list[int]:
        return list(self.nurses.values_list("pk", flat=True))


def default_protocol_id() -> int | None:
    # Imported here because the monitoring app's models refer back to Patient.
    from monitoring.models import MonitoringProtocol

    return (
        MonitoringProtocol.objects.alemtuzumab()
        .filter(is_default=True)
        .values_list("pk", flat=True)
        .first()
    )


phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 ()-]{5,24}$",
    "Enter a phone number of digits, spaces, brackets or dashes, optionally starting with +.",
)


class Patient(Versioned):
    class Sex(models.TextChoices):
        FEMALE = "F", "Female"
        MALE = "M", "Male"
        OTHER = "X", "Other / not stated"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active monitoring"
        MONITORING_COMPLETE = "monitoring_complete", "Monitoring complete"
        WITHDRAWN = "withdrawn", "Withdrawn"
        DECEASED = "deceased", "Deceased"
        TRANSFERRED = "transferred", "Transferred to another clinic"

    class ReminderLeads(models.TextChoices):
        """Days before a check's due date on which the patient is reminded: a short menu, so
        the reminder scan needs one query per lead time rather than one per patient."""

        SEVEN_AND_ONE = "7,1", "7 days and 1 day before"
        FOURTEEN_SEVEN_ONE = "14,7,1", "14, 7 and 1 days before"
        THREE_AND_ONE = "3,1", "3 days and 1 day before"
        SEVEN = "7", "7 days before"
        ONE = "1", "1 day before"

    # Every lead time any choice above contains.
    REMINDER_LEAD_DAYS = (14, 7, 3, 1)

    # Statuses whose schedule is still planned; the others have their open checks cancelled.
    PLANNED_STATUSES = (Status.ACTIVE, Status.MONITORING_COMPLETE)

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    hospital_number = models.CharField(max_length=32, validators=SINGLE_LINE_TEXT)
    # hospital_number_key() of it, filled by clean() and save(): what the clinic's
    # constraint keeps unique, so "demo0001" cannot sit beside "DEMO0001".
    # Longer than the number: case folding may lengthen it ("ß" is "ss").
    hospital_number_key = models.CharField(max_length=64, editable=False)
    given_name = models.CharField(max_length=100, validators=SINGLE_LINE_TEXT)
    family_name = models.CharField(max_length=100, validators=SINGLE_LINE_TEXT)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=1, choices=Sex.choices)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True, validators=[single_line, phone_validator])
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.ACTIVE)
    protocol = models.ForeignKey(
        "monitoring.MonitoringProtocol",
        on_delete=models.PROTECT,
        related_name="patients",
        default=default_protocol_id,
        help_text="The monitoring protocol this patient follows.",
    )
    named_nurse = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="named_patients",
        help_text="Receives this patient's alerts; without one, the clinic's nurse group does.",
    )
    email_reminders = models.BooleanField(
        "e-mail reminders", default=True, help_text="Remind the patient by e-mail before tests."
    )
    reminder_leads = models.CharField(
        "remind me",
        max_length=12,
        choices=ReminderLeads.choices,
        default=ReminderLeads.SEVEN_AND_ONE,
    )
    # The patient's own sign-in for the portal, set when they accept an invitation.
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="patient_record",
    )
    # The day this clinic began tracking the patient. A check whose overdue date falls before
    # it is "before tracking": history, never overdue, alerted or reminded; a historic result
    # still completes it. patient_create fills in the clinic's today.
    tracked_from = models.DateField(
        "tracked from",
        default=timezone.localdate,
        help_text="Checks that fell overdue before this date are history, not work.",
    )
    # Written by schedule_reconcile from the plan (never typed): what the end-of-follow-up
    # scan reads, so it need not plan every patient to find who has finished.
    follow_up_ends = models.DateField(null=True, blank=True, editable=False)
    # Set when an episode of a therapy other than alemtuzumab is recorded (never cleared: a
    # stopped episode still plans its after-stopping checks). schedule_reconcile reads episodes
    # only for such patients, so an alemtuzumab patient is planned in the same queries as ever.
    other_therapies = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["family_name", "given_name"]
        permissions = [("invite_patient", "Can invite a patient to the portal")]
        indexes = [
            # The patient list: one clinic's patients in name order, a page read straight from
            # the index instead of sorting every patient (docs/scaling.md).
            models.Index(
                fields=["clinic", "family_name", "given_name", "id"], name="patient_list_order"
            ),
            # The same list for staff of several clinics: walked in name order, each row's
            # clinic tested, the page's fifty found without sorting them all (which cost 16 ms
            # at 10,000 patients and 100 ms at 100,000).
            models.Index(fields=["family_name", "given_name", "id"], name="patient_name_order"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "hospital_number_key"], name="patient_hospital_number_per_clinic"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name} ({self.hospital_number})"

    def save(self, *args, **kwargs) -> None:
        self.hospital_number_key = hospital_number_key(self.hospital_number)
        if kwargs.get("update_fields") is not None and "hospital_number" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "hospital_number_key"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self._clean_hospital_number()
        if (
            self.date_of_birth
            and self.clinic_id
            and (problem := birth_date_problem(self.date_of_birth, today=self.clinic.today()))
        ):
            raise ValidationError({"date_of_birth": problem})
        if self.tracked_from and self.clinic_id and self.tracked_from > self.clinic.today():
            raise ValidationError(
                {
                    "tracked_from": "Tracking cannot start in the future: give today or an "
                    "earlier date."
                }
            )
        if (
            self.named_nurse_id
            and self.clinic_id
            and not self.clinic.nurses.filter(pk=self.named_nurse_id).exists()
        ):
            raise ValidationError({"named_nurse": "Choose a nurse of this patient's clinic."})

    def validate_constraints(self, exclude=None) -> None:
        # clean() has checked the hospital number's key, naming the record that holds it; the
        # constraint's own message would only say "already exists". The database still has
        # the last word (a race between two saves ends in IntegrityError).
        super().validate_constraints(exclude={*(exclude or ()), "hospital_number_key"})

    def _clean_hospital_number(self) -> None:
        if not self.hospital_number:
            return
        self.hospital_number = hospital_number_clean(self.hospital_number)
        self.hospital_number_key = hospital_number_key(self.hospital_number)
        if not self.hospital_number_key:
            raise ValidationError({"hospital_number": "Enter the hospital number."})
        limit = self._meta.get_field("hospital_number").max_length
        if len(self.hospital_number) > limit or len(self.hospital_number_key) > 2 * limit:
            # NFKC can lengthen a character ("㍿" is four letters).
            raise ValidationError(
                {"hospital_number": f"A hospital number has at most {limit} characters."}
            )
        if not self.clinic_id:
            return
        holder = (
            Patient.objects.filter(
                clinic_id=self.clinic_id, hospital_number_key=self.hospital_number_key
            )
            .exclude(pk=self.pk)
            .first()
        )
        if holder is not None:
            differently = (
                ""
                if holder.hospital_number == self.hospital_number
                else f" (written “{holder.hospital_number}”: case, spaces, hidden or "
                "full-width characters do not make another number)"
            )
            raise ValidationError(
                {
                    "hospital_number": (
                        f"“{self.hospital_number}” is already the hospital number of {holder}, "
                        f"record {holder.pk}, in this clinic{differently}. One person has one "
                        "record: open theirs instead."
                    )
                }
            )

    @property
    def is_planned(self) -> bool:
        return self.status in self.PLANNED_STATUSES

    @classmethod
    def lead_choices_with(cls, days: int) -> list[str]:
        """The reminder choices that include a reminder `days` before the due date."""
        return [value for value in cls.ReminderLeads.values if str(days) in value.split(",")]


class InfusionCourse(Versioned):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        GIVEN = "given", "Given"
        CANCELLED = "cancelled", "Cancelled"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    # The patient's alemtuzumab episode: its courses are the episode's doses.
    episode = models.ForeignKey(
        TherapyEpisode,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="courses",
    )
    number = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    first_infusion_date = models.DateField()
    days = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Consecutive infusion days: 5 for course 1, 3 for later courses.",
    )
    # Recorded, never assumed: trials such as CAMMS223 used 24 mg/day.
    daily_dose_mg = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        validators=[MinValueValidator(MIN_DAILY_DOSE_MG), MaxValueValidator(MAX_DAILY_DOSE_MG)],
        verbose_name="daily dose (mg)",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    days_reason = models.TextField(
        blank=True,
        max_length=NOTE_MAX_LENGTH,
        validators=note_rules(),
        help_text="Why this course has a non-standard number of days.",
    )
    spacing_override_reason = models.TextField(
        blank=True,
        max_length=NOTE_MAX_LENGTH,
        validators=note_rules(),
        help_text="A clinician's reason for starting earlier than 12 months after the last course.",
    )
    override_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who recorded the override reasons.",
    )
    cancelled_reason = models.TextField(
        blank=True, max_length=NOTE_MAX_LENGTH, validators=note_rules()
    )
    # The pre-infusion checklist: a course is recorded as given only when its baseline checks
    # are complete, or when a clinician says here why it was given without them (REMS asks the
    # infusion centre to confirm the baseline labs before infusing).
    baseline_override_reason = models.TextField(
        "given without its baselines because",
        blank=True,
        max_length=NOTE_MAX_LENGTH,
        validators=note_rules(),
        help_text="A nurse's or the clinic lead's reason for giving the course although a "
        "baseline check was not completed.",
    )
    baseline_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who recorded the reason for giving the course without its baselines.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "first_infusion_date"]
        permissions = [
            (
                "override_baseline_checklist",
                "Can record a course as given although its baseline checks are not complete",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "number"],
                condition=~models.Q(status="cancelled"),
                name="course_number_once_per_patient",
            ),
            models.CheckConstraint(
                condition=models.Q(days__gte=1, days__lte=10), name="course_days_between_1_and_10"
            ),
        ]

    def __str__(self) -> str:
        return f"Course {self.number} from {self.first_infusion_date:%d %b %Y}"

    def save(self, *args, **kwargs) -> None:
        # A patient's first course opens their alemtuzumab episode; schedule_reconcile keeps
        # its start on course 1's first infusion.
        if self.episode_id is None and self.patient_id:
            self.episode, _ = TherapyEpisode.objects.get_or_create(
                patient_id=self.patient_id,
                therapy=Therapy.ALEMTUZUMAB,
                defaults={"started_on": self.first_infusion_date},
            )
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "episode"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.baseline_override_reason and not self.baseline_override_reason.strip():
            raise ValidationError(
                {
                    "baseline_override_reason": "The reason is only spaces: say in words why "
                    "the course is given without its baseline checks."
                }
            )
        if self.status == self.Status.CANCELLED:
            if not self.cancelled_reason.strip():
                raise ValidationError({"cancelled_reason": "Say why the course was cancelled."})
            return
        if not (self.patient_id and self.first_infusion_date and self.days and self.number):
            return  # field validation has already reported what is missing
        others = [
            course.facts()
            for course in self.patient.courses.exclude(pk=self.pk).exclude(
                status=self.Status.CANCELLED
            )
        ]
        problems = course_problems(
            self.facts(),
            others=others,
            birth_date=self.patient.date_of_birth,
            today=self.patient.clinic.today(),
        )
        if problems:
            field_names = {"first_day": "first_infusion_date"}
            raise ValidationError(
                {field_names.get(field, field): messages for field, messages in problems.items()}
            )

    @property
    def last_infusion_date(self) -> date:
        return self.facts().last_day

    def facts(self) -> CourseFacts:
        return CourseFacts(
            number=self.number,
            first_day=self.first_infusion_date,
            days=self.days,
            days_reason=self.days_reason,
            spacing_override_reason=self.spacing_override_reason,
        )


class Onboarding(models.Model):
    """A spreadsheet of patients already in follow-up, kept as uploaded for its preview and
    recorded all at once when confirmed (patients.onboarding)."""

    class Status(models.TextChoices):
        PREVIEWED = "previewed", "Previewed, not recorded"
        RECORDED = "recorded", "Recorded"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    file_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    content = models.TextField(help_text="The file as uploaded, decoded as UTF-8.")
    # As the uploader gave it; empty: the clinic's go-live date, else the day it is recorded.
    tracking_from = models.DateField(null=True, blank=True)
    date_order = models.CharField(
        max_length=3, blank=True, help_text="dmy, mdy or iso; empty: the clinic's setting."
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PREVIEWED)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(null=True, blank=True)
    patients_created = models.PositiveIntegerField(default=0)
    patients_updated = models.PositiveIntegerField(default=0)
    courses_added = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-uploaded_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"
