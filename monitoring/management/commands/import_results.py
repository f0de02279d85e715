"""Import a CSV of lab results from the command line, e.g. a lab's nightly export.

Checked whole, like the upload page: any problem is printed with its row and nothing is saved,
so a cron job fails loudly instead of importing half a file. A clean file is recorded in batches
(RESULT_IMPORT_BATCH_REPORTS reports per transaction), printing the results done after each; if
the run stops (killed, a refused batch), running the command again on the same file resumes
where it stopped. Results already stored with the same value are skipped, so overlapping exports
can be imported one after another.
"""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

from auditlog.context import set_actor
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.system_users import system_user
from monitoring.domain.csv_reading import sha256_of
from monitoring.models import ResultImport
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
    help = (
        "Import lab results from a CSV file: nothing if any row has a problem, otherwise all of "
        "it in batches, resumed by running the command again if it stops."
    )

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
        named_user = self._named_user(options["user"])
        date_order = options["date_order"]
        preview = import_read(
            clinic=clinic, content=content, file_name=path.name, date_order=date_order
        )
        if not preview.ok:
            self._refuse(preview.problems)
        user = named_user or self._import_user()
        result_import = self._resumable(clinic, content)
        if result_import is None:
            result_import, _ = import_stage(
                clinic=clinic,
                content=content,
                file_name=path.name,
                uploaded_by=user,
                date_order=date_order,
            )
        else:
            self.stdout.write(
                f"Resuming the import of {result_import.file_name} begun "
                f"{result_import.started_at:%Y-%m-%d %H:%M} UTC: "
                f"{result_import.results_done} of {result_import.results_total} results recorded."
            )
        show_progress = options["verbosity"] >= 1
        try:
            # No request here to name the actor: the audit trail names the import user.
            with set_actor(user):
                done = import_apply(
                    result_import=result_import,
                    imported_by=user,
                    on_batch=self._progress if show_progress else None,
                )
        except ImportRejected as rejected:
            result_import.refresh_from_db()
            if result_import.status == ResultImport.Status.FAILED:
                self._stopped(rejected.problems, result_import)
            self._refuse(rejected.problems)
        self.stdout.write(
            f"Imported {done.results} results in {done.reports} reports "
            f"({done.skipped} duplicates skipped)"
        )

    def _progress(self, result_import: ResultImport) -> None:
        self.stdout.write(
            f"Recorded {result_import.results_done} of {result_import.results_total} results "
            f"({result_import.percent_done}%)"
        )
        self.stdout.flush()

    def _resumable(self, clinic: Clinic, content: bytes) -> ResultImport | None:
        """An earlier run of this file that stopped before the end: carried on, not begun again."""
        return (
            ResultImport.objects.filter(
                clinic=clinic,
                sha256=sha256_of(content),
                status__in=[ResultImport.Status.IMPORTING, ResultImport.Status.FAILED],
            )
            .order_by("-uploaded_at")
            .first()
        )

    def _stopped(self, problems: list[ImportProblem], result_import: ResultImport) -> NoReturn:
        for problem in problems:
            self.stderr.write(str(problem))
        raise CommandError(
            f"The import stopped after {result_import.results_done} of "
            f"{result_import.results_total} results; those are stored. Run the command again "
            "to resume, or fix the file: its rows already stored will be skipped."
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

    def _named_user(self, username: str | None):
        if not username:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"--user: there is no user “{username}”.")
        return user

    def _import_user(self):
        return system_user(IMPORT_USERNAME)
