"""Reads of lab results shared by the screens."""

from __future__ import annotations

from monitoring.models import LabResult
from patients.access import in_scope_or_404, patients_for


def result_for(request, pk: int) -> LabResult:
    """One result of the user's clinics, or 404 (logged) for anything else."""
    results = LabResult.objects.filter(patient__in=patients_for(request.user))
    return in_scope_or_404(request, results.select_related("analyte", "patient", "report"), pk=pk)
