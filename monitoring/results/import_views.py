"""Staff screens for the CSV import of results: upload, then a preview of every row's problem
before anything is saved, then all rows or none."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from monitoring.models import ResultImport
from monitoring.results import csv_import
from monitoring.results.forms import ImportConfirmForm, ImportUploadForm
from patients.access import StaffAccessMixin, clinics_for, in_scope_or_404
from submissions.views import SubmitOnceMixin


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


class ImportPreviewView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = ("monitoring.add_resultimport",)
    template = "monitoring/import_preview.html"

    def _staged(self, request, pk):
        imports = ResultImport.objects.filter(clinic__in=clinics_for(request.user))
        return in_scope_or_404(request, imports.select_related("clinic"), pk=pk)

    def _render(self, request, staged, form):
        preview = csv_import.import_read(
            clinic=staged.clinic,
            content=staged.content.encode(),
            file_name=staged.file_name,
            date_order=staged.date_order,
        )
        context = {"staged": staged, "preview": preview, "form": form}
        return render(request, self.template, context)

    def get(self, request, pk):
        return self._render(request, self._staged(request, pk), ImportConfirmForm())

    def post(self, request, pk):
        staged = self._staged(request, pk)
        form = ImportConfirmForm(request.POST)

        def save(data) -> str:
            try:
                outcome = csv_import.import_apply(result_import=staged, imported_by=request.user)
            except csv_import.ImportRejected as rejected:
                # The preview shown again lists each problem.
                problems = len(rejected.problems)
                raise ValidationError(f"Nothing was imported: {problems} problem(s).") from rejected
            messages.success(
                request,
                f"Imported {outcome.results} results in {outcome.reports} reports "
                f"({outcome.skipped} already recorded, skipped).",
            )
            return reverse("patients:list")

        return self.post_once(
            request, form, save=save, invalid=lambda form: self._render(request, staged, form)
        )
