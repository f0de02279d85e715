"""Re-planning after a protocol change, on a worker: a thin wrapper around the service."""

from __future__ import annotations

from celery import shared_task

from monitoring.schedule.protocols import PROTOCOL_REPLAN, protocol_schedules_reconcile


# Thousands of patients may take longer than the default task limits (set for deliveries), so
# this task has its own. Re-planning is idempotent: a message delivered twice, or a task re-run
# after a worker died mid-way, finishes the job and changes nothing already done.
@shared_task(name=PROTOCOL_REPLAN, soft_time_limit=30 * 60, time_limit=31 * 60)
def protocol_replan(protocol_id: int) -> dict:
    return protocol_schedules_reconcile(protocol_id)
