"""Staff screens for lab results: logging a panel, correcting a result, marking entries in
error, a result's history. The CSV import's screens are in import_views."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import date_format
from django.views import View

from accounts.redirects import safe_next_url
from audit.access import record_access
from monitoring.models import Analyte, LabReport, Panel
from monitoring.results.forms import (
    CheckDoneForm,
    EnteredInErrorForm,
    ReportForm,
    ResultCorrectForm,
)
from monitoring.results.selectors import report_version, result_for, result_version
from monitoring.results.services import (
    check_done_record,
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
from submissions.views import SubmitOnceMixin


def _panel_analytes(panel: str) -> list[Analyte]:
    # The outcome of a check done without values has its own form (CheckDoneView), which asks
    # where it was done and, when abnormal, what was found.
    analytes = list(Analyte.objects.filter(panel=panel, is_outcome=False))
    if not analytes:
        raise Http404("No results are recorded for this panel.")
    return analytes


class ReportCreateView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = ("monitoring.add_labreport", "monitoring.add_labresult")
    template = "monitoring/report_form.html"

    def _render(self, request, patient, panel, form):
        context = {"patient": patient, "panel": Panel(panel), "form": form}
        return render(request, self.template, context)

    def get(self, request, pk, panel):
        patient = patient_for(request, pk)
        analytes = _panel_analytes(panel)
        initial = {"sample_collected_on": patient.clinic.today()}
        return self._render(request, patient, panel, ReportForm(initial=initial, analytes=analytes))

    def post(self, request, pk, panel):
        patient = patient_for(request, pk)
        form = ReportForm(request.POST, analytes=_panel_analytes(panel))

        def save(data) -> str:
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
            if recorded.created:
                worst = max(recorded.report.results.all(), key=lambda r: r.tier_rank)
                # An amber-or-worse result must stand out on the page the user lands on.
                say = messages.warning if worst.tier_rank >= 2 else messages.success
                say(
                    request,
                    f"{recorded.report} saved. Highest flag: {worst.tier}. {worst.next_action}",
                )
            else:
                messages.info(request, "That report was already saved; it was not stored twice.")
            return reverse("patients:detail", args=[patient.pk])

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render(request, patient, panel, form),
        )


class CheckDoneView(StaffAccessMixin, SubmitOnceMixin, View):
    """Record a check as done without a lab value: a skin examination, a cervical screening,
    an infection screen, or a panel done at another hospital whose values are not typed in.
    Reached from the patient page and from the worklist's rows (then back there)."""

    permission_required = ("monitoring.record_check_done",)
    template = "monitoring/check_done_form.html"

    def _outcome(self, panel: str) -> Analyte:
        analyte = Analyte.objects.filter(panel=panel, is_outcome=True).first()
        if analyte is None:
            raise Http404("This check cannot be recorded without its values.")
        return analyte

    def _next(self, request, patient) -> str:
        return safe_next_url(request, reverse("patients:detail", args=[patient.pk]))

    def _render(self, request, patient, panel, form):
        context = {
            "patient": patient,
            "panel": Panel(panel),
            "form": form,
            "next": self._next(request, patient),
        }
        return render(request, self.template, context)

    def get(self, request, pk, panel):
        patient = patient_for(request, pk)
        self._outcome(panel)
        record_access(request, patient, "check done form")
        initial = {"sample_collected_on": patient.clinic.today()}
        return self._render(request, patient, panel, CheckDoneForm(initial=initial))

    def post(self, request, pk, panel):
        patient = patient_for(request, pk)
        self._outcome(panel)
        form = CheckDoneForm(request.POST)

        def save(data) -> str:
            recorded = check_done_record(
                patient=patient,
                panel=panel,
                done_on=data["sample_collected_on"],
                outcome=data["outcome"],
                done_by=data["done_by"],
                done_by_name=data["done_by_name"],
                notes=data["notes"],
                document_reference=data["document_reference"],
                entered_by=request.user,
                submission_key=data["submission_key"],
            )
            what = f"{Panel(panel).label} done {date_format(recorded.report.sample_collected_on)}"
            result = recorded.report.results.get()
            if not recorded.created:
                messages.info(request, "That check was already recorded; not stored twice.")
            elif result.awaits_acknowledgement:
                messages.warning(
                    request,
                    f"{what}: abnormal, flagged {result.tier}; it waits for a nurse's "
                    f"acknowledgement. {result.next_action}",
                )
            else:
                messages.success(request, f"{what}: recorded as {result.value_text}.")
            return self._next(request, patient)

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render(request, patient, panel, form),
        )


