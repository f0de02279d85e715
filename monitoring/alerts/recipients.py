"""Who is told about a patient's alerts."""

from __future__ import annotations

from patients.models import Patient


def nurse_ids_for(patient: Patient) -> list[int]:
    """The patient's named nurse, or else everyone in the clinic's nurse group."""
    if patient.named_nurse_id:
        return [patient.named_nurse_id]
    return patient.clinic.nurse_ids()
