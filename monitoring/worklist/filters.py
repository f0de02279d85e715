"""The worklist's filters, read from the address and turned into conditions on patients.

Every filter narrows *who* is listed; a listed patient's row still shows everything that needs
doing for them, because the nurse who opens it to book a thyroid test should see the overdue
blood count too. The conditions are written with a prefix so that one definition serves a
query on patients ("") and a query on their checks or results ("patient__").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q

from monitoring.alerts.rules import (
    any_of,
    awaiting_acknowledgement,
    check_escalated,
    clinic_ids_by,
)
from monitoring.domain.tiers import ACKNOWLEDGE_TIERS
from monitoring.models import LabResult, Panel, ScheduledCheck
from patients.models import Patient
from patients.selectors import patient_search

# "How overdue" choices, in days past the overdue date.
OVERDUE_CHOICES = (7, 30, 90)
# A search longer than this is not a name or a number; it is cut rather than refused.
QUERY_MAX_LENGTH = 100


@dataclass(frozen=True)
class Filters:
    mine: bool = False
    clinic: int | None = None
    query: str = ""
    panel: str = ""
    tier: str = ""
    overdue_days: int | None = None

    @property
    def narrowed(self) -> bool:
        """Any filter other than "mine": the page says the list is filtered."""
        return bool(self.clinic or self.query or self.panel or self.tier or self.overdue_days)

    @classmethod
    def from_query(cls, params, clinic_ids) -> Filters:
        """From request.GET. An unknown value is ignored, not an error: these come from a
        bookmark or an edited address, and the worklist must still open."""

        def number(name):
            try:
                return int(params.get(name, ""))
            except ValueError:
                return None

        clinic = number("clinic")
        overdue = number("overdue")
        panel = params.get("test", "")
        tier = params.get("tier", "")
        return cls(
            mine=params.get("mine") == "1",
            clinic=clinic if clinic in clinic_ids else None,
            query=" ".join(params.get("q", "").split())[:QUERY_MAX_LENGTH],
            panel=panel if panel in Panel.values else "",
            tier=tier if tier in ACKNOWLEDGE_TIERS else "",
            overdue_days=overdue if overdue in OVERDUE_CHOICES else None,
        )


def patient_conditions(filters: Filters, clinics, user_id: int, *, prefix: str) -> Q:
    """The patients the worklist may list: the user's clinics (or the one chosen), with "mine"
    only those whose alerts go to this user (named to them, or unnamed in a clinic whose nurse
    group they are in), matching the search and the test, tier and overdue filters."""
    p = prefix
    ref = OuterRef("patient_id") if p else OuterRef("pk")
    clinic_ids = [filters.clinic] if filters.clinic else list(clinics)
    condition = Q(**{f"{p}clinic_id__in": clinic_ids})
    if filters.mine:
        group = [pk for pk, clinic in clinics.items() if clinic.user_in_nurse_group]
        condition &= Q(**{f"{p}named_nurse_id": user_id}) | Q(
            **{f"{p}named_nurse__isnull": True, f"{p}clinic_id__in": group}
        )
    if filters.query:
        # The patient list's own search, as a subquery: one rule for what a search matches.
        found = patient_search(Patient.objects.all(), query=filters.query).order_by()
        condition &= Q(**{f"{p}pk__in": found.values("pk")})
    if filters.tier:
        condition &= Exists(
            LabResult.objects.filter(awaiting_acknowledgement(), tier=filters.tier, patient=ref)
        )
    if filters.panel:
        latest = max(clinic.today for clinic in clinics.values()) + timedelta(days=7)
        condition &= Exists(
            ScheduledCheck.objects.open().filter(
                patient=ref, panel=filters.panel, due_date__lte=latest
            )
        ) | Exists(
            LabResult.objects.filter(
                awaiting_acknowledgement(), analyte__panel=filters.panel, patient=ref
            )
        )
    if filters.overdue_days:
        condition &= Exists(
            ScheduledCheck.objects.open().filter(
                # Overdue by at least that many days: the escalation rule's condition.
                any_of(
                    check_escalated(clinic_ids=ids, today=today, overdue_days=filters.overdue_days)
                    for today, ids in clinic_ids_by(clinics, lambda clinic: clinic.today).items()
                ),
                patient=ref,
            )
        )
    return condition
