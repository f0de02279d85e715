"""Every screen that shows part of a patient's record leaves an ACCESS entry: who, from where,
what was shown, about which patient."""

import pytest
from auditlog.models import LogEntry
from django.test import RequestFactory
from django.urls import reverse

from audit.access import record_access
from tests.builders import platelets

pytestmark = pytest.mark.django_db

ACCESS = LogEntry.Action.ACCESS
CONSULTING_ROOM = "10.0.8.15"


def reads() -> list[LogEntry]:
    return list(LogEntry.objects.filter(action=ACCESS).select_related("subject").order_by("pk"))


def test_viewing_the_patient_page_is_recorded_with_who_and_from_where(client_a, staff_a, patient):
    response = client_a.get(
        reverse("patients:detail", args=[patient.pk]), REMOTE_ADDR=CONSULTING_ROOM
    )

    assert response.status_code == 200
    (entry,) = reads()
    assert (entry.actor, entry.remote_addr) == (staff_a, CONSULTING_ROOM)
    assert entry.additional_data == {"viewed": "patient page"}
    assert (entry.content_type.model_class(), entry.object_id) == (type(patient), patient.pk)
    assert (entry.subject.patient, entry.subject.clinic) == (patient, patient.clinic)


def test_viewing_a_results_history_is_recorded_against_the_result_and_its_patient(
    client_a, staff_a, patient
):
    result = platelets(patient, "210", entered_by=staff_a, days_ago=1)

    client_a.get(reverse("monitoring:result_history", args=[result.pk]))

    (entry,) = reads()
    assert entry.additional_data == {"viewed": "result history"}
    assert entry.object_id == result.pk
    assert entry.subject.patient == patient


def test_another_clinics_patient_is_refused_and_nothing_is_recorded_as_read(client_a, patient_b):
    response = client_a.get(reverse("patients:detail", args=[patient_b.pk]))

    assert response.status_code == 404
    assert reads() == []


def test_a_read_without_a_signed_in_user_keeps_the_address(patient, rf: RequestFactory):
    # As a calendar feed opened by its secret link: nobody signed in.
    request = rf.get("/portal/calendar/secret.ics", REMOTE_ADDR="198.51.100.7")
    request.user = None

    record_access(request, patient, "calendar feed")

    (entry,) = reads()
    assert (entry.actor, entry.remote_addr) == (None, "198.51.100.7")
    assert entry.additional_data == {"viewed": "calendar feed"}
    assert entry.subject.clinic == patient.clinic
