"""The ACK built from an outcome: no socket, and only unsaved rows."""

from __future__ import annotations

from datetime import UTC, datetime

from labfeeds.hl7.ack import ack_build, ack_for_outcome, ack_refusal, escape
from labfeeds.hl7.framing import FrameBuffer, frame
from labfeeds.hl7.reading import HeaderProblem, parse, read_header
from labfeeds.intake import FeedOutcome, FeedProblem
from labfeeds.models import LabMessage, WaitingResult
from tests.labfeeds.hl7.messages import oru

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def header(**fields):
    return read_header(parse(oru("RX-1", "20250308", control_id="CTRL-7", **fields)))


def segments(ack: str) -> dict[str, list[list[str]]]:
    assert ack.endswith("\r")
    found: dict[str, list[list[str]]] = {}
    for line in ack.rstrip("\r").split("\r"):
        fields = line.split("|")
        found.setdefault(fields[0], []).append(fields)
    return found


def test_an_accepted_message_with_a_waiting_result_is_aa_with_a_warning():
    message = LabMessage(
        pk=5,
        status=LabMessage.Status.WAITING,
        results_recorded=2,
        results_waiting=1,
        problems=[{"where": "OBX[3]", "message": "No patient has the number X-1: it waits."}],
    )
    code, ack = ack_for_outcome(
        header(),
        FeedOutcome(message=message, recorded=2, waiting=1),
        ack_id="ACK5",
        now=NOW,
        waiting_reasons={"OBX[3]": WaitingResult.Reason.UNKNOWN_PATIENT},
    )
    assert code == "AA"
    parts = segments(ack)
    msh = parts["MSH"][0]
    # The sender and the receiver swap places.
    assert msh[2:6] == ["LEMTRADA", "CLINIC", "CITYLIS", "CITYLAB"]
    assert (msh[8], msh[9], msh[11]) == ("ACK^R01^ACK", "ACK5", "2.5.1")
    assert parts["MSA"][0][:3] == ["MSA", "AA", "CTRL-7"]
    (err,) = parts["ERR"]
    assert (err[2], err[3].split("^")[0], err[4]) == ("OBX^3", "204", "W")
    assert err[8].startswith("No patient")


def test_a_refused_message_is_ae_with_an_error_per_problem():
    problems = [
        FeedProblem("OBX[2]-6", "Platelets: “mmol/L” is not an accepted unit."),
        FeedProblem("OBR[1]-7", "The sample time 2030-01-01 is in the future."),
    ]
    message = LabMessage(
        pk=6, status=LabMessage.Status.REFUSED, problems=[p.as_json() for p in problems]
    )
    code, ack = ack_for_outcome(
        header(), FeedOutcome(message=message, problems=problems), ack_id="ACK6", now=NOW
    )
    assert code == "AE"
    errors = segments(ack)["ERR"]
    assert [(e[2], e[3].split("^")[0], e[4]) for e in errors] == [
        ("OBX^2^6", "103", "E"),
        ("OBR^1^7", "102", "E"),
    ]
    assert errors[0][8] == 'Platelets: "mmol/L" is not an accepted unit.'


def test_a_message_without_msh_is_answered_ar_without_a_control_id():
    ack = ack_refusal(None, HeaderProblem("MSH", "No MSH.", "100"), ack_id="ACK1", now=NOW)
    parts = segments(ack)
    assert parts["MSA"][0][1:3] == ["AR", ""]
    assert parts["ERR"][0][2:5] == ["MSH^1", "100^Segment sequence error^HL70357", "E"]


def test_texts_are_escaped_and_plain_ascii():
    assert escape("a|b^c&d~e\\f\rg é “q”") == 'a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f g e "q"'
    ack = ack_build(header(), "AE", [], text="x|y", ack_id="A", now=NOW)
    assert parts_count(ack, "MSA") == 1 and "x\\F\\y" in ack


def parts_count(ack: str, name: str) -> int:
    return len(segments(ack).get(name, []))


def test_an_older_version_gets_err_1_too():
    problem = HeaderProblem("MSH[1]-9", "Only ORU^R01.", "200")
    ack = ack_refusal(header(version="2.3"), problem, ack_id="A", now=NOW)
    err = segments(ack)["ERR"][0]
    assert err[1] == "MSH^1^9^200&Unsupported message type&HL70357"
    assert err[8] == "Only ORU\\S\\R01."


def test_frames_are_cut_from_bytes_as_they_arrive():
    buffer = FrameBuffer(limit=100)
    first = buffer.feed(b"noise" + frame(b"MSH|1") + frame(b"MSH|2")[:4])
    assert (first.messages, first.discarded) == ([b"MSH|1"], 5)
    assert buffer.feed(frame(b"MSH|2")[4:]).messages == [b"MSH|2"]
    assert buffer.feed(b"\x0b" + b"x" * 101).too_big
