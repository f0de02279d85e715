"""The reports' figures: the hourly refresh, the overview in process and the exports, for the
whole data set gathered into one clinic of every benchmark patient.

The patients are moved into the first benchmark clinic inside a transaction that is rolled
back at the end, so the data set is left as it was (the other measurements use clinics of
2,000). Requests run through Django's test client in this process and connection; the signal
that closes a connection after each request is held off meanwhile, as in Django's own tests,
since it would close this one in the middle of the transaction."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

from django.core.signals import request_finished
from django.db import close_old_connections, connection, transaction
from django.urls import reverse

from benchmarks.dataset import Dataset
from benchmarks.sessions import signed_in_client
from benchmarks.timing import QueryCounter, Timed, timed
from patients.models import Clinic, Patient
from reports.figures.refresh import figures_refresh


@dataclass(frozen=True)
class Streamed:
    name: str
    seconds: float
    queries: int
    peak_bytes: int  # Python allocations while the response was produced and read
    size_bytes: int


@dataclass(frozen=True)
class ReportFigures:
    patients: int
    refresh: Timed
    overview: Timed
    exports: list[Streamed]


class _Rollback(Exception):
    pass


def reports_measure(data: Dataset, *, runs: int) -> ReportFigures:
    request_finished.disconnect(close_old_connections)
    figures = None
    try:
        with transaction.atomic():
            figures = _measure(data, runs=runs)
            raise _Rollback
    except _Rollback:
        pass
    finally:
        request_finished.connect(close_old_connections)
    return figures


def _measure(data: Dataset, *, runs: int) -> ReportFigures:
    clinic = Clinic.objects.get(pk=data.clinic_ids[0])
    moved = Patient.objects.filter(clinic_id__in=data.clinic_ids).update(clinic=clinic)
    refresh = timed(lambda: figures_refresh(clinic=clinic), runs=min(runs, 3))
    lead = signed_in_client(data.lead, second_factor=True)
    overview_url = f"{reverse('reports:overview')}?clinic={clinic.pk}"
    overview = timed(lambda: _ok(lead.get(overview_url)), runs=max(runs, 5))
    exports = [
        _streamed(name, lambda url=url: lead.get(url))
        for name, url in export_urls(clinic, data.subject)
    ]
    return ReportFigures(patients=moved, refresh=refresh, overview=overview, exports=exports)


def export_urls(clinic: Clinic, subject: Patient) -> list[tuple[str, str]]:
    """The exports measured: (name, address)."""
    who = reverse("reports:export_who_to_call")
    grid = reverse("reports:export_results", args=[subject.pk])
    return [
        ("who to call today, CSV", f"{who}?clinic={clinic.pk}&format=csv"),
        ("who to call today, XLSX", f"{who}?clinic={clinic.pk}&format=xlsx"),
        (
            "adherence table, XLSX",
            f"{reverse('reports:export_adherence')}?clinic={clinic.pk}&format=xlsx",
        ),
        ("results grid of the five-year patient, XLSX", f"{grid}?format=xlsx"),
    ]


def _ok(response):
    if response.status_code != 200:
        raise RuntimeError(f"{response.request['PATH_INFO']} answered {response.status_code}")
    return response


def _streamed(name: str, get: Callable) -> Streamed:
    """One export, read to its end: its time and statements, then (a second run, since
    tracing every allocation slows Python several times over) the peak of Python's
    allocations while it was produced and read."""
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        size = sum(len(chunk) for chunk in _chunks(_ok(get())))
        seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        sum(len(chunk) for chunk in _chunks(_ok(get())))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return Streamed(name, seconds, counter.count, peak, size)


def _chunks(response):
    if getattr(response, "streaming", False):
        yield from response.streaming_content
    else:
        yield response.content
