"""List the patient records of one clinic whose hospital numbers are one number written
differently ("demo0001" and "DEMO0001", a hidden or full-width character): run it before
upgrading, since the migration that makes them unique refuses to apply while any exist."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from monitoring.domain.input_rules import hospital_number_collisions
from patients.models import Patient


class Command(BaseCommand):
    help = "List hospital numbers held by more than one patient record of a clinic."

    def handle(self, *args, **options) -> None:
        # Only columns that exist before the key's migration, so it runs before upgrading.
        rows = Patient.objects.values_list("clinic__name", "clinic_id", "pk", "hospital_number")
        collisions = hospital_number_collisions(
            (f"{name} (id {clinic})", pk, number) for name, clinic, pk, number in rows
        )
        if not collisions:
            self.stdout.write("No two patient records of a clinic share a hospital number.")
            return
        for collision in collisions:
            self.stdout.write(str(collision))
        raise CommandError(
            f"{len(collisions)} hospital number(s) are held by more than one record; "
            "resolve them before migrating."
        )
