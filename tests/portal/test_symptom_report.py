"""Reporting a symptom from the portal: the report is stored, an urgent check due today opens
for each panel the symptom calls for, the nurse (named, else the clinic's nurse group) gets an
at-once alert that names no symptom, and staff see it on the worklist and the patient page.
Planning never moves or cancels an urgent check; a result of its panel completes it."""

import uuid
from datetime import date

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from monitoring.models import Notification, ScheduledCheck, SymptomReport
from monitoring.outbox.delivery import Batch, batch_deliver
from monitoring.schedule.services import schedule_reconcile
from patients.models import Patient
from tests.auth import sign_in
from tests.builders import lead_of, nurse_of, platelets, with_course_one

pytestmark = pytest.mark.django_db

REPORT = reverse("portal:symptom_report")


@pytest.fixture
def nurse_2(clinic_a):
    return nurse_of(clinic_a, "nurse_2")


def report(client, *symptoms, details="", key=None):
    data = {"symptoms": list(symptoms), "details": details, "submission_key": key or uuid.uuid4()}
    return client.post(REPORT, data)


def urgent_checks(patient):
    return ScheduledCheck.objects.filter(patient=patient, kind=ScheduledCheck.Kind.URGENT)


def test_bleeding_opens_one_urgent_blood_count_and_alerts_the_named_nurse_at_once(
    patient_client, patient, nurse_a, nurse_2, django_capture_on_commit_callbacks
):
    Patient.objects.filter(pk=patient.pk).update(named_nurse=nurse_a)

    with django_capture_on_commit_callbacks() as callbacks:
        response = report(patient_client, "bleeding", details="Purple spots on my shins.")

    assert response.status_code == 302 and response["Location"] == reverse("portal:symptom_sent")
    stored = SymptomReport.objects.get()
    assert stored.patient == patient and stored.symptoms == ["bleeding"]
    assert stored.details == "Purple spots on my shins."
    check = urgent_checks(patient).get()
    today = patient.clinic.today()
    assert (check.panel, check.due_date, check.window_opens, check.overdue_after) == (
        "blood_count",
        today,
        today,
        today,
    )
    assert check.symptom_report == stored and check.protocol_item is None
    alert = Notification.objects.get()
    assert (alert.kind, alert.delivery, alert.recipient_user) == (
        "symptom_report",
        "at_once",
        nurse_a,
    )
    assert alert.scheduled_check == check and alert.patient == patient
    # The delivery is queued once the transaction commits, not left for the sweep.
    assert callbacks


def test_without_a_named_nurse_every_nurse_of_the_group_is_alerted(
    patient_client, patient, nurse_a, nurse_2
):
    report(patient_client, "bleeding")

    assert urgent_checks(patient).count() == 1
    alerts = Notification.objects.filter(kind="symptom_report", delivery="at_once")
    assert sorted(alerts.values_list("recipient_user__username", flat=True)) == [
        "nurse_2",
        "nurse_a",
    ]
    assert len({alert.key for alert in alerts}) == 2


def test_the_nurses_email_names_the_patient_but_not_the_symptom(patient_client, patient, nurse_a):
    report(patient_client, "bleeding", details="Purple spots on my shins.")

    outcome = batch_deliver(batch=Batch(nurse_a.pk, None, "at_once"), now=timezone.now())

    assert outcome.sent == 1
    body = mail.outbox[0].body
    assert patient.hospital_number in body and "reported a symptom" in body
    for detail in ("bleed", "bruis", "spots", "petechiae", "Blood count"):
        assert detail.lower() not in body.lower()


def test_a_resubmitted_form_stores_one_report(patient_client, patient, nurse_a):
    key = uuid.uuid4()
    report(patient_client, "bleeding", key=key)
    report(patient_client, "bleeding", key=key)

    assert SymptomReport.objects.count() == 1
    assert urgent_checks(patient).count() == 1
    assert Notification.objects.count() == 1


