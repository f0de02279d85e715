from __future__ import annotations

import zoneinfo
from datetime import date, datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from .course_rules import CourseFacts, course_problems


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone name, e.g. Europe/London.")


class Clinic(models.Model):
    name = models.CharField(max_length=200)
    code = models.SlugField(
        max_length=32, unique=True, help_text="Short code used by imports and the command line."
    )
    time_zone = models.CharField(
        max_length=64,
        default="Europe/London",
        validators=[validate_time_zone],
        help_text="Decides what “today” is for this clinic's schedules and reminders.",
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="clinics",
        help_text="Staff who work for this clinic; they see only its patients.",
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


def default_protocol_id() -> int | None:
    # Imported here because the monitoring app's models refer back to Patient.
    from monitoring.models import MonitoringProtocol

    return MonitoringProtocol.objects.filter(is_default=True).values_list("pk", flat=True).first()


phone_validator = RegexValidator(
    r"^\+?[0-9][0-9 ()-]{5,24}$",
    "Enter a phone number of digits, spaces, brackets or dashes, optionally starting with +.",
)


class Patient(models.Model):
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

    # Statuses whose schedule is still planned; the others have their open checks cancelled.
    PLANNED_STATUSES = (Status.ACTIVE, Status.MONITORING_COMPLETE)

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    hospital_number = models.CharField(max_length=32)
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=1, choices=Sex.choices)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True, validators=[phone_validator])
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.ACTIVE)
    protocol = models.ForeignKey(
        "monitoring.MonitoringProtocol",
        on_delete=models.PROTECT,
        related_name="patients",
        default=default_protocol_id,
        help_text="The monitoring protocol this patient follows.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["family_name", "given_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "hospital_number"], name="patient_hospital_number_per_clinic"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.family_name.upper()}, {self.given_name} ({self.hospital_number})"

    def clean(self) -> None:
        if self.date_of_birth and self.clinic_id and self.date_of_birth > self.clinic.today():
            raise ValidationError({"date_of_birth": "The date of birth is in the future."})

    @property
    def is_planned(self) -> bool:
        return self.status in self.PLANNED_STATUSES


class InfusionCourse(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        GIVEN = "given", "Given"
        CANCELLED = "cancelled", "Cancelled"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
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
        validators=[MinValueValidator(1), MaxValueValidator(48)],
        verbose_name="daily dose (mg)",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    days_reason = models.TextField(
        blank=True, help_text="Why this course has a non-standard number of days."
    )
    spacing_override_reason = models.TextField(
        blank=True,
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
    cancelled_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "first_infusion_date"]
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

    def clean(self) -> None:
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
            self.facts(), others=others, birth_date=self.patient.date_of_birth
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
