from django.core.management.base import BaseCommand

from patients.demo import LOGINS, PATIENTS, PORTAL_LOGIN, demo_load


class Command(BaseCommand):
    help = "Load the demo clinic, its users and patients (once; later runs change nothing)."

    def handle(self, *args, **options) -> None:
        clinic, created = demo_load()
        if created:
            self.stdout.write(f"Loaded {clinic.name} with {len(PATIENTS)} patients:")
            for given, family, *_, note in PATIENTS:
                self.stdout.write(f"  {given} {family}: {note}")
        else:
            self.stdout.write(f"{clinic.name} is already loaded; nothing changed.")
        self.stdout.write("Demo sign-ins:")
        for login in [*LOGINS, PORTAL_LOGIN]:
            self.stdout.write(f"  {login.username} / {login.password}  ({login.role})")
        self.stdout.write(
            "Staff sign in with a second factor. For the demo accounts, print the current code"
            " with:\n  .venv/bin/python manage.py demo_code USERNAME"
        )