class ResultHistoryView(StaffAccessMixin, View):
    permission_required = ("monitoring.view_labresult",)

    def get(self, request, pk):
        result = result_for(request, pk)
        record_access(request, result.patient, "result history", record=result)
        versions = result.history.select_related("history_user").order_by("-history_date")
        return render(
            request, "monitoring/result_history.html", {"result": result, "versions": versions}
        )


class ResultCorrectView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = ("monitoring.change_labresult",)
    template = "monitoring/result_correct.html"

    def get(self, request, pk):
        result = result_for(request, pk)
        record_access(request, result.patient, "result correction form", record=result)
        initial = {"value": f"{result.comparator}{result.value_text}", "unit": result.unit}
        form = ResultCorrectForm(
            initial=initial, analyte=result.analyte, opened_version=result_version(result.pk)
        )
        return render(request, self.template, {"result": result, "form": form})

    def post(self, request, pk):
        result = result_for(request, pk)
        form = ResultCorrectForm(request.POST, analyte=result.analyte)

        def save(data) -> str:
            result_correct(
                result=result,
                value=data["value"],
                unit=data.get("unit", ""),
                reference_low=data.get("reference_low", ""),
                reference_high=data.get("reference_high", ""),
                reason=data["reason"],
                corrected_by=request.user,
                opened_version=form.version_opened_on,
            )
            messages.success(request, f"{result.analyte} corrected; the old value is kept.")
            return reverse("patients:detail", args=[result.patient_id])

        def invalid(form):
            # Show the value stored now: after a refusal it is the other person's.
            result.refresh_from_db()
            return render(request, self.template, {"result": result, "form": form})

        return self.post_once(request, form, save=save, invalid=invalid)


class EnteredInErrorView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = ("monitoring.change_labresult", "monitoring.change_labreport")
    """Mark a result, or a whole report, entered in error: kept, but out of flags and trends."""

    template = "monitoring/entered_in_error.html"
    kind = "result"

    def _target(self, request, pk):
        if self.kind == "result":
            return result_for(request, pk)
        reports = LabReport.objects.filter(patient__in=patients_for(request.user))
        return in_scope_or_404(request, reports.select_related("patient"), pk=pk)

    def _version(self, target):
        return result_version(target.pk) if self.kind == "result" else report_version(target.pk)

    def get(self, request, pk):
        target = self._target(request, pk)
        record_access(request, target.patient, f"{self.kind} entered-in-error form", record=target)
        form = EnteredInErrorForm(opened_version=self._version(target))
        context = {"target": target, "kind": self.kind, "form": form}
        return render(request, self.template, context)

    def post(self, request, pk):
        target = self._target(request, pk)
        form = EnteredInErrorForm(request.POST)

        def save(data) -> str:
            mark = result_mark_in_error if self.kind == "result" else report_mark_in_error
            mark(
                **{self.kind: target},
                reason=data["reason"],
                marked_by=request.user,
                opened_version=form.version_opened_on,
            )
            messages.success(request, f"{target} marked entered in error; it is kept in history.")
            return reverse("patients:detail", args=[target.patient_id])

        def invalid(form):
            context = {"target": target, "kind": self.kind, "form": form}
            return render(request, self.template, context)

        return self.post_once(request, form, save=save, invalid=invalid)
