"""Results waiting for a person, handled: matched to a patient of the clinic (and then recorded
through the one recording pipeline, as if the lab had named the patient rightly) or dismissed
with a reason.

A group (one message's results about one hospital number) is handled whole, under a lock on
its rows: two people matching it at once, or a double click, record it once. A row that is no
longer waiting when the lock is taken (someone else handled it meanwhile) is left as it is and
counted, so the person is told. Every change of a row is in the audit trail, as the clinic's
(audit.registry: the row names no patient until it is matched, and the matched results are in
the patient's own trail)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.formats import date_format

from audit.bulk import update_recorded
from labfeeds.models import LabMessage, WaitingResult
from labfeeds.selectors import same_group, waiting_matchable
from monitoring.models import LabReport, LabResult, ResultStatus
from monitoring.results.entry import ResultInput
from monitoring.results.recording import BatchRejected, ReportToRecord, reports_record
from patients.models import Patient
from patients.validators import REASON_MAX_LENGTH, text_problems

DISMISS_REASON_REQUIRED = "Say why these results are dismissed."
NOTHING_TO_MATCH = (
    "None of these results can be recorded for a patient: the clinic does not monitor their "
    "test, or the lab withdrew them. Dismiss them with a reason."
)


@dataclass
class Handled:
    """What handling a group did."""

    done: int = 0  # rows matched (their results recorded) or dismissed now
    # Rows someone else had matched or dismissed before this lock was taken: left alone.
    already_handled: int = 0
    # Rows of the group that waiting_match could not record (not monitored, withdrawn): they
    # still wait, for a dismissal.
    still_waiting: int = 0
    reports: list[LabReport] = field(default_factory=list)


def waiting_match(*, row: WaitingResult, patient: Patient, matched_by, now: datetime) -> Handled:
    """Record the waiting results of `row`'s group for `patient`, a patient of the same clinic,
    through monitoring.results.recording (flagged, checks completed, alerts created), entered
    by `matched_by`, and mark the rows matched. All or nothing: a result the pipeline refuses
    (a unit its analyte does not take) stores nothing and is raised as a ValidationError
    naming where it is in the lab's message."""
    if patient.clinic_id != row.clinic_id:
        raise ValidationError({"patient": "Choose a patient of the clinic these results are for."})
    with transaction.atomic():
        rows = list(
            same_group(row).select_related("analyte", "message").select_for_update(of=("self",))
        )
        handled = Handled(
            already_handled=sum(1 for r in rows if r.state != WaitingResult.State.WAITING)
        )
        waiting = [r for r in rows if r.state == WaitingResult.State.WAITING]
        to_match = [r for r in waiting if waiting_matchable(r)]
        handled.still_waiting = len(waiting) - len(to_match)
        if not to_match:
            if waiting:
                raise ValidationError(NOTHING_TO_MATCH)
            return handled  # all handled meanwhile: nothing to do
        _refuse_duplicates(patient, to_match)
        batches = _reports(patient, to_match)
        message = to_match[0].message
        try:
            recorded = reports_record(
                reports=[report for report, _ in batches],
                entered_by=matched_by,
                source=_source(message),
                today=patient.clinic.today(now),
            )
            stored = [each.report for each in recorded]
        except BatchRejected as rejected:
            raise ValidationError(_problems(rejected, batches)) from rejected
        for (_, batch_rows), report in zip(batches, stored, strict=True):
            update_recorded(
                WaitingResult.objects.filter(pk__in=[r.pk for r in batch_rows]),
                state=WaitingResult.State.MATCHED,
                matched_patient=patient,
                matched_report=report,
                handled_by=matched_by,
                handled_at=now,
            )
        message.reports.add(*stored)
        handled.done = len(to_match)
        handled.reports = stored
    return handled


