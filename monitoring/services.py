"""Writes to monitoring data. Planning itself is pure (monitoring.planning); this module loads
what planning needs, and stores what it returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone

from audit.bulk import bulk_update_recorded, update_recorded
from patients.models import InfusionCourse, Patient

from . import planning
from .models import ScheduledCheck

MOVED_FIELDS = ["panel", "due_date", "window_opens", "overdue_after", "updated_at"]


@dataclass(frozen=True)
class ReconcileResult:
    created: int
    moved: int
    cancelled: int
    end_of_follow_up: date | None

    @property
    def changed(self) -> bool:
        return bool(self.created or self.moved or self.cancelled)


def patient_plan(*, patient: Patient, courses=None, items=None) -> planning.Plan:
    """The plan for a patient as stored now (non-cancelled courses, the patient's protocol)."""
    if not patient.is_planned:
        return planning.Plan(checks=(), anchor=None, end_of_follow_up=None)
    if courses is None:
        courses = patient.courses.exclude(status=InfusionCourse.Status.CANCELLED)
    plan_courses = [
        planning.Course(
            number=course.number,
            first_day=course.first_infusion_date,
            days=course.days,
            key=course.pk,
        )
        for course in courses
        if course.status != InfusionCourse.Status.CANCELLED
    ]
    protocol = patient.protocol.as_plan_protocol(items)
    return planning.plan_schedule(courses=plan_courses, protocol=protocol, sex=patient.sex)


def schedule_reconcile(*, patient: Patient) -> ReconcileResult:
    """Bring the patient's stored checks in line with their plan, in a constant number of queries.

    Open checks whose slot is still planned move to the planned dates; missing ones are created;
    open checks no longer planned are cancelled, not deleted. Completed, waived and cancelled
    checks are never touched, nor are urgent checks opened by a reported symptom. Running it
    twice changes nothing the second time.
    """
    with transaction.atomic():
        # Lock the patient so two reconciles (or a reconcile and a course edit) cannot interleave.
        locked = (
            Patient.objects.select_for_update(of=("self",))
            .select_related("protocol")
            .get(pk=patient.pk)
        )
        courses = list(locked.courses.exclude(status=InfusionCourse.Status.CANCELLED))
        items = list(locked.protocol.items.all())
        plan = patient_plan(patient=locked, courses=courses, items=items)
        # Urgent checks (opened by a reported symptom) are not the plan's to move or cancel.
        existing = {
            check.slot: check
            for check in ScheduledCheck.objects.active().planned().filter(patient=locked)
        }
        now = timezone.now()
        to_create, to_move = [], []
        for planned in plan.checks:
            check = existing.get(planned.slot)
            if check is None:
                to_create.append(_new_check(locked, planned))
            elif check.is_open and _dates_differ(check, planned):
                check.panel = planned.panel
                check.due_date = planned.due
                check.window_opens = planned.window_opens
                check.overdue_after = planned.overdue_after
                check.updated_at = now
                to_move.append(check)
        planned_slots = {planned.slot for planned in plan.checks}
        stale = [
            check.pk
            for slot, check in existing.items()
            if slot not in planned_slots and check.is_open
        ]
        if to_create:
            ScheduledCheck.objects.bulk_create(to_create)
        if to_move:
            bulk_update_recorded(to_move, MOVED_FIELDS)
        if stale:
            update_recorded(
                ScheduledCheck.objects.filter(pk__in=stale),
                cancelled_at=now,
                cancelled_reason=_cancel_reason(locked),
                updated_at=now,
            )
    return ReconcileResult(
        created=len(to_create),
        moved=len(to_move),
        cancelled=len(stale),
        end_of_follow_up=plan.end_of_follow_up,
    )


def _new_check(patient: Patient, planned: planning.PlannedCheck) -> ScheduledCheck:
    return ScheduledCheck(
        patient=patient,
        protocol_item_id=planned.item_key,
        panel=planned.panel,
        kind=planned.kind,
        month_offset=planned.month_offset,
        course_id=planned.course_key if planned.kind == planning.PRE_COURSE else None,
        due_date=planned.due,
        window_opens=planned.window_opens,
        overdue_after=planned.overdue_after,
    )


def _dates_differ(check: ScheduledCheck, planned: planning.PlannedCheck) -> bool:
    return (
        check.due_date != planned.due
        or check.window_opens != planned.window_opens
        or check.overdue_after != planned.overdue_after
        or check.panel != planned.panel
    )


def _cancel_reason(patient: Patient) -> str:
    if not patient.is_planned:
        return f"Patient status changed to “{patient.get_status_display()}”."
    return "No longer in the plan after a course or protocol change."
