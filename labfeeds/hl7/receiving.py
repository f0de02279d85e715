"""What becomes of one HL7 message the listener received: stored first, whatever it is; its
sender found; refused whole (AR) when it cannot be taken at all; otherwise read and recorded
through the intake every feed shares; answered with an ACK that is stored with it, so a message
sent again (the same control ID from the same connection) gets the same ACK and stores nothing
twice. Synchronous, database work: the listener runs it in a thread, one message at a time per
connection, and writes the ACK only once this has returned (committed)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from labfeeds.hl7.ack import REJECTED, ack_for_outcome, ack_refusal
from labfeeds.hl7.reading import (
    Header,
    HeaderProblem,
    header_refusal,
    parse,
    read_header,
    read_results,
)
from labfeeds.intake import (
    feed_record,
    message_answer,
    message_receive,
    message_refuse,
    stored_outcome,
)
from labfeeds.models import LabConnection, LabMessage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    """The ACK to send back, with what the listener logs about it (never a patient's name)."""

    code: str
    ack: str
    control_id: str = ""
    connection: str = ""
    recorded: int = 0
    waiting: int = 0
    problems: int = 0
    repeated: bool = False


def connection_for(header: Header) -> LabConnection | None:
    """The active connection of the message's sender: its facility (MSH-4.1) and application
    (MSH-3.1); a connection without an application takes any application of its facility, and
    one naming the application wins over it."""
    if not header.facility:
        return None
    candidates = LabConnection.objects.filter(
        is_active=True,
        hl7_sending_facility=header.facility,
        hl7_sending_application__in=[header.application, ""],
    ).select_related("clinic")
    found = sorted(candidates, key=lambda c: c.hl7_sending_application != header.application)
    return found[0] if found else None


def connection_pinned(name: str) -> LabConnection:
    """The connection `hl7_listen --connection` names, by its name or its number: LookupError
    when none or several (the same name in two clinics) are meant."""
    matches = LabConnection.objects.filter(name=name)
    if name.isdigit():
        matches = matches | LabConnection.objects.filter(pk=int(name))
    found = list(matches.select_related("clinic")[:2])
    if not found:
        raise LookupError(f"No lab connection is named “{name}”.")
    if len(found) > 1:
        raise LookupError(f"Several lab connections are named “{name}”: give its number.")
    if not found[0].is_active:
        raise LookupError(f"The lab connection “{name}” is not active.")
    return found[0]


def hl7_message_take(
    raw: str, *, pinned_connection_id: int | None = None, now: datetime | None = None
) -> Answer:
    """Store, read, record and answer one message (see the module's docstring). Whatever goes
    wrong on the way is answered: AR when it could not be stored or read, so the lab sends it
    again later; it is never dropped without an answer."""
    now = now or timezone.now()
    try:
        parsed = parse(raw)
    except HeaderProblem as problem:
        return _refused_unread(raw, problem, now)
    header = read_header(parsed)
    try:
        return _take(raw, parsed, header, pinned_connection_id, now)
    except Exception:
        log.exception("HL7 message %s could not be taken", header.control_id or "(no MSH-10)")
        problem = HeaderProblem(
            "MSH",
            "The message could not be stored or read here (an internal error); send it again.",
            "207",
        )
        return Answer(
            REJECTED,
            ack_refusal(header, problem, ack_id=f"ERR{now:%Y%m%d%H%M%S}", now=now),
            control_id=header.control_id,
            problems=1,
        )


def _take(raw: str, parsed, header: Header, pinned: int | None, now: datetime) -> Answer:
    if pinned is not None:
        connection = (
            LabConnection.objects.filter(pk=pinned, is_active=True).select_related("clinic").first()
        )
    else:
        connection = connection_for(header)
    problem = header_refusal(header)
    if problem is None and connection is None:
        problem = HeaderProblem(
            "MSH[1]-4",
            f"No active lab connection here takes messages from application "
            f"“{header.application}” of facility “{header.facility}” (MSH-3, MSH-4).",
            "204",
        )
    message, new = message_receive(
        protocol=LabMessage.Protocol.HL7,
        raw=raw,
        connection=connection,
        control_id=header.control_id,
        message_type=header.message_type,
    )
    if not new and message.answer:
        if message.raw != raw:
            log.warning("HL7 control ID %s was sent again with other content", header.control_id)
        return _answer(message, message.answer_code, message.answer, header, repeated=True)
    ack_id = f"ACK{message.pk}"
    if problem is not None:
        if message.status == LabMessage.Status.RECEIVED:
            message = message_refuse(message=message, problems=[problem.problem]).message
        ack = ack_refusal(header, problem, ack_id=ack_id, now=now)
        message_answer(message=message, code=REJECTED, answer=ack)
        return _answer(message, REJECTED, ack, header, repeated=not new)
    if message.status == LabMessage.Status.RECEIVED:
        # New, or stored by an earlier attempt that stopped before reading it.
        read = read_results(
            parsed,
            zone=connection.clinic.zone,
            now=now,
            authority=connection.assigning_authority,
            lab_name=connection.name,
        )
        outcome = feed_record(message=message, results=read.results, problems=read.problems)
    else:
        # Read before, but its answer was never stored: answered from what was.
        outcome = stored_outcome(message)
    message = outcome.message
    reasons = (
        dict(message.waiting.values_list("position", "reason")) if message.results_waiting else {}
    )
    code, ack = ack_for_outcome(header, outcome, ack_id=ack_id, now=now, waiting_reasons=reasons)
    message_answer(message=message, code=code, answer=ack)
    return _answer(message, code, ack, header, repeated=not new)


def _refused_unread(raw: str, problem: HeaderProblem, now: datetime) -> Answer:
    """A message without a readable MSH: kept, with no sender and no control ID."""
    message, _ = message_receive(protocol=LabMessage.Protocol.HL7, raw=raw, connection=None)
    message_refuse(message=message, problems=[problem.problem])
    ack = ack_refusal(None, problem, ack_id=f"ACK{message.pk}", now=now)
    message_answer(message=message, code=REJECTED, answer=ack)
    return Answer(REJECTED, ack, problems=1)


def _answer(message: LabMessage, code: str, ack: str, header: Header, *, repeated: bool):
    connection = message.connection
    return Answer(
        code,
        ack,
        control_id=header.control_id,
        connection=connection.name if connection else "",
        recorded=message.results_recorded,
        waiting=message.results_waiting,
        problems=len(message.problems) - message.results_waiting,
        repeated=repeated,
    )
