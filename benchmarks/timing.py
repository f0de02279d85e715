"""Medians and query counts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection


class QueryCounter:
    """Counts every statement however many (Django's query log keeps only the last 9,000);
    savepoints and their releases are bookkeeping, not work, and are counted apart."""

    def __init__(self) -> None:
        self.count = 0
        self.savepoints = 0

    def __call__(self, execute, sql, params, many, context):
        if sql.startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")):
            self.savepoints += 1
        else:
            self.count += 1
        return execute(sql, params, many, context)


@dataclass(frozen=True)
class Timed:
    seconds: float  # the median
    runs: int
    queries: int  # of the last run
    value: object = None  # what the last run returned


def timed(work: Callable[[], object], *, runs: int, warm_up: bool = True) -> Timed:
    """The median wall time of `runs` calls of `work` (after one unmeasured call)."""
    if warm_up:
        work()
    seconds = []
    value = None
    counter = QueryCounter()
    for _ in range(runs):
        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            value = work()
            seconds.append(time.perf_counter() - started)
    return Timed(statistics.median(seconds), runs, counter.count, value)


def median(values) -> float:
    return statistics.median(values)
