"""Writes about alerts: outbox rows for abnormal results, acknowledgements, follow-up notes and
waivers. Each runs inside the caller's transaction or its own, so an alert is stored together
with the event that causes it, or not at all."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.bulk import update_recorded
from monitoring.models import (
    ACKNOWLEDGE_TIERS,
    URGENT_TIERS,
    Acknowledgement,
    LabResult,
    Notification,
    ScheduledCheck,
)
from patients.models import Patient

logger = logging.getLogger(__name__)

Kind = Notification.Kind
Delivery = Notification.Delivery


def notification_key(
    *,
    kind: str,
    user_id: int | None = None,
    recipient_patient_id: int | None = None,
    check_id: int | None = None,
    result_id: int | None = None,
    tier: str = "",
    lead_days: int | None = None,
) -> str:
    """The identity of an alert: what it is, what it is about, and who gets it. The unique
    constraint on it is what makes a second scan, or a second worker, create nothing new."""
    parts = [kind]
    if check_id is not None:
        parts.append(f"check{check_id}")
    if result_id is not None:
        parts.append(f"result{result_id}-{tier}")
    if lead_days is not None:
        parts.append(f"lead{lead_days}")
    parts.append(f"user{user_id}" if user_id is not None else f"patient{recipient_patient_id}")
    return ":".join(parts)


def notification_row(
    *,
    kind: str,
    delivery: str,
    patient_id: int,
    now: datetime,
    user_id: int | None = None,
    recipient_patient_id: int | None = None,
    check_id: int | None = None,
    result_id: int | None = None,
    tier: str = "",
    lead_days: int | None = None,
) -> Notification:
    return Notification(
        key=notification_key(
            kind=kind,
            user_id=user_id,
            recipient_patient_id=recipient_patient_id,
            check_id=check_id,
            result_id=result_id,
            tier=tier,
            lead_days=lead_days,
        ),
        kind=kind,
        delivery=delivery,
        recipient_user_id=user_id,
        recipient_patient_id=recipient_patient_id,
        patient_id=patient_id,
        scheduled_check_id=check_id,
        result_id=result_id,
        tier=tier,
        lead_days=lead_days,
        not_before=now,
        created_at=now,
    )


def notifications_store(rows: list[Notification]) -> None:
    """Insert the rows in one statement; a row whose key exists already is skipped, so running
    the same scan twice, or two at once, stores each alert once."""
    if rows:
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        deliveries_enqueue(rows)


def deliveries_enqueue(rows: Iterable[Notification]) -> None:
    """Once the transaction commits, ask a worker to deliver the rows that go at once. If the
    broker is down the rows stay queued in the database and the periodic sweep sends them."""
    groups = {
        (row.recipient_user_id, row.recipient_patient_id, row.delivery)
        for row in rows
        if row.delivery == Delivery.AT_ONCE
    }
    if groups:
        transaction.on_commit(lambda: _enqueue(groups))


def _enqueue(groups) -> None:
    from monitoring.tasks import deliver_batch

    for user_id, patient_id, delivery in groups:
        try:
            deliver_batch.delay(user_id, patient_id, delivery)
        except Exception:  # the broker is unreachable: the sweep will deliver from the outbox
            logger.warning(
                "Could not queue delivery for user=%s patient=%s; left for the sweep.",
                user_id,
                patient_id,
                exc_info=True,
            )


def nurse_ids_for(patient: Patient) -> list[int]:
    """The patient's named nurse, or else everyone in the clinic's nurse group."""
    if patient.named_nurse_id:
        return [patient.named_nurse_id]
    return patient.clinic.nurse_ids()


def abnormal_alerts_create(*, patient: Patient, results: Iterable[LabResult], now: datetime):
    """Outbox rows for results now flagged amber or worse and not yet acknowledged at that
    tier. Red and critical go to the nurse at once; amber waits for the daily digest."""
    flagged = [result for result in results if result.tier in ACKNOWLEDGE_TIERS]
    if not flagged:
        return
    acknowledged = set(
        Acknowledgement.objects.filter(result__in=flagged).values_list("result_id", "tier")
    )
    nurses = nurse_ids_for(patient)
    rows = [
        notification_row(
            kind=Kind.ABNORMAL_RESULT,
            delivery=Delivery.AT_ONCE if result.tier in URGENT_TIERS else Delivery.NURSE_DIGEST,
            patient_id=patient.pk,
            user_id=nurse_id,
            result_id=result.pk,
            tier=result.tier,
            now=now,
        )
        for result in flagged
        if (result.pk, result.tier) not in acknowledged
        for nurse_id in nurses
    ]
    notifications_store(rows)


def results_awaiting_set(results: Iterable[LabResult]) -> None:
    """Set `awaits_acknowledgement` on results about to be saved, from their tier: amber or worse,
    current, and not acknowledged at that tier (a correction back to a tier already acknowledged
    needs no new acknowledgement). One query, and none when no result is flagged or all are new.
    The callers pass current results on current reports."""
    results = list(results)
    for result in results:
        result.awaits_acknowledgement = (
            result.tier in ACKNOWLEDGE_TIERS and not result.is_entered_in_error
        )
    stored = [result for result in results if result.awaits_acknowledgement and result.pk]
    if not stored:
        return
    acknowledged = set(
        Acknowledgement.objects.filter(result__in=stored).values_list("result_id", "tier")
    )
    for result in stored:
        if (result.pk, result.tier) in acknowledged:
            result.awaits_acknowledgement = False


def result_acknowledge(
    *, result: LabResult, action: str, note: str, acknowledged_by, now: datetime
) -> Acknowledgement:
    """Record that a named nurse or clinician saw an abnormal result and what they did. It
    stops the result's escalation; a later change of tier needs a new acknowledgement."""
    problems = _ack_problems(action, note)
    with transaction.atomic():
        Patient.objects.select_for_update(of=("self",)).get(pk=result.patient_id)
        result = LabResult.objects.get(pk=result.pk)
        if result.tier not in ACKNOWLEDGE_TIERS:
            problems["__all__"] = "Only amber, red and critical results need acknowledging."
        elif result.acknowledgements.filter(tier=result.tier).exists():
            problems["__all__"] = "This result has already been acknowledged at its tier."
        if result.is_entered_in_error:
            problems["__all__"] = "This result was marked entered in error."
        if problems:
            raise ValidationError(problems)
        acknowledgement = Acknowledgement.objects.create(
            result=result,
            tier=result.tier,
            action=action,
            note=note.strip(),
            acknowledged_by=acknowledged_by,
            acknowledged_at=now,
        )
        # An UPDATE, not a save: the acknowledgement is the record of what happened, and a save
        # would add a version of the unchanged result to its history.
        LabResult.objects.filter(pk=result.pk, tier=result.tier).update(
            awaits_acknowledgement=False
        )
        return acknowledgement


