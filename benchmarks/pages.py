"""Server time and queries of the busiest pages, through Django's test client in this process
(middleware, view, queries, template; no network): the wall time, the time spent in SQL (each
statement's wall time, summed), their ratio, and the process's CPU time per request, beside a
trivial signed-in request (the home address: session, user, second factor, access snapshot,
a redirect) as the floor every page pays. The pages that keep what they drew (the patient
page, the portal home, the worklist's rows) are measured again drawn afresh, as the first look
after a change to the record meets them."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from django.db import connection
from django.test import Client, override_settings
from django.urls import reverse

from benchmarks.dataset import Dataset
from benchmarks.sessions import signed_in_client
from benchmarks.timing import QueryCounter

TRIVIAL = "trivial signed-in request (a redirect)"


@dataclass(frozen=True)
class Page:
    name: str
    url: str
    client: Client
    # Settings for this page's measurement (in process only: gunicorn has its own).
    settings: tuple[tuple[str, object], ...] = ()


# What the kept pages keep, and the settings that make them draw it on every request.
KEEPING_PAGES = ("patient page, five years", "nurse worklist", "patient portal home")
NOTHING_KEPT = (("PAGE_PARTS_SECONDS", 0), ("WORKLIST_ROWS_SECONDS", 0))
DRAWN = ", drawn afresh"


def drawn_afresh(pages: list[Page]) -> list[Page]:
    """The pages that keep what they drew, each as it is after a change to the record."""
    return [
        Page(f"{page.name}{DRAWN}", page.url, page.client, NOTHING_KEPT)
        for page in pages
        if page.name in KEEPING_PAGES
    ]


def pages_of(dataset: Dataset) -> list[Page]:
    nurse = signed_in_client(dataset.nurse, second_factor=True)
    patient = signed_in_client(dataset.portal_user, second_factor=False)
    subject = dataset.subject
    return [
        Page(TRIVIAL, reverse("home"), nurse),
        Page("patient list", reverse("patients:list"), nurse),
        Page("patient page, five years", reverse("patients:detail", args=[subject.pk]), nurse),
        Page("nurse worklist", reverse("monitoring:worklist"), nurse),
        Page("patient portal home", reverse("portal:home"), patient),
        Page("patient portal results", reverse("portal:results"), patient),
    ]


@dataclass(frozen=True)
class PageFigures:
    seconds: float  # medians of `runs` requests after one unmeasured
    sql_seconds: float
    cpu_seconds: float
    queries: int
    runs: int

    @property
    def ratio(self) -> float:
        return self.seconds / self.sql_seconds if self.sql_seconds else 0.0


class _SqlClock(QueryCounter):
    def __init__(self) -> None:
        super().__init__()
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return super().__call__(execute, sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started


def pages_measure(pages: list[Page], *, runs: int) -> dict[str, PageFigures]:
    figures = {}
    for page in pages:
        expected = 302 if page.name == TRIVIAL else 200

        def get(page=page, expected=expected):
            response = page.client.get(page.url)
            if response.status_code != expected:
                raise RuntimeError(f"{page.url} answered {response.status_code}")

        walls, sqls, cpus, clock = [], [], [], _SqlClock()
        with override_settings(**dict(page.settings)):
            get()  # warm-up: the parts a page keeps drawn are drawn once, as by the first nurse
            for _ in range(runs):
                clock = _SqlClock()
                with connection.execute_wrapper(clock):
                    cpu, wall = time.process_time(), time.perf_counter()
                    get()
                    walls.append(time.perf_counter() - wall)
                    cpus.append(time.process_time() - cpu)
                sqls.append(clock.seconds)
        figures[page.name] = PageFigures(
            seconds=statistics.median(walls),
            sql_seconds=statistics.median(sqls),
            cpu_seconds=statistics.median(cpus),
            queries=clock.count,
            runs=runs,
        )
    return figures
