"""`manage.py bench_onboarding` runs to its last figure on a small file, every row accepted."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from patients.models import Patient

pytestmark = pytest.mark.django_db


def test_bench_onboarding_onboards_every_patient_and_prints_each_figure():
    out, err = io.StringIO(), io.StringIO()
    call_command("bench_onboarding", patients=40, stdout=out, stderr=err)
    table = out.getvalue()
    assert err.getvalue() == ""
    assert "40 patients" in table and "preview (read and check)" in table
    assert "| onboard 40 patients, " in table and "< 60 s: met" in table
    assert "planning and storing the schedules" in table
    assert Patient.objects.count() == 40
