"""Staff screens for the CSV import of results: upload, then a preview of every row's problem
before anything is saved, then the import: here and now for a small file, on a worker for a
large one, with a page showing its progress.

These views are outside the request's transaction (ATOMIC_REQUESTS): the import commits batch
by batch, and one transaction round all of them would hold the clinic's lock to the end."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View

from monitoring.models import ResultImport
from monitoring.results import csv_import
from monitoring.results.forms import ImportConfirmForm, ImportUploadForm
from monitoring.results.selectors import import_for
from monitoring.results.tasks import import_continue
from patients.access import StaffAccessMixin, clinics_for
from submissions.forms import KEY_FIELD
from submissions.services import submission_once, submission_outcome_move
from submissions.views import SubmitOnceMixin

logger = logging.getLogger(__name__)
Status = ResultImport.Status
# The preview lists every row with a problem, and the first rows of the rest: a table of
# 100,000 rows would take longer to render than a request may last.
PREVIEW_ROWS = 500


def _preview_page(request, staged, form=None):
    preview = csv_import.import_read(
        clinic=staged.clinic,
        content=staged.content.encode(),
        file_name=staged.file_name,
        date_order=staged.date_order,
    )
    listed = [
        row for number, row in enumerate(preview.rows) if number < PREVIEW_ROWS or row.problems
    ]
    context = {
        "staged": staged,
        "preview": preview,
        "listed": listed,
        "unlisted": len(preview.rows) - len(listed),
        "form": form or ImportConfirmForm(),
    }
    return render(request, "monitoring/import_preview.html", context)


class ImportUploadView(StaffAccessMixin, View):
    permission_required = ("monitoring.add_resultimport",)
    template = "monitoring/import_upload.html"

    def get(self, request):
        form = ImportUploadForm(clinics=clinics_for(request.user))
        return render(request, self.template, {"form": form})

    def post(self, request):
        form = ImportUploadForm(request.POST, request.FILES, clinics=clinics_for(request.user))
        if not form.is_valid():
            return render(request, self.template, {"form": form})
        upload = form.cleaned_data["file"]
        staged, preview = csv_import.import_stage(
            clinic=form.cleaned_data["clinic"],
            content=upload.read(),
            file_name=upload.name,
            uploaded_by=request.user,
            date_order=form.cleaned_data["date_order"],
        )
        if staged is None:
            return render(request, self.template, {"form": form, "preview": preview})
        return redirect("monitoring:import_preview", pk=staged.pk)


@method_decorator(transaction.non_atomic_requests, name="dispatch")
class ImportPreviewView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = ("monitoring.add_resultimport",)

    def get(self, request, pk):
        staged = import_for(request, pk)
        if staged.status in (Status.IMPORTING, Status.FAILED):
            return redirect("monitoring:import_progress", pk=staged.pk)
        return _preview_page(request, staged)

    def post(self, request, pk):
        """Confirm the import, or resume one that stopped. The one-time key covers starting
        it (checking the file again and marking it importing, in one short transaction);
        the batches then commit one by one, after that transaction."""
        staged = import_for(request, pk)
        repeat = self.submitted_before(request)
        if repeat is not None:
            return repeat
        if staged.status == Status.IMPORTING:
            # A second click, or the back button: the first run carries on.
            return redirect("monitoring:import_progress", pk=staged.pk)
        form = ImportConfirmForm(request.POST)
        if not form.is_valid():
            return _preview_page(request, staged, form)
        progress = reverse("monitoring:import_progress", kwargs={"pk": staged.pk})

        def start() -> str:
            csv_import.import_start(result_import=staged, imported_by=request.user)
            return progress

        try:
            outcome = submission_once(
                key=form.cleaned_data[KEY_FIELD], user=request.user, action=request.path,
                perform=start,
            )  # fmt: skip
        except csv_import.ImportRejected as rejected:
            nothing = "Nothing more" if staged.results_done else "Nothing"
            messages.error(request, f"{nothing} was imported: {len(rejected.problems)} problem(s).")
            return _preview_page(request, staged, ImportConfirmForm())
        if outcome.repeated:
            return self._repeat(request, outcome.url)
        started = ResultImport.objects.defer("content").get(pk=staged.pk)
        if started.results_total - started.results_done > settings.RESULT_IMPORT_INLINE_RESULTS:
            _queue(started)
            return redirect(progress)
        try:
            done = csv_import.import_continue(result_import=started)
        except csv_import.ImportRejected:
            return redirect(progress)
        submission_outcome_move(key=form.cleaned_data[KEY_FIELD], url=reverse("patients:list"))
        outcome = csv_import.outcome_of(done)
        messages.success(
            request,
            f"Imported {outcome.results} results in {outcome.reports} reports "
            f"({outcome.skipped} already recorded, skipped).",
        )
        return redirect("patients:list")


def _queue(result_import: ResultImport) -> None:
    try:
        import_continue.delay(result_import.pk)
    except Exception:  # the broker is unreachable: the import sweep will queue it
        logger.warning("Could not queue import %s; left for the sweep.", result_import.pk)


class ImportProgressView(StaffAccessMixin, View):
    """How far an import has gone, read from its record alone (the file is not read again), so
    the page can refresh itself every few seconds while the import runs."""

    permission_required = ("monitoring.add_resultimport",)
    template = "monitoring/import_progress.html"

    def get(self, request, pk):
        result_import = import_for(request, pk)
        return render(
            request,
            self.template,
            {
                "result_import": result_import,
                "running": result_import.status == Status.IMPORTING,
                "form": ImportConfirmForm(),  # the resume button's one-time key
            },
        )
