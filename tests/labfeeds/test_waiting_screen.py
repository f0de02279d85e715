"""The results waiting for a person, on their screen: listed for the clinic's staff only, grouped
as the lab sent them, matched to a patient (recorded through the one pipeline) or dismissed
with a reason, once, however often or concurrently it is submitted."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from django.db import connection as db_connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.roles import Role
from labfeeds.intake import FeedResult, feed_record, message_receive
from labfeeds.models import LabConnection, LabMessage, WaitingResult
from labfeeds.waiting import waiting_dismiss
from monitoring.models import LabReport, LabResult
from tests.auth import sign_in, staff_of
from tests.builders import lead_of, treated_patient
from tests.factories import UserFactory
from tests.forms import hidden_fields, keyed

pytestmark = pytest.mark.django_db

WAITING = reverse("labfeeds:waiting")


def match_url(row):
    return reverse("labfeeds:waiting_match", args=[row.pk])


def dismiss_url(row):
    return reverse("labfeeds:waiting_dismiss", args=[row.pk])


def lab_message(clinic, results, *, control_id="MSG-1", protocol=LabMessage.Protocol.HL7):
    """A lab message received and read for `clinic`, with these FeedResults."""
    lab, _ = LabConnection.objects.get_or_create(
        clinic=clinic, name="City lab", defaults={"hl7_sending_facility": f"LAB-{clinic.code}"}
    )
    message, _ = message_receive(
        protocol=protocol, raw="MSH|^~\\&|...", connection=lab, control_id=control_id
    )
    outcome = feed_record(message=message, results=results)
    assert not outcome.problems, outcome.problems
    return outcome.message


def result(clinic, position, code, value, unit, *, hospital_number="RX-404", days_ago=2, **kw):
    return FeedResult(
        position=position,
        hospital_number=hospital_number,
        code=code,
        value=value,
        unit=unit,
        sample_collected_on=clinic.today() - timedelta(days=days_ago),
        patient_name=kw.pop("patient_name", "PATIENT Ada"),
        date_of_birth=kw.pop("date_of_birth", None),
        code_display=kw.pop("code_display", ""),
        lab_reference=kw.pop("lab_reference", "ORD-7"),
        lab_name="City lab",
        **kw,
    )


def blood_count(clinic, *, hospital_number="RX-404", platelets="45", unit="10^9/L", **kw):
    """A blood count for a hospital number the clinic does not know: three results, one
    message, one waiting group."""
    return [
        result(clinic, "OBX[1]", "777-3", platelets, unit, hospital_number=hospital_number, **kw),
        result(clinic, "OBX[2]", "751-8", "3.1", "10^9/L", hospital_number=hospital_number, **kw),
        result(clinic, "OBX[3]", "6690-2", "6.2", "10^9/L", hospital_number=hospital_number, **kw),
    ]


@pytest.fixture
def ada(clinic_a):
    """Clinic A's patient the lab meant: her hospital number is RX-0404, the lab wrote RX-404."""
    return treated_patient(
        clinic_a, days_ago=75, given=True, hospital_number="RX-0404", given_name="Ada"
    )


@pytest.fixture
def waiting(clinic_a, ada):
    lab_message(clinic_a, blood_count(clinic_a))
    return WaitingResult.objects.order_by("pk").first()


def test_the_list_shows_one_row_per_message_and_patient_with_what_the_lab_sent(
    client_lead, clinic_a, waiting
):
    lab_message(
        clinic_a,
        [result(clinic_a, "OBX[1]", "99999-9", "7", "mg/L", code_display="Mystery protein")],
        control_id="MSG-2",
    )
    page = client_lead.get(WAITING)
    body = page.content.decode()

    assert page.status_code == 200
    assert body.count("Match to a patient<span") == 1  # the unknown code's group: dismiss only
    assert body.count("Dismiss<span") == 2
    assert "RX-404" in body and "PATIENT Ada" in body and "City lab" in body
    assert "Mystery protein (99999-9)" in body
    assert "the clinic does not monitor this test" in body
    assert "4 results from the labs" in body


