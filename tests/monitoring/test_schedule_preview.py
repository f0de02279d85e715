"""schedule_preview: the what-if plan on the command line, writing nothing."""

import json
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db


def preview(*args):
    out = StringIO()
    call_command("schedule_preview", *args, stdout=out)
    return out.getvalue()


def test_json_plan_for_a_two_course_patient():
    document = json.loads(
        preview("--course", "2024-01-31", "--course", "2025-02-03:3", "--format", "json")
    )
    assert document["protocol"] == "default-60m"
    assert document["end_of_follow_up"] == "2030-02-05"
    assert [c["last_day"] for c in document["courses"]] == ["2024-02-04", "2025-02-05"]
    blood = [c for c in document["checks"] if c["panel"] == "blood_count"]
    first_monthly = next(c for c in blood if c["kind"] == "recurring")
    assert first_monthly == {
        "panel": "blood_count",
        "kind": "recurring",
        "due": "2024-02-29",
        "window_opens": "2024-02-22",
        "overdue_after": "2024-03-07",
    }
    before_course_two = [c for c in blood if c["kind"] == "pre_course"][1]
    assert before_course_two["due"] == "2025-02-03"
    assert before_course_two["window_opens"] == "2025-01-04"
    assert not [c for c in document["checks"] if c["panel"] == "cervical"]  # sex not given


def test_label_protocol_and_sex_are_honoured():
    document = json.loads(
        preview(
            "--course",
            "2024-01-31",
            "--course",
            "2025-02-03:3",
            "--protocol",
            "label-48m",
            "--sex",
            "F",
            "--format",
            "json",
        )
    )
    assert document["end_of_follow_up"] == "2029-02-05"
    assert [c["due"] for c in document["checks"] if c["panel"] == "cervical"][:2] == [
        "2024-01-31",
        "2025-01-31",
    ]


def test_table_output_names_the_end_of_follow_up():
    table = preview("--course", "2024-01-31")
    assert "End of follow-up: 04 Feb 2029" in table
    assert "2024-02-29   blood_count" in table


def test_preview_only_reads_the_database():
    with CaptureQueriesContext(connection) as captured:
        preview("--course", "2024-01-31", "--course", "2025-02-03:3")
    assert captured.captured_queries
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in captured)


def test_courses_too_close_are_refused_unless_overridden():
    with pytest.raises(CommandError, match=r"(?s)no earlier than 31 Jan 2025.*--override REASON"):
        preview("--course", "2024-01-31", "--course", "2024-09-02")
    overridden = preview(
        "--course", "2024-01-31", "--course", "2024-09-02", "--override", "MDT decision"
    )
    assert "Course 2: 02 Sep 2024" in overridden


@pytest.mark.parametrize(
    ("course", "message"),
    [
        ("2024-02-30", "“2024-02-30” is not a real date"),
        ("31/01/2024", "“31/01/2024” is not a real date"),
        ("2024-01-31:0", "DAYS must be a whole number from 1 to 10"),
        ("2024-01-31:x", "DAYS must be a whole number from 1 to 10"),
    ],
)
def test_bad_course_text_is_named_in_the_error(course, message):
    with pytest.raises(CommandError, match=message):
        preview("--course", course)


def test_unknown_protocol_lists_the_known_ones():
    with pytest.raises(CommandError, match="Known protocols: default-60m, label-48m"):
        preview("--course", "2024-01-31", "--protocol", "six-years")


def test_an_impossible_date_exits_non_zero_with_the_message_on_stderr():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    finished = subprocess.run(
        [sys.executable, "manage.py", "schedule_preview", "--course", "2023-02-29"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert finished.returncode == 1
    assert "“2023-02-29” is not a real date" in finished.stderr
