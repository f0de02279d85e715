"""Staff screens for patients: the list, the patient page, the add and edit forms, the
pre-infusion checklist and the what-if preview of the schedule. Views stay thin:
forms validate, services write, selectors read, and patients.access decides who sees what."""

from __future__ import annotations

import itertools
from operator import attrgetter
from urllib.parse import quote

from django.contrib import messages
from django.db.models import Max
from django.shortcuts import render
from django.template import engines
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views import View

from audit.access import record_access
from config.template_env import url_of_pk
from submissions.forms import KEY_FIELD
from submissions.views import SubmitOnceMixin

from .access import StaffAccessMixin, clinics_for, course_for, patient_for, patients_for
from .forms import (
    CourseCancelForm,
    CourseEditForm,
    CourseForm,
    CourseGivenForm,
    PatientEditForm,
    PatientForm,
    PatientStatusForm,
    SchedulePreviewForm,
)
from .models import InfusionCourse, Patient
from .page_parts import page_parts
from .selectors import (
    baseline_checklist,
    patient_list_page,
    patient_page,
    schedule_preview_page,
)
from .services import (
    course_add,
    course_cancel,
    course_record_given,
    course_update,
    patient_create,
    patient_status_change,
    patient_update,
)
from .therapies.selectors import patient_therapies

PAGE_SIZE = 50
STATUS_NAMES = dict(Patient.Status.choices)


class PatientListView(StaffAccessMixin, View):
    permission_required = ("patients.view_patient",)

    def get(self, request):
        query = request.GET.get("q", "").strip()[:100]
        page = patient_list_page(
            patients_for(request.user),
            query=query,
            now=timezone.now(),
            page_number=request.GET.get("page"),
            per_page=PAGE_SIZE,
        )
        rows = (
            engines["jinja2"]
            .get_template("patients/list_rows.html")
            .render({"patients": page.object_list, "query": query, "status_names": STATUS_NAMES})
        )
        # Jinja2 escaped every value as it drew them (config.template_env).
        context = {"page": page, "query": query, "rows_html": mark_safe(rows)}  # noqa: S308
        return render(request, "patients/list.html", context)


def results_html(request, page) -> SafeString:
    """The page's results, a page of reports with each one's results, from the Jinja2 template:
    in the Django template language they were a third of drawing the page afresh."""
    user = request.user
    context = {
        "page": page,
        # Consecutive results of one report (they are read in report order) are its card.
        "reports": [
            (report, list(results))
            for report, results in itertools.groupby(page.results, key=attrgetter("report"))
        ],
        "may_export": user.has_perm("reports.export_reports"),
        "may_acknowledge": user.has_perm("monitoring.add_acknowledgement"),
        "export_url": reverse("reports:export_results", args=[page.patient.pk]),
        "back": quote(request.get_full_path()),
        "report_error_url": url_of_pk("monitoring:report_error"),
        "acknowledge_url": url_of_pk("monitoring:result_acknowledge"),
        "history_url": url_of_pk("monitoring:result_history"),
        "correct_url": url_of_pk("monitoring:result_correct"),
        "error_url": url_of_pk("monitoring:result_error"),
    }
    html = engines["jinja2"].get_template("patients/results.html").render(context, request)
    # Jinja2 escaped every value as it drew them (config.template_env).
    return mark_safe(html)  # noqa: S308


class PatientDetailView(StaffAccessMixin, View):
    permission_required = ("patients.view_patient",)

    def get(self, request, pk):
        patient = patient_for(request, pk)
        record_access(request, patient, "patient page")
        today = patient.clinic.today()

        def draw() -> str:
            page = patient_page(
                patient,
                today=today,
                results_page=request.GET.get("results"),
                schedule=request.GET.get("schedule"),
            )
            context = {
                "page": page,
                "today": today,
                "therapies": patient_therapies(patient, page.courses),
                "results_html": results_html(request, page),
            }
            return render_to_string("patients/_detail_body.html", context, request=request)

        # Everything below the navigation is drawn from the record: kept until it changes (or,
        # the statuses being today's, the clinic's day turns). The named nurse's and the
        # protocol's names are read with the patient, so a rename shows at once too.
        nurse = patient.named_nurse
        vary = (
            today,
            patient.version,
            patient.updated_at.isoformat(),
            nurse and (nurse.get_full_name(), nurse.username),
            str(patient.protocol),
        )
        body = page_parts(request, patient, {"body": draw}, vary=vary)["body"]
        return render(request, "patients/detail.html", {"patient": patient, "body": body})


