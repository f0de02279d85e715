"""The hourly refresh under its name, run by beat, and by a real Celery worker on Redis and
PostgreSQL (the worker is another process: skipped elsewhere)."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

from reports.models import ClinicFigures
from reports.tasks import refresh_figures
from tests.delivery_harness import WorkerProcess, free_port, wait_for, worker_environment

from .known_clinic import EXPECTED_STAGES, known_clinic

ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith("postgres")


def test_beat_refreshes_the_figures_every_hour_under_the_tasks_name():
    entry = next(
        entry
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "reports.refresh_figures"
    )
    schedule = entry["schedule"]  # a crontab: one minute of every hour
    assert len(schedule.minute) == 1 and len(schedule.hour) == 24
    assert refresh_figures.name == "reports.refresh_figures"


@pytest.mark.django_db
def test_the_task_refreshes_every_clinic():
    known = known_clinic()  # and the other clinic it makes
    assert refresh_figures.apply().get() == 2
    figures = ClinicFigures.objects.get(clinic=known.clinic)
    assert figures.before_first_course == EXPECTED_STAGES["before_first_course"]


@pytest.mark.skipif(
    not (ON_POSTGRES and os.environ.get("REDIS_URL")),
    reason="needs PostgreSQL and REDIS_URL (the worker is another process)",
)
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_on_redis_runs_the_refresh():
    from config.celery import app

    known = known_clinic()
    app.control.purge()
    env = worker_environment(
        database_name=connection.settings_dict["NAME"],
        broker_url=os.environ["REDIS_URL"],
        smtp_port=free_port(),
    )
    worker = WorkerProcess(env)
    worker.start()
    try:
        app.send_task("reports.refresh_figures")
        wait_for(
            lambda: ClinicFigures.objects.filter(clinic=known.clinic).exists(),
            timeout=60,
            what="the worker to refresh the figures",
        )
    finally:
        worker.stop()
    figures = ClinicFigures.objects.get(clinic=known.clinic)
    assert figures.in_treatment == EXPECTED_STAGES["in_treatment"]
    assert "reports.refresh_figures" in worker.output()
