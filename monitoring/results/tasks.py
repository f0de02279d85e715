"""Recording a large CSV import on a worker, a time budget at a time: each run records batches
for RESULT_IMPORT_TASK_SECONDS, then queues its continuation and ends, so no task runs for long
and a worker restart (which waits for the run in hand) loses nothing. The import's progress is
in the database; the sweep queues again any import whose runs stopped (a worker killed)."""

from __future__ import annotations

import logging

from auditlog.context import set_actor
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from monitoring.models import ResultImport
from monitoring.results import csv_import
from monitoring.results.selectors import stalled_imports

IMPORT_CONTINUE = "monitoring.tasks.import_continue"
logger = logging.getLogger(__name__)


# A run lasts its budget, plus the reading of the file and the batch in hand when the time runs
# out; the default limits (set for deliveries) are shorter than that.
@shared_task(
    name=IMPORT_CONTINUE,
    soft_time_limit=settings.RESULT_IMPORT_TASK_SECONDS + 240,
    time_limit=settings.RESULT_IMPORT_TASK_SECONDS + 300,
)
def import_continue(result_import_id: int) -> int | None:
    result_import = (
        ResultImport.objects.filter(pk=result_import_id, status=ResultImport.Status.IMPORTING)
        .select_related("imported_by")
        .first()
    )
    if result_import is None:
        return None  # finished, stopped, or a continuation queued twice: nothing to do
    # No request here to name the actor: the audit trail names who confirmed the import.
    with set_actor(result_import.imported_by):
        try:
            stored = csv_import.import_continue(
                result_import=result_import, seconds=settings.RESULT_IMPORT_TASK_SECONDS
            )
        except csv_import.ImportRejected:
            # Marked FAILED with the problems, which its progress page shows.
            logger.warning("Import %s stopped on a refused batch.", result_import_id)
            return None
    if stored.status == ResultImport.Status.IMPORTING:
        import_continue.delay(result_import_id)
    return stored.results_done


@shared_task(name="monitoring.tasks.import_sweep")
def import_sweep() -> int:
    """Queue a run for every import that has not progressed for a while: its worker died."""
    ids = stalled_imports(now=timezone.now())
    for result_import_id in ids:
        import_continue.delay(result_import_id)
    return len(ids)
