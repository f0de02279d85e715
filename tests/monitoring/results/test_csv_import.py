"""Importing lab results from CSV: the preview names every problem by row and column before
anything is saved, the import stores all rows or none, and overlapping exports skip what is
already stored."""

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from monitoring.models import LabReport, LabResult, ResultImport
from monitoring.results.csv_import import (
    ImportOutcome,
    ImportProblem,
    ImportRejected,
    import_apply,
    import_read,
    import_stage,
)
from monitoring.results.csv_import import batches as csv_import  # it calls reports_record
from monitoring.results.recording import BatchRejected
from monitoring.results.services import result_mark_in_error
from tests.factories import ClinicFactory, PatientFactory, UserFactory

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 21)
HEADER = "hospital_number,sample_date,analyte,value,unit"


@pytest.fixture
def ada(clinic_a):
    return PatientFactory(clinic=clinic_a, hospital_number="H100", date_of_birth=date(1995, 6, 15))


@pytest.fixture
def ben(clinic_a):
    return PatientFactory(clinic=clinic_a, hospital_number="H200")


@pytest.fixture
def nurse(clinic_a):
    return UserFactory(username="nurse_a")


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def read(clinic, content: bytes, **extra):
    return import_read(clinic=clinic, content=content, today=TODAY, **extra)


def messages(preview) -> list[str]:
    return [str(problem) for problem in preview.problems]


def stage(clinic, content: bytes, user, file_name="results.csv"):
    return import_stage(
        clinic=clinic, content=content, file_name=file_name, uploaded_by=user, today=TODAY
    )


def stage_and_apply(clinic, content: bytes, user) -> ImportOutcome:
    result_import, preview = stage(clinic, content, user)
    assert preview.ok, messages(preview)
    return import_apply(result_import=result_import, imported_by=user, today=TODAY)


def nothing_saved() -> bool:
    return not LabReport.objects.exists() and not LabResult.objects.exists()


CLEAN = csv_file(
    "H100,2026-03-02,platelets,45,10^9/L",
    "H100,2026-03-02,wbc,5.1,10^9/L",
    "H100,2026-03-02,creatinine,70,umol/L",
    "H200,2026-03-03,platelets,250,10^9/L",
)


# The preview


def test_the_preview_reads_each_row_and_saves_nothing(ada, ben, nurse):
    result_import, preview = stage(ada.clinic, CLEAN, nurse)
    assert preview.ok and preview.problems == []
    first = preview.rows[0]
    assert (first.row, first.patient, first.sample_date, first.analyte.code) == (
        2,
        ada,
        date(2026, 3, 2),
        "platelets",
    )
    assert first.checked.canonical_value == Decimal(45)
    assert (preview.to_import, preview.report_count, preview.skipped) == (4, 3, 0)
    assert result_import.status == ResultImport.Status.PREVIEWED
    assert result_import.content == CLEAN.decode()
    assert result_import.row_count == 4
    assert nothing_saved()


def test_the_preview_shows_every_rows_problem_before_anything_is_saved(ada, nurse):
    content = csv_file(
        "H100,2026-03-02,platelets,abc,10^9/L",
        "H100,2026-03-02,wbc,5.1,10^9/L",
        "H999,2026-03-02,wbc,5.1,10^9/L",
        "H100,2026-03-02,creatinine,70,mmol/L",
    )
    result_import, preview = stage(ada.clinic, content, nurse)
    assert messages(preview) == [
        "Row 2, value: Platelets: “abc” is not a number.",
        "Row 4, hospital_number: No patient of Clinic A has the hospital number “H999”.",
        "Row 5, unit: Creatinine: “mmol/L” is not an accepted unit (umol/L, mg/dL).",
    ]
    assert [len(row.problems) for row in preview.rows] == [1, 0, 1, 1]
    assert not preview.ok
    # Kept so the preview page can show it; nothing else is stored.
    assert result_import.status == ResultImport.Status.PREVIEWED
    assert nothing_saved()


