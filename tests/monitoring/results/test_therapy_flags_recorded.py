"""Flag rules of one therapy through the recording pipeline: the patient's episodes are read
once for the batch (none for patients without other therapies), a rule applies to a patient on
its therapy only, corrections re-flag through the same path, and the seeded rules and analytes
are as docs/clinical-reference.md describes them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.domain import therapies
from monitoring.models import Analyte, FlagRule, LabResult
from monitoring.results.entry import ResultInput
from monitoring.results.recording import ReportToRecord, reports_record
from monitoring.results.services import result_correct
from patients.models import StopReason
from patients.therapies.services import episode_start, episode_stop
from tests.builders import lead_of, nurse_of, treated_patient
from tests.factories import ClinicFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

FUMARATE_ACTION = "Consider stopping the fumarate"


@pytest.fixture
def clinic():
    clinic = ClinicFactory()
    nurse_of(clinic, "nurse")
    return clinic


@pytest.fixture
def user():
    return UserFactory(username="recorder")


def on_fumarate(clinic, user, *, days_ago=200):
    patient = PatientFactory(clinic=clinic)
    episode_start(
        patient=patient,
        therapy=therapies.DIMETHYL_FUMARATE,
        started_on=clinic.today() - timedelta(days=days_ago),
        recorded_by=user,
    )
    patient.refresh_from_db()
    return patient


def lymphocytes(patient, key, value="0.4", *, days_ago=3):
    analyte = Analyte.objects.get(code="lymphocytes")
    return ReportToRecord(
        key=key,
        patient=patient,
        panel="blood_count",
        sample_collected_on=patient.clinic.today() - timedelta(days=days_ago),
        entries=[ResultInput(analyte, value, "10^9/L")],
    )


def recorded(patient) -> LabResult:
    return LabResult.objects.current().get(patient=patient, analyte__code="lymphocytes")


def test_lymphocytes_0_4_are_red_on_dimethyl_fumarate_and_not_by_that_rule_on_alemtuzumab(
    clinic, user
):
    fumarate = on_fumarate(clinic, user)
    alemtuzumab = treated_patient(clinic, days_ago=200, given=True)
    reports_record(
        reports=[lymphocytes(fumarate, "a"), lymphocytes(alemtuzumab, "b")],
        entered_by=user,
        source="manual",
    )
    on_it = recorded(fumarate)
    assert on_it.tier == "red"
    assert on_it.next_action.startswith(FUMARATE_ACTION)
    assert "Red: 0.40 is below 0.5." in on_it.reasons
    assert "Check against your current label." in on_it.rationale
    other = recorded(alemtuzumab)
    assert other.tier == "low"  # below the reference range, and no rule of its own
    assert not other.next_action.startswith(FUMARATE_ACTION)


def test_the_rule_ends_with_the_after_stopping_period(clinic, user):
    patient = on_fumarate(clinic, user, days_ago=400)
    episode = patient.episodes.get()
    # Stopped 150 days ago: the fumarate protocol's after-stopping period is 3 months.
    episode_stop(
        episode=episode,
        stopped_on=clinic.today() - timedelta(days=150),
        reason=StopReason.SIDE_EFFECTS,
        stopped_by=user,
    )
    patient.refresh_from_db()
    reports_record(
        reports=[
            lymphocytes(patient, "during", days_ago=120),  # a month after stopping
            lymphocytes(patient, "after", "0.45", days_ago=3),  # five months after
        ],
        entered_by=user,
        source="manual",
    )
    during, after = (
        LabResult.objects.current().filter(patient=patient).order_by("sample_collected_on")
    )
    assert (during.tier, after.tier) == ("red", "low")


def test_a_correction_is_flagged_again_with_the_patients_therapies(clinic, user):
    patient = on_fumarate(clinic, user)
    reports_record(reports=[lymphocytes(patient, "a", "0.9")], entered_by=user, source="manual")
    result = recorded(patient)
    assert result.tier == "low"
    result_correct(
        result=result, value="0.3", unit="10^9/L", reason="Typing error", corrected_by=user
    )
    assert recorded(patient).tier == "red"
    assert recorded(patient).next_action.startswith(FUMARATE_ACTION)


def queries_for(reports, user) -> int:
    with CaptureQueriesContext(connection) as captured:
        reports_record(reports=reports, entered_by=user, source="hl7")
    return len(captured)


def test_the_episodes_are_read_once_for_the_batch(clinic, user):
    warm_up = on_fumarate(clinic, user)
    queries_for([lymphocytes(warm_up, "w")], user)  # first-use caches
    few = [on_fumarate(clinic, user) for _ in range(2)]
    many = [on_fumarate(clinic, user) for _ in range(6)]
    alemtuzumab_only = [treated_patient(clinic, days_ago=200, given=True) for _ in range(2)]
    queries_for([lymphocytes(alemtuzumab_only[0], "w2")], user)
    with_episodes = queries_for([lymphocytes(p, f"f{n}") for n, p in enumerate(few)], user)
    assert with_episodes == queries_for([lymphocytes(p, f"m{n}") for n, p in enumerate(many)], user)
    # Patients without other therapies skip the episodes' query (Patient.other_therapies);
    # the rest of the pipeline is the same statements.
    without = queries_for([lymphocytes(alemtuzumab_only[1], "a1")], user)
    assert without < with_episodes


# The seeded catalogue and rules (migration 0030).


def test_every_seeded_therapy_rule_names_its_source_and_asks_for_the_label():
    rules = FlagRule.objects.exclude(therapy="").select_related("analyte")
    seen = {(rule.analyte.code, rule.therapy, rule.tier) for rule in rules}
    assert seen == {
        ("lymphocytes", "fumarate", "red"),
        ("lymphocytes", "cladribine", "red"),
        ("lymphocytes", "s1p", "red"),
        ("alt", "teriflunomide", "red"),
        ("alt", "interferon_beta", "critical"),
        ("jcv_index", "natalizumab", "red"),
        ("igg", "anti_cd20", "amber"),
        ("hbsag", "anti_cd20", "red"),
        ("cyp2c9_genotype", "siponimod", "red"),
    }
    for rule in rules:
        assert rule.rationale.endswith("Check against your current label.")
        assert rule.next_action
    jcv = rules.get(analyte__code="jcv_index")
    assert (jcv.threshold, jcv.min_months_on_therapy) == (Decimal("1.5"), 24)
    labels = {rule.analyte.code: rule.as_flag_rule().threshold_label for rule in rules}
    # The gates compare these very labels (monitoring.domain.gates).
    assert labels["hbsag"] == "positive"
    assert labels["cyp2c9_genotype"] == "*3/*3"


def test_the_new_analytes_are_in_the_catalogue():
    by_code = {analyte.code: analyte for analyte in Analyte.objects.all()}
    assert by_code["jcv_index"].loinc == "100977-8"
    assert [by_code[code].loinc for code in ("igg", "iga", "igm")] == [
        "2465-3",
        "2458-8",
        "2472-9",
    ]
    assert by_code["igg"].unit_factors == {"mg/dL": "0.01"}
    assert (by_code["hbsag"].loinc, by_code["anti_hbc"].loinc) == ("5196-1", "16933-4")
    assert by_code["hbsag"].ordinal_scale == ["negative", "equivocal", "positive"]
    assert by_code["cyp2c9_genotype"].loinc is None
    assert by_code["cyp2c9_genotype"].ordinal_scale[-1] == "*3/*3"
    outcomes = Analyte.objects.filter(is_outcome=True, panel__in=["mri", "eye_exam", "ecg"])
    assert outcomes.count() == 3
    for analyte in by_code.values():
        analyte.full_clean()  # each editable in the admin as seeded


def test_a_rule_needs_its_therapy_for_months_on_it():
    from django.core.exceptions import ValidationError

    rule = FlagRule.objects.get(analyte__code="jcv_index")
    rule.therapy = ""
    with pytest.raises(ValidationError) as refused:
        rule.full_clean()
    assert "min_months_on_therapy" in refused.value.message_dict


# The new analytes from a file (the CSV import names analytes by their code).


def test_a_csv_import_takes_the_new_analytes_and_coded_results_as_text(clinic, user):
    from monitoring.results.csv_import import import_apply, import_stage

    patient = PatientFactory(clinic=clinic, hospital_number="H300")
    episode_start(
        patient=patient,
        therapy=therapies.SIPONIMOD,
        started_on=clinic.today() + timedelta(days=30),
        gate_override_reason="Genotype taken today; result expected before the first dose.",
        recorded_by=lead_of(clinic, "lead_h"),
    )
    day = (clinic.today() - timedelta(days=2)).isoformat()
    content = "\n".join(
        [
            "hospital_number,sample_date,analyte,value,unit",
            f"H300,{day},cyp2c9_genotype,*3/*3,",
            f"H300,{day},igg,950,mg/dL",
            f"H300,{day},jcv_index,0.15,index",
            f"H300,{day},hbsag,Negative,",
            "",
        ]
    ).encode()
    result_import, preview = import_stage(
        clinic=clinic, content=content, file_name="r.csv", uploaded_by=user
    )
    assert preview.ok, [str(problem) for problem in preview.problems]
    import_apply(result_import=result_import, imported_by=user)
    found = {
        code: (value, tier)
        for code, value, tier in LabResult.objects.values_list(
            "analyte__code", "value_text", "tier"
        )
    }
    # The genotype before siponimod's planned start: inside its before-start window, so the
    # siponimod rule applies (contraindicated), as the start gate says too.
    assert found == {
        "cyp2c9_genotype": ("*3/*3", "red"),
        "igg": ("950", "normal"),
        "jcv_index": ("0.15", "normal"),
        "hbsag": ("negative", "normal"),
    }


# The new panels on the staff screens.


def test_the_entry_form_takes_the_new_panels(client_a, patient):
    import uuid

    from django.urls import reverse

    day = (patient.clinic.today() - timedelta(days=1)).isoformat()
    page = reverse("monitoring:report_create", args=[patient.pk, "hepatitis_b"])
    shown = client_a.get(page)
    assert shown.status_code == 200
    assert "equivocal" in shown.content.decode()
    response = client_a.post(
        page,
        {
            "sample_collected_on": day,
            "hbsag": "negative",
            "anti_hbc": "positive",
            "submission_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    response = client_a.post(
        reverse("monitoring:report_create", args=[patient.pk, "immunoglobulins"]),
        {
            "sample_collected_on": day,
            "igg": "8.1",
            "igg_unit": "g/L",
            "igm": "45",
            "igm_unit": "mg/dL",
            "submission_key": str(uuid.uuid4()),
        },
    )
    assert response.status_code == 302
    values = dict(
        LabResult.objects.filter(patient=patient).values_list("analyte__code", "canonical_value")
    )
    assert values == {
        "hbsag": Decimal(0),
        "anti_hbc": Decimal(2),
        "igg": Decimal("8.10"),
        "igm": Decimal("0.45"),
    }


@pytest.mark.parametrize("panel", ["mri", "eye_exam", "ecg"])
def test_the_new_checks_done_without_a_value_have_their_form(client_a, patient, panel):
    from django.urls import reverse

    assert (
        client_a.get(reverse("monitoring:check_done", args=[patient.pk, panel])).status_code == 200
    )
