"""Writes to monitoring data. Planning itself is pure (domain.planning); this module loads
what planning needs, and stores what it returns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from django.db import models, transaction
from django.utils import timezone

from audit.bulk import bulk_update_recorded, update_recorded
from audit.record_changes import records_changed
from monitoring.domain import episode_planning, planning, therapies
from monitoring.models import ProtocolItem, ScheduledCheck
from patients.models import InfusionCourse, Patient, TherapyDose, TherapyEpisode

from .bulk_insert import rows_insert

MOVED_FIELDS = [
    "panel",
    "shares_visit",
    "due_date",
    "window_opens",
    "overdue_after",
    "before_tracking",
    "updated_at",
]


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


def episode_plan(*, episode: TherapyEpisode, items, doses) -> planning.Plan:
    """The plan of one episode of a therapy other than alemtuzumab, from its protocol."""
    plan_episode = episode_planning.Episode(
        key=episode.pk,
        started_on=episode.started_on,
        stopped_on=episode.stopped_on,
        doses=tuple(
            episode_planning.Dose(number=dose.number, day=dose.day, key=dose.pk)
            for dose in doses
            if dose.status != TherapyDose.Status.CANCELLED
        ),
    )
    protocol = episode.protocol.as_plan_protocol(items)
    return episode_planning.plan_episode(
        episode=plan_episode, protocol=protocol, sex=episode.patient.sex
    )


def patient_plans(*, patient: Patient, courses, episodes, items, doses, taken=frozenset()):
    """Every check of the patient's therapies, alemtuzumab's follow-up first, then each other
    episode by its start, with the same test due within a few days planned as one visit."""
    if not patient.is_planned:
        return patient_plan(patient=patient, courses=courses, items=()), []
    alemtuzumab = patient_plan(patient=patient, courses=courses, items=items[patient.protocol_id])
    plans = [alemtuzumab.checks]
    for episode in episodes:
        plans.append(
            episode_plan(
                episode=episode, items=items[episode.protocol_id], doses=doses[episode.pk]
            ).checks
        )
    if len(plans) == 1:
        return alemtuzumab, list(alemtuzumab.checks)
    return alemtuzumab, episode_planning.share_visits(plans, taken=taken)


def schedule_reconcile(*, patient: Patient) -> ReconcileResult:
    """Bring the patient's stored checks in line with their plan, in a constant number of queries.

    Open checks whose slot is still planned move to the planned dates; missing ones are created;
    open checks no longer planned are cancelled, not deleted. Completed, waived and cancelled
    checks are never touched, nor are urgent checks opened by a reported symptom. Running it
    twice changes nothing the second time.
    """
    result = schedules_reconcile(patient_ids=[patient.pk])[patient.pk]
    # The caller's instance too: a later save() of it must not write back an older end.
    patient.follow_up_ends = result.end_of_follow_up
    return result


def schedules_reconcile(*, patient_ids: Sequence[int]) -> dict[int, ReconcileResult]:
    """schedule_reconcile for many patients at once, in the same number of queries as for one:
    a protocol change, an import of a programme's patients. Give it a few hundred at a time
    (reconcile_in_batches): every patient is locked until the transaction ends."""
    results: dict[int, ReconcileResult] = {}
    with transaction.atomic():
        # Lock the patients so two reconciles (or a reconcile and a course edit) cannot
        # interleave; in id order, so two batches that overlap cannot deadlock.
        locked = list(
            Patient.objects.select_for_update(of=("self",))
            .select_related("protocol")
            .filter(pk__in=patient_ids)
            .order_by("pk")
        )
        courses = defaultdict(list)
        courses_read = list(
            InfusionCourse.objects.filter(patient__in=patient_ids)
            .exclude(status=InfusionCourse.Status.CANCELLED)
            .select_related("episode")
        )
        for course in courses_read:
            courses[course.patient_id].append(course)
        episodes, alemtuzumab_episodes = defaultdict(list), {}
        for course in courses_read:
            if course.episode is not None:
                alemtuzumab_episodes[course.patient_id] = course.episode
        # Only patients with another therapy have episodes to plan (Patient.other_therapies).
        others = [patient.pk for patient in locked if patient.other_therapies]
        if others:
            for episode in (
                TherapyEpisode.objects.filter(patient__in=others)
                .exclude(therapy=therapies.ALEMTUZUMAB)
                .select_related("protocol")  # episode_plan reads it: no query an episode
                .order_by("started_on", "pk")
            ):
                episodes[episode.patient_id].append(episode)
        doses = defaultdict(list)
        if episodes:
            for dose in TherapyDose.objects.filter(episode__patient__in=others):
                doses[dose.episode_id].append(dose)
        protocol_ids = {patient.protocol_id for patient in locked}
        protocol_ids.update(e.protocol_id for mine in episodes.values() for e in mine)
        items = defaultdict(list)
        for item in ProtocolItem.objects.filter(protocol__in=protocol_ids):
            items[item.protocol_id].append(item)
        # Urgent checks (opened by a reported symptom) are not the plan's to move or cancel.
        # Read as plain values: a re-plan that changes nothing builds no model instances.
        existing = defaultdict(dict)
        for row in (
            ScheduledCheck.objects.active()
            .planned()
            .filter(patient__in=patient_ids)
            .values_list(*_STORED)
        ):
            stored = _Stored(*row)
            existing[stored.patient_id][stored.slot] = stored
        now = timezone.now()
        to_create, to_move, stale, ends_changed = [], {}, defaultdict(list), []
        starts_changed, episodes_new = [], []
        for patient in locked:
            mine = existing[patient.pk]
            for episode in episodes[patient.pk]:
                episode.patient = patient  # planning reads the sex; one patient, no query
            plan, planned_checks = patient_plans(
                patient=patient,
                courses=courses[patient.pk],
                episodes=episodes[patient.pk],
                items=items,
                doses=doses,
                taken={slot for slot, check in mine.items() if not check.is_pending},
            )
            if plan.end_of_follow_up != patient.follow_up_ends:
                patient.follow_up_ends = plan.end_of_follow_up
                ends_changed.append(patient)
            _alemtuzumab_episode_keep(
                patient, courses[patient.pk], alemtuzumab_episodes, starts_changed, episodes_new
            )
            done = {check.done_key for check in mine.values() if not check.is_pending}
            created = len(to_create)
            moved = len(to_move)
            for planned in planned_checks:
                check = mine.get(planned.slot)
                history = planned.overdue_after < patient.tracked_from
                if check is None:
                    if _done_key(planned.panel, planned.slot) in done:
                        # Done or waived under another protocol item (before a protocol
                        # switch): the same panel at the same point is not asked for twice.
                        continue
                    to_create.append(_new_row(patient.pk, planned, now, history))
                elif check.is_pending and _dates_differ(check, planned, history):
                    to_move[check.pk] = (planned, history)
            planned_slots = {planned.slot for planned in planned_checks}
            cancelled = [
                check
                for slot, check in mine.items()
                if slot not in planned_slots and check.is_pending
            ]
            of_episode = {episode.pk: episode for episode in episodes[patient.pk]}
            for check in cancelled:
                stale[_cancel_reason(patient, of_episode.get(check.episode_id))].append(check.pk)
            results[patient.pk] = ReconcileResult(
                created=len(to_create) - created,
                moved=len(to_move) - moved,
                cancelled=len(cancelled),
                end_of_follow_up=plan.end_of_follow_up,
            )
        if to_create:
            rows_insert(ScheduledCheck, NEW_FIELDS, to_create)
        if to_move:
            moving = list(ScheduledCheck.objects.filter(pk__in=to_move))
            for check in moving:
                planned, history = to_move[check.pk]
                check.panel = planned.panel
                check.shares_visit = planned.shares_visit
                check.due_date = planned.due
                check.window_opens = planned.window_opens
                check.overdue_after = planned.overdue_after
                check.before_tracking = history
                check.updated_at = now
            bulk_update_recorded(moving, MOVED_FIELDS)
        if ends_changed:
            # Derived from the courses and the protocol, whose own changes are in the history;
            # a bulk update, so re-planning thousands of patients stays one statement.
            Patient.objects.bulk_update(ends_changed, ["follow_up_ends"])
        if episodes_new:
            TherapyEpisode.objects.bulk_create(episodes_new)
            InfusionCourse.objects.filter(
                patient__in=[episode.patient_id for episode in episodes_new], episode=None
            ).update(
                episode=models.Subquery(
                    TherapyEpisode.objects.filter(
                        patient=models.OuterRef("patient"), therapy=therapies.ALEMTUZUMAB
                    ).values("pk")[:1]
                )
            )
        if starts_changed:
            # Derived from the courses, whose changes are in their own history.
            TherapyEpisode.objects.bulk_update(starts_changed, ["started_on"])
        for reason, pks in stale.items():
            if pks:
                update_recorded(
                    ScheduledCheck.objects.filter(pk__in=pks),
                    cancelled_at=now,
                    cancelled_reason=reason,
                    updated_at=now,
                )
        # Moves and cancellations wrote audit entries, which tell every process keeping a
        # patient's pages; the checks created and the ends and starts derived here did not.
        records_changed(
            [pk for pk, result in results.items() if result.created]
            + [patient.pk for patient in ends_changed]
            + [episode.patient_id for episode in starts_changed + episodes_new]
        )
    return results


def _alemtuzumab_episode_keep(patient, courses, episodes, starts_changed, episodes_new) -> None:
    """The patient's alemtuzumab episode starts on course 1's first infusion; a patient's first
    course opens it (its courses are its doses)."""
    if not courses:
        return
    start = min(course.first_infusion_date for course in courses)
    episode = episodes.get(patient.pk)
    if episode is None:
        episodes_new.append(
            TherapyEpisode(patient=patient, therapy=therapies.ALEMTUZUMAB, started_on=start)
        )
    elif episode.started_on != start:
        episode.started_on = start
        starts_changed.append(episode)


def reconcile_in_batches(patient_ids: Sequence[int], *, batch: int = 500) -> int:
    """Re-plan many patients, `batch` to a transaction; returns the checks created."""
    created = 0
    for start in range(0, len(patient_ids), batch):
        results = schedules_reconcile(patient_ids=patient_ids[start : start + batch])
        created += sum(result.created for result in results.values())
    return created


# What reconciling needs of a stored check, read as a tuple.
_STORED = [
    "pk",
    "patient_id",
    "protocol_item_id",
    "kind",
    "month_offset",
    "course_id",
    "episode_id",
    "dose_id",
    "shares_visit",
    "panel",
    "due_date",
    "window_opens",
    "overdue_after",
    "before_tracking",
    "completed_on",
    "waived_at",
    "cancelled_at",
]


class _Stored(NamedTuple):
    pk: int
    patient_id: int
    protocol_item_id: int
    kind: str
    month_offset: int | None
    course_id: int | None
    episode_id: int | None
    dose_id: int | None
    shares_visit: bool
    panel: str
    due_date: date
    window_opens: date
    overdue_after: date
    before_tracking: bool
    completed_on: date | None
    waived_at: object
    cancelled_at: object

    @property
    def slot(self) -> tuple:
        return planning.check_slot(
            self.protocol_item_id,
            self.kind,
            self.month_offset,
            self.course_id,
            episode_key=self.episode_id,
            dose_key=self.dose_id,
        )

    @property
    def is_pending(self) -> bool:
        """Still the plan's to move or cancel: work or history, not yet done or waived."""
        return self.cancelled_at is None and self.waived_at is None and self.completed_on is None

    @property
    def done_key(self) -> tuple:
        return _done_key(self.panel, self.slot)