def test_problems_name_the_line_in_the_file_across_blank_lines_and_quoted_line_breaks(ada):
    content = (
        f"{HEADER}\n"
        "H100,2026-03-02,platelets,250,10^9/L\n"
        "\n"
        ",,,,\n"
        'H100,2026-03-02,wbc,5.1,"10^9/L\nwith a note"\n'
        "H100,2026-03-02,creatinine,x,umol/L\n"
    ).encode()
    preview = read(ada.clinic, content)
    assert [row.row for row in preview.rows] == [2, 5, 7]
    assert [problem.row for problem in preview.problems] == [5, 7]


def test_a_problem_reads_with_its_row_and_column_or_as_the_whole_file():
    assert str(ImportProblem(7, "value", "Bad.")) == "Row 7, value: Bad."
    assert str(ImportProblem(7, "", "Bad.")) == "Row 7: Bad."
    assert str(ImportProblem(None, "unit", "Bad.")) == "File: Bad."


# Importing


def test_a_clean_file_imports_and_flags_platelets_of_45_as_critical(ada, ben, nurse):
    outcome = stage_and_apply(ada.clinic, CLEAN, nurse)
    assert outcome == ImportOutcome(reports=3, results=4, skipped=0)
    result = LabResult.objects.get(patient=ada, analyte__code="platelets")
    assert result.tier == "critical"
    assert "Emergency" in result.next_action
    report = result.report
    assert report.source == LabReport.Source.CSV_IMPORT
    assert report.entered_by == nurse
    imported = report.result_import
    assert imported.status == ResultImport.Status.IMPORTED
    assert imported.imported_at is not None and imported.row_count == 4


def test_rows_of_one_sample_and_panel_make_one_report(ada, ben, nurse):
    stage_and_apply(ada.clinic, CLEAN, nurse)
    reports = {
        (r.patient.hospital_number, r.panel): sorted(
            r.results.values_list("analyte__code", flat=True)
        )
        for r in LabReport.objects.all()
    }
    assert reports == {
        ("H100", "blood_count"): ["platelets", "wbc"],
        ("H100", "kidney"): ["creatinine"],
        ("H200", "blood_count"): ["platelets"],
    }


def test_rows_are_stored_oldest_first_so_a_fall_is_measured_from_the_earlier_count(ada, nurse):
    # The file lists the newer count first; the halving must still be seen.
    content = csv_file(
        "H100,2026-06-15,platelets,160,10^9/L",
        "H100,2026-05-15,platelets,320,10^9/L",
    )
    stage_and_apply(ada.clinic, content, nurse)
    june = LabResult.objects.get(sample_collected_on=date(2026, 6, 15))
    assert june.tier == "amber"


def test_urine_blood_sees_the_creatinine_of_the_same_day_whatever_the_row_order(ada, nurse):
    content = csv_file(
        "H100,2026-05-15,urine_blood,1+,",
        "H100,2026-05-15,creatinine,130,umol/L",
    )
    stage_and_apply(ada.clinic, content, nurse)
    assert LabResult.objects.get(analyte__code="urine_blood").tier == "red"


def test_optional_columns_are_stored_on_the_report_and_result(ada, nurse):
    content = csv_file(
        "H100,2026-03-02,alt,50,U/L,10,60,2026-03-03,<b>City Lab</b>",
        header=f"{HEADER},reference_low,reference_high,reported_date,lab_name",
    )
    stage_and_apply(ada.clinic, content, nurse)
    result = LabResult.objects.get()
    assert (result.reference_low, result.reference_high) == (Decimal(10), Decimal(60))
    assert result.tier == "normal"  # within the lab's own range, above the default 40
    # Kept as plain text: escaping is the template's job.
    assert (result.report.reported_on, result.report.lab_name) == (
        date(2026, 3, 3),
        "<b>City Lab</b>",
    )


