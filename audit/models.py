"""Which patient, in which clinic, each audit entry is about.

django-auditlog's LogEntry names the object (content type and id) but not whose record it is
part of: an acknowledgement belongs to a patient through its result, a result through its
patient. Clinic leads read only their own clinics' trail, so every entry is linked here, when it
is written, to the patient and the clinic the record belonged to at that moment. Real foreign
keys keep the link honest, and the indexes below let a lead's page read one clinic's (or one
patient's) newest entries straight from an index on SQLite and PostgreSQL alike, with no
JSON-key expression index.

Configuration (clinic settings, protocols, analytes, flag rules) is part of no patient's record:
its entries have no patient, and the clinic they configure, or none when all clinics share it.

Like the entries themselves, these rows are written once and never changed or deleted.
"""

from __future__ import annotations

from django.db import models


class EntrySubject(models.Model):
    entry = models.OneToOneField(
        "auditlog.LogEntry",
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="subject",
    )
    # None only for shared configuration.
    clinic = models.ForeignKey(
        "patients.Clinic", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # None for configuration.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    # A copy of entry.timestamp (never changes), so that "newest first within a clinic" is one
    # index range scan instead of a join sorted afterwards.
    timestamp = models.DateTimeField()

    class Meta:
        ordering = ["-timestamp", "-entry"]
        indexes = [
            models.Index(fields=["clinic", "-timestamp"], name="audit_subject_clinic_time"),
            models.Index(fields=["patient", "-timestamp"], name="audit_subject_patient_time"),
        ]
        constraints = [
            # A patient's record always belongs to a clinic.
            models.CheckConstraint(
                condition=models.Q(patient__isnull=True) | models.Q(clinic__isnull=False),
                name="audit_subject_patient_has_clinic",
            ),
        ]

    def __str__(self) -> str:
        if self.patient_id is None:
            where = f"clinic {self.clinic_id}" if self.clinic_id else "every clinic"
            return f"Entry {self.entry_id} about the configuration of {where}"
        return f"Entry {self.entry_id} about patient {self.patient_id} of clinic {self.clinic_id}"
