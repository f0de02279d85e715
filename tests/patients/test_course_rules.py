"""Course validation (clinical-rules.md section 1): each refusal with its message."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from patients.course_rules import CourseFacts, course_problems
from patients.models import InfusionCourse
from patients.services import course_add, course_cancel, course_update

BORN = date(1985, 6, 15)
C1 = CourseFacts(number=1, first_day=date(2024, 1, 31), days=5)


def problems(course, *others, birth=BORN):
    return course_problems(course, others=list(others), birth_date=birth)


def test_standard_courses_have_no_problems():
    course_two = CourseFacts(number=2, first_day=date(2025, 1, 31), days=3)
    assert problems(C1) == {}
    assert problems(course_two, C1) == {}


def test_course_one_over_three_days_needs_a_reason():
    short = CourseFacts(number=1, first_day=date(2024, 1, 31), days=3)
    assert problems(short) == {
        "days_reason": [
            "Course 1 is normally given over 5 days; record a reason for giving it over 3."
        ]
    }
    explained = CourseFacts(
        number=1, first_day=date(2024, 1, 31), days=3, days_reason="Infusion reaction"
    )
    assert problems(explained) == {}


def test_course_two_earlier_than_twelve_months_after_course_one_first_infusion_is_refused():
    early = CourseFacts(number=2, first_day=date(2025, 1, 30), days=3)
    message = problems(early, C1)["spacing_override_reason"][0]
    assert "no earlier than 31 Jan 2025" in message
    assert "course 1's first infusion on 31 Jan 2024" in message
    assert "override reason" in message


def test_course_three_counts_twelve_months_from_course_two_last_infusion():
    c2 = CourseFacts(number=2, first_day=date(2025, 1, 31), days=3)  # last infusion 2 Feb 2025
    on_the_day = CourseFacts(number=3, first_day=date(2026, 2, 2), days=3)
    a_day_early = CourseFacts(number=3, first_day=date(2026, 2, 1), days=3)
    assert problems(on_the_day, C1, c2) == {}
    message = problems(a_day_early, C1, c2)["spacing_override_reason"][0]
    assert "no earlier than 02 Feb 2026" in message
    assert "course 2's last infusion on 02 Feb 2025" in message


def test_an_override_reason_accepts_close_spacing():
    early = CourseFacts(
        number=2,
        first_day=date(2024, 9, 1),
        days=3,
        spacing_override_reason="Disease activity; neurologist decision",
    )
    assert problems(early, C1) == {}


def test_a_course_before_the_patients_birth_is_refused():
    before_birth = CourseFacts(number=1, first_day=date(1980, 1, 1), days=5)
    assert problems(before_birth)["first_day"] == [
        "The first infusion (01 Jan 1980) is before the patient's birth (15 Jun 1985)."
    ]


def test_overlapping_courses_are_refused_even_with_an_override():
    overlapping = CourseFacts(
        number=2, first_day=date(2024, 2, 3), days=3, spacing_override_reason="urgent"
    )
    assert problems(overlapping, C1)["first_day"] == [
        "Its days overlap course 1 (31 Jan 2024 to 04 Feb 2024)."
    ]


def test_a_course_number_needs_its_predecessor_and_is_used_once():
    assert problems(CourseFacts(number=3, first_day=date(2026, 6, 1), days=3), C1)["number"] == [
        "Course 2 must be recorded before course 3."
    ]
    again = CourseFacts(number=1, first_day=date(2026, 6, 1), days=5)
    assert "The patient already has a course 1." in problems(again, C1)["number"]


def test_moving_course_one_later_breaks_course_two_spacing():
    c2 = CourseFacts(number=2, first_day=date(2025, 1, 31), days=3)
    moved = CourseFacts(number=1, first_day=date(2024, 3, 1), days=5)
    message = problems(moved, c2)["first_day"][0]
    assert message.startswith("Moving it would break the next course's spacing.")


# The same rules through the model and services, with the messages on the form fields.


@pytest.mark.django_db
def test_course_add_refuses_close_spacing_on_the_spacing_field(patient):
    course_add(patient=patient, first_infusion_date=date(2024, 1, 31), daily_dose_mg=12)
    with pytest.raises(ValidationError) as refusal:
        course_add(patient=patient, first_infusion_date=date(2024, 7, 1), daily_dose_mg=12)
    assert "no earlier than 31 Jan 2025" in refusal.value.message_dict["spacing_override_reason"][0]
    assert patient.courses.count() == 1


@pytest.mark.django_db
def test_course_add_refuses_a_course_before_birth_on_the_date_field(patient):
    patient.date_of_birth = date(1995, 6, 15)
    patient.save()
    with pytest.raises(ValidationError) as refusal:
        course_add(patient=patient, first_infusion_date=date(1994, 1, 1), daily_dose_mg=12)
    assert "before the patient's birth" in refusal.value.message_dict["first_infusion_date"][0]


@pytest.mark.django_db
def test_override_records_who_gave_the_reason(patient, clinician):
    course_add(patient=patient, first_infusion_date=date(2024, 1, 31), daily_dose_mg=12)
    early = course_add(
        patient=patient,
        first_infusion_date=date(2024, 10, 1),
        daily_dose_mg=Decimal("12"),
        spacing_override_reason="Early relapse; MDT decision 2024-09-20",
        recorded_by=clinician,
    )
    assert early.number == 2 and early.days == 3
    assert early.override_recorded_by == clinician


@pytest.mark.django_db
def test_dose_is_required_and_bounded(patient):
    with pytest.raises(ValidationError) as refusal:
        course_add(patient=patient, first_infusion_date=date(2024, 1, 31), daily_dose_mg=120)
    assert "daily_dose_mg" in refusal.value.message_dict


@pytest.mark.django_db
def test_a_cancelled_course_is_kept_with_its_reason_and_frees_its_number(patient, clinician):
    first = course_add(patient=patient, first_infusion_date=date(2024, 1, 31), daily_dose_mg=12)
    second = course_add(patient=patient, first_infusion_date=date(2025, 2, 3), daily_dose_mg=12)
    course_cancel(course=second, reason="Patient declined", cancelled_by=clinician)
    replacement = course_add(
        patient=patient, first_infusion_date=date(2025, 6, 2), daily_dose_mg=12
    )
    assert replacement.number == 2
    assert patient.courses.count() == 3
    assert InfusionCourse.objects.get(pk=second.pk).cancelled_reason == "Patient declined"
    assert first.history.count() == 1


@pytest.mark.django_db
def test_a_course_correction_keeps_the_old_version_with_who_and_why(patient, clinician):
    course = course_add(patient=patient, first_infusion_date=date(2024, 1, 31), daily_dose_mg=12)
    course_update(
        course=course,
        reason="Typo: infusion started a day later",
        changed_by=clinician,
        first_infusion_date=date(2024, 2, 1),
    )
    latest, original = course.history.all()[:2]
    assert original.first_infusion_date == date(2024, 1, 31)
    assert latest.first_infusion_date == date(2024, 2, 1)
    assert latest.history_change_reason == "Typo: infusion started a day later"
    assert latest.history_user == clinician


@pytest.mark.django_db
def test_a_correction_without_a_reason_is_refused(patient):
    course = course_add(patient=patient, first_infusion_date=date(2024, 1, 31), daily_dose_mg=12)
    with pytest.raises(ValueError, match="needs a reason"):
        course_update(course=course, reason=" ", first_infusion_date=date(2024, 2, 1))
