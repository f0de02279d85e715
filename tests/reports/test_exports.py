"""The exports (reports.exports): the adherence table's cells against the known clinic's
hand-computed figures in CSV and XLSX, who to call today, a patient's results grid and the
audit trail; formulas neutralised; each export in the audit trail; who may export what; a
fixed number of queries; and files streamed, not built in memory."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.http import FileResponse, StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.roles import Role
from audit.models import EntrySubject
from monitoring.models import MonitoringProtocol, ScheduledCheck
from monitoring.results.services import result_mark_in_error
from reports.exports.neutralise import neutralise
from reports.exports.writers import Share, csv_cell
from reports.figures.refresh import figures_refresh
from tests.auth import sign_in, staff_of
from tests.builders import lead_of, nurse_of, platelets, report
from tests.factories import PatientFactory, UserFactory

from .known_clinic import (
    BLOOD,
    EXPECTED_ADHERENCE,
    EXPECTED_BY_PANEL,
    EXPECTED_CELLS,
    EXPECTED_NURSES,
    EXPECTED_OVERALL,
    NOW,
    THYROID,
    check_stored,
    known_clinic,
)
from .sheets import csv_rows, streamed, xlsx_cells, xlsx_rows

ADHERENCE = reverse("reports:export_adherence")
WHO_TO_CALL = reverse("reports:export_who_to_call")
AUDIT_TRAIL = reverse("reports:export_audit_trail")
FORMULAS = ['=HYPERLINK("http://x")', "+1", "@SUM(A1)", "-2", "\tTab", "\rReturn"]


def results_url(patient) -> str:
    return reverse("reports:export_results", args=[patient.pk])


# The one rule against formulas, without a database.


@pytest.mark.parametrize("text", FORMULAS)
def test_text_that_starts_like_a_formula_gets_a_quote(text):
    assert neutralise(text) == f"'{text}"


@pytest.mark.parametrize("value", ["Ada", "", " =x", "a=b", "'quoted", -2, 3.5, None])
def test_anything_else_is_left_as_it_is(value):
    assert neutralise(value) == value


def test_a_negative_number_stays_a_number_in_csv_and_text_that_looks_like_one_does_not():
    assert csv_cell(-2) == "-2"
    assert csv_cell("-2") == "'-2"
    assert csv_cell(Share(0.4)) == "40%" and csv_cell(Share(None)) == "—"


# The adherence table, against the known clinic.


@pytest.fixture
def known(db):
    known = known_clinic()
    figures_refresh(clinic=known.clinic, now=NOW)
    return known


def _counts(cells) -> tuple:
    return tuple(int(float(value)) for value in cells[:5])


def _section(rows, first_cell):
    return next(index for index, row in enumerate(rows) if row and row[0] == first_cell)


def check_adherence_rows(rows, percent_of):
    """`rows` as read back from either format; `percent_of` turns an adherence cell into the
    page's text ("40%")."""
    assert rows[0][1] == "Known Figures Clinic"
    header_at = _section(rows, "Month")
    header = rows[header_at]
    columns = {name: index for index, name in enumerate(header)}
    blood = columns["Blood count: on time"]
    thyroid = columns["Thyroid: on time"]
    months = {row[0]: row for row in rows[header_at + 1 : header_at + 25]}
    assert len(months) == 24
    for (panel, month), expected in EXPECTED_CELLS.items():
        start = blood if panel == BLOOD else thyroid
        assert _counts(months[f"{month:%Y-%m}"][start : start + 6]) == expected, (panel, month)
    total = rows[header_at + 25]
    assert total[0] == "All months"
    assert _counts(total[blood : blood + 6]) == EXPECTED_BY_PANEL[BLOOD]
    assert _counts(total[thyroid : thyroid + 6]) == EXPECTED_BY_PANEL[THYROID]
    overall = columns["All tests: on time"]
    assert _counts(total[overall : overall + 6]) == EXPECTED_OVERALL
    assert percent_of(total[columns["Blood count: adherence"]]) == EXPECTED_ADHERENCE[BLOOD]
    assert percent_of(total[columns["Thyroid: adherence"]]) == EXPECTED_ADHERENCE[THYROID]
    overall_share = total[columns["All tests: adherence"]]
    assert percent_of(overall_share) == EXPECTED_ADHERENCE["overall"]
    assert total[columns["Blood count: counted"]] in ("5", 5)  # 2 on time, 3 missed
    nurses_at = _section(rows, "Named nurse (all tests, all months)")
    nurses = {row[0]: _counts(row[1:]) for row in rows[nurses_at + 1 :] if row}
    assert nurses == EXPECTED_NURSES
    return months


