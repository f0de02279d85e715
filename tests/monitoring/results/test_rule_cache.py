"""The flag rules are read once per process and again as soon as a lead changes one
(monitoring.results.rule_cache)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.models import Analyte, FlagRule
from monitoring.results.rule_cache import flag_rules

pytestmark = pytest.mark.django_db


def reads(work) -> int:
    with CaptureQueriesContext(connection) as captured:
        work()
    return sum("monitoring_flagrule" in q["sql"] for q in captured)


def red_platelets() -> FlagRule:
    return FlagRule.objects.get(analyte__code="platelets", tier="red", is_active=True)


def test_the_rules_are_read_once_and_again_after_a_change():
    assert reads(flag_rules) == 1
    assert reads(flag_rules) == 0
    rule = red_platelets()
    rule.threshold = Decimal("77")
    rule.save()
    assert reads(flag_rules) == 1
    (kept,) = [r for r in flag_rules() if r.analyte == "platelets" and r.tier.value == "red"]
    assert kept.threshold == Decimal("77")


def test_a_rule_switched_off_or_an_analyte_changed_is_read_again():
    flag_rules()
    rule = red_platelets()
    rule.is_active = False
    rule.save()
    assert all(r.analyte != "platelets" or r.tier.value != "red" for r in flag_rules())
    analyte = Analyte.objects.get(code="platelets")
    analyte.name = "Platelet count"
    analyte.save()
    assert reads(flag_rules) == 1


def test_a_result_entered_is_flagged_by_the_rule_as_changed(clinic_a, nurse_a):
    from tests.builders import platelets, treated_patient

    patient = treated_patient(clinic_a, days_ago=200)
    assert platelets(patient, 90, entered_by=nurse_a, days_ago=3).tier == "red"
    rule = red_platelets()
    rule.threshold = Decimal("85")  # red below 85 now
    rule.save()
    assert platelets(patient, 90, entered_by=nurse_a, days_ago=1).tier != "red"
