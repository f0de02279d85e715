"""manage.py monitoring_report --clinic CODE [--month YYYY-MM] [--format csv|json|xlsx]
[--output FILE]: one month's adherence of a clinic, per test, overall, per therapy (a draw
shared by two therapies counted for each) and per named nurse.

It refreshes the clinic's figures first (reports.figures.refresh), then reads them through
adherence_table, the overview's own source, so its numbers are the overview's. The month is
by default the last complete one in the clinic's calendar. The run is recorded in the audit
trail (no request: no actor, no address)."""

from __future__ import annotations

import argparse
import io
import json
import re
from datetime import date, datetime, time

from dateutil.relativedelta import relativedelta
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from audit.access import record_export
from patients.models import Clinic
from reports.exports.adherence import MEASURES, counts_cells
from reports.exports.writers import Month, csv_write, xlsx_write
from reports.figures.definitions import Counts, percent
from reports.figures.refresh import figures_refresh
from reports.figures.selectors import adherence_table

_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


class Command(BaseCommand):
    help = (
        "Refresh a clinic's figures and report one month's adherence per test, overall and "
        "per named nurse (the overview's numbers), as CSV, JSON or XLSX."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clinic", required=True, help="The clinic's code.")
        parser.add_argument(
            "--month", help="YYYY-MM; by default the last complete month in the clinic."
        )
        parser.add_argument("--format", choices=("csv", "json", "xlsx"), default="csv")
        parser.add_argument("--output", help="A file to write; csv and json default to stdout.")
        # For tests: the clinic's date to compute the figures on (default: its real today).
        parser.add_argument("--today", help=argparse.SUPPRESS)

    def handle(self, *args, clinic, month, format, output, today, **options):
        fmt = format
        if fmt == "xlsx" and not output:
            raise CommandError("An xlsx report is a file: give it with --output FILE.")
        found = Clinic.objects.filter(code=clinic).first()
        if found is None:
            raise CommandError(f"No clinic has the code “{clinic}”.")
        clinic = found
        now = _now(clinic, today)
        figures = figures_refresh(clinic=clinic, now=now)
        wanted = _month(month) if month else figures.as_of.replace(day=1) - relativedelta(months=1)
        table = adherence_table(clinic)
        if wanted not in table.months:
            raise CommandError(
                f"The month {wanted:%Y-%m} is outside the figures kept: "
                f"{table.months[0]:%Y-%m} to {table.months[-1]:%Y-%m}."
            )
        report = _report(table, wanted)
        record_export(
            None,
            clinic=clinic,
            what="monitoring report",
            fmt=fmt,
            filters={"month": f"{wanted:%Y-%m}", "as_of": figures.as_of.isoformat()},
        )
        try:
            self._write(report, fmt, output)
        except OSError as problem:
            raise CommandError(f"Cannot write {output}: {problem.strerror or problem}") from None

    def _write(self, report: dict, fmt: str, output: str | None) -> None:
        if fmt == "xlsx":
            xlsx_write(_rows(report), output, title="Monitoring report")
            return
        if fmt == "json":
            text = json.dumps(_json(report), indent=2, ensure_ascii=False) + "\n"
        else:
            buffer = io.StringIO(newline="")
            csv_write(_rows(report), buffer)
            text = buffer.getvalue()
        if output:
            with open(output, "w", encoding="utf-8", newline="") as target:
                target.write(text)
        else:
            self.stdout.write(text, ending="")


def _now(clinic: Clinic, today: str | None) -> datetime:
    if not today:
        return timezone.now()
    if not _DAY.match(today):
        raise CommandError(f"--today must be YYYY-MM-DD, not “{today}”.")
    try:
        day = date.fromisoformat(today)
    except ValueError:
        raise CommandError(f"--today “{today}” is not a date.") from None
    return datetime.combine(day, time(12), tzinfo=clinic.zone)


def _month(text: str) -> date:
    match = _MONTH.match(text)
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise CommandError(f"The month must be YYYY-MM (2026-05, say), not “{text}”.")
    return date(int(match.group(1)), int(match.group(2)), 1)


def _report(table, month: date) -> dict:
    return {
        "clinic": table.clinic,
        "month": month,
        "as_of": table.figures.as_of,
        "tests": [(value, label, table.cell(value, month)) for value, label in table.panels],
        "overall": table.by_month.get(month, Counts()),
        "therapies": [
            (code, name, table.therapy_cell(code, month)) for code, name in table.therapies
        ],
        "nurses": [(row.name, row.counts) for row in table.nurses_by_month.get(month, [])],
    }


def _rows(report: dict):
    clinic = report["clinic"]
    yield ["Clinic", clinic.name, clinic.code]
    yield ["Month", Month(report["month"])]
    yield ["Figures as of", report["as_of"]]
    yield []
    yield ["Test", *MEASURES]
    for _value, label, counts in report["tests"]:
        yield [label, *counts_cells(counts)]
    yield ["All tests", *counts_cells(report["overall"])]
    yield []
    yield ["Therapy", *MEASURES]
    for _code, name, counts in report["therapies"]:
        yield [name, *counts_cells(counts)]
    yield []
    yield ["Named nurse", *MEASURES]
    for name, counts in report["nurses"]:
        yield [name, *counts_cells(counts)]


def _counts_json(counts: Counts) -> dict:
    return {
        "on_time": counts.on_time,
        "late": counts.late,
        "missed": counts.missed,
        "waived": counts.waived,
        "open": counts.open,
        "counted": counts.counted,
        "adherence": counts.adherence,
        "adherence_percent": percent(counts.adherence),
    }


def _json(report: dict) -> dict:
    clinic = report["clinic"]
    return {
        "clinic": {"code": clinic.code, "name": clinic.name},
        "month": f"{report['month']:%Y-%m}",
        "as_of": report["as_of"].isoformat(),
        "tests": [
            {"test": value, "label": label, **_counts_json(counts)}
            for value, label, counts in report["tests"]
        ],
        "overall": _counts_json(report["overall"]),
        "therapies": [
            {"therapy": code, "label": name, **_counts_json(counts)}
            for code, name, counts in report["therapies"]
        ],
        "nurses": [{"nurse": name, **_counts_json(counts)} for name, counts in report["nurses"]],
    }
