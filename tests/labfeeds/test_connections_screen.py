"""A lead's lab connections screen: their clinics' connections only, with tokens, traffic and
errors in a fixed number of queries; connections made, edited (a sender another connection has
is refused on its field), switched off and on; tokens made (the secret shown once) and revoked
(refused from then on); the retention period set."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from labfeeds.intake import FeedProblem, message_receive, message_refuse
from labfeeds.models import ApiToken, LabConnection, LabMessage, WaitingResult
from labfeeds.tokens import token_authenticate, token_create
from tests.auth import sign_in
from tests.builders import lead_of
from tests.forms import hidden_fields, keyed

pytestmark = pytest.mark.django_db

CONNECTIONS = reverse("labfeeds:connections")


@pytest.fixture
def city(clinic_a, lead_a):
    return LabConnection.objects.create(
        clinic=clinic_a,
        name="City lab",
        hl7_sending_application="WINPATH",
        hl7_sending_facility="CITY",
        created_by=lead_a,
    )


def message(connection, control_id, *, status, days_ago=0, problems=()):
    stored, _ = message_receive(
        protocol=LabMessage.Protocol.HL7,
        raw="MSH|...",
        connection=connection,
        control_id=control_id,
    )
    if problems:
        message_refuse(message=stored, problems=problems)
    else:
        LabMessage.objects.filter(pk=stored.pk).update(status=status)
    LabMessage.objects.filter(pk=stored.pk).update(
        received_at=timezone.now() - timedelta(days=days_ago)
    )
    return stored


def test_a_nurse_is_refused_the_screen(client, nurse_a, city):
    sign_in(client, nurse_a)
    assert client.get(CONNECTIONS).status_code == 403
    assert client.get(reverse("labfeeds:connection_edit", args=[city.pk])).status_code == 403


def test_another_clinics_connection_and_token_answer_404(client, clinic_b, city, lead_a):
    token = token_create(clinic=city.clinic, name="Feed", scope="lab", created_by=lead_a).token
    sign_in(client, lead_of(clinic_b, "lead_b"))
    assert "City lab" not in client.get(CONNECTIONS).content.decode()
    for url in (
        reverse("labfeeds:connection_edit", args=[city.pk]),
        reverse("labfeeds:connection_switch", args=[city.pk]),
        reverse("labfeeds:token_revoke", args=[token.pk]),
        reverse("labfeeds:token_created", args=[token.pk]),
        reverse("labfeeds:retention", args=[city.clinic_id]),
    ):
        assert client.get(url).status_code == 404, url
    response = client.post(reverse("labfeeds:token_revoke", args=[token.pk]), keyed())
    assert response.status_code == 404
    assert not ApiToken.objects.get().is_revoked


def test_the_screen_shows_senders_tokens_traffic_and_last_errors(client_lead, city, lead_a):
    token_create(
        clinic=city.clinic, name="City FHIR", scope="lab", created_by=lead_a, connection=city
    )
    token_create(clinic=city.clinic, name="Record system", scope="read", created_by=lead_a)
    message(city, "A1", status=LabMessage.Status.ACCEPTED, days_ago=3)
    message(city, "A2", status=LabMessage.Status.ACCEPTED, days_ago=40)  # outside the 30 days
    waiting = message(city, "W1", status=LabMessage.Status.WAITING, days_ago=1)
    WaitingResult.objects.create(message=waiting, clinic=city.clinic, reason="unknown_patient")
    message(
        city,
        "R1",
        status=LabMessage.Status.REFUSED,
        problems=[FeedProblem("OBX[2]-6", "Platelets: “mmol/L” is not a unit it takes.")],
    )

    body = client_lead.get(CONNECTIONS).content.decode()

    assert "WINPATH / CITY" in body
    assert "City FHIR" in body and "Record system" in body
    assert "2 accepted · 1 refused · 1 with results still waiting" in body
    assert "R1 · Refused" in body  # the last message
    assert "OBX[2]-6: Platelets: “mmol/L” is not a unit it takes." in body
    assert "digest" not in body


def test_the_screen_takes_the_same_queries_for_many_connections_and_messages(
    client_lead, clinic_a, lead_a, city
):
    message(city, "A1", status=LabMessage.Status.ACCEPTED)
    client_lead.get(CONNECTIONS)
    with CaptureQueriesContext(db_connection) as few:
        client_lead.get(CONNECTIONS)
    for n in range(5):
        lab = LabConnection.objects.create(
            clinic=clinic_a, name=f"Lab {n}", hl7_sending_facility=f"F{n}"
        )
        token_create(clinic=clinic_a, name=f"T{n}", scope="lab", created_by=lead_a, connection=lab)
        for m in range(3):
            message(lab, f"{n}-{m}", status=LabMessage.Status.ACCEPTED)
        message(lab, f"{n}-r", status="", problems=[FeedProblem("MSH-9", "Unsupported.")])
    with CaptureQueriesContext(db_connection) as many:
        client_lead.get(CONNECTIONS)
    assert len(many.captured_queries) == len(few.captured_queries)


def test_a_connection_is_made_and_a_duplicate_sender_refused_on_its_field(
    client_lead, clinic_a, city
):
    url = reverse("labfeeds:connection_create")
    data = {
        "clinic": clinic_a.pk,
        "name": "North lab",
        "hl7_sending_application": "WINPATH",
        "hl7_sending_facility": "NORTH",
    }
    assert client_lead.post(url, keyed(data)).status_code == 302
    made = LabConnection.objects.get(name="North lab")
    assert made.created_by.username == "lead_a"

    response = client_lead.post(
        url, keyed({**data, "name": "Copy", "hl7_sending_facility": "CITY"})
    )
    assert response.status_code == 200
    assert "Another lab connection already uses" in response.content.decode()
    assert not LabConnection.objects.filter(name="Copy").exists()


def test_editing_a_sender_into_another_connections_is_refused(client_lead, clinic_a, city):
    other = LabConnection.objects.create(clinic=clinic_a, name="North", hl7_sending_facility="N")
    url = reverse("labfeeds:connection_edit", args=[other.pk])
    page = client_lead.get(url)
    data = {
        **hidden_fields(page),
        "name": "North",
        "hl7_sending_application": "WINPATH",
        "hl7_sending_facility": "CITY",
    }
    response = client_lead.post(url, data)
    assert response.status_code == 200
    assert "Another lab connection already uses" in response.content.decode()
    other.refresh_from_db()
    assert other.hl7_sending_facility == "N"

    data["hl7_sending_facility"] = "NORTH"
    assert client_lead.post(url, keyed(data)).status_code == 302
    other.refresh_from_db()
    assert (other.hl7_sending_application, other.hl7_sending_facility) == ("WINPATH", "NORTH")


def test_switched_off_its_tokens_are_refused_and_on_again_accepted(client_lead, city, lead_a):
    secret = token_create(
        clinic=city.clinic, name="Feed", scope="lab", created_by=lead_a, connection=city
    ).secret
    url = reverse("labfeeds:connection_switch", args=[city.pk])
    page = client_lead.get(url)
    assert client_lead.post(url, hidden_fields(page) | {"active": ""}).status_code == 302
    city.refresh_from_db()
    assert not city.is_active
    assert token_authenticate(secret, scope="lab") is None

    page = client_lead.get(url)
    assert client_lead.post(url, hidden_fields(page) | {"active": "on"}).status_code == 302
    assert token_authenticate(secret, scope="lab") is not None


def test_a_new_token_is_shown_once_then_never_again(client_lead, city):
    url = reverse("labfeeds:token_create")
    page = client_lead.get(url, {"connection": city.pk})
    data = {**hidden_fields(page), "name": "City FHIR", "scope": "lab", "connection": city.pk}
    data["clinic"] = city.clinic_id

    response = client_lead.post(url, data)

    token = ApiToken.objects.get()
    assert response["Location"] == reverse("labfeeds:token_created", args=[token.pk])
    shown = client_lead.get(response["Location"])
    secret = shown.context["secret"]
    assert secret.startswith(token.prefix) and "Copy this token now" in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    assert token_authenticate(secret, scope="lab") == token
    again = client_lead.get(response["Location"]).content.decode()
    assert secret not in again and "cannot be shown again" in again
    # A repeat of the same form makes no second token and shows no secret.
    repeat = client_lead.post(url, data, follow=True)
    assert ApiToken.objects.count() == 1
    assert secret not in repeat.content.decode()


def test_a_read_token_has_no_connection(client_lead, clinic_a, city):
    url = reverse("labfeeds:token_create")
    data = keyed({"name": "EPR", "scope": "read", "connection": city.pk, "clinic": clinic_a.pk})
    response = client_lead.post(url, data)
    assert "has no lab connection" in response.content.decode()
    data = keyed({"name": "EPR", "scope": "read", "connection": "", "clinic": clinic_a.pk})
    assert client_lead.post(url, data).status_code == 302
    token = ApiToken.objects.get()
    assert (token.scope, token.connection, token.clinic) == ("read", None, clinic_a)


def test_a_revoked_token_is_refused(client_lead, city, lead_a):
    new = token_create(
        clinic=city.clinic, name="Feed", scope="lab", created_by=lead_a, connection=city
    )
    url = reverse("labfeeds:token_revoke", args=[new.token.pk])
    page = client_lead.get(url)
    assert "Revoked, it is refused at once" in page.content.decode()

    assert client_lead.post(url, hidden_fields(page)).status_code == 302

    new.token.refresh_from_db()
    assert (new.token.revoked_by, new.token.is_revoked) == (lead_a, True)
    assert token_authenticate(new.secret, scope="lab") is None
    assert "Already revoked" in client_lead.get(url).content.decode()


def test_the_lead_sets_how_long_lab_messages_are_kept(client_lead, clinic_a):
    url = reverse("labfeeds:retention", args=[clinic_a.pk])
    page = client_lead.get(url)
    bad = client_lead.post(url, {**hidden_fields(page), "lab_message_retention_days": "0"})
    assert bad.status_code == 200
    assert client_lead.post(url, keyed({"lab_message_retention_days": "30"})).status_code == 302
    clinic_a.refresh_from_db()
    assert clinic_a.lab_message_retention_days == 30


def test_the_admin_never_shows_a_tokens_digest_nor_makes_tokens(client, clinic_a, city, lead_a):
    new = token_create(
        clinic=clinic_a, name="Feed", scope="lab", created_by=lead_a, connection=city
    )
    sign_in(client, lead_of(clinic_a, "lead_admin", is_staff=True))
    page = client.get(reverse("admin:labfeeds_apitoken_change", args=[new.token.pk]))
    assert page.status_code == 200 and new.token.prefix in page.content.decode()
    assert new.token.digest not in page.content.decode()
    assert new.secret not in page.content.decode()
    assert client.get(reverse("admin:labfeeds_apitoken_add")).status_code == 403
    connection_page = client.get(reverse("admin:labfeeds_labconnection_change", args=[city.pk]))
    assert new.token.digest not in connection_page.content.decode()
