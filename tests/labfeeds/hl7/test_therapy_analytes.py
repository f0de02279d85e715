"""The other therapies' analytes from an HL7 ORU^R01 message, by their LOINC codes: the JCV
antibody index, the immunoglobulins in g/L or mg/dL, and the hepatitis B screen as coded results
sent as text (ST); flagged by the rules of the patient's therapy."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from labfeeds.hl7.receiving import hl7_message_take
from labfeeds.models import LabConnection, WaitingResult
from monitoring.domain import therapies
from monitoring.models import LabResult
from patients.therapies.services import episode_start
from tests.builders import treated_patient
from tests.factories import ClinicFactory, UserFactory
from tests.labfeeds.hl7.messages import Obx, oru

pytestmark = pytest.mark.django_db


def results() -> dict[str, tuple[str, str, Decimal, str]]:
    return {
        code: (value, unit, canonical, tier)
        for code, value, unit, canonical, tier in LabResult.objects.values_list(
            "analyte__code", "value_text", "unit", "canonical_value", "tier"
        )
    }


def on_ocrelizumab(patient):
    episode_start(
        patient=patient,
        therapy=therapies.OCRELIZUMAB,
        started_on=patient.clinic.today() - timedelta(days=400),
        recorded_by=UserFactory(username="starter"),
    )


# HL7


@pytest.fixture
def hl7_patient():
    return treated_patient(ClinicFactory(), days_ago=200, given=True, hospital_number="RX-2001")


@pytest.fixture
def lab(hl7_patient):
    return LabConnection.objects.create(
        clinic=hl7_patient.clinic, name="City lab", hl7_sending_facility="CITYLAB"
    )


def sent(patient, *obx: Obx) -> str:
    when = timezone.localtime(timezone.now(), patient.clinic.zone) - timedelta(days=2)
    return oru(patient.hospital_number, when.strftime("%Y%m%d%H%M"), *obx)


def test_an_oru_message_with_the_new_loinc_codes_is_recorded(hl7_patient, lab):
    on_ocrelizumab(hl7_patient)
    answer = hl7_message_take(
        sent(
            hl7_patient,
            Obx("100977-8", "2.31", "{index}", "", display="JCV Ab index"),
            Obx("2465-3", "650", "mg/dL", "", display="IgG"),
            Obx("2458-8", "1.9", "g/L", "0.7-4.0", display="IgA"),
            Obx("2472-9", "0.8", "g/L", "", display="IgM"),
            Obx("5196-1", "Positive", "", "", value_type="ST", display="HBsAg"),
            Obx("16933-4", "negative", "", "", value_type="ST", display="Anti-HBc"),
        )
    )
    assert answer.code == "AA"
    assert not WaitingResult.objects.exists()
    found = results()
    assert found["jcv_index"][2] == Decimal("2.31")
    # 650 mg/dL is 6.5 g/L, under the default range of 7-16: amber on an anti-CD20 antibody.
    assert found["igg"][1:] == ("mg/dL", Decimal("6.50"), "amber")
    assert found["iga"][3] == "normal"
    # Coded results are kept as the scale spells them, and positive is red on ocrelizumab.
    assert found["hbsag"][0] == "positive"
    assert found["hbsag"][3] == "red"
    assert found["anti_hbc"][0] == "negative"


def test_a_jcv_index_is_not_flagged_by_the_natalizumab_rule_on_another_therapy(hl7_patient, lab):
    answer = hl7_message_take(sent(hl7_patient, Obx("100977-8", "3.5", "{Index_val}", "")))
    assert answer.code == "AA"
    assert results()["jcv_index"][3] == "normal"  # alemtuzumab only: no rule of its own


def test_a_grade_not_on_the_scale_is_refused_naming_the_scale(hl7_patient, lab):
    answer = hl7_message_take(sent(hl7_patient, Obx("5196-1", "weak", "", "", value_type="ST")))
    assert answer.code != "AA"
    assert not LabResult.objects.exists()
