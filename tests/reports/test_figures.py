"""The stored figures of the known clinic (tests/reports/known_clinic.py), checked number by
number against the values worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from reports.figures.definitions import Counts, percent
from reports.figures.refresh import figures_refresh
from reports.figures.selectors import NO_NAMED_NURSE, adherence_table
from reports.models import AdherenceMonth, ClinicFigures

from .known_clinic import (
    BLOOD,
    EXPECTED_ADHERENCE,
    EXPECTED_BY_PANEL,
    EXPECTED_CELLS,
    EXPECTED_MAY_2026,
    EXPECTED_NURSES,
    EXPECTED_OVERALL,
    EXPECTED_STAGES,
    EXPECTED_VISITS,
    NOW,
    THYROID,
    TODAY,
    known_clinic,
)

pytestmark = pytest.mark.django_db


def _tuple(counts: Counts) -> tuple:
    return (counts.on_time, counts.late, counts.missed, counts.waived, counts.open)


@pytest.fixture
def known():
    known = known_clinic()
    figures_refresh(clinic=known.clinic, now=NOW)
    return known


def test_every_cell_total_and_share_is_the_hand_computed_one(known):
    table = adherence_table(known.clinic)
    assert table.figures.as_of == TODAY
    assert table.months[0] == date(2024, 7, 1) and table.months[-1] == date(2026, 6, 1)
    assert len(table.months) == 24
    assert [value for value, _ in table.panels] == [BLOOD, THYROID]
    stored = {key: _tuple(counts) for key, counts in table.cells.items()}
    assert stored == EXPECTED_CELLS
    assert {panel: _tuple(c) for panel, c in table.by_panel.items()} == EXPECTED_BY_PANEL
    assert _tuple(table.overall) == EXPECTED_OVERALL
    assert _tuple(table.by_month[date(2026, 5, 1)]) == EXPECTED_MAY_2026
    assert percent(table.by_panel[BLOOD].adherence) == EXPECTED_ADHERENCE[BLOOD]
    assert percent(table.by_panel[THYROID].adherence) == EXPECTED_ADHERENCE[THYROID]
    assert percent(table.overall.adherence) == EXPECTED_ADHERENCE["overall"]
    assert percent(table.by_month[date(2026, 5, 1)].adherence) == "50%"
    assert {row.name: _tuple(row.counts) for row in table.nurses} == EXPECTED_NURSES


def test_stages_and_this_months_visits(known):
    figures = ClinicFigures.objects.get(clinic=known.clinic)
    assert {stage: getattr(figures, stage) for stage in EXPECTED_STAGES} == EXPECTED_STAGES
    visits = {state: getattr(figures, f"visits_{state}") for state in EXPECTED_VISITS}
    assert visits == EXPECTED_VISITS


def test_one_nurses_patients_and_the_patients_with_none(known):
    nora = adherence_table(known.clinic, nurse=str(known.nora.pk))
    assert _tuple(nora.overall) == EXPECTED_NURSES["Nora Nightingale"]
    assert _tuple(nora.cell(THYROID, date(2026, 5, 1))) == (0, 1, 0, 0, 0)
    nobody = adherence_table(known.clinic, nurse=NO_NAMED_NURSE)
    assert _tuple(nobody.overall) == EXPECTED_NURSES["No named nurse (the clinic's nurse group)"]
    # Nonsense in the address is the whole clinic, never an error.
    for nonsense in ("x'; drop", "²", "-1", ""):
        assert _tuple(adherence_table(known.clinic, nurse=nonsense).overall) == EXPECTED_OVERALL


def test_a_second_refresh_leaves_the_same_rows(known):
    before = list(AdherenceMonth.objects.values_list("month", "panel", "nurse", "missed"))
    figures_refresh(clinic=known.clinic, now=NOW)
    after = list(AdherenceMonth.objects.values_list("month", "panel", "nurse", "missed"))
    assert sorted(before, key=str) == sorted(after, key=str)
    assert ClinicFigures.objects.filter(clinic=known.clinic).count() == 1


def test_a_late_result_moves_a_missed_check_to_late_at_the_next_refresh(known):
    check = known.piet.scheduled_checks.get(panel=BLOOD, due_date=date(2026, 5, 10))
    check.completed_on = date(2026, 6, 2)
    check.save()
    figures_refresh(clinic=known.clinic, now=NOW)
    cell = adherence_table(known.clinic).cell(BLOOD, date(2026, 5, 1))
    assert _tuple(cell) == (2, 1, 0, 0, 0)


def test_the_refresh_and_the_read_take_a_fixed_number_of_queries(known):
    with CaptureQueriesContext(connection) as refresh:
        figures_refresh(clinic=known.clinic, now=NOW)
    with CaptureQueriesContext(connection) as read:
        adherence_table(known.clinic)
    assert len(read) == 3  # figures row, adherence rows, nurses' names
    assert len(refresh) <= 12


def test_a_clinic_never_refreshed_has_an_empty_table(db):
    from tests.factories import ClinicFactory

    table = adherence_table(ClinicFactory(code="new"))
    assert table.figures is None and table.overall == Counts() and table.panels == []
