"""A large CSV import is recorded in batches, each its own transaction: a failure keeps the
batches before it, a re-run completes without storing anything twice, the progress is stored on
the import and shown by the command and the screen, and a run stops when its time is up.

The worker, the clinic's lock between batches and concurrent runs are in test_import_worker.py
(PostgreSQL, Redis, a Celery worker)."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from monitoring.models import LabReport, LabResult, ResultImport
from monitoring.results import csv_import, import_views
from monitoring.results.csv_import import batches
from monitoring.results.recording import BatchRejected
from monitoring.results.selectors import stalled_imports
from tests.factories import PatientFactory, UserFactory
from tests.forms import hidden_fields, keyed

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 21)
Status = ResultImport.Status


def six_reports_file(patients, months: int = 2) -> bytes:
    """A blood count (platelets and white cells, one report) a month, from January, for each of
    three patients: by default 12 rows, 6 reports, recorded patient by patient, oldest first."""
    lines = ["hospital_number,sample_date,analyte,value,unit"]
    for patient in patients:
        for month in range(1, 1 + months):
            day = f"2026-{month:02d}-02"
            lines.append(f"{patient.hospital_number},{day},platelets,250,10^9/L")
            lines.append(f"{patient.hospital_number},{day},wbc,5.1,10^9/L")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def patients(clinic_a):
    return [PatientFactory(clinic=clinic_a, hospital_number=f"H{n}00") for n in (1, 2, 3)]


@pytest.fixture
def nurse(clinic_a):
    return UserFactory(username="nurse_a")


@pytest.fixture
def two_per_batch(settings):
    settings.RESULT_IMPORT_BATCH_REPORTS = 2


def staged_file(clinic, patients, nurse):
    staged, preview = csv_import.import_stage(
        clinic=clinic,
        content=six_reports_file(patients),
        file_name="results.csv",
        uploaded_by=nurse,
        today=TODAY,
    )
    assert preview.ok
    return staged


@pytest.fixture
def fail_fifth_report(monkeypatch):
    """The pipeline refuses the fifth report: the first of the third batch of two."""
    seen = []
    real_record = batches.reports_record

    def record(**kwargs):
        reports = kwargs["reports"]
        if len(seen) < 5 <= len(seen) + len(reports):
            fifth = reports[4 - len(seen)]
            raise BatchRejected({fifth.key: {"sample_collected_on": ["Refused."]}})
        seen.extend(reports)
        return real_record(**kwargs)

    monkeypatch.setattr(batches, "reports_record", record)
    return monkeypatch


def stored_once() -> bool:
    """No patient, analyte and sample has two results."""
    repeats = (
        LabResult.objects.values("patient", "analyte", "sample_collected_on")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    return not repeats.exists()


def test_a_failure_in_the_third_batch_keeps_the_first_two_and_a_rerun_completes(
    clinic_a, patients, nurse, two_per_batch, fail_fifth_report
):
    staged = staged_file(clinic_a, patients, nurse)
    with pytest.raises(csv_import.ImportRejected) as rejected:
        csv_import.import_apply(result_import=staged, imported_by=nurse, today=TODAY)
    assert [str(problem) for problem in rejected.value.problems] == [
        "Row 10: Refused. (rows 10, 11)"
    ]
    # Batches one and two (four reports, eight results) are stored; the third rolled back.
    assert LabReport.objects.count() == 4 and LabResult.objects.count() == 8
    staged.refresh_from_db()
    assert (staged.status, staged.results_done, staged.results_total) == (Status.FAILED, 8, 12)
    assert staged.error == "Row 10: Refused. (rows 10, 11)"

    fail_fifth_report.undo()
    outcome = csv_import.import_apply(result_import=staged, imported_by=nurse, today=TODAY)
    assert outcome == csv_import.ImportOutcome(reports=6, results=12, skipped=0)
    assert LabReport.objects.count() == 6 and LabResult.objects.count() == 12
    assert stored_once()
    staged.refresh_from_db()
    assert (staged.status, staged.results_done, staged.error) == (Status.IMPORTED, 12, "")


def test_a_batch_recorded_again_stores_nothing_twice(clinic_a, patients, nurse, two_per_batch):
    """A second run of the same import (a redelivered task beside its continuation) finds every
    report stored and records none of them again."""
    staged = staged_file(clinic_a, patients, nurse)
    started = csv_import.import_start(result_import=staged, imported_by=nurse, today=TODAY)
    late_run = batches._remaining(started, TODAY)  # read before the first run records anything
    csv_import.import_continue(result_import=started, today=TODAY)
    ResultImport.objects.filter(pk=staged.pk).update(status=Status.IMPORTING)
    for start in range(0, len(late_run), 2):
        batches._batch_record(started, late_run[start : start + 2], TODAY)
    assert LabReport.objects.count() == 6 and LabResult.objects.count() == 12
    assert ResultImport.objects.get(pk=staged.pk).results_done == 12


def test_an_import_row_is_stored_once_by_the_database(clinic_a, patients, nurse):
    staged = staged_file(clinic_a, patients, nurse)
    csv_import.import_apply(result_import=staged, imported_by=nurse, today=TODAY)
    report = LabReport.objects.order_by("import_row").first()
    assert report.import_row == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        LabReport.objects.create(
            patient=report.patient,
            panel=report.panel,
            sample_collected_on=report.sample_collected_on,
            result_import=staged,
            import_row=2,
            entered_by=nurse,
        )


def test_the_time_budget_stops_a_run_after_a_batch_and_the_next_run_carries_on(
    clinic_a, patients, nurse, two_per_batch
):
    staged = staged_file(clinic_a, patients, nurse)
    started = csv_import.import_start(result_import=staged, imported_by=nurse, today=TODAY)
    first = csv_import.import_continue(result_import=started, today=TODAY, seconds=0)
    assert (first.status, first.results_done, first.reports_done) == (Status.IMPORTING, 4, 2)
    assert LabReport.objects.count() == 2
    second = csv_import.import_continue(result_import=first, today=TODAY, seconds=0)
    assert (second.status, second.results_done) == (Status.IMPORTING, 8)
    last = csv_import.import_continue(result_import=second, today=TODAY, seconds=0)
    assert (last.status, last.results_done, last.reports_done) == (Status.IMPORTED, 12, 6)
    assert stored_once()


def test_an_import_that_stopped_progressing_is_found_by_the_sweep(
    clinic_a, patients, nurse, settings
):
    settings.RESULT_IMPORT_STALLED_SECONDS = 360
    staged = staged_file(clinic_a, patients, nurse)
    csv_import.import_start(result_import=staged, imported_by=nurse, today=TODAY)
    now = timezone.now()
    assert stalled_imports(now=now) == []
    assert stalled_imports(now=now + timedelta(minutes=6)) == [staged.pk]


# The command


def test_the_command_prints_the_results_done_after_each_batch(
    clinic_a, patients, nurse, two_per_batch, tmp_path
):
    path = tmp_path / "results.csv"
    path.write_bytes(six_reports_file(patients))
    out = StringIO()
    call_command("import_results", str(path), "--user", "nurse_a", stdout=out)
    assert out.getvalue().splitlines() == [
        "Recorded 4 of 12 results (33%)",
        "Recorded 8 of 12 results (66%)",
        "Recorded 12 of 12 results (100%)",
        "Imported 12 results in 6 reports (0 duplicates skipped)",
    ]


def test_the_command_run_again_resumes_an_import_that_stopped(
    clinic_a, patients, nurse, two_per_batch, fail_fifth_report, tmp_path
):
    path = tmp_path / "results.csv"
    path.write_bytes(six_reports_file(patients))
    err = StringIO()
    with pytest.raises(CommandError) as stopped:
        call_command("import_results", str(path), stdout=StringIO(), stderr=err)
    assert str(stopped.value).startswith("The import stopped after 8 of 12 results")
    assert err.getvalue().splitlines() == ["Row 10: Refused. (rows 10, 11)"]

    fail_fifth_report.undo()
    out = StringIO()
    call_command("import_results", str(path), stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Resuming the import of results.csv begun ")
    assert lines[0].endswith(": 8 of 12 results recorded.")
    assert lines[1:] == [
        "Recorded 12 of 12 results (100%)",
        "Imported 12 results in 6 reports (0 duplicates skipped)",
    ]
    assert ResultImport.objects.get().status == Status.IMPORTED
    assert LabResult.objects.count() == 12 and stored_once()


# The screens


def test_a_large_import_goes_to_the_worker_and_the_page_shows_its_progress(
    client_a, clinic_a, patients, staff_a, settings, two_per_batch
):
    """Without Redis the task stays queued in this process: the page shows it not begun."""
    settings.RESULT_IMPORT_INLINE_RESULTS = 5
    staged = staged_file(clinic_a, patients, staff_a)
    response = client_a.post(reverse("monitoring:import_preview", args=[staged.pk]), keyed())
    progress_url = reverse("monitoring:import_progress", args=[staged.pk])
    assert response["Location"] == progress_url
    assert not LabResult.objects.exists()
    # While it runs, the preview sends the user to the progress, which refreshes itself.
    assert client_a.get(reverse("monitoring:import_preview", args=[staged.pk]))["Location"] == (
        progress_url
    )
    page = client_a.get(progress_url).content.decode()
    assert '<meta http-equiv="refresh" content="3">' in page
    assert "0 of 12 results recorded" in page

    ResultImport.objects.filter(pk=staged.pk).update(results_done=8, reports_done=4)
    assert "8 of 12 results recorded" in client_a.get(progress_url).content.decode()


def test_a_stopped_import_shows_why_and_resumes_from_its_page(
    client_a, clinic_a, patients, staff_a, two_per_batch, fail_fifth_report
):
    staged = staged_file(clinic_a, patients, staff_a)
    preview_url = reverse("monitoring:import_preview", args=[staged.pk])
    progress_url = reverse("monitoring:import_progress", args=[staged.pk])
    assert client_a.post(preview_url, keyed())["Location"] == progress_url
    page = client_a.get(progress_url).content.decode()
    assert "Stopped before the end" in page and "8 of 12 results recorded" in page
    assert "Row 10: Refused. (rows 10, 11)" in page
    assert "Resume the import" in page and "http-equiv" not in page

    fail_fifth_report.undo()
    resume = hidden_fields(client_a.get(progress_url))  # the button's own one-time key
    assert client_a.post(preview_url, resume)["Location"] == reverse("patients:list")
    assert LabResult.objects.count() == 12 and stored_once()
    assert "Imported" in client_a.get(progress_url).content.decode()


def test_the_preview_lists_every_problem_but_not_every_clean_row(
    client_a, clinic_a, patients, staff_a, monkeypatch
):
    monkeypatch.setattr(import_views, "PREVIEW_ROWS", 2)
    content = six_reports_file(patients) + b"H300,2026-05-02,platelets,lots,10^9/L\n"
    staged, _ = csv_import.import_stage(
        clinic=clinic_a, content=content, file_name="results.csv", uploaded_by=staff_a
    )
    page = client_a.get(reverse("monitoring:import_preview", args=[staged.pk])).content.decode()
    assert page.count("<tr class=") == 3  # rows 2 and 3, and row 14 with its problem
    assert "“lots” is not a number" in page
    assert "10 more rows without problems not listed." in page
