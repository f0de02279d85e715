"""The three users' journeys in real Chromium against the app served by gunicorn: clinic staff
logging a dangerous platelet count, the nurse acknowledging it, and a patient opening the
portal. Each saves a screenshot (var/screenshots/; the README shows copies from docs/)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone
from icalendar import Calendar
from playwright.sync_api import expect

from accounts.roles import Role
from monitoring.alerts.symptom_reports import symptom_report_create
from monitoring.models import Acknowledgement, Analyte, LabResult, ScheduledCheck
from monitoring.results.entry import ResultInput
from monitoring.results.services import report_record
from patients.models import Patient
from patients.services import course_add
from portal.invitations import invitation_send
from tests.auth import staff_of, totp_device
from tests.factories import ClinicFactory, PatientFactory

from .pages import (
    PASSWORD,
    displayed_date,
    has_no_sideways_scroll,
    sign_in,
    sign_in_staff,
    sign_out,
    user_with_password,
)

# The server is another process: the data must be committed for it to see, and the migrations'
# own rows (analytes, the default protocol) are put back after each test.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def clinic():
    return ClinicFactory(
        code="north",
        name="North MS Centre",
        test_instructions="Blood test clinic, ground floor, weekdays 8:00 to 16:00.",
    )


def person(clinic, username, *roles):
    user = user_with_password(username, first_name=username.title(), last_name="Tester")
    staff_of(clinic, user, *roles)
    totp_device(user)  # their authenticator app, set up on an earlier day
    return user


def platelet_count(patient, value, user):
    analyte = Analyte.objects.get(code="platelets")
    report_record(
        patient=patient,
        panel="blood_count",
        sample_collected_on=patient.clinic.today() - timedelta(days=1),
        entries=[ResultInput(analyte, str(value), "10^9/L")],
        entered_by=user,
    )


def test_staff_add_a_patient_and_course_one_and_see_platelets_of_45_flagged_critical(
    desktop_page, clinic, screenshot
):
    page = desktop_page
    staff = person(clinic, "sam", Role.CLINIC_STAFF)
    today = clinic.today()

    sign_in_staff(page, staff)

    main = page.get_by_role("main")
    main.get_by_role("link", name="Add patient").click()
    page.get_by_label("Hospital number").fill("N-2041")
    page.get_by_label("Given name").fill("Maya")
    page.get_by_label("Family name").fill("Lindqvist")
    page.get_by_label("Date of birth").fill("1989-06-12")
    page.get_by_label("Sex").select_option(label="Female")
    page.get_by_role("button", name="Add patient").click()
    expect(page).to_have_url(re.compile(r"/patients/\d+/$"))
    expect(page.get_by_role("heading", name=re.compile("Maya"))).to_be_visible()
    patient = Patient.objects.get(hospital_number="N-2041")
    patient_page = re.compile(rf"/patients/{patient.pk}/$")
    expect(page).to_have_url(patient_page)

    main.get_by_role("link", name="Add course").click()
    first_day = today - timedelta(days=40)
    page.get_by_label("First infusion date").fill(first_day.isoformat())
    page.get_by_label("Daily dose (mg)").fill("12")
    page.get_by_label("Status").select_option(label="Given")
    page.get_by_role("button", name="Add course").click()

    # The schedule appears: five years of monthly checks, with this month's marked.
    expect(page).to_have_url(patient_page)
    expect(page.get_by_text("this month", exact=True)).to_be_visible()
    checks = ScheduledCheck.objects.filter(patient=patient)
    assert checks.filter(panel="blood_count").count() >= 60
    first_blood_count = checks.filter(panel="blood_count").earliest("due_date")
    month = displayed_date(first_blood_count.due_date, clinic, "F Y")
    expect(page.get_by_text(month).first).to_be_visible()

    main.get_by_role("button", name="Log results").click()
    main.get_by_role("link", name="Blood count").click()
    page.get_by_label("Sample collected").fill((today - timedelta(days=1)).isoformat())
    page.get_by_label("Platelets", exact=True).fill("45")
    page.get_by_role("button", name="Save results").click()

    expect(page).to_have_url(patient_page)
    latest = page.locator(".card", has_text="Platelets").first
    expect(latest.get_by_text("critical", exact=True).first).to_be_visible()
    expect(page.get_by_text("Emergency: call the patient now").first).to_be_visible()
    result = LabResult.objects.get(report__patient=patient, analyte__code="platelets")
    assert result.tier == "critical"
    screenshot(page, "staff-critical-platelets")


def test_nurse_lands_on_the_worklist_acknowledges_a_symptom_report_and_bulk_waives_by_keyboard(
    desktop_page, clinic, screenshot
):
    page = desktop_page
    staff = person(clinic, "sam", Role.CLINIC_STAFF)
    nurse = person(clinic, "nina", Role.NURSE)
    clinic.nurses.add(nurse)
    bruised = PatientFactory(clinic=clinic, given_name="Olu", family_name="Adeyemi")
    critical = PatientFactory(clinic=clinic, given_name="Maya", family_name="Lindqvist")
    overdue = PatientFactory(clinic=clinic, given_name="Ben", family_name="Okafor")
    for patient in (bruised, critical, overdue):
        course_add(
            patient=patient,
            first_infusion_date=clinic.today() - timedelta(days=200),
            daily_dose_mg=Decimal(12),
        )
    # Everyone is up to date but Ben, who missed last month's visit.
    ScheduledCheck.objects.open().filter(overdue_after__lt=clinic.today()).exclude(
        patient=overdue, due_date__gte=clinic.today() - timedelta(days=40)
    ).update(completed_on=F("due_date"))
    platelet_count(critical, 45, staff)
    symptom_report_create(
        patient=bruised,
        symptom_codes=["bleeding"],
        details="Bruises on both shins since Sunday.",
        reported_by=bruised.user or staff,
        submission_key=uuid.uuid4(),
        now=timezone.now(),
    )
    missed = list(
        ScheduledCheck.objects.open()
        .filter(patient=overdue, overdue_after__lt=clinic.today())
        .order_by("panel")
    )
    assert len(missed) >= 2

    sign_in_staff(page, nurse)  # a nurse lands on her worklist
    expect(page.get_by_role("heading", name="Worklist", level=1)).to_be_visible()
    urgent = page.locator("section#urgent")
    first = urgent.locator("tbody tr").first
    expect(first).to_contain_text("ADEYEMI, Olu")
    expect(first).to_contain_text("Bruises on both shins since Sunday.")
    expect(urgent.locator("tbody tr").nth(1)).to_contain_text("LINDQVIST, Maya")
    screenshot(page, "nurse-worklist")

    # Keyboard only from here: the symptom report, acknowledged from its row.
    first.get_by_label(re.compile("What was done about the symptom report")).focus()
    page.keyboard.press("ArrowDown")  # the first real choice: called the patient
    page.keyboard.press("Tab")
    page.keyboard.type("Called Olu: urgent blood count booked for this afternoon.")
    page.keyboard.press("Tab")
    expect(first.get_by_role("button", name=re.compile("Acknowledge"))).to_be_focused()
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/worklist/"))
    expect(page.get_by_text("acknowledged", exact=False).first).to_be_visible()
    expect(urgent.locator("tbody tr").first).to_contain_text("LINDQVIST, Maya")
    acknowledgement = Acknowledgement.objects.get(symptom_report__patient=bruised)
    assert (acknowledgement.acknowledged_by, acknowledgement.action) == (nurse, "called_patient")

    # Two of Ben's missed checks ticked, then one reason for both from the bar.
    row = page.locator("section#overdue tbody tr", has_text="OKAFOR, Ben")
    for check in missed[:2]:
        row.locator(f"#check-{check.pk}").focus()
        page.keyboard.press("Space")
    page.locator("#bulk-waive").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")  # past the note's action, which a waiver does not need
    page.locator("#bulk-text").focus()
    page.keyboard.type("Done at the district hospital on 20 Nov.")
    page.keyboard.press("Enter")

    expect(page.get_by_text("2 checks of 1 patient waived.")).to_be_visible()
    for check in missed[:2]:
        check.refresh_from_db()
        assert (check.waived_by, check.waived_reason) == (
            nurse,
            "Done at the district hospital on 20 Nov.",
        )
    assert all(c.is_open for c in ScheduledCheck.objects.filter(pk__in=[c.pk for c in missed[2:]]))


def test_nurse_acknowledges_the_critical_result_on_its_row_by_keyboard(desktop_page, clinic):
    page = desktop_page
    staff = person(clinic, "sam", Role.CLINIC_STAFF)
    nurse = person(clinic, "nina", Role.NURSE)
    clinic.nurses.add(nurse)
    critical = PatientFactory(clinic=clinic, given_name="Maya", family_name="Lindqvist")
    platelet_count(critical, 45, staff)

    sign_in_staff(page, nurse)
    row = page.locator("section#urgent tbody tr").first
    expect(row).to_contain_text("critical")
    row.get_by_label(re.compile("What was done about Platelets")).focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.type("Seen.")  # a call was made, so a short note is enough
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/worklist/"))
    acknowledgement = Acknowledgement.objects.get(result__report__patient=critical)
    assert acknowledgement.action == "called_patient" and acknowledgement.note == "Seen."
    expect(page.locator("section#urgent")).not_to_contain_text("LINDQVIST")


def test_patient_accepts_the_invitation_signs_in_sees_the_next_check_and_gets_the_calendar(
    phone_page, clinic, screenshot, settings, mailoutbox, app_server
):
    page = phone_page
    staff = person(clinic, "sam", Role.CLINIC_STAFF)
    patient = PatientFactory(
        clinic=clinic, given_name="Maya", family_name="Lindqvist", email="maya@example.org"
    )
    course_add(
        patient=patient,
        first_infusion_date=clinic.today() - timedelta(days=100),
        daily_dose_mg=Decimal(12),
    )
    # The tests before today were done on their day.
    today = clinic.today()
    ScheduledCheck.objects.open().filter(patient=patient, overdue_after__lt=today).update(
        completed_on=F("due_date")
    )
    settings.SITE_URL = app_server.url
    invitation_send(patient=patient, invited_by=staff, now=timezone.now())
    (message,) = mailoutbox
    link = re.search(r"https?://\S+/portal/invitation/\S+", message.body).group(0)

    page.goto(link)
    expect(page.get_by_role("heading", name="Welcome, Maya")).to_be_visible()
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Type it again").fill(PASSWORD)
    page.get_by_role("button", name="Open my account").click()
    expect(page.get_by_role("heading", name="Hello Maya")).to_be_visible()

    # Out, and back in with the new password.
    sign_out(page)
    patient.refresh_from_db()
    sign_in(page, patient.user.username, PASSWORD)
    expect(page.get_by_role("heading", name="Hello Maya")).to_be_visible()

    today = clinic.today()
    next_check = (
        ScheduledCheck.objects.open()
        .filter(patient=patient)
        .filter(overdue_after__gte=today)
        .earliest("due_date")
    )
    first_day = page.locator(".portal-test-day").first
    expect(first_day).to_contain_text(displayed_date(next_check.due_date, clinic))
    assert has_no_sideways_scroll(page)
    screenshot(page, "patient-portal")

    page.get_by_role("link", name=re.compile("calendar", re.I)).first.click()
    page.get_by_role("button", name="Make my calendar link").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("Download")).click()
    calendar = Calendar.from_ical(download_info.value.path().read_bytes())
    events = calendar.walk("VEVENT")
    open_checks = ScheduledCheck.objects.open().filter(patient=patient)
    # One event per visit day; anything due before today is one event today.
    starts = [event.decoded("DTSTART") for event in events]
    assert len(starts) == len(set(starts))
    assert set(starts) == {
        max(day, today) for day in open_checks.values_list("due_date", flat=True)
    }
    assert has_no_sideways_scroll(page)
