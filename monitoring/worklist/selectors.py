"""Reads for the nurse worklist: what needs a nurse today, across the user's clinics.

The page is the same ten queries whether a clinic has ten patients or ten thousand: one for the
user's clinics and their settings, then a count and one page of rows per section, and one
query for the latest follow-up notes of the checks shown. A section shows its most urgent
SECTION_LIMIT rows; the others are a page away (`?overdue_page=2`), so the page costs the same
to render whatever the backlog. Clinics in different time zones can be
on different calendar dates; they are grouped by their local date (at most a few groups at any
instant) and each group becomes one OR-ed condition, as the alert scans do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import (
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)

from monitoring.alerts.rules import (
    any_of,
    awaiting_acknowledgement,
    check_is_escalated,
    check_overdue,
    clinic_ids_by,
    open_checks_of_planned_patients,
    result_is_escalated,
)
from monitoring.domain.tiers import urgency_rank
from monitoring.models import (
    Acknowledgement,
    LabResult,
    Notification,
    ScheduledCheck,
)
from patients.access import clinics_for
from patients.models import Clinic

# Rows shown per section (a page of it); the total is always counted, so nothing is hidden
# without saying so. Rendering a row is most of the page's cost: 200 rows a section took a
# second at 10,000 patients.
SECTION_LIMIT = 25
# The query parameter that pages each pageable section: ?overdue_page=2.
PAGE_PARAMETERS = {"overdue": "overdue_page", "due_soon": "due_page", "failed": "failed_page"}
DUE_SOON_DAYS = 7


@dataclass(frozen=True)
class ClinicView:
    """What the worklist needs to know about one of the user's clinics."""

    pk: int
    name: str
    today: date
    critical_hours: int
    red_hours: int
    overdue_days: int
    user_in_nurse_group: bool


@dataclass
class Section:
    rows: list
    total: int
    page: int = 1  # of SECTION_LIMIT rows, from 1

    @property
    def hidden(self) -> int:
        """Rows counted but not shown, so the page can say how many more there are."""
        return self.total - len(self.rows)

    @property
    def first(self) -> int:
        """The position of the first row shown, from 1 (0 when the section is empty)."""
        return (self.page - 1) * SECTION_LIMIT + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page * SECTION_LIMIT < self.total


@dataclass
class Worklist:
    clinics: dict[int, ClinicView]
    results: Section
    overdue: Section
    due_soon: Section
    failed: Section
    mine: bool


def worklist_for(
    user, *, now: datetime, mine: bool = False, pages: dict[str, int] | None = None
) -> Worklist:
    """`pages`: the page of each pageable section (PAGE_PARAMETERS' keys), 1 if not given."""
    pages = pages or {}
    clinics = _clinics_of(user, now)
    scope = _patient_scope(user, clinics, mine=mine)
    overdue = _overdue_checks(clinics, scope, page=pages.get("overdue", 1))
    due_soon = _checks_due_soon(clinics, scope, page=pages.get("due_soon", 1))
    _attach_latest_follow_ups([*overdue.rows, *due_soon.rows])
    return Worklist(
        clinics=clinics,
        results=_awaiting_results(clinics, scope, now),
        overdue=overdue,
        due_soon=due_soon,
        failed=_failed_notifications(scope, page=pages.get("failed", 1)),
        mine=mine,
    )


def _clinics_of(user, now: datetime) -> dict[int, ClinicView]:
    """One query: the user's clinics with their settings and whether the user is one of
    their nurse group (for the "mine" filter)."""
    in_group = Exists(
        Clinic.nurses.through.objects.filter(clinic_id=OuterRef("pk"), user_id=user.pk)
    )
    rows = clinics_for(user).annotate(user_in_nurse_group=in_group)
    return {
        clinic.pk: ClinicView(
            pk=clinic.pk,
            name=clinic.name,
            today=clinic.today(now),
            critical_hours=clinic.critical_escalation_hours,
            red_hours=clinic.red_escalation_hours,
            overdue_days=clinic.overdue_escalation_days,
            user_in_nurse_group=clinic.user_in_nurse_group,
        )
        for clinic in rows
    }


def _patient_scope(user, clinics: dict[int, ClinicView], *, mine: bool) -> Q:
    """A condition on `patient__...`: the user's clinics, and with `mine` only the patients
    whose alerts go to this user: named to them, or unnamed in a clinic whose nurse group
    they are in."""
    scope = Q(patient__clinic_id__in=list(clinics))
    if mine:
        group_clinics = [pk for pk, clinic in clinics.items() if clinic.user_in_nurse_group]
        scope &= Q(patient__named_nurse_id=user.pk) | Q(
            patient__named_nurse__isnull=True, patient__clinic_id__in=group_clinics
        )
    return scope


