"""The FHIR API's personas: clinic A's patient, its lab (a connection and a lab token), its
record system (a read token), and clinic B beside it; and the Bundles a lab posts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from labfeeds.intake import clinic_identifier_system
from labfeeds.models import LabConnection
from labfeeds.tokens import token_create
from tests.builders import treated_patient

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"


@pytest.fixture
def patient(clinic_a):
    return treated_patient(clinic_a, days_ago=200, given=True, hospital_number="RX-1001")


@pytest.fixture
def connection_a(clinic_a, lead_a):
    return LabConnection.objects.create(clinic=clinic_a, name="City lab", created_by=lead_a)


@pytest.fixture
def lab_token(clinic_a, connection_a, lead_a):
    return token_create(
        clinic=clinic_a, name="City lab", scope="lab", created_by=lead_a, connection=connection_a
    )


@pytest.fixture
def read_token(clinic_a, lead_a):
    return token_create(clinic=clinic_a, name="EHR", scope="read", created_by=lead_a)


def bearer(made) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {made.secret}"}


def observation(
    patient,
    *,
    loinc="777-3",
    value=210,
    unit="10^9/L",
    status="final",
    days_ago=2,
    system=None,
    **extra,
) -> dict:
    """A result of `patient` as a lab sends it, named by our hospital-number identifier."""
    sample = patient.clinic.today() - timedelta(days=days_ago)
    resource = {
        "resourceType": "Observation",
        "status": status,
        "code": {"coding": [{"system": LOINC, "code": loinc}]},
        "subject": {
            "identifier": {
                "system": system or clinic_identifier_system(patient.clinic),
                "value": patient.hospital_number,
            }
        },
        "effectiveDateTime": f"{sample.isoformat()}T09:30:00+00:00",
    }
    if value is not None:
        resource["valueQuantity"] = {"value": value, "unit": unit}
    resource.update(extra)
    return resource


def bundle(*observations, identifier="MSG-1", report_id="ORD-1", kind="transaction") -> dict:
    """A DiagnosticReport and its Observations, referenced by urn:uuid fullUrls."""
    entries = [
        {
            "fullUrl": f"urn:uuid:00000000-0000-4000-8000-{number:012d}",
            "resource": resource,
            "request": {"method": "POST", "url": "Observation"},
        }
        for number, resource in enumerate(observations, start=1)
    ]
    report = {
        "resourceType": "DiagnosticReport",
        "status": "final",
        "code": {"text": "Blood count"},
        "identifier": [{"system": "urn:lab:city", "value": report_id}],
        "performer": [{"display": "City Hospital Laboratory"}],
        "result": [{"reference": entry["fullUrl"]} for entry in entries],
    }
    data = {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {
                "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000000",
                "resource": report,
                "request": {"method": "POST", "url": "DiagnosticReport"},
            },
            *entries,
        ],
    }
    if identifier:
        data["identifier"] = {"system": "urn:lab:city:messages", "value": identifier}
    return data


def post(client, data, token, path="/fhir/r4/", content_type="application/fhir+json"):
    body = data if isinstance(data, (str, bytes)) else json.dumps(data)
    return client.post(path, body, content_type=content_type, **bearer(token))
