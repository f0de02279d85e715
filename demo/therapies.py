"""Demo patients on every MS therapy the clinic monitors, in a clinic of their own (the demo's
alemtuzumab clinic keeps its thirty patients as they are). Each patient's therapy is started,
dosed and stopped through the same services as the staff screens (patients.therapies), so
their schedules, gates and shared visits are the real ones. Dates are relative to today."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils.text import slugify

from demo.results import demo_results_record
from monitoring.domain import gates, therapies
from monitoring.models import ScheduledCheck
from patients.models import Clinic, InfusionCourse, Patient, StopReason, TherapyDose
from patients.services import course_add, patient_create
from patients.therapies.gates import dose_checklist_record, dose_record_given
from patients.therapies.services import episode_start, episode_stop

THERAPY_CLINIC_CODE = "demo-therapies"
THERAPY_CLINIC_NAME = "Demo MS Centre: other therapies"
# Answers of the natalizumab checklist that let the infusion go ahead.
CHECKLIST_CLEAR = {question.code: question.safe_answer for question in gates.CHECKLIST}
# The gates whose results the demo does not load (the hepatitis B screen, the CYP2C9
# genotype): a nurse records why the dose or start goes ahead, as the screens ask.
HEPATITIS_B_ELSEWHERE = (
    "Demo: HBsAg and anti-HBc negative at the referring hospital; the report is on paper."
)
GENOTYPE_ELSEWHERE = "Demo: CYP2C9 *1/*1 from the referring hospital; the report is on paper."
DEMO_BASELINES = "Demo: the baselines were done before this course; their results are not loaded."


@dataclass(frozen=True)
class DemoTherapyPatient:
    # Kept for good: a later load recognises a patient already there by this number alone.
    number: int
    given: str
    family: str
    sex: str
    born: date
    therapy: str
    # Days before today the therapy started (its first dose, for one given in the clinic).
    started_days: int
    # Doses given in the clinic so far, one dose interval apart from the start.
    doses_given: int = 0
    # Days before today the therapy stopped, and why.
    stopped_days: int | None = None
    stop_reason: str = ""
    # Lymphocytes (x10^9/L) on the latest blood count, when not a typical value.
    lymphocytes: str = ""
    # Years before the therapy's start that alemtuzumab's course 2 was given (course 1 a year
    # before it): a patient still in alemtuzumab follow-up who then started this therapy.
    alemtuzumab_years_before: int = 0
    # Months of results loaded back from today (the latest result of each test).
    result_months: int = 4
    # Days ago a sample was drawn for the checks due soon whose window is open (before a dose).
    early_draw_days: int | None = None
    story: str = ""

    @property
    def hospital_number(self) -> str:
        return f"DEMO{self.number:04d}"

    @property
    def name(self) -> str:
        return f"{self.given} {self.family}"


T = therapies
# fmt: off
THERAPY_PATIENTS = [
    DemoTherapyPatient(101, "Lars", "Eriksen", "M", date(1979, 2, 11), T.INTERFERON_BETA, 900,
                       story="interferon beta for two and a half years"),
    # Six infusions every 28 days from the start; the seventh is planned three days from today
    # and its checklist is not answered yet.
    DemoTherapyPatient(102, "Rosa", "Alvarez", "F", date(1991, 8, 3), T.NATALIZUMAB,
                       6 * 28 - 3, doses_given=6,
                       story="natalizumab, infusion 7 in 3 days, checklist not yet answered"),
    # Stopped after eight infusions: its after-stopping MRI checks are planned.
    DemoTherapyPatient(103, "Oskar", "Lindgren", "M", date(1987, 4, 19), T.NATALIZUMAB,
                       8 * 28 + 35, doses_given=8, stopped_days=35,
                       stop_reason=StopReason.SIDE_EFFECTS,
                       story="natalizumab stopped 5 weeks ago, after-stopping checks planned"),
    DemoTherapyPatient(104, "Maya", "Goldberg", "F", date(1984, 12, 1), T.OCRELIZUMAB, 400,
                       doses_given=3, story="ocrelizumab, three infusions given"),
    DemoTherapyPatient(105, "Samuel", "Okonkwo", "M", date(1993, 3, 27), T.OFATUMUMAB, 240,
                       story="ofatumumab for eight months"),
    # Year 1 a year ago; year 2 is planned in five days, but the count drawn for it four days
    # ago has lymphocytes 0.7.
    DemoTherapyPatient(106, "Elif", "Yilmaz", "F", date(1989, 9, 9), T.CLADRIBINE, 360,
                       doses_given=1, lymphocytes="0.7", early_draw_days=4,
                       story="cladribine year 2 due, lymphocytes 0.7 (below 0.8: gate unmet)"),
    DemoTherapyPatient(107, "George", "Baker", "M", date(1976, 6, 30), T.DIMETHYL_FUMARATE, 730,
                       story="dimethyl fumarate for two years"),
    DemoTherapyPatient(108, "Leila", "Karimi", "F", date(1995, 1, 15), T.DIROXIMEL_FUMARATE,
                       150, story="diroximel fumarate for five months"),
    DemoTherapyPatient(109, "Pavel", "Novak", "M", date(1982, 10, 4), T.TERIFLUNOMIDE, 540,
                       story="teriflunomide for eighteen months"),
    DemoTherapyPatient(110, "Hanna", "Virtanen", "F", date(1980, 5, 22), T.FINGOLIMOD, 1100,
                       story="fingolimod for three years"),
    DemoTherapyPatient(111, "Diego", "Romero", "M", date(1972, 7, 8), T.SIPONIMOD, 300,
                       story="siponimod for ten months (genotype from the referring hospital)"),
    DemoTherapyPatient(112, "Mei", "Chen", "F", date(1990, 11, 19), T.OZANIMOD, 120,
                       story="ozanimod for four months"),
    DemoTherapyPatient(113, "Omar", "Saleh", "M", date(1986, 2, 2), T.PONESIMOD, 210,
                       story="ponesimod for seven months"),
    # Alemtuzumab courses about four and three years before ocrelizumab, started three months
    # ago: both therapies' checks side by side, blood counts due together on one visit.
    DemoTherapyPatient(114, "Clara", "Weber", "F", date(1983, 8, 14), T.OCRELIZUMAB, 90,
                       doses_given=1, alemtuzumab_years_before=3,
                       story="alemtuzumab follow-up, ocrelizumab started 3 months ago"),
]
# fmt: on


def demo_therapies_populate(*, today: date | None = None) -> tuple[Clinic, list]:
    """Add the therapy clinic's missing patients (by hospital number) and return those added;
    the demo's staff work in it too. A second call changes nothing."""
    from demo.patients import LOGINS, NURSES  # the alemtuzumab clinic's people, shared

    with transaction.atomic():
        clinic, _ = Clinic.objects.get_or_create(
            code=THERAPY_CLINIC_CODE,
            defaults={"name": THERAPY_CLINIC_NAME, "time_zone": "Europe/London"},
        )
        users = get_user_model().objects.filter(username__in=[login.username for login in LOGINS])
        for user in users:
            if user.username != "admin":
                clinic.staff.add(user)
            if user.username in NURSES:
                clinic.nurses.add(user)
            if user.username == "lead" and clinic.lead_id is None:
                clinic.lead = user
                clinic.save(update_fields=["lead"])
    today = today or clinic.today()
    present = set(clinic.patients.values_list("hospital_number", flat=True))
    added = [row for row in THERAPY_PATIENTS if row.hospital_number not in present]
    for row in added:
        with transaction.atomic():  # one each: a stopped load resumes with the next patient
            _patient(clinic, row, today)
    return clinic, added


