"""Writes to lab results: recording a report, correcting a result, marking entries in error.

Every write locks the patient row first, so two entries for one patient (a double click, an
import running beside a nurse) are evaluated one after the other against the same history.
Corrections go through django-simple-history: each save keeps the old version with who and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit.bulk import update_recorded
from monitoring.alerts.services import abnormal_alerts_create, results_awaiting_set
from monitoring.domain.measurements import MeasurementError
from monitoring.models import (
    OUTCOME_SCALE,
    Analyte,
    LabReport,
    LabResult,
    ResultImport,
    ResultStatus,
)
from monitoring.results.entry import ResultInput, result_check
from monitoring.results.flag_data import results_evaluate
from monitoring.results.recording import (
    BatchRejected,
    RecordedReport,
    ReportToRecord,
    checks_complete,
    flag_of,
    reports_record,
)
from monitoring.results.selectors import report_version, result_as_of, result_version
from patients.models import Patient
from patients.validators import REASON_MAX_LENGTH, text_problems
from submissions.versions import Difference, version_check


def report_record(
    *,
    patient: Patient,
    panel: str,
    sample_collected_on: date,
    entries: Sequence[ResultInput],
    entered_by,
    reported_on: date | None = None,
    lab_name: str = "",
    notes: str = "",
    done_by: str = "",
    done_by_name: str = "",
    document_reference: str = "",
    submission_key: uuid.UUID | None = None,
    result_import: ResultImport | None = None,
    import_row: int | None = None,
    source: str = "",
    lab_reference: str = "",
    today: date | None = None,
) -> RecordedReport:
    """Store one panel's results from one sample, flag them and complete the matching check:
    the recording pipeline (results.recording) with a batch of one.

    A check done without a lab value is a report whose one entry is the panel's outcome
    analyte (normal or abnormal): it needs `done_by` (LabReport.DoneBy), a name when that is
    "other", and `notes` saying what was found when abnormal (check_done_record builds it).

    Raises ValidationError keyed by field ("sample_collected_on", "<analyte code>",
    "<analyte code>_unit", "done_by", "notes", ...) and stores nothing when anything is wrong.
    """
    report = ReportToRecord(
        key="report",
        patient=patient,
        panel=panel,
        sample_collected_on=sample_collected_on,
        entries=entries,
        reported_on=reported_on,
        lab_name=lab_name,
        lab_reference=lab_reference,
        notes=notes,
        done_by=done_by,
        done_by_name=done_by_name,
        document_reference=document_reference,
        import_row=import_row,
        submission_key=submission_key,
    )
    try:
        (recorded,) = reports_record(
            reports=[report],
            entered_by=entered_by,
            source=source,
            result_import=result_import,
            today=today,
        )
    except BatchRejected as rejected:
        raise ValidationError(rejected.problems["report"]) from rejected
    return recorded


def check_done_record(
    *,
    patient: Patient,
    panel: str,
    done_on: date,
    outcome: str,
    done_by: str,
    entered_by,
    done_by_name: str = "",
    notes: str = "",
    document_reference: str = "",
    submission_key: uuid.UUID | None = None,
    today: date | None = None,
) -> RecordedReport:
    """A check recorded as done without a lab value (a skin examination, a baseline at
    another hospital): a report of the panel's outcome analyte, so it completes the check,
    and an abnormal outcome is flagged and acknowledged like any result. Raises
    ValidationError keyed by field ("sample_collected_on" for the date done, "outcome",
    "done_by", "notes", ...); stores nothing then."""
    analyte = Analyte.objects.filter(panel=panel, is_outcome=True).first()
    if analyte is None:
        raise ValidationError({"__all__": "This check cannot be recorded without its values."})
    if outcome not in OUTCOME_SCALE:
        raise ValidationError({"outcome": "Choose normal or abnormal."})
    try:
        return report_record(
            patient=patient,
            panel=panel,
            sample_collected_on=done_on,
            entries=[ResultInput(analyte, outcome)],
            entered_by=entered_by,
            notes=notes,
            done_by=done_by,
            done_by_name=done_by_name,
            document_reference=document_reference,
            submission_key=submission_key,
            today=today,
        )
    except ValidationError as error:
        # The form calls the outcome "outcome", not by the analyte's code.
        problems = error.message_dict
        if analyte.code in problems:
            problems["outcome"] = problems.pop(analyte.code)
        raise ValidationError(problems) from error


def result_correct(
    *,
    result: LabResult,
    value: str,
    unit: str,
    reason: str,
    corrected_by,
    reference_low: str = "",
    reference_high: str = "",
    opened_version: int | str | None = None,
    comparator: str = "",
    status: str | None = None,
) -> LabResult:
    """A new version of the result with who, when and why; the old one stays in its history.
    The result and the later results of the same analyte are flagged again. `opened_version`
    (results.selectors.result_version when the form was shown) refuses a correction made on
    an older version than the stored one: StaleEdit shows both values."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the result is corrected."})
    _check_reason(reason)
    with transaction.atomic():
        Patient.objects.select_for_update(of=("self",)).get(pk=result.patient_id)
        result = LabResult.objects.select_related("analyte", "report").get(pk=result.pk)
        if result.is_entered_in_error or result.report.is_entered_in_error:
            raise ValidationError({"__all__": "This result was marked entered in error."})
        version_check(
            what=f"{result.analyte} of {result.sample_collected_on:%d %b %Y}",
            opened=opened_version,
            current=result_version(result.pk),
            differences=[Difference("Value", result.display_value, f"{value} {unit}".strip())],
        )
        was_preliminary = result.status == ResultStatus.PRELIMINARY
        entry = ResultInput(
            result.analyte,
            value,
            unit,
            reference_low,
            reference_high,
            comparator,
            status or result.status,
        )
        try:
            checked = result_check(entry)
        except MeasurementError as error:
            raise ValidationError({error.field: error.message}) from error
        result.value_text = checked.value_text
        result.unit = checked.unit
        result.canonical_value = checked.canonical_value
        result.reference_low = checked.reference_low
        result.reference_high = checked.reference_high
        result.comparator = checked.comparator
        result.status = checked.status
        _alert_changed(_reflag_from(result, corrected_by, reason))
        if was_preliminary and result.status != ResultStatus.PRELIMINARY:
            # The final value completes the check the preliminary one could not.
            checks_complete([result.report])
    return result