def test_a_file_with_one_bad_row_among_good_ones_saves_nothing(ada, ben, nurse):
    content = csv_file(
        "H100,2026-03-02,platelets,45,10^9/L",
        "H200,2026-03-03,platelets,250,10^9/L",
        "H100,2026-03-02,wbc,lots,10^9/L",
    )
    result_import, _ = stage(ada.clinic, content, nurse)
    with pytest.raises(ImportRejected) as rejected:
        import_apply(result_import=result_import, imported_by=nurse, today=TODAY)
    assert [str(p) for p in rejected.value.problems] == [
        "Row 4, value: White cells (WBC): “lots” is not a number."
    ]
    assert nothing_saved()
    result_import.refresh_from_db()
    assert result_import.status == ResultImport.Status.PREVIEWED


def test_a_failure_while_storing_takes_back_the_reports_of_its_batch(ada, ben, nurse, monkeypatch):
    real_record = csv_import.reports_record

    def store_then_fail(**kwargs):
        # The pipeline stores the batch's first reports, then refuses its second one.
        real_record(**{**kwargs, "reports": kwargs["reports"][:1]})
        raise BatchRejected({kwargs["reports"][1].key: {"sample_collected_on": ["Refused."]}})

    monkeypatch.setattr(csv_import, "reports_record", store_then_fail)
    result_import, _ = stage(ada.clinic, CLEAN, nurse)
    with pytest.raises(ImportRejected) as rejected:
        import_apply(result_import=result_import, imported_by=nurse, today=TODAY)
    assert str(rejected.value.problems[0]) == "Row 4: Refused."
    assert nothing_saved()  # the three reports are one batch
    stopped = ResultImport.objects.get()
    assert (stopped.status, stopped.error) == (ResultImport.Status.FAILED, "Row 4: Refused.")


def test_an_import_is_not_applied_twice(ada, nurse):
    result_import, _ = stage(ada.clinic, csv_file("H100,2026-03-02,platelets,45,10^9/L"), nurse)
    import_apply(result_import=result_import, imported_by=nurse, today=TODAY)
    with pytest.raises(ImportRejected) as rejected:
        import_apply(result_import=result_import, imported_by=nurse, today=TODAY)
    assert "was already imported" in str(rejected.value.problems[0])
    assert LabResult.objects.count() == 1


def test_the_same_file_uploaded_again_is_refused(ada, ben, nurse):
    stage_and_apply(ada.clinic, CLEAN, nurse)
    again, preview = stage(ada.clinic, CLEAN, nurse)
    assert messages(preview)[0].startswith("File: This file (“results.csv”) was already imported")
    with pytest.raises(ImportRejected):
        import_apply(result_import=again, imported_by=nurse, today=TODAY)
    assert LabResult.objects.count() == 4


def test_an_overlapping_export_skips_the_results_already_stored(ada, ben, nurse):
    stage_and_apply(ada.clinic, CLEAN, nurse)
    tonight = csv_file(
        "H100,2026-03-02,platelets,45,10^9/L",
        "H200,2026-03-03,platelets,250.0,10^9/L",
        "H200,2026-04-03,platelets,240,10^9/L",
    )
    _, preview = stage(ada.clinic, tonight, nurse)
    assert preview.ok
    assert [row.duplicate for row in preview.rows] == [True, True, False]
    assert (preview.to_import, preview.skipped) == (1, 2)
    outcome = import_apply(
        result_import=ResultImport.objects.first(), imported_by=nurse, today=TODAY
    )
    assert outcome == ImportOutcome(reports=1, results=1, skipped=2)
    assert LabResult.objects.count() == 5


def test_the_same_value_in_another_unit_is_a_duplicate(ada, nurse):
    stage_and_apply(ada.clinic, csv_file("H100,2026-03-02,haemoglobin,135,g/L"), nurse)
    preview = read(ada.clinic, csv_file("H100,2026-03-02,Haemoglobin,13.5,g/dL"))
    assert preview.ok and preview.rows[0].duplicate


def test_a_different_value_already_stored_is_a_problem(ada, nurse):
    stage_and_apply(ada.clinic, csv_file("H100,2026-03-02,platelets,45,10^9/L"), nurse)
    preview = read(ada.clinic, csv_file("H100,2026-03-02,platelets,54,10^9/L"))
    assert messages(preview) == [
        "Row 2, value: Platelets: a different value (45 10^9/L) is already recorded for this "
        "patient's sample of 2 Mar 2026; correct it on the patient page."
    ]
    assert not preview.rows[0].duplicate


