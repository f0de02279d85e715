"""Import a CSV of lab results from the command line, e.g. a lab's nightly export.

All or nothing, like the upload page: any problem is printed with its row and nothing is saved,
so a cron job fails loudly instead of importing half a file. Results already stored with the
same value are skipped, so overlapping exports can be imported one after another.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

from auditlog.context import set_actor
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from monitoring.results.csv_import import (
    ImportPreview,
    ImportProblem,
    ImportRejected,
    import_apply,
    import_read,
    import_stage,
)
from patients.models import Clinic

IMPORT_USERNAME = "lab-import"


class Command(BaseCommand):
    help = "Import lab results from a CSV file: all rows, or nothing if any row has a problem."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE.csv")
        parser.add_argument(
            "--clinic", metavar="CODE", help="The clinic's code (default: the only clinic)."
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Check the file and save nothing."
        )
        parser.add_argument(
            "--date-order",
            choices=["dmy", "mdy", "iso"],
            default="",
            help="How the file writes dates with slashes: dmy (03/02/2024 is 3 February), mdy, "
            "or iso (YYYY-MM-DD only). Default: the clinic's setting. Ambiguous dates are "
            "refused either way.",
        )
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help=f"Who the results are recorded as entered by (default: {IMPORT_USERNAME}).",
        )

    def handle(self, *args, **options) -> None:
        path = Path(options["file"])
        try:
            content = path.read_bytes()
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from error
        clinic = self._clinic(options["clinic"])
        if options["dry_run"]:
            self._dry_run(clinic, content, path.name, options["date_order"])
            return
        try:
            # The staged file and the import user are rolled back with everything else.
            with transaction.atomic():
                user = self._user(options["user"])
                result_import, preview = import_stage(
                    clinic=clinic,
                    content=content,
                    file_name=path.name,
                    uploaded_by=user,
                    date_order=options["date_order"],
                )
                if result_import is None or not preview.ok:
                    raise ImportRejected(preview.problems)
                # No request here to name the actor: the audit trail names the import user.
                with set_actor(user):
                    outcome = import_apply(result_import=result_import, imported_by=user)
        except ImportRejected as rejected:
            self._refuse(rejected.problems)
        self.stdout.write(
            f"Imported {outcome.results} results in {outcome.reports} reports "
            f"({outcome.skipped} duplicates skipped)"
        )

    def _dry_run(self, clinic: Clinic, content: bytes, file_name: str, date_order: str) -> None:
        preview: ImportPreview = import_read(
            clinic=clinic, content=content, file_name=file_name, date_order=date_order
        )
        if not preview.ok:
            self._refuse(preview.problems)
        self.stdout.write(
            f"Dry run: would import {preview.to_import} results in {preview.report_count} "
            f"reports ({preview.skipped} duplicates skipped); nothing was saved."
        )

    def _refuse(self, problems: list[ImportProblem]) -> NoReturn:
        for problem in problems:
            self.stderr.write(str(problem))
        count = len(problems)
        raise CommandError(
            f"{count} problem{'' if count == 1 else 's'} in the file; nothing was imported."
        )

    def _clinic(self, code: str | None) -> Clinic:
        clinics = list(Clinic.objects.order_by("code"))
        known = ", ".join(clinic.code for clinic in clinics) or "none"
        if code:
            match = [clinic for clinic in clinics if clinic.code == code]
            if not match:
                raise CommandError(f"--clinic: there is no clinic “{code}”. Known: {known}.")
            return match[0]
        if len(clinics) != 1:
            raise CommandError(f"Choose the clinic with --clinic CODE. Known: {known}.")
        return clinics[0]

    def _user(self, username: str | None):
        users = get_user_model().objects
        if username:
            user = users.filter(username=username).first()
            if user is None:
                raise CommandError(f"--user: there is no user “{username}”.")
            return user
        user, created = users.get_or_create(username=IMPORT_USERNAME, defaults={"is_active": False})
        if created:
            # A name for the audit trail, never an account anyone can log in to.
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user
