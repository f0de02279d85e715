"""Two people editing one clinical record: the form opened before the other's save is refused,
shows the value stored now beside the one typed, and saves on a second, deliberate submit. One
test per edit that exists: result correction, entered in error (result, report), a check's
follow-up note and waiver, and the admin change forms of a patient and a course."""

from __future__ import annotations

from datetime import date
from html import unescape

import pytest
from django.test import Client
from django.urls import reverse

from monitoring.models import Acknowledgement, LabResult, ScheduledCheck
from patients.models import InfusionCourse
from tests.auth import sign_in
from tests.builders import lead_of, with_course_one
from tests.builders import report as build_report
from tests.factories import PatientFactory
from tests.forms import hidden_fields
from tests.test_admin import form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def me(clinic_a):
    return sign_in(Client(), lead_of(clinic_a, "lead_me"))


@pytest.fixture
def them(clinic_a):
    return sign_in(Client(), lead_of(clinic_a, "lead_them"))


@pytest.fixture
def tsh(clinic_a):
    patient = with_course_one(PatientFactory(clinic=clinic_a), on=date(2024, 1, 15))
    lead = lead_of(clinic_a, "lead_entering")
    return build_report(
        patient, "thyroid", {"tsh": "4.8"}, entered_by=lead, sample=date(2024, 3, 15)
    ).results.get()


def opened(client, url) -> dict:
    """The page's hidden fields as `client` opens it now."""
    page = client.get(url)
    assert page.status_code == 200
    return hidden_fields(page)


def text_of(response) -> str:
    return unescape(response.content.decode())


def correct(client, result, page: dict, value: str, reason: str = "Lab phoned a correction"):
    url = reverse("monitoring:result_correct", args=[result.pk])
    return client.post(url, {**page, "value": value, "unit": "mU/L", "reason": reason})


def test_a_stale_correction_is_refused_with_both_values_and_can_be_reapplied(me, them, tsh):
    url = reverse("monitoring:result_correct", args=[tsh.pk])
    mine, theirs = opened(me, url), opened(them, url)
    assert correct(them, tsh, theirs, "5.2").status_code == 302

    refused = correct(me, tsh, mine, "4.9")

    assert refused.status_code == 200
    assert "changed by someone else" in text_of(refused)
    assert "Value: now 5.2 mU/L, yours 4.9 mU/L" in text_of(refused)
    tsh.refresh_from_db()
    assert tsh.value_text == "5.2"  # theirs stands: nothing was overwritten
    # Submitting the page shown again applies mine on top of theirs, deliberately.
    assert correct(me, tsh, hidden_fields(refused), "4.9").status_code == 302
    tsh.refresh_from_db()
    assert tsh.value_text == "4.9"
    assert [v.value_text for v in tsh.history.order_by("history_id")] == ["4.8", "5.2", "4.9"]


def test_marking_a_result_in_error_from_a_stale_form_is_refused_showing_both(me, them, tsh):
    url = reverse("monitoring:result_error", args=[tsh.pk])
    mine = opened(me, url)
    correct(them, tsh, opened(them, reverse("monitoring:result_correct", args=[tsh.pk])), "5.2")

    refused = me.post(url, {**mine, "reason": "Wrong patient's tube"})

    assert refused.status_code == 200
    assert "Value: now 5.2 mU/L, yours 4.8 mU/L" in text_of(refused)
    assert not LabResult.objects.get(pk=tsh.pk).is_entered_in_error
    again = me.post(url, {**hidden_fields(refused), "reason": "Wrong patient's tube"})
    assert again.status_code == 302
    assert LabResult.objects.get(pk=tsh.pk).is_entered_in_error


def test_marking_a_report_in_error_from_a_stale_form_is_refused_showing_both(me, them, tsh):
    url = reverse("monitoring:report_error", args=[tsh.report_id])
    mine = opened(me, url)
    correct(them, tsh, opened(them, reverse("monitoring:result_correct", args=[tsh.pk])), "5.2")

    refused = me.post(url, {**mine, "reason": "Another patient's sample"})

    assert refused.status_code == 200
    assert "TSH: now 5.2 mU/L, yours 4.8 mU/L" in text_of(refused)
    tsh.report.refresh_from_db()
    assert not tsh.report.is_entered_in_error
    again = me.post(url, {**hidden_fields(refused), "reason": "Another patient's sample"})
    assert again.status_code == 302
    tsh.report.refresh_from_db()
    assert tsh.report.is_entered_in_error


@pytest.fixture
def overdue(clinic_a):
    patient = with_course_one(PatientFactory(clinic=clinic_a), days_ago=200, given=True)
    return ScheduledCheck.objects.filter(patient=patient).open().order_by("due_date").first()


def follow_up(client, check, page, note):
    url = reverse("monitoring:check_follow_up", args=[check.pk])
    return client.post(url, {**page, "action": "called_patient", "note": note})


