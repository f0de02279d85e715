"""Onboard a clinic's patients already in follow-up from a CSV file, one row per patient with
their courses (README, *Onboarding patients from a spreadsheet*).

Checked whole, like the screen: any problem is printed with its row and column and nothing is
saved. A clean file is recorded in one transaction: the new patients, the changes to stored
ones, the courses they lack, and every schedule planned from the tracking start.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

from auditlog.context import set_actor
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.system_users import system_user
from monitoring.domain.csv_reading import ImportProblem
from monitoring.domain.input_rules import DateOrder, typed_date
from patients.models import Clinic
from patients.onboarding.services import (
    OnboardingPreview,
    OnboardingRejected,
    onboarding_read,
    onboarding_record,
    onboarding_stage,
)

ONBOARDING_USERNAME = "onboarding"


class Command(BaseCommand):
    help = (
        "Create or update a clinic's patients and their courses from a CSV file: nothing if any "
        "row has a problem, otherwise all of it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE.csv")
        parser.add_argument("--clinic", metavar="CODE", required=True, help="The clinic's code.")
        parser.add_argument(
            "--tracking-from",
            metavar="YYYY-MM-DD",
            help="The day the clinic tracks the new patients from: checks that fell overdue "
            "before it are history. Default: the clinic's go-live date, else today.",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the file and save nothing."
        )
        parser.add_argument(
            "--date-order",
            choices=["dmy", "mdy", "iso"],
            default="",
            help="How the file writes dates with slashes (default: the clinic's setting).",
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help=f"Who the records are entered by (default: {ONBOARDING_USERNAME}).",
        )

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            content = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from error
        clinic = self._clinic(options["clinic"])
        tracking_from = self._tracking_from(options["tracking_from"])
        date_order = options["date_order"]
        if options["dry_run"]:
            preview = onboarding_read(
                clinic=clinic,
                content=content,
                file_name=path.name,
                tracking_from=tracking_from,
                date_order=date_order,
            )
            if not preview.ok:
                self._refuse(preview.problems)
            self.stdout.write(f"Dry run: would {self._summary(preview)}; nothing was saved.")
            return
        user = self._user(options["user"])
        # Kept as the screen keeps an upload, with who gave it, even when it is refused.
        onboarding, preview = onboarding_stage(
            clinic=clinic,
            content=content,
            file_name=path.name,
            uploaded_by=user,
            tracking_from=tracking_from,
            date_order=date_order,
        )
        if not preview.ok:
            self._refuse(preview.problems)
        try:
            # No request to name the actor: the audit trail names the user given.
            with set_actor(user):
                outcome = onboarding_record(onboarding=onboarding, recorded_by=user)
        except OnboardingRejected as rejected:
            self._refuse(rejected.problems)
        self.stdout.write(
            f"Created {outcome.created} patients, updated {outcome.updated} "
            f"({outcome.unchanged} unchanged), added {outcome.courses} courses; tracked from "
            f"{outcome.tracking_from:%Y-%m-%d}."
        )

    @staticmethod
    def _summary(preview: OnboardingPreview) -> str:
        return (
            f"create {preview.to_create} patients, update {preview.to_update} "
            f"({preview.unchanged} unchanged), add {preview.courses_to_add} courses, tracked "
            f"from {preview.tracking_from:%Y-%m-%d}"
        )

    def _refuse(self, problems: list[ImportProblem]) -> NoReturn:
        for problem in problems:
            self.stderr.write(str(problem))
        count = len(problems)
        raise CommandError(
            f"{count} problem{'' if count == 1 else 's'} in the file; nothing was saved."
        )

    @staticmethod
    def _clinic(code: str) -> Clinic:
        clinic = Clinic.objects.filter(code=code).first()
        if clinic is None:
            known = ", ".join(Clinic.objects.order_by("code").values_list("code", flat=True))
            raise CommandError(f"--clinic: there is no clinic “{code}”. Known: {known or 'none'}.")
        return clinic

    @staticmethod
    def _tracking_from(text: str | None):
        if not text:
            return None
        day, problem = typed_date(text, DateOrder.ISO_ONLY)
        if problem:
            raise CommandError(f"--tracking-from: {problem}")
        return day

    @staticmethod
    def _user(username: str | None):
        users = get_user_model().objects
        if username:
            user = users.filter(username=username).first()
            if user is None:
                raise CommandError(f"--user: there is no user “{username}”.")
            return user
        return system_user(ONBOARDING_USERNAME)
