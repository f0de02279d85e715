"""Clinical situations the tests set up again and again: a treated patient, a recorded report or
platelet count, its acknowledgement, a nurse or lead of a clinic. tests/factories.py makes bare
rows; these go through the real services, so that the schedule is planned and results are
flagged and alerted on exactly as when staff enter them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from accounts.roles import Role, grant_role
from monitoring.alerts.services import result_acknowledge
from monitoring.models import Analyte, LabReport, LabResult
from monitoring.results.entry import ResultInput
from monitoring.results.services import report_record
from patients.models import InfusionCourse, Patient
from patients.services import course_add
from tests.auth import staff_of
from tests.factories import PatientFactory, UserFactory

DAILY_DOSE_MG = Decimal(12)

# The unit each analyte is entered in when a test gives only the value; an analyte not named
# here (the urine dipsticks) is entered without one.
UNITS = {
    "platelets": "10^9/L",
    "neutrophils": "10^9/L",
    "wbc": "10^9/L",
    "haemoglobin": "g/L",
    "creatinine": "umol/L",
    "tsh": "mU/L",
}


def _day(patient: Patient, on: date | None, days_ago: int | None) -> date:
    """`on`, or `days_ago` days before the patient's clinic's today: exactly one is given."""
    if (on is None) == (days_ago is None):
        raise TypeError("give the date or days_ago, not both or neither")
    return on if on is not None else patient.clinic.today() - timedelta(days=days_ago)


# A course the tests record as given is the clinic's history: its baseline checks were done
# but never entered. The pre-infusion checklist asks a clinician to say so (patients.services,
# course_given_refusal), so the builders record it as the infusion nurse would.
GIVEN_WITHOUT_RECORDED_BASELINES = "Baselines done before these records began; not entered."


def infusion_nurse():
    """The nurse who records the tests' given courses: a clinician of no clinic, so that no
    clinic's staff, nurse group or alerts change because of them."""
    nurse = UserFactory(username="infusion_nurse")
    grant_role(nurse, Role.NURSE)
    return nurse


def _course(patient: Patient, first: date, *, given: bool) -> None:
    """The patient's next course through the services, which re-plan the schedule."""
    if not given:
        course_add(
            patient=patient,
            first_infusion_date=first,
            daily_dose_mg=DAILY_DOSE_MG,
            status=InfusionCourse.Status.PLANNED,
        )
        return
    course_add(
        patient=patient,
        first_infusion_date=first,
        daily_dose_mg=DAILY_DOSE_MG,
        status=InfusionCourse.Status.GIVEN,
        baseline_override_reason=GIVEN_WITHOUT_RECORDED_BASELINES,
        recorded_by=infusion_nurse(),
    )


def with_course_one(
    patient: Patient, *, on: date | None = None, days_ago: int | None = None, given: bool = False
) -> Patient:
    """`patient` with course 1 starting `on` a date or `days_ago` days before the clinic's
    today. `given` records the course as given rather than planned (what a course in the past
    usually is)."""
    _course(patient, _day(patient, on, days_ago), given=given)
    return patient


def treated_patient(
    clinic,
    *,
    on: date | None = None,
    days_ago: int | None = None,
    given: bool = False,
    **fields,
) -> Patient:
    """A new patient of `clinic` (with the factory `fields`) given course 1 as in
    `with_course_one`."""
    patient = PatientFactory(clinic=clinic, **fields)
    return with_course_one(patient, on=on, days_ago=days_ago, given=given)


def two_courses(patient: Patient, *, first: date) -> Patient:
    """Course 1 on `first`, course 2 thirteen months later, both given: the usual two-course
    patient."""
    _course(patient, first, given=True)
    _course(patient, first + relativedelta(months=13), given=True)
    return patient


def report(
    patient: Patient,
    panel: str,
    values: dict[str, object],
    *,
    entered_by,
    sample: date | None = None,
    days_ago: int | None = None,
    today: date | None = None,
    **extra,
) -> LabReport:
    """A report of `panel` recorded through the services, from a sample taken `sample` or
    `days_ago` days before the clinic's today. `values` maps analyte codes to a value (entered
    in its usual unit, see UNITS) or to a tuple of what follows the analyte in a ResultInput:
    (value, unit) or (value, unit, reference low, reference high). `today` and `extra`
    (submission_key, ...) go to report_record as they are."""
    analytes = {a.code: a for a in Analyte.objects.filter(code__in=values)}
    entries = [
        ResultInput(analytes[code], *value)
        if isinstance(value, tuple)
        else ResultInput(analytes[code], str(value), UNITS.get(code, ""))
        for code, value in values.items()
    ]
    return report_record(
        patient=patient,
        panel=panel,
        sample_collected_on=_day(patient, sample, days_ago),
        entries=entries,
        entered_by=entered_by,
        today=today,
        **extra,
    ).report


def platelets(
    patient: Patient,
    value,
    *,
    entered_by,
    sample: date | None = None,
    days_ago: int | None = None,
    today: date | None = None,
    tier_since: datetime | None = None,
) -> LabResult:
    """A blood count of platelets alone (x10^9/L: 250 normal, 120 amber, 80 red, 45 critical).
    `tier_since` back-dates its flag, for the tests of deadlines and escalation."""
    result = report(
        patient,
        "blood_count",
        {"platelets": value},
        entered_by=entered_by,
        sample=sample,
        days_ago=days_ago,
        today=today,
    ).results.get()
    if tier_since is not None:
        LabResult.objects.filter(pk=result.pk).update(tier_since=tier_since)
        result.refresh_from_db()
    return result


def acknowledge(
    result: LabResult,
    by,
    *,
    action: str = "called_patient",
    note: str = "Spoke to the patient; repeat count booked for tomorrow.",
):
    """`by` acknowledges `result` through the services, now."""
    return result_acknowledge(
        result=result, action=action, note=note, acknowledged_by=by, now=timezone.now()
    )


def nurse_of(clinic, username: str, *, on_staff: bool = True, **fields):
    """A user in `clinic`'s nurse group, which the alerts go to. `on_staff` also makes them
    clinic staff with the nurse role, as a nurse who signs in must be; the alert and delivery
    tests leave it off, because the group alone decides who is told."""
    user = UserFactory(username=username, **fields)
    if on_staff:
        staff_of(clinic, user, Role.NURSE)
    clinic.nurses.add(user)
    return user


def lead_of(clinic, username: str, *, on_staff: bool = True, escalates: bool = False, **fields):
    """A clinic lead. `on_staff` gives them the clinic-lead role on `clinic`'s staff (the
    audit pages and every staff screen); `escalates` makes them the clinic's `lead`, who late
    results and long-overdue checks escalate to."""
    user = UserFactory(username=username, **fields)
    if on_staff:
        staff_of(clinic, user, Role.CLINIC_LEAD)
    if escalates:
        clinic.lead = user
        clinic.save()
    return user
