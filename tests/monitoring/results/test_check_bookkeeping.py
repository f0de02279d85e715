"""Which check a sample completes, and which flag it earns with its partners, through the
services and through the CSV import alike: a sample after an infusion is never that course's
baseline; urine blood with a creatinine flagged for any reason is red; a protocol switch does
not ask twice for what was done."""

from collections import Counter
from datetime import date, timedelta

import pytest

from monitoring.alerts.rules import open_checks_of_planned_patients
from monitoring.domain.check_status import CheckStatus
from monitoring.models import LabResult, MonitoringProtocol, ScheduledCheck
from monitoring.results.csv_import import import_apply, import_stage
from patients.services import patient_update
from tests.builders import report, with_course_one
from tests.factories import PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

COURSE_ONE = date(2026, 3, 2)
TODAY = date(2026, 11, 21)


@pytest.fixture
def nurse(clinic_a):
    return UserFactory(username="nurse_a")


@pytest.fixture
def ada(clinic_a):
    patient = PatientFactory(clinic=clinic_a, hospital_number="H100")
    return with_course_one(patient, on=COURSE_ONE, given=True)


def pre_course(patient, panel):
    return ScheduledCheck.objects.get(patient=patient, panel=panel, kind="pre_course")


def imported(clinic, user, *rows):
    content = ("hospital_number,sample_date,analyte,value,unit\n" + "\n".join(rows)).encode()
    result_import, preview = import_stage(
        clinic=clinic, content=content, file_name="lab.csv", uploaded_by=user, today=TODAY
    )
    assert preview.ok, [str(problem) for problem in preview.problems]
    return import_apply(result_import=result_import, imported_by=user, today=TODAY)


# A sample after the first infusion is not the course's baseline


@pytest.mark.parametrize(
    ("panel", "values"),
    [
        ("blood_count", {"platelets": 250}),
        ("thyroid", {"tsh": "1.5"}),
        ("kidney", {"creatinine": 70}),
    ],
)
def test_a_sample_two_weeks_after_course_one_does_not_complete_its_baseline(
    ada, nurse, panel, values
):
    report(ada, panel, values, entered_by=nurse, sample=COURSE_ONE + timedelta(days=14))

    baseline = pre_course(ada, panel)
    assert baseline.completed_on is None
    assert baseline.status_on(TODAY) == CheckStatus.OVERDUE


def test_a_sample_on_the_first_infusion_day_is_still_the_baseline(ada, nurse):
    report(ada, "blood_count", {"platelets": 250}, entered_by=nurse, sample=COURSE_ONE)

    assert pre_course(ada, "blood_count").status_on(TODAY) == CheckStatus.COMPLETED


def test_an_imported_post_course_sample_does_not_complete_the_baseline(ada, nurse):
    after = (COURSE_ONE + timedelta(days=14)).isoformat()
    imported(
        ada.clinic,
        nurse,
        f"H100,{after},platelets,250,10^9/L",
        f"H100,{after},tsh,1.5,mU/L",
        f"H100,{after},creatinine,70,umol/L",
    )

    assert LabResult.objects.filter(patient=ada).count() == 3
    for panel in ("blood_count", "thyroid", "kidney"):
        assert pre_course(ada, panel).completed_on is None, panel


def test_an_imported_sample_inside_the_baseline_window_completes_it(ada, nurse):
    before = (COURSE_ONE - timedelta(days=10)).isoformat()
    imported(ada.clinic, nurse, f"H100,{before},platelets,250,10^9/L")

    assert pre_course(ada, "blood_count").status_on(TODAY) == CheckStatus.COMPLETED


# Urine blood with a creatinine flagged for any reason


@pytest.fixture
def ada_with_baseline(ada, nurse):
    """Ada's creatinine before course 1 was 60 umol/L, so 95 (inside the reference range) is a
    rise of more than 1.5 times: red."""
    report(ada, "kidney", {"creatinine": 60}, entered_by=nurse, sample=COURSE_ONE - timedelta(5))
    return ada


SAMPLE = date(2026, 6, 2)


def test_urine_blood_with_a_creatinine_red_by_its_rise_within_the_range_is_red(
    ada_with_baseline, nurse
):
    creatinine = report(
        ada_with_baseline, "kidney", {"creatinine": 95}, entered_by=nurse, sample=SAMPLE
    ).results.get()
    assert creatinine.tier == "red"

    urine = report(
        ada_with_baseline, "urine", {"urine_blood": "1+"}, entered_by=nurse, sample=SAMPLE
    ).results.get()

    assert urine.tier == "red"
    assert any("flagged amber or worse" in reason for reason in urine.reasons)


def test_urine_blood_entered_first_turns_red_when_the_risen_creatinine_follows(
    ada_with_baseline, nurse
):
    urine = report(
        ada_with_baseline, "urine", {"urine_blood": "1+"}, entered_by=nurse, sample=SAMPLE
    ).results.get()
    assert urine.tier == "amber"

    report(ada_with_baseline, "kidney", {"creatinine": 95}, entered_by=nurse, sample=SAMPLE)

    urine = LabResult.objects.current().get(analyte__code="urine_blood")
    assert urine.tier == "red"


def test_urine_blood_with_a_normal_creatinine_stays_amber(ada_with_baseline, nurse):
    report(ada_with_baseline, "kidney", {"creatinine": 70}, entered_by=nurse, sample=SAMPLE)
    urine = report(
        ada_with_baseline, "urine", {"urine_blood": "1+"}, entered_by=nurse, sample=SAMPLE
    ).results.get()

    assert urine.tier == "amber"


def test_the_import_flags_urine_blood_red_beside_a_risen_creatinine_in_either_order(
    ada_with_baseline, nurse
):
    imported(
        ada_with_baseline.clinic,
        nurse,
        f"H100,{SAMPLE.isoformat()},urine_blood,1+,",
        f"H100,{SAMPLE.isoformat()},creatinine,95,umol/L",
    )

    urine = LabResult.objects.current().get(analyte__code="urine_blood")
    assert urine.tier == "red"


# A protocol switch


def live_points(patient) -> Counter:
    """How many live checks each (panel, kind, month or course) has."""
    return Counter(
        (check.panel, check.kind, check.month_offset or check.course_id)
        for check in ScheduledCheck.objects.filter(patient=patient, cancelled_at=None)
    )


def test_a_protocol_switch_leaves_one_check_per_panel_and_point(ada, nurse):
    # The baseline taken on the first infusion day and one monthly blood count done late.
    report(ada, "blood_count", {"platelets": 250}, entered_by=nurse, sample=COURSE_ONE)
    report(ada, "blood_count", {"platelets": 240}, entered_by=nurse, sample=date(2026, 4, 20))
    overdue_before = open_checks_of_planned_patients().filter(patient=ada, overdue_after__lt=TODAY)
    count_before = overdue_before.count()

    patient_update(
        patient=ada,
        reason="The clinic follows the label's 48 months.",
        changed_by=nurse,
        protocol=MonitoringProtocol.objects.get(slug="label-48m"),
    )

    points = live_points(ada)
    assert max(points.values()) == 1, [point for point, n in points.items() if n > 1]
    baseline = ScheduledCheck.objects.get(
        patient=ada, panel="blood_count", kind="pre_course", cancelled_at=None
    )
    assert baseline.status_on(TODAY) == CheckStatus.COMPLETED
    assert (
        open_checks_of_planned_patients().filter(patient=ada, overdue_after__lt=TODAY).count()
        == count_before
    )
