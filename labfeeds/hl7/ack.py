"""The ACK answering an HL7 message (original mode): MSA-1 says what became of it, and one ERR
segment per problem says where (ERR-2: segment^sequence^field), how bad (ERR-4: E refused, W
taken but waiting for a person) and why (ERR-8, in words; ERR-3, HL7's code from table 0357).

- AA: accepted; results that wait for a person (a patient or a code the clinic does not know)
  come back as ERR with severity W.
- AE: refused for its content (a unit not accepted, a value that is not a number, a sample time
  in the future...): nothing of it was recorded; the lab corrects and sends it again.
- AR: the message could not be taken at all: no MSH, not an ORU^R01, an unsupported version,
  a sender this clinic has no active connection for, or the listener could not store it (send
  it again later).

Texts are written with HL7's escapes for its delimiters, and in plain ASCII, which any lab
system reads whatever character set it was set up with.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from labfeeds.hl7.reading import SUPPORTED_VERSIONS, Header, HeaderProblem
from labfeeds.intake import FeedOutcome
from labfeeds.models import LabMessage, WaitingResult

ACCEPTED, ERROR, REJECTED = "AA", "AE", "AR"
ERROR_SEVERITY, WARNING_SEVERITY = "E", "W"
DEFAULT_VERSION = "2.5.1"
# HL7 table 0357, the codes used here.
CODES = {
    "0": "Message accepted",
    "100": "Segment sequence error",
    "101": "Required field missing",
    "102": "Data type error",
    "103": "Table value not found",
    "200": "Unsupported message type",
    "201": "Unsupported event code",
    "203": "Unsupported version id",
    "204": "Unknown key identifier",
    "207": "Application internal error",
}
# A content problem's code by the field it is in: a value HL7 could carry but this clinic's
# tables do not have (a unit, a code, a status), or a value of the wrong form.
FIELD_CODES = {
    ("OBX", 2): "103",
    ("OBX", 3): "103",
    ("OBX", 6): "103",
    ("OBX", 11): "103",
    ("OBX", 5): "102",
    ("OBX", 7): "102",
    ("OBX", 14): "102",
    ("OBR", 7): "102",
    ("OBR", 22): "102",
    ("PID", 3): "204",
}
WAITING_CODES = {
    WaitingResult.Reason.UNKNOWN_PATIENT: "204",
    WaitingResult.Reason.UNKNOWN_CODE: "103",
}
LOCATION = re.compile(r"^([A-Z0-9]{3})(?:\[(\d+)\])?(?:-(\d+))?")


@dataclass(frozen=True)
class Note:
    """One ERR segment."""

    where: str
    message: str
    severity: str = ERROR_SEVERITY
    code: str = "207"


def ack_for_outcome(
    header: Header,
    outcome: FeedOutcome,
    *,
    ack_id: str,
    now: datetime,
    waiting_reasons: Mapping[str, str] | None = None,
) -> tuple[str, str]:
    """(MSA-1, the ACK) for a message whose results were read: AE when it was refused, AA
    otherwise with a W for each result that waits (`waiting_reasons`: the reason of the
    result waiting at each position). Decided by the message's stored status, so a repeat
    answered from what was stored gets the same answer."""
    message = outcome.message
    if message.status == LabMessage.Status.REFUSED:
        notes = [Note(p.where, p.message, code=_content_code(p.where)) for p in outcome.problems]
        text = f"Refused: {_counted(len(notes), 'problem')}; nothing was recorded."
        return ERROR, ack_build(header, ERROR, notes, text=text, ack_id=ack_id, now=now)
    reasons = waiting_reasons or {}
    notes = [
        Note(
            p["where"],
            p["message"],
            WARNING_SEVERITY,
            WAITING_CODES.get(reasons.get(p["where"], ""), "204"),
        )
        for p in message.problems
    ]
    text = f"Accepted: {_counted(message.results_recorded, 'result')} recorded"
    if message.results_waiting:
        text += f", {message.results_waiting} waiting for a person to match"
    return ACCEPTED, ack_build(header, ACCEPTED, notes, text=f"{text}.", ack_id=ack_id, now=now)


def ack_refusal(
    header: Header | None, problem: HeaderProblem, *, ack_id: str, now: datetime
) -> str:
    """The AR for a message that could not be taken at all."""
    note = Note(problem.where, problem.message, code=problem.code)
    return ack_build(header, REJECTED, [note], text=problem.message, ack_id=ack_id, now=now)


def ack_build(
    header: Header | None,
    code: str,
    notes: Iterable[Note],
    *,
    text: str = "",
    ack_id: str,
    now: datetime,
) -> str:
    """The ACK's segments separated by CR; the receiver of the original message becomes the
    sender of the ACK and the other way round."""
    header = header or Header()
    version = header.version if header.version in SUPPORTED_VERSIONS else DEFAULT_VERSION
    event = header.message_type.partition("^")[2]
    msh = [
        "MSH",
        "^~\\&",
        _composite(header.receiving_application),
        _composite(header.receiving_facility),
        _composite(header.sending_application),
        _composite(header.sending_facility),
        now.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000"),
        "",
        f"ACK^{escape(event)}^ACK" if event else "ACK",
        escape(ack_id),
        escape(header.processing_id) or "P",
        version,
    ]
    segments = [
        "|".join(msh),
        "|".join(["MSA", code, escape(header.control_id), escape(text[:80])]),
    ]
    segments.extend(_err(note, version) for note in notes)
    return "\r".join(segments) + "\r"


def _err(note: Note, version: str) -> str:
    segment, sequence, position = _location(note.where)
    code = f"{note.code}^{CODES.get(note.code, '')}^HL70357"
    # Before v2.5 an ERR had only ERR-1 (segment^sequence^field^code); it is filled too, so a
    # lab system on v2.3 or v2.4 reads where the problem is.
    legacy = ""
    if version in ("2.3", "2.3.1", "2.4"):
        legacy = "^".join([segment, sequence, position, code.replace("^", "&")])
    fields = [
        "ERR",
        legacy,
        "^".join([segment, sequence, position]).rstrip("^"),
        code,
        note.severity,
        "",
        "",
        "",
        escape(note.message),
    ]
    return "|".join(fields)


def _location(where: str) -> tuple[str, str, str]:
    """("OBX", "3", "6") of "OBX[3]-6"; a location that is not a segment's is left empty."""
    found = LOCATION.match(where)
    if found is None:
        return "", "", ""
    return found[1], found[2] or "1", found[3] or ""


