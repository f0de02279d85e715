"""Checks without a lab value: a skin examination, a cervical screening, an infection screen, or a
panel done at another hospital, recorded as done with its outcome. Each is a report of the
panel's outcome analyte, so it completes its check, and an abnormal one is amber and waits for
a nurse exactly like an abnormal result: in the worklist, in the nurse's alerts, acknowledged
the same way. Through the service, the form (from the patient page and the worklist) and the
CSV import."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from monitoring.domain.check_status import CheckStatus
from monitoring.models import (
    Analyte,
    FlagRule,
    LabReport,
    LabResult,
    Notification,
    ScheduledCheck,
)
from monitoring.results.csv_import import import_apply, import_read, import_stage
from monitoring.results.services import check_done_record, report_mark_in_error
from monitoring.worklist.selectors import worklist_for
from patients import selectors as patient_selectors
from patients.selectors import patient_page
from tests.auth import sign_in
from tests.builders import acknowledge, nurse_of, platelets, report, treated_patient
from tests.forms import keyed

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 21)


def skin_check_of(patient, month_offset: int) -> ScheduledCheck:
    return ScheduledCheck.objects.get(patient=patient, panel="skin", month_offset=month_offset)


def skin_done(patient, user, *, outcome="normal", on=date(2025, 1, 10), **extra):
    fields = {"done_by": "dermatologist", "done_by_name": "Dr Okafor", **extra}
    return check_done_record(
        patient=patient,
        panel="skin",
        done_on=on,
        outcome=outcome,
        entered_by=user,
        today=TODAY,
        **fields,
    )


# The service


def test_a_skin_examination_recorded_as_done_completes_the_yearly_skin_check(treated, clinician):
    # Course 1 from 15 January 2024: the yearly skin check falls due on 15 January 2025, its
    # window open from 16 December 2024.
    recorded = skin_done(treated, clinician, document_reference="Letter DER-2291")

    check = skin_check_of(treated, 12)
    assert check.completed_by == recorded.report
    assert check.status_on(TODAY) == CheckStatus.COMPLETED
    report = recorded.report
    assert (report.panel, report.done_by, report.done_by_name) == (
        "skin",
        "dermatologist",
        "Dr Okafor",
    )
    assert report.document_reference == "Letter DER-2291"
    assert report.done_by_text == "Dermatologist (Dr Okafor)"
    result = report.results.get()
    assert (result.analyte.code, result.value_text, result.tier) == (
        "skin-exam-outcome",
        "normal",
        "normal",
    )
    assert not result.awaits_acknowledgement
    assert not Notification.objects.filter(result=result).exists()


def test_an_abnormal_skin_examination_is_amber_alerts_the_nurse_and_is_acknowledged_like_a_result(
    clinic_a, treated, clinician, nurse_a
):
    recorded = skin_done(
        treated, clinician, outcome="abnormal", notes="Irregular naevus on the left shoulder."
    )

    result = recorded.report.results.get()
    assert result.tier == "amber"
    assert result.awaits_acknowledgement
    assert result.reasons == ["Amber: the result is abnormal."]
    assert "dermatology" in result.next_action
    assert "Melanoma" in result.rationale
    assert recorded.report.notes == "Irregular naevus on the left shoulder."
    # The check is done whatever the outcome: what was found is the result's to follow up.
    assert skin_check_of(treated, 12).completed_by == recorded.report
    # The nurse is told in the daily digest, as for any amber result.
    alert = Notification.objects.get(result=result, recipient_user=nurse_a)
    assert (alert.kind, alert.delivery, alert.tier) == (
        Notification.Kind.ABNORMAL_RESULT,
        Notification.Delivery.NURSE_DIGEST,
        "amber",
    )
    sections = worklist_for(nurse_a, now=timezone.now()).sections
    waiting = [r.pk for section in sections.values() for row in section.rows for r in row.results]
    assert waiting == [result.pk]

    acknowledge(result, nurse_a, action="referred", note="Referred to dermatology, 2WW.")

    result.refresh_from_db()
    assert not result.awaits_acknowledgement
    sections = worklist_for(nurse_a, now=timezone.now()).sections
    assert not [r for section in sections.values() for row in section.rows for r in row.results]


def test_a_baseline_done_at_another_hospital_completes_the_pre_course_check(clinic_a, clinician):
    patient = treated_patient(clinic_a, days_ago=-10)  # course 1 in ten days
    baseline = ScheduledCheck.objects.get(patient=patient, panel="blood_count", kind="pre_course")

    recorded = check_done_record(
        patient=patient,
        panel="blood_count",
        done_on=clinic_a.today() - timedelta(days=3),
        outcome="normal",
        done_by="other_hospital",
        done_by_name="St Mary's, Leeds",
        entered_by=clinician,
    )

    baseline.refresh_from_db()
    assert baseline.completed_by == recorded.report
    assert recorded.report.results.get().analyte.code == "blood-count-outcome"


def test_marking_the_record_in_error_reopens_the_check_and_clears_the_wait(treated, clinician):
    recorded = skin_done(treated, clinician, outcome="abnormal", notes="Suspicious mole.")

    report_mark_in_error(
        report=recorded.report, reason="Another patient's letter", marked_by=clinician
    )

    check = skin_check_of(treated, 12)
    assert check.completed_by is None
    assert not recorded.report.results.get().awaits_acknowledgement


@pytest.mark.parametrize(
    ("on", "message"),
    [
        (TODAY + timedelta(days=1), "The date done 22 Nov 2026 is in the future."),
        (date(1995, 6, 14), "The date done 14 Jun 1995 is before the patient's birth."),
    ],
)
def test_a_date_done_in_the_future_or_before_birth_is_refused_and_nothing_is_saved(
    clinic_a, clinician, on, message
):
    patient = treated_patient(clinic_a, on=date(2024, 1, 15), date_of_birth=date(1995, 6, 15))

    with pytest.raises(ValidationError) as refused:
        skin_done(patient, clinician, on=on)

    assert refused.value.message_dict == {"sample_collected_on": [message]}
    assert not LabReport.objects.filter(patient=patient).exists()


@pytest.mark.parametrize("note", ["", "   \n  "])
def test_an_abnormal_outcome_without_a_note_is_refused(treated, clinician, note):
    with pytest.raises(ValidationError) as refused:
        skin_done(treated, clinician, outcome="abnormal", notes=note)

    assert "note is required" in refused.value.message_dict["notes"][0]
    assert not LabReport.objects.filter(patient=treated).exists()


def test_where_or_by_whom_is_required_and_other_needs_a_name(treated, clinician):
    with pytest.raises(ValidationError) as unsaid:
        skin_done(treated, clinician, done_by="", done_by_name="")
    with pytest.raises(ValidationError) as unnamed:
        skin_done(treated, clinician, done_by="other", done_by_name=" ")
    with pytest.raises(ValidationError) as unknown:
        skin_done(treated, clinician, done_by="barber")

    assert "where or by whom" in unsaid.value.message_dict["done_by"][0]
    assert "Name who did the check" in unnamed.value.message_dict["done_by_name"][0]
    assert "“barber” is not one of" in unknown.value.message_dict["done_by"][0]
    assert not LabReport.objects.filter(patient=treated).exists()


def test_an_outcome_is_not_mixed_with_lab_values(treated, clinician):
    with pytest.raises(ValidationError) as refused:
        report(
            treated,
            "blood_count",
            {"platelets": "210", "blood-count-outcome": "normal"},
            entered_by=clinician,
            sample=date(2024, 3, 15),
            today=TODAY,
            done_by="clinic",
        )

    assert "recorded on its own" in refused.value.message_dict["blood-count-outcome"][0]
    assert not LabReport.objects.filter(patient=treated).exists()


def test_a_free_text_field_that_is_a_formula_is_refused(treated, clinician):
    with pytest.raises(ValidationError) as refused:
        skin_done(treated, clinician, document_reference="=HYPERLINK(1)")
    assert "document_reference" in refused.value.message_dict


# Flags and charts never read an outcome as a number


def test_a_flag_rule_of_arithmetic_on_an_outcome_is_refused():
    outcome = Analyte.objects.get(code="skin-exam-outcome")
    rule = FlagRule(
        analyte=outcome,
        tier="amber",
        condition="fall_from_previous",
        threshold=Decimal("0.5"),
        next_action="Repeat.",
        rationale="A mistake.",
    )

    with pytest.raises(ValidationError) as refused:
        rule.full_clean()

    assert "graded on a scale" in refused.value.message_dict["condition"][0]


def test_the_seeded_outcomes_have_no_loinc_code_and_one_amber_rule_each():
    outcomes = Analyte.objects.filter(is_outcome=True)
    assert sorted(outcomes.values_list("panel", flat=True)) == sorted(
        [
            "blood_count",
            "kidney",
            "urine",
            "liver",
            "thyroid",
            "skin",
            "cervical",
            "infection_screen",
            # The other therapies' checks done without a lab value (migration 0030).
            "mri",
            "eye_exam",
            "ecg",
        ]
    )
    assert set(outcomes.values_list("loinc", flat=True)) == {None}
    rules = FlagRule.objects.filter(analyte__in=outcomes)
    assert {(rule.tier, rule.condition, rule.threshold) for rule in rules} == {
        ("amber", "is", Decimal(1))
    }
    assert rules.count() == outcomes.count()


def test_the_patient_pages_trends_never_chart_an_outcome(treated, clinician, monkeypatch):
    platelets(treated, 210, entered_by=clinician, sample=date(2024, 3, 15), today=TODAY)
    skin_done(treated, clinician, outcome="abnormal", notes="Biopsy advised.")
    # Even if someone lists it among the charted analytes, an outcome is not a quantity.
    monkeypatch.setattr(patient_selectors, "CHARTED_ANALYTES", ("platelets", "skin-exam-outcome"))

    page = patient_page(treated, today=TODAY)

    assert [chart.title for chart in page.charts] == ["Platelets (10^9/L)"]


# The form, from the patient page and from the worklist


def done_url(patient, panel="skin"):
    return reverse("monitoring:check_done", args=[patient.pk, panel])


def form_data(patient, **fields):
    return keyed(
        {
            "sample_collected_on": patient.clinic.today().isoformat(),
            "done_by": "gp",
            "done_by_name": "Mill Lane Surgery",
            "outcome": "normal",
            "notes": "",
            "document_reference": "scan-2026-118.pdf",
            **fields,
        }
    )


@pytest.fixture
def due_skin_patient(clinic_a):
    """A patient whose yearly skin check is due now: course 1 given a year ago."""
    return treated_patient(clinic_a, days_ago=360, given=True)


def test_the_patient_page_offers_the_form_and_it_records_the_check(
    client, staff_a, due_skin_patient
):
    sign_in(client, staff_a)
    page = client.get(reverse("patients:detail", args=[due_skin_patient.pk]))
    assert done_url(due_skin_patient) in page.content.decode()

    response = client.post(done_url(due_skin_patient), form_data(due_skin_patient))

    assert response.status_code == 302
    assert response["Location"] == reverse("patients:detail", args=[due_skin_patient.pk])
    report = LabReport.objects.get(patient=due_skin_patient)
    assert (report.done_by, report.document_reference) == ("gp", "scan-2026-118.pdf")
    check = skin_check_of(due_skin_patient, 12)
    assert check.completed_by == report
    shown = client.get(response["Location"]).content.decode()
    assert "done by GP (Mill Lane Surgery)" in shown
    with translation.override(due_skin_patient.clinic.date_locale):
        done_on = date_format(report.sample_collected_on, "DATE_FORMAT")
    assert f"Skin examination · done {done_on}" in shown


def test_a_nurse_records_an_abnormal_check_from_the_worklist_and_returns_there(
    client, nurse_a, due_skin_patient
):
    sign_in(client, nurse_a)
    worklist = client.get(reverse("monitoring:worklist"))
    row = next(
        check
        for section in worklist.context["worklist"].sections.values()
        for patient_row in section.rows
        for visit in patient_row.visits
        for check in visit.checks
        if check.panel == "skin" and check.patient_id == due_skin_patient.pk
    )
    assert row.done_url.startswith(done_url(due_skin_patient))
    assert row.done_url in worklist.content.decode().replace("&amp;", "&")

    response = client.post(
        row.done_url,
        form_data(due_skin_patient, outcome="abnormal", notes="Two new naevi; photos taken."),
    )

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("monitoring:worklist"))
    result = LabResult.objects.get(patient=due_skin_patient)
    assert (result.tier, result.awaits_acknowledgement) == ("amber", True)
    sections = client.get(response["Location"]).context["worklist"].sections
    waiting = [r for section in sections.values() for row in section.rows for r in row.results]
    assert [r.pk for r in waiting] == [result.pk]
    # The nurse reads what was found and where before acknowledging it.
    form = client.get(reverse("monitoring:result_acknowledge", args=[result.pk])).content.decode()
    assert "Two new naevi; photos taken." in form
    assert "Done by GP (Mill Lane Surgery)" in form
    acknowledged = client.post(
        reverse("monitoring:result_acknowledge", args=[result.pk]),
        keyed({"action": "referred", "note": "Dermatology referral sent."}),
    )
    assert acknowledged.status_code == 302
    result.refresh_from_db()
    assert not result.awaits_acknowledgement


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"sample_collected_on": "2099-01-01"}, "sample_collected_on", ""),
        ({"outcome": "abnormal", "notes": "   "}, "notes", "note is required"),
        ({"outcome": "abnormal", "notes": ""}, "notes", "note is required"),
        ({"done_by": ""}, "done_by", "where or by whom"),
        ({"outcome": "maybe"}, "outcome", ""),
    ],
)
def test_the_form_refuses_bad_input_beside_its_field_and_saves_nothing(
    client, staff_a, due_skin_patient, fields, field, words
):
    sign_in(client, staff_a)

    response = client.post(done_url(due_skin_patient), form_data(due_skin_patient, **fields))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert words in " ".join(errors[field])
    assert not LabReport.objects.filter(patient=due_skin_patient).exists()


def test_a_date_done_after_today_is_refused_by_the_service_on_the_date_field(
    client, staff_a, due_skin_patient
):
    sign_in(client, staff_a)
    tomorrow = due_skin_patient.clinic.today() + timedelta(days=1)

    response = client.post(
        done_url(due_skin_patient),
        form_data(due_skin_patient, sample_collected_on=tomorrow.isoformat()),
    )

    assert response.status_code == 200
    assert "is in the future" in " ".join(response.context["form"].errors["sample_collected_on"])
    assert not LabReport.objects.filter(patient=due_skin_patient).exists()


def test_a_nurse_of_another_clinic_gets_404_on_the_form_and_saves_nothing(
    client, clinic_b, due_skin_patient
):
    nurse_b = nurse_of(clinic_b, "nurse_b")
    sign_in(client, nurse_b)

    assert client.get(done_url(due_skin_patient)).status_code == 404
    assert client.post(done_url(due_skin_patient), form_data(due_skin_patient)).status_code == 404
    assert not LabReport.objects.filter(patient=due_skin_patient).exists()


def test_the_lab_form_does_not_offer_the_outcome_and_a_panel_without_values_has_none(
    client, staff_a, due_skin_patient
):
    sign_in(client, staff_a)
    blood = client.get(
        reverse("monitoring:report_create", args=[due_skin_patient.pk, "blood_count"])
    )
    skin = client.get(reverse("monitoring:report_create", args=[due_skin_patient.pk, "skin"]))

    assert "blood-count-outcome" not in blood.context["form"].fields
    assert skin.status_code == 404


# The CSV import

OUTCOME_HEADER = "hospital_number,sample_date,analyte,value,unit,done_by,done_by_name,note"


def csv_file(*rows: str) -> bytes:
    return ("\n".join([OUTCOME_HEADER, *rows]) + "\n").encode()


def test_an_outcome_row_imported_from_csv_completes_the_check(treated, clinician):
    number = treated.hospital_number
    content = csv_file(
        f"{number},2025-01-10,skin-exam-outcome,abnormal,,Dermatologist,Dr Okafor,Biopsy done"
    )
    staged, preview = import_stage(
        clinic=treated.clinic,
        content=content,
        file_name="skin.csv",
        uploaded_by=clinician,
        today=TODAY,
    )
    assert preview.ok, preview.problems

    outcome = import_apply(result_import=staged, imported_by=clinician, today=TODAY)

    assert (outcome.reports, outcome.results) == (1, 1)
    report = LabReport.objects.get(patient=treated)
    assert (report.done_by, report.done_by_name, report.notes) == (
        "dermatologist",
        "Dr Okafor",
        "Biopsy done",
    )
    assert skin_check_of(treated, 12).completed_by == report
    assert report.results.get().awaits_acknowledgement


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            "skin-exam-outcome,maybe,,gp,,",
            "Row 2, value: Skin examination outcome: “maybe” is not one of normal, abnormal.",
        ),
        ("skin-exam-outcome,abnormal,,gp,,", "Row 2, note: Say what was abnormal"),
        ("skin-exam-outcome,normal,,,,", "Row 2, done_by: Say where or by whom"),
        ("skin-exam-outcome,normal,,barber,,", "Row 2, done_by: “barber” is not one of"),
        ("skin-exam-outcome,normal,,other,,", "Row 2, done_by_name: Name who did the check"),
    ],
)
def test_a_bad_outcome_row_is_a_row_numbered_problem_and_nothing_is_imported(
    treated, clinician, row, problem
):
    content = csv_file(f"{treated.hospital_number},2025-01-10,{row}")

    preview = import_read(clinic=treated.clinic, content=content, today=TODAY)

    assert any(str(found).startswith(problem) for found in preview.problems), preview.problems
    assert not LabReport.objects.filter(patient=treated).exists()


def test_rows_of_one_report_must_agree_on_where_it_was_done(treated):
    number = treated.hospital_number
    content = csv_file(
        f"{number},2024-03-15,platelets,210,10^9/L,clinic,,",
        f"{number},2024-03-15,neutrophils,3.1,10^9/L,gp,,",
    )

    preview = import_read(clinic=treated.clinic, content=content, today=TODAY)

    assert [str(p) for p in preview.problems] == [
        "Row 3, done_by: Row 2 gives this sample's Blood count (CBC with differential) another "
        "place or person who did it; one report has one place or person who did it."
    ]


def test_an_outcome_row_beside_lab_values_of_the_same_sample_is_refused(treated):
    number = treated.hospital_number
    content = csv_file(
        f"{number},2024-03-15,platelets,210,10^9/L,clinic,,",
        f"{number},2024-03-15,blood-count-outcome,normal,,clinic,,",
    )

    preview = import_read(clinic=treated.clinic, content=content, today=TODAY)

    assert [str(p) for p in preview.problems] == [
        "Row 3, analyte: Blood count outcome is recorded on its own: a report with lab values "
        "needs no outcome, and an outcome stands for a check done without them."
    ]
