"""Every address of the FHIR API, taken from its URL configuration, asked for without a token:
each refuses (401, with the Bearer challenge) except the CapabilityStatement, which FHIR asks
to be open. A new address fails here until it is given its rule (tests/test_access.py leaves
the API to this file)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labfeeds.fhir.urls import urlpatterns

pytestmark = pytest.mark.django_db

ARGS = {
    "patient": ["1"],
    "patient_plan": ["1"],
    "patient_record": ["1"],
    "observation": ["1"],
    "care_plan": ["schedule-1"],
}
OPEN = {"metadata": 200}
POST_ONLY = {"base"}


def names() -> list[str]:
    return [pattern.name for pattern in urlpatterns if pattern.name]


def test_every_address_has_its_rule():
    for name in names():
        if "<" in str(next(p.pattern for p in urlpatterns if p.name == name)):
            assert name in ARGS, f"fhir:{name}: say how to build its URL in ARGS"


@pytest.mark.parametrize("name", names())
def test_without_a_token_every_address_but_metadata_is_refused(client, name):
    url = reverse(f"fhir:{name}", args=ARGS.get(name, []))
    if name in POST_ONLY:
        assert client.get(url).status_code == 405
        response = client.post(url, "{}", content_type="application/fhir+json")
    else:
        response = client.get(url)
    assert response.status_code == OPEN.get(name, 401)
    assert response["Content-Type"].startswith("application/fhir+json")
    if response.status_code == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