def test_the_worklist_header_counts_the_waiting_results(client, nurse_a, clinic_a, waiting):
    sign_in(client, nurse_a)
    body = client.get(reverse("monitoring:worklist")).content.decode()
    assert "Lab results waiting for a patient" in body
    assert f'href="{WAITING}"' in body


def test_another_clinics_waiting_results_are_invisible_and_404(client, clinic_b, waiting):
    staff_b = staff_of(clinic_b, UserFactory(username="staff_b"), Role.CLINIC_LEAD)
    sign_in(client, staff_b)
    assert "RX-404" not in client.get(WAITING).content.decode()
    assert client.get(match_url(waiting)).status_code == 404
    assert client.get(dismiss_url(waiting)).status_code == 404
    response = client.post(dismiss_url(waiting), keyed({"reason": "Not ours."}))
    assert response.status_code == 404
    assert WaitingResult.objects.filter(state=WaitingResult.State.WAITING).count() == 3


def test_a_nurse_reads_the_list_but_only_those_who_record_results_handle_it(
    client, nurse_a, waiting
):
    sign_in(client, nurse_a)
    body = client.get(WAITING).content.decode()
    assert "RX-404" in body and "Match to a patient<span" not in body
    assert client.get(match_url(waiting)).status_code == 403


def test_the_lab_s_number_written_differently_is_suggested(client_lead, ada, waiting):
    body = client_lead.get(match_url(waiting)).content.decode()
    assert f"?patient={ada.pk}" in body
    assert "RX-0404" in body


def test_a_search_finds_a_patient_of_the_clinic_only(client_lead, clinic_a, patient_b, waiting):
    other = treated_patient(clinic_a, days_ago=75, given=True, family_name="Zed")
    body = client_lead.get(match_url(waiting), {"q": "Zed"}).content.decode()
    assert f"?patient={other.pk}" in body
    body = client_lead.get(match_url(waiting), {"q": patient_b.hospital_number}).content.decode()
    assert f"?patient={patient_b.pk}" not in body


def test_matching_records_the_group_through_the_pipeline(client_lead, lead_a, ada, waiting):
    page = client_lead.get(match_url(waiting), {"patient": ada.pk})
    assert "Record 3 results for this patient?" in page.content.decode()

    response = client_lead.post(match_url(waiting), {**hidden_fields(page), "patient": ada.pk})

    assert response.status_code == 302 and response["Location"] == WAITING
    report = LabReport.objects.get(patient=ada)
    assert (report.source, report.entered_by, report.lab_reference) == ("hl7", lead_a, "ORD-7")
    platelets = report.results.get(analyte__code="platelets")
    assert platelets.tier == "critical"  # flagged as every result is
    assert report.completed_checks.exists()  # the blood count it answers is done
    rows = WaitingResult.objects.all()
    assert {
        (r.state, r.matched_patient_id, r.matched_report_id, r.handled_by_id) for r in rows
    } == {(WaitingResult.State.MATCHED, ada.pk, report.pk, lead_a.pk)}
    assert list(waiting.message.reports.all()) == [report]
    assert "3 results recorded for" in client_lead.get(WAITING).content.decode()
    # Matching is in the audit trail, row by row, as the clinic's: the lead reads it there.
    assert LogEntry.objects.filter(content_type__model="waitingresult").count() == 3
    trail = client_lead.get(reverse("audit:list")).content.decode()
    assert "777-3 for RX-404 (Matched to a patient)" in trail


