"""The gates before a dose or a therapy's start, through the services (clinical-reference.md
section 6.4): each refuses, and lets a nurse or the clinic lead go ahead with a reason that is
kept with who gave it; clinic staff cannot. Results are recorded through the recording
pipeline (tests.builders.report), as staff or a lab feed enter them."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from monitoring.domain import gates, therapies
from monitoring.domain.planning import add_months
from monitoring.models import Analyte, ScheduledCheck
from patients.models import TherapyDose
from patients.therapies.gates import (
    OVERRIDE_FIELD,
    dose_checklist_record,
    dose_gate,
    dose_record_given,
)
from patients.therapies.services import dose_plan, episode_start
from tests.builders import lead_of, report
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

SAFE = {question.code: question.safe_answer for question in gates.CHECKLIST}
REASON = "Discussed with the prescriber; benefits outweigh the risk."
GENOTYPES = ["*1/*1", "*1/*2", "*1/*3", "*2/*2", "*2/*3", "*3/*3"]
HEPATITIS_B = ["negative", "equivocal", "positive"]


def coded_analyte(code, name, panel, scale):
    """The gate's coded analyte, as the seeded catalogue has it, or made here where this
    branch's catalogue does not have it yet. No LOINC code: a made-up one would read as real."""
    analyte, _ = Analyte.objects.get_or_create(
        code=code, defaults={"name": name, "panel": panel, "ordinal_scale": scale}
    )
    return analyte


@pytest.fixture
def genotype_analyte(db):
    return coded_analyte(gates.CYP2C9_GENOTYPE, "CYP2C9 genotype", "cyp2c9", GENOTYPES)


@pytest.fixture
def hbsag_analyte(db):
    return coded_analyte(gates.HBSAG, "Hepatitis B surface antigen", "hepatitis_b", HEPATITIS_B)


@pytest.fixture
def person(clinic_a):
    return PatientFactory(clinic=clinic_a, given_name="Tess", family_name="Gate")


@pytest.fixture
def lead_a(clinic_a):
    return lead_of(clinic_a, "lead_a")


def days_ago(patient, days):
    return patient.clinic.today() - timedelta(days=days)


def started(patient, therapy, *, days, by):
    """`therapy` started `days` ago with its first dose planned that day."""
    return episode_start(
        patient=patient, therapy=therapy, started_on=days_ago(patient, days), recorded_by=by
    )


def first_dose(episode):
    return episode.doses.get(number=1)


def refusal(error):
    """The refusal's message, which names the override reason field."""
    return " ".join(error.value.message_dict[OVERRIDE_FIELD])


def assert_given_with_override(dose, by):
    dose.refresh_from_db()
    assert dose.status == TherapyDose.Status.GIVEN
    assert dose.gate_override_reason == REASON
    assert dose.gate_override_by == by
    assert dose.gate_state  # what the gate said is kept
    latest = dose.history.latest()
    assert latest.history_user == by
    assert latest.history_change_reason == f"Given although its gate was not met: {REASON}"


def assert_given_through_the_gate(dose, by):
    dose.refresh_from_db()
    assert dose.status == TherapyDose.Status.GIVEN
    assert (dose.gate_override_reason, dose.gate_override_by) == ("", None)
    assert dose.given_recorded_by == by
    assert dose.history.latest().history_change_reason == "Recorded as given."


# --- Natalizumab's pre-infusion checklist ---------------------------------------------------


def test_natalizumab_unanswered_checklist_refuses_the_infusion(person, nurse_a):
    dose = first_dose(started(person, therapies.NATALIZUMAB, days=1, by=nurse_a))
    with pytest.raises(ValidationError) as refused:
        dose_record_given(dose=dose, given_on=dose.planned_on, recorded_by=nurse_a)
    assert "checklist not yet answered" in refusal(refused)
    dose.refresh_from_db()
    assert dose.status == TherapyDose.Status.PLANNED
    assert not dose.episode.doses.filter(number=2).exists()  # nothing half-saved


