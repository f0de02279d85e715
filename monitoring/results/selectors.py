"""Reads of lab results shared by the screens."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max

from monitoring.models import LabReport, LabResult, ResultImport
from patients.access import clinics_for, in_scope_or_404, patients_for


def result_for(request, pk: int) -> LabResult:
    """One result of the user's clinics, or 404 (logged) for anything else."""
    results = LabResult.objects.filter(patient__in=patients_for(request.user))
    return in_scope_or_404(request, results.select_related("analyte", "patient", "report"), pk=pk)


def result_version(result_id: int) -> int:
    """The version an edit form of the result is opened on: its latest history row. A
    correction, an entry in error and a re-flag after an earlier result changed each add one."""
    latest = LabResult.history.filter(id=result_id).aggregate(latest=Max("history_id"))
    return latest["latest"] or 0


def report_version(report_id: int) -> str:
    """A report's version covers its results too: correcting one of them changes it."""
    report = LabReport.history.filter(id=report_id).aggregate(latest=Max("history_id"))
    results = LabResult.history.filter(report_id=report_id).aggregate(latest=Max("history_id"))
    return f"{report['latest'] or 0}.{results['latest'] or 0}"


def result_as_of(result_id: int, version: int | str | None) -> str:
    """The result's value as the version `version` showed it ("" if unknown)."""
    try:
        version = int(version)
    except (TypeError, ValueError):
        return ""
    row = LabResult.history.filter(id=result_id, history_id__lte=version).order_by("-history_id")
    row = row.values("comparator", "value_text", "unit").first()
    return f"{row['comparator']}{row['value_text']} {row['unit']}".strip() if row else ""


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
