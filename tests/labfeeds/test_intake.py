"""The intake every lab feed shares: results matched, checked, recorded or kept waiting, in one
transaction with the message; a repeated message stores nothing twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from labfeeds.intake import (
    CORRECTED,
    ENTERED_IN_ERROR,
    PRELIMINARY,
    FeedResult,
    clinic_identifier_system,
    feed_record,
    message_receive,
)
from labfeeds.models import LabConnection, LabMessage, WaitingResult
from monitoring.models import LabResult, ResultStatus
from patients.models import Clinic
from tests.builders import treated_patient
from tests.factories import ClinicFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient():
    return treated_patient(ClinicFactory(), days_ago=200, given=True, hospital_number="RX-1001")


@pytest.fixture
def connection(patient):
    return LabConnection.objects.create(
        clinic=patient.clinic, name="City lab", hl7_sending_facility="CITYLAB"
    )


def platelets(patient, value="210", *, unit="10^9/L", status="final", days_ago=2, **fields):
    return FeedResult(
        position=fields.pop("position", "OBX[1]"),
        hospital_number=fields.pop("hospital_number", patient.hospital_number),
        code="777-3",
        value=value,
        unit=unit,
        status=status,
        sample_collected_on=patient.clinic.today() - timedelta(days=days_ago),
        lab_reference=fields.pop("lab_reference", "ORD-1"),
        where={"value": "OBX[1]-5", "unit": "OBX[1]-6"},
        **fields,
    )


def received(connection, control_id="MSG-1"):
    message, new = message_receive(
        protocol=LabMessage.Protocol.HL7,
        raw="MSH|...",
        connection=connection,
        control_id=control_id,
    )
    assert new
    return message


def test_a_final_value_is_recorded_and_flagged(patient, connection):
    outcome = feed_record(message=received(connection), results=[platelets(patient, "40")])
    assert (outcome.recorded, outcome.waiting, outcome.problems) == (1, 0, [])
    result = LabResult.objects.get(patient=patient)
    assert (result.tier, result.report.source, result.report.lab_reference) == (
        "critical",
        "hl7",
        "ORD-1",
    )
    assert outcome.message.status == LabMessage.Status.ACCEPTED


def test_a_repeated_control_id_stores_nothing_twice(patient, connection):
    feed_record(message=received(connection), results=[platelets(patient)])
    again, new = message_receive(
        protocol=LabMessage.Protocol.HL7, raw="MSH|...", connection=connection, control_id="MSG-1"
    )
    assert not new
    outcome = feed_record(message=again, results=[platelets(patient)])
    assert outcome.repeated and outcome.recorded == 1
    assert LabResult.objects.filter(patient=patient).count() == 1


def test_a_bad_unit_refuses_the_whole_message_naming_the_field(patient, connection):
    good = platelets(patient, position="OBX[1]")
    bad = FeedResult(
        position="OBX[2]",
        hospital_number=patient.hospital_number,
        code="718-7",
        value="13",
        unit="mmol/L",
        sample_collected_on=good.sample_collected_on,
        lab_reference="ORD-1",
        where={"value": "OBX[2]-5", "unit": "OBX[2]-6"},
    )
    outcome = feed_record(message=received(connection), results=[good, bad])
    assert outcome.refused
    assert [problem.where for problem in outcome.problems] == ["OBX[2]-6"]
    assert not LabResult.objects.filter(patient=patient).exists()
    assert LabMessage.objects.get().status == LabMessage.Status.REFUSED


def test_an_unknown_patient_waits_and_the_rest_is_recorded(patient, connection):
    stranger = platelets(patient, hospital_number="NOBODY-9", position="OBX[2]")
    outcome = feed_record(message=received(connection), results=[platelets(patient), stranger])
    assert (outcome.recorded, outcome.waiting) == (1, 1)
    waiting = WaitingResult.objects.get()
    assert (waiting.reason, waiting.hospital_number, waiting.analyte.code) == (
        WaitingResult.Reason.UNKNOWN_PATIENT,
        "NOBODY-9",
        "platelets",
    )
    assert outcome.message.status == LabMessage.Status.WAITING


def test_an_unknown_code_waits(patient, connection):
    odd = FeedResult(
        position="OBX[1]",
        hospital_number=patient.hospital_number,
        code="99999-9",
        value="3",
        sample_collected_on=patient.clinic.today(),
    )
    outcome = feed_record(message=received(connection), results=[odd])
    assert (outcome.recorded, outcome.waiting) == (0, 1)
    assert WaitingResult.objects.get().reason == WaitingResult.Reason.UNKNOWN_CODE


def test_a_patient_of_another_clinic_is_refused(patient, connection):
    other = Clinic.objects.create(name="Other clinic", code="other")
    foreign = platelets(patient, assigning_authority=clinic_identifier_system(other))
    outcome = feed_record(message=received(connection), results=[foreign])
    assert outcome.refused and "Other clinic" in outcome.problems[0].message
    assert not LabResult.objects.exists() and not WaitingResult.objects.exists()


def test_a_future_sample_is_refused(patient, connection):
    outcome = feed_record(message=received(connection), results=[platelets(patient, days_ago=-1)])
    assert outcome.refused and "future" in outcome.problems[0].message


def test_a_correction_is_a_new_version_of_the_result(patient, connection):
    feed_record(message=received(connection), results=[platelets(patient, "40")])
    outcome = feed_record(
        message=received(connection, "MSG-2"),
        results=[platelets(patient, "240", status=CORRECTED)],
    )
    assert outcome.recorded == 1
    result = LabResult.objects.get(patient=patient)
    assert (result.value_text, result.tier, result.status) == ("240", "normal", "corrected")
    assert result.history.count() == 2
    assert "lab sent a corrected value" in result.history.first().history_change_reason


def test_a_final_value_replaces_the_preliminary_one(patient, connection):
    feed_record(message=received(connection), results=[platelets(patient, status=PRELIMINARY)])
    result = LabResult.objects.get(patient=patient)
    assert result.status == ResultStatus.PRELIMINARY
    assert not result.report.completed_checks.exists()
    feed_record(message=received(connection, "MSG-2"), results=[platelets(patient)])
    result.refresh_from_db()
    assert result.status == ResultStatus.FINAL
    assert result.report.completed_checks.exists()


def test_the_lab_withdrawing_a_result_marks_it_entered_in_error(patient, connection):
    feed_record(message=received(connection), results=[platelets(patient, "40")])
    feed_record(
        message=received(connection, "MSG-2"),
        results=[platelets(patient, "40", status=ENTERED_IN_ERROR)],
    )
    result = LabResult.objects.get(patient=patient)
    assert result.is_entered_in_error and not result.awaits_acknowledgement


def test_a_token_is_stored_hashed_and_refused_once_revoked(patient):
    from labfeeds.models import ApiToken
    from labfeeds.tokens import token_authenticate, token_create, token_revoke
    from tests.builders import lead_of

    lead = lead_of(patient.clinic, "lead")
    made = token_create(clinic=patient.clinic, name="EHR", scope="read", created_by=lead)
    stored = ApiToken.objects.get()
    assert made.secret not in (stored.digest, stored.prefix) and made.secret.startswith("lmt_")
    assert token_authenticate(made.secret, scope="read") == stored
    assert token_authenticate(made.secret, scope="lab") is None
    token_revoke(token=stored, revoked_by=lead)
    assert token_authenticate(made.secret, scope="read") is None


def test_a_repeat_of_a_message_with_waiting_results_is_not_refused(patient, connection):
    stranger = platelets(patient, hospital_number="NOBODY-9", position="OBX[2]")
    first = feed_record(message=received(connection), results=[platelets(patient), stranger])
    again, _ = message_receive(
        protocol=LabMessage.Protocol.HL7, raw="MSH|...", connection=connection, control_id="MSG-1"
    )
    repeat = feed_record(message=again, results=[platelets(patient), stranger])
    assert not first.refused and not repeat.refused and repeat.repeated
    assert [n.where for n in repeat.notices] == [n.where for n in first.notices] == ["OBX[2]"]


def test_a_preliminary_value_is_labelled_on_the_patient_page_and_the_worklist(
    patient, connection, client
):
    from django.urls import reverse

    from tests.auth import sign_in
    from tests.builders import nurse_of

    nurse = nurse_of(patient.clinic, "nurse")
    feed_record(
        message=received(connection), results=[platelets(patient, "40", status=PRELIMINARY)]
    )
    sign_in(client, nurse)
    page = client.get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert "preliminary</span>" in page
    worklist = client.get(reverse("monitoring:worklist")).content.decode()
    assert "preliminary</span>" in worklist


def test_a_waiting_critical_count_is_previewed_and_listed_first(patient, connection, client):
    from django.urls import reverse

    from tests.auth import sign_in
    from tests.builders import nurse_of

    routine = platelets(patient, "250", hospital_number="NOBODY-1", position="OBX[1]")
    feed_record(message=received(connection), results=[routine])
    critical = platelets(patient, "<20", hospital_number="NOBODY-2", position="OBX[1]")
    critical = FeedResult(**{**critical.__dict__, "value": "20", "comparator": "<"})
    feed_record(message=received(connection, "MSG-2"), results=[critical])
    sign_in(client, nurse_of(patient.clinic, "nurse"))
    page = client.get(reverse("labfeeds:waiting")).content.decode()
    assert "would be critical" in page
    # The newer, critical group above the older, routine one.
    assert page.index("NOBODY-2") < page.index("NOBODY-1")