def test_the_adherence_csv_has_the_hand_computed_figures(client, known):
    sign_in(client, known.lead)
    response = client.get(ADHERENCE, {"clinic": known.clinic.pk, "format": "csv"})
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = known.clinic.today()
    assert response["Content-Disposition"] == (
        f'attachment; filename="known-adherence-{today:%Y-%m-%d}.csv"'
    )
    assert "no-store" in response["Cache-Control"]
    rows = csv_rows(response)
    assert rows[1] == ["Figures as of", "2026-06-15"]
    months = check_adherence_rows(rows, percent_of=lambda cell: cell)
    # A month keyed as the page writes it, with an empty month's share a dash.
    assert "2026-05" in months and months["2024-08"][7] == "—"


def test_the_adherence_xlsx_has_the_same_figures_with_numbers_as_numbers(client, known):
    sign_in(client, known.lead)
    response = client.get(ADHERENCE, {"clinic": known.clinic.code, "format": "xlsx"})
    assert response.status_code == 200
    assert isinstance(response, FileResponse)
    assert response["Content-Disposition"].startswith('attachment; filename="known-adherence-')
    assert response["Content-Disposition"].endswith('.xlsx"')
    content = streamed(response)
    cells = xlsx_cells(content)
    rows = xlsx_rows(content)
    header_at = _section(rows, "Month")
    assert cells[(header_at + 1, 1)][0] == "n"  # a count is a number
    assert cells[(header_at + 1, 0)][0] == "n"  # a month is a date (a number with a format)
    # Months are dates in the sheet: key them back as the CSV writes them.
    for row in rows[header_at + 1 : header_at + 25]:
        row[0] = _month_of_serial(row[0])
    months = check_adherence_rows(
        rows, percent_of=lambda cell: f"{round(cell * 100)}%" if cell is not None else "—"
    )
    assert "2026-05" in months


def _month_of_serial(serial: float) -> str:
    day = date(1899, 12, 30) + timedelta(days=int(serial))
    return f"{day:%Y-%m}"


def test_one_nurses_adherence_and_a_nurse_that_is_not_the_clinics(client, known, clinic_b):
    sign_in(client, known.lead)
    response = client.get(
        ADHERENCE, {"clinic": known.clinic.pk, "nurse": known.nora.pk, "format": "csv"}
    )
    rows = csv_rows(response)
    assert rows[2] == ["Patients", "Patients of Nora Nightingale"]
    total = rows[_section(rows, "All months")]
    assert _counts(total[-7:]) == EXPECTED_NURSES["Nora Nightingale"]
    stranger = staff_of(clinic_b, UserFactory(username="stranger"), Role.NURSE)
    for nurse in (stranger.pk, "x'; drop", "9" * 40):
        response = client.get(
            ADHERENCE, {"clinic": known.clinic.pk, "nurse": nurse, "format": "csv"}
        )
        assert response.status_code == 400
        assert b"nurse must be" in response.content


