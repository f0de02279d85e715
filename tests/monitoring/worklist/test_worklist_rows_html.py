"""The worklist's patient rows, drawn by Jinja2 (config.template_env): every value escaped, times
in the clinic's own zone, and the ticks of a refused bulk action kept."""

import uuid
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.roles import Role
from monitoring.alerts.symptom_reports import symptom_report_create
from tests.auth import sign_in, staff_of
from tests.builders import treated_patient
from tests.factories import ClinicFactory, UserFactory

pytestmark = pytest.mark.django_db

WORKLIST = reverse("monitoring:worklist")


def reported(patient, by, details: str, *, at: datetime):
    return symptom_report_create(
        patient=patient,
        symptom_codes=["bleeding"],
        details=details,
        reported_by=by,
        submission_key=uuid.uuid4(),
        now=at,
    )


def test_names_and_symptom_details_are_escaped(client, nurse_a, clinic_a):
    patient = treated_patient(clinic_a, days_ago=75, given=True, family_name="<b>O'Brien</b>")
    reported(patient, nurse_a, "<script>alert(1)</script> & bruises", at=datetime.now(UTC))

    page = sign_in(client, nurse_a).get(WORKLIST).content.decode()

    assert "<script>alert(1)</script>" not in page and "<b>O" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; bruises" in page
    assert "&lt;B&gt;O&#39;BRIEN&lt;/B&gt;" in page


def test_a_symptom_reports_time_is_the_clinics_own(client):
    auckland = ClinicFactory(code="akl", name="Auckland", time_zone="Pacific/Auckland")
    nurse = staff_of(auckland, UserFactory(username="nurse_akl"), Role.NURSE)
    patient = treated_patient(auckland, days_ago=75, given=True)
    # 23:47 in London's winter is 12:47 the next day in Auckland's summer.
    reported(patient, nurse, "Nosebleed", at=datetime(2026, 11, 30, 23, 47, tzinfo=UTC))

    page = sign_in(client, nurse).get(WORKLIST).content.decode()

    row = page[page.index("symptom reported") :][:400]
    assert "12:47" in row and "23:47" not in row


def test_a_refused_bulk_action_keeps_the_ticks(client, nurse_a, clinic_a):
    treated_patient(clinic_a, days_ago=75, given=True)
    sign_in(client, nurse_a)
    (row,) = client.get(WORKLIST).context["worklist"].sections["overdue"].rows
    shown = [check.pk for visit in row.visits for check in visit.checks]
    ticked, unticked = shown[0], shown[1:]

    # No text: the bar refuses, and the page comes back with the same check ticked.
    response = client.post(
        WORKLIST,
        {
            "what": "note",
            "action": "",
            "text": "",
            "check": [ticked],
            "submission_key": uuid.uuid4(),
        },
    )

    page = response.content.decode()
    assert response.status_code == 200 and unticked
    assert f'value="{ticked}" id="check-{ticked}" checked>' in page
    assert all(f'value="{pk}" id="check-{pk}">' in page for pk in unticked)
