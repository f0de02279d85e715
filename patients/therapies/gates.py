"""The gates before a dose (or a therapy's start), with the facts read from the record:
the checklist answered at the chair, the latest lymphocytes, genotype or hepatitis B result.
The decisions are monitoring.domain.gates'; this module reads, refuses and records.

A dose whose gate is unmet is recorded as given only with a clinician's reason (a user with
patients.override_dose_gate: a nurse or the clinic lead), kept on the dose with who gave it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from monitoring.domain import gates, therapies
from monitoring.schedule.services import schedule_reconcile
from patients.models import Patient, TherapyDose
from submissions.versions import version_check

from .facts import GATE_ANALYTES, gate_refusal, latest_results
from .services import dose_next_plan

OVERRIDE_FIELD = "gate_override_reason"


def doses_gates(doses: Iterable[TherapyDose]) -> dict[int, gates.GateDecision]:
    """Each dose's gate as it stands (on its day), for a list of doses in one query. Load each
    dose with its episode (select_related), or this reads one episode per dose."""
    doses = list(doses)
    codes = {code for dose in doses for code in _gate_codes(dose)}
    latest = latest_results(patient_ids={dose.episode.patient_id for dose in doses}, codes=codes)
    return {dose.pk: _decision(dose, dose.day, latest[dose.episode.patient_id]) for dose in doses}


def dose_gate(dose: TherapyDose, *, day: date | None = None) -> gates.GateDecision:
    """One dose's gate on `day` (its own by default), from the results taken by then."""
    day = day or dose.day
    patient_id = dose.episode.patient_id
    latest = latest_results(patient_ids=[patient_id], codes=_gate_codes(dose), on_or_before=day)
    return _decision(dose, day, latest[patient_id])


def _gate_codes(dose: TherapyDose) -> tuple[str, ...]:
    return GATE_ANALYTES.get(therapies.therapy_of(dose.episode.therapy).gate, ())


def _decision(dose: TherapyDose, day: date, latest) -> gates.GateDecision:
    return gates.gate_decision(
        gates.GateFacts(
            therapy=dose.episode.therapy,
            dose_number=dose.number,
            day=day,
            checklist_answers=dose.checklist_answers,
            latest=latest,
        )
    )


def dose_checklist_record(
    *,
    dose: TherapyDose,
    answers: Mapping[str, str],
    answered_by,
    opened_version: int | str | None = None,
) -> TherapyDose:
    """Keep the pre-infusion checklist as answered at the chair (every question yes or no)."""
    problems = gates.checklist_problems(answers)
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        stored = TherapyDose.objects.select_for_update().select_related("episode").get(pk=dose.pk)
        version_check(what="dose", opened=opened_version, current=stored.version)
        if stored.status != TherapyDose.Status.PLANNED:
            raise ValidationError(
                {"__all__": f"This dose is {stored.get_status_display().lower()}."}
            )
        stored.checklist_answers = {code: answers[code] for code in gates.CHECKLIST_CODES}
        stored.checklist_answered_by = answered_by
        stored.checklist_answered_at = timezone.now()
        stored._history_user = answered_by
        stored._change_reason = "Pre-infusion checklist answered."
        stored.save()
    return stored


def dose_record_given(
    *,
    dose: TherapyDose,
    given_on: date,
    recorded_by,
    override_reason: str = "",
    opened_version: int | str | None = None,
) -> TherapyDose:
    """A planned dose was given on `given_on`: refused on "gate_override_reason" while its
    gate is unmet, unless a clinician gives the reason. What the gate said is kept on the dose,
    the next dose is planned (the protocol's interval), and the schedule follows the day."""
    with transaction.atomic():
        stored = TherapyDose.objects.select_related("episode").get(pk=dose.pk)
        Patient.objects.select_for_update(of=("self",)).filter(pk=stored.episode.patient_id).first()
        stored = (
            TherapyDose.objects.select_for_update(of=("self",))
            .select_related("episode__protocol", "episode__patient")
            .get(pk=dose.pk)
        )
        version_check(what="dose", opened=opened_version, current=stored.version)
        if stored.status != TherapyDose.Status.PLANNED:
            raise ValidationError(
                {"given_on": f"This dose is {stored.get_status_display().lower()} already."}
            )
        if given_on < stored.episode.started_on:
            raise ValidationError(
                {
                    "given_on": "A dose cannot be given before the therapy started "
                    f"({stored.episode.started_on:%d %b %Y})."
                }
            )
        if given_on > stored.episode.patient.clinic.today():
            raise ValidationError({"given_on": "A dose is recorded as given once it is given."})
        decision = dose_gate(stored, day=given_on)
        refusal = gate_refusal(decision, reason=override_reason, user=recorded_by, what="dose")
        if refusal:
            raise ValidationError({OVERRIDE_FIELD: refusal})
        stored.status = TherapyDose.Status.GIVEN
        stored.given_on = given_on
        stored.given_recorded_by = recorded_by
        stored.gate_state = decision.summary[:255]
        if not decision.met:
            stored.gate_override_reason = override_reason.strip()
            stored.gate_override_by = recorded_by
        stored._history_user = recorded_by
        stored._change_reason = (
            "Recorded as given."
            if decision.met
            else f"Given although its gate was not met: {override_reason.strip()}"
        )
        stored.full_clean()
        stored.save()
        dose_next_plan(dose=stored, recorded_by=recorded_by)
        schedule_reconcile(patient=stored.episode.patient)
    return stored
