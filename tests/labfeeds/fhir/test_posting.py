"""A lab posting results: a Bundle of a DiagnosticReport and its Observations, or one
Observation. Recorded whole or refused whole, each problem naming its element; a repeat
stores nothing twice; what the clinic cannot match waits for a person."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.operationoutcome import OperationOutcome

from labfeeds.intake import clinic_identifier_system
from labfeeds.models import LabMessage, WaitingResult
from labfeeds.tokens import token_revoke
from monitoring.models import LabReport, LabResult
from tests.labfeeds.fhir.conftest import LOINC, UCUM, bearer, bundle, observation, post

pytestmark = pytest.mark.django_db


def issues(response) -> list[tuple[str, str]]:
    """(severity, expression) of each issue; the body checked as an R4 OperationOutcome."""
    assert response["Content-Type"].startswith("application/fhir+json")
    outcome = OperationOutcome.model_validate(response.json())
    return [(issue.severity, (issue.expression or [""])[0]) for issue in outcome.issue]


def errors(response) -> list[str]:
    return [where for severity, where in issues(response) if severity == "error"]


def test_a_bundle_is_recorded_as_one_report_with_the_lab_s_reference(client, patient, lab_token):
    response = post(
        client,
        bundle(
            observation(patient, value=40),
            observation(patient, loinc="718-7", value=13.0, unit="g/dL"),
        ),
        lab_token,
    )
    assert response.status_code == 200
    answer = Bundle.model_validate(response.json())
    assert answer.type == "transaction-response"
    assert [entry.response.status for entry in answer.entry] == ["201 Created"] * 3
    report = LabReport.objects.get(patient=patient)
    assert (report.source, report.lab_reference, report.lab_name) == (
        "fhir",
        "ORD-1",
        "City Hospital Laboratory",
    )
    platelets, haemoglobin = (
        report.results.get(analyte__code=code) for code in ("platelets", "haemoglobin")
    )
    assert (platelets.tier, platelets.value_text) == ("critical", "40")
    # The value as the lab wrote it (13.0, not 13), converted for the rules.
    assert (haemoglobin.value_text, haemoglobin.unit, haemoglobin.canonical_value) == (
        "13.0",
        "g/dL",
        130,
    )
    message = LabMessage.objects.get()
    assert (message.status, message.control_id, message.answer_code) == (
        "accepted",
        "Bundle:urn:lab:city:messages|MSG-1",
        "200",
    )
    assert message.connection == lab_token.token.connection


def test_one_bad_observation_refuses_the_whole_bundle_naming_its_entry(client, patient, lab_token):
    response = post(
        client,
        bundle(
            observation(patient),
            observation(patient, loinc="718-7", value=13, unit="mmol/L"),
            observation(patient, loinc="751-8", value=4.1),
        ),
        lab_token,
    )
    assert response.status_code == 422
    assert errors(response) == ["Bundle.entry[2].resource.valueQuantity.unit"]
    assert "mmol/L" in response.json()["issue"][0]["diagnostics"]
    assert not LabResult.objects.exists() and not LabReport.objects.exists()
    assert LabMessage.objects.get().status == LabMessage.Status.REFUSED


def test_a_lab_of_clinic_a_cannot_post_for_a_patient_of_clinic_b(
    client, patient, lab_token, clinic_b, patient_b
):
    foreign = observation(patient_b, system=clinic_identifier_system(clinic_b))
    response = post(client, bundle(observation(patient), foreign), lab_token)
    assert response.status_code == 422
    assert errors(response) == ["Bundle.entry[2].resource.subject.identifier"]
    assert "Clinic B" in response.json()["issue"][0]["diagnostics"]
    assert not LabResult.objects.exists() and not WaitingResult.objects.exists()


def test_a_revoked_token_is_refused_and_nothing_is_stored(client, patient, lab_token, lead_a):
    token_revoke(token=lab_token.token, revoked_by=lead_a)
    response = post(client, bundle(observation(patient)), lab_token)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert issues(response) == [("error", "")]
    assert not LabMessage.objects.exists()


def test_no_token_and_a_read_token_cannot_post(client, patient, read_token):
    assert client.post("/fhir/r4/", "{}", content_type="application/fhir+json").status_code == 401
    assert post(client, bundle(observation(patient)), read_token).status_code == 401
    assert not LabMessage.objects.exists()


def test_a_body_over_the_limit_is_refused_before_it_is_read(client, patient, lab_token, settings):
    settings.FHIR_MAX_BODY_BYTES = 2000
    data = bundle(*(observation(patient, loinc="777-3") for _ in range(10)))
    assert len(json.dumps(data)) > 2000
    response = post(client, data, lab_token)
    assert response.status_code == 413
    assert issues(response)[0][0] == "error"
    assert not LabMessage.objects.exists()


def test_invalid_json_is_a_400_naming_the_line_and_kept_refused(client, patient, lab_token):
    response = post(client, '{"resourceType": "Bundle",\n "type": }', lab_token)
    assert response.status_code == 400
    assert "line 2" in response.json()["issue"][0]["diagnostics"]
    message = LabMessage.objects.get()
    assert (message.status, message.raw) == ("refused", '{"resourceType": "Bundle",\n "type": }')


def test_a_value_that_is_not_a_fhir_decimal_names_its_element(client, patient, lab_token):
    bad = observation(patient)
    bad["valueQuantity"]["value"] = "lots"
    response = post(client, bundle(observation(patient), bad), lab_token)
    assert response.status_code == 400
    assert errors(response) == ["Bundle.entry[2].resource.valueQuantity.value"]
    assert not LabResult.objects.exists()


def test_a_text_value_for_a_counted_analyte_is_refused(client, patient, lab_token):
    counted = observation(patient, value=None, valueString="lots")
    response = post(client, counted, lab_token, path="/fhir/r4/Observation")
    assert response.status_code == 422
    assert errors(response) == ["Observation.valueString"]
    assert "not a number" in response.json()["issue"][0]["diagnostics"]


def test_a_unit_the_analyte_does_not_take_is_refused(client, patient, lab_token):
    response = post(
        client, observation(patient, unit="mg/dL"), lab_token, path="/fhir/r4/Observation"
    )
    assert response.status_code == 422
    assert errors(response) == ["Observation.valueQuantity.unit"]
    assert not LabResult.objects.exists()


def test_a_sample_time_in_the_future_is_refused(client, patient, lab_token):
    later = (timezone.now() + timedelta(hours=2)).isoformat(timespec="seconds")
    response = post(client, bundle(observation(patient, effectiveDateTime=later)), lab_token)
    assert response.status_code == 422
    assert errors(response) == ["Bundle.entry[1].resource.effectiveDateTime"]
    assert "future" in response.json()["issue"][0]["diagnostics"]


def test_a_sample_time_a_minute_ahead_is_a_fast_clock_not_the_future(client, patient, lab_token):
    ahead = (timezone.now() + timedelta(minutes=1)).isoformat(timespec="seconds")
    response = post(
        client, observation(patient, effectiveDateTime=ahead), lab_token, "/fhir/r4/Observation"
    )
    # Unless the clinic's midnight falls within that minute, it is today's sample.
    assert response.status_code in (201, 422)
    if response.status_code == 422:
        assert "future" in response.json()["issue"][0]["diagnostics"]


def test_the_same_bundle_sent_twice_is_stored_once(client, patient, lab_token):
    data = bundle(observation(patient, value=40))
    first = post(client, data, lab_token)
    again = post(client, data, lab_token)
    assert (first.status_code, again.status_code) == (200, 200)
    assert [e["response"]["status"] for e in again.json()["entry"]] == ["200 OK", "200 OK"]
    assert LabResult.objects.filter(patient=patient).count() == 1
    assert LabMessage.objects.count() == 1


def test_another_bundle_under_a_used_identifier_is_a_conflict(client, patient, lab_token):
    post(client, bundle(observation(patient, value=40)), lab_token)
    response = post(client, bundle(observation(patient, value=45)), lab_token)
    assert response.status_code == 409
    assert errors(response) == ["Bundle.identifier"]
    assert LabResult.objects.get(patient=patient).value_text == "40"


def test_a_repeat_of_a_refused_bundle_is_refused_the_same(client, patient, lab_token):
    data = bundle(observation(patient, unit="mg/dL"))
    first = post(client, data, lab_token)
    again = post(client, data, lab_token)
    assert (first.status_code, again.status_code) == (422, 422)
    assert first.json() == again.json()
    assert LabMessage.objects.count() == 1


def test_a_corrected_observation_is_a_new_version_of_the_result(client, patient, lab_token):
    post(client, bundle(observation(patient, value=40)), lab_token)
    response = post(
        client,
        bundle(observation(patient, value=240, status="corrected"), identifier="MSG-2"),
        lab_token,
    )
    assert response.status_code == 200
    result = LabResult.objects.get(patient=patient)
    assert (result.value_text, result.status, result.tier) == ("240", "corrected", "normal")
    assert result.history.count() == 2


def test_an_amended_observation_is_a_correction_too(client, patient, lab_token):
    post(client, bundle(observation(patient, value=40)), lab_token)
    post(
        client,
        bundle(observation(patient, value=41, status="amended"), identifier="MSG-2"),
        lab_token,
    )
    assert LabResult.objects.get(patient=patient).status == "corrected"


def test_entered_in_error_withdraws_the_result(client, patient, lab_token):
    post(client, bundle(observation(patient, value=40)), lab_token)
    withdrawn = observation(patient, value=None, status="entered-in-error")
    post(client, bundle(withdrawn, identifier="MSG-2"), lab_token)
    assert LabResult.objects.get(patient=patient).is_entered_in_error


def test_a_cancelled_observation_has_nothing_to_record(client, patient, lab_token):
    response = post(client, bundle(observation(patient, status="cancelled")), lab_token)
    assert response.status_code == 422
    assert errors(response) == ["Bundle.entry[1].resource.status"]


def test_an_unknown_patient_waits_and_the_rest_is_recorded(client, patient, lab_token):
    stranger = observation(patient, loinc="718-7", value=130, unit="g/L")
    stranger["subject"]["identifier"]["value"] = "NOBODY-9"
    response = post(client, bundle(observation(patient), stranger), lab_token)
    assert response.status_code == 200
    entries = response.json()["entry"]
    assert [e["response"]["status"] for e in entries] == [
        "201 Created",
        "201 Created",
        "202 Accepted",
    ]
    warning = entries[2]["response"]["outcome"]["issue"][0]
    assert (warning["severity"], warning["expression"]) == ("warning", ["Bundle.entry[2]"])
    waiting = WaitingResult.objects.get()
    assert (waiting.hospital_number, waiting.analyte.code, waiting.lab_reference) == (
        "NOBODY-9",
        "haemoglobin",
        "ORD-1",
    )
    assert LabResult.objects.filter(patient=patient).count() == 1


def test_a_code_that_is_not_loinc_waits_and_never_matches_by_its_digits(client, patient, lab_token):
    local = observation(patient)
    local["code"] = {"coding": [{"system": "urn:lab:city:codes", "code": "777-3"}]}
    response = post(client, local, lab_token, path="/fhir/r4/Observation")
    assert response.status_code == 200
    assert issues(response)[0] == ("warning", "Observation")
    waiting = WaitingResult.objects.get()
    assert (waiting.reason, waiting.analyte) == ("unknown_code", None)
    assert not LabResult.objects.exists()


def test_one_observation_by_a_literal_reference_to_our_patient(client, patient, lab_token):
    single = observation(patient, identifier=[{"system": "urn:lab:city", "value": "R-77"}])
    single["subject"] = {"reference": f"Patient/{patient.pk}"}
    response = post(client, single, lab_token, path="/fhir/r4/Observation")
    assert response.status_code == 201
    result = LabResult.objects.get(patient=patient)
    assert result.report.lab_reference == "R-77"
    assert LabMessage.objects.get().control_id == "Observation:urn:lab:city|R-77"


def test_a_literal_reference_to_another_clinic_s_patient_is_refused(
    client, patient, lab_token, patient_b
):
    single = observation(patient)
    single["subject"] = {"reference": f"Patient/{patient_b.pk}"}
    response = post(client, single, lab_token, path="/fhir/r4/Observation")
    assert response.status_code == 422
    assert errors(response) == ["Observation.subject.reference"]
    assert not LabResult.objects.exists()


def test_the_patient_may_be_a_patient_entry_of_the_bundle(client, patient, lab_token):
    result = observation(patient)
    result["subject"] = {"reference": "urn:uuid:patient-1"}
    data = bundle(result)
    data["entry"].append(
        {
            "fullUrl": "urn:uuid:patient-1",
            "resource": {
                "resourceType": "Patient",
                "identifier": [
                    {"system": "urn:nhs", "value": "943 476 5919"},
                    {"system": clinic_identifier_system(patient.clinic), "value": "rx-1001"},
                ],
            },
        }
    )
    response = post(client, data, lab_token)
    assert response.status_code == 200
    assert response.json()["entry"][2]["response"]["status"] == "200 OK"
    assert LabResult.objects.filter(patient=patient).count() == 1


def test_dipstick_grades_and_ucum_codes(client, patient, lab_token):
    blood = observation(patient, loinc="5794-3", value=None, valueCodeableConcept={"text": "trace"})
    protein = observation(
        patient,
        loinc="20454-5",
        value=None,
        valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct", "display": "1+"}]},
    )
    platelets = observation(patient, value=None)
    platelets["valueQuantity"] = {"value": 250, "system": UCUM, "code": "10*9/L"}
    response = post(client, bundle(blood, protein, platelets), lab_token)
    assert response.status_code == 200, response.json()
    values = dict(LabResult.objects.values_list("analyte__code", "value_text"))
    assert values == {"urine_blood": "trace", "urine_protein": "1+", "platelets": "250"}


def test_a_bundle_without_identifier_or_id_says_it_cannot_be_recognised_again(
    client, patient, lab_token
):
    response = post(client, bundle(observation(patient), identifier=None), lab_token)
    assert response.status_code == 200
    first = response.json()["entry"][0]["response"]["outcome"]["issue"]
    assert first[0]["severity"] == "information" and "identifier" in first[0]["diagnostics"]
    assert LabMessage.objects.get().control_id == ""


def test_the_bundle_s_id_is_its_control_id_without_an_identifier(client, patient, lab_token):
    data = bundle(observation(patient), identifier=None)
    data["id"] = "b-123"
    post(client, data, lab_token)
    post(client, data, lab_token)
    assert LabMessage.objects.get().control_id == "Bundle/b-123"
    assert LabResult.objects.count() == 1


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"type": "batch"}, "Bundle.type"),
        ({"entry": []}, "Bundle.entry"),
        ({"colour": "blue"}, "Bundle.colour"),
    ],
)
def test_a_bundle_the_models_refuse_names_the_element(client, patient, lab_token, change, where):
    data = {**bundle(observation(patient)), **change}
    response = post(client, data, lab_token)
    assert response.status_code == 400
    assert where in errors(response)


def test_an_entry_of_a_resource_not_taken_names_the_entry(client, patient, lab_token):
    data = bundle(observation(patient))
    data["entry"].append({"resource": {"resourceType": "Medication"}})
    response = post(client, data, lab_token)
    assert response.status_code == 400
    assert errors(response) == ["Bundle.entry[2].resource.resourceType"]


def test_a_result_the_report_names_must_be_in_the_bundle(client, patient, lab_token):
    data = bundle(observation(patient))
    data["entry"][0]["resource"]["result"].append({"reference": "urn:uuid:missing"})
    response = post(client, data, lab_token)
    assert response.status_code == 422
    assert errors(response) == ["Bundle.entry[0].resource.result[1].reference"]


def test_a_nul_in_a_string_is_refused_not_stored(client, patient, lab_token):
    data = bundle(observation(patient))
    data["entry"][0]["resource"]["performer"][0]["display"] = "City\u0000Lab"
    response = post(client, data, lab_token)
    assert response.status_code == 400
    assert errors(response) == ["Bundle.entry[0].resource.performer[0].display"]


def test_a_bundle_posted_to_the_observation_address_is_refused(client, patient, lab_token):
    response = post(client, bundle(observation(patient)), lab_token, path="/fhir/r4/Observation")
    assert response.status_code == 400
    assert not LabResult.objects.exists()


def test_a_body_that_is_not_json_by_its_content_type_is_refused(client, patient, lab_token):
    response = post(client, "<Bundle/>", lab_token, content_type="application/fhir+xml")
    assert response.status_code == 415


def test_a_token_without_a_connection_posts_for_its_clinic(client, patient, lead_a):
    from labfeeds.tokens import token_create

    made = token_create(clinic=patient.clinic, name="Ward lab", scope="lab", created_by=lead_a)
    response = client.post(
        "/fhir/r4/",
        json.dumps(bundle(observation(patient))),
        content_type="application/json",
        **bearer(made),
    )
    assert response.status_code == 200
    message = LabMessage.objects.get()
    assert (message.connection, message.clinic) == (None, patient.clinic)
    assert LabResult.objects.filter(patient=patient).count() == 1


def test_get_on_the_base_is_not_a_search(client):
    response = client.get("/fhir/r4/")
    assert response.status_code == 405
    assert client.get("/fhir/r4/Nonsense").status_code == 404


def test_the_loinc_system_is_what_is_matched(client, patient, lab_token):
    data = observation(patient)
    data["code"]["coding"].insert(0, {"system": "urn:lab:city:codes", "code": "PLT"})
    assert data["code"]["coding"][1]["system"] == LOINC
    response = post(client, data, lab_token, path="/fhir/r4/Observation")
    assert response.status_code == 201


def test_the_clinic_s_time_zone_decides_the_sample_day(client, patient, lab_token):
    clinic = patient.clinic
    clinic.time_zone = "Pacific/Auckland"
    clinic.save(update_fields=["time_zone"])
    day = clinic.today() - timedelta(days=3)
    # 23:30 in London (UTC in winter) is the next morning in Auckland.
    late = observation(patient, effectiveDateTime=f"{day.isoformat()}T23:30:00+00:00")
    response = post(client, late, lab_token, path="/fhir/r4/Observation")
    assert response.status_code == 201
    assert LabResult.objects.get().sample_collected_on == day + timedelta(days=1)


def test_a_month_without_a_day_is_not_a_sample_date(client, patient, lab_token):
    vague = observation(patient, effectiveDateTime=patient.clinic.today().strftime("%Y-%m"))
    response = post(client, vague, lab_token, path="/fhir/r4/Observation")
    assert response.status_code == 422
    assert errors(response) == ["Observation.effectiveDateTime"]


def test_the_report_s_sample_time_and_the_lab_s_range_serve_its_results(client, patient, lab_token):
    result = observation(patient, value=140)
    del result["effectiveDateTime"]
    result["referenceRange"] = [{"low": {"value": 150, "unit": "10^9/L"}, "high": {"value": 400}}]
    data = bundle(result)
    day = patient.clinic.today() - timedelta(days=4)
    data["entry"][0]["resource"]["effectiveDateTime"] = day.isoformat()
    response = post(client, data, lab_token)
    assert response.status_code == 200, response.json()
    stored = LabResult.objects.get()
    assert (stored.sample_collected_on, stored.reference_low, stored.reference_high) == (
        day,
        150,
        400,
    )


def test_a_range_in_another_unit_than_the_value_is_refused(client, patient, lab_token):
    result = observation(patient, loinc="718-7", value=13, unit="g/dL")
    result["referenceRange"] = [{"low": {"value": 120, "unit": "g/L"}}]
    response = post(client, result, lab_token, path="/fhir/r4/Observation")
    assert response.status_code == 422
    assert errors(response) == ["Observation.referenceRange[0].low.unit"]


def test_a_long_identifier_is_a_digest_not_cut_to_a_shared_prefix():
    from labfeeds.fhir.reading import control_id_of

    long = "x" * 80
    first = control_id_of({"resourceType": "Bundle", "identifier": {"value": long + "1"}})
    second = control_id_of({"resourceType": "Bundle", "identifier": {"value": long + "2"}})
    assert first != second and len(first) <= 64 and first.startswith("sha256:")
    assert control_id_of({"resourceType": "Bundle"}) == ""
