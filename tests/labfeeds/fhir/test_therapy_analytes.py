"""The other therapies' analytes in FHIR Observations, by their LOINC codes: IgG, the JCV
antibody index, and the hepatitis B screen as a CodeableConcept's text or a string."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from monitoring.domain import therapies
from monitoring.models import LabResult
from patients.therapies.services import episode_start
from tests.factories import UserFactory
from tests.labfeeds.fhir.conftest import bundle, observation, post

pytestmark = pytest.mark.django_db


def results() -> dict[str, tuple[str, str, Decimal, str]]:
    return {
        code: (value, unit, canonical, tier)
        for code, value, unit, canonical, tier in LabResult.objects.values_list(
            "analyte__code", "value_text", "unit", "canonical_value", "tier"
        )
    }


def test_fhir_observations_with_the_new_loinc_codes(client, patient, lab_token):
    episode_start(
        patient=patient,
        therapy=therapies.OCRELIZUMAB,
        started_on=patient.clinic.today() - timedelta(days=400),
        recorded_by=UserFactory(username="starter"),
    )
    response = post(
        client,
        bundle(
            observation(patient, loinc="2465-3", value=5.2, unit="g/L"),
            observation(patient, loinc="100977-8", value=0.35, unit="{index}"),
            observation(
                patient, loinc="5196-1", value=None, valueCodeableConcept={"text": "negative"}
            ),
            observation(patient, loinc="16933-4", value=None, valueString="equivocal"),
        ),
        lab_token,
    )
    assert response.status_code == 200, response.json()
    found = results()
    assert found["igg"][2:] == (Decimal("5.20"), "amber")
    assert found["jcv_index"][2] == Decimal("0.35")
    assert (found["hbsag"][0], found["hbsag"][3]) == ("negative", "normal")
    assert found["anti_hbc"][0] == "equivocal"
