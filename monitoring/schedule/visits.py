"""A visit shared by two therapies' checks, shown once on pages that list every check (the
patient page's schedule): the check sharing the visit (shares_visit, on its host's dates) is
folded into its host, which then names every therapy the draw is for.

The lists of work (worklist, scans, portal) leave the sharing checks out in the query
(ScheduledCheckQuerySet.shown); a page showing done and waived checks too needs both rows read,
to fold them only while they are in the same state."""

from __future__ import annotations

from collections.abc import Iterable

from monitoring.domain import therapies
from monitoring.models import ScheduledCheck

ALEMTUZUMAB_FOLLOW_UP = "alemtuzumab follow-up"


def therapy_words(check: ScheduledCheck) -> str:
    """Which therapy a check is for, as the schedule names it. Alemtuzumab's checks may have no
    episode (they are planned from the courses); read the checks with_therapy(), or `episode`
    with select_related."""
    if "episode_therapy" in check.__dict__:
        therapy = check.episode_therapy
    else:
        therapy = check.episode.therapy if check.episode_id is not None else None
    if therapy is None or therapy == therapies.ALEMTUZUMAB:
        return ALEMTUZUMAB_FOLLOW_UP
    return therapies.therapy_of(therapy).name.lower()


def visits_once(checks: Iterable[ScheduledCheck]) -> list[ScheduledCheck]:
    """The checks with each sharing check folded into its host: the host gains `visit_for`
    (the therapies' words, host first: "alemtuzumab follow-up and ocrelizumab"), and every
    check has `visit_for` ("" when it is one therapy's alone). A sharing check whose host is
    not among `checks`, or in another state (one of the two waived, say), stays a row of its
    own, named for its therapy. Needs `status` (with_status) and the therapy (with_therapy, or
    `episode`) on each check."""
    checks = list(checks)
    hosts = {}
    for check in checks:
        check.visit_for = ""
        check.visit_therapies = [therapy_words(check)]
        if not check.shares_visit:
            hosts.setdefault((check.panel, check.due_date, check.status), check)
    shown = []
    for check in checks:
        host = hosts.get((check.panel, check.due_date, check.status))
        if check.shares_visit and host is not None:
            host.visit_therapies.append(therapy_words(check))
            continue
        shown.append(check)
    for check in checks:
        if len(check.visit_therapies) > 1 or check.shares_visit:
            check.visit_for = _and(check.visit_therapies)
    return shown


def _and(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
