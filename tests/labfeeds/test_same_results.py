"""The same values from a CSV file, an HL7 message and a FHIR Bundle are stored with the same
values, units, bounds, flags and reasons, and complete the same checks: one pipeline."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from labfeeds.hl7.receiving import hl7_message_take
from labfeeds.intake import clinic_identifier_system
from labfeeds.models import LabConnection
from labfeeds.tokens import token_create
from monitoring.models import LabResult, Notification
from monitoring.results.csv_import import import_apply, import_stage
from tests.builders import lead_of, nurse_of, treated_patient
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db

# (LOINC, CSV analyte, value, unit as the CSV writes it, as HL7 and FHIR write it in UCUM)
VALUES = [
    ("777-3", "platelets", "<20", "x10^9/L", "10*9/L"),
    ("718-7", "haemoglobin", "131", "g/L", "g/L"),
    ("751-8", "neutrophils", "0.9", "10^9/L", "10*9/L"),
]


@pytest.fixture
def clinic():
    clinic = ClinicFactory()
    nurse_of(clinic, "nurse")
    return clinic


@pytest.fixture
def lead(clinic):
    return lead_of(clinic, "lead")


@pytest.fixture
def patients(clinic):
    return {
        source: treated_patient(clinic, days_ago=200, given=True, hospital_number=f"SAME-{source}")
        for source in ("csv", "hl7", "fhir")
    }


def sample_day(clinic):
    return clinic.today() - timedelta(days=2)


def by_csv(patient, lead):
    day = sample_day(patient.clinic)
    rows = ["hospital_number,sample_date,analyte,value,unit"] + [
        f"{patient.hospital_number},{day:%Y-%m-%d},{code},{value},{unit}"
        for _, code, value, unit, _ in VALUES
    ]
    staged, preview = import_stage(
        clinic=patient.clinic,
        content="\n".join(rows).encode(),
        file_name="lab.csv",
        uploaded_by=lead,
    )
    assert preview.ok, preview.problems
    import_apply(result_import=staged, imported_by=lead)


def by_hl7(patient, lead):
    connection = LabConnection.objects.create(
        clinic=patient.clinic, name="HL7 lab", hl7_sending_facility="SAMELAB"
    )
    day = sample_day(patient.clinic)
    segments = [
        "MSH|^~\\&|LIS|SAMELAB|MONITOR|CLINIC|20260101000000||ORU^R01^ORU_R01|SAME-1|P|2.5.1",
        f"PID|1||{patient.hospital_number}^^^^MR||{patient.family_name}^{patient.given_name}",
        f"OBR|1|P1|F1|58410-2^CBC^LN|||{day:%Y%m%d}0830",
    ]
    for n, (loinc, code, value, _, ucum) in enumerate(VALUES, start=1):
        comparator, number = ("<", value[1:]) if value.startswith("<") else ("", value)
        segments.append(f"OBX|{n}|SN|{loinc}^{code}^LN||{comparator}^{number}|{ucum}|||||F")
    answer = hl7_message_take("\r".join(segments) + "\r", pinned_connection_id=connection.pk)
    assert answer.code == "AA", answer.ack


def by_fhir(patient, lead, client):
    made = token_create(clinic=patient.clinic, name="FHIR lab", scope="lab", created_by=lead)
    day = sample_day(patient.clinic)
    subject = {
        "identifier": {
            "system": clinic_identifier_system(patient.clinic),
            "value": patient.hospital_number,
        }
    }
    entries = []
    for n, (loinc, _, value, _, ucum) in enumerate(VALUES):
        quantity = {"unit": ucum, "system": "http://unitsofmeasure.org", "code": ucum}
        if value.startswith("<"):
            quantity.update(comparator="<", value=json.loads(value[1:]))
        else:
            quantity["value"] = json.loads(value)  # 131, not 131.0
        entries.append(
            {
                "fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{n}",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": loinc}]},
                    "subject": subject,
                    "effectiveDateTime": f"{day:%Y-%m-%d}T08:30:00Z",
                    "valueQuantity": quantity,
                },
            }
        )
    bundle = {"resourceType": "Bundle", "type": "collection", "id": "same-1", "entry": entries}
    answer = client.post(
        "/fhir/r4/",
        json.dumps(bundle),
        content_type="application/fhir+json",
        HTTP_AUTHORIZATION=f"Bearer {made.secret}",
    )
    assert answer.status_code == 200, answer.content


def stored(patient):
    return [
        (
            result.analyte.code,
            result.comparator,
            result.value_text,
            str(result.canonical_value),
            result.status,
            result.tier,
            result.value_tier,
            result.reasons,
            result.next_action,
            result.awaits_acknowledgement,
            result.report.completed_checks.count(),
            Notification.objects.filter(result=result).count(),
        )
        for result in LabResult.objects.filter(patient=patient)
        .select_related("analyte", "report")
        .order_by("analyte__code")
    ]


def test_the_three_sources_store_the_same_results_and_flags(patients, lead, client):
    by_csv(patients["csv"], lead)
    by_hl7(patients["hl7"], lead)
    by_fhir(patients["fhir"], lead, client)

    from_csv = stored(patients["csv"])
    assert len(from_csv) == 3
    assert stored(patients["hl7"]) == from_csv
    assert stored(patients["fhir"]) == from_csv
    platelets = next(row for row in from_csv if row[0] == "platelets")
    # "<20" is a bound wholly below the critical threshold: critical, alerted at once.
    assert platelets[1:3] == ("<", "20") and platelets[5] == "critical"
    assert platelets[-1] >= 1
