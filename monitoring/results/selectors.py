"""Reads of lab results shared by the screens."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from monitoring.models import LabResult, ResultImport
from patients.access import clinics_for, in_scope_or_404, patients_for


def result_for(request, pk: int) -> LabResult:
    """One result of the user's clinics, or 404 (logged) for anything else."""
    results = LabResult.objects.filter(patient__in=patients_for(request.user))
    return in_scope_or_404(request, results.select_related("analyte", "patient", "report"), pk=pk)


def stalled_imports(*, now: datetime) -> list[int]:
    """Imports still IMPORTING whose last batch is older than RESULT_IMPORT_STALLED_SECONDS: a
    run would have stored a batch or queued its continuation by then."""
    quiet = timedelta(seconds=settings.RESULT_IMPORT_STALLED_SECONDS)
    return list(
        ResultImport.objects.filter(
            status=ResultImport.Status.IMPORTING, progressed_at__lte=now - quiet
        ).values_list("pk", flat=True)
    )


def import_for(request, pk: int) -> ResultImport:
    """One import of the user's clinics, or 404 (logged) for anything else."""
    imports = ResultImport.objects.filter(clinic__in=clinics_for(request.user))
    return in_scope_or_404(request, imports.select_related("clinic"), pk=pk)
