"""Who is told about a patient's alerts."""

from __future__ import annotations

from patients.models import Clinic, Patient


def nurse_ids_for(patient: Patient) -> list[int]:
    """The patient's named nurse, or else everyone in the clinic's nurse group."""
    if patient.named_nurse_id:
        return [patient.named_nurse_id]
    return patient.clinic.nurse_ids()


def clinic_nurse_ids(clinic_ids) -> dict[int, list[int]]:
    """Each clinic's nurse group, for many clinics in one query."""
    groups: dict[int, list[int]] = {}
    rows = Clinic.nurses.through.objects.filter(clinic_id__in=clinic_ids).order_by("user_id")
    for clinic_id, user_id in rows.values_list("clinic_id", "user_id"):
        groups.setdefault(clinic_id, []).append(user_id)
    return groups
