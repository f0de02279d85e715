"""One decision for several checks at once, from the worklist: waive them with one reason, or
add one follow-up note to a whole visit ("called, booked for 12 Dec").

Each is one transaction over the checks chosen, locked in a fixed order so that two nurses
acting on overlapping visits wait for each other instead of deadlocking. A check that has closed
since the page was shown (a result came in, a colleague waived it) is left as it is and counted,
so the nurse is told rather than a closed check being waived over its result.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from audit.bulk import record_created, update_recorded
from monitoring.alerts.services import hosts_replan
from monitoring.models import Acknowledgement, ScheduledCheck
from patients.models import Patient
from patients.validators import NOTE_MAX_LENGTH, text_problems

# More than a nurse would ever choose by hand; "all overdue checks" of a few patients lost to
# follow-up for years stays well under it.
MAX_CHECKS = 2000


@dataclass(frozen=True)
class BulkOutcome:
    done: int
    skipped: int  # closed since the page was shown
    patients: int


def _chosen(
    patients: QuerySet[Patient],
    *,
    check_ids: Collection[int],
    overdue_of: Collection[int],
    today_of: dict[int, object],
) -> QuerySet[ScheduledCheck]:
    """The checks chosen, within `patients` (the user's clinics): by id, and every overdue
    check of each patient in `overdue_of` (today_of: a patient's clinic's today)."""
    condition = Q(pk__in=list(check_ids))
    for patient_id in overdue_of:
        if patient_id in today_of:
            condition |= Q(patient_id=patient_id, overdue_after__lt=today_of[patient_id])
    return ScheduledCheck.objects.filter(condition, patient__in=patients)


def _locked_open(checks: QuerySet[ScheduledCheck]) -> tuple[list[int], int]:
    """Lock the chosen checks in pk order; return the open ones' ids and how many were not."""
    chosen = list(
        checks.select_for_update(of=("self",))
        .order_by("pk")
        .values_list("pk", flat=True)[: MAX_CHECKS + 1]
    )
    if len(chosen) > MAX_CHECKS:
        raise ValidationError({"__all__": f"Choose at most {MAX_CHECKS} checks at a time."})
    open_ids = list(
        ScheduledCheck.objects.filter(pk__in=chosen)
        .open()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return open_ids, len(chosen) - len(open_ids)


def _patients_of(ids: list[int]) -> int:
    return ScheduledCheck.objects.filter(pk__in=ids).values("patient_id").distinct().count()


def _text(name: str, text: str, missing: str) -> str:
    text = text.strip()
    if not text:
        raise ValidationError({name: missing})
    if problems := text_problems(**{name: (text, NOTE_MAX_LENGTH, True)}):
        raise ValidationError(problems)
    return text


def checks_bulk_waive(
    *,
    patients: QuerySet[Patient],
    check_ids: Collection[int],
    overdue_of: Collection[int] = (),
    today_of: dict[int, object] | None = None,
    reason: str,
    waived_by,
    now: datetime,
) -> BulkOutcome:
    """Waive every chosen check still open, each with the same reason, who and when; every
    change goes to the audit trail."""
    reason = _text("reason", reason, "Say why the checks are waived.")
    with transaction.atomic():
        chosen = _chosen(
            patients, check_ids=check_ids, overdue_of=overdue_of, today_of=today_of or {}
        )
        open_ids, skipped = _locked_open(chosen)
        if not open_ids and not skipped:
            raise ValidationError({"checks": "Choose at least one check."})
        done = (
            update_recorded(
                ScheduledCheck.objects.filter(pk__in=open_ids),
                waived_at=now,
                waived_by=waived_by,
                waived_reason=reason,
                updated_at=now,
            )
            if open_ids
            else 0
        )
        hosts_replan(open_ids)
        return BulkOutcome(done=done, skipped=skipped, patients=_patients_of(open_ids))


def checks_bulk_follow_up(
    *,
    patients: QuerySet[Patient],
    check_ids: Collection[int],
    overdue_of: Collection[int] = (),
    today_of: dict[int, object] | None = None,
    action: str,
    note: str,
    acknowledged_by,
    now: datetime,
) -> BulkOutcome:
    """The same follow-up note on every chosen check still open: one note row per check, so
    each check's history says what was done about it. The checks stay open."""
    if action not in Acknowledgement.Action.values:
        raise ValidationError({"action": "Choose what was done."})
    note = _text("note", note, "Write a note: what you did and what happens next.")
    with transaction.atomic():
        chosen = _chosen(
            patients, check_ids=check_ids, overdue_of=overdue_of, today_of=today_of or {}
        )
        open_ids, skipped = _locked_open(chosen)
        if not open_ids and not skipped:
            raise ValidationError({"checks": "Choose at least one check."})
        notes = Acknowledgement.objects.bulk_create(
            [
                Acknowledgement(
                    scheduled_check_id=pk,
                    action=action,
                    note=note,
                    acknowledged_by=acknowledged_by,
                    acknowledged_at=now,
                )
                for pk in open_ids
            ]
        )
        # bulk_create sends no signal: the audit trail is told directly, as a save would.
        record_created(notes)
        return BulkOutcome(done=len(open_ids), skipped=skipped, patients=_patients_of(open_ids))
