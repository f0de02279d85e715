"""Reading an HL7 v2 ORU^R01 message (v2.3 to v2.5.1) into the results every lab feed shares
(labfeeds.intake.FeedResult), with a problem for each field that cannot be read, named by
where it is in the message: "OBX[3]-6" is field 6 of the third OBX segment, "PID[1]-3" field 3
of the first PID. Segments are counted 1-based per segment type over the whole message, as
HL7's own error location (ERR-2) counts them, so the ACK can point at the same place.

What is read, and from where:
- the header (MSH): the sender (MSH-3, MSH-4), the type (MSH-9), the control ID (MSH-10) and
  the version (MSH-12); a message this listener cannot take at all is refused before its
  results are read (`header_refusal`);
- the patient (PID): the hospital number from PID-3. PID-3 may repeat (a national number beside
  the hospital's). The repetition used is, in order: the one whose assigning authority
  (PID-3.4) is the connection's; else the first whose identifier type (PID-3.5) is "MR", the
  medical record number; else the first. Its PID-3.4 goes with it, so the intake can tell
  another hospital's number from the clinic's. PID-5 (name) and PID-7 (birth date) are kept
  only for a person matching a result that waits; an unreadable birth date is left out rather
  than refusing results for it.
- the order (OBR): the lab's reference is the filler order number (OBR-3), else the placer's
  (OBR-2); the sample time is OBR-7, unless an OBX gives its own (OBX-14), which wins for that
  OBX; the report time OBR-22.
- each result (OBX): the LOINC code OBX-3.1 when the coding system OBX-3.3 is "LN" or empty, or
  the alternate code OBX-3.4 when OBX-3.6 is "LN". A code of another system is not translated:
  the result waits for a person as a code the clinic does not monitor, written "code^system" so
  it can never be taken for a LOINC code. The value OBX-5 by its type OBX-2 (NM, ST, SN; empty
  is read as ST): "<5" in ST or NM, "<^5" in SN, give comparator "<" and value "5". The unit
  OBX-6.1, the reference range OBX-7 ("150-400", "<5", ">60"; words such as "negative", as for
  a dipstick, say nothing about numbers and are left out), the status OBX-11 (F final, C
  corrected, P preliminary, D or W entered in error).

A sample time is the clinic's calendar date at the time the lab gives: a time with an offset
(+0100) is converted to the clinic's zone; a time without one is the clinic's local time (the
lab is the clinic's). A time in the future by more than a few minutes of clock skew is a
problem naming its field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo

import hl7

from labfeeds.intake import (
    CORRECTED,
    ENTERED_IN_ERROR,
    FINAL,
    PRELIMINARY,
    FeedProblem,
    FeedResult,
)

SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
MESSAGE_TYPE = "ORU^R01"
# Lab and clinic clocks differ by a little; more than this ahead is not a sample taken yet.
CLOCK_SKEW = timedelta(minutes=5)

STATUSES = {
    "F": FINAL,
    "C": CORRECTED,
    "P": PRELIMINARY,
    "D": ENTERED_IN_ERROR,
    "W": ENTERED_IN_ERROR,
}
VALUE_TYPES = ("NM", "ST", "SN", "")
COMPARATORS = ("<=", ">=", "<", ">")
NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
RANGE = re.compile(rf"^({NUMBER})\s*-\s*({NUMBER})$")
BOUND = re.compile(rf"^(<=|>=|<|>)\s*({NUMBER})$")
DTM = re.compile(
    r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:\.\d{1,4})?)?)?)?([+-]\d{4})?$"
)


class HeaderProblem(ValueError):
    """Why a message cannot be taken at all: answered AR. `code` is HL7's error code (table
    0357) for ERR-3."""

    def __init__(self, where: str, message: str, code: str = "207"):
        super().__init__(message)
        self.where = where
        self.message = message
        self.code = code

    @property
    def problem(self) -> FeedProblem:
        return FeedProblem(self.where, self.message)


@dataclass(frozen=True)
class Header:
    """What the MSH says, as text without HL7's escapes. The fields the ACK sends back
    (MSH-3 to MSH-6) are kept whole, as their components."""

    sending_application: tuple[str, ...] = ()
    sending_facility: tuple[str, ...] = ()
    receiving_application: tuple[str, ...] = ()
    receiving_facility: tuple[str, ...] = ()
    control_id: str = ""
    message_type: str = ""  # "ORU^R01"
    version: str = ""
    processing_id: str = ""

    @property
    def application(self) -> str:
        return self.sending_application[0] if self.sending_application else ""

    @property
    def facility(self) -> str:
        return self.sending_facility[0] if self.sending_facility else ""


@dataclass
class Read:
    """A message's results and the problems of the fields that could not be read."""

    results: list[FeedResult] = field(default_factory=list)
    problems: list[FeedProblem] = field(default_factory=list)


