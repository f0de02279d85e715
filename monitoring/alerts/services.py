"""Writes about alerts: outbox rows for abnormal results, the awaiting-acknowledgement flag,
acknowledgements, follow-up notes and waivers. Each runs inside the caller's transaction or its
own, so an alert is stored together with the event that causes it, or not at all."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, Max, OuterRef

from audit.bulk import update_recorded
from monitoring.alerts.recipients import clinic_nurse_ids
from monitoring.alerts.rules import needs_acknowledgement
from monitoring.domain import acknowledging
from monitoring.models import (
    ACKNOWLEDGE_TIERS,
    URGENT_TIERS,
    Acknowledgement,
    LabResult,
    Notification,
    ScheduledCheck,
)
from monitoring.outbox.store import notification_row, notifications_store
from monitoring.schedule.services import schedules_reconcile
from patients.models import Patient
from patients.validators import NOTE_MAX_LENGTH, text_problems
from submissions.versions import Difference, version_check

Kind = Notification.Kind
Delivery = Notification.Delivery


def abnormal_alerts_create(*, patient: Patient, results: Iterable[LabResult], now: datetime):
    """Outbox rows for results now flagged amber or worse and not yet acknowledged at that
    tier. Red and critical go to the nurse at once; amber waits for the daily digest."""
    abnormal_alerts_create_many(patients=[patient], results=results, now=now)


def abnormal_alerts_create_many(
    *, patients: Iterable[Patient], results: Iterable[LabResult], now: datetime
) -> None:
    """abnormal_alerts_create for the results of many patients (a lab's batch): the
    acknowledgements in one query, the nurse groups of their clinics in one more."""
    flagged = [result for result in results if result.tier in ACKNOWLEDGE_TIERS]
    if not flagged:
        return
    acknowledged = set(
        Acknowledgement.objects.filter(result__in=flagged).values_list("result_id", "tier")
    )
    by_pk = {patient.pk: patient for patient in patients}
    groups = clinic_nurse_ids({patient.clinic_id for patient in by_pk.values()})
    rows = [
        notification_row(
            kind=Kind.ABNORMAL_RESULT,
            delivery=Delivery.AT_ONCE if result.tier in URGENT_TIERS else Delivery.NURSE_DIGEST,
            patient_id=result.patient_id,
            user_id=nurse_id,
            result_id=result.pk,
            tier=result.tier,
            now=now,
        )
        for result in flagged
        if (result.pk, result.tier) not in acknowledged
        for nurse_id in _nurses(by_pk[result.patient_id], groups)
    ]
    notifications_store(rows)


def _nurses(patient: Patient, groups: dict[int, list[int]]) -> list[int]:
    # recipients.nurse_ids_for, with the nurse groups read once for the batch.
    if patient.named_nurse_id:
        return [patient.named_nurse_id]
    return groups.get(patient.clinic_id, [])


def results_awaiting_set(results: Iterable[LabResult]) -> None:
    """Set `awaits_acknowledgement` on results about to be saved (rules.needs_acknowledgement).
    One query for the acknowledgements, and none when no result is flagged or all are new.
    The callers pass current results on current reports."""
    results = list(results)
    flagged_stored = [
        result for result in results if result.pk and result.tier in ACKNOWLEDGE_TIERS
    ]
    acknowledged = defaultdict(set)
    if flagged_stored:
        for result_id, tier in Acknowledgement.objects.filter(
            result__in=flagged_stored
        ).values_list("result_id", "tier"):
            acknowledged[result_id].add(tier)
    for result in results:
        result.awaits_acknowledgement = needs_acknowledgement(
            tier=result.tier,
            entered_in_error=result.is_entered_in_error,
            acknowledged_tiers=acknowledged.get(result.pk, ()),
        )


def result_acknowledge(
    *, result: LabResult, action: str, note: str, acknowledged_by, now: datetime
) -> Acknowledgement:
    """Record that a named nurse or clinician saw an abnormal result and what they did. It
    stops the result's escalation; a later change of tier needs a new acknowledgement. A red or
    critical result acknowledged as "Reviewed: no action needed" or "Other" needs a reason of a
    few words in the note (monitoring.domain.acknowledging), judged at the tier the result has
    under the lock, not the one the form was opened on."""
    problems = _ack_problems(action, note)
    with transaction.atomic():
        Patient.objects.select_for_update(of=("self",)).get(pk=result.patient_id)
        result = LabResult.objects.get(pk=result.pk)
        if "note" not in problems and (
            reason := acknowledging.reason_problem(
                action=action, note=note, urgent=acknowledging.is_urgent_tier(result.tier)
            )
        ):
            problems["note"] = reason
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


def check_version(check: ScheduledCheck) -> str:
    """What a check's action form is opened on: the check's last change (completed, waived,
    moved by a re-plan) and its latest follow-up note, so a note written by someone else
    meanwhile is seen before another is added."""
    latest = check.acknowledgements.aggregate(latest=Max("pk"))["latest"] or 0
    return f"{check.updated_at.timestamp():.6f}/{latest}"


def _version_parts(version: str) -> tuple[float, int]:
    """(last change as a timestamp, latest note id) of a check_version; (0, 0) if unreadable."""
    changed, _, note = version.partition("/")
    try:
        return float(changed), int(note)
    except ValueError:
        return 0.0, 0


def _check_locked(check: ScheduledCheck, opened_version: str | None, yours: Difference):
    """The check, locked, after refusing (StaleEdit) an action on a page opened on an older
    version: what changed since is shown as theirs, with the notes others wrote meanwhile."""
    check = ScheduledCheck.objects.select_for_update(of=("self",)).get(pk=check.pk)
    current = check_version(check)
    if opened_version is None or opened_version == current:
        return check
    changed_since, last_note = _version_parts(opened_version)
    notes = check.acknowledgements.filter(pk__gt=last_note).select_related("acknowledged_by")
    theirs = [
        f"{note.get_action_display()}, {note.acknowledged_by}: {note.note}"
        for note in notes.order_by("pk")
    ]
    if check.updated_at.timestamp() > changed_since:
        status = check.status_on(check.patient.clinic.today()).label.lower()
        theirs.insert(0, f"due {check.due_date:%d %b %Y}, {status}")
    version_check(
        what=str(check),
        opened=opened_version,
        current=current,
        differences=[Difference(yours.label, " | ".join(theirs), yours.yours)],
    )
    return check  # pragma: no cover - version_check has refused


def check_follow_up(
    *,
    check: ScheduledCheck,
    action: str,
    note: str,
    acknowledged_by,
    now: datetime,
    opened_version: str | None = None,
) -> Acknowledgement:
    """A note on an overdue or due check (called the patient, rebooked). The check stays open
    until a result completes it or it is waived, so it can still escalate. A form opened
    before the check changed or someone else added a note (`opened_version`, check_version)
    is refused: StaleEdit shows their note and yours."""
    problems = _ack_problems(action, note)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        check = _check_locked(check, opened_version, Difference("The check", "", note.strip()))
        if not check.is_open:
            raise ValidationError({"__all__": "This check is no longer open."})
        return Acknowledgement.objects.create(
            scheduled_check=check,
            action=action,
            note=note.strip(),
            acknowledged_by=acknowledged_by,
            acknowledged_at=now,
        )


def check_waive(
    *,
    check: ScheduledCheck,
    reason: str,
    waived_by,
    now: datetime,
    opened_version: str | None = None,
) -> ScheduledCheck:
    """Waive a check that will not be done (patient in hospital, test done elsewhere and not
    reported), keeping who, when and why on the check. Refused as in check_follow_up when the
    check changed since the form was opened."""
    if not reason.strip():
        raise ValidationError({"reason": "Say why the check is waived."})
    if problems := text_problems(reason=(reason, NOTE_MAX_LENGTH, True)):
        raise ValidationError(problems)
    with transaction.atomic():
        check = _check_locked(check, opened_version, Difference("The check", "", reason.strip()))
        if not check.is_open:
            raise ValidationError({"__all__": "This check is no longer open."})
        update_recorded(
            ScheduledCheck.objects.filter(pk=check.pk),
            waived_at=now,
            waived_by=waived_by,
            waived_reason=reason.strip(),
            updated_at=now,
        )
        hosts_replan([check.pk])
    check.refresh_from_db()
    return check


def hosts_replan(waived_ids: list[int]) -> None:
    """Waiving a check waives that therapy's check only. One that hosted another therapy's
    check (on its visit, shares_visit) hosts it no more: the patient is re-planned, and
    share_visits, which skips hosts already taken, gives that check its own dates again, so it
    is shown and reminded of by itself. One query when no waived check hosted anything."""
    sharing = ScheduledCheck.objects.pending().filter(
        shares_visit=True,
        patient=OuterRef("patient"),
        panel=OuterRef("panel"),
        due_date=OuterRef("due_date"),
    )
    patient_ids = sorted(
        set(
            ScheduledCheck.objects.filter(pk__in=waived_ids, shares_visit=False)
            .filter(Exists(sharing))
            .values_list("patient_id", flat=True)
        )
    )
    if patient_ids:
        schedules_reconcile(patient_ids=patient_ids)


def _ack_problems(action: str, note: str) -> dict[str, str]:
    problems = {}
    if action not in Acknowledgement.Action.values:
        problems["action"] = "Choose what was done."
    if not note.strip():
        problems["note"] = "Write a note: what you did and what happens next."
    problems.update(text_problems(note=(note, NOTE_MAX_LENGTH, True)))
    return problems
