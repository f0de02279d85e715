"""Planning for the therapies other than alemtuzumab, and for schedules side by side.

Pure functions over plain values, as planning.py (which plans alemtuzumab's courses and
follow-up, and whose month arithmetic this module shares). A therapy episode is anchored on its
start; its protocol's items repeat while on therapy, fall at fixed months after the start,
before the start, before every dose, at fixed months after each dose, or at fixed months after
stopping. Clinical rules: docs/clinical-reference.md section 6.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from .planning import (
    AFTER_DOSE,
    AFTER_STOP,
    AT_MONTHS,
    BEFORE_DOSE,
    BEFORE_START,
    ON_THERAPY,
    Plan,
    PlannedCheck,
    PlanningError,
    Protocol,
    ProtocolItem,
    add_months,
)

# The same test due this close for two episodes is one visit and one blood draw.
SHARED_VISIT_DAYS = 7


@dataclass(frozen=True)
class Dose:
    """A dose given in the clinic (an infusion, a cladribine treatment year), given or planned."""

    number: int
    day: date
    key: Hashable = None


@dataclass(frozen=True)
class Episode:
    """One therapy from its start to its stop. Without a stop, on-therapy checks are planned
    to the protocol's horizon (Protocol.follow_up_months after the start)."""

    key: Hashable
    started_on: date
    stopped_on: date | None = None
    doses: Sequence[Dose] = field(default_factory=tuple)


def plan_episode(*, episode: Episode, protocol: Protocol, sex: str) -> Plan:
    """Every check the protocol asks of one therapy episode.

    On-therapy and fixed-month checks are those due before the stop day; checks before and
    after a dose follow the doses given (they are not cancelled by a stop, only by the dose's
    own cancellation); after-stop checks follow the stop day. Months are counted from their
    anchor each time (31 January + 1 month is 28 or 29 February, + 2 months 31 March).
    """
    if episode.stopped_on is not None and episode.stopped_on < episode.started_on:
        raise PlanningError("An episode cannot stop before it starts.")
    # On therapy until the day before the stop, or to the planning horizon.
    if episode.stopped_on is not None:
        last_on_therapy = episode.stopped_on - timedelta(days=1)
    else:
        last_on_therapy = add_months(episode.started_on, protocol.follow_up_months)
    doses = sorted(episode.doses, key=lambda dose: (dose.day, dose.number))
    checks: list[PlannedCheck] = []
    for item in protocol.items:
        if not item.applies_to(sex):
            continue
        if item.kind == ON_THERAPY:
            offsets = _repeating(item, episode.started_on, last_on_therapy)
            checks.extend(_at(item, episode, episode.started_on, offsets))
        elif item.kind == AT_MONTHS:
            offsets = [
                months
                for months in _months_of(item)
                if add_months(episode.started_on, months) <= last_on_therapy
            ]
            checks.extend(_at(item, episode, episode.started_on, offsets))
        elif item.kind == BEFORE_START:
            checks.extend(_at(item, episode, episode.started_on, [0]))
        elif item.kind == BEFORE_DOSE:
            targets = doses[:1] if item.first_course_only else doses
            for dose in targets:
                checks.extend(_at(item, episode, dose.day, [0], dose=dose))
        elif item.kind == AFTER_DOSE:
            for dose in doses:
                checks.extend(_at(item, episode, dose.day, _months_of(item), dose=dose))
        elif item.kind == AFTER_STOP:
            if episode.stopped_on is not None:
                checks.extend(_at(item, episode, episode.stopped_on, _months_of(item)))
        else:
            raise PlanningError(
                f"Protocol item {item.key!r} has kind {item.kind!r}, which is not a shape of "
                "a therapy episode."
            )
    checks.sort(key=lambda check: (check.due, check.panel, check.kind))
    return Plan(checks=tuple(checks), anchor=episode.started_on, end_of_follow_up=None)


def share_visits(
    plans: Sequence[Iterable[PlannedCheck]],
    *,
    taken: Collection[tuple] = frozenset(),
    within_days: int = SHARED_VISIT_DAYS,
) -> list[PlannedCheck]:
    """The checks of several episodes' plans, with the same test due within `within_days` of
    an earlier plan's check moved onto that check's dates, so both are one visit and one draw.

    `plans` come in order of precedence (alemtuzumab's follow-up first, then by start): a check
    of an earlier plan never moves for a later one, so a schedule stays as it was when another
    therapy starts beside it. A check can host one check of each later plan; it cannot host
    once it is `taken` (done, waived or cancelled: its draw has happened or will not).
    """
    window = timedelta(days=within_days)
    # By panel: the hosting checks' due dates in order, the checks, and which plans they host.
    hosts: dict[str, tuple[list[date], list[PlannedCheck]]] = defaultdict(lambda: ([], []))
    hosting: dict[tuple, set[int]] = defaultdict(set)
    shared: list[PlannedCheck] = []
    for index, plan in enumerate(plans):
        mine = []
        for check in plan:
            host = _nearest_host(hosts.get(check.panel), check.due, window, hosting, index, taken)
            if host is None:
                mine.append(check)
                continue
            hosting[host.slot].add(index)
            mine.append(
                replace(
                    check,
                    due=host.due,
                    window_opens=host.window_opens,
                    overdue_after=host.overdue_after,
                    shares_visit=True,
                )
            )
        for check in mine:
            if not check.shares_visit:
                days, checks = hosts[check.panel]
                at = bisect_left(days, check.due)
                days.insert(at, check.due)
                checks.insert(at, check)
        shared.extend(mine)
    return shared


def _nearest_host(panel_hosts, due, window, hosting, plan_index, taken) -> PlannedCheck | None:
    if panel_hosts is None:
        return None
    days, checks = panel_hosts
    best = None
    start = bisect_left(days, due - window)
    for position in range(start, len(days)):
        if days[position] > due + window:
            break
        candidate = checks[position]
        if candidate.slot in taken or plan_index in hosting[candidate.slot]:
            continue
        if best is None or abs(candidate.due - due) < abs(best.due - due):
            best = candidate
    return best


def _months_of(item: ProtocolItem) -> tuple[int, ...]:
    if not item.months:
        raise PlanningError(
            f"Protocol item {item.key!r} ({item.panel}) needs the months at which it is due."
        )
    return tuple(sorted(set(item.months)))


def _repeating(item: ProtocolItem, start: date, last: date) -> list[int]:
    if not item.interval_months or item.interval_months < 1:
        raise PlanningError(
            f"On-therapy protocol item {item.key!r} ({item.panel}) needs an interval of at "
            "least one month."
        )
    offsets = []
    offset = item.first_month if item.first_month is not None else item.interval_months
    while add_months(start, offset) <= last:
        offsets.append(offset)
        offset += item.interval_months
    return offsets


def _at(
    item: ProtocolItem, episode: Episode, anchor: date, offsets: Iterable[int], dose=None
) -> list[PlannedCheck]:
    before = timedelta(days=item.window_before_days)
    grace = timedelta(days=item.grace_after_days)
    checks = []
    for offset in offsets:
        due = add_months(anchor, offset)
        checks.append(
            PlannedCheck(
                item_key=item.key,
                panel=item.panel,
                kind=item.kind,
                due=due,
                window_opens=due - before,
                overdue_after=due + grace,
                month_offset=offset,
                episode_key=episode.key,
                dose_key=dose.key if dose is not None else None,
            )
        )
    return checks
