"""Staff screens for patients: the list, the patient page, and the add forms. Views stay thin:
forms validate, services write, selectors read, and patients.access decides who sees what."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Max
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from audit.access import record_access
from submissions.forms import KEY_FIELD
from submissions.views import SubmitOnceMixin

from .access import StaffAccessMixin, clinics_for, patient_for, patients_for
from .forms import CourseForm, PatientForm
from .models import InfusionCourse
from .selectors import patient_list_page, patient_page
from .services import course_add, patient_create

PAGE_SIZE = 50


def _today(user):
    clinic = clinics_for(user).first()
    return clinic.today() if clinic else None


class PatientListView(StaffAccessMixin, View):
    permission_required = ("patients.view_patient",)

    def get(self, request):
        query = request.GET.get("q", "").strip()[:100]
        page = patient_list_page(
            patients_for(request.user),
            query=query,
            today=_today(request.user),
            page_number=request.GET.get("page"),
            per_page=PAGE_SIZE,
        )
        return render(request, "patients/list.html", {"page": page, "query": query})


class PatientDetailView(StaffAccessMixin, View):
    permission_required = ("patients.view_patient",)

    def get(self, request, pk):
        patient = patient_for(request, pk)
        record_access(request, patient, "patient page")
        today = patient.clinic.today()
        page = patient_page(
            patient,
            today=today,
            results_page=request.GET.get("results"),
            schedule=request.GET.get("schedule"),
        )
        context = {"page": page, "today": today}
        return render(request, "patients/detail.html", context)


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
