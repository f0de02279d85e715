"""The FHIR endpoint as a lab and a record system reach it: gunicorn on loopback, real HTTP,
a Bundle posted with a lab token and read back with a read token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from labfeeds.models import LabMessage
from monitoring.models import LabResult
from tests.app_server import AppServer, database_url
from tests.labfeeds.fhir.conftest import bundle, observation

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        app = AppServer(
            database=database_url(connection.settings_dict),
            extra_env={"FHIR_MAX_BODY_BYTES": "200000"},
            gunicorn_args=("--workers", "2"),
        )
    app.start()
    yield app
    app.stop()


def call(url: str, secret: str, data: bytes | None = None, **headers):
    request = urllib.request.Request(  # noqa: S310 - loopback
        url,
        data=data,
        headers={"Authorization": f"Bearer {secret}", **headers},
        method="POST" if data is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_a_bundle_posted_over_http_is_read_back(server, patient, lab_token, read_token):
    body = json.dumps(
        bundle(
            observation(patient, value=40),
            observation(patient, loinc="718-7", value=13.5, unit="g/dL"),
        )
    ).encode()
    status, headers, answer = call(
        f"{server.url}/fhir/r4/",
        lab_token.secret,
        body,
        **{"Content-Type": "application/fhir+json"},
    )
    assert status == 200, answer
    assert headers["Content-Type"].startswith("application/fhir+json")
    assert [e["response"]["status"] for e in answer["entry"]] == ["201 Created"] * 3
    # Sent again (a lab retrying after a timeout): the same answer, nothing stored twice.
    status, _, again = call(
        f"{server.url}/fhir/r4/", lab_token.secret, body, **{"Content-Type": "application/json"}
    )
    assert status == 200 and again["entry"][1]["response"]["status"] == "200 OK"
    assert LabResult.objects.filter(patient=patient).count() == 2
    assert LabMessage.objects.get().status == LabMessage.Status.ACCEPTED

    status, _, found = call(
        f"{server.url}/fhir/r4/Observation?patient={patient.pk}&code=718-7", read_token.secret
    )
    assert status == 200
    (haemoglobin,) = [entry["resource"] for entry in found["entry"]]
    assert haemoglobin["valueQuantity"]["value"] == 13.5
    assert haemoglobin["valueQuantity"]["unit"] == "g/dL"
    assert haemoglobin["performer"] == [{"display": "City Hospital Laboratory"}]


def test_over_http_a_body_over_the_limit_is_refused(server, patient, lab_token):
    body = json.dumps(bundle(*(observation(patient) for _ in range(600)))).encode()
    assert len(body) > 200000
    status, _, answer = call(
        f"{server.url}/fhir/r4/", lab_token.secret, body, **{"Content-Type": "application/json"}
    )
    assert status == 413 and answer["resourceType"] == "OperationOutcome"
    assert not LabMessage.objects.exists()


def test_the_same_bundle_posted_at_once_twice_is_stored_once(server, patient, lab_token):
    body = json.dumps(bundle(observation(patient, value=40), identifier="RACE-1")).encode()

    def send(_):
        return call(
            f"{server.url}/fhir/r4/",
            lab_token.secret,
            body,
            **{"Content-Type": "application/fhir+json"},
        )[0]

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(send, range(4)))
    assert statuses == [200] * 4
    assert LabMessage.objects.count() == 1
    assert LabResult.objects.filter(patient=patient).count() == 1