def _content_code(where: str) -> str:
    segment, _, position = _location(where)
    if not position:
        return "207"
    return FIELD_CODES.get((segment, int(position)), "207")


def _composite(parts: tuple[str, ...]) -> str:
    return "^".join(escape(part) for part in parts).rstrip("^")


# Typographic quotes and dashes (the intake's messages use them) in their ASCII form.
_ASCII = str.maketrans(
    {
        "\u201c": '"',
        "\u201d": '"',
        "\u2018": "'",
        "\u2019": "'",
        "\u2013": "-",
        "\u2014": "-",
        "\u2026": "...",
    }
)


def escape(text: str) -> str:
    """Text as an HL7 field value: the delimiters escaped (\\F\\ for |, \\S\\ for ^, \\T\\ for &,
    \\R\\ for ~, \\E\\ for the escape itself), line ends as spaces, and plain ASCII."""
    text = unicodedata.normalize("NFKD", str(text).translate(_ASCII))
    text = text.encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[\r\n\t]+", " ", text)
    out = []
    for char in text:
        if char == "\\":
            out.append("\\E\\")
        elif char == "|":
            out.append("\\F\\")
        elif char == "^":
            out.append("\\S\\")
        elif char == "&":
            out.append("\\T\\")
        elif char == "~":
            out.append("\\R\\")
        elif char.isprintable():
            out.append(char)
    return "".join(out)


def _counted(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"
