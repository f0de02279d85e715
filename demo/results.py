"""Demo lab results: a year of plausible values for each demo patient, recorded through the
same service as real entries, with a few abnormal results a nurse would need to act on."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import date

from django.contrib.auth import get_user_model
from django.db.models import Q

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
    early: date | None = None,
) -> int:
    """Record a report on the due date of each open check in [since, until), or only on each
    panel's latest one; returns the count. `abnormal` (analyte code -> value) replaces the
    typical value on each panel's latest sample. `early`: also a sample drawn on that day for
    the checks due from `until` on whose window is already open then (a draw a few days before
    a check's due date, as before a dose)."""
    entered_by = get_user_model().objects.get(username="staff")
    analytes: dict[str, list[Analyte]] = {}
    # Only the analytes the demo has typical values for, and the urine dipstick's grades
    # ("negative"): a coded result of another kind (a genotype, a hepatitis B screen) is not
    # invented, and its check stays open or is marked done like older history.
    known = Q(code__in=TYPICAL) | Q(panel="urine")
    for analyte in Analyte.objects.filter(known, is_outcome=False):
        analytes.setdefault(analyte.panel, []).append(analyte)
    wanted = Q(due_date__gte=since, due_date__lt=until)
    if early is not None:
        wanted |= Q(due_date__gte=until, window_opens__lte=early)
    checks = list(
        ScheduledCheck.objects.open()
        .filter(wanted, patient=patient, panel__in=analytes)
        .order_by("due_date")
    )
    # Seeded by hospital number so the demo is the same every time (not for security).
    rng = random.Random(patient.hospital_number)  # noqa: S311

    def drawn(check) -> date:
        return early if check.due_date >= until else check.due_date

    latest = {check.panel: drawn(check) for check in checks}  # ordered: the last one wins
    done = set()
    for check in checks:
        if (check.panel, drawn(check)) in done:
            continue  # a pre-course and a monthly check on one day share a sample
        done.add((check.panel, drawn(check)))
        is_latest = drawn(check) == latest[check.panel]
        if latest_only and not is_latest:
            continue
        entries = [_entry(a, rng, abnormal if is_latest else {}) for a in analytes[check.panel]]
        report_record(
            patient=patient,
            panel=check.panel,
            sample_collected_on=drawn(check),
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