def waiting_dismiss(*, row: WaitingResult, reason: str, dismissed_by, now: datetime) -> Handled:
    """Dismiss every waiting result of `row`'s group, with `reason` (required): kept, with who
    and when, never recorded for a patient."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": DISMISS_REASON_REQUIRED})
    if problems := text_problems(reason=(reason, REASON_MAX_LENGTH, True)):
        raise ValidationError(problems)
    with transaction.atomic():
        rows = list(same_group(row).select_for_update())
        waiting = [r for r in rows if r.state == WaitingResult.State.WAITING]
        handled = Handled(already_handled=len(rows) - len(waiting))
        if waiting:
            handled.done = update_recorded(
                WaitingResult.objects.filter(pk__in=[r.pk for r in waiting]),
                state=WaitingResult.State.DISMISSED,
                dismiss_reason=reason,
                handled_by=dismissed_by,
                handled_at=now,
            )
    return handled


def _source(message: LabMessage) -> str:
    if message.protocol == LabMessage.Protocol.HL7:
        return LabReport.Source.HL7
    return LabReport.Source.FHIR


def _stored_status(status: str) -> str:
    return {
        "preliminary": ResultStatus.PRELIMINARY,
        "corrected": ResultStatus.CORRECTED,
    }.get(status, ResultStatus.FINAL)


def _reports(
    patient: Patient, rows: list[WaitingResult]
) -> list[tuple[ReportToRecord, list[WaitingResult]]]:
    """One report per panel, sample day and lab reference, as the lab feeds group them; each
    with the rows it records."""
    grouped: dict[tuple, list[WaitingResult]] = defaultdict(list)
    for row in rows:
        grouped[(row.analyte.panel, row.sample_collected_on, row.lab_reference)].append(row)
    return [
        (
            ReportToRecord(
                key=batch[0].position or f"result {batch[0].pk}",
                patient=patient,
                panel=panel,
                sample_collected_on=sample,
                lab_name=batch[0].lab_name,
                lab_reference=reference,
                entries=[
                    ResultInput(
                        analyte=r.analyte,
                        value=r.value,
                        unit=r.unit,
                        reference_low=r.reference_low,
                        reference_high=r.reference_high,
                        comparator=r.comparator,
                        status=_stored_status(r.result_status),
                        code=r.code.strip(),
                    )
                    for r in batch
                ],
            ),
            batch,
        )
        for (panel, sample, reference), batch in grouped.items()
    ]


def _refuse_duplicates(patient: Patient, rows: list[WaitingResult]) -> None:
    """A result the patient already has (the same test, sample day and lab reference: the lab
    sent it again with the right hospital number, say) is not recorded twice. One query."""
    wanted = {(r.analyte_id, r.sample_collected_on, r.lab_reference): r for r in rows}
    existing = (
        LabResult.objects.current()
        .filter(
            patient=patient,
            analyte_id__in={r.analyte_id for r in rows},
            sample_collected_on__in={r.sample_collected_on for r in rows},
        )
        .values_list("analyte_id", "sample_collected_on", "report__lab_reference")
    )
    problems = []
    for key in existing:
        row = wanted.get(tuple(key))
        if row is not None:
            problems.append(
                f"{patient} already has a {row.analyte.name} result from the sample of "
                f"{date_format(row.sample_collected_on, 'DATE_FORMAT')}"
                f"{f' (lab reference {row.lab_reference})' if row.lab_reference else ''}: "
                "this one would be recorded twice. If it is the same result, dismiss it."
            )
    if problems:
        raise ValidationError(problems)


def _problems(rejected: BatchRejected, batches) -> list[str]:
    """The pipeline's problems, each named by where the result is in the lab's message and by
    its test: a report's field is "<analyte code>" (the value) or "<analyte code>_<field>"."""
    rows_by_key = {report.key: rows for report, rows in batches}
    problems = []
    for key, fields in rejected.problems.items():
        rows = rows_by_key.get(key, [])
        for name, messages in fields.items():
            row = next(
                (
                    r
                    for r in rows
                    if name == r.analyte.code or name.startswith(f"{r.analyte.code}_")
                ),
                None,
            )
            where = f"{row.position}, {row.code_display or row.code}" if row else key
            problems.extend(f"{where}: {message}" for message in messages)
    return problems
