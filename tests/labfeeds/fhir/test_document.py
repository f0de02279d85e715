"""The monitoring record as a FHIR document: a Bundle of type document that validates, its
Composition first, every section's entries present in the Bundle; read by the clinic's read
token, its staff and the patient themselves, audited; another clinic's token a 404."""

from __future__ import annotations

import uuid

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from labfeeds.tokens import token_create
from monitoring.alerts.services import check_waive
from monitoring.alerts.symptom_reports import symptom_report_acknowledge, symptom_report_create
from monitoring.models import ScheduledCheck
from tests.auth import sign_in
from tests.builders import acknowledge, lead_of, platelets, report, treated_patient
from tests.factories import UserFactory
from tests.labfeeds.fhir.conftest import bearer

pytestmark = pytest.mark.django_db


def path(patient) -> str:
    return f"/fhir/r4/Patient/{patient.pk}/$monitoring-record"


@pytest.fixture
def recorded(patient, lead_a):
    """Clinic A's patient (course 1 given 200 days ago) with a flagged, acknowledged count,
    a waived check and an acknowledged symptom report."""
    low = platelets(patient, 80, entered_by=lead_a, days_ago=150)
    acknowledge(low, lead_a, note="Repeat <count> & call")
    report(patient, "blood_count", {"platelets": 230}, entered_by=lead_a, days_ago=100)
    check = ScheduledCheck.objects.open().filter(patient=patient).order_by("due_date").first()
    check_waive(check=check, reason="In hospital & away", waived_by=lead_a, now=timezone.now())
    symptom = symptom_report_create(
        patient=patient,
        symptom_codes=["bleeding"],
        details="Bruises — Синяки 😀",
        reported_by=lead_a,
        submission_key=uuid.uuid4(),
        now=timezone.now(),
    )
    symptom_report_acknowledge(
        report=symptom,
        action="called_patient",
        note="Count today",
        acknowledged_by=lead_a,
        now=timezone.now(),
    )
    return patient


def test_the_document_validates_with_its_composition_first(client, recorded, read_token):
    response = client.get(path(recorded), **bearer(read_token))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    data = response.json()
    bundle = Bundle.model_validate(data)
    assert bundle.type == "document" and bundle.identifier.value and bundle.timestamp
    composition = data["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["status"] == "final" and composition["title"] == "Monitoring record"
    assert composition["type"]["coding"][0]["code"] == "18776-5"
    assert composition["author"][0]["reference"].startswith("Organization/")
    present = {
        f"{entry['resource']['resourceType']}/{entry['resource']['id']}" for entry in data["entry"]
    }
    titles = [section["title"] for section in composition["section"]]
    assert titles == [
        "Courses",
        "Checks",
        "Results",
        "Waivers",
        "Symptom reports",
        "End of follow-up",
    ]
    for section in composition["section"]:
        assert section["text"]["div"].startswith("<div")
        for entry in section.get("entry", []):
            assert entry["reference"] in present, entry
    assert composition["subject"]["reference"] in present
    assert composition["author"][0]["reference"] in present
    kinds = [entry["resource"]["resourceType"] for entry in data["entry"]]
    assert kinds[:3] == ["Composition", "Patient", "Organization"]
    assert {"Procedure", "CarePlan", "Observation", "Communication"} <= set(kinds)
    by_section = {section["title"]: section for section in composition["section"]}
    assert "In hospital &amp; away" in by_section["Waivers"]["text"]["div"]
    assert "Repeat &lt;count&gt; &amp; call" in by_section["Results"]["text"]["div"]
    notes = [
        note["text"]
        for entry in data["entry"]
        if entry["resource"]["resourceType"] == "Observation"
        for note in entry["resource"].get("note", [])
    ]
    assert any("Repeat <count> & call" in note for note in notes)
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).get()
    assert entry.additional_data["viewed"].startswith("FHIR monitoring record (document) by token")


def test_another_clinic_s_token_gets_a_404(client, recorded, clinic_b):
    lead_b = lead_of(clinic_b, "lead_b")
    other = token_create(clinic=clinic_b, name="EHR B", scope="read", created_by=lead_b)
    response = client.get(path(recorded), **bearer(other))
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_no_token_is_a_401_and_nonsense_a_404(client, recorded, read_token):
    assert client.get(path(recorded)).status_code == 401
    response = client.get("/fhir/r4/Patient/abc/$monitoring-record", **bearer(read_token))
    assert response.status_code == 404


def test_staff_and_the_patient_themselves_read_it(client, recorded, staff_a, patient_b):
    sign_in(client, staff_a)
    assert client.get(path(recorded)).status_code == 200
    assert client.get(path(patient_b)).status_code == 404
    client.logout()
    recorded.user = UserFactory(username="own")
    recorded.save()
    other = treated_patient(recorded.clinic, days_ago=100, given=True)
    sign_in(client, recorded.user, second_factor=False)
    assert client.get(path(recorded)).status_code == 200
    assert client.get(path(other)).status_code == 404


def test_the_document_takes_the_same_queries_however_long_the_record(
    client, clinic_a, read_token, lead_a
):
    short = treated_patient(clinic_a, days_ago=100, given=True)
    long = treated_patient(clinic_a, days_ago=5 * 365, given=True)
    for days_ago in (5 * 365 - 30, 5 * 365 - 60, 400, 200):
        platelets(long, 230, entered_by=lead_a, days_ago=days_ago)
    platelets(short, 230, entered_by=lead_a, days_ago=50)

    def queries(patient) -> int:
        with CaptureQueriesContext(connection) as context:
            assert client.get(path(patient), **bearer(read_token)).status_code == 200
        return len(context)

    queries(short)  # the first read of a token may note its use: not the record's queries
    assert queries(short) == queries(long)
