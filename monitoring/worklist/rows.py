"""What the worklist shows on each listed patient's row, read for all the rows of the page at
once: a fixed number of queries however many patients are shown and however long their
histories.

A row holds the patient's symptom reports and results awaiting a nurse, the alerts about them
nobody received, their open checks grouped into visits (checks due on the same day are one
blood draw: "blood count, kidney, liver and urine, due 4 Dec"), and their latest follow-up note.
A patient years overdue has a hundred overdue checks; the row shows the latest overdue visit and
counts the rest, which the bulk actions can still reach as "all overdue checks".
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Min, Q, QuerySet, Window
from django.db.models.functions import DenseRank

from accounts import generations
from audit.record_changes import record_key
from monitoring.alerts.rules import (
    any_of,
    awaiting_acknowledgement,
    check_is_escalated,
    result_is_escalated,
    symptom_is_escalated,
)
from monitoring.domain.tiers import URGENT_TIERS, urgency_rank
from monitoring.models import Acknowledgement, LabResult, Notification, ScheduledCheck
from monitoring.results.rule_cache import RULES_KEY
from monitoring.worklist.sections import DUE_SOON_DAYS
from patients.models import Patient

log = logging.getLogger(__name__)

# Overdue checks due within this many days of the patient's latest overdue one are shown as
# that visit; older ones are counted.
VISIT_SPAN_DAYS = 7
# What a visit line shows of a check, read as plain values (VisitCheck): a page's hundred
# checks built as models were a fifth of the rows' time.
CHECK_COLUMNS = ("pk", "patient_id", "panel", "kind", "due_date", "overdue_after")
# And of the patient, what the row's heading shows.
PATIENT_COLUMNS = (
    "pk",
    "clinic_id",
    "given_name",
    "family_name",
    "hospital_number",
    "status",
    "created_at",
    "named_nurse",
    "named_nurse__first_name",
    "named_nurse__last_name",
    "named_nurse__username",
)


@dataclass(slots=True)
class VisitCheck:
    """A check of a visit line, as the row shows it (CHECK_COLUMNS)."""

    pk: int
    patient_id: int
    panel: str
    kind: str
    due_date: date
    overdue_after: date
    done_url: str = ""  # set by the view for a check recorded as done from its row


@dataclass(frozen=True, slots=True)
class FollowUp:
    """The latest follow-up note on a row's visits, as the row shows it."""

    action_label: str
    note: str
    by: str
    at: datetime


@dataclass
class Visit:
    due_date: date
    checks: list[VisitCheck]
    days_overdue: int | None = None  # None: not overdue yet
    escalated: bool = False

    @property
    def overdue(self) -> bool:
        return self.days_overdue is not None


@dataclass
class PatientRow:
    patient: Patient
    section: str
    clinic_name: str = ""
    symptom_reports: list = field(default_factory=list)
    results: list[LabResult] = field(default_factory=list)
    failed_alerts: list[Notification] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    overdue_total: int = 0
    oldest_overdue: date | None = None
    latest_follow_up: FollowUp | None = None
    kept_key: str = ""  # under which its record items are kept (_kept_items)

    @property
    def has_work(self) -> bool:
        return bool(self.symptom_reports or self.results or self.failed_alerts or self.visits)

    @property
    def earlier_overdue(self) -> int:
        """Overdue checks not shown in a visit line."""
        shown = sum(len(visit.checks) for visit in self.visits if visit.overdue)
        return self.overdue_total - shown

    @property
    def urgent_results(self) -> list[LabResult]:
        return [result for result in self.results if result.tier in URGENT_TIERS]

    @property
    def other_results(self) -> list[LabResult]:
        return [result for result in self.results if result.tier not in URGENT_TIERS]


def rows_for(
    sections: dict[str, list[int]],
    clinics,
    *,
    now: datetime,
    awaiting_symptoms: QuerySet,
    failed_alerts: QuerySet,
    with_failed: set[int] | None = None,
) -> dict[str, list[PatientRow]]:
    """The rows of each section, in the section's order. `with_failed`: the patients with an
    undelivered alert, when the caller knows them (None: any patient may have one)."""
    ids = [pk for shown in sections.values() for pk in shown]
    if not ids:
        return {name: [] for name in sections}
    patients = Patient.objects.select_related("named_nurse").only(*PATIENT_COLUMNS).in_bulk(ids)
    section_of = {pk: name for name, shown in sections.items() for pk in shown}
    rows = {
        pk: PatientRow(
            patient=patients[pk],
            section=section_of[pk],
            clinic_name=clinics[patients[pk].clinic_id].name,
        )
        for pk in ids
    }
    drawn = _kept_items(rows, clinics)
    if drawn:
        _add_symptom_reports(drawn, awaiting_symptoms)
        _add_results(drawn)
        _add_visits(drawn, clinics)
        _add_latest_follow_ups(drawn)
        _keep_items(drawn)
    _add_failed_alerts(rows, failed_alerts, with_failed)
    _mark_escalated(rows, clinics, now)
    # A patient kept in the due section's members whose checks have closed since has nothing
    # left to do: their row is left out rather than shown empty.
    return {
        name: [rows[pk] for pk in shown if rows[pk].has_work] for name, shown in sections.items()
    }


