"""The monitoring record (PDF): what it prints for a patient with five years of checks, odd
characters that must not break it, a fixed number of queries, who may have it, and its audit
entry."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from auditlog.models import LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from monitoring.alerts.services import check_waive
from monitoring.alerts.symptom_reports import symptom_report_acknowledge, symptom_report_create
from monitoring.models import ScheduledCheck
from patients.models import Patient
from reports.record.pdf import record_pdf
from reports.record.selectors import monitoring_record
from reports.record.views import record_file_name
from tests.auth import sign_in
from tests.builders import acknowledge, nurse_of, platelets, report, treated_patient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

WAIVER = "Patient in hospital abroad for the month"
ACK_NOTE = "Called the patient and booked a repeat count"
SYMPTOM = "Bruises on both shins since Sunday"


def pdf_text(content: bytes) -> str:
    """The ASCII text of an uncompressed reportlab PDF: its page streams' strings, joined.
    reportlab writes ASCII characters as themselves in the first subset of a TrueType font,
    so what the record says in ASCII can be searched; other characters are subset codes."""
    strings = re.findall(rb"\((.*?)(?<!\\)\) Tj", content)
    text = b"".join(strings).replace(rb"\(", b"(").replace(rb"\)", b")")
    # A line break of a paragraph (or a change of font within a line) starts a new string:
    # searched without spaces, a wrapped sentence is still found.
    return re.sub(r"\s+", "", text.decode("latin-1"))


def found(expected: str, text: str) -> bool:
    return re.sub(r"\s+", "", expected) in text


def five_years(clinic, nurse, **fields):
    """A patient whose course 1 was five years ago (given), with a few of its checks done,
    one flagged and acknowledged, one waived, and a symptom report acknowledged."""
    patient = treated_patient(clinic, days_ago=5 * 365, given=True, **fields)
    patient.named_nurse = nurse
    patient.save()
    today = clinic.today()
    low = platelets(patient, 80, entered_by=nurse, days_ago=5 * 365 - 40)
    acknowledge(low, nurse, note=ACK_NOTE)
    for months in (3, 6, 9):
        report(
            patient,
            "blood_count",
            {"platelets": 230, "haemoglobin": 131},
            entered_by=nurse,
            days_ago=5 * 365 - months * 30,
        )
    open_check = ScheduledCheck.objects.open().filter(patient=patient).order_by("due_date").first()
    check_waive(check=open_check, reason=WAIVER, waived_by=nurse, now=timezone.now())
    symptom = symptom_report_create(
        patient=patient,
        symptom_codes=["bleeding"],
        details=SYMPTOM,
        reported_by=patient.user or nurse,
        submission_key=uuid.uuid4(),
        now=timezone.now() - timedelta(days=2),
    )
    symptom_report_acknowledge(
        report=symptom,
        action="called_patient",
        note="Rang her: blood count today",
        acknowledged_by=nurse,
        now=timezone.now() - timedelta(days=1),
    )
    assert today
    return patient


@pytest.fixture
def nurse(clinic_a):
    return nurse_of(clinic_a, "nurse_rec", first_name="Rita", last_name="Record")


def printed(patient) -> bytes:
    record = monitoring_record(patient, today=patient.clinic.today())
    return record_pdf(record, printed_at=timezone.now(), zone=patient.clinic.zone, compress=False)


def test_the_record_of_five_years_prints_what_happened(clinic_a, nurse):
    patient = five_years(clinic_a, nurse, given_name="Alice", family_name="Walker")
    record = monitoring_record(patient, today=clinic_a.today())
    assert len(record.checks) > 250
    content = printed(patient)
    assert content.startswith(b"%PDF")
    text = pdf_text(content)
    for expected in (
        "Alice Walker",
        patient.hospital_number,
        "12 mg",
        f"{record.checks[0].due_date:%d %b %Y}",
        WAIVER,
        ACK_NOTE,
        SYMPTOM,
        "Rita Record",
        "End of follow-up",
        f"{patient.follow_up_ends:%d %b %Y}",
    ):
        assert found(expected, text), expected
    pages = int(re.search(rb"/Count (\d+)", content)[1])
    assert pages > 3 and found(f"Page {pages} of {pages}", text)


def test_odd_characters_do_not_break_it(clinic_a, nurse):
    patient = five_years(
        clinic_a,
        nurse,
        given_name="<b>Ünïcødé & 😀",
        family_name="Иванова</para>",
        hospital_number='A/B "7" ü',
    )
    check = ScheduledCheck.objects.open().filter(patient=patient).order_by("due_date").first()
    check_waive(check=check, reason="<i>not closed & 🩸 кровь", waived_by=nurse, now=timezone.now())
    content = printed(patient)
    assert content.startswith(b"%PDF") and content.rstrip().endswith(b"%%EOF")
    text = pdf_text(content)
    assert found("<b>", text) and found("<i>not closed &", text)  # text, not markup


def test_the_record_takes_the_same_queries_for_one_year_and_for_five(clinic_a, nurse):
    short = treated_patient(clinic_a, days_ago=200, given=True)
    platelets(short, 80, entered_by=nurse, days_ago=150)
    long = five_years(clinic_a, nurse)

    def queries(patient) -> int:
        with CaptureQueriesContext(connection) as context:
            monitoring_record(patient, today=clinic_a.today())
        return len(context)

    assert queries(short) == queries(long) <= 6


def test_a_nurse_downloads_it_and_the_download_is_audited(client, clinic_a, nurse):
    patient = treated_patient(clinic_a, days_ago=400, given=True, hospital_number='H/1 "x"')
    sign_in(client, nurse)
    response = client.get(reverse("reports:patient_record", args=[patient.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    today = clinic_a.today()
    assert response["Content-Disposition"] == (
        f'attachment; filename="H_1_x-monitoring-record-{today:%Y-%m-%d}.pdf"'
    )
    assert response.content.startswith(b"%PDF")
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS).get()
    assert (entry.actor, entry.additional_data["viewed"]) == (nurse, "monitoring record (PDF)")


def test_file_names_keep_safe_characters_only():
    day = date(2026, 3, 4)
    assert record_file_name("RX-1001", day) == "RX-1001-monitoring-record-2026-03-04.pdf"
    assert record_file_name("../\r\n;ü", day) == "patient-monitoring-record-2026-03-04.pdf"


def test_without_the_permission_it_is_refused(client, clinic_a, staff_a):
    patient = treated_patient(clinic_a, days_ago=100, given=True)
    sign_in(client, staff_a)  # clinic staff: no export_reports
    assert client.get(reverse("reports:patient_record", args=[patient.pk])).status_code == 403
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_another_clinic_s_patient_is_a_404(client, nurse, patient_b):
    sign_in(client, nurse)
    assert client.get(reverse("reports:patient_record", args=[patient_b.pk])).status_code == 404


def test_the_patient_s_own_portal_session_cannot_have_it(client, clinic_a):
    """The PDF is a staff screen (every nurse's note in it): a patient is refused, with the
    same 404 a staff screen naming a record gives anyone off its staff."""
    patient = treated_patient(clinic_a, days_ago=100, given=True)
    patient.user = UserFactory(username="own_patient")
    patient.save()
    sign_in(client, patient.user, second_factor=False)
    assert client.get(reverse("reports:patient_record", args=[patient.pk])).status_code == 404


def test_a_complete_patient_s_record_says_since_when(clinic_a, nurse):
    patient = treated_patient(clinic_a, days_ago=6 * 365, given=True, given_name="Done")
    patient.status = Patient.Status.MONITORING_COMPLETE
    patient.save()
    record = monitoring_record(patient, today=clinic_a.today())
    assert record.identity.complete_since is not None
    since = f"{record.identity.complete_since.astimezone(clinic_a.zone):%d %b %Y}"
    assert found(f"Monitoring complete since {since}", pdf_text(printed(patient)))
