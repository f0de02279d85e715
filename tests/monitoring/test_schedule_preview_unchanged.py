"""schedule_preview's alemtuzumab plans are the same as before therapy episodes existed.

fixtures/schedule_preview_alemtuzumab.txt is the command's output for CASES at commit a64c0e8
(the parent of the therapy work), captured there with `manage.py schedule_preview` on a
freshly migrated database; each case is headed "### schedule_preview ARGS"."""

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

FIXTURE = Path(__file__).parent / "fixtures" / "schedule_preview_alemtuzumab.txt"

CASES = [
    ["--course", "2024-01-31"],
    ["--course", "2024-01-31", "--course", "2025-02-03:3", "--format", "json"],
    [
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
    ],
    ["--course", "2028-02-29", "--course", "2029-03-01:3", "--sex", "F"],
    [
        "--course",
        "2024-03-31",
        "--course",
        "2025-04-30:3",
        "--course",
        "2026-05-31:3",
        "--course",
        "2027-06-30:3",
        "--sex",
        "M",
    ],
    [
        "--course",
        "2024-01-15",
        "--course",
        "2024-09-15:3",
        "--override",
        "Relapse; course 2 brought forward",
        "--sex",
        "F",
    ],
]


def test_the_alemtuzumab_previews_are_unchanged():
    out = StringIO()
    for args in CASES:
        out.write(f"### schedule_preview {' '.join(args)}\n")
        call_command("schedule_preview", *args, stdout=out)
    expected = FIXTURE.read_text()
    assert expected.count("### schedule_preview") == len(CASES)
    # Compared case by case, so a failure names the case rather than a 200 kB diff.
    for got, want in zip(out.getvalue().split("### "), expected.split("### "), strict=True):
        assert got == want
