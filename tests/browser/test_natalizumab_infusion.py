"""A nurse gives a natalizumab infusion in real Chromium: from the patient's page she opens the
planned infusion's pre-infusion checklist, answers it at the chair, is taken on to recording the
infusion as given, and is back on the page with infusion 1 given and infusion 2 planned 28 days
later."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from monitoring.domain import gates, therapies
from patients.models import TherapyDose
from patients.therapies.services import episode_start
from tests.auth import staff_of, totp_device
from tests.factories import ClinicFactory, PatientFactory

from .pages import displayed_date, sign_in_staff, user_with_password

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_nurse_answers_the_checklist_and_records_the_infusion(desktop_page, screenshot):
    page = desktop_page
    clinic = ClinicFactory(code="north", name="North MS Centre")
    nurse = user_with_password("nadia", first_name="Nadia", last_name="Tester")
    staff_of(clinic, nurse, Role.NURSE)
    totp_device(nurse)
    clinic.nurses.add(nurse)
    patient = PatientFactory(clinic=clinic, given_name="Tove", family_name="Lindqvist")
    today = clinic.today()
    episode_start(
        patient=patient, therapy=therapies.NATALIZUMAB, started_on=today, recorded_by=nurse
    )

    sign_in_staff(page, nurse)  # she lands on her worklist, where the infusion is due today
    expect(page.locator("section#doses")).to_contain_text("LINDQVIST, Tove")
    page.goto(f"/patients/{patient.pk}/")
    therapies_section = page.locator("section", has=page.locator("#therapies-h"))
    expect(therapies_section).to_contain_text("Natalizumab (Tysabri)")
    expect(therapies_section).to_contain_text("Pre-infusion checklist not yet answered.")
    therapies_section.get_by_role("link", name="Checklist infusion 1").click()

    expect(page.get_by_role("heading", name="Pre-infusion checklist: infusion 1")).to_be_visible()
    for question in gates.CHECKLIST:
        answer = 0 if question.safe_answer == gates.YES else 1  # the options: yes, then no
        page.locator(f"#id_{question.code}_{answer}").check()
    screenshot(page, "natalizumab-checklist")
    page.get_by_role("button", name="Save the checklist").click()

    expect(page.get_by_role("heading", name="Record infusion 1 as given")).to_be_visible()
    expect(page.locator(".dose-gate")).to_contain_text("no concerns")
    expect(page.get_by_label("Given on")).to_have_value(today.isoformat())
    page.get_by_role("button", name="Record as given").click()

    expect(page).to_have_url(re.compile(rf"/patients/{patient.pk}/"))
    doses = page.locator("tr.therapy-dose")
    expect(doses).to_have_count(2)
    expect(doses.nth(0)).to_contain_text(f"given {displayed_date(today, clinic)}")
    expect(doses.nth(1)).to_contain_text(
        f"planned {displayed_date(today + timedelta(days=28), clinic)}"
    )
    screenshot(page, "natalizumab-given")
    given, following = TherapyDose.objects.filter(episode__patient=patient).order_by("number")
    assert (given.status, given.given_on, given.given_recorded_by) == ("given", today, nurse)
    assert (following.status, following.planned_on) == ("planned", today + timedelta(days=28))
