"""Writes to lab results: recording a report, correcting a result, marking entries in error.

Every write locks the patient row first, so two entries for one patient (a double click, an
import running beside a nurse) are evaluated one after the other against the same history.
Corrections go through django-simple-history: each save keeps the old version with who and why.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from audit.bulk import record_created, update_recorded
from monitoring.alerts.services import abnormal_alerts_create, results_awaiting_set
from monitoring.domain.measurements import MeasurementError
from monitoring.models import (
    OUTCOME_ABNORMAL,
    OUTCOME_SCALE,
    Analyte,
    LabReport,
    LabResult,
    ResultImport,
    ResultStatus,
    ScheduledCheck,
)
from monitoring.results.entry import ResultInput, result_check, sample_date_problems
from monitoring.results.flag_data import patient_flag_data, results_evaluate
from monitoring.results.selectors import report_version, result_as_of, result_version
from patients.models import Patient
from patients.validators import NOTE_MAX_LENGTH, REASON_MAX_LENGTH, text_problems
from submissions.versions import Difference, version_check


@dataclass(frozen=True)
class RecordedReport:
    report: LabReport
    created: bool  # False when the submission key had already been recorded


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
    """Store one panel's results from one sample, flag them and complete the matching check.

    A check done without a lab value is a report whose one entry is the panel's outcome
    analyte (normal or abnormal): it needs `done_by` (LabReport.DoneBy), a name when that is
    "other", and `notes` saying what was found when abnormal (check_done_record builds it).

    Raises ValidationError keyed by field ("sample_collected_on", "<analyte code>",
    "<analyte code>_unit", "done_by", "notes", ...) and stores nothing when anything is wrong.
    """
    field = LabReport._meta.get_field
    problems = text_problems(
        lab_name=(lab_name, field("lab_name").max_length, False),
        notes=(notes, NOTE_MAX_LENGTH, True),
        done_by_name=(done_by_name, field("done_by_name").max_length, False),
        document_reference=(document_reference, field("document_reference").max_length, False),
    )
    if done_by and done_by not in LabReport.DoneBy.values:
        problems["done_by"] = f"“{done_by}” is not one of {_DONE_BY_WORDS}."
    if problems:
        raise ValidationError(problems)
    report_fields = {
        "done_by": done_by,
        "done_by_name": done_by_name.strip(),
        "document_reference": document_reference.strip(),
    }
    with transaction.atomic():
        patient = (
            Patient.objects.select_for_update(of=("self",))
            .select_related("clinic")
            .get(pk=patient.pk)
        )
        if submission_key is not None:
            already = LabReport.objects.filter(submission_key=submission_key).first()
            if already is not None:
                return RecordedReport(report=already, created=False)
        checked = _checked_entries(
            patient, panel, sample_collected_on, reported_on, entries, today, notes, report_fields
        )
        report = LabReport.objects.create(
            **report_fields,
            patient=patient,
            panel=panel,
            sample_collected_on=sample_collected_on,
            reported_on=reported_on,
            lab_name=lab_name.strip(),
            notes=notes.strip(),
            source=source
            or (LabReport.Source.CSV_IMPORT if result_import else LabReport.Source.MANUAL),
            lab_reference=lab_reference.strip(),
            result_import=result_import,
            import_row=import_row,
            submission_key=submission_key,
            entered_by=entered_by,
        )
        results = [
            LabResult(
                report=report,
                patient=patient,
                sample_collected_on=sample_collected_on,
                analyte=result.analyte,
                value_text=result.value_text,
                unit=result.unit,
                canonical_value=result.canonical_value,
                reference_low=result.reference_low,
                reference_high=result.reference_high,
                comparator=result.comparator,
                status=result.status,
            )
            for result in checked
        ]
        data = patient_flag_data(patient)
        results_evaluate(patient=patient, results=results, data=data)
        now = timezone.now()
        for result in results:
            result.tier_since = now
        results_awaiting_set(results)
        # One insert for the results and one for their first history versions.
        bulk_create_with_history(results, LabResult, default_user=entered_by)
        record_created(results)
        reflagged = _reflag(
            _affected_by(report, results, data), entered_by, f"{report} recorded", data=data
        )
        if any(result.status != ResultStatus.PRELIMINARY for result in results):
            # A preliminary value is flagged, but only the final one completes the check.
            _complete_checks(report)
        # In this transaction: the result and its alert are stored together or not at all.
        abnormal_alerts_create(patient=patient, results=[*results, *reflagged], now=now)
    return RecordedReport(report=report, created=True)


_DONE_BY_WORDS = ", ".join(label for label in LabReport.DoneBy.labels)


def _checked_entries(
    patient, panel, sample_collected_on, reported_on, entries, today, notes, report_fields
):
    outcome = next((entry for entry in entries if entry.analyte.is_outcome), None)
    problems = sample_date_problems(
        sample_collected_on=sample_collected_on,
        reported_on=reported_on,
        date_of_birth=patient.date_of_birth,
        today=today or patient.clinic.today(),
        what="date done" if outcome else "sample date",
    )
    if outcome is not None:
        problems.update(outcome_problems(outcome, entries, notes=notes, **report_fields))
    checked = []
    seen = set()
    for entry in entries:
        code = entry.analyte.code
        if entry.analyte.panel != panel:
            problems[code] = f"{entry.analyte.name} is not part of this panel."
            continue
        if code in seen:
            problems[code] = f"{entry.analyte.name} is given twice."
            continue
        seen.add(code)
        try:
            checked.append(result_check(entry))
        except MeasurementError as error:
            problems[code if error.field == "value" else f"{code}_{error.field}"] = error.message
    if not entries:
        problems["__all__"] = "Enter at least one result."
    if problems:
        raise ValidationError(problems)
    return checked


def outcome_problems(
    outcome: ResultInput,
    entries: Sequence[ResultInput],
    *,
    notes: str,
    done_by: str,
    done_by_name: str,
    document_reference: str = "",
) -> dict[str, str]:
    """What a check done without a lab value lacks, keyed by field. The CSV import asks the
    same, so a file and the form are refused with the same words."""
    problems: dict[str, str] = {}
    name = outcome.analyte.name
    if len(entries) > 1:
        problems[outcome.analyte.code] = (
            f"{name} is recorded on its own: a report with lab values needs no outcome, and "
            "an outcome stands for a check done without them."
        )
    if not done_by:
        problems["done_by"] = f"Say where or by whom the check was done ({_DONE_BY_WORDS})."
    elif done_by == LabReport.DoneBy.OTHER and not done_by_name.strip():
        problems["done_by_name"] = "Name who did the check, since it was neither of the others."
    value = (outcome.value or "").strip().lower()
    if value == OUTCOME_ABNORMAL and not notes.strip():
        problems["notes"] = "Say what was abnormal: the note is required for an abnormal outcome."
    return problems


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


def _affected_by(report: LabReport, results: list[LabResult], data) -> list[LabResult]:
    """Stored results whose flag may change now: later results of the same analytes (a
    back-dated entry changes their previous value) and results of the same sample whose
    combination rules name one of these analytes (urine blood entered before creatinine)."""
    codes = {result.analyte.code for result in results}
    partners = {rule.analyte for rule in data.rules if rule.with_analyte in codes}
    affected = Q(analyte_id__in=[r.analyte_id for r in results]) & Q(
        sample_collected_on__gt=report.sample_collected_on
    )
    if partners:
        affected |= Q(analyte__code__in=partners, sample_collected_on=report.sample_collected_on)
    return list(
        LabResult.objects.current()
        .filter(affected, patient_id=report.patient_id)
        .exclude(report=report)
        .select_related("analyte")
    )


def _complete_checks(report: LabReport) -> list[ScheduledCheck]:
    """Complete the pending checks of the report's panel whose window holds the sample date;
    if none does, the latest overdue one before it, which is then "completed late". An open
    urgent check (a reported symptom) of that panel is answered by any sample taken on or after
    the day it was opened, so it is completed too.

    Two checks a sample never completes: a course's pre-course baseline once that course's
    first infusion has passed (a sample after an infusion shows its effect, not the baseline),
    and, for a sample taken since the patient's tracking start, a check from before it (history
    is completed only by a historic sample)."""
    sample = report.sample_collected_on
    candidates = list(
        ScheduledCheck.objects.pending()
        .filter(patient_id=report.patient_id, panel=report.panel, window_opens__lte=sample)
        .exclude(kind=ScheduledCheck.Kind.PRE_COURSE, course__first_infusion_date__lt=sample)
    )
    tracked_from = report.patient.tracked_from  # the patient the caller has loaded and locked
    urgent = [check for check in candidates if check.kind == ScheduledCheck.Kind.URGENT]
    planned = [check for check in candidates if check.kind != ScheduledCheck.Kind.URGENT]
    in_window = [check for check in planned if check.overdue_after >= sample]
    if not in_window:
        late = [
            check
            for check in planned
            if check.overdue_after < sample
            and not (check.before_tracking and sample >= tracked_from)
        ]
        in_window = [max(late, key=lambda check: (check.due_date, check.pk))] if late else []
    in_window += urgent
    ids = [check.pk for check in in_window]
    if ids:
        update_recorded(
            ScheduledCheck.objects.filter(pk__in=ids),
            completed_on=sample,
            completed_by=report,
            updated_at=timezone.now(),
        )
    return in_window


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
            _complete_checks(result.report)
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


FLAG_FIELDS = ("tier", "value_tier", "reasons", "next_action", "rationale")


def _flag_of(result: LabResult) -> tuple:
    return tuple(getattr(result, name) for name in FLAG_FIELDS)


def _reflag(results, changed_by, reason: str, corrected=None, data=None) -> list[LabResult]:
    """Flag `results` again and save those whose flag changed (and `corrected`), each as a new
    history version naming the reason. Returns the saved ones."""
    before = {result.pk: _flag_of(result) for result in results}
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
        elif _flag_of(result) != before[result.pk]:
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
