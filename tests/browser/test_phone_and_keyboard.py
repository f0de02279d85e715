"""Usable without a mouse and on a phone: the sign-in works from the keyboard alone, and every
portal page and the main staff pages fit a phone's width (wide tables scroll in their own box)."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.roles import Role, grant_role
from monitoring.models import Analyte
from monitoring.results.entry import ResultInput
from monitoring.results.services import report_record
from patients.services import course_add
from tests.auth import staff_of, totp_device
from tests.factories import ClinicFactory, PatientFactory

from .pages import (
    PASSWORD,
    has_no_sideways_scroll,
    sign_in,
    sign_in_staff,
    too_wide,
    user_with_password,
)

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

PORTAL_PAGES = [
    "/portal/",
    "/portal/results/",
    "/portal/schedule/",
    "/portal/reminders/",
    "/portal/symptoms/",
    "/portal/calendar/",
]
# The home page fits two phone screens, however many tests are overdue or done.
HOME_HEIGHT_LIMIT = 2 * 844


@pytest.fixture
def treated_patient():
    clinic = ClinicFactory(code="north", name="North MS Centre")
    patient = PatientFactory(clinic=clinic, given_name="Maya", family_name="Lindqvist")
    course_add(
        patient=patient,
        first_infusion_date=clinic.today() - timedelta(days=400),
        daily_dose_mg=Decimal(12),
    )
    return patient


@pytest.fixture
def portal_patient(treated_patient):
    """The patient, with a portal account `maya`."""
    user = user_with_password("maya")
    grant_role(user, Role.PATIENT)
    treated_patient.user = user
    treated_patient.save()
    return treated_patient


def test_sign_in_needs_no_mouse(desktop_page, portal_patient):
    page = desktop_page
    page.goto("/sign-in/")
    # The form puts the cursor in the first field; from there on Tab and Enter do the rest.
    expect(page.get_by_label("Username")).to_be_focused()
    page.keyboard.type("maya")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Hello Maya")).to_be_visible()


def test_every_portal_page_fits_a_phone(phone_page, portal_patient):
    page = phone_page
    sign_in(page, "maya", PASSWORD)
    expect(page.get_by_role("heading", name="Hello Maya")).to_be_visible()
    for path in PORTAL_PAGES:
        page.goto(path)
        # The page asked for, not one it was sent on to.
        expect(page).to_have_url(re.compile(re.escape(path) + "$"))
        assert has_no_sideways_scroll(page), f"{path} is wider than a phone: {too_wide(page)}"
        if path == "/portal/":
            height = page.evaluate("document.documentElement.scrollHeight")
            assert height <= HOME_HEIGHT_LIMIT, f"the home page is {height} px tall"
        # The menu folds into one button that opens by keyboard.
        toggler = page.get_by_role("button", name="Menu")
        toggler.focus()
        page.keyboard.press("Enter")
        expect(page.get_by_role("link", name="My tests")).to_be_visible()


def test_the_nurses_pages_fit_a_phone(phone_page, treated_patient):
    page = phone_page
    clinic = treated_patient.clinic
    nurse = user_with_password("nina")
    staff_of(clinic, nurse, Role.NURSE)
    clinic.nurses.add(nurse)
    analyte = Analyte.objects.get(code="platelets")
    report_record(
        patient=treated_patient,
        panel="blood_count",
        sample_collected_on=clinic.today() - timedelta(days=1),
        entries=[ResultInput(analyte, "45", "10^9/L")],
        entered_by=nurse,
    )
    totp_device(nurse)
    sign_in_staff(page, nurse)
    for path in ["/worklist/", "/patients/", f"/patients/{treated_patient.pk}/"]:
        page.goto(path)
        # Not the code page: that one fits a phone too, and would pass in its place.
        expect(page).to_have_url(re.compile(re.escape(path) + "$"))
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert has_no_sideways_scroll(page), f"{path} is wider than a phone: {too_wide(page)}"
