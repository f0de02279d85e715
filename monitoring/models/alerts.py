"""Acknowledgements and the notification outbox.

A Notification row is written in the same transaction as the event that causes it (a result
saved, a check found overdue), under a unique key, so the same alert can never be created twice.
Celery tasks only deliver rows: each delivery claims its rows with a conditional UPDATE, so two
workers, a retry and the periodic sweep can never send one row twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from monitoring.domain import send_times
from monitoring.domain.tiers import ACKNOWLEDGE_TIERS, URGENT_TIERS
from monitoring.models.labs import LabResult
from monitoring.models.schedule import ScheduledCheck
from monitoring.models.symptoms import SymptomReport
from patients.validators import (
    NOTE_MAX_LENGTH,
    note_rules,
)

__all__ = [
    "ACKNOWLEDGE_TIERS",
    "URGENT_TIERS",
    "Acknowledgement",
    "Notification",
    "NotificationQuerySet",
]


class Acknowledgement(models.Model):
    """A nurse or clinician saw an abnormal result, an overdue check or a symptom the patient
    reported, and says what was done. Append-only: a later acknowledgement is a new row, never
    an edit of this one."""

    class Action(models.TextChoices):
        CALLED_PATIENT = "called_patient", "Called the patient"
        REBOOKED = "rebooked", "Rebooked the test"
        REPEAT_ORDERED = "repeat_ordered", "Ordered a repeat test"
        URGENT_TEST_BOOKED = "urgent_test_booked", "Urgent test booked"
        REFERRED = "referred", "Referred to a specialist"
        REVIEWED = "reviewed", "Reviewed: no action needed"
        OTHER = "other", "Other (see note)"

    result = models.ForeignKey(
        LabResult,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="acknowledgements",
    )
    # The tier acknowledged: a correction that changes the tier needs a new acknowledgement.
    tier = models.CharField(max_length=10, blank=True)
    scheduled_check = models.ForeignKey(
        ScheduledCheck,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="acknowledgements",
    )
    # A report is acknowledged once (ack_symptom_report_once), which also indexes the column.
    symptom_report = models.ForeignKey(
        SymptomReport,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="acknowledgements",
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    note = models.TextField(max_length=NOTE_MAX_LENGTH, validators=note_rules())
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField()

    class Meta:
        ordering = ["-acknowledged_at"]
        indexes = [models.Index(fields=["result", "tier"], name="ack_result_tier")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    result__isnull=False,
                    scheduled_check__isnull=True,
                    symptom_report__isnull=True,
                )
                | models.Q(
                    result__isnull=True,
                    scheduled_check__isnull=False,
                    symptom_report__isnull=True,
                )
                | models.Q(
                    result__isnull=True,
                    scheduled_check__isnull=True,
                    symptom_report__isnull=False,
                ),
                name="ack_is_about_one_thing",
            ),
            models.UniqueConstraint(
                fields=["symptom_report"],
                condition=models.Q(symptom_report__isnull=False),
                name="ack_symptom_report_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.acknowledged_by} at {self.acknowledged_at}"


class NotificationQuerySet(models.QuerySet):
    def failed_unhandled(self):
        """Alerts that reached no one on this row and that no nurse has yet marked handled:
        they stay on the worklist (on the partial index notification_failed_open)."""
        return self.filter(FAILED_OPEN)


# Written once: the queryset method and the partial index must agree for the index to be used.
FAILED_OPEN = models.Q(status="failed", handled_at__isnull=True)


class Notification(models.Model):
    class Kind(models.TextChoices):
        OVERDUE = "overdue", "Overdue check"
        DUE_SOON = "due_soon", "Reminder: check due soon"
        ABNORMAL_RESULT = "abnormal_result", "Abnormal result"
        ESCALATION = "escalation", "Escalation"
        SYMPTOM_REPORT = "symptom_report", "Symptom reported by the patient"
        MONITORING_ENDED = "monitoring_ended", "Routine monitoring has ended"

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        SMS = "sms", "SMS"

    class Delivery(models.TextChoices):
        """How rows are grouped into messages to one recipient."""

        # red and critical results, escalations, symptoms
        AT_ONCE = send_times.AT_ONCE, "At once"
        # at the clinic's digest time
        NURSE_DIGEST = send_times.NURSE_DIGEST, "Nurse's daily digest"
        # at most one a day, not in quiet hours
        PATIENT_DAILY = send_times.PATIENT_DAILY, "Patient's daily e-mail"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Being sent"  # claimed by one worker, under a lease
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"  # every attempt failed: shown on the worklist
        CANCELLED = "cancelled", "No longer needed"  # resolved before it was sent

    class FallbackStep(models.TextChoices):
        """Who a staff alert goes to when the one before could not be reached, in order (see
        monitoring.outbox.fallback)."""

        NAMED_NURSE = "named_nurse", "the named nurse"
        NURSE_GROUP = "nurse_group", "the nurse group"
        LEAD = "lead", "the clinic lead"

    key = models.CharField(max_length=160, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    delivery = models.CharField(max_length=8, choices=Delivery.choices)
    # Exactly one recipient: a member of staff or the patient.
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
    )
    recipient_patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications_received",
    )
    # What it is about.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="notifications"
    )
    scheduled_check = models.ForeignKey(
        ScheduledCheck,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
    )
    result = models.ForeignKey(
        LabResult, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    # A symptom report's own alerts: the nurse's, and the lead's escalation when nobody has
    # acknowledged it (its urgent checks escalate separately, when overdue).
    symptom_report = models.ForeignKey(
        SymptomReport,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        db_index=False,
        related_name="notifications",
    )
    tier = models.CharField(max_length=10, blank=True)
    lead_days = models.PositiveSmallIntegerField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    # Not sent before this instant: the digest time, the end of quiet hours, a retry's backoff.
    not_before = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    # The identity of the message these rows went out in, kept from the first claim that sent
    # them: a repeat after a crash carries the same Message-ID and reference, so a mail system
    # and a reader can recognise it. A claim is fenced by claim_token; this is for the reader.
    message_ref = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    sent_to = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField()
    # Set on a row the fallback chain created because `fallback_for` failed: the step of the
    # chain it was sent to. The failed row keeps its last_error (why it failed).
    fallback_for = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="fallbacks"
    )
    fallback_step = models.CharField(max_length=12, choices=FallbackStep.choices, blank=True)
    # A failed row stays on the worklist until a nurse says what she did instead.
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    handled_note = models.TextField(max_length=NOTE_MAX_LENGTH, blank=True, validators=note_rules())

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The sweep reads only rows still to deliver.
            models.Index(
                fields=["not_before"],
                condition=models.Q(status__in=["queued", "sending"]),
                name="notification_to_deliver",
            ),
            # The worklist's failed alerts: a few rows among hundreds of thousands.
            models.Index(
                fields=["patient"], condition=FAILED_OPEN, name="notification_failed_open"
            ),
            models.Index(fields=["scheduled_check", "kind"], name="notification_check_kind"),
            models.Index(fields=["result", "kind"], name="notification_result_kind"),
            # Partial: most rows are about no report, and onboarding inserts them by the
            # hundred thousand.
            models.Index(
                fields=["symptom_report", "kind"],
                condition=models.Q(symptom_report__isnull=False),
                name="notification_symptom_kind",
            ),
            models.Index(
                fields=["recipient_user", "delivery", "sent_at"], name="notification_user_sent"
            ),
            models.Index(
                fields=["recipient_patient", "delivery", "sent_at"],
                name="notification_patient_sent",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(recipient_user__isnull=False, recipient_patient__isnull=True)
                | models.Q(recipient_user__isnull=True, recipient_patient__isnull=False),
                name="notification_has_one_recipient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.recipient_user or self.recipient_patient}"