def _section(queryset: QuerySet, page: int = 1) -> Section:
    """The count, then one page of rows: two queries whatever the page. A page past the end
    shows the last one."""
    total = queryset.count()
    page = max(1, min(page, -(-total // SECTION_LIMIT)))
    start = (page - 1) * SECTION_LIMIT
    return Section(rows=list(queryset[start : start + SECTION_LIMIT]), total=total, page=page)


def _open_checks(scope: Q) -> QuerySet[ScheduledCheck]:
    return (
        open_checks_of_planned_patients()
        .filter(scope)
        # An urgent check shows the symptom report behind it: a join, not a query per row.
        .select_related("patient", "symptom_report")
    )


def _awaiting_results(clinics: dict[int, ClinicView], scope: Q, now: datetime) -> Section:
    """The waiting results are few (a partial index holds just those): found unordered, ordered
    here and the shown ones loaded: two queries, as a count and a page would be."""
    waiting = list(
        LabResult.objects.filter(awaiting_acknowledgement(), scope)
        .order_by()
        .values_list("pk", "tier", "tier_since")
    )
    # Critical, then red, then amber; the oldest first. Results from before tier_since was
    # recorded have no clock; they are the oldest.
    waiting.sort(key=lambda row: (urgency_rank(row[1]), row[2] is not None, row[2] or now, row[0]))
    shown = [pk for pk, _, _ in waiting[:SECTION_LIMIT]]
    loaded = LabResult.objects.select_related("patient", "analyte").in_bulk(shown)
    section = Section(rows=[loaded[pk] for pk in shown], total=len(waiting))
    for result in section.rows:
        clinic = clinics[result.patient.clinic_id]
        result.escalated = result_is_escalated(
            tier=result.tier,
            tier_since=result.tier_since,
            now=now,
            critical_hours=clinic.critical_hours,
            red_hours=clinic.red_hours,
        )
    return section


def _overdue_checks(clinics: dict[int, ClinicView], scope: Q, *, page: int = 1) -> Section:
    groups = clinic_ids_by(clinics, lambda clinic: clinic.today)
    overdue = any_of(check_overdue(clinic_ids=ids, today=today) for today, ids in groups.items())
    checks = (
        _open_checks(scope).filter(overdue).order_by("overdue_after", "patient__family_name", "pk")
    )
    section = _section(checks, page)
    for check in section.rows:
        clinic = clinics[check.patient.clinic_id]
        check.days_overdue = (clinic.today - check.overdue_after).days
        check.escalated = check_is_escalated(
            overdue_after=check.overdue_after, today=clinic.today, overdue_days=clinic.overdue_days
        )
    return section


def _checks_due_soon(clinics: dict[int, ClinicView], scope: Q, *, page: int = 1) -> Section:
    """Due today or in the next week and not yet overdue."""
    window = any_of(
        [
            Q(
                patient__clinic_id__in=ids,
                due_date__gte=today,
                due_date__lte=today + timedelta(days=DUE_SOON_DAYS),
                overdue_after__gte=today,
            )
            for today, ids in clinic_ids_by(clinics, lambda clinic: clinic.today).items()
        ]
    )
    checks = _open_checks(scope).filter(window).order_by("due_date", "patient__family_name", "pk")
    return _section(checks, page)


def _attach_latest_follow_ups(checks: list[ScheduledCheck]) -> None:
    """Each check's latest follow-up note as `check.latest_follow_up` (or None): one query
    for all the checks shown, whatever their number."""
    latest = Acknowledgement.objects.filter(scheduled_check=OuterRef("scheduled_check_id"))
    notes = {
        note.scheduled_check_id: note
        for note in Acknowledgement.objects.filter(
            scheduled_check__in=[check.pk for check in checks],
            pk=Subquery(latest.order_by("-acknowledged_at", "-pk").values("pk")[:1]),
        ).select_related("acknowledged_by")
    }
    for check in checks:
        check.latest_follow_up = notes.get(check.pk)


def _failed_notifications(scope: Q, *, page: int = 1) -> Section:
    """Alerts that never reached their recipient after every retry: someone must pass the
    message on by other means."""
    failed = (
        Notification.objects.filter(scope, status=Notification.Status.FAILED)
        .select_related(
            "patient", "recipient_user", "recipient_patient", "result__analyte", "scheduled_check"
        )
        .order_by("-created_at", "-pk")
    )
    return _section(failed, page)
