"""Staff screens for lab results: logging a panel, correcting a result, marking entries in
error, a result's history. The CSV import's screens are in import_views."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View

from audit.access import record_access
from monitoring.models import Analyte, LabReport, Panel
from monitoring.results.forms import (
    EnteredInErrorForm,
    ReportForm,
    ResultCorrectForm,
)
from monitoring.results.selectors import result_for
from monitoring.results.services import (
    new_submission_key,
    report_mark_in_error,
    report_record,
    result_correct,
    result_mark_in_error,
)
from patients.access import (
    StaffAccessMixin,
    in_scope_or_404,
    patient_for,
    patients_for,
)


def _panel_analytes(panel: str) -> list[Analyte]:
    analytes = list(Analyte.objects.filter(panel=panel))
    if not analytes:
        raise Http404("No results are recorded for this panel.")
    return analytes


class ReportCreateView(StaffAccessMixin, View):
    permission_required = ("monitoring.add_labreport", "monitoring.add_labresult")
    template = "monitoring/report_form.html"

    def _render(self, request, patient, panel, form):
        context = {"patient": patient, "panel": Panel(panel), "form": form}
        return render(request, self.template, context)

    def get(self, request, pk, panel):
        patient = patient_for(request, pk)
        analytes = _panel_analytes(panel)
        initial = {
            "submission_key": new_submission_key(),
            "sample_collected_on": patient.clinic.today(),
        }
        return self._render(request, patient, panel, ReportForm(initial=initial, analytes=analytes))

    def post(self, request, pk, panel):
        patient = patient_for(request, pk)
        form = ReportForm(request.POST, analytes=_panel_analytes(panel))
        if not form.is_valid():
            return self._render(request, patient, panel, form)
        data = form.cleaned_data
        try:
            recorded = report_record(
                patient=patient,
                panel=panel,
                sample_collected_on=data["sample_collected_on"],
                reported_on=data["reported_on"],
                lab_name=data["lab_name"],
                notes=data["notes"],
                entries=data["entries"],
                entered_by=request.user,
                submission_key=data["submission_key"],
            )
        except ValidationError as error:
            for field, problems in error.message_dict.items():
                form.add_error(field if field in form.fields else None, problems)
            return self._render(request, patient, panel, form)
        if recorded.created:
            worst = max(recorded.report.results.all(), key=lambda r: r.tier_rank)
            # An amber-or-worse result must stand out on the page the user lands on.
            say = messages.warning if worst.tier_rank >= 2 else messages.success
            say(
                request, f"{recorded.report} saved. Highest flag: {worst.tier}. {worst.next_action}"
            )
        else:
            messages.info(request, "That report was already saved; it was not stored twice.")
        return redirect("patients:detail", pk=patient.pk)


class ResultHistoryView(StaffAccessMixin, View):
    permission_required = ("monitoring.view_labresult",)

    def get(self, request, pk):
        result = result_for(request, pk)
        record_access(request, result.patient, "result history", record=result)
        versions = result.history.select_related("history_user").order_by("-history_date")
        return render(
            request, "monitoring/result_history.html", {"result": result, "versions": versions}
        )


class ResultCorrectView(StaffAccessMixin, View):
    permission_required = ("monitoring.change_labresult",)
    template = "monitoring/result_correct.html"

    def get(self, request, pk):
        result = result_for(request, pk)
        record_access(request, result.patient, "result correction form", record=result)
        initial = {"value": result.value_text, "unit": result.unit}
        form = ResultCorrectForm(initial=initial, analyte=result.analyte)
        return render(request, self.template, {"result": result, "form": form})

    def post(self, request, pk):
        result = result_for(request, pk)
        form = ResultCorrectForm(request.POST, analyte=result.analyte)
        if form.is_valid():
            data = form.cleaned_data
            try:
                result_correct(
                    result=result,
                    value=data["value"],
                    unit=data.get("unit", ""),
                    reference_low=data.get("reference_low", ""),
                    reference_high=data.get("reference_high", ""),
                    reason=data["reason"],
                    corrected_by=request.user,
                )
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                messages.success(request, f"{result.analyte} corrected; the old value is kept.")
                return redirect("patients:detail", pk=result.patient_id)
        return render(request, self.template, {"result": result, "form": form})


class EnteredInErrorView(StaffAccessMixin, View):
    permission_required = ("monitoring.change_labresult", "monitoring.change_labreport")
    """Mark a result, or a whole report, entered in error: kept, but out of flags and trends."""

    template = "monitoring/entered_in_error.html"
    kind = "result"

    def _target(self, request, pk):
        if self.kind == "result":
            return result_for(request, pk)
        reports = LabReport.objects.filter(patient__in=patients_for(request.user))
        return in_scope_or_404(request, reports.select_related("patient"), pk=pk)

    def get(self, request, pk):
        target = self._target(request, pk)
        record_access(request, target.patient, f"{self.kind} entered-in-error form", record=target)
        context = {"target": target, "kind": self.kind, "form": EnteredInErrorForm()}
        return render(request, self.template, context)

    def post(self, request, pk):
        target = self._target(request, pk)
        form = EnteredInErrorForm(request.POST)
        if form.is_valid():
            reason = form.cleaned_data["reason"]
            if self.kind == "result":
                result_mark_in_error(result=target, reason=reason, marked_by=request.user)
            else:
                report_mark_in_error(report=target, reason=reason, marked_by=request.user)
            messages.success(request, f"{target} marked entered in error; it is kept in history.")
            return redirect("patients:detail", pk=target.patient_id)
        context = {"target": target, "kind": self.kind, "form": form}
        return render(request, self.template, context)