def test_natalizumab_unanswered_checklist_given_with_a_nurses_reason(person, nurse_a):
    dose = first_dose(started(person, therapies.NATALIZUMAB, days=1, by=nurse_a))
    dose_record_given(
        dose=dose, given_on=dose.planned_on, recorded_by=nurse_a, override_reason=REASON
    )
    assert_given_with_override(dose, nurse_a)
    assert dose.gate_state == "Pre-infusion checklist not yet answered."


def test_natalizumab_a_concern_answer_refuses_until_a_lead_gives_the_reason(
    person, nurse_a, lead_a
):
    dose = first_dose(started(person, therapies.NATALIZUMAB, days=1, by=nurse_a))
    dose = dose_checklist_record(
        dose=dose, answers={**SAFE, "new_symptoms": gates.YES}, answered_by=nurse_a
    )
    assert dose.checklist_answered_by == nurse_a
    with pytest.raises(ValidationError) as refused:
        dose_record_given(dose=dose, given_on=dose.planned_on, recorded_by=lead_a)
    assert "1 answer(s) need the prescriber" in refusal(refused)
    dose_record_given(
        dose=dose, given_on=dose.planned_on, recorded_by=lead_a, override_reason=REASON
    )
    assert_given_with_override(dose, lead_a)


def test_natalizumab_checklist_all_safe_is_given_without_an_override(person, nurse_a):
    episode = started(person, therapies.NATALIZUMAB, days=3, by=nurse_a)
    dose = dose_checklist_record(dose=first_dose(episode), answers=SAFE, answered_by=nurse_a)
    assert dose_gate(dose).met
    given_on = days_ago(person, 1)
    dose_record_given(dose=dose, given_on=given_on, recorded_by=nurse_a)
    assert_given_through_the_gate(dose, nurse_a)
    assert dose.gate_state == "Pre-infusion checklist answered, no concerns."
    # The next infusion is planned one dose interval (28 days) after the day it was given.
    following = episode.doses.get(number=2)
    assert following.status == TherapyDose.Status.PLANNED
    assert following.planned_on == given_on + timedelta(days=28)


def test_a_checklist_with_a_question_unanswered_is_not_kept(person, nurse_a):
    dose = first_dose(started(person, therapies.NATALIZUMAB, days=1, by=nurse_a))
    answers = {code: answer for code, answer in SAFE.items() if code != "infection"}
    with pytest.raises(ValidationError) as refused:
        dose_checklist_record(dose=dose, answers=answers, answered_by=nurse_a)
    assert set(refused.value.message_dict) == {"infection"}
    dose.refresh_from_db()
    assert dose.checklist_answers == {}


def test_clinic_staff_cannot_override_even_with_a_reason(person, nurse_a, staff_a):
    dose = first_dose(started(person, therapies.NATALIZUMAB, days=1, by=nurse_a))
    with pytest.raises(ValidationError) as refused:
        dose_record_given(
            dose=dose, given_on=dose.planned_on, recorded_by=staff_a, override_reason=REASON
        )
    assert "Only a nurse or the clinic lead" in refusal(refused)
    dose.refresh_from_db()
    assert (dose.status, dose.gate_override_reason, dose.gate_override_by) == (
        TherapyDose.Status.PLANNED,
        "",
        None,
    )


# --- Cladribine: lymphocytes before year 2 --------------------------------------------------


def lymphocytes(patient, value, *, days, by):
    report(
        patient,
        "blood_count",
        {"lymphocytes": (str(value), "10^9/L")},
        entered_by=by,
        days_ago=days,
    )


