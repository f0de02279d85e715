"""`manage.py bench` runs end to end on a tiny data set (no HTTP or Celery part: those need
gunicorn, wrk and Redis, and are what scripts/bench is for)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from patients.models import Patient

# Transactional (the command commits), and the migrations' rows restored before it and left
# out of its flush after it, like the other transactional tests: otherwise the next one that
# restores them finds the groups its flush re-created.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="The benchmark needs PostgreSQL.")
def test_bench_quick_prints_every_figure():
    out = io.StringIO()
    call_command("bench", patients=20, quick=True, skip_http=True, stdout=out, stderr=io.StringIO())
    table = out.getvalue()
    for row in ("plan and store schedules", "every scan, nothing new", "nurse worklist", "disk"):
        assert row in table
    # Each page beside the trivial signed-in request, with its SQL time, ratio and CPU.
    assert "trivial signed-in request (a redirect): in process" in table
    # (The table is printed once more if the command is stopped: count per copy.)
    assert table.count("x its SQL); CPU") == 9 * table.count("| data set |")
    # The pages that keep what they drew, drawn afresh too (the first look after a change).
    for page in ("patient page, five years", "nurse worklist", "patient portal home"):
        assert f"| {page}, drawn afresh: in process |" in table
    assert "clinic overview, 20 patients: server time in process" in table
    for export in ("who to call today, CSV", "who to call today, XLSX", "adherence table"):
        assert f"export: {export}" in table
    assert "x COPY" in table and "x the bare count" in table
    for source in (
        "CSV import",
        "HL7 v2, one message",
        "HL7 v2, a message per report",
        "FHIR R4 Bundles",
    ):
        assert f"lab results in: {source} (90 results" in table

    # Run again on the same database with --reuse-data: the data set is found, not built
    # again (only the storage run's and the lab feeds' own cohorts of patients are added: 20
    # and 30 for 90 results of three a patient), and a data set of another
    # size is refused. In the same test: a transactional test's flush removes the protocol the
    # data migrations made.
    patients = Patient.objects.count()
    again = io.StringIO()
    call_command(
        "bench",
        patients=20,
        quick=True,
        skip_http=True,
        reuse_data=True,
        stdout=again,
        stderr=io.StringIO(),
    )
    assert "reused from an earlier run" in again.getvalue()
    assert "nurse worklist" in again.getvalue()
    assert Patient.objects.count() - patients == 20 + 30
    with pytest.raises(CommandError, match="20 patients, not 30"):
        call_command("bench", patients=30, quick=True, skip_http=True, reuse_data=True)
