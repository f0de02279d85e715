"""Gates: what must hold before a dose is recorded as given, or a therapy started. Plain values
in, a decision out; the service (patients.therapies.gates) reads the facts and refuses a dose
whose gate is unmet unless a clinician records why it is given anyway.
Clinical rules: docs/clinical-reference.md section 6.4.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from . import therapies

# The analytes the gates read (codes of monitoring.models.Analyte).
LYMPHOCYTES = "lymphocytes"
CYP2C9_GENOTYPE = "cyp2c9_genotype"
HBSAG = "hbsag"

# Cladribine year 2 (and later) needs lymphocytes of at least this, x10^9/L (US PI, EU SmPC).
YEAR_TWO_LYMPHOCYTES = Decimal("0.8")
# A count older than this before the dose does not say what the lymphocytes are now (a
# project default: the label asks for a count "before" year 2 and gives no age).
LYMPHOCYTES_RECENT_DAYS = 90
# Siponimod is contraindicated with this genotype (US PI, EU SmPC).
CYP2C9_CONTRAINDICATED = "*3/*3"
POSITIVE = "positive"

YES, NO = "yes", "no"


@dataclass(frozen=True)
class Question:
    code: str
    text: str
    # The answer that lets the infusion go ahead.
    safe_answer: str


# Natalizumab's pre-infusion checklist, asked at the chair before every infusion: the questions
# of the TOUCH programme's checklist, in this project's words.
CHECKLIST = (
    Question(
        "new_symptoms",
        "Since the last infusion, has the patient had any new or worsening neurological symptom "
        "lasting more than a day (thinking, memory, eyesight, speech, balance, strength on one "
        "side)?",
        NO,
    ),
    Question(
        "infection",
        "Does the patient have a serious infection now, or has one been diagnosed since the last "
        "infusion?",
        NO,
    ),
    Question(
        "immunosuppressant",
        "Since the last infusion, has the patient started a medicine that suppresses the immune "
        "system (chemotherapy, another MS therapy, long steroid courses)?",
        NO,
    ),
    Question(
        "pml_information",
        "Has the patient been reminded of PML and asked to report new symptoms at once?",
        YES,
    ),
)
CHECKLIST_CODES = tuple(question.code for question in CHECKLIST)


@dataclass(frozen=True)
class LatestResult:
    """An analyte's latest result before the dose: the canonical number, or the grade's label
    for a coded result (a genotype, positive or negative)."""

    sample_on: date
    value: Decimal | None = None
    label: str = ""


@dataclass(frozen=True)
class GateFacts:
    therapy: str
    dose_number: int
    day: date
    checklist_answers: Mapping[str, str] | None = None
    latest: Mapping[str, LatestResult] | None = None


@dataclass(frozen=True)
class GateDecision:
    gate: str
    met: bool
    # One line for the worklist and the dose page: what was found, or what is missing.
    summary: str

    @property
    def applies(self) -> bool:
        return bool(self.gate)


NO_GATE = GateDecision(gate="", met=True, summary="No gate for this therapy.")


def gate_decision(facts: GateFacts) -> GateDecision:
    """Whether the therapy's gate lets this dose (or start) go ahead, and why."""
    gate = therapies.therapy_of(facts.therapy).gate
    latest = facts.latest or {}
    if gate == therapies.GATE_CHECKLIST:
        return _checklist(facts.checklist_answers)
    if gate == therapies.GATE_LYMPHOCYTES_YEAR_TWO:
        if facts.dose_number < 2:
            return GateDecision(gate, True, "Year 1: the baseline lymphocyte count is a check.")
        return _lymphocytes(latest.get(LYMPHOCYTES), facts.day)
    if gate == therapies.GATE_CYP2C9:
        return _genotype(latest.get(CYP2C9_GENOTYPE))
    if gate == therapies.GATE_HEPATITIS_B:
        return _hepatitis_b(latest.get(HBSAG), first=facts.dose_number <= 1)
    return NO_GATE


def checklist_problems(answers: Mapping[str, str]) -> dict[str, str]:
    """Per question code, what is wrong with the answers as given: unanswered, or not yes/no."""
    problems = {}
    for question in CHECKLIST:
        answer = answers.get(question.code, "")
        if answer not in (YES, NO):
            problems[question.code] = "Answer yes or no."
    return problems


def _checklist(answers: Mapping[str, str] | None) -> GateDecision:
    gate = therapies.GATE_CHECKLIST
    if not answers:
        return GateDecision(gate, False, "Pre-infusion checklist not yet answered.")
    unanswered = [q for q in CHECKLIST if answers.get(q.code) not in (YES, NO)]
    if unanswered:
        return GateDecision(
            gate, False, f"Pre-infusion checklist incomplete: {len(unanswered)} unanswered."
        )
    concerns = [q for q in CHECKLIST if answers[q.code] != q.safe_answer]
    if concerns:
        return GateDecision(
            gate,
            False,
            f"Pre-infusion checklist: {len(concerns)} answer(s) need the prescriber before "
            "infusing.",
        )
    return GateDecision(gate, True, "Pre-infusion checklist answered, no concerns.")


def _lymphocytes(result: LatestResult | None, day: date) -> GateDecision:
    gate = therapies.GATE_LYMPHOCYTES_YEAR_TWO
    oldest = day - timedelta(days=LYMPHOCYTES_RECENT_DAYS)
    if result is None or result.value is None or result.sample_on < oldest:
        return GateDecision(
            gate,
            False,
            f"No lymphocyte count in the {LYMPHOCYTES_RECENT_DAYS} days before this treatment "
            "year.",
        )
    when = f"{result.sample_on:%d %b %Y}"
    count = _plain(result.value)
    if result.value < YEAR_TWO_LYMPHOCYTES:
        return GateDecision(
            gate,
            False,
            f"Lymphocytes {count} x10^9/L on {when}: below {YEAR_TWO_LYMPHOCYTES}; delay "
            "the treatment year (up to 6 months).",
        )
    return GateDecision(gate, True, f"Lymphocytes {count} x10^9/L on {when}.")


def _plain(value: Decimal) -> str:
    """A stored canonical value as a person writes it: 0.7900 (four places, as stored) reads
    0.79, and 1E+1 reads 10."""
    return format(value.normalize(), "f")


def _genotype(result: LatestResult | None) -> GateDecision:
    gate = therapies.GATE_CYP2C9
    if result is None or not result.label:
        return GateDecision(gate, False, "No CYP2C9 genotype on record: it sets the dose.")
    if result.label == CYP2C9_CONTRAINDICATED:
        return GateDecision(
            gate, False, f"CYP2C9 {result.label}: siponimod is contraindicated with this genotype."
        )
    return GateDecision(gate, True, f"CYP2C9 {result.label} on {result.sample_on:%d %b %Y}.")


def _hepatitis_b(result: LatestResult | None, *, first: bool) -> GateDecision:
    gate = therapies.GATE_HEPATITIS_B
    if result is None or not result.label:
        if first:
            return GateDecision(gate, False, "No hepatitis B surface antigen result on record.")
        return GateDecision(gate, True, "No new hepatitis B surface antigen result.")
    when = f"{result.sample_on:%d %b %Y}"
    if result.label == POSITIVE:
        return GateDecision(
            gate,
            False,
            f"HBsAg positive on {when}: do not give (hepatitis B reactivation); refer to "
            "hepatology.",
        )
    return GateDecision(gate, True, f"HBsAg {result.label} on {when}.")