def _done_key(panel: str, slot: tuple) -> tuple:
    """A check's panel and point in the plan (months from the anchor, or the course; for an
    episode's check also the episode and the dose), whatever protocol item it came from: what
    a protocol switch must not plan a second time."""
    return (panel, *slot[1:])


NEW_FIELDS = [
    "patient_id",
    "protocol_item_id",
    "panel",
    "kind",
    "month_offset",
    "course_id",
    "episode_id",
    "dose_id",
    "shares_visit",
    "due_date",
    "window_opens",
    "overdue_after",
    "before_tracking",
    "completed_on",
    "waived_reason",
    "cancelled_reason",
    "created_at",
    "updated_at",
]


def _new_row(patient_id: int, planned: planning.PlannedCheck, now, history: bool) -> tuple:
    """A new check as values for NEW_FIELDS. The checks a plan creates are not audited one by
    one (audit/bulk.py says why), so they go in with COPY rather than as model instances."""
    return (
        patient_id,
        planned.item_key,
        planned.panel,
        planned.kind,
        planned.month_offset,
        planned.course_key if planned.kind == planning.PRE_COURSE else None,
        planned.episode_key,
        planned.dose_key,
        planned.shares_visit,
        planned.due,
        planned.window_opens,
        planned.overdue_after,
        history,
        None,
        "",
        "",
        now,
        now,
    )


def _dates_differ(check: _Stored, planned: planning.PlannedCheck, history: bool) -> bool:
    return (
        check.before_tracking != history
        or check.due_date != planned.due
        or check.window_opens != planned.window_opens
        or check.overdue_after != planned.overdue_after
        or check.panel != planned.panel
        or check.shares_visit != planned.shares_visit
    )


def _cancel_reason(patient: Patient, episode: TherapyEpisode | None = None) -> str:
    if not patient.is_planned:
        return f"Patient status changed to “{patient.get_status_display()}”."
    if episode is not None and episode.stopped_on is not None:
        name = episode.therapy_info.name
        return f"{name} stopped on {episode.stopped_on:%d %b %Y}."
    if episode is not None:
        return "No longer in the plan after a change to the therapy, its doses or its protocol."
    return "No longer in the plan after a course or protocol change."
