"""Which of a patient's therapies a flag rule of one therapy applies to on a sample date:
pure functions over plain values, written once (docs/clinical-reference.md section 3, "Rules
for one therapy").

An episode is in force on a day from the opening of its before-start window (its protocol's
largest before-start window: a screen taken for a planned start belongs to that therapy) to the
end of its after-stopping period (its protocol's largest after-stop month, 0 if none) after its
stop; a running episode has no end. A rule names a therapy code or a family ("fumarate", "s1p",
"anti_cd20", monitoring.domain.therapies), and may ask for a number of months on the therapy,
counted from the episode's start (natalizumab's JCV index after 24 months).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from monitoring.domain.planning import AFTER_STOP, BEFORE_START, add_months
from monitoring.domain.therapies import THERAPIES

# The families a rule may name instead of one therapy, with the label a clinician reads.
FAMILIES = {
    "fumarate": "Fumarates (dimethyl, diroximel)",
    "s1p": "S1P modulators (fingolimod, siponimod, ozanimod, ponesimod)",
    "anti_cd20": "Anti-CD20 antibodies (ocrelizumab, ofatumumab)",
}


@dataclass(frozen=True)
class EpisodeSpan:
    """One therapy episode as the flag rules see it."""

    therapy: str
    started_on: date
    stopped_on: date | None = None
    after_stop_months: int = 0
    before_start_days: int = 0


def after_stop_months(items: Iterable[tuple[str, Iterable[int]]]) -> int:
    """The after-stopping period of a protocol, in months: the largest month of its after-stop
    items ((kind, months) pairs), 0 if it has none."""
    return max(
        (int(month) for kind, months in items if kind == AFTER_STOP for month in months or ()),
        default=0,
    )


def before_start_days(items: Iterable[tuple[str, int]]) -> int:
    """How early before its start a planned episode's screens count: the largest window of its
    protocol's before-start items ((kind, window_before_days) pairs), 0 if it has none."""
    return max((int(days) for kind, days in items if kind == BEFORE_START), default=0)


def in_force(episodes: Iterable[EpisodeSpan], on: date) -> dict[str, date]:
    """{therapy code: episode start} of the episodes in force on `on`. Of two episodes of one
    therapy (stopped, then started again) in force on the same day, the later start."""
    found: dict[str, date] = {}
    for episode in sorted(episodes, key=lambda e: e.started_on):
        opens = episode.started_on - timedelta(days=episode.before_start_days)
        if on < opens:
            continue
        stopped = episode.stopped_on
        if stopped is not None and on > add_months(stopped, episode.after_stop_months):
            continue
        found[episode.therapy] = episode.started_on
    return found


def names_therapy(rule_therapy: str, code: str) -> bool:
    """Whether a rule's therapy (a code or a family) names the therapy `code`."""
    if rule_therapy == code:
        return True
    therapy = THERAPIES.get(code)
    return therapy is not None and bool(therapy.family) and therapy.family == rule_therapy


def rule_applies(
    rule_therapy: str, min_months: int | None, therapies: Mapping[str, date], on: date
) -> bool:
    """Whether a rule of `rule_therapy` ("" for every patient) applies to a sample of `on` for
    a patient with `therapies` in force ({code: episode start}); with `min_months`, only once
    that many months of the therapy have passed on the sample date."""
    if not rule_therapy:
        return True
    for code, started_on in therapies.items():
        if not names_therapy(rule_therapy, code):
            continue
        if min_months is None or on >= add_months(started_on, min_months):
            return True
    return False


def valid_therapy(value: str) -> bool:
    return not value or value in THERAPIES or value in FAMILIES
