"""manage.py monitoring_report: one month of the known clinic (tests/reports/known_clinic.py)
in CSV, JSON and XLSX, the same numbers as adherence_table; its refusals; its audit entry.
The command's hidden --today fixes the clinic's date (else its real today)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from auditlog.models import LogEntry
from django.core.management import CommandError, call_command

from audit.models import EntrySubject
from reports.figures.definitions import percent
from reports.figures.selectors import NO_NAMED_NURSE_LABEL

from .known_clinic import EXPECTED_MAY_2026, known_clinic
from .sheets import xlsx_cells, xlsx_rows

pytestmark = pytest.mark.django_db

MAY = ["--clinic", "known", "--month", "2026-05", "--today", "2026-06-15"]
# May 2026 by hand (known_clinic's table): Pia's blood count on time and thyroid late (Nora);
# Piet's blood count missed and thyroid waived (Olu); Pam's blood count on time (no nurse).
MAY_BY_TEST = {
    "Blood count": (2, 0, 1, 0, 0),
    "Thyroid": (0, 1, 0, 1, 0),
}
MAY_BY_NURSE = {
    "Nora Nightingale": (1, 1, 0, 0, 0),
    "Olu Okafor": (0, 0, 1, 1, 0),
    NO_NAMED_NURSE_LABEL: (1, 0, 0, 0, 0),
}


def run(*args) -> str:
    out = io.StringIO()
    call_command("monitoring_report", *args, stdout=out)
    return out.getvalue()


def _counts(cells) -> tuple:
    return tuple(int(float(cell)) for cell in cells[:5])


def _counted(counts: tuple) -> int:
    return counts[0] + counts[1] + counts[2]


@pytest.fixture
def known(db):
    return known_clinic()


def test_may_2026_in_csv(known):
    rows = list(csv.reader(io.StringIO(run(*MAY, "--format", "csv"))))
    assert rows[0] == ["Clinic", "Known Figures Clinic", "known"]
    assert rows[1] == ["Month", "2026-05"]
    assert rows[2] == ["Figures as of", "2026-06-15"]
    header_at = rows.index(["Test", "On time", "Late", "Missed", "Waived", "Open", "Counted",
                            "Adherence"])  # fmt: skip
    tests = {row[0]: row for row in rows[header_at + 1 : header_at + 3]}
    assert {name: _counts(row[1:]) for name, row in tests.items()} == MAY_BY_TEST
    for name, row in tests.items():
        assert int(row[6]) == _counted(MAY_BY_TEST[name])
    overall = rows[header_at + 3]
    assert overall[0] == "All tests"
    assert _counts(overall[1:]) == EXPECTED_MAY_2026
    assert overall[6:] == ["4", "50%"]
    nurses_at = next(i for i, row in enumerate(rows) if row and row[0] == "Named nurse")
    nurses = {row[0]: _counts(row[1:]) for row in rows[nurses_at + 1 :] if row}
    assert nurses == MAY_BY_NURSE


def test_may_2026_in_json(known):
    report = json.loads(run(*MAY, "--format", "json"))
    assert report["clinic"] == {"code": "known", "name": "Known Figures Clinic"}
    assert (report["month"], report["as_of"]) == ("2026-05", "2026-06-15")
    overall = report["overall"]
    keys = ("on_time", "late", "missed", "waived", "open")
    assert tuple(overall[key] for key in keys) == EXPECTED_MAY_2026
    assert (overall["counted"], overall["adherence"], overall["adherence_percent"]) == (
        4,
        0.5,
        "50%",
    )
    by_test = {test["label"]: tuple(test[key] for key in keys) for test in report["tests"]}
    assert by_test == MAY_BY_TEST
    thyroid = next(test for test in report["tests"] if test["test"] == "thyroid")
    assert thyroid["adherence_percent"] == percent(0 / 1) == "0%"
    by_nurse = {nurse["nurse"]: tuple(nurse[key] for key in keys) for nurse in report["nurses"]}
    assert by_nurse == MAY_BY_NURSE


def test_may_2026_in_xlsx(known, tmp_path):
    target = tmp_path / "may.xlsx"
    assert run(*MAY, "--format", "xlsx", "--output", str(target)) == ""
    content = target.read_bytes()
    rows = xlsx_rows(content)
    header_at = next(i for i, row in enumerate(rows) if row and row[0] == "Test")
    overall = rows[header_at + 3]
    assert overall[0] == "All tests"
    assert _counts(overall[1:]) == EXPECTED_MAY_2026
    assert overall[6] == 4 and overall[7] == 0.5
    assert xlsx_cells(content)[(header_at + 3, 1)][0] == "n"


def test_csv_into_a_file(known, tmp_path):
    target = tmp_path / "may.csv"
    assert run(*MAY, "--output", str(target)) == ""
    assert "All tests,2,1,1,1,0,4,50%" in target.read_text()


def test_the_default_month_is_the_last_complete_one(known):
    rows = list(csv.reader(io.StringIO(run("--clinic", "known", "--today", "2026-06-15"))))
    assert rows[1] == ["Month", "2026-05"]


def test_the_run_is_in_the_clinics_audit_trail_with_no_actor(known):
    run(*MAY, "--format", "json")
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk")
    assert entry.actor is None and entry.remote_addr is None
    assert entry.additional_data["export"] == {
        "what": "monitoring report",
        "format": "json",
        "filters": {"month": "2026-05", "as_of": "2026-06-15"},
    }
    subject = EntrySubject.objects.get(entry=entry)
    assert (subject.clinic_id, subject.patient_id) == (known.clinic.pk, None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--clinic", "nowhere"], "nowhere"),
        (["--clinic", "known", "--month", "2026-13"], "2026-13"),
        (["--clinic", "known", "--month", "May"], "May"),
        (["--clinic", "known", "--month", "2020-01", "--today", "2026-06-15"], "2020-01"),
        (["--clinic", "known", "--format", "xlsx"], "--output"),
        (["--clinic", "known", "--today", "15/06/2026"], "15/06/2026"),
    ],
)
def test_refusals_name_what_is_wrong(known, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not LogEntry.objects.filter(additional_data__has_key="export").exists()