def test_a_result_marked_in_error_is_not_brought_back_by_a_later_export(ada, nurse):
    stage_and_apply(ada.clinic, csv_file("H100,2026-03-02,platelets,45,10^9/L"), nurse)
    result_mark_in_error(result=LabResult.objects.get(), reason="Wrong patient", marked_by=nurse)
    # A later export, not the same file: it also carries the withdrawn result.
    same = read(ada.clinic, csv_file("H100,2026-03-02,platelets,45.0,10^9/L"))
    assert same.ok and same.rows[0].duplicate
    # A corrected value from the lab is not in conflict with the withdrawn one.
    corrected = read(ada.clinic, csv_file("H100,2026-03-02,platelets,145,10^9/L"))
    assert corrected.ok and corrected.to_import == 1


# Bad files


def test_a_file_over_the_size_limit_is_refused_before_decoding(ada, nurse, settings):
    settings.RESULT_IMPORT_MAX_BYTES = 100
    content = b"\xff" * 101  # not UTF-8 either: the size is what is said
    result_import, preview = stage(ada.clinic, content, nurse)
    assert result_import is None
    assert messages(preview) == [
        "File: The file is 101 bytes; the limit is 100 bytes (100 bytes). "
        "Split it into smaller files."
    ]
    assert not ResultImport.objects.exists()


def test_the_size_limit_is_said_in_mebibytes(ada, settings):
    settings.RESULT_IMPORT_MAX_BYTES = 2 * 1024 * 1024
    preview = read(ada.clinic, b"x" * (2 * 1024 * 1024 + 1))
    assert "the limit is 2,097,152 bytes (2 MiB)" in messages(preview)[0]


def test_a_file_that_is_not_utf8_is_refused(ada, nurse):
    content = csv_file(
        "H100,2026-03-02,platelets,45,10^9/L", "H100,2026-03-02,créatinine,70,umol/L"
    )
    latin1 = content.decode().encode("latin-1")
    result_import, preview = stage(ada.clinic, latin1, nurse)
    assert result_import is None
    position = latin1.index("é".encode("latin-1")) + 1
    assert messages(preview) == [
        f"File: The file is not UTF-8 text (byte {position} cannot be read); "
        "save it as “CSV UTF-8”."
    ]


def test_a_spreadsheet_workbook_is_refused_as_not_csv(ada):
    preview = read(ada.clinic, b"PK\x03\x04\x14\x00binary", file_name="results.xlsx")
    assert messages(preview) == [
        "File: “results.xlsx” is a spreadsheet workbook, not a CSV file; save it as “CSV UTF-8”."
    ]


def test_a_file_with_nul_characters_is_refused(ada, nurse):
    result_import, preview = stage(ada.clinic, CLEAN + b"\x00", nurse)
    assert result_import is None
    assert "NUL" in messages(preview)[0]


@pytest.mark.parametrize("content", [b"", b"\n\n", b"\xef\xbb\xbf", b" \r\n"])
def test_an_empty_file_is_refused(ada, nurse, content):
    result_import, preview = stage(ada.clinic, content, nurse)
    assert result_import is None
    assert messages(preview) == ["File: The file is empty."]


def test_a_utf8_byte_order_mark_as_excel_writes_is_accepted(ada, ben, nurse):
    result_import, preview = stage(ada.clinic, b"\xef\xbb\xbf" + CLEAN, nurse)
    # Left in, the mark would hide the first column, hospital_number.
    assert preview.ok and preview.to_import == 4
    assert preview.rows[0].patient == ada
    assert result_import.content == CLEAN.decode()


@pytest.mark.parametrize(
    ("delimiter", "said"), [(";", "The file uses ';'"), ("\t", "The file uses tabs")]
)
def test_another_delimiter_is_named(ada, delimiter, said):
    rows = [HEADER, "H100,2026-03-02,platelets,45,10^9/L"]
    content = "\n".join(line.replace(",", delimiter) for line in rows).encode()
    assert messages(read(ada.clinic, content)) == [f"File: {said} — save it as comma-separated."]


