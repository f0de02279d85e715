"""What becomes of one message, without a socket: the sender found, repeats, and failures on
the way answered rather than dropped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from labfeeds.hl7 import receiving
from labfeeds.hl7.reading import parse, read_header
from labfeeds.hl7.receiving import connection_for, connection_pinned, hl7_message_take
from labfeeds.models import LabConnection, LabMessage
from monitoring.models import LabResult
from tests.builders import treated_patient
from tests.factories import ClinicFactory
from tests.labfeeds.hl7.messages import Obx, oru

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient():
    return treated_patient(ClinicFactory(), days_ago=200, given=True, hospital_number="RX-1001")


@pytest.fixture
def lab(patient):
    return LabConnection.objects.create(
        clinic=patient.clinic, name="City lab", hl7_sending_facility="CITYLAB"
    )


def message(patient, **fields) -> str:
    when = timezone.localtime(timezone.now(), patient.clinic.zone) - timedelta(days=2)
    return oru(patient.hospital_number, when.strftime("%Y%m%d%H%M"), Obx(value="40"), **fields)


def test_an_empty_application_takes_any_application_of_its_facility(patient, lab):
    header = read_header(parse(message(patient, application="ANYTHING")))
    assert connection_for(header) == lab
    own = LabConnection.objects.create(
        clinic=patient.clinic,
        name="City lab, haematology",
        hl7_sending_application="ANYTHING",
        hl7_sending_facility="CITYLAB",
    )
    assert connection_for(header) == own


def test_an_inactive_connection_takes_nothing(patient, lab):
    lab.is_active = False
    lab.save()
    answer = hl7_message_take(message(patient))
    assert answer.code == "AR"
    assert LabMessage.objects.get().connection is None


def test_a_message_read_but_never_answered_is_answered_from_what_was_stored(patient, lab):
    first = hl7_message_take(message(patient))
    # As if the listener had stopped after recording and before storing its ACK.
    LabMessage.objects.update(answer="", answer_code="")
    again = hl7_message_take(message(patient))
    assert (first.code, again.code, again.repeated, again.recorded) == ("AA", "AA", True, 1)
    assert LabResult.objects.count() == 1
    assert LabMessage.objects.get().answer_code == "AA"


def test_two_unknown_senders_with_the_same_control_id_are_both_kept(patient, lab):
    hl7_message_take(message(patient, facility="ELSEWHERE"))
    hl7_message_take(message(patient, facility="YETANOTHER"))
    assert LabMessage.objects.filter(connection=None).count() == 2


def test_an_internal_error_is_answered_ar_and_a_resend_is_recorded(patient, lab, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(receiving, "feed_record", broken)
    failed = hl7_message_take(message(patient))
    assert failed.code == "AR" and "send it again" in failed.ack
    assert LabMessage.objects.get().status == LabMessage.Status.RECEIVED
    monkeypatch.undo()
    assert hl7_message_take(message(patient)).code == "AA"
    assert LabResult.objects.count() == 1


def test_a_pinned_connection_is_named_once_and_active(patient, lab):
    assert connection_pinned("City lab") == lab
    assert connection_pinned(str(lab.pk)) == lab
    with pytest.raises(LookupError):
        connection_pinned("No such lab")
    LabConnection.objects.create(clinic=ClinicFactory(), name="City lab")
    with pytest.raises(LookupError, match="Several"):
        connection_pinned("City lab")
