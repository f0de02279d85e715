"""Reads for the nurse worklist: the patients who need something today, across the user's
clinics, one row each, in sections from the most urgent down (monitoring.worklist.sections).

The page is a fixed number of queries whether a clinic has ten patients or ten thousand: one for
the user's clinics and their settings, a few per section for its members and count, and a few
for the rows shown (monitoring.worklist.rows). Clinics in different time zones can be on
different calendar dates; they are grouped by their local date (at most a few groups at any
instant) and each group becomes one OR-ed condition, as the alert scans do.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, Subquery

from monitoring.alerts.rules import symptom_awaiting
from monitoring.models import Notification, SymptomReport
from monitoring.worklist import sections as s
from monitoring.worklist.doses import DUE_DAYS, DosesDue, doses_due
from monitoring.worklist.filters import Filters, patient_conditions
from monitoring.worklist.rows import PatientRow, rows_for
from patients.access import clinics_for
from patients.models import Clinic, TherapyDose, TherapyEpisode

# The query parameter that pages each section: ?overdue_page=2.
PAGE_PARAMETERS = {name: f"{name}_page" for name in s.SECTIONS}


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
    # Any dose planned for the clinic's patients: without one the doses panel costs no query
    # (most clinics' patients are on alemtuzumab alone, whose courses are not doses).
    has_planned_doses: bool = False


# What ClinicView reads of the clinic (its date from the time zone).
CLINIC_COLUMNS = (
    "name",
    "time_zone",
    "critical_escalation_hours",
    "red_escalation_hours",
    "overdue_escalation_days",
)

# Each section's heading and what it says when empty.
SECTION_TEXT = {
    "urgent": (
        "Symptom reports and critical or red results",
        "No symptom report and no critical or red result is waiting.",
    ),
    "failed": ("Alerts that could not be delivered", "Every alert reached someone."),
    "overdue": ("Overdue visits", "No check is overdue."),
    "due": ("Due this week", "Nothing falls due in the next seven days."),
    "amber": ("Amber results to review", "No amber result is waiting."),
}


@dataclass
class Section:
    page: s.SectionPage
    rows: list[PatientRow]
    rows_html: str = ""  # drawn by the view (monitoring.worklist.views.WorklistView.draw_rows)

    @property
    def title(self) -> str:
        return SECTION_TEXT[self.page.name][0]

    @property
    def empty_text(self) -> str:
        return SECTION_TEXT[self.page.name][1]

    def __getattr__(self, name):
        # total_label, has_next and the rest are the page's.
        return getattr(self.page, name)


@dataclass
class Worklist:
    clinics: dict[int, ClinicView]
    filters: Filters
    sections: dict[str, Section]
    # The infusions and treatment years planned within the week (monitoring.worklist.doses).
    doses: DosesDue | None = None

    @property
    def is_empty(self) -> bool:
        doses = self.doses.doses if self.doses is not None else []
        return not doses and not any(section.rows for section in self.sections.values())


def clinics_of(user, now: datetime) -> dict[int, ClinicView]:
    """One query: the user's clinics with their settings, whether the user is one of their
    nurse group (for the "mine" filter) and whether any dose is planned there by the week's
    end."""
    in_group = Exists(
        Clinic.nurses.through.objects.filter(clinic_id=OuterRef("pk"), user_id=user.pk)
    )
    # Only doses planned within the week (or earlier) matter, and the partial index on the
    # planned ones' dates reads just those, once for all clinics: asked per clinic of every
    # planned dose, this was most of the page's SQL (9-14 ms at 10,000 patients). The
    # horizon is a day past UTC's week, so no clinic's own date can be ahead of it; doses_due
    # applies each clinic's date exactly.
    # Each dose's clinic is looked up by its episode's key: joined, PostgreSQL misjudged how few
    # doses are planned by then and hashed every episode (47 ms at 100,000 patients).
    horizon = now.date() + timedelta(days=DUE_DAYS + 1)
    clinic_of_episode = (
        TherapyEpisode.objects.filter(pk=OuterRef("episode_id"))
        .order_by()
        .values("patient__clinic_id")[:1]
    )
    planned_in = (
        TherapyDose.objects.filter(status=TherapyDose.Status.PLANNED, planned_on__lte=horizon)
        .order_by()
        .values(clinic=Subquery(clinic_of_episode))
    )
    planned = ExpressionWrapper(Q(pk__in=planned_in), output_field=BooleanField())
    rows = (
        clinics_for(user)
        .only(*CLINIC_COLUMNS)
        .annotate(user_in_nurse_group=in_group, has_planned_doses=planned)
    )
    return {
        clinic.pk: ClinicView(
            pk=clinic.pk,
            name=clinic.name,
            today=clinic.today(now),
            critical_hours=clinic.critical_escalation_hours,
            red_hours=clinic.red_escalation_hours,
            overdue_days=clinic.overdue_escalation_days,
            user_in_nurse_group=clinic.user_in_nurse_group,
            has_planned_doses=clinic.has_planned_doses,
        )
        for clinic in rows
    }


def awaiting_symptom_reports():
    """The symptom reports nobody has acknowledged yet (a partial index holds just those)."""
    return SymptomReport.objects.filter(symptom_awaiting())


def failed_alerts():
    """Alerts to staff that reached nobody on their way down the chain and that nobody has
    marked handled. A patient's reminder that failed is not the nurse's work: the worklist
    already lists the overdue check it was about."""
    return Notification.objects.failed_unhandled().filter(recipient_user__isnull=False)


def _members_key(user, clinics: dict[int, ClinicView], filters: Filters) -> str:
    """What the kept members of the due and amber sections depend on: the user (their clinics,
    their nurse groups for "mine"), each clinic's date, and the filters."""
    scope = repr(
        (
            user.pk,
            sorted((pk, c.today, c.user_in_nurse_group) for pk, c in clinics.items()),
            filters,
        )
    )
    return "worklist:" + hashlib.sha256(scope.encode()).hexdigest()


