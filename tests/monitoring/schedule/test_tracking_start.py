"""The tracking start: a patient entered years into follow-up arrives with history, not with
hundreds of overdue checks, alerts and e-mails; the checks after the start are work as usual,
and a historic result still completes its historic check."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from monitoring.alerts.rules import open_checks_of_planned_patients
from monitoring.alerts.scans import scans_run
from monitoring.domain.check_status import CheckStatus
from monitoring.models import Notification, ScheduledCheck
from patients.models import Patient
from patients.selectors import patient_page
from patients.services import course_add, patient_create, patient_update
from tests.builders import nurse_of, report

pytestmark = pytest.mark.django_db

# Saturday 21 November 2026 in London: the patient's next checks (on the 8th, the day of the
# month course 1 began) are 17 days away, further than any reminder's lead time, so a scan
# today has nothing at all to say about them.
NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
TODAY = date(2026, 11, 21)


@pytest.fixture
def nurse(clinic_a):
    return nurse_of(clinic_a, "nurse_a", on_staff=False, email="nurse.a@example.org")


def entered(clinic, **fields):
    return patient_create(
        clinic=clinic,
        hospital_number="RX-4411",
        given_name="Maren",
        family_name="Holt",
        date_of_birth=date(1984, 2, 9),
        sex=Patient.Sex.FEMALE,
        email="maren.holt@example.org",
        **fields,
    )


@pytest.fixture
def treated_in_2021_and_2023(clinic_a, nurse):
    """A patient the clinic starts tracking on TODAY, given course 1 in March 2021 and course 2
    in April 2023: what a clinic's first day holds."""
    patient = entered(clinic_a, tracked_from=TODAY)
    for first in (date(2021, 3, 8), date(2023, 4, 17)):
        course_add(
            patient=patient,
            first_infusion_date=first,
            daily_dose_mg=Decimal(12),
            status="given",
            recorded_by=nurse,
        )
    return patient


def overdue(patient, today):
    return open_checks_of_planned_patients().filter(patient=patient, overdue_after__lt=today)


def test_a_patient_entered_today_is_tracked_from_the_clinics_today(clinic_a):
    assert entered(clinic_a).tracked_from == clinic_a.today()


def test_a_patient_treated_in_2021_and_2023_has_no_overdue_checks_and_no_alerts(
    treated_in_2021_and_2023, clinic_a
):
    patient = treated_in_2021_and_2023

    counts = scans_run(now=NOW)

    assert overdue(patient, TODAY).count() == 0
    assert counts.total == 0
    assert not Notification.objects.filter(patient=patient).exists()
    history = ScheduledCheck.objects.filter(patient=patient, before_tracking=True)
    assert history.count() > 100  # 20 months of monthly checks and both courses' baselines
    assert not history.filter(overdue_after__gte=TODAY).exists()


def test_the_next_due_checks_are_the_months_after_the_tracking_start(
    treated_in_2021_and_2023, clinic_a
):
    patient = treated_in_2021_and_2023
    work = ScheduledCheck.objects.open().filter(patient=patient).order_by("due_date")

    first = work.first()
    # The 8 November checks fell overdue on the 15th, before the tracking start: history.
    # The first work is December's visit, the thyroid test included (every third month).
    assert first.due_date == date(2026, 12, 8)
    assert set(work.filter(due_date=first.due_date).values_list("panel", flat=True)) == {
        "blood_count",
        "kidney",
        "urine",
        "liver",
        "thyroid",
    }
    november = ScheduledCheck.objects.filter(patient=patient, due_date=date(2026, 11, 8))
    assert november.exists()
    assert all(check.before_tracking for check in november)


def test_the_historic_checks_show_as_before_tracking_on_the_patient_page(
    treated_in_2021_and_2023, clinic_a
):
    page = patient_page(treated_in_2021_and_2023, today=TODAY, schedule="all")

    statuses = {check.status for days in page.timeline.values() for d in days for check in d.checks}
    assert CheckStatus.BEFORE_TRACKING in statuses
    assert CheckStatus.OVERDUE not in statuses
    assert not page.overdue


def test_a_historic_result_completes_its_historic_check(treated_in_2021_and_2023, nurse):
    patient = treated_in_2021_and_2023
    june_2022 = ScheduledCheck.objects.get(
        patient=patient, panel="blood_count", kind="recurring", due_date=date(2022, 6, 8)
    )
    assert june_2022.before_tracking

    report(patient, "blood_count", {"platelets": 230}, entered_by=nurse, sample=date(2022, 6, 9))

    june_2022.refresh_from_db()
    assert june_2022.status_on(TODAY) == CheckStatus.COMPLETED


def test_a_result_taken_today_does_not_complete_history(treated_in_2021_and_2023, nurse):
    patient = treated_in_2021_and_2023
    # A sample outside every open window (December's opens on the 1st) must not reach back to
    # complete, late, a check from before the tracking start.
    report(patient, "thyroid", {"tsh": "1.2"}, entered_by=nurse, sample=TODAY, today=TODAY)

    assert not ScheduledCheck.objects.filter(
        patient=patient, before_tracking=True, completed_on__isnull=False
    ).exists()


def test_moving_the_tracking_start_earlier_re_plans_and_is_in_the_history(
    treated_in_2021_and_2023, clinic_a, nurse
):
    patient = treated_in_2021_and_2023
    earlier = TODAY - timedelta(days=90)

    patient_update(
        patient=patient,
        reason="The clinic has the last three months of this patient's tests on paper.",
        changed_by=nurse,
        tracked_from=earlier,
    )

    assert overdue(patient, TODAY).exists()  # the last three months' checks are work now
    assert not overdue(patient, TODAY).filter(overdue_after__lt=earlier).exists()
    latest = patient.history.first()
    assert latest.tracked_from == earlier
    assert latest.history_user == nurse
    assert latest.history_change_reason.startswith("The clinic has")


def test_history_is_never_reminded_and_a_reminder_names_only_work(treated_in_2021_and_2023):
    # A week later the December visit is due soon: reminders, about it alone.
    counts = scans_run(now=NOW + timedelta(days=10))
    assert counts.created["due_soon"] == 5

    reminded = Notification.objects.filter(
        patient=treated_in_2021_and_2023, scheduled_check__isnull=False
    )
    assert not reminded.filter(scheduled_check__before_tracking=True).exists()


def test_a_tracking_start_in_the_future_is_refused(clinic_a):
    with pytest.raises(ValidationError) as refused:
        entered(clinic_a, tracked_from=clinic_a.today() + timedelta(days=1))

    assert "tracked_from" in refused.value.message_dict
    assert not Patient.objects.exists()
