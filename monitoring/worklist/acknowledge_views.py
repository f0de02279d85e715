"""Staff screens for acknowledging: a flagged result, and a symptom the patient reported. Each
is its own page and also takes a POST from a form rendered elsewhere (a row of the worklist),
with the fields `action`, `note`, `submission_key` and an optional `next`; a refused POST shows
this page with the errors, beside the fields. Objects are looked up within the user's clinics,
so another clinic's answers 404."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from accounts.redirects import safe_next_url
from audit.access import record_access
from monitoring.alerts.services import result_acknowledge
from monitoring.alerts.symptom_reports import symptom_report_acknowledge
from monitoring.models import SymptomReport
from monitoring.results.selectors import result_for
from monitoring.worklist.forms import AcknowledgeForm, SymptomAcknowledgeForm
from patients.access import StaffAccessMixin, in_scope_or_404, patients_for
from submissions.views import SubmitOnceMixin


def _next_url(request) -> str:
    """Back where the user came from (the worklist or a patient page)."""
    return safe_next_url(request, reverse("monitoring:worklist"))


def symptom_report_for(request, pk: int) -> SymptomReport:
    reports = SymptomReport.objects.filter(patient__in=patients_for(request.user))
    return in_scope_or_404(request, reports.select_related("patient__clinic"), pk=pk)


class ResultAcknowledgeView(StaffAccessMixin, SubmitOnceMixin, View):
    """The choices fit the result's tier (AcknowledgeForm(tier=...)); the service judges the
    reason at the tier the result has when it is saved."""

    permission_required = ("monitoring.add_acknowledgement",)
    template = "monitoring/result_acknowledge.html"

    def _render(self, request, result, form):
        acknowledgements = result.acknowledgements.select_related("acknowledged_by")
        context = {
            "result": result,
            "form": form,
            "acknowledgements": acknowledgements,
            "next": _next_url(request),
        }
        return render(request, self.template, context)

    def get(self, request, pk):
        result = result_for(request, pk)
        record_access(request, result.patient, "result acknowledgement form", record=result)
        return self._render(request, result, AcknowledgeForm(tier=result.tier))

    def post(self, request, pk):
        result = result_for(request, pk)

        def save(data) -> str:
            result_acknowledge(
                result=result,
                action=data["action"],
                note=data["note"],
                acknowledged_by=request.user,
                now=timezone.now(),
            )
            messages.success(request, f"{result.analyte.name} of {result.patient} acknowledged.")
            return _next_url(request)

        return self.post_once(
            request,
            AcknowledgeForm(request.POST, tier=result.tier),
            save=save,
            invalid=lambda form: self._render(request, result, form),
        )


class SymptomAcknowledgeView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = ("monitoring.add_acknowledgement",)
    template = "monitoring/symptom_acknowledge.html"

    def _render(self, request, report, form):
        today = report.patient.clinic.today()
        context = {
            "report": report,
            "patient": report.patient,
            "urgent_checks": report.urgent_checks.with_status(today).order_by("panel"),
            "acknowledgements": report.acknowledgements.select_related("acknowledged_by"),
            "form": form,
            "next": _next_url(request),
        }
        return render(request, self.template, context)

    def get(self, request, pk):
        report = symptom_report_for(request, pk)
        record_access(request, report.patient, "symptom acknowledgement form", record=report)
        return self._render(request, report, SymptomAcknowledgeForm())

    def post(self, request, pk):
        report = symptom_report_for(request, pk)

        def save(data) -> str:
            symptom_report_acknowledge(
                report=report,
                action=data["action"],
                note=data["note"],
                acknowledged_by=request.user,
                now=timezone.now(),
            )
            messages.success(request, f"Symptom report of {report.patient} acknowledged.")
            return _next_url(request)

        def invalid(form):
            # After a refusal (someone else acknowledged it meanwhile) show it as it is now.
            report.refresh_from_db()
            return self._render(request, report, form)

        return self.post_once(
            request, SymptomAcknowledgeForm(request.POST), save=save, invalid=invalid
        )
