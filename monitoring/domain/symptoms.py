"""Symptoms a patient can report through the portal, and the tests each one calls for.

Pure values, no ORM: the symptom-report service stores what a patient chose and opens one
urgent check per panel returned by `panels_to_test`. The warning signs are the ones the
labels ask patients to report at once (US prescribing information, EU SmPC); the panels follow
docs/clinical-reference.md section 2.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitoring.domain.panels import BLOOD_COUNT, KIDNEY, LIVER, THYROID, URINE


@dataclass(frozen=True)
class Symptom:
    code: str
    # What the patient ticks, in their words.
    patient_label: str
    # What a nurse reads on the worklist.
    staff_label: str
    panels: tuple[str, ...]
    why: str


SYMPTOMS: tuple[Symptom, ...] = (
    Symptom(
        code="bleeding",
        patient_label=(
            "Unusual bruising or bleeding: bruises you cannot explain, tiny red or purple spots "
            "on the skin, nosebleeds or bleeding gums that are hard to stop, heavier periods"
        ),
        staff_label="Bruising, bleeding or petechiae",
        panels=(BLOOD_COUNT,),
        why="Possible immune thrombocytopenia (ITP): a blood count the same day.",
    ),
    Symptom(
        code="urine",
        patient_label="Blood in your urine (pink, red or brown urine), or foamy urine",
        staff_label="Haematuria or foamy urine",
        panels=(URINE, KIDNEY),
        why="Possible anti-GBM disease or other nephropathy: urinalysis and creatinine.",
    ),
    Symptom(
        code="thyroid",
        patient_label=(
            "A racing or pounding heart, feeling too hot, shaking hands, or losing weight "
            "without trying"
        ),
        staff_label="Palpitations, heat intolerance or weight loss",
        panels=(THYROID,),
        why="Possible overactive thyroid (Graves' disease): TSH with free T4.",
    ),
    Symptom(
        code="tiredness",
        patient_label="Extreme tiredness that is new or much worse than usual",
        staff_label="Extreme tiredness",
        panels=(BLOOD_COUNT, THYROID, LIVER),
        why="Anaemia (autoimmune haemolysis), an underactive thyroid or autoimmune hepatitis.",
    ),
    Symptom(
        code="other",
        patient_label="Something else that worries you (please describe it below)",
        staff_label="Other (see the patient's words)",
        # A blood count finds ITP, the fatal risk; the nurse adds other tests after calling.
        panels=(BLOOD_COUNT,),
        why="Not a listed warning sign: a blood count, then the nurse's judgement.",
    ),
)

BY_CODE = {symptom.code: symptom for symptom in SYMPTOMS}
OTHER = "other"

# Most urgent first, so the first urgent check of a report is the one that matters most.
PANEL_ORDER = (BLOOD_COUNT, URINE, KIDNEY, THYROID, LIVER)


def panels_to_test(codes: Iterable[str]) -> list[str]:
    """The panels the chosen symptoms call for, each once, most urgent first."""
    wanted = {panel for code in codes for panel in BY_CODE[code].panels}
    return [panel for panel in PANEL_ORDER if panel in wanted]


def staff_labels(codes: Iterable[str]) -> list[str]:
    """The chosen symptoms as a nurse reads them; unknown codes are shown as stored."""
    return [BY_CODE[code].staff_label if code in BY_CODE else code for code in codes]
