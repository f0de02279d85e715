"""`manage.py bench_results` runs to its last figure on a tiny data set: the CSV import, the
patient list as a signed-in nurse (not refused), and the patient page."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="The benchmark needs PostgreSQL.")
def test_bench_results_prints_every_figure():
    out = io.StringIO()
    call_command("bench_results", patients=20, rows=60, runs=1, stdout=out, stderr=io.StringIO())
    table = out.getvalue()
    assert "postgresql" in table and "20 patients" in table
    assert "CSV preview, 60 rows" in table and "0 problems" in table
    assert "CSV import, 60 rows" in table
    assert "lock held" in table and "longest transaction seen by PostgreSQL" in table
    for row in ("patient list, page 1", "patient list, search", "patient page, "):
        assert row in table


@pytest.mark.skipif(connection.vendor == "postgresql", reason="Refused on SQLite only.")
def test_bench_results_refuses_sqlite():
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("bench_results", patients=1, rows=1, runs=1)
