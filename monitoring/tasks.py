"""Celery's autodiscovery imports each app's `tasks` module; this app's tasks live with the
subjects they serve (outbox delivery, alert scans, re-planning, CSV imports) and are gathered
here."""

from monitoring.alerts.tasks import run_scans
from monitoring.outbox.tasks import deliver_batch, deliver_due
from monitoring.results.tasks import import_continue, import_sweep
from monitoring.schedule.tasks import protocol_replan

__all__ = [
    "deliver_batch",
    "deliver_due",
    "import_continue",
    "import_sweep",
    "protocol_replan",
    "run_scans",
]
