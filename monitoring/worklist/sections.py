"""Which patients the worklist lists in which section, in what order, and how many.

Each patient is listed once, in the most urgent section that applies to them:

1. urgent: a symptom report or a critical or red result awaiting acknowledgement;
2. failed: an alert about them that could not be delivered and nobody has handled;
3. overdue: an open check past its overdue date;
4. due: an open check due within the week (or due already, its window still open);
5. amber: only an amber result awaiting acknowledgement.

Sections 1, 2 and 5 are small by nature (partial indexes hold just their rows), so their
patients are read whole, ordered and counted exactly. Sections 3 and 4 can hold most of a
clinic: their order comes from walking the open-check index in date order and keeping each
patient's first appearance (which is their most overdue, or soonest closing, check), a page's
worth and no more; their count stops at COUNT_CAP ("500+"), because counting 77,000 overdue
rows on every request was most of the old page's time and no nurse needs the exact figure. The
overdue count is kept for a minute (settings.WORKLIST_MEMBERS_SECONDS), never shown below the
rows it heads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from monitoring.alerts.rules import (
    any_of,
    awaiting_acknowledgement,
    check_overdue,
    clinic_ids_by,
    open_checks_of_planned_patients,
)
from monitoring.domain.tiers import Tier
from monitoring.models import LabResult, ScheduledCheck
from patients.models import Patient

T = TypeVar("T")

# Patients per page of a section. Ten rows are what a nurse works through before the next look;
# every symptom report and critical or red result is worth seeing at once, so that section
# shows more before it pages.
SECTION_LIMIT = 10
URGENT_LIMIT = 25
COUNT_CAP = 500
DUE_SOON_DAYS = 7
# Rows read per step of a walk: a patient lost to follow-up for years has a hundred overdue
# checks, so a page of 25 patients can take a few thousand rows.
WALK_CHUNK = 2000
SECTIONS = ("urgent", "failed", "overdue", "due", "amber")

# Flagged before tier_since was recorded: older than anything with a clock.
NO_CLOCK = datetime.min.replace(tzinfo=UTC)


@dataclass
class SectionPage:
    name: str
    patient_ids: list[int]
    total: int
    capped: bool = False  # total is COUNT_CAP and there are more
    page: int = 1

    @property
    def limit(self) -> int:
        return limit_of(self.name)

    @property
    def total_label(self) -> str:
        return f"{self.total}+" if self.capped else str(self.total)

    @property
    def first(self) -> int:
        return (self.page - 1) * self.limit + 1 if self.patient_ids else 0

    @property
    def last(self) -> int:
        return self.first + len(self.patient_ids) - 1 if self.patient_ids else 0

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.capped or self.page * self.limit < self.total


def limit_of(name: str) -> int:
    return URGENT_LIMIT if name == "urgent" else SECTION_LIMIT


def _page_of(ordered: list[int], page: int, limit: int = 0) -> tuple[list[int], int]:
    limit = limit or SECTION_LIMIT
    last_page = max(1, -(-len(ordered) // limit))
    page = max(1, min(page, last_page))
    start = (page - 1) * limit
    return ordered[start : start + limit], page


def _first_appearances(pairs) -> list[int]:
    seen: dict[int, None] = {}
    for patient_id in pairs:
        seen.setdefault(patient_id, None)
    return list(seen)


def _overdue(clinics) -> Q:
    return any_of(
        check_overdue(clinic_ids=ids, today=today)
        for today, ids in clinic_ids_by(clinics, lambda clinic: clinic.today).items()
    )


def _due_soon(clinics) -> Q:
    """Open, not overdue, and due by a week from today (or due already, its window open)."""
    return any_of(
        Q(
            patient__clinic_id__in=ids,
            overdue_after__gte=today,
            due_date__lte=today + timedelta(days=DUE_SOON_DAYS),
        )
        for today, ids in clinic_ids_by(clinics, lambda clinic: clinic.today).items()
    )


def _per_clinic_day(clinics, clinic_field: str, ref: str, checks) -> Q:
    """For each group of clinics sharing a local date, the clinic condition on the outer row
    and Exists(checks(today) of its patient): the subquery then has no join of its own and is
    a short range of the (patient, overdue_after) index."""
    return any_of(
        Q(**{f"{clinic_field}__in": ids}) & Exists(checks(today).filter(patient_id=OuterRef(ref)))
        for today, ids in clinic_ids_by(clinics, lambda clinic: clinic.today).items()
    )


def has_overdue_check(clinics, *, on_items: bool = False) -> Q:
    """On Patient (or, with on_items, on a row with patient_id): an open check overdue."""
    return _per_clinic_day(
        clinics,
        "patient__clinic_id" if on_items else "clinic_id",
        "patient_id" if on_items else "pk",
        lambda today: ScheduledCheck.objects.open().filter(overdue_after__lt=today),
    )


def has_check_due_soon(clinics, *, on_items: bool = False) -> Q:
    return _per_clinic_day(
        clinics,
        "patient__clinic_id" if on_items else "clinic_id",
        "patient_id" if on_items else "pk",
        lambda today: ScheduledCheck.objects.open().filter(
            overdue_after__gte=today, due_date__lte=today + timedelta(days=DUE_SOON_DAYS)
        ),
    )


def urgent_section(
    scope: Q, awaiting_symptoms: QuerySet, page: int
) -> tuple[SectionPage, list[int]]:
    """Symptom reports first, then critical, then red results; within each the oldest first.
    `scope` is on `patient__`; `awaiting_symptoms` is the symptom reports still awaiting a
    nurse, as (patient_id, reported at) pairs."""
    keys: dict[int, tuple] = {}
    for patient_id, reported in awaiting_symptoms.filter(scope).values_list(
        "patient_id", "created_at"
    ):
        _keep_smallest(keys, patient_id, (0, reported))
    rank = {Tier.CRITICAL: 1, Tier.RED: 2}
    for patient_id, tier, since in (
        LabResult.objects.filter(awaiting_acknowledgement(), scope, tier__in=list(rank))
        .order_by()
        .values_list("patient_id", "tier", "tier_since")
    ):
        # A result from before tier_since was recorded has no clock: it is the oldest.
        _keep_smallest(keys, patient_id, (rank[tier], since or NO_CLOCK))
    ordered = sorted(keys, key=lambda patient_id: (keys[patient_id], patient_id))
    shown, page = _page_of(ordered, page, URGENT_LIMIT)
    return SectionPage("urgent", shown, total=len(ordered), page=page), ordered


def _keep_smallest(keys: dict, patient_id: int, key: tuple) -> None:
    if patient_id not in keys or key < keys[patient_id]:
        keys[patient_id] = key


def failed_section(
    scope: Q, failed_alerts: QuerySet, above: list[int], page: int
) -> tuple[SectionPage, list[int], set[int]]:
    """Patients with an alert nobody received and nobody has handled, the latest first; and
    every patient in scope with such an alert, the urgent section's included (only their rows
    can show one, so the rows' query for them is skipped when there are none)."""
    rows = (
        failed_alerts.filter(scope)
        .order_by("-created_at", "-pk")
        .values_list("patient_id", flat=True)
    )
    every = _first_appearances(rows)
    excluded = set(above)
    ordered = [patient_id for patient_id in every if patient_id not in excluded]
    shown, page = _page_of(ordered, page)
    return SectionPage("failed", shown, total=len(ordered), page=page), ordered, set(every)


