"""Onboarding patients already in follow-up from a spreadsheet: every problem named by row and
column before anything is saved, the whole file or nothing, stored patients updated but their
courses never overwritten, and the years before the tracking start kept as history, not work."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.alerts.scans import scans_run
from monitoring.domain.check_status import CheckStatus
from monitoring.models import MonitoringProtocol, Notification, ScheduledCheck
from monitoring.results.csv_import import import_apply, import_stage
from patients.models import InfusionCourse, Onboarding, Patient
from patients.onboarding.services import (
    OnboardingRejected,
    onboarding_read,
    onboarding_record,
    onboarding_stage,
)
from patients.selectors import patient_page
from tests.factories import CourseFactory, PatientFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 21)
HEADER = (
    "hospital_number,given_name,family_name,date_of_birth,sex,email,phone,named_nurse,protocol,"
    "course_1_first_day,course_1_days,course_1_dose_mg,"
    "course_2_first_day,course_2_days,course_2_dose_mg"
)
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "onboarding-example.csv"


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def row(
    number="NMS-1",
    *,
    given="Tomasz",
    family="Nowak",
    born="1986-09-30",
    sex="M",
    email="tomasz@example.org",
    nurse="",
    protocol="",
    course_1=("2021-03-15", "5", "12"),
    course_2=("2023-03-20", "3", "12"),
) -> str:
    return ",".join(
        [number, given, family, born, sex, email, "", nurse, protocol, *course_1, *course_2]
    )


def read(clinic, content: bytes, **extra):
    return onboarding_read(clinic=clinic, content=content, today=TODAY, **extra)


def messages(preview) -> list[str]:
    return [str(problem) for problem in preview.problems]


def record(clinic, content: bytes, user, **extra):
    onboarding, preview = onboarding_stage(
        clinic=clinic, content=content, file_name="clinic.csv", uploaded_by=user, today=TODAY,
        **extra,
    )  # fmt: skip
    assert preview.ok, messages(preview)
    return onboarding_record(onboarding=onboarding, recorded_by=user, today=TODAY)


def refused(clinic, content: bytes, user, **extra) -> list[str]:
    """The problems of a file that is staged and confirmed anyway, as a double-check that the
    recording step refuses it too and saves nothing."""
    onboarding, preview = onboarding_stage(
        clinic=clinic, content=content, file_name="clinic.csv", uploaded_by=user, today=TODAY,
        **extra,
    )  # fmt: skip
    assert not preview.ok
    patients, courses = Patient.objects.count(), InfusionCourse.objects.count()
    with pytest.raises(OnboardingRejected) as rejected:
        onboarding_record(onboarding=onboarding, recorded_by=user, today=TODAY)
    assert (Patient.objects.count(), InfusionCourse.objects.count()) == (patients, courses)
    assert [str(p) for p in rejected.value.problems] == messages(preview)
    return messages(preview)


# The required test: a patient treated in 2021 and 2023, tracked from today.


def test_a_patient_treated_in_2021_and_2023_tracked_from_today_has_history_not_work(
    clinic_a, staff_a, nurse_a
):
    outcome = record(clinic_a, csv_file(row(nurse="nurse_a")), staff_a, tracking_from=TODAY)
    assert (outcome.created, outcome.courses, outcome.tracking_from) == (1, 2, TODAY)
    patient = Patient.objects.get(hospital_number="NMS-1")
    assert patient.tracked_from == TODAY and patient.named_nurse == nurse_a
    assert list(patient.courses.values_list("number", "status")) == [
        (1, InfusionCourse.Status.GIVEN),
        (2, InfusionCourse.Status.GIVEN),
    ]
    checks = ScheduledCheck.objects.filter(patient=patient).with_status(TODAY)
    statuses = {check.status for check in checks}
    assert CheckStatus.OVERDUE not in statuses
    # Five and a half years of checks: all those that fell overdue before today are history.
    history = checks.filter(status=CheckStatus.BEFORE_TRACKING)
    assert history.count() > 200
    assert not history.filter(overdue_after__gte=TODAY).exists()
    assert not checks.filter(overdue_after__lt=TODAY).exclude(before_tracking=True).exists()

    # The next checks of each panel, counted from course 1's first day (15 March 2021).
    next_due = {}
    for check in ScheduledCheck.objects.open().filter(patient=patient).order_by("due_date"):
        next_due.setdefault(check.panel, check.due_date)
    assert next_due == {
        "blood_count": date(2026, 11, 15),  # due now: its window closes on 22 November
        "kidney": date(2026, 11, 15),
        "urine": date(2026, 11, 15),
        "liver": date(2026, 11, 15),
        "thyroid": date(2026, 12, 15),
        "skin": date(2027, 3, 15),  # yearly; no cervical screening for a man
    }

    counts = scans_run(now=datetime(2026, 11, 21, 12, 0, tzinfo=UTC))
    assert counts.total == 0
    assert not Notification.objects.exists()

    page = patient_page(patient, today=TODAY, schedule="all")
    shown = [check for days in page.timeline.values() for day in days for check in day.checks]
    assert page.overdue == []
    historic = [check for check in shown if check.due_date < date(2026, 10, 1)]
    assert historic and {check.status for check in historic} == {CheckStatus.BEFORE_TRACKING}


def test_the_monitoring_scan_command_creates_nothing_for_an_onboarded_patient(clinic_a, staff_a):
    # Tracked from the clinic's real today, as the command's scan runs now. Without an e-mail
    # address: a reminder of a check due within the week (on some days of the month) would be
    # right, and is not what this test is about.
    onboarding, _ = onboarding_stage(
        clinic=clinic_a, content=csv_file(row(email="")), file_name="a.csv", uploaded_by=staff_a
    )
    onboarding_record(onboarding=onboarding, recorded_by=staff_a)
    out = io.StringIO()
    call_command("monitoring_scan", "--no-deliver", stdout=out)
    assert not Notification.objects.filter(patient__hospital_number="NMS-1").exists(), (
        out.getvalue()
    )


def test_tracking_starts_at_the_clinics_go_live_date_when_none_is_given(clinic_a, staff_a):
    clinic_a.go_live_date = date(2026, 6, 1)
    clinic_a.save()
    outcome = record(clinic_a, csv_file(row()), staff_a)
    assert outcome.tracking_from == date(2026, 6, 1)
    patient = Patient.objects.get()
    assert patient.tracked_from == date(2026, 6, 1)
    # June to November's checks are work: overdue now, as they would be for a patient on paper.
    overdue = ScheduledCheck.objects.open().filter(patient=patient, overdue_after__lt=TODAY)
    assert overdue.exists()


def test_courses_from_the_tracking_start_on_are_planned_not_given(clinic_a, staff_a):
    content = csv_file(row(course_1=("2026-09-07", "5", "12"), course_2=("", "", "")))
    record(clinic_a, content, staff_a, tracking_from=date(2026, 9, 1))
    assert InfusionCourse.objects.get().status == InfusionCourse.Status.PLANNED


def test_history_and_audit_say_who_onboarded_each_record_and_from_which_file(clinic_a, staff_a):
    record(clinic_a, csv_file(row()), staff_a)
    patient = Patient.objects.get()
    first = patient.history.get()
    assert first.history_user == staff_a
    assert first.history_change_reason == "Onboarded from “clinic.csv”, row 2"
    course = patient.courses.get(number=2)
    assert course.history.get().history_user == staff_a
    assert LogEntry.objects.get_for_object(patient).get().action == LogEntry.Action.CREATE
    assert LogEntry.objects.get_for_object(course).exists()
    assert Onboarding.objects.get().status == Onboarding.Status.RECORDED


# Stored patients


def test_a_stored_patient_is_updated_and_given_the_courses_it_lacks(clinic_a, staff_a):
    patient = PatientFactory(
        clinic=clinic_a,
        hospital_number="NMS-1",
        given_name="Tom",
        family_name="Nowak",
        email="old@example.org",
        tracked_from=date(2025, 1, 1),
    )
    CourseFactory(patient=patient, number=1, first_infusion_date=date(2021, 3, 15), days=5)
    version = patient.version
    outcome = record(clinic_a, csv_file(row(protocol="label-48m")), staff_a)
    assert (outcome.created, outcome.updated, outcome.courses) == (0, 1, 1)
    patient.refresh_from_db()
    assert (patient.given_name, patient.email) == ("Tomasz", "tomasz@example.org")
    assert patient.protocol.slug == "label-48m"
    assert patient.version == version + 1
    assert patient.tracked_from == date(2025, 1, 1)  # a stored patient keeps theirs
    assert patient.history.first().history_change_reason == "Onboarded from “clinic.csv”, row 2"
    entry = LogEntry.objects.get_for_object(patient).get(action=LogEntry.Action.UPDATE)
    assert entry.changes["given_name"] == ["Tom", "Tomasz"]
    assert list(patient.courses.order_by("number").values_list("number", flat=True)) == [1, 2]
    assert ScheduledCheck.objects.filter(patient=patient, course__number=2).exists()


def test_a_second_run_of_the_same_file_changes_nothing(clinic_a, staff_a):
    record(clinic_a, csv_file(row()), staff_a)
    versions = Patient.history.count()
    preview = read(clinic_a, csv_file(row()))
    assert (preview.to_create, preview.to_update, preview.unchanged) == (0, 0, 1)
    outcome = record(clinic_a, csv_file(row()), staff_a)
    assert (outcome.created, outcome.updated, outcome.courses) == (0, 0, 0)
    assert Patient.history.count() == versions


def test_empty_optional_cells_leave_the_stored_details(clinic_a, staff_a):
    PatientFactory(clinic=clinic_a, hospital_number="NMS-1", email="kept@example.org")
    record(clinic_a, csv_file(row(email="")), staff_a)
    assert Patient.objects.get().email == "kept@example.org"


def test_a_course_that_differs_from_the_stored_one_is_refused_not_overwritten(clinic_a, staff_a):
    patient = PatientFactory(clinic=clinic_a, hospital_number="NMS-1")
    CourseFactory(patient=patient, number=1, first_infusion_date=date(2021, 3, 16), days=5)
    problems = refused(clinic_a, csv_file(row()), staff_a)
    assert problems == [
        "Row 2, course_1_first_day: Course 1 is recorded with 16 Mar 2021, not 15 Mar 2021. A "
        "file does not overwrite a recorded course: correct the record or the file."
    ]
    assert patient.courses.get().first_infusion_date == date(2021, 3, 16)


def test_a_stored_course_with_another_dose_is_named_by_its_column(clinic_a, staff_a):
    patient = PatientFactory(clinic=clinic_a, hospital_number="NMS-1")
    CourseFactory(patient=patient, number=1, first_infusion_date=date(2021, 3, 15), days=5)
    problems = messages(read(clinic_a, csv_file(row(course_1=("2021-03-15", "5", "24")))))
    assert problems == [
        "Row 2, course_1_dose_mg: Course 1 is recorded with 12.0 mg, not 24 mg. A file does "
        "not overwrite a recorded course: correct the record or the file."
    ]


# Bad input: each named by row and column, nothing saved.


def test_a_course_before_the_date_of_birth_is_refused(clinic_a, staff_a):
    content = csv_file(row(born="2000-01-01", course_1=("1999-05-03", "5", "12")))
    assert refused(clinic_a, content, staff_a) == [
        "Row 2, course_1_first_day: The first infusion (03 May 1999) is before the patient's "
        "birth (01 Jan 2000)."
    ]


def test_overlapping_courses_are_refused(clinic_a, staff_a):
    content = csv_file(row(course_1=("2021-03-15", "5", "12"), course_2=("2021-03-17", "3", "12")))
    problems = refused(clinic_a, content, staff_a)
    assert problems[0] == (
        "Row 2, course_2_first_day: Its days overlap course 1 (15 Mar 2021 to 19 Mar 2021)."
    )
    assert all(problem.startswith("Row 2, course_2_") for problem in problems)


def test_a_course_too_soon_after_the_last_needs_an_override_reason(clinic_a, staff_a):
    content = csv_file(row(course_2=("2022-01-10", "3", "12")))
    (problem,) = refused(clinic_a, content, staff_a)
    assert problem.startswith("Row 2, course_2_spacing_reason: Course 2 starts 10 Jan 2022")
    header = f"{HEADER},course_2_spacing_reason"
    with_reason = csv_file(f"{row(course_2=('2022-01-10', '3', '12'))},MDT: early relapse",
                           header=header)  # fmt: skip
    record(clinic_a, with_reason, staff_a)
    course = InfusionCourse.objects.get(number=2)
    assert course.spacing_override_reason == "MDT: early relapse"
    assert course.override_recorded_by == staff_a


def test_two_rows_for_one_hospital_number_are_refused(clinic_a, staff_a):
    content = csv_file(row("NMS-1"), row("nms-1", given="Tom"))
    assert refused(clinic_a, content, staff_a) == [
        "Row 3, hospital_number: Row 2 is already this hospital number (written “NMS-1” "
        "there): one patient has one row, with all their courses."
    ]


@pytest.mark.parametrize(
    ("kept", "written", "shown"),
    [
        ("NMS-1", "nms-1", "nms-1"),
        ("NMS-1", "NMS  -1", "NMS -1"),  # stored clean: runs of spaces as one
        ("NMS 001", "NMS001", "NMS001"),
        ("NMS001", "nms 001", "nms 001"),
    ],
)
def test_a_number_differing_only_in_case_or_spaces_is_a_probable_duplicate(
    clinic_a, staff_a, kept, written, shown
):
    stored = PatientFactory(
        clinic=clinic_a, hospital_number=kept, given_name="Tomasz", family_name="Nowak"
    )
    content = csv_file(row(written))
    assert refused(clinic_a, content, staff_a) == [
        f"Row 2, hospital_number: “{shown}” differs only in case or spaces from the hospital "
        f"number of NOWAK, Tomasz ({kept}) (record {stored.pk}, written “{kept}”): probably "
        "the same person, so no second record is made. To update that record, write the "
        "number exactly as it is stored."
    ]
    assert Patient.objects.count() == 1
    assert not stored.courses.exists()


def test_an_unknown_named_nurse_is_refused(clinic_a, staff_a, nurse_a):
    content = csv_file(row(nurse="nobody@example.org"))
    assert refused(clinic_a, content, staff_a) == [
        "Row 2, named_nurse: “nobody@example.org” is not the username or e-mail of a nurse of "
        "Clinic A. Leave it empty for the clinic's nurse group."
    ]
    # Known by e-mail too, in any case.
    record(clinic_a, csv_file(row(nurse="NURSE_A@example.org")), staff_a)
    assert Patient.objects.get().named_nurse == nurse_a


def test_a_nurse_of_another_clinic_is_not_a_named_nurse_here(clinic_a, clinic_b, staff_a):
    from tests.factories import UserFactory

    clinic_b.nurses.add(UserFactory(username="nurse_b"))
    problems = messages(read(clinic_a, csv_file(row(nurse="nurse_b"))))
    assert problems[0].startswith("Row 2, named_nurse: “nurse_b” is not the username")


def test_a_tracking_date_in_the_future_is_refused(clinic_a, staff_a):
    problems = refused(clinic_a, csv_file(row()), staff_a, tracking_from=date(2026, 11, 22))
    assert problems == [
        "File: The tracking date (22 Nov 2026) is in the future (today is 21 Nov 2026): checks "
        "that fall overdue until then would be hidden as history. Give today or an earlier date."
    ]


def test_a_go_live_date_in_the_future_is_refused_too(clinic_a):
    clinic_a.go_live_date = date(2027, 1, 1)
    clinic_a.save()
    assert messages(read(clinic_a, csv_file(row())))[0].startswith(
        "File: The clinic's go-live date (01 Jan 2027) is in the future"
    )


@pytest.mark.parametrize("dose", ["0", "1000"])
def test_an_implausible_dose_is_refused(clinic_a, staff_a, dose):
    content = csv_file(row(course_2=("2023-03-20", "3", dose)))
    assert refused(clinic_a, content, staff_a) == [
        f"Row 2, course_2_dose_mg: A daily dose of {dose} mg is not plausible: give the dose as "
        "given, from 1 to 48 mg a day (usually 12)."
    ]


def test_a_missing_or_unreadable_dose_and_days_are_named(clinic_a):
    content = csv_file(row(course_1=("2021-03-15", "five", ""), course_2=("", "", "")))
    assert messages(read(clinic_a, content)) == [
        "Row 2, course_1_days: “five” is not a number of days: write it as 0-9.",
        "Row 2, course_1_dose_mg: Give course 1's daily dose in mg, as given (e.g. 12).",
    ]


def test_bad_cells_are_each_named_by_row_and_column(clinic_a):
    content = csv_file(
        row("NMS-1", born="03/02/1980", sex="Q"),
        row("NMS-2", given="=HYPERLINK(1)", email="not-an-address", protocol="weekly"),
        row("NMS-3", course_1=("2021-02-30", "5", "12"), course_2=("", "", "")),
        row("NMS-4", course_1=("", "", ""), course_2=("2023-03-20", "3", "12")),
    )
    problems = messages(read(clinic_a, content))
    assert problems[0].startswith("Row 2, date_of_birth: “03/02/1980” could be")
    assert problems[1] == "Row 2, sex: “Q” is not a sex this record keeps: write F, M or X."
    assert any(p.startswith("Row 3, given_name: It starts with “=”") for p in problems)
    assert "Row 3, email: Enter a valid email address." in problems
    assert any(p.startswith("Row 3, protocol: “weekly” is not a protocol.") for p in problems)
    assert any(p.startswith("Row 4, course_1_first_day: ") for p in problems)
    assert "Row 5, course_2_first_day: Course 1 must be recorded before course 2." in problems


def test_a_file_without_its_required_columns_names_them(clinic_a):
    preview = read(clinic_a, b"hospital_number,given_name\nNMS-1,Ada\n")
    assert messages(preview) == [
        "File: The required column “family_name” is missing.",
        "File: The required column “date_of_birth” is missing.",
        "File: The required column “sex” is missing.",
    ]


def test_a_problem_anywhere_saves_nothing_of_the_other_rows(clinic_a, staff_a):
    content = csv_file(row("NMS-1"), row("NMS-2"), row("NMS-3", sex=""))
    refused(clinic_a, content, staff_a)
    assert not Patient.objects.exists() and not ScheduledCheck.objects.exists()


def test_a_recorded_file_is_not_recorded_twice(clinic_a, staff_a):
    onboarding, _ = onboarding_stage(
        clinic=clinic_a, content=csv_file(row()), file_name="a.csv", uploaded_by=staff_a,
        today=TODAY,
    )  # fmt: skip
    onboarding_record(onboarding=onboarding, recorded_by=staff_a, today=TODAY)
    with pytest.raises(OnboardingRejected, match="was recorded on"):
        onboarding_record(onboarding=onboarding, recorded_by=staff_a, today=TODAY)
    assert Patient.objects.count() == 1


def test_the_preview_takes_a_fixed_number_of_queries(clinic_a, nurse_a):
    def queries(rows: int) -> int:
        content = csv_file(*(row(f"NMS-{n}", nurse="nurse_a") for n in range(rows)))
        with CaptureQueriesContext(connection) as captured:
            assert read(clinic_a, content).ok
        return len(captured)

    # Stored patients, the clinic's nurses, the protocols (no stored patient: no courses).
    assert queries(2) == queries(40) == 3
    PatientFactory(clinic=clinic_a, hospital_number="NMS-1")
    assert queries(40) == 4  # and the stored patients' courses


# The example file and the command


def test_the_example_file_previews_without_problems(clinic_a):
    from tests.factories import UserFactory

    clinic_a.nurses.add(UserFactory(username="nurse"))
    preview = onboarding_read(clinic=clinic_a, content=EXAMPLE.read_bytes())
    assert preview.ok, messages(preview)
    assert preview.to_create >= 5
    demo_like = [
        plan.row.hospital_number for plan in preview.plans if "DEMO" in plan.row.key.upper()
    ]
    assert demo_like == []


def test_the_example_file_has_patients_at_every_stage(clinic_a, staff_a):
    from tests.factories import UserFactory

    clinic_a.nurses.add(UserFactory(username="nurse"))
    today = date(2026, 12, 1)  # the day the example was written: one patient is booked
    onboarding, _ = onboarding_stage(
        clinic=clinic_a,
        content=EXAMPLE.read_bytes(),
        file_name="x.csv",
        uploaded_by=staff_a,
        today=today,
    )
    onboarding_record(onboarding=onboarding, recorded_by=staff_a, today=today)
    patients = {p.hospital_number: p for p in Patient.objects.all()}
    assert patients["NMS-2001"].follow_up_ends < today  # follow-up has ended
    assert patients["NMS-2005"].courses.get().status == InfusionCourse.Status.PLANNED
    assert not patients["NMS-2006"].courses.exists()
    assert not ScheduledCheck.objects.with_status(today).filter(status="overdue").exists()


def test_the_command_dry_run_saves_nothing(clinic_a, tmp_path):
    path = tmp_path / "clinic.csv"
    path.write_bytes(csv_file(row()))
    out = io.StringIO()
    call_command("onboard_patients", str(path), "--clinic", "clinic-a", "--dry-run", stdout=out)
    assert "Dry run: would create 1 patients, update 0 (0 unchanged), add 2 courses" in (
        out.getvalue()
    )
    assert not Patient.objects.exists()


def test_the_command_records_the_file_and_names_the_onboarding_user(clinic_a, tmp_path):
    path = tmp_path / "clinic.csv"
    path.write_bytes(csv_file(row()))
    out = io.StringIO()
    today = clinic_a.today().isoformat()
    call_command(
        "onboard_patients", str(path), "--clinic", "clinic-a", "--tracking-from", today,
        stdout=out,
    )  # fmt: skip
    assert (
        f"Created 1 patients, updated 0 (0 unchanged), added 2 courses; tracked from {today}"
        in (out.getvalue())
    )
    patient = Patient.objects.get()
    assert patient.history.get().history_user.username == "onboarding"
    assert LogEntry.objects.get_for_object(patient).get().actor.username == "onboarding"


def test_the_command_prints_every_problem_and_saves_nothing(clinic_a, tmp_path):
    path = tmp_path / "clinic.csv"
    path.write_bytes(csv_file(row(course_2=("2023-03-20", "3", "0")), row("NMS-2", sex="")))
    err = io.StringIO()
    with pytest.raises(CommandError, match="2 problems in the file; nothing was saved"):
        call_command("onboard_patients", str(path), "--clinic", "clinic-a", stderr=err)
    assert "Row 2, course_2_dose_mg: A daily dose of 0 mg" in err.getvalue()
    assert "Row 3, sex:" in err.getvalue()
    assert not Patient.objects.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--clinic", "nowhere"], "--clinic: there is no clinic “nowhere”"),
        (["--clinic", "clinic-a", "--tracking-from", "01/02/2026"], "--tracking-from: "),
    ],
)
def test_the_command_refuses_a_bad_option(clinic_a, tmp_path, arguments, message):
    path = tmp_path / "clinic.csv"
    path.write_bytes(csv_file(row()))
    with pytest.raises(CommandError, match=message):
        call_command("onboard_patients", str(path), *arguments)


def test_a_protocol_slug_is_matched_in_any_case(clinic_a, staff_a):
    record(clinic_a, csv_file(row(protocol="LABEL-48M")), staff_a)
    assert Patient.objects.get().protocol == MonitoringProtocol.objects.get(slug="label-48m")


def test_a_trial_dose_is_recorded_as_given(clinic_a, staff_a):
    record(clinic_a, csv_file(row(course_1=("2021-03-15", "5", "24"))), staff_a)
    assert InfusionCourse.objects.get(number=1).daily_dose_mg == Decimal("24.0")


def test_a_historic_result_imported_afterwards_completes_its_historic_check(clinic_a, staff_a):
    record(clinic_a, csv_file(row()), staff_a, tracking_from=TODAY)
    patient = Patient.objects.get()
    results = (
        b"hospital_number,sample_date,analyte,value,unit\nNMS-1,2022-05-16,platelets,231,10^9/L\n"
    )
    staged, preview = import_stage(
        clinic=clinic_a, content=results, file_name="old.csv", uploaded_by=staff_a, today=TODAY
    )
    assert preview.ok, [str(problem) for problem in preview.problems]
    import_apply(result_import=staged, imported_by=staff_a, today=TODAY)
    check = ScheduledCheck.objects.get(
        patient=patient, panel="blood_count", kind="recurring", due_date=date(2022, 5, 15)
    )
    assert check.completed_on == date(2022, 5, 16)
    assert check.status_on(TODAY) == CheckStatus.COMPLETED