@pytest.fixture
def year_two(person, nurse_a):
    """Cladribine started 400 days ago, year 1 given then (not gated), year 2 planned."""
    episode = started(person, therapies.CLADRIBINE, days=400, by=nurse_a)
    year_one = first_dose(episode)
    # Year 1 has no lymphocyte gate: given with no count on record and no reason.
    assert dose_gate(year_one).met
    dose_record_given(dose=year_one, given_on=year_one.planned_on, recorded_by=nurse_a)
    assert_given_through_the_gate(year_one, nurse_a)
    dose = episode.doses.get(number=2)
    assert dose.planned_on == year_one.planned_on + timedelta(days=365)
    return dose


def test_cladribine_year_two_refused_below_0_8(person, nurse_a, year_two):
    lymphocytes(person, "0.79", days=10, by=nurse_a)
    with pytest.raises(ValidationError) as refused:
        dose_record_given(dose=year_two, given_on=days_ago(person, 2), recorded_by=nurse_a)
    assert "Lymphocytes 0.79 x10^9/L" in refusal(refused)
    assert "below 0.8" in refusal(refused)


def test_cladribine_year_two_given_at_0_8(person, nurse_a, year_two):
    lymphocytes(person, "0.8", days=10, by=nurse_a)
    dose_record_given(dose=year_two, given_on=days_ago(person, 2), recorded_by=nurse_a)
    assert_given_through_the_gate(year_two, nurse_a)
    assert year_two.gate_state.startswith("Lymphocytes 0.8")


def test_cladribine_year_two_a_count_older_than_90_days_refused(person, nurse_a, year_two):
    given_on = days_ago(person, 2)
    lymphocytes(person, "1.4", days=2 + 91, by=nurse_a)
    with pytest.raises(ValidationError) as refused:
        dose_record_given(dose=year_two, given_on=given_on, recorded_by=nurse_a)
    assert "No lymphocyte count in the 90 days" in refusal(refused)
    # 90 days before the dose is still recent enough.
    lymphocytes(person, "1.4", days=2 + 90, by=nurse_a)
    dose_record_given(dose=year_two, given_on=given_on, recorded_by=nurse_a)
    assert_given_through_the_gate(year_two, nurse_a)


def test_cladribine_year_two_a_low_count_given_with_a_reason(person, nurse_a, year_two):
    lymphocytes(person, "0.6", days=10, by=nurse_a)
    dose_record_given(
        dose=year_two, given_on=days_ago(person, 2), recorded_by=nurse_a, override_reason=REASON
    )
    assert_given_with_override(year_two, nurse_a)


def test_cladribine_stops_at_two_treatment_years(person, nurse_a, year_two):
    lymphocytes(person, "1.1", days=10, by=nurse_a)
    dose_record_given(dose=year_two, given_on=days_ago(person, 2), recorded_by=nurse_a)
    episode = year_two.episode
    assert list(episode.doses.values_list("number", "status")) == [
        (1, TherapyDose.Status.GIVEN),
        (2, TherapyDose.Status.GIVEN),
    ]
    with pytest.raises(ValidationError) as refused:
        dose_plan(episode=episode, planned_on=person.clinic.today(), recorded_by=nurse_a)
    assert "has 2 treatment years" in " ".join(refused.value.message_dict["planned_on"])


def test_cladribine_year_twos_lymphocyte_checks_follow_the_given_day(person, nurse_a, year_two):
    lymphocytes(person, "1.1", days=45, by=nurse_a)
    given_on = days_ago(person, 40)
    dose_record_given(dose=year_two, given_on=given_on, recorded_by=nurse_a)
    after = ScheduledCheck.objects.filter(dose=year_two, kind="after_dose").order_by("due_date")
    assert [(check.month_offset, check.due_date) for check in after] == [
        (2, add_months(given_on, 2)),
        (6, add_months(given_on, 6)),
    ]


# --- Siponimod: the CYP2C9 genotype at the start --------------------------------------------


def siponimod_start(patient, by, reason=""):
    return episode_start(
        patient=patient,
        therapy=therapies.SIPONIMOD,
        started_on=patient.clinic.today(),
        gate_override_reason=reason,
        recorded_by=by,
    )


