"""The clinic's record system (a read token) and signed-in people reading patients, results
and schedules as FHIR R4: only what they may see, another clinic's patient the same 404 as
none, every read in the audit trail, and a fixed number of queries however much is shown."""

from __future__ import annotations

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient

from labfeeds.intake import clinic_identifier_system
from monitoring.models import ScheduledCheck
from monitoring.results.services import result_mark_in_error
from tests.auth import sign_in
from tests.builders import report, treated_patient
from tests.factories import PatientFactory, UserFactory
from tests.labfeeds.fhir.conftest import bearer

pytestmark = pytest.mark.django_db


def read(client, path, token=None, **params):
    return client.get(path, params, **(bearer(token) if token else {}))


def entries(response) -> list[dict]:
    Bundle.model_validate(response.json())
    return [entry["resource"] for entry in response.json().get("entry", [])]


def blood_counts(patient, by, days: list[int]):
    for days_ago in days:
        report(
            patient,
            "blood_count",
            {"platelets": 210, "haemoglobin": 135},
            entered_by=by,
            days_ago=days_ago,
        )


def test_a_read_token_reads_its_clinic_s_patient_and_the_read_is_audited(
    client, patient, read_token
):
    response = read(client, f"/fhir/r4/Patient/{patient.pk}", read_token)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    resource = FhirPatient.model_validate(response.json())
    assert resource.id == str(patient.pk)
    assert (resource.identifier[0].system, resource.identifier[0].value) == (
        clinic_identifier_system(patient.clinic),
        "RX-1001",
    )
    assert (resource.gender, resource.birthDate) == ("female", patient.date_of_birth)
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).get()
    viewed = entry.additional_data["viewed"]
    assert (
        viewed.startswith("FHIR Patient read by token lmt_") and read_token.token.prefix in viewed
    )
    assert entry.actor is None


def test_another_clinic_s_patient_is_the_same_404_as_no_patient(
    client, patient, read_token, patient_b
):
    other = read(client, f"/fhir/r4/Patient/{patient_b.pk}", read_token)
    missing = read(client, "/fhir/r4/Patient/999999", read_token)
    assert (other.status_code, missing.status_code) == (404, 404)
    texts = [r.json()["issue"][0]["diagnostics"].replace(str(patient_b.pk), "N") for r in (other,)]
    assert texts == [missing.json()["issue"][0]["diagnostics"].replace("999999", "N")]
    for path in (
        f"/fhir/r4/Observation?patient={patient_b.pk}",
        f"/fhir/r4/CarePlan?patient={patient_b.pk}",
        f"/fhir/r4/Patient/{patient_b.pk}/CarePlan",
    ):
        assert read(client, path, read_token).status_code == 404
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_no_token_a_bad_one_or_a_lab_token_cannot_read(client, patient, lab_token):
    path = f"/fhir/r4/Patient/{patient.pk}"
    assert read(client, path).status_code == 401
    assert read(client, path)["WWW-Authenticate"].startswith("Bearer")
    assert client.get(path, HTTP_AUTHORIZATION="Bearer lmt_nonsense").status_code == 401
    assert client.get(path, HTTP_AUTHORIZATION="Basic abc").status_code == 401
    assert read(client, path, lab_token).status_code == 401


def test_a_bad_token_is_refused_even_in_a_signed_in_browser(client, patient, staff_a):
    sign_in(client, staff_a)
    path = f"/fhir/r4/Patient/{patient.pk}"
    assert client.get(path).status_code == 200
    assert client.get(path, HTTP_AUTHORIZATION="Bearer lmt_nonsense").status_code == 401


def test_staff_read_their_clinic_s_patients_only(client, patient, staff_a, patient_b):
    sign_in(client, staff_a)
    assert client.get(f"/fhir/r4/Patient/{patient.pk}").status_code == 200
    assert client.get(f"/fhir/r4/Patient/{patient_b.pk}").status_code == 404
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).get()
    assert (entry.actor, entry.additional_data["viewed"]) == (staff_a, "FHIR Patient read")


def test_a_patient_signed_in_reads_only_their_own_record(client, patient, lead_a):
    patient.user = UserFactory(username="cassie")
    patient.save()
    other = PatientFactory(clinic=patient.clinic)
    blood_counts(patient, lead_a, [3])
    blood_counts(other, lead_a, [3])
    sign_in(client, patient.user, second_factor=False)
    assert client.get(f"/fhir/r4/Patient/{patient.pk}").status_code == 200
    assert len(entries(client.get(f"/fhir/r4/Observation?patient={patient.pk}"))) == 2
    assert client.get(f"/fhir/r4/Patient/{other.pk}").status_code == 404
    assert client.get(f"/fhir/r4/Observation?patient={other.pk}").status_code == 404


