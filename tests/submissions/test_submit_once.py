"""Every state-changing form stores one record however often the same page is submitted: five
times in a row (a double click, the back button, a retry) or five times at once (threads, each
with its own client and database connection), and never answers with a server error.

Each form is one FORMS entry: how to set its page up, who posts it, what it posts and how many
records it should leave. The page is fetched once and its hidden fields (the one-time key, the
version it was opened on) are posted back as a browser would."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from unittest import mock
from urllib.parse import urlsplit

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import Role, grant_role
from labfeeds.intake import FeedResult, feed_record, message_receive
from labfeeds.models import ApiToken, LabConnection, WaitingResult
from labfeeds.tokens import token_create
from monitoring.alerts.symptom_reports import symptom_report_create
from monitoring.domain.gates import CHECKLIST
from monitoring.models import Acknowledgement, LabReport, ScheduledCheck, SymptomReport
from monitoring.results import csv_import
from patients.models import InfusionCourse, Patient
from patients.onboarding.services import onboarding_stage
from patients.services import course_add, patient_create
from patients.therapies.services import episode_start
from portal.calendar_feed import calendar_feed_create
from portal.invitations import invitation_send
from portal.models import CalendarFeed, Invitation
from tests.auth import current_code, sign_in
from tests.builders import lead_of, platelets, with_course_one
from tests.builders import report as build_report
from tests.factories import PatientFactory, UserFactory
from tests.forms import hidden_fields

TIMES = 5


@dataclass
class Form:
    url: str
    user: object | None  # who posts; None for an anonymous visitor
    data: Callable[[], dict]  # called after the page is shown (a code is read from it)
    stored: Callable[[], int]  # the records the form leaves
    expected: int
    second_factor: bool = True
    # Concurrent posts come from different browsers: where the answer depends on the browser's
    # own session (who it signed in), only "one stored, no 500" can be the same.
    same_answer_at_once: bool = True


def _lead(clinic):
    lead = lead_of(clinic, "lead_a")
    clinic.nurses.add(lead)
    return lead


def _treated(clinic):
    return with_course_one(PatientFactory(clinic=clinic, email="ada@example.org"), days_ago=200)


def add_patient(clinic):
    data = {
        "clinic": clinic.pk,
        "hospital_number": "N900",
        "given_name": "Nia",
        "family_name": "New",
        "date_of_birth": "1991-04-02",
        "sex": "F",
        "reminder_leads": "7,1",
        "email_reminders": "on",
    }
    return Form(
        reverse("patients:create"),
        _lead(clinic),
        lambda: data,
        lambda: Patient.objects.filter(hospital_number="N900").count(),
        1,
    )


def add_course(clinic):
    patient = PatientFactory(clinic=clinic)
    data = {
        "first_infusion_date": "2025-02-03",
        "daily_dose_mg": "12",
        "status": "given",
        "baseline_override_reason": "Baselines done at the referring hospital.",
    }
    return Form(
        reverse("patients:course_create", args=[patient.pk]),
        _lead(clinic),
        lambda: data,
        lambda: InfusionCourse.objects.filter(patient=patient).count(),
        1,
    )


def log_results(clinic):
    patient = _treated(clinic)
    today = clinic.today()
    return Form(
        reverse("monitoring:report_create", args=[patient.pk, "thyroid"]),
        _lead(clinic),
        lambda: {"sample_collected_on": today.isoformat(), "tsh": "2.1", "tsh_unit": "mU/L"},
        lambda: LabReport.objects.filter(patient=patient).count(),
        1,
    )


def record_check_done(clinic):
    patient = _treated(clinic)
    data = {
        "sample_collected_on": clinic.today().isoformat(),
        "done_by": "dermatologist",
        "outcome": "abnormal",
        "notes": "Atypical naevus; excision booked.",
    }
    return Form(
        reverse("monitoring:check_done", args=[patient.pk, "skin"]),
        _lead(clinic),
        lambda: data,
        lambda: LabReport.objects.filter(patient=patient).count(),
        1,
    )


def correct_result(clinic):
    lead = _lead(clinic)
    result = platelets(_treated(clinic), "45", entered_by=lead, days_ago=3)
    versions = result.history.count()
    return Form(
        reverse("monitoring:result_correct", args=[result.pk]),
        lead,
        lambda: {"value": "145", "unit": "10^9/L", "reason": "Misread the printout"},
        lambda: result.history.count(),
        versions + 1,
    )


def result_in_error(clinic):
    lead = _lead(clinic)
    result = platelets(_treated(clinic), "45", entered_by=lead, days_ago=3)
    versions = result.history.count()
    return Form(
        reverse("monitoring:result_error", args=[result.pk]),
        lead,
        lambda: {"reason": "Wrong tube"},
        lambda: result.history.count(),
        versions + 1,
    )


def report_in_error(clinic):
    lead = _lead(clinic)
    report = build_report(_treated(clinic), "thyroid", {"tsh": "2"}, entered_by=lead, days_ago=3)
    versions = report.history.count()
    return Form(
        reverse("monitoring:report_error", args=[report.pk]),
        lead,
        lambda: {"reason": "Another patient's sample"},
        lambda: report.history.count(),
        versions + 1,
    )


def acknowledge_result(clinic):
    lead = _lead(clinic)
    result = platelets(_treated(clinic), "45", entered_by=lead, days_ago=1)
    return Form(
        reverse("monitoring:result_acknowledge", args=[result.pk]),
        lead,
        lambda: {"action": "called_patient", "note": "Admitted to the day unit."},
        lambda: Acknowledgement.objects.filter(result=result).count(),
        1,
    )


def _open_check(clinic):
    patient = _treated(clinic)
    return ScheduledCheck.objects.filter(patient=patient).open().order_by("due_date").first()


def follow_up_check(clinic):
    check = _open_check(clinic)
    return Form(
        reverse("monitoring:check_follow_up", args=[check.pk]),
        _lead(clinic),
        lambda: {"action": "called_patient", "note": "No answer; letter sent."},
        lambda: Acknowledgement.objects.filter(scheduled_check=check).count(),
        1,
    )


def _changes_of(record) -> int:
    return LogEntry.objects.get_for_object(record).filter(action=LogEntry.Action.UPDATE).count()


def waive_check(clinic):
    check = _open_check(clinic)
    return Form(
        reverse("monitoring:check_waive", args=[check.pk]),
        _lead(clinic),
        lambda: {"reason": "Done at the district hospital."},
        lambda: _changes_of(check),
        _changes_of(check) + 1,
    )


def confirm_import(clinic):
    lead = _lead(clinic)
    patient = _treated(clinic)
    sample = clinic.today().isoformat()
    text = (
        "hospital_number,sample_date,analyte,value,unit\n"
        f"{patient.hospital_number},{sample},platelets,210,10^9/L\n"
    )
    staged, _ = csv_import.import_stage(
        clinic=clinic, content=text.encode(), file_name="r.csv", uploaded_by=lead
    )
    return Form(
        reverse("monitoring:import_preview", args=[staged.pk]),
        lead,
        lambda: {},
        lambda: LabReport.objects.filter(result_import=staged).count(),
        1,
        # A repeat arriving while the first is still recording is sent to the import's
        # progress page, one arriving after it to where the first went.
        same_answer_at_once=False,
    )


def confirm_onboarding(clinic):
    lead = _lead(clinic)
    staged, _ = onboarding_stage(
        clinic=clinic,
        content=b"hospital_number,given_name,family_name,date_of_birth,sex,"
        b"course_1_first_day,course_1_dose_mg\nONB-1,Ola,Onboard,1990-05-06,F,2022-03-07,12\n",
        file_name="patients.csv",
        uploaded_by=lead,
    )
    return Form(
        reverse("patients:onboarding_preview", args=[staged.pk]),
        lead,
        lambda: {},
        lambda: (
            Patient.objects.filter(hospital_number="ONB-1").count()
            + InfusionCourse.objects.filter(patient__hospital_number="ONB-1").count()
        ),
        2,  # one patient, one course
    )


def invite_patient(clinic):
    patient = PatientFactory(clinic=clinic, email="ines@example.org")
    return Form(
        reverse("patients:invite", args=[patient.pk]),
        _lead(clinic),
        lambda: {},
        lambda: Invitation.objects.filter(patient=patient).count() + len(mail.outbox),
        2,  # one invitation, one e-mail
    )


def _portal_patient(clinic):
    patient = _treated(clinic)
    user = UserFactory(username="ada@example.org", email="ada@example.org")
    grant_role(user, Role.PATIENT)
    patient.user = user
    patient.save(update_fields=["user"])
    return patient


def reminder_choices(clinic):
    patient = _portal_patient(clinic)
    versions = patient.history.count()
    return Form(
        reverse("portal:reminders"),
        patient.user,
        lambda: {"reminder_leads": "14,7,1"},
        lambda: patient.history.count(),
        versions + 1,
        second_factor=False,
    )


def report_symptoms(clinic):
    patient = _portal_patient(clinic)
    return Form(
        reverse("portal:symptom_report"),
        patient.user,
        lambda: {"symptoms": ["bleeding"], "details": "Bruises on both arms."},
        lambda: SymptomReport.objects.filter(patient=patient).count(),
        1,
        second_factor=False,
    )


def acknowledge_symptoms(clinic):
    patient = _portal_patient(clinic)
    report = symptom_report_create(
        patient=patient,
        symptom_codes=["bleeding"],
        details="Bruises on both arms.",
        reported_by=patient.user,
        submission_key=uuid.uuid4(),
        now=timezone.now(),
    )
    return Form(
        reverse("monitoring:symptom_acknowledge", args=[report.pk]),
        _lead(clinic),
        lambda: {"action": "urgent_test_booked", "note": "Blood count at 2 pm today."},
        lambda: Acknowledgement.objects.filter(symptom_report=report).count(),
        1,
    )


def calendar_link(clinic):
    patient = _portal_patient(clinic)
    return Form(
        reverse("portal:calendar"),
        patient.user,
        lambda: {"action": "create"},
        lambda: CalendarFeed.objects.filter(patient=patient).count(),
        1,
        second_factor=False,
    )


def calendar_alarm(clinic):
    patient = _portal_patient(clinic)
    calendar_feed_create(patient=patient, now=timezone.now())
    return Form(
        reverse("portal:calendar"),
        patient.user,
        lambda: {"action": "alarm", "reminder_alarm": "on"},
        lambda: CalendarFeed.objects.filter(patient=patient, reminder_alarm=True).count(),
        1,
        second_factor=False,
    )


def accept_invitation(clinic):
    patient = PatientFactory(clinic=clinic, email="ines@example.org")
    invitation_send(patient=patient, invited_by=_lead(clinic), now=timezone.now())
    link = re.search(r"https?://\S+/portal/invitation/\S+/", mail.outbox[-1].body).group(0)
    password = "a-long-and-unusual-passphrase"
    return Form(
        urlsplit(link).path,
        None,
        lambda: {"password": password, "password_again": password},
        lambda: get_user_model().objects.filter(email="ines@example.org").count(),
        1,
        same_answer_at_once=False,
    )


def confirm_second_factor(clinic):
    user = lead_of(clinic, "new_lead")
    return Form(
        reverse("accounts:two_factor_setup"),
        user,
        lambda: {"token": current_code(TOTPDevice.objects.get(user=user))},
        lambda: TOTPDevice.objects.filter(user=user, confirmed=True).count(),
        1,
        second_factor=False,
        same_answer_at_once=False,
    )


def _versions(record) -> int:
    return record.history.count()


def edit_patient(clinic):
    patient = _treated(clinic)
    versions = _versions(patient)
    data = {
        "email": "ada.new@example.org",
        "email_reminders": "on",
        "reminder_leads": "7,1",
        "tracked_from": patient.tracked_from.isoformat(),
        "protocol": patient.protocol_id,
        "reason": "New address",
    }
    return Form(
        reverse("patients:edit", args=[patient.pk]),
        _lead(clinic),
        lambda: data,
        lambda: _versions(patient),
        versions + 1,
    )


def change_status(clinic):
    patient = _treated(clinic)
    versions = _versions(patient)
    return Form(
        reverse("patients:status", args=[patient.pk]),
        _lead(clinic),
        lambda: {"status": "withdrawn", "reason": "Moved abroad"},
        lambda: _versions(patient),
        versions + 1,
    )


def move_course(clinic):
    course = _treated(clinic).courses.get()
    versions = _versions(course)
    moved = course.first_infusion_date + timedelta(days=7)
    data = {
        "first_infusion_date": moved.isoformat(),
        "days": course.days,
        "daily_dose_mg": "12",
        "reason": "Typed a week early",
    }
    return Form(
        reverse("patients:course_edit", args=[course.pk]),
        _lead(clinic),
        lambda: data,
        lambda: _versions(course),
        versions + 1,
    )


def cancel_course(clinic):
    course = _treated(clinic).courses.get()
    versions = _versions(course)
    return Form(
        reverse("patients:course_cancel", args=[course.pk]),
        _lead(clinic),
        lambda: {"reason": "Entered for the wrong patient"},
        lambda: _versions(course),
        versions + 1,
    )


def record_given(clinic):
    course = _treated(clinic).courses.get()  # planned
    versions = _versions(course)
    return Form(
        reverse("patients:course_given", args=[course.pk]),
        _lead(clinic),
        lambda: {"baseline_override_reason": "Labs seen on the GP's record."},
        lambda: _versions(course),
        versions + 1,
    )


# The lab feeds' screens (labfeeds.views).


def _waiting_group(clinic):
    """A lab message of two results for a hospital number the clinic does not know."""
    lab = LabConnection.objects.create(clinic=clinic, name="City lab", hl7_sending_facility="CITY")
    message, _ = message_receive(protocol="hl7", raw="MSH|", connection=lab, control_id="M1")
    sample = clinic.today() - timedelta(days=1)
    feed_record(
        message=message,
        results=[
            FeedResult("OBX[1]", "WRONG-1", "777-3", "210", sample, unit="10^9/L"),
            FeedResult("OBX[2]", "WRONG-1", "751-8", "3.2", sample, unit="10^9/L"),
        ],
    )
    return WaitingResult.objects.order_by("pk").first()


def match_waiting(clinic):
    row = _waiting_group(clinic)
    patient = _treated(clinic)
    return Form(
        reverse("labfeeds:waiting_match", args=[row.pk]) + f"?patient={patient.pk}",
        _lead(clinic),
        lambda: {"patient": patient.pk},
        lambda: LabReport.objects.filter(patient=patient).count(),
        1,
    )


def dismiss_waiting(clinic):
    row = _waiting_group(clinic)
    return Form(
        reverse("labfeeds:waiting_dismiss", args=[row.pk]),
        _lead(clinic),
        lambda: {"reason": "Not one of our patients; the lab was told."},
        # One audit entry per row dismissed, however often it was submitted.
        lambda: sum(_changes_of(r) for r in WaitingResult.objects.all()),
        2,
    )


def add_connection(clinic):
    return Form(
        reverse("labfeeds:connection_create"),
        _lead(clinic),
        lambda: {"clinic": clinic.pk, "name": "North lab", "hl7_sending_facility": "NORTH"},
        lambda: LabConnection.objects.filter(name="North lab").count(),
        1,
    )


def _connection(clinic):
    return LabConnection.objects.create(clinic=clinic, name="City lab", hl7_sending_facility="C")


def edit_connection(clinic):
    lab = _connection(clinic)
    return Form(
        reverse("labfeeds:connection_edit", args=[lab.pk]),
        _lead(clinic),
        lambda: {"name": "City lab", "hl7_sending_facility": "C", "assigning_authority": "CITY"},
        lambda: _changes_of(lab),
        1,
    )


def switch_connection(clinic):
    lab = _connection(clinic)
    return Form(
        reverse("labfeeds:connection_switch", args=[lab.pk]),
        _lead(clinic),
        lambda: {"active": ""},
        lambda: _changes_of(lab),
        1,
    )


def make_token(clinic):
    return Form(
        reverse("labfeeds:token_create"),
        _lead(clinic),
        lambda: {"name": "EPR", "scope": "read", "connection": "", "clinic": clinic.pk},
        lambda: ApiToken.objects.count(),
        1,
    )


def revoke_token(clinic):
    lead = _lead(clinic)
    token = token_create(clinic=clinic, name="EPR", scope="read", created_by=lead).token
    return Form(
        reverse("labfeeds:token_revoke", args=[token.pk]),
        lead,
        dict,
        lambda: _changes_of(token),
        1,
    )


def set_retention(clinic):
    return Form(
        reverse("labfeeds:retention", args=[clinic.pk]),
        _lead(clinic),
        lambda: {"lab_message_retention_days": "30"},
        lambda: sum(
            "lab_message_retention_days" in (entry.changes or {})
            for entry in LogEntry.objects.get_for_object(clinic).filter(
                action=LogEntry.Action.UPDATE
            )
        ),
        1,
    )


def refresh_figures(clinic):
    """A lead's "Refresh now" on the overview: each run of the refresh is counted. The spy
    wraps the real refresh, so it changes nothing if a failing test never stops it."""
    from reports.overview import views as overview_views

    patcher = mock.patch.object(
        overview_views, "figures_refresh", wraps=overview_views.figures_refresh
    )
    spy = patcher.start()

    def stored() -> int:
        patcher.stop()
        return spy.call_count

    return Form(f"{reverse('reports:overview')}?clinic={clinic.pk}", _lead(clinic), dict, stored, 1)


def _on_natalizumab(clinic):
    """A patient who started natalizumab today, infusion 1 planned for today."""
    patient = PatientFactory(clinic=clinic)
    episode_start(patient=patient, therapy="natalizumab", started_on=clinic.today())
    return patient.episodes.get()


def start_therapy(clinic):
    patient = PatientFactory(clinic=clinic)
    return Form(
        reverse("patients:therapy_start", args=[patient.pk]),
        _lead(clinic),
        lambda: {"therapy": "teriflunomide", "started_on": clinic.today().isoformat()},
        lambda: patient.episodes.count(),
        1,
    )


def stop_therapy(clinic):
    episode = _on_natalizumab(clinic)
    versions = _versions(episode)
    return Form(
        reverse("patients:therapy_stop", args=[episode.pk]),
        _lead(clinic),
        lambda: {"stopped_on": clinic.today().isoformat(), "stop_reason": "patient_choice"},
        lambda: _versions(episode),
        versions + 1,
    )


def plan_dose(clinic):
    episode = _on_natalizumab(clinic)
    return Form(
        reverse("patients:dose_plan", args=[episode.pk]),
        _lead(clinic),
        lambda: {"planned_on": (clinic.today() + timedelta(days=28)).isoformat()},
        lambda: episode.doses.count(),
        2,
    )


def cancel_dose(clinic):
    dose = _on_natalizumab(clinic).doses.get()
    versions = _versions(dose)
    return Form(
        reverse("patients:dose_cancel", args=[dose.pk]),
        _lead(clinic),
        lambda: {"cancelled_reason": "The patient moved away."},
        lambda: _versions(dose),
        versions + 1,
    )


def dose_checklist(clinic):
    dose = _on_natalizumab(clinic).doses.get()
    versions = _versions(dose)
    return Form(
        reverse("patients:dose_checklist", args=[dose.pk]),
        _lead(clinic),
        lambda: {question.code: question.safe_answer for question in CHECKLIST},
        lambda: _versions(dose),
        versions + 1,
    )


def dose_given(clinic):
    episode = _on_natalizumab(clinic)
    return Form(
        reverse("patients:dose_given", args=[episode.doses.get().pk]),
        _lead(clinic),
        lambda: {
            "given_on": clinic.today().isoformat(),
            "gate_override_reason": "Checklist asked by phone this morning.",
        },
        # Given once, and the next infusion planned once.
        lambda: episode.doses.filter(status="given").count() + episode.doses.count(),
        1 + 2,
    )


FORMS = [
    add_patient,
    add_course,
    edit_patient,
    change_status,
    move_course,
    cancel_course,
    record_given,
    add_course,
    log_results,
    record_check_done,
    correct_result,
    result_in_error,
    report_in_error,
    acknowledge_result,
    follow_up_check,
    waive_check,
    confirm_import,
    confirm_onboarding,
    invite_patient,
    reminder_choices,
    report_symptoms,
    acknowledge_symptoms,
    calendar_link,
    calendar_alarm,
    accept_invitation,
    confirm_second_factor,
    match_waiting,
    dismiss_waiting,
    add_connection,
    edit_connection,
    switch_connection,
    make_token,
    revoke_token,
    set_retention,
    refresh_figures,
    start_therapy,
    stop_therapy,
    plan_dose,
    cancel_dose,
    dose_checklist,
    dose_given,
]


def _client(form: Form) -> Client:
    client = Client()
    if form.user is not None:
        sign_in(client, form.user, second_factor=form.second_factor)
    return client


def _page_data(client: Client, form: Form) -> dict:
    """What the page posts: its hidden fields as shown, and what the user fills in."""
    page = client.get(form.url)
    assert page.status_code == 200, page.status_code
    return {**hidden_fields(page), **form.data()}


def _answers(responses) -> list[tuple[int, str]]:
    return [(response.status_code, response.get("Location", "")) for response in responses]


@pytest.mark.django_db
@pytest.mark.parametrize("make", FORMS, ids=lambda make: make.__name__)
def test_the_same_submission_five_times_in_a_row_stores_one(make, clinic_a):
    form = make(clinic_a)
    client = _client(form)
    data = _page_data(client, form)

    answers = _answers(client.post(form.url, data) for _ in range(TIMES))

    assert all(status < 500 for status, _ in answers), answers
    assert form.stored() == form.expected
    # Each repeat is sent where the first one went.
    assert answers[0][0] == 302 and set(answers) == {answers[0]}, answers


@pytest.mark.postgres
# Serialized like every transactional test, so the flush after it keeps the seeded data.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("make", FORMS, ids=lambda make: make.__name__)
def test_the_same_submission_five_times_at_once_stores_one(make, clinic_a):
    if connection.vendor != "postgresql":
        pytest.skip("Concurrent requests need PostgreSQL; SQLite serialises the whole database.")
    form = make(clinic_a)
    first = _client(form)
    data = _page_data(first, form)
    clients = [first] + [_client(form) for _ in range(TIMES - 1)]
    answers = _post_at_once([(client, form.url, data) for client in clients])

    assert all(status < 500 for status, _ in answers), answers
    assert form.stored() == form.expected
    if form.same_answer_at_once:
        assert answers[0][0] == 302 and set(answers) == {answers[0]}, answers


def _post_at_once(posts) -> list[tuple[int, str]]:
    """Each (client, url, data) posted from its own thread, all released together."""
    barrier = threading.Barrier(len(posts))
    answers: list = [None] * len(posts)

    def post(index, client, url, data):
        try:
            barrier.wait()
            response = client.post(url, data)
            answers[index] = (response.status_code, response.get("Location", ""))
        except Exception as error:  # pragma: no cover - shown by the assertion
            answers[index] = (599, repr(error))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=post, args=(index, *args)) for index, args in enumerate(posts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


# Different people submitting different forms at the same moment for the same thing: one is
# stored, the others are told why on the form, naming the field, and nobody gets a 500.


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize(
    "make",
    [add_patient, add_course],
    ids=["the same patient", "a course to one patient"],
)
def test_two_people_adding_the_same_thing_at_once_get_one_and_a_field_error(make, clinic_a):
    if connection.vendor != "postgresql":
        pytest.skip("Concurrent requests need PostgreSQL; SQLite serialises the whole database.")
    form = make(clinic_a)
    posts = []
    for _ in range(TIMES):
        client = _client(form)
        posts.append((client, form.url, _page_data(client, form)))

    answers = _post_at_once(posts)
    statuses = sorted(status for status, _ in answers)

    assert statuses == [200] * (TIMES - 1) + [302], answers
    assert form.stored() == 1


@pytest.mark.django_db
def test_a_course_number_taken_meanwhile_is_refused_on_the_number(clinic_a):
    patient = with_course_one(PatientFactory(clinic=clinic_a), on=date(2025, 2, 3))
    # The course form numbered its course 1 when it was shown; someone else saved course 1.
    with pytest.raises(ValidationError) as refused:
        course_add(
            patient=patient,
            number=1,
            first_infusion_date=date(2025, 2, 3),
            daily_dose_mg=Decimal(12),
        )
    assert "Course 1 has just been recorded" in refused.value.message_dict["number"][0]
    assert patient.courses.count() == 1


@pytest.mark.django_db
def test_a_hospital_number_taken_meanwhile_is_refused_naming_the_field(clinic_a):
    taken = PatientFactory(clinic=clinic_a)
    with pytest.raises(ValidationError) as refused:
        patient_create(
            clinic=clinic_a,
            hospital_number=taken.hospital_number,
            given_name="Nia",
            family_name="New",
            date_of_birth=date(1991, 4, 2),
            sex="F",
        )
    assert "already the hospital number of" in str(refused.value.message_dict["hospital_number"])
    assert Patient.objects.filter(hospital_number=taken.hospital_number).count() == 1


@pytest.mark.django_db
def test_a_key_copied_from_someone_elses_submission_is_refused_not_followed(clinic_a):
    form = add_course(clinic_a)
    mine = _client(form)
    data = _page_data(mine, form)
    assert mine.post(form.url, data).status_code == 302
    other = sign_in(Client(), lead_of(clinic_a, "lead_other"))

    response = other.post(form.url, data)

    assert response.status_code == 400  # not sent to the first one's outcome, nothing stored
    assert form.stored() == 1
