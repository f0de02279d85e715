"""Delivery tasks: thin wrappers that load ids and call the delivery service. Nothing a task needs
is held only by the broker: the outbox rows are in the database, and the sweep finds them again
if a message to a worker is lost. The names are fixed so the beat schedule and messages already
queued keep working wherever the functions live."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from monitoring.outbox.delivery import Batch, batch_deliver, due_batches
from monitoring.outbox.store import DELIVER_BATCH


@shared_task(name=DELIVER_BATCH, bind=True, max_retries=None)
def deliver_batch(self, recipient_user_id, recipient_patient_id, delivery):
    outcome = batch_deliver(
        batch=Batch(recipient_user_id, recipient_patient_id, delivery), now=timezone.now()
    )
    if outcome.retry_in is not None:
        # The rows are queued again in the database with the same backoff; this retry is the
        # fast path, the sweep the safety net. Attempts are counted on the rows, not here.
        raise self.retry(countdown=outcome.retry_in.total_seconds())
    return {"sent": outcome.sent, "failed": outcome.failed}


@shared_task(name="monitoring.tasks.deliver_due")
def deliver_due():
    """The sweep: queue a delivery for every recipient with something due now."""
    batches = due_batches(now=timezone.now())
    for batch in batches:
        deliver_batch.delay(batch.recipient_user_id, batch.recipient_patient_id, batch.delivery)
    return len(batches)
