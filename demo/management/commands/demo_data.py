import textwrap

from django.core.management.base import BaseCommand

from demo.patients import LOGINS, PATIENTS, PORTAL_LOGIN, demo_populate, patients_by_stage
from demo.therapies import THERAPY_PATIENTS, demo_therapies_populate
from reports.figures.refresh import figures_refresh


class Command(BaseCommand):
    help = (
        "Load the demo clinics (alemtuzumab, and every other therapy), their users and patients. "
        "Later runs add only what is missing "
        "(patients of a newer demo, by hospital number) and otherwise change nothing."
    )

    def add_arguments(self, parser) -> None:
        # scripts/run loads first and prints the sign-ins last, once everything has started.
        parts = parser.add_mutually_exclusive_group()
        parts.add_argument(
            "--sign-ins", action="store_true", help="Print the demo sign-ins only; load nothing."
        )
        parts.add_argument(
            "--no-sign-ins", action="store_true", help="Load, without printing the sign-ins."
        )

    def handle(self, *args, sign_ins: bool = False, no_sign_ins: bool = False, **options):
        if not sign_ins:
            self._load()
        if not no_sign_ins:
            self._sign_ins()

    def _load(self) -> None:
        clinic, added = demo_populate()
        therapy_clinic, therapy_added = demo_therapies_populate()
        # The overview's figures, at once rather than at the next hourly refresh.
        figures_refresh(clinic=clinic)
        figures_refresh(clinic=therapy_clinic)
        self._alemtuzumab(clinic, added)
        self._therapies(therapy_clinic, therapy_added)

    def _alemtuzumab(self, clinic, added) -> None:
        if not added:
            self.stdout.write(f"{clinic.name} is already loaded; nothing changed.")
            return
        if len(added) == len(PATIENTS):
            self.stdout.write(f"Loaded {clinic.name} with {len(PATIENTS)} patients:")
        else:
            self.stdout.write(f"Added {len(added)} patients to {clinic.name}:")
        # One line per stage, and one per patient a nurse would act on: the whole clinic fits
        # on a screen.
        for stage, rows in patients_by_stage().items():
            names = ", ".join(_unbroken(row.name) for row in rows if row in added)
            if names:
                self._wrapped(f"{stage}: {names}")
        needing = [row for row in added if row.attention()]
        if needing:
            self.stdout.write("Results and overdue checks for the worklist:")
            for row in needing:
                self._wrapped(f"{_unbroken(row.name)}: {row.attention()}")

    def _therapies(self, clinic, added) -> None:
        if not added:
            self.stdout.write(f"{clinic.name} is already loaded; nothing changed.")
            return
        if len(added) == len(THERAPY_PATIENTS):
            self.stdout.write(f"Loaded {clinic.name} with {len(added)} patients:")
        else:
            self.stdout.write(f"Added {len(added)} patients to {clinic.name}:")
        for row in added:
            self._wrapped(f"{_unbroken(row.name)}: {row.story}")

    def _sign_ins(self) -> None:
        self.stdout.write("Demo sign-ins:")
        for login in [*LOGINS, PORTAL_LOGIN]:
            self.stdout.write(f"  {login.username} / {login.password}  ({login.role})")
        self.stdout.write(
            "Staff sign in with a second factor. For the demo accounts, print the current code"
            " with:\n  .venv/bin/python manage.py demo_code USERNAME"
        )

    def _wrapped(self, text: str) -> None:
        lines = textwrap.wrap(text, width=100, initial_indent="  ", subsequent_indent="      ")
        self.stdout.write("\n".join(lines).replace(NO_BREAK, " "))


# textwrap breaks only at ASCII white space: a name keeps its two parts on one line.
NO_BREAK = "\N{NO-BREAK SPACE}"


def _unbroken(name: str) -> str:
    return name.replace(" ", NO_BREAK)
