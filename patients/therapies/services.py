"""Writes to therapy episodes and their doses. Each re-plans the patient's schedule in the same
transaction (monitoring.schedule.services.schedule_reconcile), so the checks always follow the
episodes: starting one plans its checks, stopping one cancels its future checks and plans its
after-stopping ones, planning or moving a dose plans its before- and after-dose checks.

Recording a dose as given, through its gate, is patients.therapies.gates' (dose_record_given).
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max

from monitoring.domain import therapies
from monitoring.models import MonitoringProtocol
from monitoring.schedule.services import schedule_reconcile
from patients.models import Patient, StopReason, TherapyDose, TherapyEpisode
from submissions.versions import version_check

from .facts import episode_start_refusal, start_gate_keep

ALREADY_RUNNING = "{therapy} is already recorded as running for this patient since {start}."


def episode_start(
    *,
    patient: Patient,
    therapy: str,
    started_on: date,
    protocol: MonitoringProtocol | None = None,
    first_dose_on: date | None = None,
    gate_override_reason: str = "",
    recorded_by=None,
) -> TherapyEpisode:
    """Record that the patient starts (or started) a therapy other than alemtuzumab, whose
    episode opens with the first course. `protocol` defaults to the therapy's default one.
    A therapy given in the clinic gets its first dose planned (on `first_dose_on`, or the
    start). The same therapy already running is refused on "therapy". A therapy gated at its
    start (siponimod without a CYP2C9 genotype, ofatumumab with HBsAg positive) is refused on
    "gate_override_reason" unless a clinician gives the reason."""
    info = therapies.therapy_of(therapy)
    if therapy == therapies.ALEMTUZUMAB:
        raise ValidationError(
            {"therapy": "Alemtuzumab's episode opens with its first infusion course: add it."}
        )
    with transaction.atomic():
        locked = Patient.objects.select_for_update(of=("self",)).get(pk=patient.pk)
        running = locked.episodes.filter(therapy=therapy, stopped_on=None).first()
        if running is not None:
            raise ValidationError(
                {
                    "therapy": ALREADY_RUNNING.format(
                        therapy=info.name, start=f"{running.started_on:%d %b %Y}"
                    )
                }
            )
        if protocol is None:
            protocol = MonitoringProtocol.objects.default_for(therapy)
        if protocol is None:
            raise ValidationError(
                {"protocol": f"The clinic has no protocol for {info.name}: a lead adds one."}
            )
        decision, refusal = episode_start_refusal(
            patient=locked,
            therapy=therapy,
            started_on=started_on,
            override_reason=gate_override_reason,
            user=recorded_by,
        )
        if refusal:
            raise ValidationError({"gate_override_reason": refusal})
        episode = TherapyEpisode(
            patient=locked, therapy=therapy, protocol=protocol, started_on=started_on
        )
        episode.full_clean()
        episode._history_user = recorded_by
        try:
            with transaction.atomic():
                episode.save()
        except IntegrityError as error:
            raise ValidationError(
                {"therapy": f"{info.name} is already recorded as running for this patient."}
            ) from error
        start_gate_keep(
            episode=episode,
            decision=decision,
            override_reason=gate_override_reason,
            user=recorded_by,
        )
        # A new therapy is active monitoring again for a patient whose alemtuzumab monitoring
        # had ended (as a new course is), and the history says why.
        reopened = locked.status == Patient.Status.MONITORING_COMPLETE
        if reopened:
            locked.status = patient.status = Patient.Status.ACTIVE
            locked._history_user = recorded_by
            locked._change_reason = f"{info.name} started: monitoring starts again."
            locked.other_therapies = True
            locked.save(update_fields=["other_therapies", "status", "version", "updated_at"])
            patient.version = locked.version
        elif not locked.other_therapies:
            # Derived bookkeeping, not an edit of the record: its version stays.
            locked.other_therapies = True
            locked.save(update_fields=["other_therapies"])
        patient.other_therapies = True
        if info.doses_in_clinic:
            _dose_add(episode, first_dose_on or started_on, recorded_by)
        schedule_reconcile(patient=locked)
    return episode


def episode_stop(
    *,
    episode: TherapyEpisode,
    stopped_on: date,
    reason: str,
    note: str = "",
    stopped_by=None,
    opened_version: int | str | None = None,
) -> TherapyEpisode:
    """Record that a therapy stopped: its future checks are cancelled, its planned doses too,
    and its after-stopping checks are planned. Alemtuzumab does not stop: its follow-up runs
    to its end whatever follows."""
    if episode.therapy == therapies.ALEMTUZUMAB:
        raise ValidationError(
            {
                "stopped_on": "Alemtuzumab's follow-up runs to its end whatever therapy follows; "
                "change the patient's status to end it."
            }
        )
    with transaction.atomic():
        Patient.objects.select_for_update(of=("self",)).filter(pk=episode.patient_id).first()
        stored = TherapyEpisode.objects.select_for_update().get(pk=episode.pk)
        version_check(what="therapy", opened=opened_version, current=stored.version)
        if stored.stopped_on is not None:
            raise ValidationError(
                {"stopped_on": f"This therapy was already stopped on {stored.stopped_on:%d %b %Y}."}
            )
        stored.stopped_on = stopped_on
        stored.stop_reason = reason
        stored.stop_note = note
        stored.stopped_by = stopped_by
        stored.full_clean()
        stored._history_user = stopped_by
        stored._change_reason = f"Stopped: {StopReason(reason).label}. {note}".strip()
        stored.save()
        planned = list(stored.doses.filter(status=TherapyDose.Status.PLANNED))
        for dose in planned:
            dose.status = TherapyDose.Status.CANCELLED
            dose.cancelled_reason = f"{stored.therapy_info.name} stopped on {stopped_on:%d %b %Y}."
            dose._history_user = stopped_by
            dose._change_reason = dose.cancelled_reason
            dose.save()
        schedule_reconcile(patient=stored.patient)
    episode.refresh_from_db()
    return episode


def dose_plan(*, episode: TherapyEpisode, planned_on: date, recorded_by=None) -> TherapyDose:
    """Plan the next dose of a therapy given in the clinic, numbered after the last one."""
    if not episode.therapy_info.doses_in_clinic:
        raise ValidationError(
            {"planned_on": f"{episode.therapy_info.name} is not given in the clinic."}
        )
    with transaction.atomic():
        Patient.objects.select_for_update(of=("self",)).filter(pk=episode.patient_id).first()
        stored = TherapyEpisode.objects.get(pk=episode.pk)
        if stored.stopped_on is not None:
            raise ValidationError(
                {"planned_on": f"This therapy was stopped on {stored.stopped_on:%d %b %Y}."}
            )
        dose = _dose_add(stored, planned_on, recorded_by)
        schedule_reconcile(patient=stored.patient)
    return dose


def dose_next_plan(*, dose: TherapyDose, recorded_by=None) -> TherapyDose | None:
    """After a dose is given: the next one planned one dose interval on (the protocol's), unless
    one is planned already, the therapy has had all its doses, or it has no interval. Call it
    inside the transaction that records the dose; it does not re-plan (the caller does)."""
    episode = dose.episode
    interval = episode.protocol.dose_interval_days if episode.protocol_id else None
    if not interval or episode.stopped_on is not None:
        return None
    live = episode.doses.exclude(status=TherapyDose.Status.CANCELLED)
    if live.filter(status=TherapyDose.Status.PLANNED).exists():
        return None
    limit = episode.therapy_info.max_doses
    if limit and live.count() >= limit:
        return None
    return _dose_add(episode, dose.day + timedelta(days=interval), recorded_by)


def dose_cancel(
    *,
    dose: TherapyDose,
    reason: str,
    cancelled_by=None,
    opened_version: int | str | None = None,
) -> TherapyDose:
    """A planned dose will not be given: cancelled with the reason, its checks with it."""
    if not reason.strip():
        raise ValidationError({"cancelled_reason": "Say why the dose is cancelled."})
    with transaction.atomic():
        Patient.objects.select_for_update(of=("self",)).filter(pk=dose.episode.patient_id).first()
        stored = TherapyDose.objects.select_for_update().get(pk=dose.pk)
        version_check(what="dose", opened=opened_version, current=stored.version)
        if stored.status != TherapyDose.Status.PLANNED:
            raise ValidationError(
                {"cancelled_reason": f"This dose is {stored.get_status_display().lower()}."}
            )
        stored.status = TherapyDose.Status.CANCELLED
        stored.cancelled_reason = reason.strip()
        stored._history_user = cancelled_by
        stored._change_reason = f"Cancelled: {reason.strip()}"
        stored.save()
        schedule_reconcile(patient=stored.episode.patient)
    return stored


def _dose_add(episode: TherapyEpisode, planned_on: date, recorded_by) -> TherapyDose:
    if planned_on < episode.started_on:
        raise ValidationError(
            {"planned_on": f"A dose cannot come before the start ({episode.started_on:%d %b %Y})."}
        )
    live = episode.doses.exclude(status=TherapyDose.Status.CANCELLED)
    limit = episode.therapy_info.max_doses
    count = live.count()
    if limit and count >= limit:
        raise ValidationError(
            {
                "planned_on": f"{episode.therapy_info.name} has {limit} "
                f"{episode.therapy_info.dose_name}s, and they are recorded."
            }
        )
    number = (live.aggregate(latest=Max("number"))["latest"] or 0) + 1
    dose = TherapyDose(episode=episode, number=number, planned_on=planned_on)
    dose._history_user = recorded_by
    try:
        with transaction.atomic():
            dose.save()
    except IntegrityError as error:
        raise ValidationError(
            {"planned_on": f"Dose {number} was recorded a moment ago: reload the page."}
        ) from error
    return dose
