"""What the lab feeds' staff screens read: the results waiting for a person, grouped as the lab
sent them, the patients a waiting group may be, and each lab connection's recent traffic. Every
read is narrowed to the clinics it is given (patients.access.clinics_for of the asker) and
takes a fixed number of queries however many rows there are."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max, Prefetch, Q, QuerySet

from labfeeds.models import ApiToken, LabConnection, LabMessage, WaitingResult
from monitoring.domain import flagging
from monitoring.domain.input_rules import hospital_number_key
from monitoring.domain.measurements import MeasurementError, read_measurement
from monitoring.results.rule_cache import flag_rules
from patients.models import Clinic, Patient
from patients.selectors import patient_search

# The connections screen's window for its counts, and how many refusals it lists.
RECENT_DAYS = 30
RECENT_ERRORS = 10
SUGGESTIONS = 10


def waiting_rows(clinics: QuerySet[Clinic]) -> QuerySet[WaitingResult]:
    """The results still waiting in these clinics, oldest first."""
    return (
        WaitingResult.objects.filter(clinic__in=clinics, state=WaitingResult.State.WAITING)
        .select_related("analyte", "clinic", "message__connection")
        .order_by("received_at", "id")
    )


def waiting_count(clinics: QuerySet[Clinic]) -> int:
    """How many results wait in these clinics: one query, for the worklist's header."""
    return WaitingResult.objects.filter(
        clinic__in=clinics, state=WaitingResult.State.WAITING
    ).count()


@dataclass
class WaitingGroup:
    """The waiting results of one message about one hospital number: a lab message of 14
    results for one patient the clinic does not know is one group."""

    rows: list[WaitingResult] = field(default_factory=list)

    @property
    def first(self) -> WaitingResult:
        return self.rows[0]

    @property
    def pk(self) -> int:
        """The group is named by its oldest row (the screens' URLs)."""
        return self.first.pk

    @property
    def possible_rank(self) -> int:
        """The most severe tier its values alone would have (0 when none is flagged)."""
        tiers = [row.possible_tier for row in self.rows if getattr(row, "possible_tier", "")]
        return max((flagging.Tier(tier).rank for tier in tiers), default=0)

    @property
    def matchable(self) -> list[WaitingResult]:
        return [row for row in self.rows if waiting_matchable(row)]

    @property
    def not_matchable(self) -> list[WaitingResult]:
        return [row for row in self.rows if not waiting_matchable(row)]


def waiting_matchable(row: WaitingResult) -> bool:
    """A result can be recorded for a chosen patient when only its patient was unknown: an
    analyte the clinic monitors, a value the lab did not withdraw."""
    return (
        row.reason == WaitingResult.Reason.UNKNOWN_PATIENT
        and row.analyte_id is not None
        and row.result_status != "entered_in_error"
    )


def _group_key(row: WaitingResult) -> tuple:
    return (row.message_id, row.hospital_number, row.assigning_authority)


def waiting_groups(rows) -> list[WaitingGroup]:
    """`rows` (oldest first) grouped by message and hospital number. Each row with a value the
    rules can read gets `possible_tier` and `possible_action`: what its value alone would be
    flagged (no history: a fall from the previous count or a baseline rise cannot show). The
    groups holding a possibly red or critical value come first, so a critical count for a
    patient nobody has matched yet is not left below a page of routine ones; then the oldest."""
    groups: dict[tuple, WaitingGroup] = {}
    rules = flag_rules()
    for row in rows:
        _preview(row, rules)
        groups.setdefault(_group_key(row), WaitingGroup()).rows.append(row)
    return sorted(groups.values(), key=lambda group: -group.possible_rank)


def _preview(row: WaitingResult, rules) -> None:
    row.possible_tier, row.possible_action = "", ""
    if row.analyte is None or row.result_status == "entered_in_error":
        return
    analyte = row.analyte
    try:
        measured = read_measurement(
            analyte.as_measurement_analyte(), row.value, row.unit, comparator=row.comparator
        )
    except MeasurementError:
        return  # matching will refuse it with the reason; nothing to preview
    reading = flagging.Reading(
        analyte=analyte.code,
        value=measured.canonical,
        sample_date=row.sample_collected_on or row.received_at.date(),
        reference_low=analyte.reference_low,
        reference_high=analyte.reference_high,
        label=analyte.grade_label(measured.canonical),
        comparator=measured.comparator,
    )
    outcome = flagging.evaluate(reading, flagging.Context(), rules)
    if outcome.tier.rank >= flagging.Tier.AMBER.rank:
        row.possible_tier, row.possible_action = outcome.tier.value, outcome.next_action


def same_group(row: WaitingResult) -> QuerySet[WaitingResult]:
    """Every row, in any state, of the group `row` belongs to (its message, its clinic, its
    hospital number as sent)."""
    return WaitingResult.objects.filter(
        clinic_id=row.clinic_id,
        message_id=row.message_id,
        assigning_authority=row.assigning_authority,
        hospital_number=row.hospital_number,
    )


def group_rows(row: WaitingResult) -> QuerySet[WaitingResult]:
    """The rows of `row`'s group, for its screens."""
    return (
        same_group(row)
        .select_related("analyte", "clinic", "message__connection", "handled_by")
        .order_by("received_at", "id")
    )


def _loose(key: str) -> str:
    """A hospital number key without the leading zeros of its digit runs: RX0404 as RX404."""
    return re.sub(r"(?<!\d)0+(?=\d)", "", key)


