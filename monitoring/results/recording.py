"""Recording lab reports, one or thousands at once: the one pipeline every source goes through
(the entry form, the CSV import, the HL7 listener, the FHIR endpoint, results matched from the
waiting list). The form's single report is a batch of one.

A batch is checked whole before anything is stored: one problem anywhere refuses all of it,
each problem named by the report's key (a file row, "OBX[3]", "Bundle.entry[2]") and its field,
and nothing is stored. Otherwise, in one transaction and a fixed number of statements however
many reports the batch holds:

1. lock the batch's patients (in id order, so two batches cannot deadlock), read their courses,
   and the flag rules once;
2. read, in one query, every stored result a new flag looks at: the history of the batch's
   analytes for its patients and every result of its sample days;
3. flag each patient's new results in date order (each sees the ones before it, in the batch
   too), with the stored results they change: a later result whose previous value this one now
   is, and the same sample's result whose combination rule names this analyte;
4. insert the reports, the results and their first history versions and audit entries in bulk;
   save the re-flagged results as new versions in bulk;
5. complete the checks each report answers, and create the alerts, in bulk.
"""

from __future__ import annotations

import copy
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import F, Q, Window
from django.db.models.functions import DenseRank
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from audit.bulk import bulk_update_recorded, record_created
from monitoring.alerts.services import abnormal_alerts_create_many, results_awaiting_set
from monitoring.domain.measurements import MeasurementError
from monitoring.models import (
    OUTCOME_ABNORMAL,
    LabReport,
    LabResult,
    ResultImport,
    ResultStatus,
    ScheduledCheck,
)
from monitoring.results.entry import CheckedResult, ResultInput, result_check, sample_date_problems
from monitoring.results.flag_data import (
    PatientFlagData,
    flag_data_of,
    results_evaluate_with,
    stored_results_of,
)
from patients.models import Patient
from patients.validators import NOTE_MAX_LENGTH, text_problems

# What a re-flag of a stored result changes: saved in bulk as a new version of each.
REFLAG_FIELDS = [
    "tier",
    "value_tier",
    "reasons",
    "next_action",
    "rationale",
    "tier_since",
    "awaits_acknowledgement",
    "updated_at",
]


@dataclass(frozen=True)
class ReportToRecord:
    """One panel's results from one sample of one patient, as a source read them."""

    key: str  # how the source names this report in problems: "row 12", "OBR[1]", "entry[2]"
    patient: Patient
    panel: str
    sample_collected_on: date
    entries: Sequence[ResultInput]
    reported_on: date | None = None
    lab_name: str = ""
    lab_reference: str = ""
    notes: str = ""
    done_by: str = ""
    done_by_name: str = ""
    document_reference: str = ""
    import_row: int | None = None
    submission_key: uuid.UUID | None = None


@dataclass(frozen=True)
class RecordedReport:
    report: LabReport
    created: bool  # False when the submission key had already been recorded


class BatchRejected(Exception):
    """Nothing of the batch was stored. `problems` maps a report's key to its problems by
    field ("sample_collected_on", "<analyte code>", "<analyte code>_unit", "__all__")."""

    def __init__(self, problems: dict[str, dict[str, list[str]]]):
        self.problems = problems
        super().__init__(
            "; ".join(
                f"{key}: {message}"
                for key, fields in problems.items()
                for messages in fields.values()
                for message in messages
            )
        )


def reports_record(
    *,
    reports: Sequence[ReportToRecord],
    entered_by,
    source: str,
    result_import: ResultImport | None = None,
    today: date | None = None,
) -> list[RecordedReport]:
    """Store every report of the batch, or none (BatchRejected). Returns them in the batch's
    order; a report whose submission key was recorded before comes back as stored then
    (created False) and is not stored again. `today` (default: each patient's clinic's)
    decides which sample dates are in the future."""
    problems = {report.key: found for report in reports if (found := _report_problems(report))}
    if problems:
        raise BatchRejected(problems)
    if not reports:
        return []
    with transaction.atomic():
        patients = _locked_patients(reports)
        already = _recorded_before(reports)
        fresh = [report for report in reports if report.submission_key not in already]
        checked: dict[str, list[CheckedResult]] = {}
        for report in fresh:
            found, checked[report.key] = _checked(report, patients[report.patient.pk], today)
            if found:
                problems[report.key] = found
        if problems:
            raise BatchRejected(problems)  # leaving the transaction rolls back the locks only
        stored = _store(fresh, checked, patients, entered_by, source, result_import)
    return [
        RecordedReport(already[report.submission_key], False)
        if report.submission_key in already
        else RecordedReport(stored[report.key], True)
        for report in reports
    ]


