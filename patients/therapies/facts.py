"""What the gates read of a patient's record, and the refusal they give: shared by the dose
gates (patients.therapies.gates) and a therapy's start (patients.therapies.services)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from monitoring.domain import gates, therapies
from monitoring.models import LabResult
from patients.models import Patient, TherapyEpisode

OVERRIDE_PERMISSION = "patients.override_dose_gate"
# What each gate reads of the record.
GATE_ANALYTES = {
    therapies.GATE_LYMPHOCYTES_YEAR_TWO: (gates.LYMPHOCYTES,),
    therapies.GATE_CYP2C9: (gates.CYP2C9_GENOTYPE,),
    therapies.GATE_HEPATITIS_B: (gates.HBSAG,),
}


def latest_results(
    *, patient_ids: Iterable[int], codes: Iterable[str], on_or_before: date | None = None
) -> dict[int, dict[str, gates.LatestResult]]:
    """Per patient and analyte code, the latest current result (by sample date), in one query.
    A coded result (a genotype, positive or negative) carries its grade's label."""
    codes = list(codes)
    patient_ids = list(patient_ids)
    found: dict[int, dict[str, gates.LatestResult]] = {pk: {} for pk in patient_ids}
    if not codes or not patient_ids:
        return found
    results = (
        LabResult.objects.current()
        .filter(patient__in=patient_ids, analyte__code__in=codes)
        .select_related("analyte")
        .order_by("patient_id", "analyte_id", "-sample_collected_on", "-pk")
    )
    if on_or_before is not None:
        results = results.filter(sample_collected_on__lte=on_or_before)
    for result in results:
        mine = found[result.patient_id]
        code = result.analyte.code
        if code in mine:
            continue
        if result.analyte.is_ordinal:
            label = result.analyte.grade_label(result.canonical_value)
            mine[code] = gates.LatestResult(sample_on=result.sample_collected_on, label=label)
        else:
            mine[code] = gates.LatestResult(
                sample_on=result.sample_collected_on, value=result.canonical_value
            )
    return found


def start_gate(*, patient: Patient, therapy: str, started_on: date) -> gates.GateDecision:
    """The gate of a therapy taken at home (siponimod's genotype, ofatumumab's hepatitis B
    screen), which applies to its start; a therapy given in the clinic is gated per dose."""
    info = therapies.therapy_of(therapy)
    if info.doses_in_clinic or not info.gate:
        return gates.NO_GATE
    codes = GATE_ANALYTES.get(info.gate, ())
    latest = latest_results(patient_ids=[patient.pk], codes=codes, on_or_before=started_on)
    return gates.gate_decision(
        gates.GateFacts(therapy=therapy, dose_number=1, day=started_on, latest=latest[patient.pk])
    )


def gate_refusal(decision: gates.GateDecision, *, reason: str, user, what: str) -> str:
    """Why the gate stops this, or "" when it does not: met, or overridden by a clinician."""
    if decision.met:
        return ""
    if not reason.strip():
        return (
            f"{decision.summary} The {what} can be recorded only once this is resolved, or with "
            "a clinician's reason for going ahead."
        )
    if user is None or not user.has_perm(OVERRIDE_PERMISSION):
        return (
            f"{decision.summary} Only a nurse or the clinic lead may record a reason to go ahead."
        )
    return ""


def episode_start_refusal(
    *, patient: Patient, therapy: str, started_on: date, override_reason: str, user
) -> tuple[gates.GateDecision, str]:
    decision = start_gate(patient=patient, therapy=therapy, started_on=started_on)
    return decision, gate_refusal(decision, reason=override_reason, user=user, what="start")


def start_gate_keep(
    *, episode: TherapyEpisode, decision: gates.GateDecision, override_reason: str, user
) -> None:
    """Keep on the episode what its start gate said, and who went ahead although it was unmet."""
    if not decision.applies:
        return
    episode.start_gate_state = decision.summary[:255]
    if not decision.met:
        episode.start_override_reason = override_reason.strip()
        episode.start_override_by = user
    episode.save(update_fields=["start_gate_state", "start_override_reason", "start_override_by"])