def test_each_export_is_recorded_before_it_is_written(client, known):
    sign_in(client, known.lead)
    client.get(ADHERENCE, {"clinic": known.clinic.pk, "nurse": "none", "format": "xlsx"})
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk")
    assert entry.actor == known.lead
    assert entry.remote_addr == "127.0.0.1"
    assert entry.additional_data["export"] == {
        "what": "adherence",
        "format": "xlsx",
        "filters": {"nurse": "none", "as_of": "2026-06-15"},
    }
    assert entry.additional_data["viewed"] == "export: adherence (XLSX)"
    subject = EntrySubject.objects.get(entry=entry)
    assert (subject.clinic_id, subject.patient_id) == (known.clinic.pk, None)


# Who to call today.


def _due(patient, *, offset: int, due: date, grace: int = 7, panel: str = BLOOD, **fields):
    protocol = MonitoringProtocol.objects.alemtuzumab().get(is_default=True)
    item = protocol.items.get(kind="recurring", panel=panel)
    return check_stored(patient, item, offset, due, grace, **fields)


@pytest.fixture
def calling(clinic_a):
    """Nurse Nora's clinic: an overdue patient, a due one, one done, one withdrawn."""
    nurse = nurse_of(clinic_a, "nora", first_name="Nora", last_name="Nurse")
    today = clinic_a.today()
    late = PatientFactory(
        clinic=clinic_a,
        hospital_number="H1",
        family_name="Late",
        given_name="Lena",
        named_nurse=nurse,
        phone="01234 567890",
        email="lena@example.org",
    )
    _due(late, offset=1, due=today - timedelta(days=40))  # 33 days overdue
    _due(late, offset=2, due=today - timedelta(days=20))  # 13 days overdue
    _due(late, offset=3, due=today + timedelta(days=3), panel=THYROID, grace=14)
    soon = PatientFactory(clinic=clinic_a, hospital_number="H2", family_name="Soon")
    _due(soon, offset=1, due=today + timedelta(days=6))
    done = PatientFactory(clinic=clinic_a, hospital_number="H3", family_name="Done")
    _due(done, offset=1, due=today - timedelta(days=3), completed=today - timedelta(days=4),
         entered_by=nurse)  # fmt: skip
    _due(done, offset=2, due=today + timedelta(days=30))
    gone = PatientFactory(clinic=clinic_a, hospital_number="H4", status="withdrawn")
    _due(gone, offset=1, due=today - timedelta(days=10))
    return {"nurse": nurse, "late": late, "soon": soon, "today": today}


def test_who_to_call_lists_the_overdue_first_with_what_is_owed(client, calling, clinic_a):
    sign_in(client, calling["nurse"])
    response = client.get(WHO_TO_CALL, {"format": "csv"})
    assert isinstance(response, StreamingHttpResponse)
    rows = csv_rows(response)
    today = calling["today"]
    assert rows[0][:3] == ["Hospital number", "Family name", "Given name"]
    assert [row[0] for row in rows[1:]] == ["H1", "H2"]
    late = dict(zip(rows[0], rows[1], strict=True))
    assert late["Phone"] == "01234 567890" and late["E-mail"] == "lena@example.org"
    assert late["Named nurse"] == "Nora Nurse"
    assert late["Oldest overdue check due"] == (today - timedelta(days=40)).isoformat()
    assert late["Days overdue"] == "33"
    assert late["Overdue checks"] == "2"
    assert late["Tests overdue"] == "Blood count"
    assert late["Tests due within 7 days"] == "Thyroid"
    assert late["Next due"] == (today + timedelta(days=3)).isoformat()
    soon = dict(zip(rows[0], rows[2], strict=True))
    assert soon["Overdue checks"] == "0" and soon["Days overdue"] == ""


def test_who_to_call_of_mine_and_a_nonsense_nurse(client, calling, clinic_a):
    sign_in(client, calling["nurse"])
    # Nora is in the nurse group: her own patient and the unnamed one are hers.
    rows = csv_rows(client.get(WHO_TO_CALL, {"nurse": "mine", "format": "csv"}))
    assert [row[0] for row in rows[1:]] == ["H1", "H2"]
    calling["soon"].named_nurse = nurse_of(clinic_a, "other_nurse")
    calling["soon"].save()
    rows = csv_rows(client.get(WHO_TO_CALL, {"nurse": "mine", "format": "csv"}))
    assert [row[0] for row in rows[1:]] == ["H1"]
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk")
    assert entry.additional_data["export"]["filters"]["nurse"] == "mine"
    response = client.get(WHO_TO_CALL, {"nurse": "everyone", "format": "csv"})
    assert response.status_code == 400