def test_a_missing_required_column_is_named(ada):
    preview = read(
        ada.clinic,
        csv_file(
            "H100,2026-03-02,platelets,45", header="hospital_number,sample_date,analyte,value"
        ),
    )
    assert preview.problems == [
        ImportProblem(None, "unit", "The required column “unit” is missing.")
    ]
    assert preview.rows == []


def test_headers_match_whatever_their_case_spacing_and_order_and_unknown_columns_are_ignored(
    ada,
):
    header = " Unit ,Value,Comment,Sample Date,ANALYTE,Hospital_Number"
    preview = read(
        ada.clinic, csv_file("10^9/L,45,=cmd(),2026-03-02,platelets,H100", header=header)
    )
    assert preview.ok
    row = preview.rows[0]
    assert (row.patient, row.value, row.unit) == (ada, "45", "10^9/L")


def test_a_column_given_twice_is_refused(ada):
    preview = read(
        ada.clinic, csv_file("H100,2026-03-02,platelets,45,10^9/L,46", header=f"{HEADER},value")
    )
    assert messages(preview) == ["File: The column “value” appears more than once."]


def test_a_header_without_rows_is_refused(ada, nurse):
    result_import, preview = stage(ada.clinic, csv_file(), nurse)
    assert messages(preview) == ["File: The file has a header but no results."]
    assert result_import is not None  # decoded: kept, so the page can show why


def test_broken_quotes_are_named_with_their_row(ada):
    content = csv_file("H100,2026-03-02,platelets,45,10^9/L", 'H100,2026-03-02,"wbc"x,5,10^9/L')
    preview = read(ada.clinic, content)
    assert [(p.row, p.message.split(" (")[0]) for p in preview.problems] == [
        (3, "The row cannot be read as CSV")
    ]


# Bad rows