def _walk(checks: QuerySet, order: str, *, need: int) -> list[int]:
    """Distinct patients of `checks` in the order of (order, patient, pk), the first `need` of
    them, read WALK_CHUNK rows at a time from where the last step stopped (a keyset on the
    index's own columns, never an OFFSET)."""
    seen: dict[int, None] = {}
    after = None
    # Most patients have a few overdue checks: a first step of some twenty rows per patient
    # needed is usually enough (a few milliseconds); each further step reads four times as many.
    size = min(WALK_CHUNK, need * 20)
    while True:
        step = checks
        if after is not None:
            value, patient_id, pk = after
            step = step.filter(
                Q(**{f"{order}__gt": value})
                | Q(**{order: value, "patient_id__gt": patient_id})
                | Q(**{order: value, "patient_id": patient_id, "pk__gt": pk})
            )
        rows = list(
            step.order_by(order, "patient_id", "pk").values_list(order, "patient_id", "pk")[:size]
        )
        for _, patient_id, _ in rows:
            seen.setdefault(patient_id, None)
            if len(seen) >= need:
                return list(seen)
        if len(rows) < size:
            return list(seen)
        after = rows[-1]
        size = min(WALK_CHUNK, size * 4)


def _kept(cache_key: str, compute: Callable[[], T]) -> T:
    """compute(), kept under `cache_key` for settings.WORKLIST_MEMBERS_SECONDS (no key, or 0
    seconds: computed on every request)."""
    keep = settings.WORKLIST_MEMBERS_SECONDS if cache_key else 0
    value = cache.get(cache_key) if keep else None
    if value is None:
        value = compute()
        if keep:
            cache.set(cache_key, value, keep)
    return value


def _capped_count(patients: QuerySet[Patient], *, cache_key: str = "") -> tuple[int, bool]:
    """Up to COUNT_CAP, and whether there are more. With `cache_key`, kept for
    settings.WORKLIST_MEMBERS_SECONDS, as the due section's members are: a heading's figure a
    minute old, not a probe of every patient on every request (the rows are read fresh)."""
    count = _kept(cache_key, lambda: patients.order_by().values("pk")[: COUNT_CAP + 1].count())
    return min(count, COUNT_CAP), count > COUNT_CAP