def segments_text(text: str) -> str:
    """The message with its segments separated by CR, as HL7 wants, whatever line ends it came
    with (a file edited by hand has newlines), and without empty lines."""
    lines = re.split(r"\r\n|\r|\n", text)
    return "\r".join(line for line in lines if line.strip())


def parse(text: str) -> hl7.Message:
    """The message parsed; HeaderProblem when it does not begin with a readable MSH."""
    text = segments_text(text).lstrip()
    if not text.startswith("MSH"):
        raise HeaderProblem("MSH", "The message does not begin with an MSH segment.", "100")
    if not _separators_readable(text):
        raise HeaderProblem("MSH[1]-2", "MSH-1 and MSH-2 do not give HL7's separators.", "102")
    try:
        message = hl7.parse(text)
    except Exception as error:
        # The library fails in several ways on a malformed header (an assertion among them);
        # each means the same to the lab: the message could not be parsed.
        raise HeaderProblem("MSH", "The message cannot be parsed as HL7 v2.", "102") from error
    if len(message.segments("MSH")) > 1:
        raise HeaderProblem("MSH[2]", "One message per frame: this one has two MSH.", "100")
    return message


def _separators_readable(text: str) -> bool:
    """MSH-1 (the field separator) and MSH-2 (component, repetition, escape, subcomponent):
    five different characters, none a letter, a digit or a space."""
    separators = text[3:8]
    return (
        len(separators) == 5
        and len(set(separators)) == 5
        and not any(char.isalnum() or char.isspace() for char in separators)
    )


def read_header(message: hl7.Message) -> Header:
    msh = message.segment("MSH")
    kind = (_part(msh, 9), _part(msh, 9, component=2))
    return Header(
        sending_application=_components(msh, 3),
        sending_facility=_components(msh, 4),
        receiving_application=_components(msh, 5),
        receiving_facility=_components(msh, 6),
        control_id=_part(msh, 10),
        message_type="^".join(part for part in kind if part),
        version=_part(msh, 12),
        processing_id=_part(msh, 11),
    )


def header_refusal(header: Header) -> HeaderProblem | None:
    """Why this listener cannot take the message at all, before the sender is looked up."""
    if header.message_type != MESSAGE_TYPE:
        code = "200" if not header.message_type.startswith("ORU") else "201"
        return HeaderProblem(
            "MSH[1]-9",
            f"The message type “{header.message_type}” is not taken here: only ORU^R01 "
            "(unsolicited observation results).",
            code,
        )
    if header.version not in SUPPORTED_VERSIONS:
        return HeaderProblem(
            "MSH[1]-12",
            f"HL7 version “{header.version}” is not supported: {', '.join(SUPPORTED_VERSIONS)}.",
            "203",
        )
    if not header.control_id:
        return HeaderProblem(
            "MSH[1]-10",
            "The message has no control ID (MSH-10): a repeat of it could not be recognised.",
            "101",
        )
    return None


def read_results(
    message: hl7.Message,
    *,
    zone: tzinfo,
    now: datetime,
    authority: str = "",
    lab_name: str = "",
) -> Read:
    """Every OBX of every PID and OBR group, read (see the module's docstring). `authority` is
    the connection's assigning authority, which picks the PID-3 repetition; `now` the current
    instant (aware), for the sample times in the future."""
    read = Read()
    counts: dict[str, int] = {}
    patient: _Patient | None = None
    order: _Order | None = None
    for segment in message:
        name = str(segment[0]).strip()
        counts[name] = counts.get(name, 0) + 1
        at = f"{name}[{counts[name]}]"
        if name == "PID":
            patient = _read_patient(segment, at, authority, read)
            order = None
        elif name == "OBR":
            if patient is None:
                read.problems.append(FeedProblem(at, "An OBR segment comes before any PID."))
            order = _read_order(segment, at, zone, now, read)
        elif name == "OBX":
            if patient is None or order is None:
                read.problems.append(FeedProblem(at, "An OBX segment comes before any OBR."))
                continue
            result = _read_result(segment, at, patient, order, zone, now, lab_name, read)
            if result is not None:
                read.results.append(result)
    if not read.results and not read.problems:
        read.problems.append(FeedProblem("OBX", "The message has no results (no OBX segment)."))
    return read


@dataclass(frozen=True)
class _Patient:
    at: str
    hospital_number: str
    authority: str
    name: str
    born: date | None


@dataclass(frozen=True)
class _Order:
    at: str
    reference: str
    sampled: date | None
    reported: date | None
    # OBR-7 was given but is unreadable or in the future: said once, for the order.
    sample_refused: bool = False