@pytest.fixture
def patient_of_clinic_b(db):
    return PatientFactory(clinic=ClinicFactory(code="clinic-b"), hospital_number="H300")


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        (
            "H999,2026-03-02,platelets,45,10^9/L",
            "hospital_number: No patient of Clinic A has the hospital number “H999”.",
        ),
        (
            "H300,2026-03-02,platelets,45,10^9/L",
            "hospital_number: No patient of Clinic A has the hospital number “H300”.",
        ),
        (
            ",2026-03-02,platelets,45,10^9/L",
            "hospital_number: Enter the patient's hospital number.",
        ),
        ("H100,2024-02-30,platelets,45,10^9/L", "sample_date: “2024-02-30” is not a real date."),
        ("H100,31/02/2024,platelets,45,10^9/L", "sample_date: “31/02/2024” is not a real date."),
        (
            "H100,yesterday,platelets,45,10^9/L",
            "sample_date: “yesterday” is not a date; write it as YYYY-MM-DD (or DD/MM/YYYY).",
        ),
        (
            "H100,2024-3-2x,platelets,45,10^9/L",
            "sample_date: “2024-3-2x” is not a date; write it as YYYY-MM-DD (or DD/MM/YYYY).",
        ),
        ("H100,,platelets,45,10^9/L", "sample_date: Enter the date the sample was collected."),
        (
            "H100,2026-11-22,platelets,45,10^9/L",
            "sample_date: The sample date 22 Nov 2026 is in the future.",
        ),
        (
            "H100,1995-06-14,platelets,45,10^9/L",
            "sample_date: The sample date 14 Jun 1995 is before the patient's birth.",
        ),
        (
            "H100,1989-12-31,platelets,45,10^9/L",
            "sample_date: The sample date 31 Dec 1989 is before 1 Jan 1990, earlier than any "
            "result this service keeps.",
        ),
        (
            "H100,2026-03-02,ferritin,45,ug/L",
            "analyte: “ferritin” is not a known analyte code, name or LOINC code.",
        ),
        ("H100,2026-03-02,,45,10^9/L", "analyte: Enter the analyte: its code, name or LOINC code."),
        ("H100,2026-03-02,platelets,abc,10^9/L", "value: Platelets: “abc” is not a number."),
        ("H100,2026-03-02,platelets,,10^9/L", "value: Platelets: enter a value."),
        ("H100,2026-03-02,platelets,NaN,10^9/L", "value: Platelets: “NaN” is not a number."),
        (
            "H100,2026-03-02,platelets,Infinity,10^9/L",
            "value: Platelets: “Infinity” is not a number.",
        ),
        ('H100,2026-03-02,platelets,"1,5",10^9/L', "value: Platelets: “1,5” is not a number."),
        ("H100,2026-03-02,platelets,-5,10^9/L", "value: Platelets cannot be negative (got -5)."),
        (
            "H100,2026-03-02,platelets,45000,10^9/L",
            "value: Platelets: 45000 10^9/L is beyond any plausible result (over 3000.00 10^9/L); "
            "check the value and unit.",
        ),
        (
            "H100,2026-03-02,platelets,123.456789,10^9/L",
            "value: Platelets: “123.456789” has 9 digits; no lab reports more than 8.",
        ),
        (
            "H100,2026-03-02,platelets,=SUM(A1:A2),10^9/L",
            "value: Platelets: “=SUM(A1:A2)” looks like a spreadsheet formula, not a result.",
        ),
        (
            "H100,2026-03-02,platelets,+cmd,10^9/L",
            "value: Platelets: “+cmd” looks like a spreadsheet formula, not a result.",
        ),
        (
            "H100,2026-03-02,platelets,@x,10^9/L",
            "value: Platelets: “@x” looks like a spreadsheet formula, not a result.",
        ),
        (
            "H100,2026-03-02,platelets," + "0" * 40 + "1,10^9/L",
            "value: “" + "0" * 40 + "…” is 41 characters; at most 32 fit.",
        ),
        ("H100,2026-03-02,platelets,45,", "unit: Platelets: enter the unit (10^9/L, 10^3/uL)."),
        (
            "H100,2026-03-02,platelets,45,10^9",
            "unit: Platelets: “10^9” is not an accepted unit (10^9/L, 10^3/uL).",
        ),
        (
            "H100,2026-03-02,urine_blood,1+,mg",
            "unit: Urine blood (dipstick) is a dipstick grade and takes no unit (got “mg”).",
        ),
        (
            "H100,2026-03-02,urine_blood,4+,",
            "value: Urine blood (dipstick): “4+” is not one of negative, trace, 1+, 2+, 3+.",
        ),
    ],
)
def test_a_bad_row_is_named_by_row_and_column(ada, patient_of_clinic_b, row, problem):
    preview = read(ada.clinic, csv_file("H100,2026-01-05,platelets,250,10^9/L", row))
    assert messages(preview) == [f"Row 3, {problem}"]
    assert preview.rows[0].problems == []


def test_an_unknown_patients_sample_date_is_still_checked(ada):
    preview = read(ada.clinic, csv_file("H999,2026-11-22,platelets,45,10^9/L"))
    assert [(p.column, p.message) for p in preview.problems] == [
        ("hospital_number", "No patient of Clinic A has the hospital number “H999”."),
        ("sample_date", "The sample date 22 Nov 2026 is in the future."),
    ]


def test_the_lab_reference_range_is_checked_like_the_form(ada):
    header = f"{HEADER},reference_low,reference_high"
    preview = read(
        ada.clinic,
        csv_file(
            "H100,2026-03-02,alt,50,U/L,60,10", "H100,2026-03-03,alt,50,U/L,,x", header=header
        ),
    )
    low_above_high, not_a_number = messages(preview)
    assert low_above_high == (
        "Row 2, reference_low: ALT: the reference range's low limit is above its high."
    )
    # The wording comes from result_input, shared with the form.
    assert not_a_number.startswith("Row 3, reference_high: ALT reference range high: ")
    assert not_a_number.endswith("“x” is not a number.")


def test_a_report_date_before_the_sample_is_refused(ada):
    header = f"{HEADER},reported_date"
    preview = read(
        ada.clinic, csv_file("H100,2026-03-02,platelets,45,10^9/L,28/02/2026", header=header)
    )
    assert messages(preview) == [
        "Row 2, reported_date: The report date is before the sample was collected."
    ]


