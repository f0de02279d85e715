"""Delivering outbox rows: one message per recipient and delivery kind, claimed exactly once.

A batch is claimed by a conditional UPDATE (queued, or claimed under a lease that has run out,
becomes "sending" under a fresh token) inside a transaction that first locks the recipient's
row, so two workers, a Celery retry and the sweep serialise on the recipient and the second
finds nothing left to claim. The message is sent after that transaction commits, and the rows
are then marked sent, or queued again with a backoff, or failed after the last attempt.

A worker killed between sending and marking leaves rows "sending"; once the lease runs out the
sweep claims them again. That is the one case that can repeat a message: at-least-once is the
price of never losing one. The repeat is recognisable: the rows of an expired claim are taken
over on their own (never merged with rows queued since), and the message keeps the identity
stored on the rows before the first send (Notification.message_ref), which becomes its
Message-ID and X-Monitoring-Reference header.

Rows to a member of staff that fail for good are handed on down the fallback chain (named
nurse, nurse group, clinic lead: monitoring.outbox.fallback) in the transaction that marks
them failed, so an alert whose recipient cannot be reached still reaches a person.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Max, Q

from monitoring.domain import send_times
from monitoring.models import Notification
from monitoring.outbox.channels import DeliveryError, channel_for
from monitoring.outbox.fallback import chain_lock, fallbacks_create
from monitoring.outbox.messages import message_for, relevant_rows
from patients.models import Clinic, Patient

logger = logging.getLogger(__name__)
Status = Notification.Status


@dataclass(frozen=True)
class Batch:
    recipient_user_id: int | None
    recipient_patient_id: int | None
    delivery: str


@dataclass(frozen=True)
class BatchOutcome:
    sent: int = 0
    failed: int = 0
    retry_in: timedelta | None = None  # set when rows went back to the queue after an error
    deferred_until: datetime | None = None  # quiet hours, or today's message already went


def _lease() -> timedelta:
    return timedelta(seconds=settings.NOTIFICATION_CLAIM_LEASE_SECONDS)


def _claimable(now: datetime) -> Q:
    return Q(status=Status.QUEUED, not_before__lte=now) | Q(
        status=Status.SENDING, claimed_at__lte=now - _lease()
    )


def due_batches(*, now: datetime) -> list[Batch]:
    """Every recipient with something to deliver now: one query on the partial index."""
    return [
        Batch(*values)
        for values in Notification.objects.filter(_claimable(now))
        .values_list("recipient_user_id", "recipient_patient_id", "delivery")
        .distinct()
        .order_by()
    ]


def _policy_for(batch: Batch) -> tuple[object, send_times.SendPolicy]:
    """The recipient (locked) and the send policy of their clinic."""
    if batch.recipient_patient_id is not None:
        recipient = (
            Patient.objects.select_for_update(of=("self",))
            .select_related("clinic")
            .get(pk=batch.recipient_patient_id)
        )
        clinic = recipient.clinic
    else:
        recipient = get_user_model().objects.select_for_update().get(pk=batch.recipient_user_id)
        # A nurse of several clinics gets the digest on the clock of the first of them; an
        # unsaved Clinic carries the default settings for a user of no clinic.
        clinic = (
            Clinic.objects.filter(Q(nurses=recipient) | Q(staff=recipient) | Q(lead=recipient))
            .order_by("pk")
            .first()
        ) or Clinic()
    return recipient, send_times.SendPolicy(
        zone=clinic.zone,
        quiet_start=clinic.quiet_hours_start,
        quiet_end=clinic.quiet_hours_end,
        digest_time=clinic.digest_time,
    )


def _rows_of(batch: Batch):
    return Notification.objects.filter(
        recipient_user_id=batch.recipient_user_id,
        recipient_patient_id=batch.recipient_patient_id,
        delivery=batch.delivery,
    )


def batch_deliver(*, batch: Batch, now: datetime) -> BatchOutcome:
    token = uuid.uuid4()
    with transaction.atomic():
        recipient, policy = _policy_for(batch)
        rows = _rows_of(batch)
        last = rows.filter(status__in=[Status.SENT, Status.SENDING]).aggregate(
            last=Max("claimed_at")
        )["last"]
        when = send_times.next_send_at(batch.delivery, now=now, policy=policy, last_sent_at=last)
        if when > now:
            rows.filter(status=Status.QUEUED, not_before__lt=when).update(not_before=when)
            return BatchOutcome(deferred_until=when)
        claimed = _takeover_or_queued(rows, now).update(
            status=Status.SENDING, claim_token=token, claimed_at=now, attempts=F("attempts") + 1
        )
    if not claimed:
        return BatchOutcome()
    return _send_claimed(batch, recipient, token, now)


def _takeover_or_queued(rows, now: datetime):
    """The rows to claim: those of one expired claim if there are any, so that the message they
    may already have gone out in is repeated as it was; otherwise everything queued and due."""
    expired = rows.filter(status=Status.SENDING, claimed_at__lte=now - _lease())
    oldest = expired.order_by("claimed_at", "pk").values_list("claim_token").first()
    if oldest is not None:
        (token,) = oldest
        return expired.filter(claim_token=token) if token else expired.filter(claim_token=None)
    return rows.filter(status=Status.QUEUED, not_before__lte=now)


def _message_ref(rows: list[Notification], token: uuid.UUID) -> uuid.UUID:
    """The identity of the message about to go: the one these rows already went out under, if
    they all share one (a takeover after a crash, or a retry after an error that may have
    delivered), else the new claim's token. Stored, and committed, before the send."""
    refs = {row.message_ref for row in rows}
    if len(refs) == 1 and None not in refs:
        return refs.pop()
    Notification.objects.filter(pk__in=[row.pk for row in rows]).update(message_ref=token)
    return token