def _patient(clinic: Clinic, row: DemoTherapyPatient, today: date) -> None:
    nurse = get_user_model().objects.get(username="nurse")
    started = today - timedelta(days=row.started_days)
    first_course = started - relativedelta(years=row.alemtuzumab_years_before + 1)
    patient = patient_create(
        clinic=clinic,
        hospital_number=row.hospital_number,
        given_name=row.given,
        family_name=row.family,
        date_of_birth=row.born,
        sex=row.sex,
        email=f"{slugify(row.given)}.{slugify(row.family)}@demo.invalid",
        tracked_from=min(started, first_course) - relativedelta(months=3),
    )
    if row.alemtuzumab_years_before:
        for day in (first_course, first_course + relativedelta(years=1, days=7)):
            course_add(
                patient=patient,
                first_infusion_date=day,
                daily_dose_mg=Decimal(12),
                status=InfusionCourse.Status.GIVEN,
                baseline_override_reason=DEMO_BASELINES,
                recorded_by=nurse,
            )
    info = therapies.therapy_of(row.therapy)
    episode = episode_start(
        patient=patient,
        therapy=row.therapy,
        started_on=started,
        # Gated at the start: siponimod's genotype, ofatumumab's hepatitis B screen.
        gate_override_reason=GENOTYPE_ELSEWHERE
        if info.gate == therapies.GATE_CYP2C9
        else HEPATITIS_B_ELSEWHERE
        if info.gate == therapies.GATE_HEPATITIS_B and not info.doses_in_clinic
        else "",
        recorded_by=nurse,
    )
    for _ in range(row.doses_given):
        dose = episode.doses.get(status=TherapyDose.Status.PLANNED)
        _give(dose, nurse, info)
    if row.stopped_days is not None:
        episode_stop(
            episode=episode,
            stopped_on=today - timedelta(days=row.stopped_days),
            reason=row.stop_reason,
            note="Demo: stopped after a discussion with the patient.",
            stopped_by=nurse,
        )
    _results(patient, row, today)


def _give(dose: TherapyDose, nurse, info: therapies.Therapy) -> None:
    if info.gate == therapies.GATE_CHECKLIST:
        dose = dose_checklist_record(dose=dose, answers=CHECKLIST_CLEAR, answered_by=nurse)
    dose_record_given(
        dose=dose,
        given_on=dose.planned_on,
        recorded_by=nurse,
        override_reason=HEPATITIS_B_ELSEWHERE if info.gate == therapies.GATE_HEPATITIS_B else "",
    )


def _results(patient: Patient, row: DemoTherapyPatient, today: date) -> None:
    """The latest result of each test in the last months; the other checks already overdue
    marked done on their due date (the demo's stand-in for history, and for the tests it has
    no values for, such as an MRI: as in the alemtuzumab clinic)."""
    since = today - relativedelta(months=row.result_months)
    _mark_done(patient, before=since)
    abnormal = {"lymphocytes": row.lymphocytes} if row.lymphocytes else {}
    early = today - timedelta(days=row.early_draw_days) if row.early_draw_days else None
    demo_results_record(
        patient, since=since, until=today, abnormal=abnormal, latest_only=True, early=early
    )
    _mark_done(patient, before=today)


def _mark_done(patient: Patient, *, before: date) -> None:
    ScheduledCheck.objects.open().filter(patient=patient, overdue_after__lt=before).update(
        completed_on=F("due_date")
    )
