"""A symptom reported by the patient: stored, turned into urgent checks due today, and sent to
the nurse at once, all in one transaction, so a report never exists without its alert. Then
acknowledged, once, by a nurse saying what was done; until then it waits on the worklist and
escalates to the lead like a red result (monitoring.alerts.scans)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.bulk import record_created
from monitoring.alerts.recipients import nurse_ids_for
from monitoring.domain import acknowledging, symptoms
from monitoring.models import Acknowledgement, Notification, ScheduledCheck, SymptomReport
from monitoring.outbox.store import notification_row, notifications_store
from patients.models import Patient
from patients.validators import NOTE_MAX_LENGTH, text_problems

logger = logging.getLogger(__name__)

DETAILS_MAX_LENGTH = 2000


def symptom_report_create(
    *,
    patient: Patient,
    symptom_codes: Sequence[str],
    details: str,
    reported_by,
    submission_key: uuid.UUID,
    now: datetime,
) -> SymptomReport:
    """Store the report, open one urgent check per panel the symptoms call for (due today on
    the clinic's calendar, overdue from tomorrow) and queue an at-once alert to the patient's
    nurse. A resubmitted form (same key) returns the report already stored."""
    codes = list(dict.fromkeys(symptom_codes))
    details = details.strip()
    _check(codes, details)
    with transaction.atomic():
        patient = (
            Patient.objects.select_for_update(of=("self",))
            .select_related("clinic")
            .get(pk=patient.pk)
        )
        already = SymptomReport.objects.filter(submission_key=submission_key).first()
        if already is not None:
            return already
        report = SymptomReport.objects.create(
            patient=patient,
            symptoms=codes,
            details=details,
            reported_by=reported_by,
            submission_key=submission_key,
            created_at=now,
        )
        today = patient.clinic.today(now)
        checks = ScheduledCheck.objects.bulk_create(
            [
                ScheduledCheck(
                    patient=patient,
                    panel=panel,
                    kind=ScheduledCheck.Kind.URGENT,
                    symptom_report=report,
                    due_date=today,
                    window_opens=today,
                    overdue_after=today,
                )
                for panel in symptoms.panels_to_test(codes)
            ]
        )
        # bulk_create bypasses save(), so the audit trail is told directly: unlike planned
        # checks, these follow from a person's action.
        record_created(checks)
        _alert_nurses(patient, report, checks, now)
    return report


def symptom_report_acknowledge(
    *, report: SymptomReport, action: str, note: str, acknowledged_by, now: datetime
) -> Acknowledgement:
    """Record that a nurse dealt with a reported symptom and what she did (called the patient,
    booked an urgent test, referred), with a note. It takes the report off the worklist and
    stops its escalation; its urgent checks stay open until a result completes them, since
    talking to the patient is not the blood test. A report is acknowledged once: a second
    attempt (another nurse a moment later) is refused, naming the first."""
    problems = {}
    if action not in acknowledging.SYMPTOM_ACTIONS:
        problems["action"] = "Choose what was done."
    if not note.strip():
        problems["note"] = "Write a note: what you did and what happens next."
    elif reason := acknowledging.reason_problem(action=action, note=note, urgent=True):
        problems["note"] = reason
    problems.update(text_problems(note=(note, NOTE_MAX_LENGTH, True)))
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        report = SymptomReport.objects.select_for_update().get(pk=report.pk)
        earlier = report.acknowledgements.select_related("acknowledged_by").first()
        if earlier is not None or not report.awaits_acknowledgement:
            by = f" by {earlier.acknowledged_by}" if earlier is not None else ""
            raise ValidationError(
                {"__all__": f"This symptom report has already been acknowledged{by}."}
            )
        acknowledgement = Acknowledgement.objects.create(
            symptom_report=report,
            action=action,
            note=note.strip(),
            acknowledged_by=acknowledged_by,
            acknowledged_at=now,
        )
        # An UPDATE, not a save, as for a result: the acknowledgement is the record of what
        # happened (and has its audit entry); the flag only follows from it.
        SymptomReport.objects.filter(pk=report.pk, awaits_acknowledgement=True).update(
            awaits_acknowledgement=False
        )
        return acknowledgement


def _check(codes: list[str], details: str) -> None:
    problems = {}
    if not codes:
        problems["symptoms"] = "Choose at least one symptom."
    elif any(code not in symptoms.BY_CODE for code in codes):
        problems["symptoms"] = "Choose symptoms from the list."
    elif symptoms.OTHER in codes and not details:
        problems["details"] = "Tell us what you have noticed."
    if len(details) > DETAILS_MAX_LENGTH:
        problems["details"] = f"Please keep it under {DETAILS_MAX_LENGTH} characters."
    if problems:
        raise ValidationError(problems)


def _alert_nurses(patient: Patient, report: SymptomReport, checks, now: datetime) -> None:
    """One at-once row per nurse, about the report's most urgent check. The key names that
    check, which belongs to this report alone, so each report alerts each nurse once. With no
    nurse at all the clinic lead is told rather than nobody."""
    lead = [patient.clinic.lead_id] if patient.clinic.lead_id else []
    recipients = nurse_ids_for(patient) or lead
    if not recipients:
        logger.error(
            "Symptom report %s for patient %s: the clinic has no nurse and no lead to alert.",
            report.pk,
            patient.pk,
        )
        return
    rows = [
        notification_row(
            kind=Notification.Kind.SYMPTOM_REPORT,
            delivery=Notification.Delivery.AT_ONCE,
            patient_id=patient.pk,
            user_id=user_id,
            check_id=checks[0].pk,
            symptom_report_id=report.pk,
            now=now,
        )
        for user_id in recipients
    ]
    notifications_store(rows)
