"""Reads for the therapy screens: a patient's episodes and doses with each planned dose's gate,
and the episodes and doses a member of staff may reach (another clinic's answer 404, as a
patient does, through patients.access)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch

from monitoring.domain import gates, therapies
from patients.access import in_scope_or_404, patients_for
from patients.models import InfusionCourse, Patient, TherapyDose, TherapyEpisode

from .gates import doses_gates

# The given or cancelled doses shown in full before the planned ones; older ones are folded.
RECENT_DOSES = 3


@dataclass
class DoseRow:
    dose: TherapyDose
    # Planned doses only: what their gate says as things stand.
    gate: gates.GateDecision | None = None

    @property
    def checklist(self) -> bool:
        """The dose is gated by natalizumab's pre-infusion checklist, asked at the chair."""
        return therapies.therapy_of(self.dose.episode.therapy).gate == therapies.GATE_CHECKLIST


@dataclass
class EpisodeRow:
    therapy: str
    label: str
    episode: TherapyEpisode | None
    # Alemtuzumab: its doses are the infusion courses, shown in their own section.
    courses: bool = False
    started_on: object = None
    doses: list[DoseRow] = field(default_factory=list)
    # Years of infusions are dozens of rows: the older ones are folded away (RECENT_DOSES).
    earlier: list[DoseRow] = field(default_factory=list)

    @property
    def doses_in_clinic(self) -> bool:
        return therapies.therapy_of(self.therapy).doses_in_clinic and not self.courses


def patient_therapies(patient: Patient, courses: list[InfusionCourse]) -> list[EpisodeRow]:
    """The patient's therapies, alemtuzumab's from the courses already read for the page.

    A patient who has only ever had alemtuzumab (Patient.other_therapies false, the usual case)
    costs no query at all. Otherwise two: the episodes with their protocols, and their doses;
    a third reads the latest gate results when a planned dose's gate needs one (cladribine's
    lymphocytes, ocrelizumab's hepatitis B), for all the doses at once."""
    live_courses = [c for c in courses if c.status != InfusionCourse.Status.CANCELLED]
    if not patient.other_therapies:
        if not live_courses:
            return []
        return [_alemtuzumab_row(None, live_courses)]
    doses = TherapyDose.objects.order_by("number", "pk")
    episodes = list(
        patient.episodes.select_related("protocol")
        .prefetch_related(Prefetch("doses", queryset=doses))
        .order_by("-started_on", "-pk")
    )
    planned = [
        dose
        for episode in episodes
        for dose in episode.doses.all()
        if dose.status == TherapyDose.Status.PLANNED
    ]
    for dose in planned:
        dose.episode.patient = patient
    decisions = doses_gates(planned) if planned else {}
    rows = []
    for episode in episodes:
        if episode.therapy == therapies.ALEMTUZUMAB:
            if live_courses:
                rows.append(_alemtuzumab_row(episode, live_courses))
            continue
        dose_rows = [DoseRow(dose, decisions.get(dose.pk)) for dose in episode.doses.all()]
        done = [row for row in dose_rows if row.dose.status != TherapyDose.Status.PLANNED]
        folded = done[:-RECENT_DOSES] if len(done) > RECENT_DOSES else []
        folded_ids = {id(row) for row in folded}
        rows.append(
            EpisodeRow(
                therapy=episode.therapy,
                label=episode.therapy_info.label,
                episode=episode,
                started_on=episode.started_on,
                doses=[row for row in dose_rows if id(row) not in folded_ids],
                earlier=folded,
            )
        )
    return rows


def _alemtuzumab_row(episode, courses) -> EpisodeRow:
    info = therapies.therapy_of(therapies.ALEMTUZUMAB)
    first = min(course.first_infusion_date for course in courses)
    return EpisodeRow(
        therapy=therapies.ALEMTUZUMAB,
        label=info.label,
        episode=episode,
        courses=True,
        started_on=episode.started_on if episode is not None else first,
    )


def episode_for(request, pk: int) -> TherapyEpisode:
    """An episode of one of the user's patients, or 404 as for the patient."""
    episodes = TherapyEpisode.objects.filter(patient__in=patients_for(request.user))
    return in_scope_or_404(request, episodes.select_related("patient__clinic", "protocol"), pk=pk)


def dose_for(request, pk: int) -> TherapyDose:
    """A dose of one of the user's patients, or 404 as for the patient."""
    doses = TherapyDose.objects.filter(episode__patient__in=patients_for(request.user))
    return in_scope_or_404(
        request,
        doses.select_related("episode__patient__clinic", "episode__protocol"),
        pk=pk,
    )
