"""Writes to protocols. A protocol change re-plans every patient who follows it; for a programme
that is thousands of schedules, so it goes to a Celery worker in batches rather than being done
inside the request that saved the protocol.

The service queues the task by its name, as the outbox does: the import direction stays
tasks -> services and never back."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from celery import current_app
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError, Q

from monitoring.models import MonitoringProtocol, ProtocolItem
from patients.models import Patient, TherapyEpisode

from .services import reconcile_in_batches

logger = logging.getLogger(__name__)

# The Celery name of schedule.tasks.protocol_replan, in the same family as the other tasks'.
PROTOCOL_REPLAN = "monitoring.tasks.protocol_replan"
BATCH = 500


def protocol_patient_ids(protocol_id: int) -> list[int]:
    """Who follows the protocol and still has a planned schedule, in id order (the order the
    batches lock them in): for alemtuzumab the patient's own protocol, for another therapy
    the protocol of one of the patient's episodes (running or stopped: a stopped one still
    plans its after-stopping checks)."""
    follows = Q(protocol_id=protocol_id) | Q(
        other_therapies=True,
        pk__in=TherapyEpisode.objects.filter(protocol_id=protocol_id).values("patient_id"),
    )
    return list(
        Patient.objects.filter(follows, status__in=Patient.PLANNED_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def protocol_replan(
    *,
    protocol: MonitoringProtocol,
    reason: str,
    changed_by=None,
    items: Iterable[ProtocolItem] = (),
    deleted_items: Iterable[ProtocolItem] = (),
) -> int:
    """Store a change to a protocol and its items, with who and why in their history, and queue
    the re-planning of every patient who follows it once the change commits. Returns how many
    patients were queued.

    A worker that finds nothing to change changes nothing, so queueing twice is harmless."""
    adding = protocol._state.adding
    if not adding and not reason.strip():
        raise ValidationError({"reason": "Say why this protocol is being changed."})
    with transaction.atomic():
        protocol.full_clean()
        _record(protocol, reason=reason, changed_by=changed_by)
        protocol.save()
        for item in items:
            item.protocol = protocol
            item.full_clean()
            _record(item, reason=reason, changed_by=changed_by)
            item.save()
        for item in deleted_items:
            _record(item, reason=reason, changed_by=changed_by)
            try:
                item.delete()
            except ProtectedError:
                # Checks already planned from the item keep pointing at it (they are records of
                # what was asked of the patient), so the item stays.
                raise ValidationError(
                    f"“{item.get_panel_display()}” cannot be removed: patients' schedules "
                    "already have checks planned from it."
                ) from None
        count = 0 if adding else len(protocol_patient_ids(protocol.pk))
        if count:
            protocol_id = protocol.pk
            transaction.on_commit(lambda: _enqueue(protocol_id))
    return count


def protocol_schedules_reconcile(protocol_id: int) -> dict:
    """What the task does: re-plan the protocol's patients, BATCH to a transaction. The list is
    read when the task runs, so a patient who joined or left since the change is planned by
    the protocol they follow now."""
    patient_ids = protocol_patient_ids(protocol_id)
    created = reconcile_in_batches(patient_ids, batch=BATCH)
    return {"patients": len(patient_ids), "created": created}


def _record(instance, *, reason: str, changed_by) -> None:
    instance._history_user = changed_by
    instance._change_reason = reason.strip() or None


def _enqueue(protocol_id: int) -> None:
    try:
        current_app.send_task(PROTOCOL_REPLAN, args=(protocol_id,))
    except Exception:
        # The broker is down. Schedules left on the old rules would show wrong due dates to
        # nurses and patients, so re-plan here instead: slower for this one request, but
        # nothing is lost. Each batch is its own transaction and re-planning is idempotent.
        logger.warning(
            "Could not queue re-planning for protocol %s; re-planning in this process.",
            protocol_id,
            exc_info=True,
        )
        protocol_schedules_reconcile(protocol_id)