def _words(name: str) -> set[str]:
    return {word.casefold() for word in re.split(r"[^\w'-]+", name) if len(word) >= 2}


def match_suggestions(group: WaitingGroup) -> list[Patient]:
    """The clinic's patients the lab may have meant: the same hospital number written with
    zeros dropped or added (RX-404 for RX-0404), or the same birth date and a name in common.
    One query, for the candidates; the closeness is decided here."""
    first = group.first
    key = hospital_number_key(first.hospital_number)
    words = _words(first.patient_name)
    close = Q()
    digits = re.search(r"(\d+)$", key)
    if digits and len(digits.group(1).lstrip("0")) >= 2:
        close |= Q(hospital_number_key__endswith=digits.group(1).lstrip("0"))
    elif key:
        close |= Q(hospital_number_key=key)
    if first.date_of_birth is not None and words:
        close |= Q(date_of_birth=first.date_of_birth)
    if not close:
        return []
    candidates = (
        Patient.objects.filter(clinic_id=first.clinic_id)
        .filter(close)
        .select_related("clinic")
        .order_by("family_name", "given_name", "pk")[: SUGGESTIONS * 5]
    )
    return [
        patient
        for patient in candidates
        if (key and _loose(patient.hospital_number_key) == _loose(key))
        or (
            patient.date_of_birth == first.date_of_birth
            and words & _words(f"{patient.given_name} {patient.family_name}")
        )
    ][:SUGGESTIONS]


def match_search(group: WaitingGroup, query: str) -> list[Patient]:
    """The patients of the group's clinic matching `query` (name or hospital number)."""
    if not query.strip():
        return []
    patients = Patient.objects.filter(clinic_id=group.first.clinic_id)
    return list(patient_search(patients, query=query)[:SUGGESTIONS])


@dataclass
class ConnectionTraffic:
    accepted: int = 0
    refused: int = 0
    waiting: int = 0
    last: LabMessage | None = None


@dataclass
class ConnectionsPage:
    clinics: list[Clinic]
    connections: list[LabConnection]  # each with its `traffic` (ConnectionTraffic)
    # Tokens of no connection: the record systems' read tokens (and a lab's, made before its
    # connection was).
    other_tokens: list[ApiToken]
    traffic: dict[int, ConnectionTraffic]
    errors: list[LabMessage]


def connections_page(clinics: QuerySet[Clinic], *, now: datetime) -> ConnectionsPage:
    """The lab connections screen. Seven queries however many connections and messages: the
    clinics, the connections with their tokens (two), the tokens of no connection, one
    aggregate of the last 30 days' messages, the latest message of each connection (one query
    with a subquery), and the last refusals."""
    since = now - timedelta(days=RECENT_DAYS)
    connections = list(
        LabConnection.objects.filter(clinic__in=clinics)
        .select_related("clinic", "created_by")
        .prefetch_related(_tokens("tokens"))
        .order_by("clinic__name", "name", "pk")
    )
    other_tokens = list(
        ApiToken.objects.filter(clinic__in=clinics, connection=None)
        .select_related("clinic", "created_by", "revoked_by")
        .order_by("-created_at", "-pk")
    )
    traffic: dict[int, ConnectionTraffic] = defaultdict(ConnectionTraffic)
    counts = (
        LabMessage.objects.filter(connection__in=connections, received_at__gte=since)
        .values("connection_id")
        .annotate(
            accepted=Count(
                "pk",
                distinct=True,
                filter=Q(status__in=[LabMessage.Status.ACCEPTED, LabMessage.Status.WAITING]),
            ),
            refused=Count("pk", distinct=True, filter=Q(status=LabMessage.Status.REFUSED)),
            # Still waiting now: a message whose waiting results were all handled is not.
            waiting=Count(
                "pk", distinct=True, filter=Q(waiting__state=WaitingResult.State.WAITING)
            ),
        )
        .order_by()
    )
    for row in counts:
        traffic[row["connection_id"]] = ConnectionTraffic(
            accepted=row["accepted"], refused=row["refused"], waiting=row["waiting"]
        )
    # The latest message of every connection, in one query on both databases: the newest id
    # of each connection (ids grow with received_at), as a subquery.
    latest_ids = (
        LabMessage.objects.filter(connection__in=connections)
        .values("connection_id")
        .annotate(latest=Max("pk"))
        .values_list("latest", flat=True)
        .order_by()
    )
    for message in LabMessage.objects.filter(pk__in=latest_ids).only(
        "pk", "connection_id", "received_at", "protocol", "control_id", "status"
    ):
        traffic[message.connection_id].last = message
    errors = list(
        LabMessage.objects.filter(clinic__in=clinics, status=LabMessage.Status.REFUSED)
        .select_related("connection")
        .only(
            "pk",
            "received_at",
            "protocol",
            "control_id",
            "problems",
            "connection__name",
        )
        .order_by("-received_at", "-pk")[:RECENT_ERRORS]
    )
    for connection in connections:
        connection.traffic = traffic.get(connection.pk, ConnectionTraffic())
    return ConnectionsPage(
        clinics=list(clinics.order_by("name")),
        connections=connections,
        other_tokens=other_tokens,
        traffic=dict(traffic),
        errors=errors,
    )


def _tokens(lookup: str) -> Prefetch:
    return Prefetch(
        lookup,
        queryset=ApiToken.objects.select_related("created_by", "revoked_by").order_by(
            "-created_at", "-pk"
        ),
    )
