"""Staff screens for therapy episodes and doses: start and stop a therapy, plan and cancel a
dose, natalizumab's pre-infusion checklist at the chair, and a dose recorded as given through
its gate. Each view looks its record up within the user's clinics (another clinic's answers
404), shows a form and posts it once through a service."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from audit.access import record_access
from monitoring.domain import therapies
from monitoring.models import MonitoringProtocol
from patients.access import StaffAccessMixin, patient_for
from patients.models import TherapyDose
from submissions.views import SubmitOnceMixin

from .forms import (
    DoseCancelForm,
    DoseChecklistForm,
    DoseGivenForm,
    DosePlanForm,
    TherapyStartForm,
    TherapyStopForm,
)
from .gates import dose_checklist_record, dose_gate, dose_record_given
from .selectors import dose_for, episode_for
from .services import dose_cancel, dose_plan, episode_start, episode_stop


def _patient_url(patient_id: int) -> str:
    return reverse("patients:detail", args=[patient_id]) + "#therapies-h"


def _fresh(record):
    """The record as stored, for the page shown again after a refusal."""
    record.refresh_from_db()
    return record


class _Screen(StaffAccessMixin, SubmitOnceMixin, View):
    template = ""

    def _render(self, request, form, **context):
        return render(request, self.template, {"form": form, **context})


class TherapyStartView(_Screen):
    permission_required = ("patients.add_therapyepisode",)
    template = "patients/therapies/start.html"

    def get(self, request, pk):
        patient = patient_for(request, pk)
        initial = {"started_on": patient.clinic.today()}
        therapy = request.GET.get("therapy", "")
        if therapy in therapies.THERAPIES and therapy != therapies.ALEMTUZUMAB:
            initial["therapy"] = therapy
            initial["protocol"] = MonitoringProtocol.objects.default_for(therapy)
        form = TherapyStartForm(initial=initial)
        return self._render(request, form, patient=patient)

    def post(self, request, pk):
        patient = patient_for(request, pk)
        form = TherapyStartForm(request.POST)

        def save(data) -> str:
            episode = episode_start(
                patient=patient,
                therapy=data["therapy"],
                started_on=data["started_on"],
                protocol=data["protocol"],
                first_dose_on=data["first_dose_on"],
                gate_override_reason=data["gate_override_reason"],
                recorded_by=request.user,
            )
            messages.success(request, f"{episode} recorded; the schedule is updated.")
            return _patient_url(patient.pk)

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render(request, form, patient=patient),
        )


class TherapyStopView(_Screen):
    permission_required = ("patients.change_therapyepisode",)
    template = "patients/therapies/stop.html"

    def get(self, request, pk):
        episode = episode_for(request, pk)
        form = TherapyStopForm(
            opened_version=episode.version,
            initial={"stopped_on": episode.patient.clinic.today()},
        )
        return self._render(request, form, episode=episode, patient=episode.patient)

    def post(self, request, pk):
        episode = episode_for(request, pk)
        form = TherapyStopForm(request.POST)

        def save(data) -> str:
            episode_stop(
                episode=episode,
                stopped_on=data["stopped_on"],
                reason=data["stop_reason"],
                note=data["stop_note"],
                stopped_by=request.user,
                opened_version=form.version_opened_on,
            )
            messages.success(
                request,
                f"{episode.therapy_info.name} stopped: its future checks are cancelled and its "
                "after-stopping checks planned.",
            )
            return _patient_url(episode.patient_id)

        def invalid(form):
            fresh = _fresh(episode)
            return self._render(request, form, episode=fresh, patient=fresh.patient)

        return self.post_once(request, form, save=save, invalid=invalid)


class DosePlanView(_Screen):
    permission_required = ("patients.add_therapydose",)
    template = "patients/therapies/dose_plan.html"

    def get(self, request, pk):
        episode = episode_for(request, pk)
        form = DosePlanForm(initial={"planned_on": episode.patient.clinic.today()})
        return self._render(request, form, episode=episode, patient=episode.patient)

    def post(self, request, pk):
        episode = episode_for(request, pk)
        form = DosePlanForm(request.POST)

        def save(data) -> str:
            dose = dose_plan(
                episode=episode, planned_on=data["planned_on"], recorded_by=request.user
            )
            messages.success(request, f"{dose} planned; its checks are in the schedule.")
            return _patient_url(episode.patient_id)

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render(
                request, form, episode=episode, patient=episode.patient
            ),
        )


class _DoseScreen(_Screen):
    def _dose_context(self, dose) -> dict:
        return {"dose": dose, "episode": dose.episode, "patient": dose.episode.patient}


class DoseCancelView(_DoseScreen):
    permission_required = ("patients.change_therapydose",)
    template = "patients/therapies/dose_cancel.html"

    def get(self, request, pk):
        dose = dose_for(request, pk)
        form = DoseCancelForm(opened_version=dose.version)
        return self._render(request, form, **self._dose_context(dose))

    def post(self, request, pk):
        dose = dose_for(request, pk)
        form = DoseCancelForm(request.POST)

        def save(data) -> str:
            dose_cancel(
                dose=dose,
                reason=data["cancelled_reason"],
                cancelled_by=request.user,
                opened_version=form.version_opened_on,
            )
            messages.success(request, f"{dose} cancelled; its checks leave the plan.")
            return _patient_url(dose.episode.patient_id)

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render(request, form, **self._dose_context(_fresh(dose))),
        )


class DoseChecklistView(_DoseScreen):
    """Asked at the chair before every natalizumab infusion; then on to recording it given."""

    permission_required = ("patients.change_therapydose",)
    template = "patients/therapies/dose_checklist.html"

    def get(self, request, pk):
        dose = dose_for(request, pk)
        record_access(request, dose.episode.patient, "pre-infusion checklist", record=dose)
        form = DoseChecklistForm(opened_version=dose.version, initial=dose.checklist_answers)
        return self._render(request, form, **self._dose_context(dose))

    def post(self, request, pk):
        dose = dose_for(request, pk)
        form = DoseChecklistForm(request.POST)

        def save(data) -> str:
            dose_checklist_record(
                dose=dose,
                answers=form.answers(),
                answered_by=request.user,
                opened_version=form.version_opened_on,
            )
            messages.success(request, "Pre-infusion checklist saved.")
            return reverse("patients:dose_given", args=[dose.pk])

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render(request, form, **self._dose_context(_fresh(dose))),
        )


class DoseGivenView(_DoseScreen):
    """A planned dose recorded as given: its gate's summary above the form, and a refusal
    (gate unmet without a clinician's reason) beside the reason's field."""

    permission_required = ("patients.change_therapydose",)
    template = "patients/therapies/dose_given.html"

    def _render_dose(self, request, dose, form):
        context = self._dose_context(dose)
        if dose.status == TherapyDose.Status.PLANNED:
            context["gate"] = dose_gate(dose, day=dose.episode.patient.clinic.today())
        context["checklist_gate"] = dose.episode.therapy_info.gate == therapies.GATE_CHECKLIST
        return self._render(request, form, **context)

    def get(self, request, pk):
        dose = dose_for(request, pk)
        record_access(request, dose.episode.patient, "dose given form", record=dose)
        form = DoseGivenForm(
            opened_version=dose.version,
            initial={"given_on": dose.episode.patient.clinic.today()},
        )
        return self._render_dose(request, dose, form)

    def post(self, request, pk):
        dose = dose_for(request, pk)
        form = DoseGivenForm(request.POST)

        def save(data) -> str:
            given = dose_record_given(
                dose=dose,
                given_on=data["given_on"],
                recorded_by=request.user,
                override_reason=data["gate_override_reason"],
                opened_version=form.version_opened_on,
            )
            messages.success(request, f"{given} recorded as given; the schedule is updated.")
            return _patient_url(dose.episode.patient_id)

        return self.post_once(
            request,
            form,
            save=save,
            invalid=lambda form: self._render_dose(request, _fresh(dose), form),
        )
