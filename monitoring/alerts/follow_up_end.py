"""The end of follow-up: a patient whose follow-up has ended with nothing left open becomes
"monitoring complete", and is told once that routine monitoring has ended and which symptoms
still need a call. Part of the periodic scans (scans.SCANS), so it runs every day in every
clinic's own calendar, in a fixed number of queries however many patients finish.

"Nothing open" is the safety condition: no check still to do (an overdue blood count keeps the
patient active until it is done or waived) and no flagged result waiting for a nurse. Check-ins
after the end, which a clinic may add to its protocol, do not hold a patient back: they are
what a complete patient is followed with. A complete patient stays on the list and is never
deleted; a new course makes them active again (patients.services.course_add).

The follow-up is alemtuzumab's (Patient.follow_up_ends comes from the courses). A patient also on
another therapy is not complete while that therapy runs: an episode not stopped holds them back,
as do the open checks of an episode stopped (what is planned after stopping), and the end's
clean-up cancels alemtuzumab's checks only, never another therapy's. A patient on other
therapies only has no end of follow-up (None) and is never completed by this scan."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q

from audit.bulk import bulk_update_recorded, update_recorded
from monitoring.alerts.rules import any_of, awaiting_acknowledgement, clinic_ids_by
from monitoring.domain import therapies
from monitoring.models import LabResult, Notification, ScheduledCheck
from monitoring.outbox.store import notification_row, notifications_store
from patients.models import Patient, TherapyEpisode

# Who the audit trail and the record's history name for this change: no person made it.
SYSTEM_ACTOR = "System: end-of-follow-up scan"
REASON = "Follow-up ended on {end:%d %b %Y} with no check or result left open."


def follow_up_end_scan(*, now: datetime, clinics) -> int:
    """Complete the patients whose follow-up ended before their clinic's today with nothing
    open; returns the notifications it queued (one per patient with an e-mail address whose
    follow-up ended while the clinic tracked them)."""
    with transaction.atomic():
        return _complete_finished(now=now, clinics=clinics)


def _complete_finished(*, now: datetime, clinics) -> int:
    groups = clinic_ids_by(clinics, lambda clinic: clinic.today)
    ended = any_of(Q(clinic_id__in=ids, follow_up_ends__lt=today) for today, ids in groups.items())
    # Every open check, those sharing a visit too (open() shows a visit once; here any check
    # still to do counts, whichever therapy it is for).
    still_to_do = (
        ScheduledCheck.objects.pending()
        .filter(patient=OuterRef("pk"), before_tracking=False)
        .exclude(kind=ScheduledCheck.Kind.AFTER_END)
    )
    waiting = LabResult.objects.filter(awaiting_acknowledgement(), patient=OuterRef("pk"))
    running = TherapyEpisode.objects.filter(patient=OuterRef("pk"), stopped_on=None).exclude(
        therapy=therapies.ALEMTUZUMAB
    )
    finished = list(
        Patient.objects.filter(ended, status=Patient.Status.ACTIVE)
        .exclude(Exists(still_to_do))
        .exclude(Exists(waiting))
        .exclude(Exists(running))
        .order_by("pk")
        # A patient being edited right now is left for the next scan.
        .select_for_update(of=("self",), skip_locked=True)
    )
    if not finished:
        return 0
    for patient in finished:
        patient.status = Patient.Status.MONITORING_COMPLETE
        patient._change_reason = REASON.format(end=patient.follow_up_ends)
    # The audit trail names the scan; the record's history keeps the version with the reason.
    bulk_update_recorded(finished, ["status"], system_actor=SYSTEM_ACTOR)
    Patient.history.bulk_history_create(finished, update=True)
    _cancel_after_the_end([patient.pk for patient in finished], now)
    rows = [
        notification_row(
            kind=Notification.Kind.MONITORING_ENDED,
            delivery=Notification.Delivery.PATIENT_DAILY,
            patient_id=patient.pk,
            recipient_patient_id=patient.pk,
            now=now,
        )
        for patient in finished
        # A patient onboarded after their follow-up had ended heard of its end at the time,
        # from the clinic that followed them then: no letter about it years later.
        if patient.email and patient.follow_up_ends >= patient.tracked_from
    ]
    notifications_store(rows)
    return len(rows)


def _cancel_after_the_end(patient_ids: list[int], now: datetime) -> None:
    """Alemtuzumab's checks of the routine plan still pending after the end (none, once the plan
    has been reconciled; a schedule stored by older code might hold some) leave the plan.
    Another therapy's checks (episode set) are that therapy's plan, not the follow-up's."""
    update_recorded(
        ScheduledCheck.objects.pending()
        .planned()
        .exclude(kind=ScheduledCheck.Kind.AFTER_END)
        .filter(
            patient_id__in=patient_ids,
            episode=None,
            due_date__gt=F("patient__follow_up_ends"),
        ),
        cancelled_at=now,
        cancelled_reason="After the end of follow-up.",
        updated_at=now,
    )