def test_formulas_in_names_are_neutralised_in_both_formats(client, calling, clinic_a):
    today = calling["today"]
    for number, text in enumerate(FORMULAS):
        patient = PatientFactory(
            clinic=clinic_a, hospital_number=f"F{number}", family_name=text, given_name=text
        )
        _due(patient, offset=1, due=today - timedelta(days=10))
    sign_in(client, calling["nurse"])
    rows = csv_rows(client.get(WHO_TO_CALL, {"format": "csv"}))
    names = {row[0]: row[1] for row in rows[1:]}
    for number, text in enumerate(FORMULAS):
        assert names[f"F{number}"] == f"'{text}"
    content = streamed(client.get(WHO_TO_CALL, {"format": "xlsx"}))
    cells = xlsx_cells(content)
    by_number = {
        value: row for (row, column), (_, value) in cells.items() if column == 0 and row > 0
    }
    for number, text in enumerate(FORMULAS):
        row = by_number[f"F{number}"]
        assert cells[(row, 1)] == ("s", f"'{text}")
        assert cells[(row, 2)] == ("s", f"'{text}")
        assert cells[(row, 8)] == ("n", 3.0)  # days overdue: a number
    # No cell of the sheet is a formula.
    assert b"<f>" not in content


def test_who_to_call_takes_the_same_queries_for_two_and_for_eight_patients(client, clinic_a):
    nurse = nurse_of(clinic_a, "nurse_q")
    today = clinic_a.today()
    sign_in(client, nurse)

    def patients(count, start):
        for number in range(start, start + count):
            patient = PatientFactory(clinic=clinic_a, hospital_number=f"Q{number}")
            _due(patient, offset=1, due=today - timedelta(days=9))
            _due(patient, offset=2, due=today + timedelta(days=2), panel=THYROID, grace=14)

    def export():
        response = client.get(WHO_TO_CALL, {"format": "csv", "nurse": "mine"})
        return len(csv_rows(response))

    patients(2, 0)
    with CaptureQueriesContext(connection) as few:
        assert export() == 3
    patients(6, 2)
    with CaptureQueriesContext(connection) as many:
        assert export() == 9
    assert len(few) == len(many)


# A patient's results grid.


@pytest.fixture
def with_results(clinic_a, nurse_a):
    patient = PatientFactory(clinic=clinic_a, hospital_number="RG 1/2", family_name="Grid")
    today = clinic_a.today()
    platelets(patient, 250, entered_by=nurse_a, sample=today - timedelta(days=30))
    report(
        patient,
        "blood_count",
        {"platelets": "45", "neutrophils": ("<0.5", "10^9/L")},
        entered_by=nurse_a,
        sample=today - timedelta(days=10),
    )
    wrong = platelets(patient, 999, entered_by=nurse_a, sample=today - timedelta(days=5))
    result_mark_in_error(result=wrong, reason="Another patient's sample", marked_by=nurse_a)
    return patient


