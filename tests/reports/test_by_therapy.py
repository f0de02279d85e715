"""Adherence by therapy: the known clinic with Oscar, in follow-up after alemtuzumab and on
ocrelizumab since March 2026 (tests/reports/known_clinic.py, ocrelizumab_beside). The draw his
two therapies share counts once overall and once for each therapy."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from reports.figures.definitions import Counts, percent
from reports.figures.refresh import figures_refresh
from reports.figures.selectors import adherence_table
from reports.models import AdherenceMonth
from tests.auth import sign_in

from .known_clinic import (
    EXPECTED_ADHERENCE_BY_THERAPY,
    EXPECTED_BY_THERAPY,
    EXPECTED_BY_THERAPY_MAY_2026,
    EXPECTED_OVERALL,
    EXPECTED_OVERALL_WITH_OSCAR,
    NOW,
    known_clinic,
    ocrelizumab_beside,
)
from .sheets import csv_rows

pytestmark = pytest.mark.django_db

MAY = date(2026, 5, 1)
NAMES = {"alemtuzumab": "Alemtuzumab", "ocrelizumab": "Ocrelizumab"}


def _tuple(counts: Counts) -> tuple:
    return (counts.on_time, counts.late, counts.missed, counts.waived, counts.open)


def _counts(cells) -> tuple:
    return tuple(int(float(cell)) for cell in cells[:5])


@pytest.fixture
def known():
    known = known_clinic()
    known.oscar = ocrelizumab_beside(known)
    figures_refresh(clinic=known.clinic, now=NOW)
    return known


def test_each_therapy_has_its_hand_computed_figures(known):
    table = adherence_table(known.clinic)
    assert table.therapies == [("alemtuzumab", "Alemtuzumab"), ("ocrelizumab", "Ocrelizumab")]
    assert {code: _tuple(c) for code, c in table.by_therapy.items()} == EXPECTED_BY_THERAPY
    assert {
        code: _tuple(table.therapy_cell(code, MAY)) for code, _ in table.therapies
    } == EXPECTED_BY_THERAPY_MAY_2026
    assert _tuple(table.therapy_cell("ocrelizumab", date(2026, 3, 1))) == (0, 1, 0, 0, 0)
    shares = {code: percent(c.adherence) for code, c in table.by_therapy.items()}
    assert shares == EXPECTED_ADHERENCE_BY_THERAPY


def test_the_shared_draw_counts_once_in_the_overall_figures(known):
    table = adherence_table(known.clinic)
    assert _tuple(table.overall) == EXPECTED_OVERALL_WITH_OSCAR
    # Counting each check would make it (4, 2, 4, 1, 3): the draw twice.
    by_therapy = Counts()
    for counts in table.by_therapy.values():
        by_therapy += counts
    assert by_therapy.on_time == table.overall.on_time + 1
    nora = next(row for row in table.nurses if row.name == "Nora Nightingale")
    assert _tuple(nora.counts) == (2, 2, 2, 0, 1)  # Pia's (1, 1, 1, 0, 1) and Oscar's, once


def test_the_stored_rows_keep_the_therapy_and_the_shared_visit(known):
    shared = AdherenceMonth.objects.get(clinic=known.clinic, shares_visit=True)
    assert (shared.therapy, shared.month, shared.on_time) == ("ocrelizumab", MAY, 1)
    assert set(AdherenceMonth.objects.values_list("therapy", flat=True)) == set(NAMES)


def test_a_clinic_on_alemtuzumab_only_has_one_therapy_and_the_same_totals(db):
    known = known_clinic()
    figures_refresh(clinic=known.clinic, now=NOW)
    table = adherence_table(known.clinic)
    assert table.therapies == [("alemtuzumab", "Alemtuzumab")]
    assert _tuple(table.by_therapy["alemtuzumab"]) == EXPECTED_OVERALL


def test_the_refresh_still_groups_the_checks_in_one_query(known):
    with CaptureQueriesContext(connection) as refresh:
        figures_refresh(clinic=known.clinic, now=NOW)
    grouped = [q["sql"] for q in refresh if "GROUP BY" in q["sql"]]
    # The checks by month, test, nurse, therapy and outcome; this month's visits; the
    # patients by stage: the same three grouped queries as before therapies.
    assert len(grouped) == 3
    assert len(refresh) <= 12


def test_the_overview_shows_the_clinics_therapies(client, known):
    sign_in(client, known.lead)
    response = client.get(reverse("reports:overview"), {"clinic": known.clinic.pk})
    assert response.status_code == 200
    html = response.content.decode()
    table = re.search(r'<table[^>]*id="therapies">(.*?)</table>', html, re.DOTALL).group(1)
    rows = dict(re.findall(r'<tr data-therapy="(\w+)">(.*?)</tr>', table, re.DOTALL))
    assert set(rows) == set(NAMES)
    cells = re.findall(r"<td>(.*?)</td>", rows["ocrelizumab"])
    assert cells == ["1", "1", "0", "50%"]
    assert re.findall(r"<td>(.*?)</td>", rows["alemtuzumab"]) == ["3", "1", "4", "38%"]
    assert "Natalizumab" not in table
    assert "once for each therapy" in html


def test_the_adherence_export_has_a_section_by_therapy(client, known):
    sign_in(client, known.lead)
    response = client.get(
        reverse("reports:export_adherence"), {"clinic": known.clinic.pk, "format": "csv"}
    )
    rows = csv_rows(response)
    at = next(i for i, row in enumerate(rows) if row and row[0].startswith("Therapy ("))
    section = {}
    for row in rows[at + 1 :]:
        if not row:
            break
        section[row[0]] = _counts(row[1:])
    assert section == {NAMES[code]: counts for code, counts in EXPECTED_BY_THERAPY.items()}


def test_monitoring_report_has_may_by_therapy_in_csv_and_json(known):
    args = ["--clinic", "known", "--month", "2026-05", "--today", "2026-06-15"]
    out = io.StringIO()
    call_command("monitoring_report", *args, stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    at = rows.index(["Therapy", "On time", "Late", "Missed", "Waived", "Open", "Counted",
                     "Adherence"])  # fmt: skip
    section = {row[0]: _counts(row[1:]) for row in rows[at + 1 : at + 3]}
    expected = {NAMES[code]: counts for code, counts in EXPECTED_BY_THERAPY_MAY_2026.items()}
    assert section == expected
    assert rows[at + 3] == []
    out = io.StringIO()
    call_command("monitoring_report", *args, "--format", "json", stdout=out)
    report = json.loads(out.getvalue())
    keys = ("on_time", "late", "missed", "waived", "open")
    assert {
        item["therapy"]: tuple(item[key] for key in keys) for item in report["therapies"]
    } == EXPECTED_BY_THERAPY_MAY_2026


def test_the_checks_behind_may_list_the_shared_draw_once(client, known):
    sign_in(client, known.lead)
    response = client.get(
        reverse("reports:overview_checks"),
        {"clinic": known.clinic.pk, "month": "2026-05", "nurse": str(known.nora.pk)},
    )
    assert response.status_code == 200
    checks = [row["check"] for row in response.context["rows"]]
    oscar = [check for check in checks if check.patient_id == known.oscar.pk]
    # His alemtuzumab blood count and thyroid; the ocrelizumab blood count is the same draw.
    assert sorted(check.panel for check in oscar) == ["blood_count", "thyroid"]
    table = adherence_table(known.clinic, nurse=str(known.nora.pk))
    may = table.by_month[MAY]
    assert len(checks) == may.on_time + may.late + may.missed + may.waived + may.open
