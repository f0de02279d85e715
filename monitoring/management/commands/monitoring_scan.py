"""Run every alert scan once, then deliver what is due: what celery beat runs, by hand."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from monitoring.alerts.scans import scans_run
from monitoring.outbox.delivery import batch_deliver, due_batches


class Command(BaseCommand):
    help = (
        "Run the overdue, reminder, unacknowledged-result and escalation scans once, then "
        "deliver every notification that is due (unless --no-deliver)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-deliver",
            action="store_true",
            help="Only create notifications; leave delivery to the Celery worker.",
        )

    def handle(self, *args, no_deliver=False, **options):
        now = timezone.now()
        counts = scans_run(now=now)
        for name, created in counts.created.items():
            self.stdout.write(f"{name:<15} {created} new notification(s)")
        if no_deliver:
            return
        sent = failed = deferred = 0
        for batch in due_batches(now=now):
            outcome = batch_deliver(batch=batch, now=now)
            sent += outcome.sent
            failed += outcome.failed
            deferred += outcome.deferred_until is not None or outcome.retry_in is not None
        self.stdout.write(
            f"delivered      {sent} sent, {failed} failed, {deferred} message(s) waiting "
            "(quiet hours, digest time or a retry)"
        )
