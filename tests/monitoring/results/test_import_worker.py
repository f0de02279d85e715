"""A large CSV import through the real parts: a Celery worker process on Redis and PostgreSQL.
The worker records a time budget's worth of batches per task and queues the continuation; the
clinic's lock is let go between batches; two runs of one import side by side store it once.

These need PostgreSQL (the worker and the threads are other connections, and SQLite has no row
locks) and, for the worker, Redis; elsewhere they are skipped."""

from __future__ import annotations

import os
import threading
from datetime import date

import pytest
from auditlog.models import LogEntry
from django.db import connection, connections, transaction
from django.urls import reverse

from monitoring.models import LabReport, LabResult, ResultImport
from monitoring.results import csv_import
from monitoring.results.csv_import import batches
from monitoring.results.tasks import import_continue, import_sweep
from patients.models import Clinic
from tests.delivery_harness import WorkerProcess, free_port, wait_for, worker_environment
from tests.factories import PatientFactory
from tests.forms import keyed
from tests.monitoring.results.test_import_batches import six_reports_file, stored_once

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")
pytestmark = [
    pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: row locks, other connections"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the worker is another process)"
)
TODAY = date(2026, 11, 21)
Status = ResultImport.Status


@pytest.fixture
def patients(clinic_a):
    return [PatientFactory(clinic=clinic_a, hospital_number=f"H{n}00") for n in (1, 2, 3)]


@pytest.fixture
def staged(clinic_a, patients, staff_a, settings):
    settings.RESULT_IMPORT_BATCH_REPORTS = 2
    result_import, preview = csv_import.import_stage(
        clinic=clinic_a,
        content=six_reports_file(patients),
        file_name="results.csv",
        uploaded_by=staff_a,
        today=TODAY,
    )
    assert preview.ok
    return result_import


def start_worker() -> WorkerProcess:
    env = worker_environment(
        database_name=connection.settings_dict["NAME"],
        broker_url=os.environ["REDIS_URL"],
        smtp_port=free_port(),  # nothing is mailed here
    )
    # Two reports a batch and no time to spare: each task records one batch and queues the next.
    # Any import not progressing now counts as stalled, for the sweep.
    env.update(
        RESULT_IMPORT_BATCH_REPORTS="2",
        RESULT_IMPORT_TASK_SECONDS="0",
        RESULT_IMPORT_STALLED_SECONDS="0",
    )
    process = WorkerProcess(env)
    process.start()
    return process


@pytest.fixture
def workers():
    from config.celery import app

    app.control.purge()
    started: list[WorkerProcess] = []
    yield started
    for process in started:
        process.stop()


@pytest.fixture
def worker(workers):
    workers.append(start_worker())
    return workers[0]


@needs_redis
def test_the_worker_records_a_large_import_one_time_budget_at_a_time(
    client_a, staged, settings, worker
):
    settings.RESULT_IMPORT_INLINE_RESULTS = 5
    response = client_a.post(reverse("monitoring:import_preview", args=[staged.pk]), keyed())
    assert response["Location"] == reverse("monitoring:import_progress", args=[staged.pk])

    def imported():
        staged.refresh_from_db()
        return staged.status == Status.IMPORTED

    wait_for(imported, timeout=60, what="the import to finish")
    assert (staged.results_done, staged.reports_done) == (12, 6)
    assert LabResult.objects.count() == 12 and stored_once()
    # Three batches, three task runs: the first queued by the page, each next by the one before.
    runs = worker.output().count("Task monitoring.tasks.import_continue[")
    succeeded = worker.output().count("succeeded in")
    assert (runs, succeeded) >= (3, 3), worker.output()
    # The audit trail names who confirmed the import, though no request ran the task.
    logged = LogEntry.objects.filter(content_type__model="labresult")
    assert logged.count() == 12
    assert set(logged.values_list("actor", flat=True)) == {staged.imported_by_id}


@needs_redis
def test_an_import_whose_worker_was_killed_is_resumed_by_the_sweep(
    clinic_a, patients, staff_a, workers
):
    """Killed mid-import with its continuation lost, the import stands still until the sweep
    queues it again; the next worker finishes it, storing nothing twice."""
    from config.celery import app

    result_import, _ = csv_import.import_stage(
        clinic=clinic_a,
        content=six_reports_file(patients, months=10),
        file_name="results.csv",
        uploaded_by=staff_a,
    )
    started = csv_import.import_start(result_import=result_import, imported_by=staff_a)
    assert started.results_total == 60
    workers.append(start_worker())
    import_continue.delay(started.pk)

    def some_done():
        started.refresh_from_db()
        return started.results_done >= 8

    wait_for(some_done, timeout=60, what="a few batches")
    workers.pop().kill()
    app.control.purge()  # the continuation queued before the kill is lost with it
    started.refresh_from_db()
    assert started.status == Status.IMPORTING and started.results_done < 60
    workers.append(start_worker())
    import_sweep.delay()

    def imported():
        started.refresh_from_db()
        return started.status == Status.IMPORTED

    wait_for(imported, timeout=90, what="the import to finish after the sweep")
    assert (started.results_done, started.reports_done) == (60, 30)
    assert LabReport.objects.count() == 30 and LabResult.objects.count() == 60
    assert stored_once()


def test_another_transaction_takes_the_clinic_lock_between_batches(staged, staff_a, monkeypatch):
    """While batch one records, another transaction asks for the clinic's lock and waits. It
    must get it when batch one commits, with two reports stored, not when the import ends."""
    observed = {}
    waiting = threading.Event()
    real_record = batches.reports_record

    def take_the_lock():
        try:
            with connections["default"].cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                observed["pid"] = cursor.fetchone()[0]
            waiting.set()
            with transaction.atomic():
                Clinic.objects.select_for_update().get(pk=staged.clinic_id)
                observed["reports_when_locked"] = LabReport.objects.count()
        finally:
            connections.close_all()

    other = threading.Thread(target=take_the_lock)

    def record(**kwargs):
        if not other.is_alive() and "pid" not in observed:
            other.start()
            waiting.wait(10)
            wait_for(lambda: _waits_for_a_lock(observed["pid"]), what="the other transaction")
        return real_record(**kwargs)

    monkeypatch.setattr(batches, "reports_record", record)
    csv_import.import_apply(result_import=staged, imported_by=staff_a, today=TODAY)
    other.join(10)
    assert observed["reports_when_locked"] == 2
    assert LabReport.objects.count() == 6


def _waits_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def test_two_runs_of_one_import_side_by_side_store_each_report_once(staged, staff_a):
    started = csv_import.import_start(result_import=staged, imported_by=staff_a, today=TODAY)
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait(10)
            csv_import.import_continue(result_import=started, today=TODAY)
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert LabReport.objects.count() == 6 and LabResult.objects.count() == 12
    assert stored_once()
    finished = ResultImport.objects.get(pk=staged.pk)
    assert (finished.status, finished.results_done, finished.reports_done) == (
        Status.IMPORTED,
        12,
        6,
    )