def result_mark_in_error(
    *, result: LabResult, reason: str, marked_by, opened_version: int | str | None = None
) -> LabResult:
    """Take a wrong result out of every flag, trend and count, keeping it and its history.
    A result changed since the form was opened (`opened_version`) is refused: StaleEdit."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the result was entered in error."})
    _check_reason(reason)
    with transaction.atomic():
        Patient.objects.select_for_update(of=("self",)).get(pk=result.patient_id)
        result = LabResult.objects.select_related("analyte").get(pk=result.pk)
        if result.is_entered_in_error:
            return result
        version_check(
            what=f"{result.analyte} of {result.sample_collected_on:%d %b %Y}",
            opened=opened_version,
            current=result_version(result.pk),
            differences=[
                Difference("Value", result.display_value, result_as_of(result.pk, opened_version))
            ],
        )
        _mark_in_error(result, reason, marked_by)
        _alert_changed(_reflag(_later_results(result), marked_by, reason))
    return result


def report_mark_in_error(
    *, report: LabReport, reason: str, marked_by, opened_version: str | None = None
) -> LabReport:
    """The whole report was wrong (wrong patient, say): its results leave every flag and trend,
    and the checks it completed open again. A report whose results changed since the form was
    opened (`opened_version`, results.selectors.report_version) is refused: StaleEdit."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the report was entered in error."})
    _check_reason(reason)
    with transaction.atomic():
        patient = Patient.objects.select_for_update(of=("self",)).get(pk=report.patient_id)
        report = LabReport.objects.get(pk=report.pk)
        if report.is_entered_in_error:
            return report
        current = report_version(report.pk)
        if opened_version is not None and opened_version != current:
            results_opened = opened_version.rpartition(".")[2]
            version_check(
                what=str(report),
                opened=opened_version,
                current=current,
                differences=[
                    Difference(
                        str(result.analyte),
                        result.display_value,
                        result_as_of(result.pk, results_opened),
                    )
                    for result in report.results.select_related("analyte")
                    if result.display_value != result_as_of(result.pk, results_opened)
                ],
            )
        _mark_in_error(report, reason, marked_by)
        # Its results no longer wait for anyone; they keep their own versions unchanged.
        report.results.filter(awaits_acknowledgement=True).update(awaits_acknowledgement=False)
        update_recorded(report.completed_checks.all(), completed_on=None, completed_by=None)
        # The report's results share its sample date: every current result of those analytes
        # from that date on may lose a previous value or baseline, in one query.
        later = list(
            LabResult.objects.current()
            .filter(
                patient=patient,
                analyte__in=report.results.values("analyte"),
                sample_collected_on__gte=report.sample_collected_on,
            )
            .select_related("analyte")
        )
        _alert_changed(_reflag(later, marked_by, reason))
    return report


def _mark_in_error(record: LabResult | LabReport, reason: str, marked_by) -> None:
    record.entered_in_error_at = timezone.now()
    record.entered_in_error_reason = reason.strip()
    if isinstance(record, LabResult):
        record.awaits_acknowledgement = False
    record._history_user = marked_by
    record._change_reason = f"Entered in error: {reason.strip()}"
    record.save()


def _later_results(result: LabResult) -> list[LabResult]:
    return list(
        LabResult.objects.current()
        .filter(
            patient_id=result.patient_id,
            analyte_id=result.analyte_id,
            sample_collected_on__gte=result.sample_collected_on,
        )
        .exclude(pk=result.pk)
        .select_related("analyte")
    )


def _reflag_from(result: LabResult, changed_by, reason: str) -> list[LabResult]:
    return _reflag([result, *_later_results(result)], changed_by, reason, corrected=result)


def _alert_changed(results: list[LabResult]) -> None:
    if results:
        abnormal_alerts_create(patient=results[0].patient, results=results, now=timezone.now())


def _reflag(results, changed_by, reason: str, corrected=None, data=None) -> list[LabResult]:
    """Flag `results` again and save those whose flag changed (and `corrected`), each as a new
    history version naming the reason. Returns the saved ones."""
    before = {result.pk: flag_of(result) for result in results}
    tiers = {result.pk: result.tier for result in results}
    patient = results[0].patient if results else None
    saved = []
    now = timezone.now()
    evaluated = results_evaluate(patient=patient, results=results, data=data)
    retiered = [result for result in evaluated if result.tier != tiers[result.pk]]
    # A new tier awaits a new acknowledgement, unless it was acknowledged at that tier before.
    results_awaiting_set(retiered)
    for result in evaluated:
        if result.tier != tiers[result.pk]:
            result.tier_since = now
        if result is corrected:
            result._change_reason = f"Corrected: {reason.strip()}"
        elif flag_of(result) != before[result.pk]:
            result._change_reason = f"Flag re-evaluated after an earlier result changed: {reason}"
        else:
            continue
        result._history_user = changed_by
        result.save()
        saved.append(result)
    return saved


def _check_reason(reason: str) -> None:
    if problems := text_problems(reason=(reason, REASON_MAX_LENGTH, True)):
        raise ValidationError(problems)
