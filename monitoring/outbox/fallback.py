"""The fallback chain: who is told about a staff alert when its recipient cannot be reached.

The chain for an alert about patient P is P's named nurse, then every member of P's clinic's
nurse group, then the clinic lead. Delivery calls this when a batch to a member of staff fails
for good (no address, an inactive account, a permanent refusal, or the last attempt spent), in
the transaction that marks the rows failed, so every alert source benefits without the scans
knowing. Each failed row gets rows of the same alert for the first later step that has someone
usable: a person with an address on the row's channel, an active account, and no failed row of
this alert already. A step where someone usable already has the alert (queued, being sent or
sent) counts as reached and needs nothing new. When nobody further is usable the error is
logged; the failed row stays on the worklist until a nurse marks it handled either way.

Patient rows (reminders) have no chain: they fail as they did.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from django.contrib.auth import get_user_model

from monitoring.domain.tiers import URGENT_TIERS
from monitoring.models import Notification
from monitoring.outbox.channels import DeliveryError, channel_for
from monitoring.outbox.store import notification_row, notifications_store
from patients.models import Clinic, Patient

logger = logging.getLogger(__name__)

Kind = Notification.Kind
Status = Notification.Status
Step = Notification.FallbackStep
Delivery = Notification.Delivery


def _alert(row: Notification) -> tuple:
    """What a row is about, without who gets it: rows with the same alert differ only in the
    recipient (the unique key adds the user id to this)."""
    return (
        row.patient_id,
        row.kind,
        row.scheduled_check_id,
        row.result_id,
        row.symptom_report_id,
        row.tier,
    )


def _is_urgent(row: Notification) -> bool:
    if row.kind in (Kind.ESCALATION, Kind.SYMPTOM_REPORT):
        return True
    return row.kind == Kind.ABNORMAL_RESULT and row.tier in URGENT_TIERS


def chain_lock(rows: list[Notification]) -> None:
    """Lock the patients the staff rows are about, in pk order. Two recipients of one alert
    failing at once then decide in turn: the second sees the first's failure committed and goes
    on down the chain, instead of each counting on the other to have been reached."""
    patient_ids = sorted({row.patient_id for row in rows if row.recipient_user_id is not None})
    if patient_ids:
        list(
            Patient.objects.select_for_update(of=("self",))
            .filter(pk__in=patient_ids)
            .order_by("pk")
            .values_list("pk", flat=True)
        )


def fallbacks_create(failed: list[Notification], *, now: datetime) -> list[Notification]:
    """Rows for the next step of the chain for each failed staff row, stored with
    notifications_store (a row that exists already is a no-op) and queued for delivery once the
    caller's transaction commits. Call after chain_lock and after marking `failed` failed.
    A few queries, however many rows."""
    staff = [row for row in failed if row.recipient_user_id is not None]
    if not staff:
        return []
    patients = Patient.objects.select_related("clinic").in_bulk({row.patient_id for row in staff})
    group = defaultdict(list)
    for clinic_id, user_id in (
        Clinic.nurses.through.objects.filter(clinic_id__in={p.clinic_id for p in patients.values()})
        .order_by("user_id")
        .values_list("clinic_id", "user_id")
    ):
        group[clinic_id].append(user_id)
    chains = {pk: _chain(patient, group[patient.clinic_id]) for pk, patient in patients.items()}
    people = {user for chain in chains.values() for _, members in chain for user in members}
    reachable = _reachable(people, channels={row.channel for row in staff})
    has_alert, failed_alert = _recipients_by_alert(staff, people)

    new_rows: dict[str, Notification] = {}
    for row in staff:
        alert = _alert(row)
        chain = chains[row.patient_id]
        for step, members in chain[_position(row, chain) :]:
            usable = [
                user
                for user in members
                if user != row.recipient_user_id
                and user in reachable[row.channel]
                and user not in failed_alert[alert]
            ]
            if not usable:
                continue
            for user in usable:
                if user not in has_alert[alert]:
                    fallback = _fallback_row(row, user, step, now)
                    new_rows.setdefault(fallback.key, fallback)
            logger.warning(
                "Alert %s could not reach user %s (%s); it goes to %s instead.",
                row.key,
                row.recipient_user_id,
                row.last_error,
                step.label,
            )
            break
        else:
            logger.error(
                "Alert %s could not reach user %s (%s) and nobody further in the chain can be "
                "told; it stays on the worklist until a nurse handles it.",
                row.key,
                row.recipient_user_id,
                row.last_error,
            )
    rows = list(new_rows.values())
    notifications_store(rows)
    return rows


def _chain(patient: Patient, group: list[int]) -> list[tuple[str, list[int]]]:
    return [
        (Step.NAMED_NURSE, [patient.named_nurse_id] if patient.named_nurse_id else []),
        (Step.NURSE_GROUP, group),
        (Step.LEAD, [patient.clinic.lead_id] if patient.clinic.lead_id else []),
    ]


def _position(row: Notification, chain) -> int:
    """Where the failed row stands: the step it was sent to as a fallback, else the first step
    its recipient belongs to; a recipient outside the chain (a nurse since removed from the
    group) starts it from the top. The search includes that step: the others of a nurse group
    still cover an alert one member of it failed to receive."""
    steps = [step for step, _ in chain]
    if row.fallback_step:
        return steps.index(row.fallback_step)
    for index, (_, members) in enumerate(chain):
        if row.recipient_user_id in members:
            return index
    return 0


def _reachable(user_ids: set[int], *, channels: set[str]) -> dict[str, set[int]]:
    """Per channel, the users with an address on it and an active account."""
    users = get_user_model().objects.filter(pk__in=user_ids, is_active=True)
    users = list(users.only("pk", "email", "is_active"))
    reachable: dict[str, set[int]] = {}
    for name in channels:
        try:
            channel = channel_for(name)
        except DeliveryError:
            reachable[name] = set()
            continue
        reachable[name] = {user.pk for user in users if channel.address_of(user)}
    return reachable


def _recipients_by_alert(staff: list[Notification], people: set[int]):
    """Who has each alert already (any status) and who has it failed, in one query."""
    wanted = {_alert(row) for row in staff}
    existing = Notification.objects.filter(
        patient_id__in={row.patient_id for row in staff},
        kind__in={row.kind for row in staff},
        recipient_user_id__in=people | {row.recipient_user_id for row in staff},
    ).values_list(
        "patient_id",
        "kind",
        "scheduled_check_id",
        "result_id",
        "symptom_report_id",
        "tier",
        "recipient_user_id",
        "status",
    )
    has_alert, failed_alert = defaultdict(set), defaultdict(set)
    for *alert, user_id, status in existing:
        alert = tuple(alert)
        if alert not in wanted:
            continue
        has_alert[alert].add(user_id)
        if status == Status.FAILED:
            failed_alert[alert].add(user_id)
    return has_alert, failed_alert


def _fallback_row(row: Notification, user_id: int, step: str, now: datetime) -> Notification:
    fallback = notification_row(
        kind=row.kind,
        delivery=Delivery.AT_ONCE if _is_urgent(row) else row.delivery,
        patient_id=row.patient_id,
        user_id=user_id,
        check_id=row.scheduled_check_id,
        result_id=row.result_id,
        symptom_report_id=row.symptom_report_id,
        tier=row.tier,
        lead_days=row.lead_days,
        now=now,
    )
    fallback.channel = row.channel
    fallback.fallback_for_id = row.pk
    fallback.fallback_step = step
    return fallback
