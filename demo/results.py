"""Demo lab results: a year of plausible values for each demo patient, recorded through the
same service as real entries, with a few abnormal results a nurse would need to act on."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date

from django.contrib.auth import get_user_model

from monitoring.models import Analyte, ScheduledCheck
from monitoring.results.entry import ResultInput
from monitoring.results.services import report_record
from patients.models import Patient

# analyte: (typical value, spread, unit as a lab would send it)
TYPICAL = {
    "platelets": (240, 40, "10^9/L"),
    "wbc": (6.0, 1.0, "10^9/L"),
    "neutrophils": (3.8, 0.8, "10^9/L"),
    "lymphocytes": (1.4, 0.4, "10^9/L"),
    "haemoglobin": (138, 8, "g/L"),
    "creatinine": (72, 8, "umol/L"),
    "urine_rbc": (1, 1, "/hpf"),
    "tsh": (1.9, 0.6, "mU/L"),
    "free_t4": (16, 2, "pmol/L"),
    "alt": (22, 6, "U/L"),
    "ast": (24, 5, "U/L"),
    "bilirubin": (9, 3, "umol/L"),
}


def demo_results_record(
    patient: Patient,
    *,
    since: date,
    until: date,
    abnormal: Mapping[str, str],
    latest_only: bool = False,
) -> int:
    """Record a report on the due date of each open check in [since, until), or only on each
    panel's latest one; returns the count. `abnormal` (analyte code -> value) replaces the
    typical value on each panel's latest sample."""
    entered_by = get_user_model().objects.get(username="staff")
    analytes: dict[str, list[Analyte]] = {}
    for analyte in Analyte.objects.filter(is_outcome=False):
        analytes.setdefault(analyte.panel, []).append(analyte)
    checks = list(
        ScheduledCheck.objects.open()
        .filter(patient=patient, due_date__gte=since, due_date__lt=until, panel__in=analytes)
        .order_by("due_date")
    )
    # Seeded by hospital number so the demo is the same every time (not for security).
    rng = random.Random(patient.hospital_number)  # noqa: S311
    latest = {check.panel: check.due_date for check in checks}  # ordered: the last one wins
    done = set()
    for check in checks:
        if (check.panel, check.due_date) in done:
            continue  # a pre-course and a monthly check on one day share a sample
        done.add((check.panel, check.due_date))
        is_latest = check.due_date == latest[check.panel]
        if latest_only and not is_latest:
            continue
        entries = [_entry(a, rng, abnormal if is_latest else {}) for a in analytes[check.panel]]
        report_record(
            patient=patient,
            panel=check.panel,
            sample_collected_on=check.due_date,
            entries=entries,
            entered_by=entered_by,
            lab_name="Demo hospital laboratory",
        )
    return len(done)


def _entry(analyte: Analyte, rng: random.Random, abnormal: Mapping[str, str]) -> ResultInput:
    if analyte.code in abnormal:
        value = abnormal[analyte.code]
    elif analyte.is_ordinal:
        value = "negative"
    else:
        typical, spread, _ = TYPICAL[analyte.code]
        value = f"{max(rng.gauss(typical, spread / 2), 0):.{analyte.decimal_places}f}"
    unit = "" if analyte.is_ordinal else TYPICAL[analyte.code][2]
    return ResultInput(analyte=analyte, value=value, unit=unit)