def _read_patient(segment, at: str, authority: str, read: Read) -> _Patient:
    repetitions = _repetitions(segment, 3)
    chosen = _chosen_identifier(segment, repetitions, authority)
    number = _part(segment, 3, repetition=chosen)
    if not number:
        read.problems.append(FeedProblem(f"{at}-3", "PID-3 gives no hospital number."))
    issuer = _part(segment, 3, repetition=chosen, component=4) or _part(
        segment, 3, repetition=chosen, component=4, subcomponent=2
    )
    family, given = _part(segment, 5), _part(segment, 5, component=2)
    return _Patient(
        at=at,
        hospital_number=number,
        authority=issuer,
        name=" ".join(part for part in (given, family) if part),
        born=_birth_date(_part(segment, 7)),
    )


def _chosen_identifier(segment, repetitions: int, authority: str) -> int:
    numbers = range(1, repetitions + 1)
    if authority:
        for number in numbers:
            if _part(segment, 3, repetition=number, component=4) == authority:
                return number
    for number in numbers:
        if _part(segment, 3, repetition=number, component=5).upper() == "MR":
            return number
    return 1


def _birth_date(text: str) -> date | None:
    match = DTM.match(text[:8]) if len(text) >= 8 else None
    if match is None:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _read_order(segment, at: str, zone: tzinfo, now: datetime, read: Read) -> _Order:
    problems = len(read.problems)
    sampled = _day(_part(segment, 7), f"{at}-7", "sample", zone, now, read)
    refused = len(read.problems) > problems
    return _Order(
        at=at,
        reference=_part(segment, 3) or _part(segment, 2),
        sampled=sampled,
        reported=_day(_part(segment, 22), f"{at}-22", "report", zone, now, read),
        sample_refused=refused,
    )


def _read_result(
    segment,
    at: str,
    patient: _Patient,
    order: _Order,
    zone: tzinfo,
    now: datetime,
    lab_name: str,
    read: Read,
) -> FeedResult | None:
    problems = len(read.problems)
    where = {
        "hospital_number": f"{patient.at}-3",
        "code": f"{at}-3",
        "value": f"{at}-5",
        "comparator": f"{at}-5",
        "unit": f"{at}-6",
        "reference_low": f"{at}-7",
        "reference_high": f"{at}-7",
        "status": f"{at}-11",
        "sample_collected_on": f"{order.at}-7",
        "reported_on": f"{order.at}-22",
        "lab_reference": f"{order.at}-3",
    }
    status_text = _part(segment, 11).upper()
    status = STATUSES.get(status_text)
    if status is None:
        read.problems.append(
            FeedProblem(
                f"{at}-11",
                f"The result status “{status_text}” is not one taken here: F (final), "
                "C (corrected), P (preliminary), D or W (entered in error)."
                if status_text
                else "The result status (OBX-11) is missing.",
            )
        )
    code = _code(segment, at, read)
    comparator, value = _value(segment, at, read, withdrawn=status == ENTERED_IN_ERROR)
    low, high = _reference(segment, at, read)
    sampled = order.sampled
    own_time = _part(segment, 14)
    if own_time:
        where["sample_collected_on"] = f"{at}-14"
        sampled = _day(own_time, f"{at}-14", "sample", zone, now, read)
    if len(read.problems) > problems or (order.sample_refused and not own_time):
        return None
    return FeedResult(
        position=at,
        hospital_number=patient.hospital_number,
        code=code,
        value=value,
        sample_collected_on=sampled,
        status=status,
        comparator=comparator,
        unit=_part(segment, 6) or _part(segment, 6, component=2),
        reference_low=low,
        reference_high=high,
        assigning_authority=patient.authority,
        patient_name=patient.name,
        date_of_birth=patient.born,
        code_display=_part(segment, 3, component=2),
        lab_reference=order.reference,
        lab_name=_part(segment, 23) or lab_name,
        reported_on=order.reported,
        where=where,
    )


def _code(segment, at: str, read: Read) -> str:
    code, system = _part(segment, 3), _part(segment, 3, component=3).upper()
    if system in ("LN", ""):
        if not code:
            read.problems.append(FeedProblem(f"{at}-3", "The test code (OBX-3) is missing."))
        return code
    alternate = _part(segment, 3, component=4)
    if alternate and _part(segment, 3, component=6).upper() == "LN":
        return alternate
    # Another coding system: kept as sent, for a person to decide.
    return f"{code}^{system}"


