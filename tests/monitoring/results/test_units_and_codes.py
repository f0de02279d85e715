"""Units, codes and bounds against the real catalogue and database: the seeded LOINC codes and
the units each takes, the same refusals from the form's checks, a CSV file and a lab feed, bounds
stored apart from their number and flagged (a count below 20 is critical and alerts), the
catalogue's own checks in the admin, and a CSV date that could be read two ways."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from labfeeds.intake import FeedResult, feed_record, message_receive
from labfeeds.models import LabConnection, LabMessage
from monitoring.domain.input_rules import DateOrder
from monitoring.domain.measurements import MeasurementError
from monitoring.models import Analyte, LabResult, Notification
from monitoring.results.csv_import import import_apply, import_read, import_stage
from monitoring.results.entry import ResultInput, result_check
from monitoring.results.forms import ReportForm
from monitoring.results.services import report_record, result_correct
from tests import builders
from tests.auth import sign_in
from tests.factories import PatientFactory
from tests.forms import hidden_fields, keyed

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 21)
HEADER = "hospital_number,sample_date,analyte,value,unit"


def analyte(code: str) -> Analyte:
    return Analyte.objects.get(code=code)


# The catalogue as seeded


def test_the_catalogue_restricts_the_codes_that_name_one_property():
    creatinine, free_t4, bilirubin = analyte("creatinine"), analyte("free_t4"), analyte("bilirubin")
    assert creatinine.units_by_loinc == {"14682-9": ["umol/L"], "2160-0": ["mg/dL"]}
    # The moles codes are added beside the clinic's own, which keep both units (its spec).
    assert (free_t4.loinc, free_t4.other_loinc, free_t4.units_by_loinc) == (
        "3024-7",
        ["14920-3"],
        {"14920-3": ["pmol/L"]},
    )
    assert (bilirubin.loinc, bilirubin.other_loinc, bilirubin.units_by_loinc) == (
        "1975-2",
        ["14631-6"],
        {"14631-6": ["umol/L"]},
    )
    for seeded in Analyte.objects.all():
        seeded.full_clean()  # every seeded row passes the admin's checks


@pytest.mark.parametrize(
    ("code", "loinc", "unit", "accepted"),
    [
        ("creatinine", "2160-0", "mg/dL", True),
        ("creatinine", "2160-0", "umol/L", False),
        ("creatinine", "14682-9", "µmol/L", True),
        ("creatinine", "14682-9", "mg/dL", False),
        ("free_t4", "3024-7", "ng/dL", True),
        ("free_t4", "3024-7", "pmol/L", True),
        ("free_t4", "14920-3", "pmol/L", True),
        ("free_t4", "14920-3", "ng/dL", False),
        ("bilirubin", "1975-2", "mg/dL", True),
        ("bilirubin", "14631-6", "umol/L", True),
        ("bilirubin", "14631-6", "mg/dL", False),
        ("creatinine", "", "umol/L", True),  # the form sends no code
        ("creatinine", "", "mg/dL", True),
    ],
)
def test_result_check_refuses_a_code_sent_with_a_unit_of_another_property(
    code, loinc, unit, accepted
):
    entry = ResultInput(analyte(code), "1.1", unit, code=loinc)
    if accepted:
        assert result_check(entry).unit == unit
        return
    with pytest.raises(MeasurementError) as error:
        result_check(entry)
    assert error.value.field == "unit"
    assert f"LOINC {loinc} is reported in" in error.value.message
    assert f"not “{unit}”" in error.value.message


def test_a_lab_spelling_is_recorded_as_written_and_converted_by_the_catalogue(treated, clinician):
    recorded = report_record(
        patient=treated,
        panel="blood_count",
        sample_collected_on=date(2024, 3, 15),
        entries=[
            ResultInput(analyte("platelets"), "210", "x10E9/L"),
            ResultInput(analyte("haemoglobin"), "13.5", "g/dl"),
        ],
        entered_by=clinician,
        today=TODAY,
    )
    stored = {r.analyte.code: r for r in recorded.report.results.all()}
    assert (stored["platelets"].unit, stored["platelets"].canonical_value) == ("x10E9/L", 210)
    assert (stored["haemoglobin"].unit, stored["haemoglobin"].canonical_value) == ("g/dl", 135)


# Bounds


def test_a_platelet_count_below_20_is_critical_and_alerts_the_nurse(treated, clinician, nurse_a):
    result = builders.report(
        treated,
        "blood_count",
        {"platelets": ("<20", "10^9/L")},
        entered_by=clinician,
        sample=date(2024, 3, 15),
        today=TODAY,
    ).results.get()
    assert (result.comparator, result.value_text, result.canonical_value) == ("<", "20", 20)
    assert result.display_value == "<20 10^9/L"
    assert (result.tier, result.value_tier) == ("critical", "critical")
    assert "Emergency" in result.next_action
    assert result.reasons[-1] == (
        "Reported only as a bound, <20: every value below 20 is critical by these rules."
    )
    assert result.awaits_acknowledgement
    alerts = Notification.objects.filter(result=result, kind=Notification.Kind.ABNORMAL_RESULT)
    assert alerts.filter(recipient_user=nurse_a, delivery=Notification.Delivery.AT_ONCE).exists()


def test_a_bound_typed_and_a_bound_sent_apart_are_stored_the_same(clinician):
    stored = []
    for entry in (
        ResultInput(analyte("tsh"), "<0.01", "mU/L"),
        ResultInput(analyte("tsh"), "0.01", "mU/L", comparator="<"),
        ResultInput(analyte("tsh"), "0.01", "mU/L", comparator="<", code="3016-3"),
    ):
        patient = builders.treated_patient(PatientFactory().clinic, on=date(2024, 1, 15))
        result = report_record(
            patient=patient,
            panel="thyroid",
            sample_collected_on=date(2024, 4, 15),
            entries=[entry],
            entered_by=clinician,
            today=TODAY,
        ).report.results.get()
        stored.append((result.comparator, result.value_text, result.canonical_value, result.tier))
    assert stored == [("<", "0.01", Decimal("0.01"), "red")] * 3


def test_the_result_form_reads_a_typed_bound(clinician):
    form = ReportForm(
        data=keyed(
            {"sample_collected_on": "2024-03-15", "platelets": "≥ 1000", "platelets_unit": "10^9/L"}
        ),
        analytes=list(Analyte.objects.filter(panel="blood_count", is_outcome=False)),
    )
    assert form.is_valid(), form.errors
    (entry,) = form.cleaned_data["entries"]
    assert (result_check(entry).comparator, result_check(entry).value_text) == (">=", "1000")


def test_a_bound_on_a_dipstick_grade_is_refused_by_the_recording_service(treated, clinician):
    with pytest.raises(ValidationError) as error:
        report_record(
            patient=treated,
            panel="urine",
            sample_collected_on=date(2024, 3, 15),
            entries=[ResultInput(analyte("urine_blood"), "1+", comparator=">")],
            entered_by=clinician,
            today=TODAY,
        )
    assert "takes no comparator" in error.value.message_dict["urine_blood"][0]
    assert not LabResult.objects.exists()


def test_a_range_limit_cannot_be_a_bound(treated, clinician):
    with pytest.raises(MeasurementError) as error:
        result_check(ResultInput(analyte("platelets"), "120", "10^9/L", "<150", "400"))
    assert error.value.field == "reference_low"
    assert "is a bound; a range's limit is a number" in error.value.message


def test_a_correction_can_turn_a_value_into_a_bound_and_is_flagged_again(treated, clinician):
    result = builders.platelets(
        treated, 120, entered_by=clinician, sample=date(2024, 3, 15), today=TODAY
    )
    assert result.tier == "amber"
    corrected = result_correct(
        result=result,
        value="<100",
        unit="10^9/L",
        reason="The lab's report gives a bound, not 120.",
        corrected_by=clinician,
    )
    corrected.refresh_from_db()
    assert (corrected.comparator, corrected.value_text, corrected.tier) == ("<", "100", "critical")


def test_the_correction_form_opens_on_the_bound_so_a_correction_keeps_it(clinic_a):
    patient = builders.with_course_one(PatientFactory(clinic=clinic_a), on=date(2024, 1, 15))
    lead = builders.lead_of(clinic_a, "lead_a")
    result = builders.report(
        patient, "thyroid", {"tsh": ("<0.01", "mU/L")}, entered_by=lead, sample=date(2024, 3, 15)
    ).results.get()
    client = sign_in(Client(), lead)
    url = reverse("monitoring:result_correct", args=[result.pk])
    page = client.get(url)
    assert page.context["form"].initial["value"] == "<0.01"
    posted = client.post(
        url,
        {**hidden_fields(page), "value": "<0.01", "unit": "uIU/mL", "reason": "Unit as printed"},
    )
    assert posted.status_code == 302
    result.refresh_from_db()
    assert (result.comparator, result.value_text, result.unit) == ("<", "0.01", "uIU/mL")


# The CSV import


@pytest.fixture
def ada(clinic_a):
    return PatientFactory(clinic=clinic_a, hospital_number="H100", date_of_birth=date(1985, 6, 15))


def csv_file(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def problems_of(clinic, content: bytes) -> list[str]:
    return [str(p) for p in import_read(clinic=clinic, content=content, today=TODAY).problems]


def test_a_csv_row_named_by_a_loinc_code_must_give_a_unit_of_its_property(ada):
    content = csv_file(
        "H100,2024-03-15,2160-0,80,umol/L",
        "H100,2024-03-16,14682-9,1.1,mg/dL",
        "H100,2024-03-17,2160-0,1.1,mg/dL",
        "H100,2024-03-18,14682-9,80,umol/L",
        "H100,2024-03-19,creatinine,1.1,mg/dL",  # named by its code: every accepted unit
        "H100,2024-03-20,14920-3,1.2,ng/dL",
    )
    assert problems_of(ada.clinic, content) == [
        "Row 2, unit: Creatinine: LOINC 2160-0 is reported in mg/dL, not “umol/L” (a value in "
        "umol/L is sent as 14682-9); the code and the unit disagree, so check both with the lab.",
        "Row 3, unit: Creatinine: LOINC 14682-9 is reported in umol/L, not “mg/dL” (a value in "
        "mg/dL is sent as 2160-0); the code and the unit disagree, so check both with the lab.",
        "Row 7, unit: Free T4: LOINC 14920-3 is reported in pmol/L, not “ng/dL”; the code and "
        "the unit disagree, so check both with the lab.",
    ]


def test_a_csv_unit_outside_the_catalogue_is_refused_naming_the_accepted_ones(ada):
    assert problems_of(ada.clinic, csv_file("H100,2024-03-15,platelets,150,10*6/L")) == [
        "Row 2, unit: Platelets: “10*6/L” is not an accepted unit (10^9/L, 10^3/uL)."
    ]


def test_a_csv_bound_is_imported_as_a_bound_and_flagged(ada, staff_a):
    content = csv_file("H100,2024-03-15,777-3,< 50,10*9/L", "H100,2024-03-15,tsh,>100,mIU/L")
    staged, preview = import_stage(
        clinic=ada.clinic, content=content, file_name="r.csv", uploaded_by=staff_a, today=TODAY
    )
    assert preview.ok, [str(p) for p in preview.problems]
    import_apply(result_import=staged, imported_by=staff_a, today=TODAY)
    stored = {r.analyte.code: r for r in ada.lab_results.all()}
    assert [
        (code, r.comparator, r.value_text, r.unit, r.tier) for code, r in sorted(stored.items())
    ] == [
        ("platelets", "<", "50", "10*9/L", "critical"),
        ("tsh", ">", "100", "mIU/L", "red"),
    ]


def test_a_csv_bound_is_not_the_value_of_its_number(ada, clinician):
    builders.platelets(ada, 50, entered_by=clinician, sample=date(2024, 3, 15), today=TODAY)
    problems = problems_of(ada.clinic, csv_file("H100,2024-03-15,platelets,<50,10^9/L"))
    assert len(problems) == 1
    assert "a different value (50 10^9/L) is already recorded" in problems[0]
    # The same bound again is the same result: skipped, not a problem.
    LabResult.objects.update(comparator="<")
    preview = import_read(
        clinic=ada.clinic, content=csv_file("H100,2024-03-15,platelets,<50,10^9/L"), today=TODAY
    )
    assert (preview.ok, preview.skipped) == (True, 1)


def test_a_csv_comparator_on_a_dipstick_grade_is_refused(ada):
    assert problems_of(ada.clinic, csv_file("H100,2024-03-15,urine_blood,<1+,")) == [
        "Row 2, value: Urine blood (dipstick) is a grade on a scale, not a number: it takes no "
        "comparator (got “<1+”)."
    ]


@pytest.mark.parametrize("order", [DateOrder.DAY_FIRST, DateOrder.MONTH_FIRST])
def test_a_csv_date_that_reads_two_ways_is_refused_in_either_clinic_order(ada, order):
    ada.clinic.csv_date_order = order
    ada.clinic.save()
    assert problems_of(ada.clinic, csv_file("H100,04/03/2024,platelets,200,10^9/L")) == [
        "Row 2, sample_date: “04/03/2024” could be read two ways; write it as YYYY-MM-DD: "
        "2024-03-04 for 4 March or 2024-04-03 for 3 April."
    ]


def test_a_csv_date_in_the_other_order_is_read_only_when_it_cannot_be_misread(ada):
    ada.clinic.csv_date_order = DateOrder.MONTH_FIRST
    ada.clinic.save()
    # 15/03 cannot be month-first: refused, not turned round to day-first.
    assert problems_of(ada.clinic, csv_file("H100,15/03/2024,platelets,200,10^9/L")) == [
        "Row 2, sample_date: “15/03/2024” is not a real date."
    ]


# A lab feed


def test_a_lab_feed_refuses_a_code_sent_with_a_unit_of_another_property(clinic_a):
    patient = builders.treated_patient(
        clinic_a, days_ago=200, given=True, hospital_number="RX-1001"
    )
    connection = LabConnection.objects.create(
        clinic=clinic_a, name="City lab", hl7_sending_facility="CITYLAB"
    )
    message, _ = message_receive(
        protocol=LabMessage.Protocol.HL7, raw="MSH|...", connection=connection, control_id="M-1"
    )
    outcome = feed_record(
        message=message,
        results=[
            FeedResult(
                position="OBX[1]",
                hospital_number="RX-1001",
                code="2160-0",
                value="80",
                unit="umol/L",
                sample_collected_on=clinic_a.today() - timedelta(days=2),
                lab_reference="ORD-1",
                where={"value": "OBX[1]-5", "unit": "OBX[1]-6"},
            )
        ],
    )
    assert outcome.refused
    assert [problem.where for problem in outcome.problems] == ["OBX[1]-6"]
    assert "LOINC 2160-0 is reported in mg/dL" in outcome.problems[0].message
    assert not LabResult.objects.filter(patient=patient).exists()


# The catalogue's checks (the admin's validation)


def test_the_admin_refuses_units_by_loinc_of_a_code_the_analyte_does_not_have():
    creatinine = analyte("creatinine")
    creatinine.units_by_loinc = {"777-3": ["umol/L"]}
    with pytest.raises(ValidationError) as error:
        creatinine.full_clean()
    assert error.value.message_dict["units_by_loinc"] == [
        "777-3 is not a LOINC code of this analyte (14682-9, 2160-0): add it to the LOINC code "
        "or the other LOINC codes first."
    ]


def test_the_admin_refuses_units_by_loinc_naming_a_unit_the_analyte_does_not_accept():
    creatinine = analyte("creatinine")
    creatinine.units_by_loinc = {"2160-0": ["mg/L"]}
    with pytest.raises(ValidationError) as error:
        creatinine.full_clean()
    assert error.value.message_dict["units_by_loinc"] == [
        "2160-0: mg/L is not an accepted unit of Creatinine (umol/L, mg/dL)."
    ]


@pytest.mark.parametrize("shape", [["mg/dL"], {"2160-0": "mg/dL"}, {"2160-0": []}])
def test_the_admin_refuses_units_by_loinc_of_another_shape(shape):
    creatinine = analyte("creatinine")
    creatinine.units_by_loinc = shape
    with pytest.raises(ValidationError) as error:
        creatinine.full_clean()
    assert (
        "Give each LOINC code with a list of units" in error.value.message_dict["units_by_loinc"][0]
    )


def test_the_admin_accepts_another_spelling_of_an_accepted_unit():
    creatinine = analyte("creatinine")
    creatinine.units_by_loinc = {"2160-0": ["mg/dl"], "14682-9": ["µmol/L"]}
    creatinine.full_clean()


def test_the_admin_refuses_one_unit_listed_twice_under_two_spellings():
    tsh = analyte("tsh")
    tsh.unit_factors = {"uIU/mL": "1", "mIU/L": "1"}
    with pytest.raises(ValidationError) as error:
        tsh.full_clean()
    assert error.value.message_dict["unit_factors"] == [
        "“mIU/L” is another way of writing “mU/L”; list each unit once."
    ]