def test_a_fhir_message_is_recorded_as_fhir(client_lead, clinic_a, ada):
    lab_message(
        clinic_a, blood_count(clinic_a, hospital_number="X-9"), protocol=LabMessage.Protocol.FHIR
    )
    row = WaitingResult.objects.first()
    page = client_lead.get(match_url(row), {"patient": ada.pk})
    client_lead.post(match_url(row), {**hidden_fields(page), "patient": ada.pk})
    assert LabReport.objects.get(patient=ada).source == "fhir"


def test_a_unit_the_analyte_does_not_take_refuses_the_match_and_stores_nothing(
    client_lead, clinic_a, ada
):
    lab_message(clinic_a, blood_count(clinic_a, platelets="45", unit="g/L"))
    row = WaitingResult.objects.order_by("pk").first()
    page = client_lead.get(match_url(row), {"patient": ada.pk})

    response = client_lead.post(match_url(row), {**hidden_fields(page), "patient": ada.pk})

    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was recorded" in body and "OBX[1]" in body and "g/L" in body
    assert not LabResult.objects.filter(patient=ada).exists()
    assert not WaitingResult.objects.exclude(state=WaitingResult.State.WAITING).exists()


def test_a_patient_of_another_clinic_cannot_be_chosen(client_lead, patient_b, waiting):
    response = client_lead.post(match_url(waiting), keyed({"patient": patient_b.pk}))
    assert response.status_code == 200
    assert "Choose a patient of the clinic" in response.content.decode()
    assert not LabResult.objects.exists()


def test_an_unknown_code_can_only_be_dismissed(client_lead, clinic_a, ada):
    lab_message(clinic_a, [result(clinic_a, "OBX[1]", "99999-9", "7", "mg/L")])
    row = WaitingResult.objects.get()
    page = client_lead.get(match_url(row))
    assert "Dismiss them with a reason" in page.content.decode()
    response = client_lead.post(match_url(row), keyed({"patient": ada.pk}))
    assert "None of these results can be recorded" in response.content.decode()
    assert WaitingResult.objects.get().state == WaitingResult.State.WAITING


def test_dismissing_needs_a_reason(client_lead, waiting):
    response = client_lead.post(dismiss_url(waiting), keyed({"reason": "   "}))
    assert response.status_code == 200
    assert "Say why these results are dismissed." in response.content.decode()
    assert not WaitingResult.objects.exclude(state=WaitingResult.State.WAITING).exists()


def test_dismissing_keeps_the_rows_with_who_when_and_why(client_lead, lead_a, waiting):
    page = client_lead.get(dismiss_url(waiting))
    reason = "Private patient of another hospital; the lab was told."
    response = client_lead.post(dismiss_url(waiting), {**hidden_fields(page), "reason": reason})
    assert response.status_code == 302
    assert set(WaitingResult.objects.values_list("state", "dismiss_reason", "handled_by")) == {
        (WaitingResult.State.DISMISSED, reason, lead_a.pk)
    }
    assert not LabResult.objects.exists()


def test_a_formula_in_the_reason_is_refused(client_lead, waiting):
    response = client_lead.post(dismiss_url(waiting), keyed({"reason": "=HYPERLINK(1)"}))
    assert response.status_code == 200
    assert WaitingResult.objects.filter(state=WaitingResult.State.WAITING).count() == 3


def test_a_double_submitted_match_records_once(client_lead, ada, waiting):
    page = client_lead.get(match_url(waiting), {"patient": ada.pk})
    data = {**hidden_fields(page), "patient": ada.pk}
    answers = [client_lead.post(match_url(waiting), data) for _ in range(3)]
    assert {a.status_code for a in answers} == {302}
    assert LabReport.objects.filter(patient=ada).count() == 1
    assert LabResult.objects.filter(patient=ada).count() == 3