def _add_symptom_reports(rows: dict[int, PatientRow], awaiting_symptoms: QuerySet) -> None:
    for report in awaiting_symptoms.filter(patient_id__in=list(rows)).order_by("created_at"):
        rows[report.patient_id].symptom_reports.append(report)


def _add_results(rows: dict[int, PatientRow]) -> None:
    results = LabResult.objects.filter(
        awaiting_acknowledgement(), patient_id__in=list(rows)
    ).select_related("analyte")
    for result in sorted(results, key=lambda r: (urgency_rank(r.tier), r.sample_collected_on)):
        rows[result.patient_id].results.append(result)


def _mark_escalated(rows: dict[int, PatientRow], clinics, now: datetime) -> None:
    """What has waited past the clinic's escalation times, as of `now` (kept items too)."""
    for row in rows.values():
        clinic = clinics[row.patient.clinic_id]
        for report in row.symptom_reports:
            report.escalated = symptom_is_escalated(
                created_at=report.created_at, now=now, red_hours=clinic.red_hours
            )
        for result in row.results:
            result.escalated = result_is_escalated(
                tier=result.tier,
                tier_since=result.tier_since,
                now=now,
                critical_hours=clinic.critical_hours,
                red_hours=clinic.red_hours,
            )


# What a row keeps between requests: everything read from the patient's record.
KEPT_FIELDS = (
    "symptom_reports",
    "results",
    "visits",
    "overdue_total",
    "oldest_overdue",
    "latest_follow_up",
)


def _kept_items(rows: dict[int, PatientRow], clinics) -> dict[int, PatientRow]:
    """Fill each row's record items from the cache where they were kept under the record's
    current token; return the rows still to be read. Each row's key is stamped with the code
    that read it (generations.code_stamp: a release never unpickles another's rows), its
    record's generation token (audit.record_changes: replaced by every change to the record,
    from any process) and the flag rules' (a result's next action), and keyed on the patient
    row's creation time (ids reused by a rebuilt database), the clinic's date and its overdue
    escalation days (a visit's days overdue and escalation). The alerts nobody received are not
    the record's: they are read every time. Two cache reads however many rows; without a
    usable cache every row is read."""
    seconds = settings.WORKLIST_ROWS_SECONDS
    if not seconds:
        return rows
    ids = list(rows)
    stamps = generations.tokens(*(record_key(pk) for pk in ids), RULES_KEY)
    if stamps is None:
        return rows
    rules = stamps[-1]
    for pk, stamp in zip(ids, stamps, strict=False):
        row = rows[pk]
        depends_on = (
            generations.code_stamp(),
            pk,
            row.patient.created_at.isoformat(),
            stamp,
            rules,
            clinics[row.patient.clinic_id].today,
            clinics[row.patient.clinic_id].overdue_days,
        )
        row.kept_key = f"worklist-row:{hashlib.sha256(repr(depends_on).encode()).hexdigest()}"
    try:
        kept = cache.get_many([row.kept_key for row in rows.values()])
    except Exception:
        log.warning("worklist rows: the cache could not be read", exc_info=True)
        kept = {}
    drawn = {}
    for pk, row in rows.items():
        items = kept.get(row.kept_key)
        if items is None:
            drawn[pk] = row
        else:
            for name, value in zip(KEPT_FIELDS, items, strict=True):
                setattr(row, name, value)
    return drawn


def _keep_items(rows: dict[int, PatientRow]) -> None:
    keyed = {row.kept_key: row for row in rows.values() if row.kept_key}
    if not keyed:
        return
    try:
        cache.set_many(
            {key: tuple(getattr(row, name) for name in KEPT_FIELDS) for key, row in keyed.items()},
            timeout=settings.WORKLIST_ROWS_SECONDS,
        )
    except Exception:
        log.warning("worklist rows: the cache could not be written", exc_info=True)


