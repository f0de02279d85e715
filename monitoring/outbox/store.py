"""Writing the outbox: each alert is a Notification row under a unique key, stored in the caller's
transaction, and handed to a worker once that transaction commits.

Services queue the delivery task by its name rather than importing the task module, so the
import direction stays tasks -> services and never back."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from celery import current_app
from django.db import transaction
from django.db.models import Q

from audit.bulk import update_recorded
from monitoring.models import Notification

logger = logging.getLogger(__name__)

Delivery = Notification.Delivery

# The Celery name of outbox.tasks.deliver_batch, kept from when all tasks lived in one module.
DELIVER_BATCH = "monitoring.tasks.deliver_batch"


def notification_key(
    *,
    kind: str,
    user_id: int | None = None,
    recipient_patient_id: int | None = None,
    check_id: int | None = None,
    result_id: int | None = None,
    tier: str = "",
    lead_days: int | None = None,
    symptom_report_id: int | None = None,
) -> str:
    """The identity of an alert: what it is, what it is about, and who gets it. The unique
    constraint on it is what makes a second scan, or a second worker, create nothing new."""
    parts = [kind]
    if check_id is not None:
        parts.append(f"check{check_id}")
    if result_id is not None:
        parts.append(f"result{result_id}-{tier}")
    if symptom_report_id is not None:
        # Apart from its urgent check's: the report's escalation (nobody acknowledged it) and
        # the check's (still not done) are two alerts.
        parts.append(f"symptom{symptom_report_id}")
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
    symptom_report_id: int | None = None,
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
            symptom_report_id=symptom_report_id,
        ),
        kind=kind,
        delivery=delivery,
        recipient_user_id=user_id,
        recipient_patient_id=recipient_patient_id,
        patient_id=patient_id,
        scheduled_check_id=check_id,
        result_id=result_id,
        symptom_report_id=symptom_report_id,
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
    for user_id, patient_id, delivery in groups:
        try:
            current_app.send_task(DELIVER_BATCH, args=(user_id, patient_id, delivery))
        except Exception:  # the broker is unreachable: the sweep will deliver from the outbox
            logger.warning(
                "Could not queue delivery for user=%s patient=%s; left for the sweep.",
                user_id,
                patient_id,
                exc_info=True,
            )


def notifications_withdraw(*, patient_id: int, reason: str) -> int:
    """Cancel every row about the patient, or to them, that is still waiting to go (queued or
    retrying), each change recorded in the audit trail with `reason`. A row a worker is sending
    at this instant is past recall; delivery drops the rest for a patient no longer monitored
    (messages.relevant_rows). Returns the rows cancelled."""
    waiting = Notification.objects.filter(
        Q(patient_id=patient_id) | Q(recipient_patient_id=patient_id),
        status=Notification.Status.QUEUED,
    )
    return update_recorded(waiting, status=Notification.Status.CANCELLED, last_error=reason)