def check_follow_up(
    *, check: ScheduledCheck, action: str, note: str, acknowledged_by, now: datetime
) -> Acknowledgement:
    """A note on an overdue or due check (called the patient, rebooked). The check stays open
    until a result completes it or it is waived, so it can still escalate."""
    problems = _ack_problems(action, note)
    if not check.is_open:
        problems["__all__"] = "This check is no longer open."
    if problems:
        raise ValidationError(problems)
    return Acknowledgement.objects.create(
        scheduled_check=check,
        action=action,
        note=note.strip(),
        acknowledged_by=acknowledged_by,
        acknowledged_at=now,
    )


def check_waive(*, check: ScheduledCheck, reason: str, waived_by, now: datetime) -> ScheduledCheck:
    """Waive a check that will not be done (patient in hospital, test done elsewhere and not
    reported), keeping who, when and why on the check."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the check is waived."})
    with transaction.atomic():
        updated = update_recorded(
            ScheduledCheck.objects.open().filter(pk=check.pk),
            waived_at=now,
            waived_by=waived_by,
            waived_reason=reason.strip(),
            updated_at=now,
        )
        if not updated:
            raise ValidationError({"__all__": "This check is no longer open."})
    check.refresh_from_db()
    return check


def _ack_problems(action: str, note: str) -> dict[str, str]:
    problems = {}
    if action not in Acknowledgement.Action.values:
        problems["action"] = "Choose what was done."
    if not note.strip():
        problems["note"] = "Write a note: what you did and what happens next."
    return problems
