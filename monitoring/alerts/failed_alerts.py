"""Alerts that could not be delivered: what a nurse sees of one, and marking it handled.

A failed outbox row (no address, refused, every attempt spent) has already been handed on down
the fallback chain by delivery (monitoring.outbox.fallback); it stays on the worklist, through
Notification.objects.failed_unhandled(), until a nurse says what she did instead."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.bulk import update_recorded
from monitoring.models import Notification
from patients.models import Patient
from patients.validators import NOTE_MAX_LENGTH, text_problems

NOTE_REQUIRED = "Say what you did instead: for example, phoned the patient or told a colleague."


def failed_alert_siblings(notification: Notification):
    """The failed rows of the same alert about the same patient still open, this one included:
    the same kind, check or result and tier, to other recipients (the named nurse, then
    members of the nurse group, then the lead). Staff rows and the patient's own reminder are
    told apart: they are different messages about the same check."""
    return Notification.objects.failed_unhandled().filter(
        patient_id=notification.patient_id,
        kind=notification.kind,
        scheduled_check_id=notification.scheduled_check_id,
        result_id=notification.result_id,
        symptom_report_id=notification.symptom_report_id,
        tier=notification.tier,
        lead_days=notification.lead_days,
        recipient_user__isnull=notification.recipient_user_id is None,
    )


def failed_alert_handle(*, notification: Notification, note: str, handled_by, now: datetime) -> int:
    """Mark a failed alert handled with what was done instead, recorded in the audit trail.
    Refused when the note is empty or not plain text, or the row did not fail or is handled
    already. Returns how many rows it marked (the siblings too)."""
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": NOTE_REQUIRED})
    if problems := text_problems(note=(note, NOTE_MAX_LENGTH, True)):
        raise ValidationError(problems)
    with transaction.atomic():
        # The patient first, as delivery's fallback chain locks it before the rows: the same
        # order, so a handle and a failure of the same alert wait for each other, never deadlock.
        list(Patient.objects.select_for_update().filter(pk=notification.patient_id).values("pk"))
        row = Notification.objects.select_for_update().get(pk=notification.pk)
        if row.status != Notification.Status.FAILED:
            raise ValidationError(
                {"__all__": "This alert did not fail: there is nothing to handle."}
            )
        if row.handled_at is not None:
            raise ValidationError({"__all__": "This alert has already been marked handled."})
        # One event failed to reach several people (the named nurse, then the group, then the
        # lead): each is a row of its own, but the nurse acted once, for the patient. Handling
        # them one by one would ask her to write the same note three times, and a row left
        # over would keep a dealt-with event on everyone's worklist.
        return update_recorded(
            failed_alert_siblings(row), handled_at=now, handled_by=handled_by, handled_note=note
        )