def test_the_observation_search_by_code_and_dates(client, patient, read_token, lead_a):
    blood_counts(patient, lead_a, [2, 40, 100])
    today = patient.clinic.today()
    response = read(
        client,
        "/fhir/r4/Observation",
        read_token,
        patient=patient.pk,
        code="http://loinc.org|777-3",
        date=[f"ge{today - timedelta(days=50)}", f"le{today}"],
    )
    assert response.status_code == 200
    found = entries(response)
    assert [o["effectiveDateTime"] for o in found] == [
        str(today - timedelta(days=2)),
        str(today - timedelta(days=40)),
    ]
    first = Observation.model_validate(found[0])
    assert (first.status, first.code.coding[0].code, first.subject.reference) == (
        "final",
        "777-3",
        f"Patient/{patient.pk}",
    )
    assert (first.valueQuantity.value, first.valueQuantity.unit) == (210, "10^9/L")
    assert (first.valueQuantity.system, first.valueQuantity.code) == (
        "http://unitsofmeasure.org",
        "10*9/L",
    )
    assert first.interpretation[0].coding[0].code == "N"
    assert response.json()["total"] == 2
    viewed = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).get().additional_data
    assert viewed["viewed"].startswith("FHIR Observation search by token")


def test_a_bad_date_parameter_is_a_400_naming_it(client, patient, read_token):
    response = read(client, "/fhir/r4/Observation", read_token, patient=patient.pk, date="soon")
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["date"]
    assert read(client, "/fhir/r4/Observation", read_token).status_code == 400


def test_the_search_pages_with_a_next_link(client, patient, read_token, lead_a):
    blood_counts(patient, lead_a, [2, 40, 100])  # six results
    response = read(client, "/fhir/r4/Observation", read_token, patient=patient.pk, _count=4)
    bundle = response.json()
    assert (bundle["total"], len(bundle["entry"])) == (6, 4)
    following = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
    rest = client.get(following, **bearer(read_token)).json()
    assert len(rest["entry"]) == 2
    assert not [link for link in rest["link"] if link["relation"] == "next"]
    ids = {e["resource"]["id"] for e in bundle["entry"]} | {
        e["resource"]["id"] for e in rest["entry"]
    }
    assert len(ids) == 6


def test_tiers_and_withdrawn_results_as_fhir_says_them(client, patient, read_token, lead_a):
    report(patient, "blood_count", {"platelets": 40}, entered_by=lead_a, days_ago=5)
    low = report(patient, "blood_count", {"platelets": 130}, entered_by=lead_a, days_ago=3)
    result_mark_in_error(
        result=low.results.get(), reason="Wrong patient's sample", marked_by=lead_a
    )
    found = entries(read(client, "/fhir/r4/Observation", read_token, patient=patient.pk))
    assert [o["status"] for o in found] == ["entered-in-error", "final"]
    assert "interpretation" not in found[0]
    assert found[1]["interpretation"][0]["coding"][0]["code"] == "AA"


def test_the_schedule_is_one_care_plan_one_activity_per_check(client, patient, read_token):
    response = read(client, f"/fhir/r4/Patient/{patient.pk}/CarePlan", read_token)
    assert response.status_code == 200
    (plan,) = entries(response)
    care_plan = CarePlan.model_validate(plan)
    checks = ScheduledCheck.objects.filter(patient=patient)
    assert care_plan.status == "active" and care_plan.subject.reference == f"Patient/{patient.pk}"
    assert len(care_plan.activity) == checks.count()
    first = checks.order_by("due_date", "panel", "pk").first()
    detail = care_plan.activity[0].detail
    assert (detail.scheduledPeriod.start, detail.scheduledPeriod.end) == (
        first.window_opens,
        first.overdue_after,
    )
    statuses = {activity.detail.status for activity in care_plan.activity}
    assert statuses <= {"scheduled", "in-progress", "not-started", "completed"}
    same = read(client, "/fhir/r4/CarePlan", read_token, patient=patient.pk)
    assert same.json()["entry"] == response.json()["entry"]