def test_a_follow_up_note_on_a_check_changed_meanwhile_is_refused_showing_theirs(me, them, overdue):
    url = reverse("monitoring:check_follow_up", args=[overdue.pk])
    mine = opened(me, url)
    assert follow_up(them, overdue, opened(them, url), "Rebooked for Monday.").status_code == 302

    refused = follow_up(me, overdue, mine, "Left a voicemail.")

    assert refused.status_code == 200
    text = text_of(refused)
    assert "Rebooked for Monday." in text and "yours Left a voicemail." in text
    assert Acknowledgement.objects.filter(scheduled_check=overdue).count() == 1
    assert follow_up(me, overdue, hidden_fields(refused), "Left a voicemail.").status_code == 302
    assert Acknowledgement.objects.filter(scheduled_check=overdue).count() == 2


def test_waiving_a_check_changed_meanwhile_is_refused_showing_theirs(me, them, overdue):
    url = reverse("monitoring:check_waive", args=[overdue.pk])
    mine = opened(me, url)
    follow_up_url = reverse("monitoring:check_follow_up", args=[overdue.pk])
    follow_up(them, overdue, opened(them, follow_up_url), "Rebooked for Monday.")

    refused = me.post(url, {**mine, "reason": "Done at the district hospital."})

    assert refused.status_code == 200
    text = text_of(refused)
    assert "Rebooked for Monday." in text and "yours Done at the district hospital." in text
    overdue.refresh_from_db()
    assert overdue.is_open
    again = me.post(url, {**hidden_fields(refused), "reason": "Done at the district hospital."})
    assert again.status_code == 302
    overdue.refresh_from_db()
    assert overdue.waived_at is not None


@pytest.fixture
def admin_me(clinic_a):
    return sign_in(Client(), lead_of(clinic_a, "admin_me", is_staff=True))


@pytest.fixture
def admin_them(clinic_a):
    return sign_in(Client(), lead_of(clinic_a, "admin_them", is_staff=True))


def test_a_stale_patient_change_in_the_admin_is_refused_showing_both(
    admin_me, admin_them, clinic_a
):
    patient = PatientFactory(clinic=clinic_a, phone="")
    url = reverse("admin:patients_patient_change", args=[patient.pk])
    mine = form_data(admin_me.get(url))
    theirs = form_data(admin_them.get(url))
    theirs.update(phone="+44 20 7946 0000", reason_for_change="New number given at clinic")
    assert admin_them.post(url, theirs).status_code == 302

    mine.update(email="nia@example.org", reason_for_change="E-mail given at clinic")
    refused = admin_me.post(url, mine)

    assert refused.status_code == 200
    assert "Phone: now +44 20 7946 0000, yours empty" in text_of(refused)
    patient.refresh_from_db()
    assert (patient.phone, patient.email) == ("+44 20 7946 0000", "")
    # Re-applied from the page shown again, mine (the old phone too) is saved on top.
    assert admin_me.post(url, {**mine, **hidden_fields(refused)}).status_code == 302
    patient.refresh_from_db()
    assert (patient.phone, patient.email) == ("", "nia@example.org")


def test_a_stale_course_change_in_the_admin_is_refused_showing_both(admin_me, admin_them, clinic_a):
    patient = with_course_one(PatientFactory(clinic=clinic_a), on=date(2025, 2, 3))
    course = patient.courses.get()
    url = reverse("admin:patients_infusioncourse_change", args=[course.pk])
    mine = form_data(admin_me.get(url))
    theirs = form_data(admin_them.get(url))
    theirs.update(daily_dose_mg="24", reason_for_change="Trial dose, as given")
    assert admin_them.post(url, theirs).status_code == 302

    mine.update(daily_dose_mg="10", reason_for_change="Reduced dose")
    refused = admin_me.post(url, mine)

    assert refused.status_code == 200
    assert "Daily dose (mg): now 24.0, yours 10" in text_of(refused)
    assert InfusionCourse.objects.get(pk=course.pk).daily_dose_mg == 24
    assert admin_me.post(url, {**mine, **hidden_fields(refused)}).status_code == 302
    assert InfusionCourse.objects.get(pk=course.pk).daily_dose_mg == 10


def test_a_garbled_opened_version_is_a_refusal_not_a_server_error(me, tsh, overdue):
    pages = [
        (reverse("monitoring:result_correct", args=[tsh.pk]), {"value": "5", "unit": "mU/L"}),
        (reverse("monitoring:result_error", args=[tsh.pk]), {}),
        (reverse("monitoring:report_error", args=[tsh.report_id]), {}),
        (reverse("monitoring:check_follow_up", args=[overdue.pk]), {"action": "other"}),
        (reverse("monitoring:check_waive", args=[overdue.pk]), {}),
    ]
    for url, fields in pages:
        data = {**opened(me, url), **fields, "opened_version": "x/y.z", "reason": "r", "note": "n"}
        response = me.post(url, data)
        assert response.status_code == 200, url
        assert "changed by someone else" in text_of(response), url