def _value(segment, at: str, read: Read, *, withdrawn: bool) -> tuple[str, str]:
    """(comparator, value) of OBX-5 by its type OBX-2."""
    kind = _part(segment, 2).upper()
    where = f"{at}-5"
    if kind not in VALUE_TYPES:
        read.problems.append(
            FeedProblem(
                f"{at}-2",
                f"The value type “{kind}” is not read here: NM, ST or SN.",
            )
        )
        return "", ""
    if _repetitions(segment, 5) > 1:
        read.problems.append(FeedProblem(where, "OBX-5 repeats: one value per OBX."))
        return "", ""
    if kind == "SN":
        comparator, number = _part(segment, 5), _part(segment, 5, component=2)
        if _part(segment, 5, component=3) or _part(segment, 5, component=4):
            read.problems.append(
                FeedProblem(where, "A range or ratio (SN with a separator) is not one value.")
            )
            return "", ""
        if comparator not in ("", "=", *COMPARATORS):
            read.problems.append(
                FeedProblem(where, f"The comparator “{comparator}” is not one of <, <=, >, >=.")
            )
            return "", ""
        value = number
        comparator = "" if comparator == "=" else comparator
    else:
        # NM and ST read alike: "5", "<5", "1+"; the analyte decides what it takes.
        text = _field_text(segment, 5)
        comparator, value = "", text
        for sign in COMPARATORS:
            if text.startswith(sign):
                comparator, value = sign, text[len(sign) :].strip()
                break
    if not value and not withdrawn:
        read.problems.append(FeedProblem(where, "The value (OBX-5) is missing."))
    return comparator, value


def _reference(segment, at: str, read: Read) -> tuple[str, str]:
    text = _part(segment, 7).replace(" ", "")
    if not text:
        return "", ""
    if (found := RANGE.match(text)) is not None:
        return found[1], found[2]
    if (found := BOUND.match(text)) is not None:
        return (found[2], "") if found[1].startswith(">") else ("", found[2])
    if not re.search(r"\d", text):
        return "", ""  # "negative", "see report": no numbers to flag by
    read.problems.append(
        FeedProblem(
            f"{at}-7",
            f"The reference range “{text}” is not low-high, <high or >low.",
        )
    )
    return "", ""


def _day(text: str, where: str, what: str, zone: tzinfo, now: datetime, read: Read):
    """The clinic's calendar date of an HL7 date and time; a problem when it cannot be read or
    is in the future."""
    if not text:
        return None
    found = DTM.match(text)
    if found is None:
        read.problems.append(
            FeedProblem(
                where,
                f"The {what} time “{text}” is not an HL7 date and time (YYYYMMDD[HHMM[SS]]).",
            )
        )
        return None
    year, month, day, hour, minute, second, offset = found.groups()
    try:
        if hour is None:
            day_only = date(int(year), int(month), int(day))
            if day_only > now.astimezone(zone).date():
                read.problems.append(
                    FeedProblem(where, f"The {what} date {day_only:%Y-%m-%d} is in the future.")
                )
                return None
            return day_only
        moment = datetime(  # noqa: DTZ001 - the zone is set just below
            int(year), int(month), int(day), int(hour), int(minute or 0), int(second or 0)
        )
    except ValueError:
        read.problems.append(FeedProblem(where, f"The {what} time “{text}” is not a real date."))
        return None
    if offset:
        sign = -1 if offset[0] == "-" else 1
        shift = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5]))
        moment = (moment - sign * shift).replace(tzinfo=UTC)
    else:
        moment = moment.replace(tzinfo=zone)
    if moment > now + CLOCK_SKEW:
        read.problems.append(
            FeedProblem(
                where,
                f"The {what} time {moment.astimezone(zone):%Y-%m-%d %H:%M} is in the future.",
            )
        )
        return None
    return moment.astimezone(zone).date()


def _part(segment, field_number: int, *, repetition=1, component=1, subcomponent=1) -> str:
    """One component of a field, unescaped, or "" when the message does not have it."""
    try:
        value = segment.extract_field(1, field_number, repetition, component, subcomponent)
    except IndexError:
        return ""
    return str(value).strip()


def _components(segment, field_number: int) -> tuple[str, ...]:
    if field_number >= len(segment):
        return ()
    first = segment(field_number)(1)
    count = len(first) if isinstance(first, hl7.Repetition) else 1
    return tuple(_part(segment, field_number, component=n) for n in range(1, count + 1))


def _field_text(segment, field_number: int) -> str:
    """An ST value whole: a "^" in it was a component separator the lab did not escape, and the
    parts are joined again rather than dropped."""
    parts = _components(segment, field_number)
    return "^".join(parts).strip("^ ").strip()


def _repetitions(segment, field_number: int) -> int:
    if field_number >= len(segment):
        return 0
    return len(segment(field_number))
