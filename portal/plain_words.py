"""What the portal says to patients, in plain words: the tests, and what a reviewed result
means for them. Pure functions over plain values, tested without a database.

Patients read this alone, often worried. So: no tier names ("red", "critical"), no clinicians'
next actions, no diagnoses; every flagged result says that the nurse has seen it and what
happens next. The words follow the tier: slightly outside the usual range (amber), clearly
outside with a call from the clinic (red), much outside with a call today, whom to call if none
comes and the warning signs that mean 999 (critical).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from django.utils.formats import date_format

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
# often shared or shown on a lock screen. Keys are Panel values; a panel not named here is
# "a check" (skin, cervical screening).
_CALENDAR_KIND = {
    "blood_count": "blood",
    "kidney": "blood",
    "liver": "blood",
    "infection_screen": "blood",
    "urine": "urine",
    "thyroid": "thyroid",
}
_KIND_ORDER = ("blood", "urine", "thyroid")


def test_words(panel: str) -> str:
    return PANEL_WORDS.get(panel, "Monitoring check")


def _joined(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} and {words[-1]}"


def calendar_summary(panels: Iterable[str], *, overdue: bool = False) -> str:
    """The title of one visit's event: "Monitoring tests: blood and urine", "Monitoring test:
    blood", "Monitoring check"; overdue visits say so and ask for a booking."""
    found = {_CALENDAR_KIND.get(panel, "check") for panel in panels}
    kinds = [kind for kind in _KIND_ORDER if kind in found]
    if not kinds:
        title = "Monitoring check"
    else:
        title = f"Monitoring test{'s' if len(kinds) > 1 else ''}: {_joined(kinds)}"
        if "check" in found:
            title += ", and a check"
    if overdue:
        return f"Overdue {title[0].lower()}{title[1:]} \N{EM DASH} please book as soon as you can"
    return title


def window_words(*, opens: date, closes: date, today: date) -> str:
    """Which days suit a visit, in a sentence, only while some of them are still ahead: never
    a window that has closed (a reminder read in December must not offer August). "" when the
    visit is a single day or its window has passed."""
    if closes < today or opens == closes:
        return ""
    if opens > today:
        return f"Any day from {date_format(opens)} to {date_format(closes)} is fine."
    return f"Any day until {date_format(closes)} is fine."


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
# What happens next after a clearly abnormal result, by the nurse's action: the call itself is
# said once, before this.
_NEXT_AFTER_CALL = {
    "rebooked": "Another test has been arranged.",
    "repeat_ordered": "A repeat test has been asked for.",
    "referred": "A specialist will see you.",
}
_CLINIC_CALLS = "Your clinic has been in touch about it, or will call you today."
_NOT_HEARD = "If you have not heard from the clinic today, please call them."
# The warning signs that cannot wait for a call back, in the words of the symptom list
# (monitoring.domain.symptoms) and the symptom page, by what a very abnormal result risks.
_EMERGENCY_SIGNS = {
    "platelets": "you have unusual bruising, tiny red or purple spots on the skin, or bleeding "
    "that is hard to stop",
    "neutrophils": "you have a fever or shivers, or feel very unwell",
    "wbc": "you have a fever or shivers, or feel very unwell",
    "haemoglobin": "you are breathless or faint, or feel very unwell",
    "creatinine": "you see blood in your urine, or have swollen legs or ankles, or cough up blood",
}
_EMERGENCY_ANY = "you feel very unwell"


def _emergency(code: str) -> str:
    signs = _EMERGENCY_SIGNS.get(code, _EMERGENCY_ANY)
    return f"If {signs}, call 999 (or 112) or go to the emergency department now."


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
    # How far outside, graded by tier: a critical count is never "lower than usual".
    degree = {"amber": "slightly", "red": "clearly", "critical": "much"}.get(tier, "")
    if code in _FOUND:
        finding = _FOUND[code]
    elif direction:
        finding = f"Your {what} was {degree} {direction} than the usual range."
    else:
        # Flagged for a change from earlier results while still inside the range.
        finding = f"Your {what} has changed since your earlier tests."
    if tier not in URGENT_TIERS:
        if code in _EXPECTED_LOW and direction == "lower":
            finding = f"{finding} {_EXPECTED_LOW[code]}"
        return f"{finding} {_AFTER_REVIEW.get(review_action or '', _AFTER_REVIEW['other'])}"
    if review_action == "reviewed" and tier != "critical":
        return f"{finding} {_AFTER_REVIEW['reviewed']}"
    sentences = [finding, _CLINIC_CALLS]
    if review_action in _NEXT_AFTER_CALL:
        sentences.append(_NEXT_AFTER_CALL[review_action])
    if tier == "critical":
        sentences += [_NOT_HEARD, _emergency(code)]
    return " ".join(sentences)


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
