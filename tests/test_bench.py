"""`manage.py bench` runs end to end on a tiny data set (no HTTP or Celery part: those need
gunicorn, wrk and Redis, and are what scripts/bench is for)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="The benchmark needs PostgreSQL.")
def test_bench_quick_prints_every_figure():
    out = io.StringIO()
    call_command("bench", patients=20, quick=True, skip_http=True, stdout=out, stderr=io.StringIO())
    table = out.getvalue()
    for row in ("plan and store schedules", "every scan, nothing new", "nurse worklist", "disk"):
        assert row in table
    assert "x COPY" in table and "x the bare count" in table