def test_the_results_grid_has_a_row_per_date_and_a_column_per_analyte(
    client, with_results, nurse_a
):
    sign_in(client, nurse_a)
    response = client.get(results_url(with_results), {"format": "csv"})
    assert response.status_code == 200
    assert 'filename="clinic-a-results-rg-12-' in response["Content-Disposition"]
    rows = csv_rows(response)
    header = rows[0]
    assert header[0] == "Sample date" and header[-1] == "Worst flag"
    platelets_at = next(i for i, name in enumerate(header) if name.startswith("Platelets ("))
    neutrophils_at = next(i for i, name in enumerate(header) if name.startswith("Neutrophils"))
    today = with_results.clinic.today()
    assert [row[0] for row in rows[1:]] == [
        (today - timedelta(days=30)).isoformat(),
        (today - timedelta(days=10)).isoformat(),
    ]  # the result entered in error is left out, and its date with it
    assert rows[1][platelets_at] == "250" and rows[1][-1] == "Normal"
    assert rows[2][platelets_at] == "45" and rows[2][neutrophils_at] == "<0.5"
    assert rows[2][-1] == "Critical"
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk")
    assert entry.additional_data["export"]["what"] == "results grid"
    subject = EntrySubject.objects.get(entry=entry)
    assert subject.patient_id == with_results.pk


def test_the_results_grid_xlsx_keeps_values_as_numbers(client, with_results, nurse_a):
    sign_in(client, nurse_a)
    response = client.get(results_url(with_results), {"format": "xlsx"})
    assert isinstance(response, FileResponse)
    cells = xlsx_cells(streamed(response))
    header = {value: column for (row, column), (_, value) in cells.items() if row == 0}
    platelets_at = next(column for name, column in header.items() if name.startswith("Platelets"))
    assert cells[(1, platelets_at)] == ("n", 250.0)
    neutrophils_at = next(column for name, column in header.items() if name.startswith("Neut"))
    assert cells[(2, neutrophils_at)] == ("s", "<0.5")


def test_the_results_grid_takes_the_same_queries_after_one_and_after_five_reports(
    client, clinic_a, nurse_a
):
    patient = PatientFactory(clinic=clinic_a)
    today = clinic_a.today()
    sign_in(client, nurse_a)
    platelets(patient, 250, entered_by=nurse_a, sample=today - timedelta(days=60))
    with CaptureQueriesContext(connection) as few:
        assert len(csv_rows(client.get(results_url(patient), {"format": "csv"}))) == 2
    for days in range(1, 5):
        platelets(patient, 200 + days, entered_by=nurse_a, sample=today - timedelta(days=days))
    with CaptureQueriesContext(connection) as many:
        assert len(csv_rows(client.get(results_url(patient), {"format": "csv"}))) == 6
    assert len(few) == len(many)


# The audit trail.


def test_the_audit_trail_of_a_range_in_the_clinics_time(client, clinic_a, clinic_b, patient_b):
    lead = lead_of(clinic_a, "lead_a")
    mine = PatientFactory(clinic=clinic_a, hospital_number="AT1", given_name="=cmd|x")
    sign_in(client, lead)
    client.get(reverse("patients:detail", args=[mine.pk]))  # a read, recorded
    client.get(reverse("patients:detail", args=[patient_b.pk]))  # refused: not in the trail
    today = clinic_a.today()
    response = client.get(
        AUDIT_TRAIL,
        {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat(), "format": "csv"},
    )
    assert response.status_code == 200 and isinstance(response, StreamingHttpResponse)
    rows = csv_rows(response)
    assert rows[0][0] == "When (clinic time)"
    numbers = {row[3] for row in rows[1:]}
    assert "AT1" in numbers and patient_b.hospital_number not in numbers
    viewed = next(row for row in rows[1:] if row[3] == "AT1" and row[5] == "Viewed")
    assert viewed[4] == lead.username and viewed[10] == "127.0.0.1"
    assert '"viewed": "patient page"' in viewed[9]
    created = next(row for row in rows[1:] if row[3] == "AT1" and row[5] == "Created")
    assert created[7].startswith("'=cmd|x") or "=cmd|x" in created[8]
    assert not any(cell.startswith("=") for row in rows for cell in row)
    assert rows[1][1] in ("GMT", "BST")
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).latest("pk")
    assert entry.additional_data["export"] == {
        "what": "audit trail",
        "format": "csv",
        "filters": {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()},
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({}, b"Give the \xe2\x80\x9cfrom\xe2\x80\x9d date"),
        ({"from": "2026-01-01"}, b"Give the \xe2\x80\x9cto\xe2\x80\x9d date"),
        ({"from": "2026-02-01", "to": "2026-01-01"}, b"after the end date"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, b"at most 366 days"),
        ({"from": "01/02/2026", "to": "2026-03-01"}, b"YYYY-MM-DD"),
        ({"from": "2026-02-30", "to": "2026-03-01"}, b"YYYY-MM-DD"),
        ({"from": "9999-12-30", "to": "9999-12-31"}, b"out of range"),
    ],
)
def test_a_bad_range_is_a_400_that_says_why(client, clinic_a, query, message):
    sign_in(client, lead_of(clinic_a, "lead_a"))
    response = client.get(AUDIT_TRAIL, {**query, "format": "xlsx"})
    assert response.status_code == 400
    assert message in response.content


