"""The demo clinic: about 30 patients at every stage of monitoring, loaded through the services,
once. A database loaded by the first, 8-patient demo gets only the patients it is missing.

Loading the demo takes several seconds, so this module loads it once, the way a newcomer's
database would have grown: the first demo's 8 patients, then `manage.py demo_data` tops it up.
Everything runs inside one transaction that is rolled back after the module."""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass
from datetime import date

import pytest
from dateutil.relativedelta import relativedelta
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count, Q

from demo import patients as demo_patients
from demo.patients import PATIENTS, Stage, demo_populate
from monitoring.models import (
    ACKNOWLEDGE_TIERS,
    Acknowledgement,
    LabReport,
    LabResult,
    Notification,
    ScheduledCheck,
)
from patients.models import Clinic, InfusionCourse, Patient

pytestmark = pytest.mark.django_db

FIRST_DEMO = 8  # DEMO0001 to DEMO0008: the patients of the first demo


@dataclass(frozen=True)
class Loaded:
    clinic: Clinic
    today: date
    first_demo: dict[str, tuple]  # the first demo's patients before the top-up
    output: str  # what `manage.py demo_data` printed when it topped the database up


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(demo_patients, "PATIENTS", _first_demo_rows())
            clinic, _ = demo_populate()
        first_demo = _snapshot(clinic)
        output = io.StringIO()
        call_command("demo_data", stdout=output)
        yield Loaded(clinic, clinic.today(), first_demo, output.getvalue())
        transaction.set_rollback(True)


def _first_demo_rows():
    return [row for row in PATIENTS if row.number <= FIRST_DEMO]


def _snapshot(clinic: Clinic) -> dict[str, tuple]:
    """Each patient as stored, with what hangs off them: any change to one shows here."""
    rows = clinic.patients.annotate(
        courses_n=Count("courses", distinct=True),
        checks_n=Count("scheduled_checks", distinct=True),
        done_n=Count("scheduled_checks", filter=Q(scheduled_checks__completed_on__isnull=False)),
        results_n=Count("lab_results", distinct=True),
    )
    return {
        p.hospital_number: (
            p.pk,
            p.updated_at,
            p.status,
            p.email,
            p.courses_n,
            p.checks_n,
            p.done_n,
            p.results_n,
        )
        for p in rows
    }


def _counts() -> dict[str, int]:
    models = [Patient, InfusionCourse, ScheduledCheck, LabReport, LabResult, Acknowledgement]
    counts = {model.__name__: model.objects.count() for model in models}
    counts["completed checks"] = ScheduledCheck.objects.filter(completed_on__isnull=False).count()
    counts["notifications"] = Notification.objects.count()
    counts["users"] = get_user_model().objects.count()
    return counts


def _given(patient: Patient) -> list[InfusionCourse]:
    return list(patient.courses.filter(status=InfusionCourse.Status.GIVEN).order_by("number"))


def _patient(row) -> Patient:
    return Patient.objects.get(hospital_number=row.hospital_number)


def _statuses(today: date) -> Counter:
    """(patient hospital number, check status) -> how many checks."""
    return Counter(
        ScheduledCheck.objects.with_status(today).values_list("patient__hospital_number", "status")
    )


def test_about_thirty_patients_with_distinct_plausible_people(demo):
    people = list(demo.clinic.patients.all())
    assert len(people) == len(PATIENTS) and 28 <= len(people) <= 32
    assert len({(p.given_name, p.family_name) for p in people}) == len(people)
    assert len({p.email for p in people}) == len(people)
    assert set(Counter(p.sex for p in people).values()) != {len(people)}  # not all one sex
    for patient in people:
        first = patient.courses.order_by("number").first()
        age = relativedelta(first.first_infusion_date, patient.date_of_birth).years
        assert 20 <= age <= 55, (patient, age)


def test_some_patients_have_course_one_planned_and_nothing_given(demo):
    planned = [
        p
        for p in demo.clinic.patients.all()
        if not _given(p) and p.courses.get(number=1).first_infusion_date > demo.today
    ]
    assert len(planned) >= 2
    # The course's baseline tests are due now for at least one of them.
    statuses = _statuses(demo.today)
    assert any(statuses[(p.hospital_number, "due")] for p in planned)


def test_patients_have_one_two_or_three_courses_given(demo):
    given = Counter(len(_given(p)) for p in demo.clinic.patients.all())
    assert given[1] >= 4 and given[2] >= 10 and given[3] >= 3
    # A next course already planned: course 2 for one patient, course 3 for another.
    planned_later = set(
        InfusionCourse.objects.filter(status=InfusionCourse.Status.PLANNED, number__gt=1)
        .filter(first_infusion_date__gt=demo.today)
        .values_list("number", flat=True)
    )
    assert planned_later == {2, 3}


def test_some_patients_have_overdue_checks(demo):
    statuses = _statuses(demo.today)
    overdue = {number for (number, status), n in statuses.items() if status == "overdue" and n}
    assert len(overdue) >= 3
    assert "DEMO0005" in overdue  # Elena Rossi, the portal patient


