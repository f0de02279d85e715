"""Print the monitoring plan for hypothetical course dates, writing nothing.

Answers "what if the next course is in March?" for a clinician. It reads the chosen protocol
(protocols are clinic-editable data) but never writes to the database.
"""

from __future__ import annotations

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.models import MonitoringProtocol
from monitoring.schedule.preview import courses_preview
from patients.course_rules import CourseFacts, standard_days


def parse_course(text: str) -> tuple[date, int | None]:
    """FIRST_DAY[:DAYS], e.g. 2024-01-31 or 2025-02-03:3."""
    day_text, _, days_text = text.partition(":")
    try:
        first_day = date.fromisoformat(day_text)
    except ValueError as error:
        raise CommandError(
            f"--course {text}: “{day_text}” is not a real date in YYYY-MM-DD form ({error})."
        ) from error
    if not days_text:
        return first_day, None
    if not days_text.isdigit() or not 1 <= int(days_text) <= 10:
        raise CommandError(f"--course {text}: DAYS must be a whole number from 1 to 10.")
    return first_day, int(days_text)


class Command(BaseCommand):
    help = "Print the monitoring schedule that the given course dates would produce."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--course",
            action="append",
            required=True,
            metavar="FIRST_DAY[:DAYS]",
            help="A course's first infusion day and, optionally, its number of days. Repeat.",
        )
        parser.add_argument("--protocol", help="Protocol slug (default: the default protocol).")
        parser.add_argument(
            "--sex", choices=["F", "M", "X"], default="X", help="Patient sex (default X)."
        )
        parser.add_argument("--birth-date", type=date.fromisoformat, help="YYYY-MM-DD.")
        parser.add_argument(
            "--override",
            default="",
            metavar="REASON",
            help="A clinician's reason accepting non-standard spacing or number of days.",
        )
        parser.add_argument("--format", choices=["table", "json"], default="table")

    def handle(self, *args, **options) -> None:
        parsed = sorted(parse_course(text) for text in options["course"])
        facts = [
            CourseFacts(
                number=number,
                first_day=first_day,
                days=days or standard_days(number),
                days_reason=options["override"],
                spacing_override_reason=options["override"],
            )
            for number, (first_day, days) in enumerate(parsed, start=1)
        ]
        protocol = self._protocol(options["protocol"])
        preview = courses_preview(
            facts=facts, protocol=protocol, sex=options["sex"], birth_date=options["birth_date"]
        )
        if preview.problems:
            hint = "Add --override REASON to plan it anyway as a clinician's override."
            raise CommandError("\n".join([*preview.problems, hint]))
        if options["format"] == "json":
            self._write_json(protocol, preview.courses, preview.plan)
        else:
            self._write_table(protocol, preview.courses, preview.plan)

    def _protocol(self, slug: str | None) -> MonitoringProtocol:
        protocols = MonitoringProtocol.objects.alemtuzumab()
        protocol = (
            protocols.filter(slug=slug).first()
            if slug
            else protocols.filter(is_default=True).first()
        )
        if protocol is None:
            known = ", ".join(protocols.values_list("slug", flat=True)) or "none"
            wanted = f"“{slug}”" if slug else "a default protocol"
            raise CommandError(f"--protocol: there is no {wanted}. Known protocols: {known}.")
        return protocol

    def _write_json(self, protocol, courses, plan) -> None:
        document = {
            "protocol": protocol.slug,
            "courses": [
                {
                    "number": c.number,
                    "first_day": c.first_day.isoformat(),
                    "last_day": c.last_day.isoformat(),
                    "days": c.days,
                }
                for c in courses
            ],
            "end_of_follow_up": plan.end_of_follow_up.isoformat(),
            "checks": [
                {
                    "panel": check.panel,
                    "kind": check.kind,
                    "due": check.due.isoformat(),
                    "window_opens": check.window_opens.isoformat(),
                    "overdue_after": check.overdue_after.isoformat(),
                }
                for check in plan.checks
            ],
        }
        self.stdout.write(json.dumps(document, indent=2))

    def _write_table(self, protocol, courses, plan) -> None:
        self.stdout.write(f"Protocol: {protocol.name} ({protocol.slug})")
        for course in courses:
            self.stdout.write(
                f"Course {course.number}: {course.first_day:%d %b %Y} to "
                f"{course.last_day:%d %b %Y} ({course.days} days)"
            )
        self.stdout.write(f"End of follow-up: {plan.end_of_follow_up:%d %b %Y}")
        self.stdout.write(f"{len(plan.checks)} checks\n")
        header = f"{'Due':<12} {'Panel':<18} {'Kind':<11} {'Window opens':<13} Overdue after"
        self.stdout.write(header)
        self.stdout.write("-" * len(header))
        for check in plan.checks:
            self.stdout.write(
                f"{check.due:%Y-%m-%d}   {check.panel:<18} {check.kind:<11} "
                f"{check.window_opens:%Y-%m-%d}    {check.overdue_after:%Y-%m-%d}"
            )
