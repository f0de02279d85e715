"""The overview's reads: the stored figures of one clinic (reports.figures) beside the two
counts that are always live, the results waiting for acknowledgement and the alerts that
reached no one. A fixed number of queries whatever the clinic's size: the figures row, its
adherence rows and nurses' names (reports.figures.selectors), one grouped query on the
waiting results' partial index and one count on the failed alerts' partial index."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Case, CharField, Count, Q, Value, When

from monitoring.alerts.rules import awaiting_acknowledgement
from monitoring.domain.tiers import ACKNOWLEDGE_TIERS
from monitoring.models import LabResult, Notification
from patients.models import Clinic
from reports.figures.selectors import AdherenceTable, adherence_table

# How long a result has waited since it took its tier, youngest first.
UNDER_A_DAY = "under_24h"
ONE_TO_THREE_DAYS = "1_3_days"
OVER_THREE_DAYS = "over_3_days"
AGE_LABELS = {
    UNDER_A_DAY: "Under 24 h",
    ONE_TO_THREE_DAYS: "1\N{EN DASH}3 days",
    OVER_THREE_DAYS: "Over 3 days",
}


@dataclass
class Waiting:
    """Results awaiting acknowledgement by tier and age: {tier: {age: n}}."""

    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def of(self, tier: str, age: str) -> int:
        return self.counts.get(tier, {}).get(age, 0)

    def tier_total(self, tier: str) -> int:
        return sum(self.counts.get(tier, {}).values())

    @property
    def total(self) -> int:
        return sum(sum(ages.values()) for ages in self.counts.values())


@dataclass
class Overview:
    clinic: Clinic
    table: AdherenceTable
    waiting: Waiting
    undelivered: int


def _age(now: datetime) -> Case:
    # A result flagged before tier_since was recorded has no clock: it is at least days old.
    return Case(
        When(tier_since__gte=now - timedelta(hours=24), then=Value(UNDER_A_DAY)),
        When(tier_since__gte=now - timedelta(days=3), then=Value(ONE_TO_THREE_DAYS)),
        default=Value(OVER_THREE_DAYS),
        output_field=CharField(),
    )


def waiting_results(clinic: Clinic, *, now: datetime) -> Waiting:
    """Live: the clinic's results awaiting acknowledgement, by tier and age, in one query
    through the partial index result_awaiting_ack."""
    rows = (
        LabResult.objects.filter(awaiting_acknowledgement(), patient__clinic_id=clinic.pk)
        .filter(tier__in=ACKNOWLEDGE_TIERS)
        .annotate(age=_age(now))
        .values_list("tier", "age")
        .annotate(n=Count("id"))
        .order_by()
    )
    waiting = Waiting()
    for tier, age, n in rows:
        waiting.counts.setdefault(tier, {})[age] = n
    return waiting


def undelivered_alerts(clinic: Clinic) -> int:
    """Live: the clinic's alerts that reached no one and that no nurse has marked handled."""
    return Notification.objects.failed_unhandled().filter(Q(patient__clinic_id=clinic.pk)).count()


def overview_page(clinic: Clinic, *, nurse: str, now: datetime) -> Overview:
    return Overview(
        clinic=clinic,
        table=adherence_table(clinic, nurse=nurse),
        waiting=waiting_results(clinic, now=now),
        undelivered=undelivered_alerts(clinic),
    )