def test_abnormal_results_wait_for_a_nurse_at_every_tier(demo):
    waiting = LabResult.objects.current().filter(
        tier__in=ACKNOWLEDGE_TIERS, acknowledgements__isnull=True
    )
    assert {"amber", "red", "critical"} <= set(waiting.values_list("tier", flat=True))
    critical = waiting.get(tier="critical")
    assert critical.analyte.code == "platelets" and critical.canonical_value < 50
    assert waiting.filter(analyte__code="tsh", tier="red", canonical_value__gt=10).exists()
    assert waiting.filter(analyte__code="urine_blood", tier="red").exists()
    assert LabResult.objects.filter(analyte__code="urine_protein", value_text="1+").exists()
    # Red and critical results went to the outbox for a nurse, as a real entry's would.
    urgent = waiting.filter(tier__in=["red", "critical"])
    assert urgent.count() >= 5
    assert not urgent.filter(notifications__isnull=True).exists()


def test_some_abnormal_results_are_already_acknowledged(demo):
    acknowledged = Acknowledgement.objects.filter(result__isnull=False)
    assert {"amber", "red"} <= set(acknowledged.values_list("tier", flat=True))


def test_finished_patients_are_monitoring_complete_with_nothing_left_to_do(demo):
    complete = demo.clinic.patients.filter(status=Patient.Status.MONITORING_COMPLETE)
    assert complete.count() >= 3
    for patient in complete:
        assert not patient.scheduled_checks.open().exists()
        assert not patient.scheduled_checks.filter(due_date__gte=demo.today).exists()
        assert patient.lab_reports.exists()  # their last results before the end


def test_each_patient_is_listed_under_the_stage_their_data_shows(demo):
    for row in PATIENTS:
        patient = _patient(row)
        given = _given(patient)
        since_last = relativedelta(demo.today, given[-1].last_infusion_date) if given else None
        months = since_last.years * 12 + since_last.months if since_last else None
        complete = patient.status == Patient.Status.MONITORING_COMPLETE
        assert complete == (row.stage == Stage.COMPLETE), row
        if row.stage == Stage.COURSE_ONE_PLANNED:
            assert not given, row
        elif row.stage == Stage.BETWEEN_COURSES:
            assert len(given) == 1, row
        elif row.stage == Stage.AFTER_COURSE_TWO:
            assert len(given) == 2 and months < 24, row
        elif row.stage == Stage.COURSE_THREE:
            assert patient.courses.filter(number=3).exists(), row
        elif row.stage == Stage.DEEP_FOLLOW_UP:
            assert 24 <= months < 36, row
        elif row.stage == Stage.LATE_FOLLOW_UP:
            assert months >= 36, row


def test_the_abnormal_values_listed_are_each_patients_latest(demo):
    for row in PATIENTS:
        for code, value in row.abnormal.items():
            latest = LabResult.objects.filter(patient=_patient(row), analyte__code=code).first()
            assert latest.value_text == value, (row, code)
            acknowledged = latest.acknowledgements.exists()
            assert acknowledged == row.acknowledged or latest.tier == "normal", (row, code)


def test_a_second_load_changes_nothing(demo):
    before = _counts()
    output = io.StringIO()
    call_command("demo_data", stdout=output)
    assert _counts() == before
    assert demo_populate()[1] == []
    assert "already loaded; nothing changed" in output.getvalue()


def test_the_first_demos_database_gets_only_the_missing_patients(demo):
    assert sorted(demo.first_demo) == [f"DEMO{n:04d}" for n in range(1, FIRST_DEMO + 1)]
    now = _snapshot(demo.clinic)
    assert {number: now[number] for number in demo.first_demo} == demo.first_demo
    assert len(now) == len(PATIENTS)
    assert f"Added {len(PATIENTS) - FIRST_DEMO} patients" in demo.output


def test_the_command_lists_the_added_patients_by_stage_briefly(demo):
    listing = demo.output.split("Demo sign-ins:")[0]
    by_stage = listing.split("Results and overdue checks")[0]
    for stage in Stage:
        assert by_stage.count(f"  {stage}: ") == 1
    # One line a stage (a long one wraps once), not one a patient.
    assert len(by_stage.splitlines()) <= 1 + 2 * len(Stage)
    for row in PATIENTS:
        assert (row.name in by_stage) == (row.number > FIRST_DEMO), row
    # The new patients a nurse would act on, each with what is wrong.
    assert "Ahmed Rahman: TSH 12.4 (not acknowledged)" in listing
    assert "Fatima Benali: no tests for 120 days" in listing


def test_the_demo_clinic_has_a_nurse_group_a_lead_and_named_nurses(demo):
    # Moved from the admin tests, which build their own data now.
    assert sorted(demo.clinic.nurses.values_list("username", flat=True)) == ["nurse", "nurse2"]
    assert demo.clinic.lead.username == "lead"
    named = dict(
        Patient.objects.filter(named_nurse__isnull=False).values_list(
            "family_name", "named_nurse__username"
        )
    )
    assert named == {"Rossi": "nurse", "Haddad": "nurse2"}
