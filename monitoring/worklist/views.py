"""Staff screens for alerts: the nurse worklist, acknowledging a result, a follow-up note on a
check and waiving a check. Every object is looked up within the user's clinics, so another
clinic's result or check answers 404."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from accounts.redirects import safe_next_url
from audit.access import record_access
from monitoring.alerts.services import (
    check_follow_up,
    check_version,
    check_waive,
    result_acknowledge,
)
from monitoring.models import Panel, ScheduledCheck
from monitoring.results.selectors import result_for
from monitoring.worklist.forms import AcknowledgeForm, FollowUpForm, WaiveForm
from monitoring.worklist.selectors import PAGE_PARAMETERS, worklist_for
from patients.access import StaffAccessMixin, in_scope_or_404, patients_for
from submissions.views import SubmitOnceMixin


def check_for(request, pk: int) -> ScheduledCheck:
    checks = ScheduledCheck.objects.filter(patient__in=patients_for(request.user))
    return in_scope_or_404(request, checks.select_related("patient__clinic"), pk=pk)


def _next_url(request) -> str:
    """Back where the user came from (the worklist or a patient page)."""
    return safe_next_url(request, reverse("monitoring:worklist"))


def _url_of_pk(name: str) -> Callable[[int], str]:
    """The URL of view `name` for any pk, reversed once: a page of rows then builds each row's
    links as strings instead of resolving {% url %} in the template for every row (a third of
    the worklist's rendering when it showed 200 rows a section)."""
    marker = "2147483647"
    prefix, _, suffix = reverse(name, args=[int(marker)]).partition(marker)
    return lambda pk: f"{prefix}{pk}{suffix}"


def _url_of_patient_and_panel(name: str, panel: str) -> Callable[[int], str]:
    marker = "2147483647"
    prefix, _, suffix = reverse(name, args=[int(marker), panel]).partition(marker)
    return lambda pk: f"{prefix}{pk}{suffix}"


# No worklist section has this many pages; a larger number in the address is clamped to it
# rather than becoming an offset the database must count past.
MAX_PAGE = 10_000


def _page_number(value: str | None) -> int:
    try:
        return min(max(1, int(value or 1)), MAX_PAGE)
    except ValueError:
        return 1


def _page_url(request, parameter: str, page: int, anchor: str) -> str:
    query = request.GET.copy()
    query[parameter] = str(page)
    return f"?{query.urlencode()}#{anchor}"


class WorklistView(StaffAccessMixin, View):
    permission_required = ("monitoring.add_acknowledgement",)
    anchors = {"overdue": "overdue-h", "due_soon": "due-h", "failed": "failed-h"}

    def get(self, request):
        mine = request.GET.get("mine") == "1"
        pages = {
            section: _page_number(request.GET.get(parameter))
            for section, parameter in PAGE_PARAMETERS.items()
        }
        worklist = worklist_for(request.user, now=timezone.now(), mine=mine, pages=pages)
        self.add_links(request, worklist)
        context = {"worklist": worklist}
        return render(request, "monitoring/worklist.html", context)

    def add_links(self, request, worklist) -> None:
        """Each row's links and each section's paging links, built here once."""
        back = f"?next={quote(request.get_full_path(), safe='/')}"
        patient_url = _url_of_pk("patients:detail")
        acknowledge_url = _url_of_pk("monitoring:result_acknowledge")
        follow_up_url = _url_of_pk("monitoring:check_follow_up")
        waive_url = _url_of_pk("monitoring:check_waive")
        # The "record as done" form is the patient's and the panel's: its address built once
        # per panel, the patient's id put in per row.
        may_record_done = request.user.has_perm("monitoring.record_check_done")
        done_urls = {
            panel: _url_of_patient_and_panel("monitoring:check_done", panel)
            for panel in Panel.values
        }
        for result in worklist.results.rows:
            result.patient_url = patient_url(result.patient_id)
            result.acknowledge_url = acknowledge_url(result.pk) + back
        for check in [*worklist.overdue.rows, *worklist.due_soon.rows]:
            check.patient_url = patient_url(check.patient_id)
            check.follow_up_url = follow_up_url(check.pk) + back
            check.waive_url = waive_url(check.pk) + back
            if may_record_done:
                check.done_url = done_urls[check.panel](check.patient_id) + back
        for alert in worklist.failed.rows:
            alert.patient_url = patient_url(alert.patient_id)
        for name, parameter in PAGE_PARAMETERS.items():
            section = getattr(worklist, name)
            anchor = self.anchors[name]
            section.previous_url = _page_url(request, parameter, section.page - 1, anchor)
            section.next_url = _page_url(request, parameter, section.page + 1, anchor)


class ResultAcknowledgeView(StaffAccessMixin, SubmitOnceMixin, View):
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
            AcknowledgeForm(request.POST),
            save=save,
            invalid=lambda form: self._render(request, result, form),
        )


class CheckActionView(StaffAccessMixin, SubmitOnceMixin, View):
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
        return self._render(request, check, self.form_class(opened_version=check_version(check)))

    def post(self, request, pk):
        check = check_for(request, pk)
        form = self.form_class(request.POST)

        def save(data) -> str:
            messages.success(request, self.save(check, data, request.user, form.version_opened_on))
            return _next_url(request)

        def invalid(form):
            # After a refusal the page shows the check as it is now, with the others' notes.
            check.refresh_from_db()
            return self._render(request, check, form)

        return self.post_once(request, form, save=save, invalid=invalid)

    def save(self, check, data, user, opened_version) -> str:
        raise NotImplementedError


class CheckFollowUpView(CheckActionView):
    form_class = FollowUpForm
    title = "Follow-up note"
    button = "Save follow-up note"

    def save(self, check, data, user, opened_version) -> str:
        check_follow_up(
            check=check,
            action=data["action"],
            note=data["note"],
            acknowledged_by=user,
            now=timezone.now(),
            opened_version=opened_version,
        )
        return f"Follow-up note saved on {check} for {check.patient}."


class CheckWaiveView(CheckActionView):
    permission_required = ("monitoring.waive_scheduledcheck",)
    form_class = WaiveForm
    title = "Waive check"
    button = "Waive this check"

    def save(self, check, data, user, opened_version) -> str:
        check_waive(
            check=check,
            reason=data["reason"],
            waived_by=user,
            now=timezone.now(),
            opened_version=opened_version,
        )
        return f"{check} waived for {check.patient}."