# Who may export, and bad parameters.


def test_without_the_permission_403_and_another_clinics_404(
    client, clinic_a, staff_a, patient_b, clinic_b
):
    patient = PatientFactory(clinic=clinic_a)
    sign_in(client, staff_a)  # clinic staff: no exports
    for url in (WHO_TO_CALL, ADHERENCE, AUDIT_TRAIL, results_url(patient)):
        assert client.get(url, {"format": "csv"}).status_code == 403
    nurse = nurse_of(clinic_a, "nurse_x")
    sign_in(client, nurse)
    assert client.get(AUDIT_TRAIL, {"format": "csv"}).status_code == 403  # leads only
    assert client.get(results_url(patient_b), {"format": "csv"}).status_code == 404
    for url in (WHO_TO_CALL, ADHERENCE):
        for clinic in (clinic_b.pk, clinic_b.code, "99999999", "9" * 40):
            assert client.get(url, {"clinic": clinic, "format": "csv"}).status_code == 404
    assert not LogEntry.objects.filter(additional_data__has_key="export").exists()


@pytest.mark.parametrize("fmt", ["pdf", "", "CSV", "xlsx; drop"])
def test_a_bad_format_is_a_400(client, clinic_a, fmt):
    sign_in(client, nurse_of(clinic_a, "nurse_x"))
    response = client.get(WHO_TO_CALL, {"format": fmt})
    assert response.status_code == 400
    assert b"csv or xlsx" in response.content


def test_without_a_format_each_export_is_a_page_to_choose_it(client, clinic_a):
    patient = PatientFactory(clinic=clinic_a)
    sign_in(client, lead_of(clinic_a, "lead_a"))
    for url in (WHO_TO_CALL, ADHERENCE, AUDIT_TRAIL, results_url(patient)):
        response = client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        assert b'value="xlsx"' in response.content
    assert not LogEntry.objects.filter(additional_data__has_key="export").exists()


def test_the_pages_link_to_their_exports(client, clinic_a):
    lead = lead_of(clinic_a, "lead_a")
    patient = PatientFactory(clinic=clinic_a)
    sign_in(client, lead)
    worklist = client.get(reverse("monitoring:worklist")).content.decode()
    assert f"{WHO_TO_CALL}?clinic={clinic_a.pk}&amp;format=xlsx" in worklist
    page = client.get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert f"{results_url(patient)}?format=csv" in page
    trail = client.get(reverse("audit:list"), {"date_from": "2026-01-01"}).content.decode()
    assert f"{AUDIT_TRAIL}?from=2026-01-01&amp;to=" in trail
    overview = client.get(reverse("reports:overview")).content.decode()
    assert f"{ADHERENCE}?clinic={clinic_a.pk}&amp;nurse=all&amp;format=xlsx" in overview


def test_an_unrefreshed_clinic_exports_an_empty_table(client, clinic_a):
    sign_in(client, nurse_of(clinic_a, "nurse_x"))
    rows = csv_rows(client.get(ADHERENCE, {"format": "csv"}))
    assert rows[1] == ["Figures as of", "never computed"]
    assert ScheduledCheck.objects.count() == 0