def _add_failed_alerts(
    rows: dict[int, PatientRow], failed_alerts: QuerySet, with_failed: set[int] | None
) -> None:
    ids = list(rows) if with_failed is None else [pk for pk in rows if pk in with_failed]
    if not ids:
        return
    alerts = (
        failed_alerts.filter(patient_id__in=ids)
        .select_related("recipient_user", "result__analyte", "scheduled_check")
        .prefetch_related("fallbacks__recipient_user")
        .order_by("-created_at", "-pk")
    )
    for alert in alerts:
        rows[alert.patient_id].failed_alerts.append(alert)


def _add_visits(rows: dict[int, PatientRow], clinics) -> None:
    """Two queries: the checks of each patient's latest overdue visits, each row carrying the
    patient's overdue count and oldest due date (window functions over all their overdue
    checks, so nothing older is loaded), then the checks of the week ahead."""
    by_today = defaultdict(list)
    for pk, row in rows.items():
        by_today[clinics[row.patient.clinic_id].today].append(pk)
    overdue = (
        ScheduledCheck.objects.open()
        .filter(
            any_of(Q(patient_id__in=ids, overdue_after__lt=day) for day, ids in by_today.items())
        )
        .annotate(
            visit=Window(
                DenseRank(), partition_by=[F("patient_id")], order_by=F("due_date").desc()
            ),
            overdue_total=Window(Count("pk"), partition_by=[F("patient_id")]),
            oldest_due=Window(Min("due_date"), partition_by=[F("patient_id")]),
        )
        # The latest two due dates: checks of one visit can fall a few days apart.
        .filter(visit__lte=2)
        .values_list(*CHECK_COLUMNS, "overdue_total", "oldest_due")
    )
    due = (
        ScheduledCheck.objects.open()
        .filter(
            any_of(
                Q(
                    patient_id__in=ids,
                    overdue_after__gte=day,
                    due_date__lte=day + timedelta(days=DUE_SOON_DAYS),
                )
                for day, ids in by_today.items()
            )
        )
        .order_by("due_date", "panel", "pk")
        .values_list(*CHECK_COLUMNS)
    )
    latest: dict[int, date] = {}
    overdue_checks = []
    for *columns, total, oldest_due in overdue:
        check = VisitCheck(*columns)
        overdue_checks.append(check)
        row = rows[check.patient_id]
        row.overdue_total, row.oldest_overdue = total, oldest_due
        latest[check.patient_id] = max(latest.get(check.patient_id, check.due_date), check.due_date)
    overdue_checks.sort(key=lambda check: (check.due_date, check.panel, check.pk))
    visits: dict[tuple[int, date, bool], list[VisitCheck]] = defaultdict(list)
    for check in overdue_checks:
        if check.due_date >= latest[check.patient_id] - timedelta(days=VISIT_SPAN_DAYS):
            visits[(check.patient_id, check.due_date, True)].append(check)
    for columns in due:
        check = VisitCheck(*columns)
        visits[(check.patient_id, check.due_date, False)].append(check)
    for (patient_id, due_date, is_overdue), checks in visits.items():
        clinic = clinics[rows[patient_id].patient.clinic_id]
        oldest = min(check.overdue_after for check in checks)
        rows[patient_id].visits.append(
            Visit(
                due_date=due_date,
                checks=checks,
                days_overdue=(clinic.today - oldest).days if is_overdue else None,
                escalated=is_overdue
                and check_is_escalated(
                    overdue_after=oldest, today=clinic.today, overdue_days=clinic.overdue_days
                ),
            )
        )


def _add_latest_follow_ups(rows: dict[int, PatientRow]) -> None:
    """The latest note on any check of the visits shown: what a nurse wrote when she called
    about this visit ("called, booked for 12 Dec"). Read by the checks' ids, so it is one
    short look-up in the notes' index whatever the history."""
    patient_of = {
        check.pk: row.patient.pk
        for row in rows.values()
        for visit in row.visits
        for check in visit.checks
    }
    notes = (
        Acknowledgement.objects.filter(scheduled_check_id__in=list(patient_of))
        .order_by("-acknowledged_at", "-pk")
        .values_list(
            "scheduled_check_id",
            "action",
            "note",
            "acknowledged_at",
            "acknowledged_by__first_name",
            "acknowledged_by__last_name",
            "acknowledged_by__username",
        )
    )
    labels = dict(Acknowledgement.Action.choices)
    for check_id, action, note, at, first_name, last_name, username in notes:
        row = rows[patient_of[check_id]]
        if row.latest_follow_up is None:
            by = f"{first_name} {last_name}".strip() or username
            row.latest_follow_up = FollowUp(labels.get(action, action), note, by, at)
