"""Staff screens for alerts: the nurse worklist, acknowledging a result, a follow-up note on a
check and waiving a check. Every object is looked up within the user's clinics, so another
clinic's result or check answers 404."""

from __future__ import annotations

import uuid
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import render
from django.template import engines
from django.template.backends.utils import csrf_input
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.views import View

from accounts.redirects import safe_next_url
from audit.access import record_access
from config.template_env import url_of_pk
from monitoring.alerts.bulk_actions import checks_bulk_follow_up, checks_bulk_waive
from monitoring.alerts.services import (
    check_follow_up,
    check_version,
    check_waive,
)
from monitoring.domain.tiers import ACKNOWLEDGE_TIERS, URGENT_TIERS
from monitoring.models import Acknowledgement, Analyte, Panel, ScheduledCheck
from monitoring.outbox.messages import counted
from monitoring.worklist.filters import OVERDUE_CHOICES, Filters
from monitoring.worklist.forms import (
    AcknowledgeForm,
    BulkActionForm,
    FollowUpForm,
    SymptomAcknowledgeForm,
    WaiveForm,
)
from monitoring.worklist.selectors import PAGE_PARAMETERS, clinics_of, worklist_for
from patients.access import StaffAccessMixin, in_scope_or_404, patients_for
from submissions.views import SubmitOnceMixin


def check_for(request, pk: int) -> ScheduledCheck:
    checks = ScheduledCheck.objects.filter(patient__in=patients_for(request.user))
    return in_scope_or_404(request, checks.select_related("patient__clinic"), pk=pk)


def _next_url(request) -> str:
    """Back where the user came from (the worklist or a patient page)."""
    return safe_next_url(request, reverse("monitoring:worklist"))


def _options(choices) -> str:
    """A select's options, built once per page rather than once per row."""
    return format_html_join("", '<option value="{}">{}</option>', choices)


# No worklist section has this many pages; a larger number in the address is clamped to it.
MAX_PAGE = 400


def _page_number(value: str | None) -> int:
    try:
        return min(max(1, int(value or 1)), MAX_PAGE)
    except ValueError:
        return 1


def _page_url(request, parameter: str, page: int, anchor: str) -> str:
    query = request.GET.copy()
    query[parameter] = str(page)
    return f"?{query.urlencode()}#{anchor}"