def test_each_report_alerts_again(patient_client, patient, nurse_a):
    report(patient_client, "bleeding")
    report(patient_client, "bleeding")

    assert Notification.objects.filter(kind="symptom_report").count() == 2


def test_urine_symptoms_open_urinalysis_and_kidney_checks_with_one_alert(
    patient_client, patient, nurse_a
):
    report(patient_client, "urine")

    assert sorted(urgent_checks(patient).values_list("panel", flat=True)) == ["kidney", "urine"]
    assert Notification.objects.count() == 1


def test_palpitations_open_a_thyroid_check(patient_client, patient, nurse_a):
    report(patient_client, "thyroid")

    assert list(urgent_checks(patient).values_list("panel", flat=True)) == ["thyroid"]


def test_something_else_needs_a_description(patient_client, patient, nurse_a):
    response = report(patient_client, "other")

    assert response.status_code == 200
    assert response.context["form"].errors["details"]
    assert not SymptomReport.objects.exists() and not Notification.objects.exists()


def test_nothing_chosen_is_refused(patient_client, nurse_a):
    response = report(patient_client)

    assert response.context["form"].errors["symptoms"]
    assert not SymptomReport.objects.exists()


def test_the_worklist_and_the_patient_page_show_the_report(patient_client, patient, nurse_a):
    report(patient_client, "bleeding", details="Purple spots on my shins.")
    check = urgent_checks(patient).get()
    nurse = sign_in(Client(), nurse_a)

    worklist = nurse.get(reverse("monitoring:worklist"))
    page = nurse.get(reverse("patients:detail", kwargs={"pk": patient.pk}))

    (row,) = worklist.context["worklist"].sections["urgent"].rows
    assert row.patient == patient and [r.pk for r in row.symptom_reports] == [
        check.symptom_report_id
    ]
    assert check.pk in [c.pk for visit in row.visits for c in visit.checks]
    assert "Bruising, bleeding or petechiae" in worklist.content.decode()
    assert "Purple spots on my shins." in worklist.content.decode()
    assert [r.pk for r in page.context["page"].symptom_reports] == [check.symptom_report_id]
    assert "Symptoms reported by the patient" in page.content.decode()
    assert "urgent: reported symptom" in page.content.decode()


def test_an_unanswered_urgent_check_is_overdue_the_next_day(patient_client, patient, nurse_a):
    report(patient_client, "bleeding")
    check = urgent_checks(patient).get()

    assert check.status_on(check.due_date) == "due"
    assert check.status_on(date.fromordinal(check.due_date.toordinal() + 1)) == "overdue"


def test_planning_never_moves_or_cancels_an_urgent_check(patient_client, patient, nurse_a):
    with_course_one(patient, on=patient.clinic.today().replace(day=1), given=True)
    report(patient_client, "bleeding")
    check = urgent_checks(patient).get()

    schedule_reconcile(patient=patient)
    patient.status = Patient.Status.WITHDRAWN
    patient.save(update_fields=["status"])
    result = schedule_reconcile(patient=patient)

    assert result.cancelled > 0  # the planned checks went
    check.refresh_from_db()
    assert check.is_open and check.cancelled_at is None


def test_a_blood_count_taken_after_the_report_completes_the_urgent_check(
    patient_client, patient, nurse_a
):
    report(patient_client, "bleeding")

    platelets(patient, 250, entered_by=nurse_a, days_ago=0)

    check = urgent_checks(patient).get()
    assert check.completed_on == patient.clinic.today()


def test_staff_cannot_use_the_patients_symptom_form(client_a):
    assert report(client_a, "bleeding").status_code == 403
    assert not SymptomReport.objects.exists()


def test_with_no_nurse_at_all_the_clinic_lead_is_alerted(patient_client, patient, clinic_a):
    lead = lead_of(clinic_a, "lead_a", escalates=True)

    report(patient_client, "thyroid")

    assert Notification.objects.get().recipient_user == lead
