"""Acknowledging a flagged result: the choices fit the tier, and a red or critical result cannot
be put away as "no action needed" (or "Other") without a reason of a few words. The rule is
in monitoring.domain.acknowledging, enforced by the service and so by every screen that posts to
it, including a form on another page."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from monitoring.alerts.services import result_acknowledge
from monitoring.domain import acknowledging
from monitoring.models import Acknowledgement, LabResult
from monitoring.worklist.forms import REVIEWED_SAY_WHY, AcknowledgeForm
from tests.auth import sign_in
from tests.builders import platelets, treated_patient
from tests.forms import keyed

pytestmark = pytest.mark.django_db

CRITICAL, RED, AMBER = 45, 80, 120
REAL_REASON = "Known chronic low, haematologist aware."


@pytest.fixture
def client_nurse_a(client, nurse_a):
    return sign_in(client, nurse_a)


@pytest.fixture
def flagged(clinic_a, nurse_a):
    patient = treated_patient(clinic_a, days_ago=75, given=True)
    return lambda value: platelets(patient, value, entered_by=nurse_a, days_ago=1)


def acknowledge(result, by, action, note):
    return result_acknowledge(
        result=result, action=action, note=note, acknowledged_by=by, now=timezone.now()
    )


@pytest.mark.parametrize(
    ("note", "words"),
    [("Seen.", 1), ("Looks fine", 2), ("ok ok ok", 3), (REAL_REASON, 5), ("  ", 0)],
)
def test_words_are_counted_as_a_reader_would(note, words):
    assert acknowledging.word_count(note) == words


@pytest.mark.parametrize("value", [CRITICAL, RED])
@pytest.mark.parametrize("note", ["", "Seen.", "Looks fine", "ok ok ok"])
@pytest.mark.parametrize("action", ["reviewed", "other"])
def test_a_red_or_critical_result_is_not_put_away_without_a_reason(
    flagged, nurse_a, value, note, action
):
    result = flagged(value)
    assert result.tier in ("critical", "red")

    with pytest.raises(ValidationError) as refused:
        acknowledge(result, nurse_a, action, note)

    assert set(refused.value.message_dict) == {"note"}
    assert not Acknowledgement.objects.exists()
    result.refresh_from_db()
    assert result.awaits_acknowledgement


def test_the_reason_message_says_how_much_to_write(flagged, nurse_a):
    with pytest.raises(ValidationError) as refused:
        acknowledge(flagged(CRITICAL), nurse_a, "reviewed", "Looks fine")
    (message,) = refused.value.message_dict["note"]
    assert "Say why no action is needed" in message and "at least 4" in message


@pytest.mark.parametrize("value", [CRITICAL, RED])
def test_no_action_needed_with_a_real_reason_is_accepted(flagged, nurse_a, value):
    result = flagged(value)
    stored = acknowledge(result, nurse_a, "reviewed", REAL_REASON)
    assert (stored.action, stored.note, stored.tier) == ("reviewed", REAL_REASON, result.tier)
    assert not LabResult.objects.get(pk=result.pk).awaits_acknowledgement


@pytest.mark.parametrize("action", ["called_patient", "urgent_test_booked", "repeat_ordered"])
def test_an_action_that_does_something_needs_only_the_usual_note(flagged, nurse_a, action):
    result = flagged(CRITICAL)
    assert acknowledge(result, nurse_a, action, "Seen.").action == action


def test_an_amber_result_can_still_be_reviewed_in_a_word(flagged, nurse_a):
    result = flagged(AMBER)
    assert result.tier == "amber"
    assert acknowledge(result, nurse_a, "reviewed", "Seen.").action == "reviewed"


def test_the_form_fits_the_tier():
    def labels(form):
        return dict(form.fields["action"].choices)

    amber, critical = AcknowledgeForm(tier="amber"), AcknowledgeForm(tier="critical")
    assert labels(amber)["reviewed"] == "Reviewed: no action needed"
    assert labels(critical)["reviewed"] == REVIEWED_SAY_WHY
    assert labels(AcknowledgeForm(tier="red"))["reviewed"] == REVIEWED_SAY_WHY
    assert "urgent_test_booked" in labels(amber) and "urgent_test_booked" in labels(critical)
    assert "at least 4 words" in critical.fields["note"].help_text
    # With no tier (a check's follow-up) every action, as before.
    assert labels(AcknowledgeForm()) == labels(amber)


def test_the_page_of_a_critical_result_asks_why(client_nurse_a, flagged):
    result = flagged(CRITICAL)
    page = client_nurse_a.get(reverse("monitoring:result_acknowledge", args=[result.pk]))
    assert REVIEWED_SAY_WHY in page.content.decode()


def test_a_short_reason_posted_from_another_page_is_shown_on_the_acknowledge_page(
    client_nurse_a, flagged
):
    """As the worklist's inline form posts it: the fields, the key and a next address."""
    result = flagged(CRITICAL)
    url = reverse("monitoring:result_acknowledge", args=[result.pk])

    response = client_nurse_a.post(
        url, keyed({"action": "reviewed", "note": "Looks fine", "next": "/worklist/?mine=1"})
    )

    assert response.status_code == 200
    assert response.templates[0].name == "monitoring/result_acknowledge.html"
    assert "Say why no action is needed" in " ".join(response.context["form"].errors["note"])
    assert 'value="/worklist/?mine=1"' in response.content.decode()  # kept for the next try
    assert not Acknowledgement.objects.exists()


def test_a_real_reason_posted_from_another_page_goes_back_there(client_nurse_a, flagged):
    result = flagged(CRITICAL)
    url = reverse("monitoring:result_acknowledge", args=[result.pk])

    response = client_nurse_a.post(
        url, keyed({"action": "reviewed", "note": REAL_REASON, "next": "/worklist/?mine=1"})
    )

    assert response.status_code == 302 and response["Location"] == "/worklist/?mine=1"
    assert Acknowledgement.objects.get(result=result).note == REAL_REASON


def test_called_the_patient_with_a_note_is_accepted_by_the_page(client_nurse_a, flagged):
    result = flagged(CRITICAL)
    url = reverse("monitoring:result_acknowledge", args=[result.pk])
    response = client_nurse_a.post(url, keyed({"action": "called_patient", "note": "Spoke."}))
    assert response.status_code == 302
    assert Acknowledgement.objects.get(result=result).action == "called_patient"
