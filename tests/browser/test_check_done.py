"""A nurse records a skin examination done by a dermatologist, with an abnormal finding, from the
worklist in real Chromium: the check leaves the worklist's due checks and the finding waits at
the top of the results to acknowledge."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import F
from playwright.sync_api import expect

from accounts.roles import Role
from monitoring.models import LabReport, ScheduledCheck
from patients.services import course_add
from tests.auth import staff_of, totp_device
from tests.factories import ClinicFactory, PatientFactory

from .pages import sign_in_staff, user_with_password

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_nurse_records_an_abnormal_skin_examination_from_the_worklist(desktop_page, screenshot):
    page = desktop_page
    clinic = ClinicFactory(code="south", name="South MS Centre")
    nurse = user_with_password("nell", first_name="Nell", last_name="Tester")
    staff_of(clinic, nurse, Role.NURSE)
    totp_device(nurse)
    clinic.nurses.add(nurse)
    patient = PatientFactory(clinic=clinic, given_name="Ines", family_name="Moreau")
    # Course 1 a year ago less five days: the yearly skin check is due this week.
    course_add(
        patient=patient,
        first_infusion_date=clinic.today() - timedelta(days=360),
        daily_dose_mg=Decimal(12),
    )
    ScheduledCheck.objects.open().filter(overdue_after__lt=clinic.today()).update(
        completed_on=F("due_date")
    )

    sign_in_staff(page, nurse)  # she lands on her worklist
    due = page.locator("section#due")
    skin_row = due.locator("tbody tr", has_text="MOREAU, Ines")
    skin_row.get_by_role("link", name=re.compile("Record as done Skin")).click()

    expect(page.get_by_role("heading", name="Record as done: Skin examination")).to_be_visible()
    page.get_by_label("Abnormal").check()
    page.get_by_label("Done where or by whom").select_option("dermatologist")
    page.get_by_label("Name (practice, doctor or hospital)").fill("Dr Okafor")
    page.get_by_role("button", name="Record as done").click()
    # Abnormal without a note: refused beside the note, nothing stored.
    expect(page.locator("#id_notes")).to_have_class(re.compile("is-invalid"))
    assert not LabReport.objects.filter(patient=patient).exists()
    page.get_by_label("Note").fill("Atypical naevus on the back; excision booked.")
    page.get_by_label("Document reference").fill("DER-2291")
    screenshot(page, "check-done-form")
    page.get_by_role("button", name="Record as done").click()

    expect(page).to_have_url(re.compile(r"/worklist/"))
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    # The finding waits as an amber result; the patient's row has no skin check left.
    row = page.locator("tbody tr", has_text="MOREAU, Ines")
    expect(row).to_contain_text("amber")
    expect(row.get_by_role("link", name=re.compile("Record as done Skin"))).to_have_count(0)
    screenshot(page, "check-done-worklist")
    report = LabReport.objects.get(patient=patient)
    assert (report.done_by, report.document_reference) == ("dermatologist", "DER-2291")
