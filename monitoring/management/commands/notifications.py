"""List the notification outbox, newest first."""

from django.core.management.base import BaseCommand

from monitoring.models import Notification


class Command(BaseCommand):
    help = "List notifications, newest first, optionally only those with one status."

    def add_arguments(self, parser):
        parser.add_argument("--status", choices=Notification.Status.values)
        parser.add_argument("--limit", type=int, default=100, help="At most this many (100).")

    def handle(self, *args, status=None, limit=100, **options):
        rows = Notification.objects.select_related(
            "recipient_user", "recipient_patient", "patient"
        ).order_by("-created_at", "-pk")
        if status:
            rows = rows.filter(status=status)
        total = rows.count()
        self.stdout.write(
            f"{'id':>7}  {'created (UTC)':<16}  {'status':<9} {'kind':<15} {'delivery':<8} "
            f"{'to':<24} {'patient':<10} attempts  last error"
        )
        for row in rows[:limit]:
            recipient = row.recipient_user or row.recipient_patient
            to = getattr(recipient, "username", None) or f"patient {row.recipient_patient_id}"
            self.stdout.write(
                f"{row.pk:>7}  {row.created_at:%Y-%m-%d %H:%M}  {row.status:<9} {row.kind:<15} "
                f"{row.delivery:<8} {to[:24]:<24} {row.patient.hospital_number:<10} "
                f"{row.attempts:>8}  {row.last_error[:60]}"
            )
        self.stdout.write(f"{min(total, limit)} of {total} shown.")