def test_a_waived_check_is_stopped_and_says_why(client, patient, read_token, lead_a):
    check = ScheduledCheck.objects.filter(patient=patient).order_by("due_date").last()
    ScheduledCheck.objects.filter(pk=check.pk).update(
        waived_at=check.created_at, waived_reason="Done at the GP; letter on file."
    )
    (plan,) = entries(read(client, "/fhir/r4/CarePlan", read_token, patient=patient.pk))
    waived = [a["detail"] for a in plan["activity"] if a["detail"]["status"] == "stopped"]
    assert [d["statusReason"]["text"] for d in waived] == [
        "Waived: Done at the GP; letter on file."
    ]


def test_the_capability_statement_is_open_to_anyone(client):
    response = client.get("/fhir/r4/metadata")
    assert response.status_code == 200
    statement = CapabilityStatement.model_validate(response.json())
    assert {r.type for r in statement.rest[0].resource} == {"Patient", "Observation", "CarePlan"}


def queries_of(client, path, token) -> int:
    # The token's last use is written at most once a minute: a first request, not counted.
    client.get("/fhir/r4/Patient/0", **bearer(token))
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path, **bearer(token)).status_code == 200
    return len(captured)


def test_the_observation_search_costs_the_same_queries_for_many_results(
    client, patient, read_token, lead_a, clinic_a
):
    few = treated_patient(clinic_a, days_ago=200, given=True)
    blood_counts(few, lead_a, [5])
    blood_counts(patient, lead_a, [5, 20, 35, 50, 65, 80, 95, 110, 125, 140])
    small = queries_of(client, f"/fhir/r4/Observation?patient={few.pk}", read_token)
    large = queries_of(client, f"/fhir/r4/Observation?patient={patient.pk}", read_token)
    assert small == large
    assert large <= 12


def test_a_five_year_care_plan_costs_the_same_queries_as_a_new_one(client, read_token, clinic_a):
    # A new patient with one check (an urgent one, after a symptom), and one treated five
    # years ago: the whole plan of follow-up, its early checks done.
    new = PatientFactory(clinic=clinic_a)
    veteran = treated_patient(clinic_a, days_ago=5 * 365, given=True)
    checks = ScheduledCheck.objects.filter(patient=veteran)
    sample = checks.order_by("due_date").first()
    ScheduledCheck.objects.create(
        patient=new,
        panel=sample.panel,
        kind="urgent",
        due_date=sample.due_date,
        window_opens=sample.window_opens,
        overdue_after=sample.overdue_after,
    )
    checks.filter(due_date__lt=veteran.clinic.today()).update(completed_on=F("due_date"))
    assert checks.count() > 250
    small = queries_of(client, f"/fhir/r4/CarePlan?patient={new.pk}", read_token)
    large = queries_of(client, f"/fhir/r4/CarePlan?patient={veteran.pk}", read_token)
    assert small == large
    assert large <= 10


def test_each_search_entry_s_full_url_reads_it(client, patient, read_token, lead_a, patient_b):
    blood_counts(patient, lead_a, [3])
    blood_counts(patient_b, lead_a, [3])
    search = read(client, "/fhir/r4/Observation", read_token, patient=patient.pk).json()
    url = search["entry"][0]["fullUrl"]
    one = client.get(url, **bearer(read_token))
    assert one.status_code == 200
    assert one.json() == search["entry"][0]["resource"]
    theirs = patient_b.lab_results.first()
    assert read(client, f"/fhir/r4/Observation/{theirs.pk}", read_token).status_code == 404
    plan = read(client, "/fhir/r4/CarePlan", read_token, patient=patient.pk).json()["entry"][0]
    assert client.get(plan["fullUrl"], **bearer(read_token)).json() == plan["resource"]
    assert read(client, f"/fhir/r4/CarePlan/schedule-{patient_b.pk}", read_token).status_code == 404


def test_a_five_year_care_plan_is_valid_fhir(client, read_token, clinic_a):
    veteran = treated_patient(clinic_a, days_ago=5 * 365, given=True)
    checks = ScheduledCheck.objects.filter(patient=veteran)
    checks.filter(due_date__lt=veteran.clinic.today()).update(completed_on=F("due_date"))
    (plan,) = entries(read(client, "/fhir/r4/CarePlan", read_token, patient=veteran.pk))
    care_plan = CarePlan.model_validate(plan)
    assert len(care_plan.activity) == checks.count()
    statuses = {a.detail.status for a in care_plan.activity}
    assert "completed" in statuses and len(statuses) > 1
