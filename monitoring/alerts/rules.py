"""The clinical rules of alerting, each written once, as a pair: a condition the database
evaluates (for the scans and the list pages, which must not load rows to decide) and its Python
twin (for rows already loaded, such as the page of the worklist shown). The two sit side by side
so a change to one is a change to the other; tests/monitoring/alerts/test_rules.py checks that
they agree on every state.

The rules:
- a result needs acknowledging while it is current, flagged amber or worse, and nobody has
  acknowledged it at its present tier (a correction to another tier asks again);
- a check is overdue once the clinic's today is past its overdue date;
- a red or critical result still waiting past the clinic's deadline (hours since it reached its
  tier) is escalated to the lead; amber results never escalate;
- a check still open the clinic's number of days after it became overdue is escalated;
- a symptom report awaits acknowledgement until a nurse acknowledges it, and one still waiting
  past the clinic's red deadline (hours since the patient reported it) is escalated to the lead.
  Its urgent checks are checks like any other: a result completes them, not the acknowledgement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import date, datetime, timedelta

from django.db.models import Q, QuerySet

from monitoring.domain.tiers import ACKNOWLEDGE_TIERS, Tier
from monitoring.models import ScheduledCheck
from patients.models import Patient


def needs_acknowledgement(
    *, tier: str, entered_in_error: bool, acknowledged_tiers: Iterable[str]
) -> bool:
    """The rule the services store on each result as `awaits_acknowledgement`."""
    return tier in ACKNOWLEDGE_TIERS and not entered_in_error and tier not in acknowledged_tiers


def awaiting_acknowledgement() -> Q:
    """The stored twin of `needs_acknowledgement`, read through its partial index."""
    return Q(awaits_acknowledgement=True)


def check_is_overdue(*, overdue_after: date, today: date) -> bool:
    return overdue_after < today


def check_overdue(*, clinic_ids: list[int], today: date) -> Q:
    """On ScheduledCheck, for clinics that share one local date."""
    return Q(patient__clinic_id__in=clinic_ids, overdue_after__lt=today)


def _escalation_hours(tier: str, *, critical_hours: int, red_hours: int) -> int | None:
    return {Tier.CRITICAL: critical_hours, Tier.RED: red_hours}.get(tier)


def result_is_escalated(
    *, tier: str, tier_since: datetime | None, now: datetime, critical_hours: int, red_hours: int
) -> bool:
    """For a result awaiting acknowledgement. Results from before tier_since was recorded have
    no clock and are not escalated by time."""
    hours = _escalation_hours(tier, critical_hours=critical_hours, red_hours=red_hours)
    if hours is None or tier_since is None:
        return False
    return tier_since <= now - timedelta(hours=hours)


def result_escalated(
    *, clinic_ids: list[int], now: datetime, critical_hours: int, red_hours: int
) -> Q:
    """On LabResult awaiting acknowledgement, for clinics that share the two deadlines."""
    condition = Q(pk__in=[])
    for tier in (Tier.CRITICAL, Tier.RED):
        hours = _escalation_hours(tier, critical_hours=critical_hours, red_hours=red_hours)
        condition |= Q(
            patient__clinic_id__in=clinic_ids,
            tier=tier,
            tier_since__lte=now - timedelta(hours=hours),
        )
    return condition


def check_is_escalated(*, overdue_after: date, today: date, overdue_days: int) -> bool:
    return overdue_after < today - timedelta(days=overdue_days)


def check_escalated(*, clinic_ids: list[int], today: date, overdue_days: int) -> Q:
    """On ScheduledCheck, for clinics that share one local date and one escalation delay."""
    return Q(
        patient__clinic_id__in=clinic_ids, overdue_after__lt=today - timedelta(days=overdue_days)
    )


def symptom_needs_acknowledgement(*, acknowledged: bool) -> bool:
    """A report waits until someone acknowledges it; nothing else (not its urgent checks'
    results) answers the patient."""
    return not acknowledged


def symptom_awaiting() -> Q:
    """On SymptomReport: the stored twin of `symptom_needs_acknowledgement`, read through the
    partial index symptom_awaiting."""
    return Q(awaits_acknowledgement=True)


def symptom_is_escalated(*, created_at: datetime, now: datetime, red_hours: int) -> bool:
    """For a report awaiting acknowledgement: as late as a red result, from when it was made."""
    return created_at <= now - timedelta(hours=red_hours)


def symptom_escalated(*, clinic_ids: list[int], now: datetime, red_hours: int) -> Q:
    """On SymptomReport awaiting acknowledgement, for clinics that share the red deadline."""
    return Q(patient__clinic_id__in=clinic_ids, created_at__lte=now - timedelta(hours=red_hours))


def any_of(conditions: Iterable[Q]) -> Q:
    """OR the conditions together; with none, a condition nothing meets."""
    combined = Q(pk__in=[])
    for condition in conditions:
        combined |= condition
    return combined


def clinic_ids_by(clinics: Mapping[int, object], key: Callable[..., Hashable]) -> dict:
    """The clinics' primary keys grouped by key(clinic), such as the clinic's local date or its
    deadlines, so that each group becomes one condition of a single query (there are only a
    few groups at any instant)."""
    groups = defaultdict(list)
    for clinic in clinics.values():
        groups[key(clinic)].append(clinic.pk)
    return groups


def open_checks_of_planned_patients() -> QuerySet[ScheduledCheck]:
    """The checks the scans and the worklist speak of: open, of patients whose plan is kept.
    Other statuses have their checks cancelled, so they are never overdue or due soon. Each
    visit once (open() leaves out a check on another therapy's check's visit, Python twin
    ScheduledCheck.is_shown): one draw is one reminder, one overdue alert, one escalation."""
    return ScheduledCheck.objects.open().filter(patient__status__in=Patient.PLANNED_STATUSES)