def genotype(patient, label, by):
    report(patient, "cyp2c9", {gates.CYP2C9_GENOTYPE: (label, "")}, entered_by=by, days_ago=30)


def test_siponimod_without_a_genotype_refused_at_the_start(person, nurse_a, genotype_analyte):
    with pytest.raises(ValidationError) as refused:
        siponimod_start(person, nurse_a)
    assert "No CYP2C9 genotype on record" in refusal(refused)
    assert not person.episodes.exists()
    person.refresh_from_db()
    assert not person.other_therapies


def test_siponimod_with_3_3_refused_then_started_with_a_leads_reason(
    person, nurse_a, lead_a, genotype_analyte
):
    genotype(person, "*3/*3", nurse_a)
    with pytest.raises(ValidationError) as refused:
        siponimod_start(person, nurse_a)
    assert "CYP2C9 *3/*3: siponimod is contraindicated" in refusal(refused)
    episode = siponimod_start(person, lead_a, REASON)
    episode.refresh_from_db()
    assert episode.start_override_reason == REASON
    assert episode.start_override_by == lead_a
    assert episode.start_gate_state.startswith("CYP2C9 *3/*3")
    assert episode.history.first().history_user == lead_a


def test_siponimod_with_a_genotype_starts_without_an_override(person, nurse_a, genotype_analyte):
    genotype(person, "*1/*3", nurse_a)
    episode = siponimod_start(person, nurse_a)
    episode.refresh_from_db()
    assert episode.start_gate_state.startswith("CYP2C9 *1/*3 on")
    assert (episode.start_override_reason, episode.start_override_by) == ("", None)


def test_siponimod_clinic_staff_cannot_start_over_the_gate(person, staff_a, genotype_analyte):
    with pytest.raises(ValidationError) as refused:
        siponimod_start(person, staff_a, REASON)
    assert "Only a nurse or the clinic lead" in refusal(refused)
    assert not person.episodes.exists()


# --- Ocrelizumab: hepatitis B before an infusion --------------------------------------------


def hbsag(patient, label, by, days=20):
    report(patient, "hepatitis_b", {gates.HBSAG: (label, "")}, entered_by=by, days_ago=days)


def test_ocrelizumab_with_hbsag_positive_refused(person, nurse_a, hbsag_analyte):
    hbsag(person, "positive", nurse_a)
    dose = first_dose(started(person, therapies.OCRELIZUMAB, days=1, by=nurse_a))
    with pytest.raises(ValidationError) as refused:
        dose_record_given(dose=dose, given_on=dose.planned_on, recorded_by=nurse_a)
    assert "HBsAg positive" in refusal(refused)
    dose_record_given(
        dose=dose, given_on=dose.planned_on, recorded_by=nurse_a, override_reason=REASON
    )
    assert_given_with_override(dose, nurse_a)
    # The next infusion six months (the protocol's 182 days) on.
    assert dose.episode.doses.get(number=2).planned_on == dose.given_on + timedelta(days=182)


def test_ocrelizumab_first_infusion_without_a_screen_refused(person, nurse_a, hbsag_analyte):
    dose = first_dose(started(person, therapies.OCRELIZUMAB, days=1, by=nurse_a))
    with pytest.raises(ValidationError) as refused:
        dose_record_given(dose=dose, given_on=dose.planned_on, recorded_by=nurse_a)
    assert "No hepatitis B surface antigen result" in refusal(refused)


def test_ocrelizumab_hbsag_negative_given(person, nurse_a, hbsag_analyte):
    hbsag(person, "negative", nurse_a)
    dose = first_dose(started(person, therapies.OCRELIZUMAB, days=1, by=nurse_a))
    dose_record_given(dose=dose, given_on=dose.planned_on, recorded_by=nurse_a)
    assert_given_through_the_gate(dose, nurse_a)
    assert dose.gate_state.startswith("HBsAg negative on")
