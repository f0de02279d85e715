"""Staff onboard two patients treated years ago from a CSV file in real Chromium, and the
worklist stays clean: their years of past checks are history, not overdue work."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from monitoring.models import ScheduledCheck
from patients.models import Patient
from tests.auth import staff_of, totp_device
from tests.factories import ClinicFactory

from .pages import sign_in_staff, user_with_password

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

CSV = (
    "hospital_number,given_name,family_name,date_of_birth,sex,email,named_nurse,"
    "course_1_first_day,course_1_days,course_1_dose_mg,course_2_first_day,course_2_days,"
    "course_2_dose_mg\n"
    "W-3001,Ines,Moreau,1984-04-02,F,ines@example.org,pat,2021-03-15,5,12,2023-03-20,3,12\n"
    "W-3002,Jonas,Berg,1979-10-11,M,jonas@example.org,,2019-06-03,5,12,2020-06-08,3,12\n"
)


def test_staff_onboard_two_patients_from_a_csv_file_and_see_a_clean_worklist(
    desktop_page, screenshot
):
    page = desktop_page
    clinic = ClinicFactory(code="west", name="West MS Centre")
    # A nurse who also enters records: the clinic's staff and its nurse group.
    pat = user_with_password("pat", first_name="Pat", last_name="Tester")
    staff_of(clinic, pat, Role.CLINIC_STAFF, Role.NURSE)
    clinic.nurses.add(pat)
    totp_device(pat)

    sign_in_staff(page, pat)  # a nurse: she lands on her worklist
    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_role("link", name="Onboard from a spreadsheet").click()
    expect(page.get_by_role("heading", name="Onboard patients from a spreadsheet")).to_be_visible()
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "west.csv", "mimeType": "text/csv", "buffer": CSV.encode()}]
    )
    page.get_by_role("button", name="Preview").click()

    expect(page).to_have_url(re.compile(r"/patients/onboarding/\d+/$"))
    main = page.get_by_role("main")
    expect(main).to_contain_text("2 patients will be created and 0 updated, with 4 courses added.")
    screenshot(page, "staff-onboarding-preview")
    page.get_by_role("button", name="Record 2 patients").click()

    expect(page).to_have_url(re.compile(r"/patients/$"))
    expect(main).to_contain_text("Onboarded: 2 patients created")
    expect(main).to_contain_text("MOREAU, Ines")
    onboarded = Patient.objects.filter(clinic=clinic)
    assert onboarded.count() == 2
    # Years of checks were planned, and those that fell overdue before today are history.
    assert ScheduledCheck.objects.filter(patient__in=onboarded, before_tracking=True).count() > 300

    page.get_by_role("link", name="Worklist").click()
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    overdue = page.locator("section", has=page.get_by_role("heading", name=re.compile("Overdue")))
    expect(overdue).to_contain_text("No check is overdue.")
    expect(overdue).not_to_contain_text("MOREAU")
    expect(overdue).not_to_contain_text("BERG")
    screenshot(page, "staff-onboarding-worklist")
