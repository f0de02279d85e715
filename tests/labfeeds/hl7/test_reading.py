"""Reading ORU^R01 messages into feed results: no database, no socket."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from labfeeds.hl7.reading import HeaderProblem, header_refusal, parse, read_header, read_results
from tests.labfeeds.hl7.messages import Obx, msh, obr, oru, pid, segment

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def read(text: str, **options):
    options.setdefault("zone", LONDON)
    options.setdefault("now", NOW)
    return read_results(parse(text), **options)


def only(text: str, **options):
    found = read(text, **options)
    assert found.problems == []
    (result,) = found.results
    return result


def test_a_result_is_read_with_where_each_field_is():
    result = only(oru("RX-1", "202503080930", Obx(value="40")))
    assert (result.hospital_number, result.code, result.value, result.unit) == (
        "RX-1",
        "777-3",
        "40",
        "10^9/L",
    )
    assert (result.reference_low, result.reference_high, result.status) == ("150", "400", "final")
    assert result.sample_collected_on == date(2025, 3, 8)
    assert result.lab_reference == "FL-1"
    assert result.position == "OBX[1]"
    assert result.at("unit") == "OBX[1]-6"
    assert result.at("value") == "OBX[1]-5"
    assert result.at("hospital_number") == "PID[1]-3"
    assert result.at("sample_collected_on") == "OBR[1]-7"
    assert result.patient_name == "Ada Patient"
    assert result.date_of_birth == date(1985, 6, 15)


@pytest.mark.parametrize(
    ("value_type", "value", "comparator", "number"),
    [
        ("SN", "<^5", "<", "5"),
        ("ST", "<5", "<", "5"),
        ("SN", "^7.5", "", "7.5"),
        ("SN", ">=^60", ">=", "60"),
        ("NM", "<0.1", "<", "0.1"),
        ("ST", "1+", "", "1+"),
    ],
)
def test_comparators_of_sn_and_st_values(value_type, value, comparator, number):
    result = only(oru("RX-1", "20250308", Obx(value_type=value_type, value=value)))
    assert (result.comparator, result.value) == (comparator, number)


def test_a_range_in_sn_is_not_one_value():
    found = read(oru("RX-1", "20250308", Obx(value_type="SN", value="^10^-^20")))
    assert [p.where for p in found.problems] == ["OBX[1]-5"]


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("150-400", "150", "400"),
        ("<5", "", "5"),
        (">60", "60", ""),
        ("3.5 - 5.0", "3.5", "5.0"),
        ("negative", "", ""),
    ],
)
def test_reference_ranges(text, low, high):
    result = only(oru("RX-1", "20250308", Obx(reference=text)))
    assert (result.reference_low, result.reference_high) == (low, high)


def test_an_unreadable_reference_range_names_obx_7():
    found = read(oru("RX-1", "20250308", Obx(), Obx(reference="1O0-400")))
    assert [p.where for p in found.problems] == ["OBX[2]-7"]


@pytest.mark.parametrize(
    ("status", "read_as"),
    [
        ("F", "final"),
        ("C", "corrected"),
        ("P", "preliminary"),
        ("D", "entered_in_error"),
        ("W", "entered_in_error"),
    ],
)
def test_statuses(status, read_as):
    assert only(oru("RX-1", "20250308", Obx(status=status))).status == read_as


def test_another_status_is_a_problem_naming_obx_11():
    found = read(oru("RX-1", "20250308", Obx(status="X")))
    assert [p.where for p in found.problems] == ["OBX[1]-11"]
    assert found.results == []


def test_a_withdrawal_needs_no_value():
    assert only(oru("RX-1", "20250308", Obx(status="D", value=""))).value == ""


def test_a_missing_value_is_a_problem():
    found = read(oru("RX-1", "20250308", Obx(value="")))
    assert [p.where for p in found.problems] == ["OBX[1]-5"]


def test_obx_14_wins_over_obr_7_for_its_obx():
    first, second = read(oru("RX-1", "20250301", Obx(), Obx(sample_time="20250305083000"))).results
    assert first.sample_collected_on == date(2025, 3, 1)
    assert second.sample_collected_on == date(2025, 3, 5)
    assert second.at("sample_collected_on") == "OBX[2]-14"


def test_the_clinic_zone_decides_the_sample_date():
    # 23:30 in New York on 1 March is 04:30 on 2 March in London (UTC+0 in winter).
    result = only(oru("RX-1", "202503012330-0500", Obx()))
    assert result.sample_collected_on == date(2025, 3, 2)
    # Without an offset the time is the clinic's own.
    assert only(oru("RX-1", "202503012330", Obx())).sample_collected_on == date(2025, 3, 1)


def test_a_sample_time_in_the_future_names_the_field():
    found = read(oru("RX-1", "202503101230", Obx()))
    assert [p.where for p in found.problems] == ["OBR[1]-7"]
    assert "future" in found.problems[0].message
    # A few minutes ahead is clock skew, not the future.
    assert read(oru("RX-1", "202503101203", Obx())).problems == []


def test_an_unreadable_sample_time_names_the_field():
    found = read(oru("RX-1", "2025-03-08", Obx()))
    assert [p.where for p in found.problems] == ["OBR[1]-7"]


def test_a_code_of_another_system_is_kept_as_sent_not_guessed():
    result = only(oru("RX-1", "20250308", Obx(code="PLT", system="L")))
    assert result.code == "PLT^L"


def test_the_alternate_loinc_code_is_used():
    obx = Obx(code="PLT", system="L^777-3^Platelets^LN")
    assert only(oru("RX-1", "20250308", obx)).code == "777-3"


def test_the_pid_3_repetition_of_the_connections_authority_is_used():
    text = "\r".join(
        [
            msh(),
            pid("RX-1", authority="CITYHOSP", more="9434765919^^^NHS^NH"),
            obr("20250308"),
            Obx().segment(1),
        ]
    )
    result = only(text, authority="CITYHOSP")
    assert (result.hospital_number, result.assigning_authority) == ("RX-1", "CITYHOSP")
    # Without one, the medical record number (PID-3.5 MR) is chosen.
    assert only(text).hospital_number == "RX-1"


def test_several_patients_and_orders_in_one_message():
    text = "\r".join(
        [
            msh(),
            pid("RX-1"),
            obr("20250308"),
            Obx().segment(1),
            obr("20250309", number=2),
            Obx(value="50").segment(2),
            pid("RX-2"),
            obr("20250307", number=3),
            Obx(value="7").segment(3),
        ]
    )
    found = read(text)
    assert [(r.hospital_number, r.position, r.sample_collected_on.day) for r in found.results] == [
        ("RX-1", "OBX[1]", 8),
        ("RX-1", "OBX[2]", 9),
        ("RX-2", "OBX[3]", 7),
    ]
    assert found.results[2].at("hospital_number") == "PID[2]-3"


def test_a_message_with_newlines_between_segments_is_read():
    assert only(oru("RX-1", "20250308").replace("\r", "\n")).value == "210"


def test_an_obx_before_any_obr_is_a_problem():
    text = "\r".join([msh(), pid("RX-1"), Obx().segment(1)])
    assert [p.where for p in read(text).problems] == ["OBX[1]"]


def test_a_message_without_msh_cannot_be_parsed():
    with pytest.raises(HeaderProblem) as refused:
        parse(segment("PID", {3: "RX-1"}))
    assert refused.value.where == "MSH"


@pytest.mark.parametrize(
    ("header", "where"),
    [
        ({"kind": "ADT^A01"}, "MSH[1]-9"),
        ({"version": "2.2"}, "MSH[1]-12"),
        ({"control_id": ""}, "MSH[1]-10"),
    ],
)
def test_messages_that_cannot_be_taken_at_all(header, where):
    problem = header_refusal(read_header(parse(oru("RX-1", "20250308", **header))))
    assert problem is not None and problem.where == where


@pytest.mark.parametrize("version", ["2.3", "2.3.1", "2.4", "2.5", "2.5.1"])
def test_the_supported_versions(version):
    assert header_refusal(read_header(parse(oru("RX-1", "20250308", version=version)))) is None


@pytest.mark.parametrize("text", ["MSH|^~^&|A|B\rPID|1", "MSH|", "MSH|^~ &|A", "MSH|^~\\"])
def test_a_malformed_header_is_a_header_problem_not_a_crash(text):
    with pytest.raises(HeaderProblem):
        read_header(parse(text))