def test_a_group_matched_meanwhile_is_left_alone_and_counted(client_lead, lead_a, ada, waiting):
    page = client_lead.get(match_url(waiting), {"patient": ada.pk})
    # Someone else dismisses it while this page is open.
    waiting_dismiss(row=waiting, reason="Sent twice.", dismissed_by=lead_a, now=timezone.now())

    response = client_lead.post(
        match_url(waiting), {**hidden_fields(page), "patient": ada.pk}, follow=True
    )

    assert "3 of them were already matched or dismissed" in response.content.decode()
    assert not LabResult.objects.exists()
    assert set(WaitingResult.objects.values_list("state", flat=True)) == {"dismissed"}


def test_a_result_the_patient_already_has_is_not_recorded_twice(client_lead, lead_a, ada, waiting):
    page = client_lead.get(match_url(waiting), {"patient": ada.pk})
    client_lead.post(match_url(waiting), {**hidden_fields(page), "patient": ada.pk})
    # The lab sends the same results again under the wrong number.
    lab_message(ada.clinic, blood_count(ada.clinic), control_id="MSG-9")
    again = WaitingResult.objects.filter(state="waiting").order_by("pk").first()
    page = client_lead.get(match_url(again), {"patient": ada.pk})
    response = client_lead.post(match_url(again), {**hidden_fields(page), "patient": ada.pk})
    assert "would be recorded twice" in response.content.decode()
    assert LabResult.objects.filter(patient=ada).count() == 3


def test_the_list_takes_the_same_queries_for_one_group_or_many(client_lead, clinic_a, ada):
    lab_message(clinic_a, blood_count(clinic_a))
    client_lead.get(WAITING)
    with CaptureQueriesContext(db_connection) as one:
        client_lead.get(WAITING)
    for n in range(6):
        lab_message(clinic_a, blood_count(clinic_a, hospital_number=f"Q-{n}"), control_id=f"M{n}")
    with CaptureQueriesContext(db_connection) as many:
        client_lead.get(WAITING)
    assert len(many.captured_queries) == len(one.captured_queries)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_people_matching_one_group_at_once_record_it_once(clinic_a, ada):
    if db_connection.vendor != "postgresql":
        pytest.skip("Concurrent requests need PostgreSQL; SQLite serialises the whole database.")
    lab_message(clinic_a, blood_count(clinic_a))
    row = WaitingResult.objects.order_by("pk").first()
    posts = []
    for n in range(3):
        client = sign_in(Client(), lead_of(clinic_a, f"lead_{n}"))
        page = client.get(match_url(row), {"patient": ada.pk})
        posts.append((client, {**hidden_fields(page), "patient": ada.pk}))
    barrier = threading.Barrier(len(posts))
    answers = []

    def post(client, data):
        try:
            barrier.wait()
            answers.append(client.post(match_url(row), data, follow=True))
        finally:
            db_connection.close()

    threads = [threading.Thread(target=post, args=post_args) for post_args in posts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [answer.status_code for answer in answers] == [200] * 3
    assert LabReport.objects.filter(patient=ada).count() == 1
    assert LabResult.objects.filter(patient=ada).count() == 3
    told = [answer.content.decode() for answer in answers]
    assert sum("3 results recorded for" in page for page in told) == 1
    assert sum("3 of them were already matched or dismissed" in page for page in told) == 2


def test_a_patient_with_the_same_birth_date_and_a_name_in_common_is_suggested(
    client_lead, clinic_a, ada
):
    born = ada.date_of_birth
    namesake = treated_patient(
        clinic_a, days_ago=75, given=True, family_name="Okafor", date_of_birth=born
    )
    stranger = treated_patient(
        clinic_a, days_ago=75, given=True, family_name="Okafor", date_of_birth=date(1990, 1, 2)
    )
    lab_message(
        clinic_a,
        blood_count(
            clinic_a, hospital_number="ZZ-1", patient_name="OKAFOR^Ngozi", date_of_birth=born
        ),
    )
    body = client_lead.get(match_url(WaitingResult.objects.first())).content.decode()
    assert f"?patient={namesake.pk}" in body
    assert f"?patient={stranger.pk}" not in body
    assert f"?patient={ada.pk}" not in body