def test_a_row_with_the_wrong_number_of_fields_is_refused(ada):
    preview = read(
        ada.clinic,
        csv_file("H100,2026-03-02,platelets,4,5,10^9/L", "H100,2026-03-02,wbc,5.1"),
    )
    assert messages(preview) == [
        "Row 2: The row does not have 5 fields like the header; check its commas.",
        "Row 3: The row does not have 5 fields like the header; check its commas.",
    ]


def test_the_same_result_twice_in_the_file_names_the_first_row(ada):
    preview = read(
        ada.clinic,
        csv_file(
            "H100,2026-03-02,platelets,45,10^9/L",
            "H100,2026-03-02,wbc,5.1,10^9/L",
            "H100,2026-3-2,777-3,45,10^3/uL",
            "H100,2026-03-02,Platelets,54,10^9/L",
        ),
    )
    assert messages(preview) == [
        "Row 4: The same result is already on row 2.",
        "Row 5, value: Platelets of this sample is already on row 2, with another value; "
        "a sample has one result per analyte.",
    ]


def test_rows_of_one_report_must_agree_on_its_laboratory(ada):
    header = f"{HEADER},lab_name"
    preview = read(
        ada.clinic,
        csv_file(
            "H100,2026-03-02,platelets,45,10^9/L,City Lab",
            "H100,2026-03-02,wbc,5.1,10^9/L,Town Lab",
            "H100,2026-03-02,creatinine,70,umol/L,Town Lab",
            header=header,
        ),
    )
    assert messages(preview) == [
        "Row 3, lab_name: Row 2 names another laboratory for this sample's Blood count "
        "(CBC with differential); one report has one laboratory."
    ]


def test_an_analyte_is_found_by_code_name_or_any_of_its_loinc_codes(ada):
    preview = read(
        ada.clinic,
        csv_file(
            "H100,2026-03-02,TSH,2.0,mU/L",
            "H100,2026-03-02,white cells (wbc),5.1,10^9/L",
            "H100,2026-03-02,777-3,250,10^3/uL",
            "H100,2026-03-02,2160-0,1.0,mg/dL",
        ),
    )
    assert preview.ok
    assert [(r.analyte.code, r.checked.canonical_value) for r in preview.rows] == [
        ("tsh", Decimal("2.00")),
        ("wbc", Decimal("5.1")),
        ("platelets", Decimal(250)),
        ("creatinine", Decimal(88)),
    ]


def test_html_in_cells_is_kept_as_plain_text(ada):
    preview = read(ada.clinic, csv_file("<script>alert(1)</script>,2026-03-02,platelets,45,10^9/L"))
    assert messages(preview) == [
        "Row 2, hospital_number: No patient of Clinic A has the hospital number "
        "“<script>alert(1)</script>”."
    ]


# Speed


def test_reading_takes_the_same_queries_for_10_rows_as_for_200(clinic_a, nurse):
    patients = [PatientFactory(clinic=clinic_a, hospital_number=f"P{n:03d}") for n in range(20)]
    # Some results already stored, so the stored-results query has rows to compare.
    stage_and_apply(clinic_a, csv_file("P000,2026-01-01,platelets,250,10^9/L"), nurse)

    def file_of(count):
        rows = [
            f"{patients[n % 20].hospital_number},2026-01-{n // 20 + 1:02d},platelets,250,10^9/L"
            for n in range(count)
        ]
        return csv_file(*rows)

    query_counts = []
    for count in (10, 200):
        with CaptureQueriesContext(connection) as captured:
            preview = read(clinic_a, file_of(count))
        assert preview.ok and preview.to_import == count - 1 and preview.skipped == 1
        query_counts.append(len(captured))
    # Earlier imports of the same file, patients, analytes, stored results.
    assert query_counts == [4, 4]


# The command


@pytest.fixture
def csv_path(tmp_path):
    def write(content: bytes):
        path = tmp_path / "results.csv"
        path.write_bytes(content)
        return str(path)

    return write


