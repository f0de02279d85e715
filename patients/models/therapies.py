"""Therapy episodes and their doses: which disease-modifying therapy a patient is on (or was),
from when to when, and the doses given in the clinic (docs/clinical-reference.md section 6).

Alemtuzumab's episode is one per patient, and its doses are the infusion courses
(InfusionCourse.episode); its checks are planned from the courses and the patient's protocol,
as before episodes existed. Every other episode follows its own protocol of the same therapy.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from simple_history.models import HistoricalRecords

from monitoring.domain import therapies
from monitoring.domain.therapies import THERAPIES
from patients.validators import NOTE_MAX_LENGTH, note_rules
from submissions.models import Versioned

# The choices come from the catalogue (monitoring.domain.therapies), the one place that names
# each therapy: a therapy added there is a choice here.
Therapy = models.TextChoices(
    "Therapy",
    [(therapy.code.upper(), (therapy.code, therapy.label)) for therapy in THERAPIES.values()],
)


class StopReason(models.TextChoices):
    SIDE_EFFECTS = "side_effects", "Side effects or a safety finding"
    NOT_EFFECTIVE = "not_effective", "Not effective enough (relapses, MRI activity)"
    SWITCHED = "switched", "Switched to another therapy"
    PREGNANCY = "pregnancy", "Pregnancy or planning one"
    PATIENT_CHOICE = "patient_choice", "The patient's choice"
    COMPLETED = "completed", "Treatment completed (cladribine's two years, say)"
    OTHER = "other", "Other (say in the note)"


class TherapyEpisode(Versioned):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="episodes"
    )
    therapy = models.CharField(max_length=24, choices=Therapy.choices)
    # Empty for alemtuzumab, whose protocol is the patient's (Patient.protocol), as before.
    protocol = models.ForeignKey(
        "monitoring.MonitoringProtocol",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="episodes",
        help_text="The monitoring protocol of this therapy that the episode follows.",
    )
    # Alemtuzumab: course 1's first infusion, kept by schedule_reconcile from the courses.
    started_on = models.DateField("started on")
    stopped_on = models.DateField("stopped on", null=True, blank=True)
    stop_reason = models.CharField(max_length=16, choices=StopReason.choices, blank=True)
    stop_note = models.TextField(blank=True, max_length=NOTE_MAX_LENGTH, validators=note_rules())
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A therapy whose gate is at its start (siponimod's genotype, ofatumumab's hepatitis B
    # screen): what the gate said, and a clinician's reason for starting although it was unmet.
    start_gate_state = models.CharField(max_length=255, blank=True)
    start_override_reason = models.TextField(
        "started although its gate was not met because",
        blank=True,
        max_length=NOTE_MAX_LENGTH,
        validators=note_rules(),
    )
    start_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["patient", "started_on", "pk"]
        indexes = [models.Index(fields=["patient", "started_on"], name="episode_patient_start")]
        constraints = [
            # Alemtuzumab's courses 1 to 4 are one episode: its follow-up runs from course 1.
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(therapy=therapies.ALEMTUZUMAB),
                name="one_alemtuzumab_episode_per_patient",
            ),
            # The same therapy again is a new episode once the last one has stopped.
            models.UniqueConstraint(
                fields=["patient", "therapy"],
                condition=models.Q(stopped_on__isnull=True),
                name="one_running_episode_per_therapy",
            ),
            models.CheckConstraint(
                condition=models.Q(stopped_on__isnull=True)
                | models.Q(stopped_on__gte=models.F("started_on")),
                name="episode_stops_after_it_starts",
            ),
            models.CheckConstraint(
                condition=models.Q(therapy=therapies.ALEMTUZUMAB)
                | models.Q(protocol__isnull=False),
                name="episode_has_protocol_unless_alemtuzumab",
            ),
        ]

    def __str__(self) -> str:
        label = therapies.therapy_of(self.therapy).name
        if self.stopped_on:
            return f"{label} {self.started_on:%d %b %Y} to {self.stopped_on:%d %b %Y}"
        return f"{label} from {self.started_on:%d %b %Y}"

    def clean(self) -> None:
        if self.stopped_on and self.started_on and self.stopped_on < self.started_on:
            raise ValidationError({"stopped_on": "A therapy cannot stop before it started."})
        if self.stopped_on and not self.stop_reason:
            raise ValidationError({"stop_reason": "Say why the therapy stopped."})
        if self.stop_reason == StopReason.OTHER and not self.stop_note.strip():
            raise ValidationError({"stop_note": "Say in the note why the therapy stopped."})
        if (
            self.therapy != therapies.ALEMTUZUMAB
            and self.protocol_id
            and self.protocol.therapy != self.therapy
        ):
            raise ValidationError(
                {"protocol": "Choose a protocol of this therapy: its checks are this therapy's."}
            )

    @property
    def therapy_info(self) -> therapies.Therapy:
        return therapies.therapy_of(self.therapy)

    @property
    def is_running(self) -> bool:
        return self.stopped_on is None


class TherapyDose(Versioned):
    """A dose given in the clinic: a natalizumab or ocrelizumab infusion, a cladribine
    treatment year. Planned first, then recorded as given once its gate is met (or a clinician
    says why it was given although it was not); never deleted, only cancelled with a reason."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        GIVEN = "given", "Given"
        CANCELLED = "cancelled", "Cancelled"

    episode = models.ForeignKey(TherapyEpisode, on_delete=models.PROTECT, related_name="doses")
    number = models.PositiveSmallIntegerField()
    planned_on = models.DateField("planned for")
    given_on = models.DateField("given on", null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    # The natalizumab pre-infusion checklist as answered at the chair: {question code: answer}.
    checklist_answers = models.JSONField(default=dict, blank=True)
    checklist_answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    checklist_answered_at = models.DateTimeField(null=True, blank=True)
    # What the gate said when the dose was recorded as given, and a clinician's reason for
    # giving it although the gate was not met.
    gate_state = models.CharField(max_length=255, blank=True)
    gate_override_reason = models.TextField(
        "given although its gate was not met because",
        blank=True,
        max_length=NOTE_MAX_LENGTH,
        validators=note_rules(),
    )
    gate_override_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    given_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancelled_reason = models.TextField(
        blank=True, max_length=NOTE_MAX_LENGTH, validators=note_rules()
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["episode", "planned_on", "number"]
        permissions = [
            ("override_dose_gate", "Can record a dose as given although its gate is not met")
        ]
        indexes = [
            # The worklist's doses due in the next week: planned ones only.
            models.Index(
                fields=["planned_on"],
                condition=models.Q(status="planned"),
                name="dose_planned_on",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["episode", "number"],
                condition=~models.Q(status="cancelled"),
                name="dose_number_once_per_episode",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="given") | models.Q(given_on__isnull=False),
                name="given_dose_has_its_day",
            ),
        ]

    def __str__(self) -> str:
        name = therapies.therapy_of(self.episode.therapy).dose_name
        day = self.given_on or self.planned_on
        return f"{name.capitalize()} {self.number} on {day:%d %b %Y}"

    @property
    def day(self):
        """The day the dose was given, or is planned for: what its checks are planned from."""
        return self.given_on or self.planned_on
