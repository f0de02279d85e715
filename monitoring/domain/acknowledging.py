"""What an acknowledgement must say, by what it is about.

A red or critical result, and a symptom the patient reported, are the alerts that cannot wait.
Acknowledging one with an action that does nothing for the patient ("Reviewed: no action
needed", or "Other") is allowed only with a reason a colleague can act on: at least
REASON_MIN_WORDS words ("known chronic low, haematologist aware"), not "Seen." or "Fine".
Counting words rather than characters refuses "ok......................" and accepts a short
but real reason. An action that does something (called the patient, booked an urgent test)
needs only the usual note.
"""

from __future__ import annotations

import re

from monitoring.domain.tiers import URGENT_TIERS

# The action codes of monitoring.models.Acknowledgement.Action this module speaks of.
REVIEWED = "reviewed"
OTHER = "other"
CALLED_PATIENT = "called_patient"
URGENT_TEST_BOOKED = "urgent_test_booked"
REFERRED = "referred"

REASON_MIN_WORDS = 4

# What a nurse can do about a reported symptom: there is no "no action needed" for a patient
# who has just told the clinic about bruising or blood in their urine.
SYMPTOM_ACTIONS = (CALLED_PATIENT, URGENT_TEST_BOOKED, REFERRED, OTHER)

# Actions that do nothing by themselves, so the note must say why that is right.
_NEED_A_REASON = (REVIEWED, OTHER)

_WORD = re.compile(r"\w+")


def needs_reason(*, action: str, urgent: bool) -> bool:
    """Whether `action`, on something urgent (a red or critical result, a symptom report),
    needs a reason of REASON_MIN_WORDS words in the note."""
    return urgent and action in _NEED_A_REASON


def is_urgent_tier(tier: str | None) -> bool:
    return tier in URGENT_TIERS


def word_count(note: str) -> int:
    return len(_WORD.findall(note))


def reason_problem(*, action: str, note: str, urgent: bool) -> str | None:
    """The message for the note field when it is not reason enough, else None."""
    if not needs_reason(action=action, urgent=urgent) or word_count(note) >= REASON_MIN_WORDS:
        return None
    if action == REVIEWED:
        return (
            "Say why no action is needed, in a few words (at least "
            f"{REASON_MIN_WORDS}): for example, 'known chronic low, haematologist aware'."
        )
    return f"Say what was done, in a few words (at least {REASON_MIN_WORDS})."