class PatientCreateView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = ("patients.add_patient",)

    def get(self, request):
        form = PatientForm(clinics=clinics_for(request.user))
        return render(request, "patients/patient_form.html", {"form": form})

    def post(self, request):
        form = PatientForm(request.POST, clinics=clinics_for(request.user))

        def save(data) -> str:
            fields = {name: value for name, value in data.items() if name != KEY_FIELD}
            patient = patient_create(**fields, created_by=request.user)
            messages.success(request, f"{patient} added.")
            return reverse("patients:detail", args=[patient.pk])

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: render(request, "patients/patient_form.html", {"form": form}),
        )


class CourseCreateView(StaffAccessMixin, SubmitOnceMixin, View):
    permission_required = ("patients.add_infusioncourse",)

    def _form(self, request, patient):
        latest = patient.courses.exclude(status=InfusionCourse.Status.CANCELLED).aggregate(
            latest=Max("number")
        )["latest"]
        course = InfusionCourse(patient=patient, number=(latest or 0) + 1)
        return CourseForm(request.POST or None, instance=course)

    def _render(self, request, patient, form):
        return render(request, "patients/course_form.html", {"form": form, "patient": patient})

    def get(self, request, pk):
        patient = patient_for(request, pk)
        return self._render(request, patient, self._form(request, patient))

    def post(self, request, pk):
        patient = patient_for(request, pk)
        form = self._form(request, patient)

        def save(data) -> str:
            fields = {name: value for name, value in data.items() if name != KEY_FIELD}
            course = course_add(
                patient=patient, number=form.instance.number, recorded_by=request.user, **fields
            )
            messages.success(request, f"{course} added; the schedule is updated.")
            return reverse("patients:detail", args=[patient.pk])

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render(request, patient, form),
        )


def _fresh(record):
    """The record as stored: a service that refused an edit had already set the new values on
    the instance it was given, and the page must show what is saved."""
    record.refresh_from_db()
    return record


class _PatientScreen(StaffAccessMixin, SubmitOnceMixin, View):
    """A form about one patient, rendered with `template`."""

    template = ""

    def _render(self, request, patient, form):
        return render(request, self.template, {"form": form, "patient": patient})


class _CourseScreen(StaffAccessMixin, SubmitOnceMixin, View):
    """A form about one course, rendered with `template` beside its patient."""

    template = ""

    def _render(self, request, course, form):
        context = {"form": form, "course": course, "patient": course.patient}
        return render(request, self.template, context)


class PatientEditView(_PatientScreen):
    """Contact details, named nurse, reminders, tracking start and protocol, with a reason:
    patient_update keeps the old version in the history and re-plans the schedule."""

    permission_required = ("patients.change_patient",)
    template = "patients/patient_edit.html"

    def get(self, request, pk):
        patient = patient_for(request, pk)
        record_access(request, patient, "patient edit form")
        return self._render(request, patient, PatientEditForm(instance=patient))

    def post(self, request, pk):
        patient = patient_for(request, pk)
        form = PatientEditForm(request.POST, instance=patient)

        def save(data) -> str:
            patient_update(
                patient=patient,
                reason=data["reason"],
                changed_by=request.user,
                opened_version=form.version_opened_on,
                **form.changes(),
            )
            messages.success(request, f"{patient} updated; the old version is kept.")
            return reverse("patients:detail", args=[patient.pk])

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render(request, _fresh(patient), form),
        )


