"""A symptom a patient reported through the portal. It opens urgent checks (ScheduledCheck of
kind "urgent", linked back here) and alerts the nurse; staff read it on the patient page and the
worklist, where it waits until a nurse acknowledges it with what was done (an Acknowledgement
about the report). Kept for good, like every other part of the record."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from monitoring.domain import symptoms
from patients.validators import (
    NOTE_MAX_LENGTH,
    note_rules,
)


class SymptomReport(models.Model):
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="symptom_reports"
    )
    # Codes from monitoring.domain.symptoms.SYMPTOMS, as the patient ticked them.
    symptoms = models.JSONField(default=list)
    details = models.TextField(
        "in the patient's words", blank=True, max_length=NOTE_MAX_LENGTH, validators=note_rules()
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # The form's one-time key: a double click or a resubmitted page stores one report.
    submission_key = models.UUIDField(unique=True, editable=False)
    created_at = models.DateTimeField()
    # Until a nurse acknowledges it (monitoring.alerts.rules.symptom_awaiting). Kept on the row,
    # like LabResult's, so the worklist reads the few waiting reports through a partial index.
    awaits_acknowledgement = models.BooleanField(default=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["patient", "created_at"], name="symptom_patient_created"),
            models.Index(
                fields=["patient"],
                condition=models.Q(awaits_acknowledgement=True),
                name="symptom_awaiting",
            ),
        ]

    def __str__(self) -> str:
        return f"Symptoms reported {self.created_at:%d %b %Y %H:%M}"

    @property
    def symptom_labels(self) -> list[str]:
        return symptoms.staff_labels(self.symptoms)