def _report_problems(report: ReportToRecord) -> dict[str, list[str]]:
    """The report's own text fields, before any query."""
    field = LabReport._meta.get_field
    problems = text_problems(
        lab_name=(report.lab_name, field("lab_name").max_length, False),
        lab_reference=(report.lab_reference, field("lab_reference").max_length, False),
        notes=(report.notes, NOTE_MAX_LENGTH, True),
        done_by_name=(report.done_by_name, field("done_by_name").max_length, False),
        document_reference=(
            report.document_reference,
            field("document_reference").max_length,
            False,
        ),
    )
    if report.done_by and report.done_by not in LabReport.DoneBy.values:
        problems["done_by"] = f"“{report.done_by}” is not one of {DONE_BY_WORDS}."
    return {name: [message] for name, message in problems.items()}


DONE_BY_WORDS = ", ".join(label for label in LabReport.DoneBy.labels)


def _locked_patients(reports: Sequence[ReportToRecord]) -> dict[int, Patient]:
    # In id order, so two batches (an import beside a nurse's entry) cannot deadlock.
    ids = sorted({report.patient.pk for report in reports})
    locked = (
        Patient.objects.select_for_update(of=("self",))
        .select_related("clinic")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    return {patient.pk: patient for patient in locked}


def _recorded_before(reports: Sequence[ReportToRecord]) -> dict[uuid.UUID, LabReport]:
    keys = [report.submission_key for report in reports if report.submission_key is not None]
    if not keys:
        return {}
    return {
        report.submission_key: report
        for report in LabReport.objects.filter(submission_key__in=keys)
    }


def _checked(
    report: ReportToRecord, patient: Patient, today: date | None
) -> tuple[dict[str, list[str]], list[CheckedResult]]:
    entries = report.entries
    outcome = next((entry for entry in entries if entry.analyte.is_outcome), None)
    problems = sample_date_problems(
        sample_collected_on=report.sample_collected_on,
        reported_on=report.reported_on,
        date_of_birth=patient.date_of_birth,
        today=today or patient.clinic.today(),
        what="date done" if outcome else "sample date",
    )
    if outcome is not None:
        problems.update(
            outcome_problems(
                outcome,
                entries,
                notes=report.notes,
                done_by=report.done_by,
                done_by_name=report.done_by_name,
                document_reference=report.document_reference,
            )
        )
    checked = []
    seen = set()
    for entry in entries:
        code = entry.analyte.code
        if entry.analyte.panel != report.panel:
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
    return {name: [message] for name, message in problems.items()}, checked


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
        problems["done_by"] = f"Say where or by whom the check was done ({DONE_BY_WORDS})."
    elif done_by == LabReport.DoneBy.OTHER and not done_by_name.strip():
        problems["done_by_name"] = "Name who did the check, since it was neither of the others."
    value = (outcome.value or "").strip().lower()
    if value == OUTCOME_ABNORMAL and not notes.strip():
        problems["notes"] = "Say what was abnormal: the note is required for an abnormal outcome."
    return problems


def _store(reports, checked, patients, entered_by, source, result_import) -> dict[str, LabReport]:
    now = timezone.now()
    source = source or (LabReport.Source.CSV_IMPORT if result_import else LabReport.Source.MANUAL)
    stored = {
        report.key: LabReport(
            patient=patients[report.patient.pk],
            panel=report.panel,
            sample_collected_on=report.sample_collected_on,
            reported_on=report.reported_on,
            lab_name=report.lab_name.strip(),
            lab_reference=report.lab_reference.strip(),
            notes=report.notes.strip(),
            done_by=report.done_by,
            done_by_name=report.done_by_name.strip(),
            document_reference=report.document_reference.strip(),
            source=source,
            result_import=result_import,
            import_row=report.import_row,
            submission_key=report.submission_key,
            entered_by=entered_by,
            entered_at=now,
        )
        for report in reports
    }
    lab_reports = list(stored.values())
    bulk_create_with_history(lab_reports, LabReport, default_user=entered_by)
    record_created(lab_reports)
    results = [
        LabResult(
            report=stored[report.key],
            patient=stored[report.key].patient,
            sample_collected_on=report.sample_collected_on,
            analyte=result.analyte,
            value_text=result.value_text,
            unit=result.unit,
            canonical_value=result.canonical_value,
            reference_low=result.reference_low,
            reference_high=result.reference_high,
            comparator=result.comparator,
            status=result.status,
            tier_since=now,
        )
        for report in reports
        for result in checked[report.key]
    ]
    for lab_report in lab_reports:
        lab_report._batch_results = []
    for result in results:
        result.report._batch_results.append(result)
    reflagged = _flag(results, patients)
    results_awaiting_set(results)
    # One insert for the results and one for their first history versions.
    bulk_create_with_history(results, LabResult, default_user=entered_by)
    record_created(results)
    _save_reflagged(reflagged, entered_by, now)
    checks_complete(lab_reports)
    # In this transaction: the results and their alerts are stored together or not at all.
    abnormal_alerts_create_many(patients=patients.values(), results=[*results, *reflagged], now=now)
    return stored


def _flag(results: list[LabResult], patients: dict[int, Patient]) -> list[LabResult]:
    """Flag the new results, patient by patient, with the stored results they change; return
    those stored ones whose flag changed (not yet saved)."""
    if not results:
        return []
    # The rules, the courses and (for patients with other therapies) the episodes, once.
    data = flag_data_of(patients.values())
    stored = stored_results_of(
        list(patients),
        analyte_ids={result.analyte_id for result in results},
        dates={result.sample_collected_on for result in results},
    )
    stored_by_patient: dict[int, list[LabResult]] = defaultdict(list)
    for result in stored:
        stored_by_patient[result.patient_id].append(result)
    new_by_patient: dict[int, list[LabResult]] = defaultdict(list)
    for result in results:
        new_by_patient[result.patient_id].append(result)
    reflagged = []
    for patient_id, new in new_by_patient.items():
        history = stored_by_patient[patient_id]
        affected = _affected_by(new, history, data[patient_id])
        before = {result.pk: (result.tier, flag_of(result)) for result in affected}
        results_evaluate_with(results=new, stored=history, data=data[patient_id])
        # A new result whose combination rule reads another new result's tier (urine blood
        # beside a creatinine of the same day, in one batch) is flagged once more, now that
        # the other one's tier is known.
        again = _combined_with(new, data[patient_id])
        if again:
            others = [result for result in new if result not in again]
            results_evaluate_with(results=again, stored=[*history, *others], data=data[patient_id])
        # Then the stored ones, seeing the new results as flagged (a combination rule reads
        # the other result's tier).
        results_evaluate_with(results=affected, stored=[*history, *new], data=data[patient_id])
        for result in affected:
            tier, flag = before[result.pk]
            if result.tier != tier:
                result.tier_since = timezone.now()
            if flag_of(result) != flag:
                reflagged.append((result, result.tier != tier))
    retiered = [result for result, tier_changed in reflagged if tier_changed]
    # A new tier awaits a new acknowledgement, unless it was acknowledged at that tier before.
    results_awaiting_set(retiered)
    return [result for result, _ in reflagged]


def _combined_with(new: list[LabResult], data: PatientFlagData) -> list[LabResult]:
    by_day: dict[date, set[str]] = defaultdict(set)
    for result in new:
        by_day[result.sample_collected_on].add(result.analyte.code)
    return [
        result
        for result in new
        if any(
            rule.analyte == result.analyte.code
            and rule.with_analyte in by_day[result.sample_collected_on]
            for rule in data.rules
        )
    ]


def _affected_by(
    new: list[LabResult], history: list[LabResult], data: PatientFlagData
) -> list[LabResult]:
    """Stored results whose flag may change now: later results of the same analytes (a
    back-dated entry changes their previous value or baseline) and results of the same sample
    whose combination rules name one of the new analytes (urine blood before creatinine)."""
    earliest: dict[int, date] = {}
    for result in new:
        day = earliest.get(result.analyte_id)
        if day is None or result.sample_collected_on < day:
            earliest[result.analyte_id] = result.sample_collected_on
    codes = {result.analyte.code for result in new}
    partners = {rule.analyte for rule in data.rules if rule.with_analyte in codes}
    days = {result.sample_collected_on for result in new}
    return [
        stored
        for stored in history
        if (
            stored.analyte_id in earliest
            and stored.sample_collected_on > earliest[stored.analyte_id]
        )
        or (stored.analyte.code in partners and stored.sample_collected_on in days)
    ]


FLAG_FIELDS = ("tier", "value_tier", "reasons", "next_action", "rationale")


def flag_of(result: LabResult) -> tuple:
    """What a flag consists of, to tell whether a re-evaluation changed it."""
    return tuple(getattr(result, name) for name in FLAG_FIELDS)


def _save_reflagged(results: list[LabResult], entered_by, now) -> None:
    """The re-flagged stored results as new versions, in bulk: the update with its audit
    entries, then one insert of history versions naming why."""
    if not results:
        return
    for result in results:
        result.updated_at = now
    bulk_update_recorded(results, REFLAG_FIELDS)
    LabResult.history.bulk_history_create(
        results,
        update=True,
        default_user=entered_by,
        default_change_reason="Flag re-evaluated after an earlier result was recorded",
        default_date=now,
    )


def checks_complete(reports: Sequence[LabReport]) -> list[ScheduledCheck]:
    """Complete the pending checks each report answers, for many reports in two statements
    (read, then update). A report completes the pending checks of its panel whose window holds
    the sample date; if none does, the latest overdue one before it, which is then "completed
    late", with the checks sharing its visit (shares_visit: two therapies' checks of the panel
    on one visit, one draw). Checks sharing a visit have one window, so a sample in it completes
    them all. An open urgent check (a reported symptom) of that panel is answered by any sample
    taken on or after the day it was opened.

    Two checks a sample never completes: a course's pre-course baseline once that course's
    first infusion has passed (a sample after an infusion shows its effect, not the baseline),
    and, for a sample taken since the patient's tracking start, a check from before it (history
    is completed only by a historic sample). A report of preliminary values only completes
    nothing: the final one will. Reports of one patient and panel are taken in date order, so
    January's sample completes January's check and February's February's."""
    reports = [
        report
        for report in reports
        if any(result.status != ResultStatus.PRELIMINARY for result in _results_of(report))
    ]
    if not reports:
        return []
    pairs = {(report.patient_id, report.panel) for report in reports}
    earliest = min(report.sample_collected_on for report in reports)
    latest = max(report.sample_collected_on for report in reports)
    # The checks a sample can complete in its window, and the urgent ones: not the years of
    # overdue history a patient may have, which only matter when no window holds the sample.
    candidates = _pending_of(
        pairs, Q(overdue_after__gte=earliest) | Q(kind=ScheduledCheck.Kind.URGENT), latest
    )
    late = None
    completed: list[ScheduledCheck] = []
    before: list[ScheduledCheck] = []
    now = timezone.now()
    for report in sorted(reports, key=lambda r: (r.sample_collected_on, r.pk)):
        pair = (report.patient_id, report.panel)
        pending = candidates[pair]
        answered = _answered_by(report, pending)
        if not any(check.kind != ScheduledCheck.Kind.URGENT for check in answered):
            # No window holds the sample: the latest overdue check before it, "completed
            # late". Read once for the whole batch, the first time a report needs it.
            if late is None:
                late = _latest_overdue_of(pairs, latest)
            answered = _answered_by(
                report, pending + [check for check in late[pair] if check not in pending]
            )
        for check in answered:
            # Completed now: no later report of the batch may complete it again.
            for group in (pending, late[pair] if late is not None else []):
                if check in group:
                    group.remove(check)
            before.append(copy.copy(check))
            check.completed_on = report.sample_collected_on
            check.completed_by = report
            check.updated_at = now
            completed.append(check)
    # The checks were read in this transaction with their patients locked (every write to a
    # check locks its patient first), so they are still as read: no second read for the trail.
    bulk_update_recorded(completed, ["completed_on", "completed_by", "updated_at"], before=before)
    return completed


def _pending_of(pairs, condition: Q, latest: date) -> dict[tuple[int, str], list[ScheduledCheck]]:
    """Pending checks of these (patient, panel) pairs meeting `condition`, by pair: one query
    (a plain IN list of patients and of panels, a superset of the pairs filtered here, where
    an OR per pair would outgrow SQLite's expression depth)."""
    found: dict[tuple[int, str], list[ScheduledCheck]] = defaultdict(list)
    for check in (
        ScheduledCheck.objects.pending()
        .filter(
            condition,
            patient_id__in={patient for patient, _ in pairs},
            panel__in={panel for _, panel in pairs},
            window_opens__lte=latest,
        )
        .select_related("course")
        .order_by("due_date", "pk")
    ):
        if (check.patient_id, check.panel) in pairs:
            found[(check.patient_id, check.panel)].append(check)
    return found


# The overdue checks per patient and panel a late sample may complete: those of the latest
# few due dates. The latest one is the answer unless it is a baseline whose course has begun
# or history from before tracking, and those are never more than a couple in a row (a
# course's baseline, and the history, which is all older than anything a tracked sample
# completes). By due date, not by row: the checks sharing a visit have one due date, and all
# of them are read, however many therapies share it.
LATE_CANDIDATES = 3


def _latest_overdue_of(pairs, latest: date) -> dict[tuple[int, str], list[ScheduledCheck]]:
    """The latest LATE_CANDIDATES overdue pending checks of each pair, in one query, rather
    than the years of overdue history a patient of a clinic that came late to tracking has."""
    ranked = (
        ScheduledCheck.objects.pending()
        .filter(
            patient_id__in={patient for patient, _ in pairs},
            panel__in={panel for _, panel in pairs},
            overdue_after__lt=latest,
        )
        .exclude(kind=ScheduledCheck.Kind.URGENT)
        .annotate(
            recency=Window(
                DenseRank(),
                partition_by=[F("patient_id"), F("panel")],
                order_by=[F("due_date").desc()],
            )
        )
        .filter(recency__lte=LATE_CANDIDATES)
        .select_related("course")
        .order_by("due_date", "pk")
    )
    found: dict[tuple[int, str], list[ScheduledCheck]] = defaultdict(list)
    for check in ranked:
        if (check.patient_id, check.panel) in pairs:
            found[(check.patient_id, check.panel)].append(check)
    return found


def _results_of(report: LabReport):
    # The results being stored with the report are in the ORM's cache only when the caller
    # built them; a report read back has them in the database.
    cached = getattr(report, "_batch_results", None)
    return cached if cached is not None else report.results.all()


def _answered_by(report: LabReport, pending: list[ScheduledCheck]) -> list[ScheduledCheck]:
    sample = report.sample_collected_on
    tracked_from = report.patient.tracked_from
    possible = [
        check
        for check in pending
        if check.window_opens <= sample
        and not (
            check.kind == ScheduledCheck.Kind.PRE_COURSE
            and check.course is not None
            and check.course.first_infusion_date < sample
        )
    ]
    urgent = [check for check in possible if check.kind == ScheduledCheck.Kind.URGENT]
    planned = [check for check in possible if check.kind != ScheduledCheck.Kind.URGENT]
    in_window = [check for check in planned if check.overdue_after >= sample]
    if not in_window:
        late = [
            check
            for check in planned
            if check.overdue_after < sample
            and not (check.before_tracking and sample >= tracked_from)
        ]
        in_window = _with_visit_partners(late) if late else []
    return in_window + urgent


def _with_visit_partners(late: list[ScheduledCheck]) -> list[ScheduledCheck]:
    """The latest overdue check, and the checks sharing its visit (another therapy's check of
    the same panel on its dates, or the host of one): one draw, so one late sample answers
    them all, as it does both when a window holds the sample."""
    latest = max(late, key=lambda check: (check.due_date, check.pk))
    return [
        check
        for check in late
        if check is latest
        or (check.due_date == latest.due_date and (check.shares_visit or latest.shares_visit))
    ]