class PatientStatusView(_PatientScreen):
    """Withdrawn, deceased, transferred, or back to active monitoring."""

    permission_required = ("patients.change_patient",)
    template = "patients/patient_status.html"

    def get(self, request, pk):
        patient = patient_for(request, pk)
        form = PatientStatusForm(opened_version=patient.version)
        return self._render(request, patient, form)

    def post(self, request, pk):
        patient = patient_for(request, pk)
        form = PatientStatusForm(request.POST)

        def save(data) -> str:
            patient_status_change(
                patient=patient,
                status=data["status"],
                reason=data["reason"],
                changed_by=request.user,
                opened_version=form.version_opened_on,
            )
            messages.success(request, f"{patient}: status is now “{patient.get_status_display()}”.")
            return reverse("patients:detail", args=[patient.pk])

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render(request, _fresh(patient), form),
        )


class CourseEditView(_CourseScreen):
    """Move or correct a course, with a reason; the schedule is re-planned."""

    permission_required = ("patients.change_infusioncourse",)
    template = "patients/course_edit.html"

    def get(self, request, pk):
        course = course_for(request, pk)
        return self._render(request, course, CourseEditForm(instance=course))

    def post(self, request, pk):
        course = course_for(request, pk)
        form = CourseEditForm(request.POST, instance=course)

        def save(data) -> str:
            course_update(
                course=course,
                reason=data["reason"],
                changed_by=request.user,
                opened_version=form.version_opened_on,
                **form.changes(),
            )
            messages.success(request, f"{course} updated; the schedule is re-planned.")
            return reverse("patients:detail", args=[course.patient_id])

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render(request, _fresh(course), form),
        )


class CourseCancelView(_CourseScreen):
    """Cancel a course (kept, with its reason); its checks leave the plan."""

    permission_required = ("patients.change_infusioncourse",)
    template = "patients/course_cancel.html"

    def get(self, request, pk):
        course = course_for(request, pk)
        return self._render(request, course, CourseCancelForm(opened_version=course.version))

    def post(self, request, pk):
        course = course_for(request, pk)
        form = CourseCancelForm(request.POST)

        def save(data) -> str:
            course_cancel(
                course=course,
                reason=data["reason"],
                cancelled_by=request.user,
                opened_version=form.version_opened_on,
            )
            messages.success(request, f"{course} cancelled; the schedule is re-planned.")
            return reverse("patients:detail", args=[course.patient_id])

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render(request, _fresh(course), form),
        )


class CourseGivenView(StaffAccessMixin, SubmitOnceMixin, View):
    """The pre-infusion checklist and "record as given": the course's baseline checks, and the
    override a clinician may record when one is missing."""

    permission_required = ("patients.change_infusioncourse",)
    template = "patients/course_given.html"

    def _form(self, request, course, data=None):
        may_override = request.user.has_perm("patients.override_baseline_checklist")
        return CourseGivenForm(data, may_override=may_override, opened_version=course.version)

    def _render(self, request, course, form):
        checklist = baseline_checklist(course, today=course.patient.clinic.today())
        context = {
            "form": form,
            "course": course,
            "patient": course.patient,
            "checklist": checklist,
        }
        return render(request, self.template, context)

    def get(self, request, pk):
        course = course_for(request, pk)
        return self._render(request, course, self._form(request, course))

    def post(self, request, pk):
        course = course_for(request, pk)
        form = self._form(request, course, request.POST)

        def save(data) -> str:
            course_record_given(
                course=course,
                recorded_by=request.user,
                opened_version=form.version_opened_on,
                baseline_override_reason=data.get("baseline_override_reason", ""),
            )
            messages.success(request, f"{course} recorded as given.")
            return reverse("patients:detail", args=[course.patient_id])

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render(request, _fresh(course), form),
        )


class SchedulePreviewView(StaffAccessMixin, View):
    """What if the next course started on a given day? The plan, shown beside the current one,
    computed on a GET and never stored (monitoring.schedule.preview)."""

    permission_required = ("patients.view_patient",)

    def get(self, request, pk):
        patient = patient_for(request, pk)
        record_access(request, patient, "schedule what-if preview")
        today = patient.clinic.today()
        form = SchedulePreviewForm(request.GET or None)
        context = {"patient": patient, "form": form, "today": today}
        if form.is_valid():
            context["preview"] = schedule_preview_page(
                patient,
                first_day=form.cleaned_data["first_day"],
                days=form.cleaned_data["days"],
                override=form.cleaned_data["override"],
                today=today,
            )
        return render(request, "patients/schedule_preview.html", context)
