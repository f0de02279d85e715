"""The worklist's doses due: the planned infusions and cladribine treatment years of the next
seven days (and any still planned from before, not yet recorded), with each one's gate, so the
nurse sees each morning what is given this week and what is still missing before it can be.

Two queries however many doses: the doses (with their episode and patient), and the latest
results the gates read (lymphocytes, hepatitis B) for all their patients at once, skipped when
no listed dose's gate reads a result (natalizumab's checklist is on the dose). None at all when
the user's clinics have no dose planned (the clinics' query says so).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Q

from monitoring.alerts.rules import any_of, clinic_ids_by
from monitoring.domain import gates, therapies
from patients.models import Patient, TherapyDose
from patients.therapies.gates import doses_gates

DUE_DAYS = 7
# A morning's list, not a register: the patient page has the rest.
DOSES_LIMIT = 25
# What a line and its gate read (patients.therapies.gates): the three rows' other columns
# (timestamps, reasons, contact details) were most of the decoding. A field left out here and
# read by the template would cost a query per dose: the doses' query-count test says so.
DOSE_COLUMNS = (
    "episode_id",
    "number",
    "planned_on",
    "given_on",
    "status",
    "checklist_answers",
    "episode__therapy",
    "episode__patient_id",
    "episode__patient__clinic_id",
    "episode__patient__given_name",
    "episode__patient__family_name",
    "episode__patient__hospital_number",
)


@dataclass
class DueDose:
    dose: TherapyDose
    gate: gates.GateDecision
    today: date
    # Set by the view, built once per page (monitoring.worklist.views).
    patient_url: str = ""
    action_url: str = ""

    @property
    def patient(self) -> Patient:
        return self.dose.episode.patient

    @property
    def therapy(self) -> therapies.Therapy:
        return therapies.therapy_of(self.dose.episode.therapy)

    @property
    def late(self) -> bool:
        return self.dose.planned_on < self.today

    @property
    def needs_checklist(self) -> bool:
        """Natalizumab's checklist not yet answered in full: the chair's first step."""
        return self.therapy.gate == therapies.GATE_CHECKLIST and not self.gate.met


@dataclass
class DosesDue:
    doses: list[DueDose]
    more: bool

    def __bool__(self) -> bool:
        # No dose within the week (a clinic on alemtuzumab alone): no panel at all.
        return bool(self.doses)

    @property
    def total_label(self) -> str:
        return f"{len(self.doses)}+" if self.more else str(len(self.doses))


def doses_due(clinics, patient_scope: Q) -> DosesDue:
    """The planned doses of the listed patients (the worklist's filters: the user's clinics,
    or the one chosen, "mine", the search) up to a week from each clinic's today, soonest
    first. No query when none of the clinics has a dose planned (ClinicView)."""
    clinics_with = {pk: clinic for pk, clinic in clinics.items() if clinic.has_planned_doses}
    if not clinics_with:
        return DosesDue(doses=[], more=False)
    by_day = clinic_ids_by(clinics_with, lambda clinic: clinic.today)
    within = any_of(
        Q(episode__patient__clinic_id__in=ids, planned_on__lte=today + timedelta(days=DUE_DAYS))
        for today, ids in by_day.items()
    )
    patients = Patient.objects.filter(patient_scope, status__in=Patient.PLANNED_STATUSES)
    rows = list(
        TherapyDose.objects.filter(
            within,
            status=TherapyDose.Status.PLANNED,
            episode__stopped_on__isnull=True,
            episode__patient__in=patients.values("pk"),
        )
        .select_related("episode__patient")
        .only(*DOSE_COLUMNS)
        .order_by("planned_on", "episode__patient__family_name", "pk")[: DOSES_LIMIT + 1]
    )
    shown = rows[:DOSES_LIMIT]
    decisions = doses_gates(shown) if shown else {}
    return DosesDue(
        doses=[
            DueDose(dose, decisions[dose.pk], clinics[dose.episode.patient.clinic_id].today)
            for dose in shown
        ],
        more=len(rows) > DOSES_LIMIT,
    )
