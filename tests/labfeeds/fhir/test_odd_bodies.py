"""Whatever a lab's system sends, the answer is an OperationOutcome or a transaction-response,
never a 500: every element of a good Bundle replaced in turn by something odd."""

from __future__ import annotations

import json

import pytest

from labfeeds.models import LabMessage
from monitoring.models import LabResult
from tests.labfeeds.fhir.conftest import bundle, observation, post

pytestmark = pytest.mark.django_db

ODD = [None, "", " ", [], {}, 0, -1, 1e308, True, "x" * 300, "\u202e1+", ["a"], {"a": 1}]


def paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*path, index))


def replaced(data, path, new):
    data = json.loads(json.dumps(data))
    if not path:
        return new
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return data


def test_no_odd_element_makes_a_500(client, patient, lab_token):
    good = bundle(observation(patient), observation(patient, loinc="718-7", value=130, unit="g/L"))
    statuses = set()
    for number, path in enumerate(paths(good)):
        for odd in ODD[number % 3 :: 3]:
            # A new identifier each time, so each is read rather than answered as a repeat.
            fresh = replaced(good, ("identifier", "value"), f"M-{number}-{ODD.index(odd)}")
            data = replaced(fresh, path, odd)
            response = post(client, data, lab_token)
            assert response.status_code in (200, 400, 409, 422), (path, odd, response.content)
            assert response.json()["resourceType"] in ("OperationOutcome", "Bundle")
            statuses.add(response.status_code)
    assert {200, 400, 422} <= statuses
    assert LabMessage.objects.filter(answer_code="").count() == 0
    assert LabResult.objects.filter(patient=patient).exists()
