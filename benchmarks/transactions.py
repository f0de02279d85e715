"""The longest transaction of one connection, as PostgreSQL sees it: another connection samples
pg_stat_activity every few milliseconds while the work runs, so the figure does not rely on the
code under test to say where its transactions begin and end."""

from __future__ import annotations

import threading

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper

SAMPLE_SECONDS = 0.02


class LongestTransaction:
    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.seconds = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> LongestTransaction:
        self.connection.ensure_connection()
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        params = self.connection.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        observer = psycopg.connect(**params, autocommit=True)
        self._thread = threading.Thread(target=self._sample, args=(observer, pid), daemon=True)
        self._thread.start()
        return self

    def _sample(self, observer, pid: int) -> None:
        with observer:
            while not self._stop.wait(SAMPLE_SECONDS):
                row = observer.execute(
                    "SELECT extract(epoch FROM now() - xact_start) FROM pg_stat_activity "
                    "WHERE pid = %s AND xact_start IS NOT NULL",
                    [pid],
                ).fetchone()
                if row and row[0] is not None:
                    self.seconds = max(self.seconds, float(row[0]))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