def walked_section(
    name: str,
    *,
    checks: QuerySet,
    order: str,
    patients: QuerySet[Patient],
    page: int,
    count_key: str = "",
) -> SectionPage:
    """A page of a large section: `checks` are its rows, `patients` the same members as a
    patient query (for the capped count, kept under `count_key` if given)."""
    limit = limit_of(name)
    total, capped = _capped_count(patients, cache_key=count_key)
    if not capped:
        page = max(1, min(page, -(-total // limit)))
    ordered = _walk(checks, order, need=page * limit)
    if ordered and len(ordered) <= (page - 1) * limit:
        page = -(-len(ordered) // limit)  # past the end: the last page
    shown = ordered[(page - 1) * limit : page * limit]
    if not capped:
        # A kept count can be a minute behind: never fewer than the patients shown.
        total = max(total, (page - 1) * limit + len(shown))
    return SectionPage(name, shown, total=total, capped=capped, page=page)


def overdue_section(
    clinics, scope: Q, patient_scope: Q, above: list[int], page: int, *, cache_key: str = ""
) -> SectionPage:
    checks = (
        open_checks_of_planned_patients()
        .filter(_overdue(clinics), scope)
        .exclude(patient_id__in=above)
    )
    patients = (
        Patient.objects.filter(patient_scope, status__in=Patient.PLANNED_STATUSES)
        .filter(has_overdue_check(clinics))
        .exclude(pk__in=above)
    )
    # The patients above are left out of the count: they are part of its key.
    count_key = f"{cache_key}:{hashlib.sha256(repr(sorted(above)).encode()).hexdigest()}"
    return walked_section(
        "overdue",
        checks=checks,
        order="overdue_after",
        patients=patients,
        page=page,
        count_key=count_key if cache_key else "",
    )


def due_section(
    clinics, patient_scope: Q, above: list[int], page: int, *, cache_key: str
) -> SectionPage:
    """Soonest to become overdue first. Unlike the overdue section this one is read from the
    patients, asking each "anything overdue?" (one short range of an index): when most patients
    with a check due also have one overdue, and are listed there, walking the due checks would
    read all of them to find the few left. That is still a probe per patient, so the members
    are kept for a minute (settings.WORKLIST_MEMBERS_SECONDS): the rows themselves are
    read fresh on every request, and a patient whose checks closed meanwhile drops out of the
    page (rows.rows_for)."""

    def members_read() -> list[int]:
        closes = (
            ScheduledCheck.objects.open()
            .filter(_due_soon(clinics), patient_id=OuterRef("pk"))
            .order_by("overdue_after")
            .values("overdue_after")[:1]
        )
        return list(
            Patient.objects.filter(patient_scope, status__in=Patient.PLANNED_STATUSES)
            .exclude(has_overdue_check(clinics))
            .filter(has_check_due_soon(clinics))
            .annotate(closes=Subquery(closes))
            .order_by("closes", "pk")
            .values_list("pk", flat=True)[: COUNT_CAP + 1 + len(above)]
        )

    excluded = set(above)
    members = [pk for pk in _kept(cache_key, members_read) if pk not in excluded]
    capped = len(members) > COUNT_CAP
    shown, page = _page_of(members[:COUNT_CAP], page)
    return SectionPage("due", shown, total=min(len(members), COUNT_CAP), capped=capped, page=page)


def amber_section(clinics, scope: Q, above: list[int], page: int, *, cache_key: str) -> SectionPage:
    """Patients whose only work is an amber result to acknowledge, the oldest first. The
    waiting amber results are read whole; then each of their patients is asked whether they
    have a check overdue or due (and are listed there instead): a probe each, so, as in
    due_section, the members are kept for a minute and the rows read fresh."""

    def members_read() -> list[int]:
        rows = (
            LabResult.objects.filter(awaiting_acknowledgement(), scope, tier=Tier.AMBER)
            .order_by("tier_since", "pk")
            .values_list("patient_id", flat=True)
        )
        candidates = _first_appearances(rows)
        listed_above = set(
            Patient.objects.filter(pk__in=candidates, status__in=Patient.PLANNED_STATUSES)
            .filter(has_overdue_check(clinics) | has_check_due_soon(clinics))
            .values_list("pk", flat=True)
        )
        return [pk for pk in candidates if pk not in listed_above]

    excluded = set(above)
    ordered = [pk for pk in _kept(cache_key, members_read) if pk not in excluded]
    shown, page = _page_of(ordered, page)
    return SectionPage("amber", shown, total=len(ordered), page=page)
