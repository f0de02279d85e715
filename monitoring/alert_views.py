"""Staff screens for alerts: the nurse worklist, acknowledging a result, a follow-up note on a
check and waiving a check. Every object is looked up within the user's clinics, so another
clinic's result or check answers 404."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from accounts.redirects import safe_next_url
from audit.access import record_access
from monitoring.alert_forms import AcknowledgeForm, FollowUpForm, WaiveForm
from monitoring.alert_services import check_follow_up, check_waive, result_acknowledge
from monitoring.models import ScheduledCheck
from monitoring.views import result_for
from monitoring.worklist import worklist_for
from patients.access import StaffAccessMixin, in_scope_or_404, patients_for


def check_for(request, pk: int) -> ScheduledCheck:
    checks = ScheduledCheck.objects.filter(patient__in=patients_for(request.user))
    return in_scope_or_404(request, checks.select_related("patient__clinic"), pk=pk)


def _next_url(request) -> str:
    """Back where the user came from (the worklist or a patient page)."""
    return safe_next_url(request, reverse("monitoring:worklist"))


def _show_errors(form, error: ValidationError) -> None:
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


class WorklistView(StaffAccessMixin, View):
    permission_required = ("monitoring.add_acknowledgement",)

    def get(self, request):
        mine = request.GET.get("mine") == "1"
        worklist = worklist_for(request.user, now=timezone.now(), mine=mine)
        context = {"worklist": worklist, "here": request.get_full_path()}
        return render(request, "monitoring/worklist.html", context)


class ResultAcknowledgeView(StaffAccessMixin, View):
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
        return self._render(request, result, AcknowledgeForm())

    def post(self, request, pk):
        result = result_for(request, pk)
        form = AcknowledgeForm(request.POST)
        if form.is_valid():
            try:
                result_acknowledge(
                    result=result,
                    action=form.cleaned_data["action"],
                    note=form.cleaned_data["note"],
                    acknowledged_by=request.user,
                    now=timezone.now(),
                )
            except ValidationError as error:
                _show_errors(form, error)
            else:
                messages.success(
                    request, f"{result.analyte.name} of {result.patient} acknowledged."
                )
                return redirect(_next_url(request))
        return self._render(request, result, form)


class CheckActionView(StaffAccessMixin, View):
    permission_required = ("monitoring.add_acknowledgement",)
    """A follow-up note or a waiver: the same page around a different form and service."""

    template = "monitoring/check_action.html"
    form_class = FollowUpForm
    title = ""
    button = ""

    def _render(self, request, check, form):
        context = {
            "check": check,
            "form": form,
            "title": self.title,
            "button": self.button,
            "next": _next_url(request),
            "status": check.status_on(check.patient.clinic.today()).value,
            "follow_ups": check.acknowledgements.select_related("acknowledged_by"),
        }
        return render(request, self.template, context)

    def get(self, request, pk):
        check = check_for(request, pk)
        record_access(request, check.patient, f"check: {self.title.lower()} form", record=check)
        return self._render(request, check, self.form_class())

    def post(self, request, pk):
        check = check_for(request, pk)
        form = self.form_class(request.POST)
        if form.is_valid():
            try:
                done = self.save(check, form.cleaned_data, request.user)
            except ValidationError as error:
                _show_errors(form, error)
            else:
                messages.success(request, done)
                return redirect(_next_url(request))
        return self._render(request, check, form)

    def save(self, check, data, user) -> str:
        raise NotImplementedError


class CheckFollowUpView(CheckActionView):
    form_class = FollowUpForm
    title = "Follow-up note"
    button = "Save follow-up note"

    def save(self, check, data, user) -> str:
        check_follow_up(
            check=check,
            action=data["action"],
            note=data["note"],
            acknowledged_by=user,
            now=timezone.now(),
        )
        return f"Follow-up note saved on {check} for {check.patient}."


class CheckWaiveView(CheckActionView):
    permission_required = ("monitoring.waive_scheduledcheck",)
    form_class = WaiveForm
    title = "Waive check"
    button = "Waive this check"

    def save(self, check, data, user) -> str:
        check_waive(check=check, reason=data["reason"], waived_by=user, now=timezone.now())
        return f"{check} waived for {check.patient}."
