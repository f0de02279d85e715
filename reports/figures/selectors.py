"""Reading the figures the refresh stored: the adherence table (per test and month, per
nurse, totals, per therapy) for the overview, its export and monitoring_report. A check on
another therapy's visit (shares_visit) counts for its own therapy in the by-therapy figures;
everywhere else the draw is counted once, under the check whose visit it is. Two queries
whatever the clinic's size: its rows (at most 24 months x tests x nurses) and the nurses' names."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.contrib.auth import get_user_model

from monitoring.domain.therapies import THERAPIES
from monitoring.models import Panel
from monitoring.models.schedule import PANEL_SHORT_NAMES
from patients.models import Clinic
from reports.models import AdherenceMonth, ClinicFigures

from .definitions import Counts, months_shown

# The nurse filter's values besides a user id.
ALL_NURSES = "all"
NO_NAMED_NURSE = "none"
NO_NAMED_NURSE_LABEL = "No named nurse (the clinic's nurse group)"


@dataclass(frozen=True)
class NurseCounts:
    nurse_id: int | None  # None: the patients with no named nurse
    name: str
    counts: Counts


@dataclass
class AdherenceTable:
    clinic: Clinic
    figures: ClinicFigures | None  # None: never refreshed
    months: list[date]
    # (value, short name) of the tests that have checks, in the panels' order: the names fit
    # a column of the table and the chart's legend ("Blood count", "Creatinine", ...).
    panels: list[tuple[str, str]]
    cells: dict[tuple[str, date], Counts] = field(default_factory=dict)
    by_panel: dict[str, Counts] = field(default_factory=dict)
    by_month: dict[date, Counts] = field(default_factory=dict)
    overall: Counts = field(default_factory=Counts)
    # Per named nurse, over all tests: for the whole period and for each month.
    nurses: list[NurseCounts] = field(default_factory=list)
    nurses_by_month: dict[date, list[NurseCounts]] = field(default_factory=dict)
    # (code, name) of the therapies that have checks, in THERAPIES' order; their figures for
    # the whole period and for each month (narrowed by the nurse, as the tests are).
    therapies: list[tuple[str, str]] = field(default_factory=list)
    by_therapy: dict[str, Counts] = field(default_factory=dict)
    therapy_cells: dict[tuple[str, date], Counts] = field(default_factory=dict)

    def cell(self, panel: str, month: date) -> Counts:
        return self.cells.get((panel, month), Counts())

    def therapy_cell(self, therapy: str, month: date) -> Counts:
        return self.therapy_cells.get((therapy, month), Counts())


def adherence_table(clinic: Clinic, *, nurse: str = ALL_NURSES) -> AdherenceTable:
    """The stored figures of `clinic`. `nurse` narrows the tests-by-month part to one nurse's
    patients (a user id as text) or to those with no named nurse (NO_NAMED_NURSE); the
    per-nurse rows always show every nurse."""
    figures = ClinicFigures.objects.filter(clinic=clinic).first()
    months = months_shown(figures.as_of if figures else clinic.today())
    table = AdherenceTable(clinic=clinic, figures=figures, months=months, panels=[])
    if figures is None:
        return table
    rows = list(
        AdherenceMonth.objects.filter(clinic=clinic, month__gte=months[0]).values_list(
            "month",
            "panel",
            "nurse_id",
            "therapy",
            "shares_visit",
            "on_time",
            "late",
            "missed",
            "waived",
            "open",
        )
    )
    wanted = nurse_wanted(nurse)
    per_nurse: dict[int | None, Counts] = defaultdict(Counts)
    per_nurse_month: dict[date, dict[int | None, Counts]] = defaultdict(lambda: defaultdict(Counts))
    seen_panels = set()
    for month, panel, nurse_id, therapy, shares_visit, *outcomes in rows:
        on_time, late, missed, waived, open_ = outcomes
        counts = Counts(on_time=on_time, late=late, missed=missed, waived=waived, open=open_)
        if wanted is ALL_NURSES or nurse_id == wanted:
            table.by_therapy[therapy] = table.by_therapy.get(therapy, Counts()) + counts
            key = (therapy, month)
            table.therapy_cells[key] = table.therapy_cells.get(key, Counts()) + counts
        if shares_visit:
            continue  # the draw is counted under the check whose visit it is
        per_nurse[nurse_id] += counts
        per_nurse_month[month][nurse_id] += counts
        if wanted is not ALL_NURSES and nurse_id != wanted:
            continue
        seen_panels.add(panel)
        table.cells[(panel, month)] = table.cell(panel, month) + counts
        table.by_panel[panel] = table.by_panel.get(panel, Counts()) + counts
        table.by_month[month] = table.by_month.get(month, Counts()) + counts
        table.overall += counts
    table.panels = [
        (value, PANEL_SHORT_NAMES[value]) for value in Panel.values if value in seen_panels
    ]
    table.therapies = [
        (code, therapy.name) for code, therapy in THERAPIES.items() if code in table.by_therapy
    ]
    names = _nurse_names(per_nurse)
    table.nurses = _nurse_rows(per_nurse, names)
    table.nurses_by_month = {
        month: _nurse_rows(counts, names) for month, counts in per_nurse_month.items()
    }
    return table


def nurse_wanted(nurse: str):
    """The nurse parameter read: ALL_NURSES, None (patients with no named nurse) or a user
    id; anything else is the whole clinic."""
    if nurse == NO_NAMED_NURSE:
        return None
    if nurse.isascii() and nurse.isdecimal():  # "²" is a digit to isdigit(), not to int()
        return int(nurse)
    return ALL_NURSES


def _nurse_names(per_nurse) -> dict[int, str]:
    users = get_user_model().objects.filter(pk__in=[pk for pk in per_nurse if pk])
    return {user.pk: user.get_full_name() or user.get_username() for user in users}


def _nurse_rows(per_nurse, names) -> list[NurseCounts]:
    rows = [
        NurseCounts(
            nurse_id=nurse_id,
            name=names.get(nurse_id, "") if nurse_id else NO_NAMED_NURSE_LABEL,
            counts=counts,
        )
        for nurse_id, counts in per_nurse.items()
    ]
    # Named nurses by name, the nurse group last.
    return sorted(rows, key=lambda row: (row.nurse_id is None, row.name.casefold()))
