"""What the portal says to patients, in plain words: the tests, and what a reviewed result
means for them. Pure functions over plain values, tested without a database.

Patients read this alone, often worried. So: no tier names ("red", "critical"), no clinicians'
next actions, no diagnoses; every flagged result says that the nurse has seen it and what
happens next.
"""

from __future__ import annotations

from decimal import Decimal

from monitoring.alerts.rules import needs_acknowledgement
from monitoring.domain.tiers import URGENT_TIERS

# What each panel is, for the patient. Keys are Panel values.
PANEL_WORDS = {
    "blood_count": "Blood count (a blood test of your blood cells and platelets)",
    "kidney": "Kidney blood test (creatinine)",
    "urine": "Urine test (a small urine sample)",
    "liver": "Liver blood test",
    "thyroid": "Thyroid blood test",
    "skin": "Skin check by a doctor or nurse",
    "cervical": "Cervical screening (smear test)",
    "infection_screen": "Infection screening blood test",
}

# The calendar feed's event titles: the kind of test and nothing more, because a calendar is
# often shared or shown on a lock screen.
CALENDAR_BLOOD = "Monitoring blood test"
CALENDAR_URINE = "Monitoring urine test"
CALENDAR_THYROID = "Monitoring thyroid test"
CALENDAR_OTHER = "Monitoring check"
CALENDAR_SUMMARIES = (CALENDAR_BLOOD, CALENDAR_URINE, CALENDAR_THYROID, CALENDAR_OTHER)
_CALENDAR_BY_PANEL = {
    "blood_count": CALENDAR_BLOOD,
    "kidney": CALENDAR_BLOOD,
    "liver": CALENDAR_BLOOD,
    "infection_screen": CALENDAR_BLOOD,
    "urine": CALENDAR_URINE,
    "thyroid": CALENDAR_THYROID,
}


def test_words(panel: str) -> str:
    return PANEL_WORDS.get(panel, "Monitoring check")


def calendar_summary(panel: str) -> str:
    return _CALENDAR_BY_PANEL.get(panel, CALENDAR_OTHER)


# Analyte codes (monitoring.Analyte.code) in the patient's words.
ANALYTE_WORDS = {
    "platelets": "platelet count",
    "wbc": "white blood cell count",
    "neutrophils": "neutrophil count (white blood cells that fight infection)",
    "lymphocytes": "lymphocyte count (a kind of white blood cell)",
    "haemoglobin": "haemoglobin (red blood cells)",
    "creatinine": "creatinine (how well your kidneys work)",
    "urine_blood": "blood in the urine",
    "urine_protein": "protein in the urine",
    "urine_rbc": "red blood cells in the urine",
    "tsh": "TSH (thyroid)",
    "free_t4": "free T4 (thyroid hormone)",
    "alt": "ALT (liver)",
    "ast": "AST (liver)",
    "bilirubin": "bilirubin (liver)",
}

# Found-or-not tests: a flag means something was found, not a number out of range.
_FOUND = {
    "urine_blood": "Some blood was found in your urine sample.",
    "urine_protein": "Some protein was found in your urine sample.",
}

# Alemtuzumab lowers lymphocytes for months on purpose: a low count is not a warning sign.
_EXPECTED_LOW = {
    "lymphocytes": "A low lymphocyte count is expected for months after alemtuzumab: it is how "
    "the treatment works.",
}

# What the nurse did, from the acknowledgement's action (never the nurse's own note, which is
# written for colleagues).
_AFTER_REVIEW = {
    "called_patient": "Your nurse has reviewed it and has called you about it. If you have not "
    "spoken to them yet, please call the clinic.",
    "rebooked": "Your nurse has reviewed it and has arranged another test.",
    "repeat_ordered": "Your nurse has reviewed it and has asked for a repeat test.",
    "urgent_test_booked": "Your nurse has reviewed it and has booked an urgent test.",
    "referred": "Your nurse has reviewed it and has arranged for a specialist to see you.",
    "reviewed": "Your nurse has reviewed it: nothing more needs to be done now.",
    "other": "Your nurse has reviewed it and will contact you if anything needs to be done.",
}
_AFTER_REVIEW_URGENT = "Your nurse has been told and will contact you."


def analyte_words(code: str, name: str) -> str:
    return ANALYTE_WORDS.get(code, name)


def result_words(
    *,
    code: str,
    name: str,
    tier: str,
    value: Decimal,
    low: Decimal | None,
    high: Decimal | None,
    review_action: str | None,
    is_outcome: bool = False,
) -> str:
    """One or two sentences about a result the clinic has reviewed (or that needed no review).
    `low`/`high` are the reference limits in the canonical unit, `review_action` the action of
    the acknowledgement at the result's tier. `is_outcome`: a check recorded as done without a
    value (normal or abnormal), which has no range to be above or below."""
    if is_outcome:
        if tier == "normal":
            return "Nothing of concern was found."
        finding = "Something was found that your clinic is following up."
        return f"{finding} {_AFTER_REVIEW.get(review_action or '', _AFTER_REVIEW['other'])}"
    what = analyte_words(code, name)
    direction = _direction(value, low, high)
    if tier == "normal":
        return "None found." if code in _FOUND else "In the usual range."
    if tier in ("low", "high"):
        if code in _EXPECTED_LOW and tier == "low":
            return _EXPECTED_LOW[code]
        side = "lower" if tier == "low" else "higher"
        return (
            f"A little {side} than the usual range. Small differences like this are common; "
            "your clinic looks at every result."
        )
    if code in _FOUND:
        finding = _FOUND[code]
    elif direction:
        finding = f"Your {what} was {direction} than usual."
    else:
        # Flagged for a change from earlier results while still inside the range.
        finding = f"Your {what} has changed since your earlier tests."
    if code in _EXPECTED_LOW and direction == "lower":
        finding = f"{finding} {_EXPECTED_LOW[code]}"
    if tier in URGENT_TIERS and review_action in (None, "other"):
        return f"{finding} {_AFTER_REVIEW_URGENT}"
    return f"{finding} {_AFTER_REVIEW.get(review_action or '', _AFTER_REVIEW['other'])}"


def _direction(value: Decimal, low: Decimal | None, high: Decimal | None) -> str:
    if low is not None and value < low:
        return "lower"
    if high is not None and value > high:
        return "higher"
    return ""


def is_reviewed(*, tier: str, review_action: str | None) -> bool:
    """A result the patient may see: within or just outside the range (no review is asked for
    these, so they count as reviewed once recorded), or flagged and acknowledged by a nurse at
    its present tier."""
    return not needs_acknowledgement(
        tier=tier,
        entered_in_error=False,
        acknowledged_tiers=() if review_action is None else (tier,),
    )