def worklist_for(
    user,
    *,
    now: datetime,
    clinics: dict[int, ClinicView] | None = None,
    filters: Filters | None = None,
    pages: dict[str, int] | None = None,
) -> Worklist:
    """`pages`: the page of each section (SECTIONS' names), 1 if not given."""
    clinics = clinics if clinics is not None else clinics_of(user, now)
    filters = filters or Filters()
    pages = pages or {}
    scope = patient_conditions(filters, clinics, user.pk, prefix="patient__")
    patient_scope = patient_conditions(filters, clinics, user.pk, prefix="")
    symptoms = awaiting_symptom_reports()
    urgent, above = s.urgent_section(scope, symptoms, pages.get("urgent", 1))
    failed, failed_ids, with_failed = s.failed_section(
        scope, failed_alerts(), above, pages.get("failed", 1)
    )
    above = above + failed_ids
    key = _members_key(user, clinics, filters)
    overdue = s.overdue_section(
        clinics, scope, patient_scope, above, pages.get("overdue", 1), cache_key=f"{key}:overdue"
    )
    due = s.due_section(clinics, patient_scope, above, pages.get("due", 1), cache_key=f"{key}:due")
    amber = s.amber_section(clinics, scope, above, pages.get("amber", 1), cache_key=f"{key}:amber")
    pages_of = {page.name: page for page in (urgent, failed, overdue, due, amber)}
    rows = rows_for(
        {name: page.patient_ids for name, page in pages_of.items()},
        clinics,
        now=now,
        awaiting_symptoms=symptoms,
        failed_alerts=failed_alerts(),
        with_failed=with_failed,
    )
    return Worklist(
        clinics=clinics,
        filters=filters,
        sections={name: Section(page, rows[name]) for name, page in pages_of.items()},
        doses=doses_due(clinics, patient_scope),
    )
