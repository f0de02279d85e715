"""A clinic whose every figure was worked out by hand, for the figures, the overview, the
exports and monitoring_report to be checked against (reports.figures.definitions says what
each outcome means).

Today is 15 June 2026 in the clinic. Three patients have planned checks stored directly (no
courses, so no plan moves them): Pia (nurse Nora), Piet (nurse Olu), Pam (no named nurse).

| patient | test | due | overdue after | what happened | outcome |
|---|---|---|---|---|---|
| Pia | blood count | 10 Jun 2024 | 17 Jun 2024 | on time | outside the 24 months |
| Pia | blood count | 3 Jul 2024 | 10 Jul 2024 | nothing | missed (Jul 2024) |
| Pia | blood count | 10 May 2026 | 17 May 2026 | done 12 May | on time |
| Pia | thyroid | 10 May 2026 | 24 May 2026 | done 1 Jun | late |
| Pia | blood count | 25 May 2026 | 1 Jun 2026 | cancelled | left out |
| Pia | blood count | 10 Jun 2026 | 17 Jun 2026 | done 11 Jun | open (window not closed) |
| Piet | blood count | 10 May 2026 | 17 May 2026 | nothing | missed |
| Piet | thyroid | 20 May 2026 | 3 Jun 2026 | waived | waived |
| Piet | blood count | 15 May 2026 | 22 May 2026 | urgent check, nothing | left out |
| Piet | blood count | 5 Jun 2026 | 12 Jun 2026 | nothing | missed |
| Pam | blood count | 1 May 2026 | 8 May 2026 | before tracking | left out |
| Pam | blood count | 20 May 2026 | 27 May 2026 | done 27 May (last day) | on time |
| Pam | blood count | 14 Jun 2026 | 15 Jun 2026 | nothing (last day today) | open |
| Pam | thyroid | 25 Jun 2026 | 9 Jul 2026 | nothing, window opens 20 Jun | open |

A patient of another clinic has a missed check that must count nowhere here. Six more patients
are there for the stages: one with a course given and one planned, one with a course given
only, and one each complete, withdrawn, transferred and deceased.

For the figures by therapy, `ocrelizumab_beside(known)` adds Oscar (nurse Nora), in follow-up
after alemtuzumab, who started ocrelizumab on 1 March 2026; known_clinic() alone stays as above.

| Oscar | therapy | test | due | overdue after | what happened | outcome |
|---|---|---|---|---|---|---|
| | ocrelizumab | hepatitis B before start | 1 Mar 2026 | 1 Mar 2026 | done 5 Mar | late |
| | alemtuzumab | blood count | 10 May 2026 | 17 May 2026 | done 12 May | on time |
| | ocrelizumab | blood count | 10 May 2026 | 17 May 2026 | same draw (shared visit) | on time |
| | alemtuzumab | thyroid | 20 May 2026 | 3 Jun 2026 | nothing | missed |

The shared draw counts once in the tables by test, month and nurse (under alemtuzumab's check)
and once for each therapy in the table by therapy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.utils import timezone

from accounts.roles import Role
from monitoring.domain import therapies
from monitoring.models import LabReport, MonitoringProtocol, Panel, ScheduledCheck
from patients.models import InfusionCourse, Patient, TherapyEpisode
from tests.auth import staff_of
from tests.builders import lead_of
from tests.factories import ClinicFactory, CourseFactory, PatientFactory, UserFactory

TODAY = date(2026, 6, 15)
NOW = datetime(2026, 6, 15, 11, 0, tzinfo=UTC)

BLOOD = Panel.BLOOD_COUNT.value
THYROID = Panel.THYROID.value

# Expected figures, by hand from the table above: (on time, late, missed, waived, open).
EXPECTED_CELLS = {
    (BLOOD, date(2024, 7, 1)): (0, 0, 1, 0, 0),
    (BLOOD, date(2026, 5, 1)): (2, 0, 1, 0, 0),
    (THYROID, date(2026, 5, 1)): (0, 1, 0, 1, 0),
    (BLOOD, date(2026, 6, 1)): (0, 0, 1, 0, 2),
    (THYROID, date(2026, 6, 1)): (0, 0, 0, 0, 1),
}
EXPECTED_BY_PANEL = {BLOOD: (2, 0, 3, 0, 2), THYROID: (0, 1, 0, 1, 1)}
EXPECTED_OVERALL = (2, 1, 3, 1, 3)
EXPECTED_ADHERENCE = {BLOOD: "40%", THYROID: "0%", "overall": "33%"}  # 2/5, 0/1, 2/6
EXPECTED_MAY_2026 = (2, 1, 1, 1, 0)  # 2 of 4 counted: 50%
EXPECTED_NURSES = {  # over all tests and months
    "Nora Nightingale": (1, 1, 1, 0, 1),  # 1/3: 33%
    "Olu Okafor": (0, 0, 2, 1, 0),  # 0/2: 0%
    "No named nurse (the clinic's nurse group)": (1, 0, 0, 0, 2),  # 1/1: 100%
}
EXPECTED_STAGES = {
    "before_first_course": 3,
    "in_treatment": 1,
    "in_follow_up": 1,
    "on_other_therapy": 0,  # Oscar (ocrelizumab_beside) is the one, when he is added
    "monitoring_complete": 1,
    "withdrawn": 1,
    "transferred": 1,
    "deceased": 1,
}
# With Oscar (ocrelizumab_beside), by therapy over all months and in May 2026, and the whole
# clinic over all months (the shared draw once: 2 + 1 on time, 1 + 1 late, 3 + 1 missed).
EXPECTED_BY_THERAPY = {
    "alemtuzumab": (3, 1, 4, 1, 3),  # EXPECTED_OVERALL and Oscar's on time and missed: 3/8
    "ocrelizumab": (1, 1, 0, 0, 0),  # the shared draw on time, hepatitis B late: 1/2
}
EXPECTED_BY_THERAPY_MAY_2026 = {
    "alemtuzumab": (3, 1, 2, 1, 0),  # EXPECTED_MAY_2026 and Oscar's two: 3/6
    "ocrelizumab": (1, 0, 0, 0, 0),
}
EXPECTED_OVERALL_WITH_OSCAR = (3, 2, 4, 1, 3)
EXPECTED_ADHERENCE_BY_THERAPY = {"alemtuzumab": "38%", "ocrelizumab": "50%"}
# June 2026's visits: Pia 10 Jun done; Piet 5 Jun overdue; Pam 14 Jun due; Pam 25 Jun to come.
EXPECTED_VISITS = {"done": 1, "overdue": 1, "due": 1, "upcoming": 1}


@dataclass
class KnownClinic:
    clinic: object
    lead: object
    nora: object
    olu: object
    pia: Patient
    piet: Patient
    pam: Patient


def known_clinic() -> KnownClinic:
    clinic = ClinicFactory(code="known", name="Known Figures Clinic", time_zone="Europe/London")
    lead = lead_of(clinic, "lead_known")
    nora = _nurse(clinic, "nora", "Nora", "Nightingale")
    olu = _nurse(clinic, "olu", "Olu", "Okafor")
    pia = PatientFactory(clinic=clinic, given_name="Pia", family_name="Adams", named_nurse=nora)
    piet = PatientFactory(clinic=clinic, given_name="Piet", family_name="Brown", named_nurse=olu)
    pam = PatientFactory(clinic=clinic, given_name="Pam", family_name="Clark")
    protocol = MonitoringProtocol.objects.alemtuzumab().get(is_default=True)
    items = {item.panel: item for item in protocol.items.filter(kind="recurring")}

    _check(pia, items[BLOOD], 1, date(2024, 6, 10), 7, completed=date(2024, 6, 12))
    _check(pia, items[BLOOD], 2, date(2024, 7, 3), 7)
    _check(pia, items[BLOOD], 3, date(2026, 5, 10), 7, completed=date(2026, 5, 12))
    _check(pia, items[THYROID], 3, date(2026, 5, 10), 14, completed=date(2026, 6, 1))
    _check(pia, items[BLOOD], 4, date(2026, 5, 25), 7, cancelled=True)
    _check(pia, items[BLOOD], 5, date(2026, 6, 10), 7, completed=date(2026, 6, 11))
    _check(piet, items[BLOOD], 3, date(2026, 5, 10), 7)
    _check(piet, items[THYROID], 3, date(2026, 5, 20), 14, waived_by=olu)
    ScheduledCheck.objects.create(
        patient=piet,
        panel=BLOOD,
        kind=ScheduledCheck.Kind.URGENT,
        due_date=date(2026, 5, 15),
        window_opens=date(2026, 5, 15),
        overdue_after=date(2026, 5, 22),
    )
    _check(piet, items[BLOOD], 4, date(2026, 6, 5), 7)
    _check(pam, items[BLOOD], 1, date(2026, 5, 1), 7, before_tracking=True)
    _check(pam, items[BLOOD], 2, date(2026, 5, 20), 7, completed=date(2026, 5, 27))
    _check(pam, items[BLOOD], 3, date(2026, 6, 14), 1)
    _check(pam, items[THYROID], 3, date(2026, 6, 25), 14, opens=date(2026, 6, 20))

    other = PatientFactory(clinic=ClinicFactory(code="elsewhere", name="Elsewhere"))
    _check(other, items[BLOOD], 1, date(2026, 5, 10), 7)

    treating = PatientFactory(clinic=clinic, given_name="Tom", family_name="Treated")
    CourseFactory(patient=treating, number=1, first_infusion_date=date(2025, 9, 1))
    CourseFactory(
        patient=treating,
        number=2,
        first_infusion_date=date(2026, 9, 1),
        days=3,
        status=InfusionCourse.Status.PLANNED,
    )
    following = PatientFactory(clinic=clinic, given_name="Fay", family_name="Followed")
    CourseFactory(patient=following, number=1, first_infusion_date=date(2022, 3, 1))
    for status in ("monitoring_complete", "withdrawn", "transferred", "deceased"):
        PatientFactory(clinic=clinic, given_name="Sam", family_name=status.title(), status=status)
    return KnownClinic(clinic=clinic, lead=lead, nora=nora, olu=olu, pia=pia, piet=piet, pam=pam)


def ocrelizumab_beside(known: KnownClinic) -> Patient:
    """Oscar and his checks of both therapies (the module's second table), stored directly as
    the others are: no plan moves them."""
    oscar = PatientFactory(
        clinic=known.clinic,
        given_name="Oscar",
        family_name="Dunn",
        named_nurse=known.nora,
        other_therapies=True,
    )
    alemtuzumab = MonitoringProtocol.objects.alemtuzumab().get(is_default=True)
    alemtuzumab_items = {item.panel: item for item in alemtuzumab.items.filter(kind="recurring")}
    ocrelizumab = MonitoringProtocol.objects.default_for(therapies.OCRELIZUMAB)
    episode = TherapyEpisode.objects.create(
        patient=oscar,
        therapy=therapies.OCRELIZUMAB,
        protocol=ocrelizumab,
        started_on=date(2026, 3, 1),
    )
    hepatitis = ocrelizumab.items.get(panel=Panel.HEPATITIS_B, kind="before_start")
    blood = ocrelizumab.items.get(panel=BLOOD, kind="on_therapy")
    screen = _check(oscar, hepatitis, 0, date(2026, 3, 1), 0, completed=date(2026, 3, 5))
    shared = _check(oscar, blood, 2, date(2026, 5, 10), 7, completed=date(2026, 5, 12))
    ScheduledCheck.objects.filter(pk=screen.pk).update(
        episode=episode, kind=ScheduledCheck.Kind.BEFORE_START
    )
    ScheduledCheck.objects.filter(pk=shared.pk).update(
        episode=episode, kind=ScheduledCheck.Kind.ON_THERAPY, shares_visit=True
    )
    _check(oscar, alemtuzumab_items[BLOOD], 3, date(2026, 5, 10), 7, completed=date(2026, 5, 12))
    _check(oscar, alemtuzumab_items[THYROID], 3, date(2026, 5, 20), 14)
    return oscar


def _nurse(clinic, username, first, last):
    user = staff_of(
        clinic, UserFactory(username=username, first_name=first, last_name=last), Role.NURSE
    )
    clinic.nurses.add(user)
    return user


def _check(
    patient,
    item,
    offset,
    due,
    grace,
    **fields,
):
    return check_stored(patient, item, offset, due, grace, entered_by=_entered_by(), **fields)


def _entered_by():
    return UserFactory(username="known_lab_entry")


def check_stored(
    patient,
    item,
    offset,
    due,
    grace,
    *,
    completed=None,
    cancelled=False,
    waived_by=None,
    before_tracking=False,
    opens=None,
    entered_by=None,
):
    report = None
    if completed is not None:
        report = LabReport.objects.create(
            patient=patient,
            panel=item.panel,
            sample_collected_on=completed,
            entered_by=entered_by,
        )
    return ScheduledCheck.objects.create(
        patient=patient,
        protocol_item=item,
        panel=item.panel,
        kind=ScheduledCheck.Kind.RECURRING,
        month_offset=offset,
        due_date=due,
        window_opens=opens or due - timedelta(days=grace),
        overdue_after=due + timedelta(days=grace),
        completed_on=completed,
        completed_by=report,
        before_tracking=before_tracking,
        cancelled_at=timezone.now() if cancelled else None,
        cancelled_reason="left the plan" if cancelled else "",
        waived_at=timezone.now() if waived_by else None,
        waived_by=waived_by,
        waived_reason="Done at another hospital last week" if waived_by else "",
    )