def _send_claimed(batch: Batch, recipient, token: uuid.UUID, now: datetime) -> BatchOutcome:
    claimed = list(
        Notification.objects.filter(claim_token=token).select_related(
            "patient__clinic",
            "scheduled_check",
            "result__analyte",
            "result__report",
            "fallback_for__recipient_user",
        )
    )
    relevant = relevant_rows(claimed)
    stale = [row.pk for row in claimed if row not in relevant]
    if stale:
        Notification.objects.filter(pk__in=stale, claim_token=token).update(
            status=Status.CANCELLED, last_error="Resolved before it was sent."
        )
    if not relevant:
        return BatchOutcome()
    channel_name = relevant[0].channel
    try:
        channel = channel_for(channel_name)
        to = channel.address_of(recipient)
        if not to:
            raise DeliveryError(f"The recipient has no {channel_name} address.", permanent=True)
        if not getattr(recipient, "is_active", True):
            # A nurse who has left keeps her address on the account; the chain takes over.
            raise DeliveryError("The recipient's account is inactive.", permanent=True)
        reference = _message_ref(relevant, token)
        channel.send(message_for(batch.delivery, recipient, relevant, reference), to=to)
    except DeliveryError as error:
        return _record_failure(relevant, token, error, now)
    sent = Notification.objects.filter(
        pk__in=[row.pk for row in relevant], claim_token=token, status=Status.SENDING
    ).update(status=Status.SENT, sent_at=now, sent_to=to, last_error="")
    return BatchOutcome(sent=sent)


def _record_failure(
    relevant: list[Notification], token, error: DeliveryError, now: datetime
) -> BatchOutcome:
    rows = Notification.objects.filter(
        pk__in=[row.pk for row in relevant], claim_token=token, status=Status.SENDING
    )
    attempts = max(rows.values_list("attempts", flat=True), default=0)
    if error.permanent or attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        with transaction.atomic():
            chain_lock(relevant)
            # Still ours: a claim taken over after the lease ran out is the other worker's.
            ours = set(rows.select_for_update().values_list("pk", flat=True))
            failing = [row for row in relevant if row.pk in ours]
            failed = Notification.objects.filter(pk__in=ours).update(
                status=Status.FAILED, last_error=str(error)
            )
            for row in failing:
                row.status, row.last_error = Status.FAILED, str(error)
            fallbacks_create(failing, now=now)
        logger.error("Notification delivery failed for good: %s (%s rows)", error, failed)
        return BatchOutcome(failed=failed)
    delay = send_times.retry_delay(
        attempts,
        base_seconds=settings.NOTIFICATION_RETRY_BASE_SECONDS,
        max_seconds=settings.NOTIFICATION_RETRY_MAX_SECONDS,
    )
    rows.update(status=Status.QUEUED, last_error=str(error), not_before=now + delay)
    logger.warning("Delivery attempt %s failed, retry in %s: %s", attempts, delay, error)
    return BatchOutcome(retry_in=delay)