def run(*args):
    """The command's last line (before it, the progress after each batch) and its errors."""
    out, err = StringIO(), StringIO()
    call_command("import_results", *args, stdout=out, stderr=err)
    return out.getvalue().splitlines()[-1], err.getvalue()


def test_the_command_imports_a_clean_file_as_the_lab_import_user(ada, ben, csv_path):
    out, _ = run(csv_path(CLEAN))
    assert out.strip() == "Imported 4 results in 3 reports (0 duplicates skipped)"
    user = get_user_model().objects.get(username="lab-import")
    assert not user.is_active and not user.has_usable_password()
    assert set(LabReport.objects.values_list("entered_by", flat=True)) == {user.pk}
    assert ResultImport.objects.get().status == ResultImport.Status.IMPORTED
    # With no request to name one, the audit trail names the import user as the actor.
    imported = LogEntry.objects.filter(content_type__model="labresult")
    assert imported.count() == 4
    assert set(imported.values_list("actor", flat=True)) == {user.pk}


def test_the_command_skips_what_an_earlier_export_imported(ada, ben, csv_path, nurse):
    run(csv_path(CLEAN), "--user", "nurse_a")
    overlapping = CLEAN + b"H200,2026-04-03,platelets,240,10^9/L\n"
    out, _ = run(csv_path(overlapping), "--user", "nurse_a")
    assert out.strip() == "Imported 1 results in 1 reports (4 duplicates skipped)"
    assert set(LabReport.objects.values_list("entered_by", flat=True)) == {nurse.pk}


def test_the_command_prints_each_problem_and_saves_nothing(ada, csv_path):
    content = csv_file(
        "H100,2026-03-02,platelets,45,10^9/L",
        "H100,2026-03-02,wbc,lots,10^9/L",
        "H999,2026-03-02,wbc,5,10^9/L",
    )
    err = StringIO()
    with pytest.raises(CommandError) as failed:
        call_command("import_results", csv_path(content), stdout=StringIO(), stderr=err)
    assert failed.value.returncode == 1
    assert str(failed.value) == "2 problems in the file; nothing was imported."
    assert err.getvalue().splitlines() == [
        "Row 3, value: White cells (WBC): “lots” is not a number.",
        "Row 4, hospital_number: No patient of Clinic A has the hospital number “H999”.",
    ]
    assert nothing_saved()
    assert not ResultImport.objects.exists()
    assert not get_user_model().objects.filter(username="lab-import").exists()


def test_the_command_dry_run_saves_nothing(ada, ben, csv_path):
    out, _ = run(csv_path(CLEAN), "--dry-run")
    assert out.strip() == (
        "Dry run: would import 4 results in 3 reports (0 duplicates skipped); nothing was saved."
    )
    assert nothing_saved()
    assert not ResultImport.objects.exists()
    assert not get_user_model().objects.filter(username="lab-import").exists()


def test_the_command_dry_run_reports_problems_with_a_failing_status(ada, csv_path):
    with pytest.raises(CommandError) as failed:
        run(csv_path(b"hospital_number;sample_date;analyte;value;unit\n"), "--dry-run")
    assert failed.value.returncode == 1
    assert str(failed.value) == "1 problem in the file; nothing was imported."


def test_the_command_needs_a_clinic_when_there_are_several(ada, csv_path):
    ClinicFactory(code="clinic-b")
    with pytest.raises(CommandError, match="Choose the clinic with --clinic CODE"):
        run(csv_path(CLEAN))
    with pytest.raises(CommandError, match="there is no clinic “clinic-z”"):
        run(csv_path(CLEAN), "--clinic", "clinic-z")
    out, _ = run(csv_path(csv_file("H100,2026-03-02,platelets,45,10^9/L")), "--clinic", "clinic-a")
    assert out.startswith("Imported 1 results")


def test_the_command_refuses_an_unknown_user_or_file(ada, csv_path, tmp_path):
    with pytest.raises(CommandError, match="there is no user “nobody”"):
        run(csv_path(CLEAN), "--user", "nobody")
    with pytest.raises(CommandError, match="Cannot read"):
        run(str(tmp_path / "missing.csv"))
    assert nothing_saved()