class WorklistView(StaffAccessMixin, SubmitOnceMixin, View):
    """GET: the worklist. POST: the bulk bar's action on the ticked checks, then back to the
    same list (filters and pages kept); a refusal shows the list again with the bar's errors
    and the ticks as they were."""

    permission_required = ("monitoring.add_acknowledgement",)

    def get(self, request):
        return self._render(request, BulkActionForm())

    def post(self, request):
        form = BulkActionForm(request.POST)
        now = timezone.now()

        def save(data) -> str:
            outcome = self._bulk(request, data, now)
            what = "waived" if data["what"] == BulkActionForm.WAIVE else "given the follow-up note"
            message = (
                f"{counted(outcome.done, 'check', 'checks')} of "
                f"{counted(outcome.patients, 'patient', 'patients')} "
                f"{what}."
            )
            if outcome.skipped:
                message += (
                    f" {outcome.skipped} had closed meanwhile (a result or a colleague) and "
                    "were left as they were."
                )
            messages.success(request, message)
            return request.get_full_path()

        return self.post_once(
            request, form, save=save, invalid=lambda form: self._render(request, form)
        )

    def _bulk(self, request, data, now):
        clinics = clinics_of(request.user, now)
        patients = patients_for(request.user)
        today_of = dict(patients.filter(pk__in=data["overdue_of"]).values_list("pk", "clinic_id"))
        today_of = {
            pk: clinics[clinic].today for pk, clinic in today_of.items() if clinic in clinics
        }
        chosen = {
            "patients": patients,
            "check_ids": data["check"],
            "overdue_of": data["overdue_of"],
            "today_of": today_of,
            "now": now,
        }
        if data["what"] == BulkActionForm.WAIVE:
            if not request.user.has_perm("monitoring.waive_scheduledcheck"):
                raise ValidationError({"what": "You may add notes, but not waive checks."})
            return checks_bulk_waive(reason=data["text"], waived_by=request.user, **chosen)
        return checks_bulk_follow_up(
            action=data["action"], note=data["text"], acknowledged_by=request.user, **chosen
        )

    def _render(self, request, bulk_form):
        now = timezone.now()
        clinics = clinics_of(request.user, now)
        filters = Filters.from_query(request.GET, clinics)
        pages = {
            name: _page_number(request.GET.get(parameter))
            for name, parameter in PAGE_PARAMETERS.items()
        }
        worklist = worklist_for(
            request.user, now=now, clinics=clinics, filters=filters, pages=pages
        )
        self.add_links(request, worklist)
        ticked = set(bulk_form["check"].value() or []) if bulk_form.is_bound else set()
        self.draw_rows(
            request,
            worklist,
            ticked={str(pk) for pk in ticked},
            ticked_overdue=set(request.POST.getlist("overdue_of")) if bulk_form.is_bound else set(),
        )
        doses = engines["jinja2"].get_template("monitoring/worklist_doses.html")
        context = {
            "worklist": worklist,
            # Jinja2 escaped every value as it drew them (config.template_env).
            "doses_html": mark_safe(doses.render({"doses": worklist.doses}, request)),  # noqa: S308
            "bulk_form": bulk_form,
            "may_waive": request.user.has_perm("monitoring.waive_scheduledcheck"),
            "ack_choices": Acknowledgement.Action.choices,
            "panels": Panel.choices,
            "tiers": [(tier, tier.capitalize()) for tier in ACKNOWLEDGE_TIERS],
            "overdue_choices": OVERDUE_CHOICES,
        }
        return render(request, "monitoring/worklist.html", context)

    def draw_rows(self, request, worklist, *, ticked: set[str], ticked_overdue: set[str]) -> None:
        """Each section's rows as HTML (section.rows_html), from the Jinja2 template: the
        Django template language took a third of the page's time to draw them."""
        template = engines["jinja2"].get_template("monitoring/worklist_rows.html")
        shared = {
            "many_clinics": len(worklist.clinics) > 1,
            "ticked": ticked,
            "ticked_overdue": ticked_overdue,
            "panel_names": dict(Panel.choices),
            # One masked token for the page's forms, not a new one drawn for each.
            "csrf_input": csrf_input(request),
        }
        for section in worklist.sections.values():
            html = template.render({**shared, "rows": section.rows})
            # Jinja2 escaped every value as it drew them (config.template_env).
            section.rows_html = mark_safe(html)  # noqa: S308

    def add_links(self, request, worklist) -> None:
        """Each row's links and each section's paging links, built here once."""
        back = f"?next={quote(request.get_full_path(), safe='/')}"
        patient_url = url_of_pk("patients:detail")
        acknowledge_url = url_of_pk("monitoring:result_acknowledge")
        symptom_url = url_of_pk("monitoring:symptom_acknowledge")
        handle_url = url_of_pk("monitoring:alert_handle")
        # The row's own acknowledge forms offer what the full page would: per tier, and for
        # a symptom report no "no action needed".
        options = {
            tier: _options(AcknowledgeForm(tier=tier).fields["action"].choices)
            for tier in URGENT_TIERS
        }
        symptom_options = _options(SymptomAcknowledgeForm().fields["action"].choices)
        # A check with no lab values to type (a skin examination, say) is recorded as done
        # from its row: its address built once per panel, the patient's id put in per row.
        done_urls = {}
        if request.user.has_perm("monitoring.record_check_done"):
            valued = set(Analyte.objects.filter(is_outcome=False).values_list("panel", flat=True))
            done_urls = {
                panel: url_of_pk("monitoring:check_done", panel)
                for panel in Panel.values
                if panel not in valued
            }
        self.add_dose_links(request, worklist, patient_url)
        for name, section in worklist.sections.items():
            for row in section.rows:
                row.patient_url = patient_url(row.patient.pk)
                row.full_name = f"{row.patient.given_name} {row.patient.family_name}"
                for report in row.symptom_reports:
                    report.acknowledge_url = symptom_url(report.pk) + back
                    report.ack_key = uuid.uuid4()
                    report.ack_options = symptom_options
                for result in row.results:
                    result.acknowledge_url = acknowledge_url(result.pk) + back
                    result.ack_key = uuid.uuid4()
                    result.ack_options = options.get(result.tier, "")
                for alert in row.failed_alerts:
                    alert.handle_url = handle_url(alert.pk) + back
                for visit in row.visits:
                    for check in visit.checks:
                        done_url = done_urls.get(check.panel)
                        check.done_url = done_url(row.patient.pk) + back if done_url else ""
            parameter = PAGE_PARAMETERS[name]
            section.page.previous_url = _page_url(request, parameter, section.page.page - 1, name)
            section.page.next_url = _page_url(request, parameter, section.page.page + 1, name)

    def add_dose_links(self, request, worklist, patient_url) -> None:
        """Each due dose's next step: the checklist while it is unanswered, else recording the
        dose as given (for those who may change doses)."""
        if worklist.doses is None:
            return
        may_change = request.user.has_perm("patients.change_therapydose")
        checklist_url = url_of_pk("patients:dose_checklist")
        given_url = url_of_pk("patients:dose_given")
        for due in worklist.doses.doses:
            due.patient_url = patient_url(due.patient.pk)
            if may_change:
                due.action_url = (
                    checklist_url(due.dose.pk) if due.needs_checklist else given_url(due.dose.pk)
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
